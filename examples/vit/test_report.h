// The end of a run: the model on the test set (touched only here), printed as
// accuracy, per-class accuracy and a confusion matrix, and written into the
// run folder: confusion_matrix.csv/png, misclassified.png and report.json.
#pragma once
#include <lasergrad/lasergrad.h>

#include <filesystem>
#include <string>
#include <vector>

#include "image_data.h"
#include "session.h"
#include "vit_model.h"

namespace vit {

// The files report_test writes into the run folder (for its lock's cleanup).
std::vector<std::string> report_file_names();

struct TestReportInfo {
  std::string attention;
  int64_t steps = 0;
  double train_seconds = 0;  // in training steps, this process
  double val_accuracy = 0;   // the last validation accuracy (NAN: unknown)
};

// Returns the test accuracy in [0, 1].
double report_test(Vit& model, const ImageSet& test, const ModelData& model_data, int64_t batch,
                   lg::Device device, const std::filesystem::path& out, const TestReportInfo& info);

}  // namespace vit
