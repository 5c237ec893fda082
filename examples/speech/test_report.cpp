#include "test_report.h"

#include <lasergrad/nn/files.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace speech {

std::vector<std::string> report_file_names() { return {"report.json", "test_errors.txt"}; }

namespace {

// NaN (unknown) becomes null.
nlohmann::json number_or_null(double x) { return std::isnan(x) ? nlohmann::json() : nlohmann::json(x); }

std::string all_errors(const std::vector<ScoredUtterance>& scored) {
  std::vector<ScoredUtterance> wrong;
  for (const ScoredUtterance& s : scored)
    if (s.ref != s.hyp) wrong.push_back(s);
  return format_worst_table(worst(wrong, wrong.size()));
}

}  // namespace

SetScores report_test(SpeechModel& model, const std::vector<Utterance>& test, const LogMel& mel,
                      int64_t batch, lg::Device device, const std::filesystem::path& out,
                      const TestReportInfo& info) {
  SetScores s = score_set(model, test, mel, batch, info.beam, device);
  std::printf("test (%zu utterances of voices never heard in training, %s): WER %.2f%%, CER %.2f%%\n",
              test.size(), info.beam > 1 ? ("beam " + std::to_string(info.beam)).c_str() : "greedy",
              100 * s.rates.wer(), 100 * s.rates.cer());
  const std::vector<ScoredUtterance> top = worst(s.utterances, static_cast<size_t>(info.worst));
  bool any = false;
  for (const ScoredUtterance& u : top) any = any || u.word_edits > 0;
  if (any) std::printf("worst errors:\n%s", format_worst_table(top).c_str());
  const nlohmann::json report = {{"test_wer", s.rates.wer()},
                                 {"test_cer", s.rates.cer()},
                                 {"test_loss", s.mean_loss},
                                 {"test_utterances", test.size()},
                                 {"test_words", s.rates.words},
                                 {"attention", info.attention},
                                 {"beam", info.beam},
                                 {"params", model.num_parameters()},
                                 {"steps", info.steps},
                                 {"train_seconds", info.train_seconds},
                                 {"val_wer", number_or_null(info.val_wer)}};
  lg::write_file_atomically("lg-speech", (out / "report.json").string(), report.dump(2) + "\n");
  lg::write_file_atomically("lg-speech", (out / "test_errors.txt").string(), all_errors(s.utterances));
  std::printf("report: %s, %s\n", (out / "report.json").c_str(), (out / "test_errors.txt").c_str());
  return s;
}

}  // namespace speech
