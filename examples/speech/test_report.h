// The end of a run: the model on the test voices (touched only here): word and
// character error rates, printed with the worst utterances, and written into
// the run folder as report.json and test_errors.txt.
#pragma once
#include <lasergrad/lasergrad.h>

#include <filesystem>
#include <string>
#include <vector>

#include "session.h"

namespace speech {

// The files report_test writes into the run folder (for its lock's cleanup).
std::vector<std::string> report_file_names();

struct TestReportInfo {
  std::string attention;
  int64_t steps = 0;
  double train_seconds = 0;  // in training steps, this process
  double val_wer = 0;        // the last validation WER (NAN: unknown)
  int beam = 1;
  int worst = 10;  // rows of the worst-errors table
};

// Returns the test scores.
SetScores report_test(SpeechModel& model, const std::vector<Utterance>& test, const LogMel& mel,
                      int64_t batch, lg::Device device, const std::filesystem::path& out,
                      const TestReportInfo& info);

}  // namespace speech
