#include "test_report.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "report.h"

namespace vit {

std::vector<std::string> report_file_names() {
  return {"confusion_matrix.csv", "confusion_matrix.png", "misclassified.png", "report.json"};
}

double report_test(Vit& model, const ImageSet& test, const ModelData& model_data, int64_t batch,
                   lg::Device device, const std::filesystem::path& out,
                   const TestReportInfo& info) {
  const SetPredictions p = predict_set(model, test, model_data.norm, batch, device);
  const ConfusionMatrix matrix(p.labels, p.predicted,
                               static_cast<int64_t>(model_data.class_names.size()));
  std::cout << format_report(matrix, model_data.class_names);
  const ReportFiles files = write_report_files(out,
                                               {.labels = p.labels,
                                                .predicted = p.predicted,
                                                .images = test.pixels,
                                                .height = test.height,
                                                .width = test.width},
                                               model_data.class_names);
  nlohmann::json report = {{"test_accuracy", matrix.accuracy()}, {"test_loss", p.mean_loss},
                           {"test_images", test.size()},         {"attention", info.attention},
                           {"params", model.num_parameters()},   {"steps", info.steps},
                           {"train_seconds", info.train_seconds}};
  if (std::isfinite(info.val_accuracy)) report["val_accuracy"] = info.val_accuracy;
  examples::write_file_atomically(out / "report.json", report.dump(2) + "\n");
  std::string written;
  for (const std::filesystem::path& f : files.written) {
    written += ' ';  // not `" " + name`: GCC 12 warns falsely (-Wrestrict) on that temporary
    written += f.filename().string();
  }
  std::printf("wrote%s report.json in %s\n", written.c_str(), out.string().c_str());
  for (const std::string& note : files.notes) std::printf("note: %s\n", note.c_str());
  std::fflush(stdout);
  return matrix.accuracy();
}

}  // namespace vit
