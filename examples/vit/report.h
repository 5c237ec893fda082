// lg-vit's final evaluation report: the confusion matrix of the test set, its
// text (accuracy, per-class accuracy, the matrix as a table) and the files
// written into the run folder (confusion_matrix.csv, and with gnuplot
// confusion_matrix.png and misclassified.png).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vit {

// Counts of (true class, predicted class) pairs over a test set.
class ConfusionMatrix {
 public:
  // Throws std::invalid_argument when the two lists differ in length or are
  // empty, num_classes < 1, or a label is outside [0, num_classes).
  ConfusionMatrix(std::span<const int64_t> true_labels, std::span<const int64_t> predicted,
                  int64_t num_classes);

  int64_t num_classes() const { return num_classes_; }
  int64_t count(int64_t true_class, int64_t predicted_class) const;
  int64_t total() const { return total_; }
  int64_t correct() const;
  // The test images of this class (a row's sum).
  int64_t class_total(int64_t true_class) const;
  // correct() / total(), in [0, 1].
  double accuracy() const;
  // The fraction of this class's images predicted as it (its recall); empty
  // when the test set has none of it.
  std::optional<double> class_accuracy(int64_t true_class) const;

 private:
  int64_t num_classes_;
  int64_t total_ = 0;
  std::vector<int64_t> counts_;  // row-major: true class, then predicted
};

// Throws std::invalid_argument unless there is one name per class.
void check_class_names(const ConfusionMatrix& matrix, const std::vector<std::string>& class_names);

// The text to print after training: the test accuracy, a table of each
// class's accuracy and the confusion matrix (rows true, columns predicted,
// headed by class numbers that the rows name).
std::string format_report(const ConfusionMatrix& matrix,
                          const std::vector<std::string>& class_names);

// confusion_matrix.csv: a header "true \ predicted" and the class names, then
// one row per true class: its name and its counts (CSV-quoted where needed).
std::string confusion_csv(const ConfusionMatrix& matrix,
                          const std::vector<std::string>& class_names);

// What the evaluation of the test set produced: image i, height x width bytes
// at images[i * height * width] (row-major, top row first, 0 black .. 255
// white), has label labels[i] and was predicted as predicted[i].
struct TestPredictions {
  std::span<const int64_t> labels;
  std::span<const int64_t> predicted;
  std::span<const uint8_t> images;
  int64_t height = 0;
  int64_t width = 0;
};

// At most this many misclassified images go into misclassified.png (the first
// ones in test-set order).
inline constexpr int64_t kMaxMisclassifiedShown = 36;

// What write_report_files wrote, and the notes to print (pictures skipped and
// why); the pictures are extras, so their failure is a note, not an error.
struct ReportFiles {
  std::vector<std::filesystem::path> written;
  std::vector<std::string> notes;
};

// Writes confusion_matrix.csv into out, then, when gnuplot is on $PATH,
// confusion_matrix.png (a heat map with the counts) and misclassified.png (a
// grid of misclassified images titled with their true and predicted classes;
// none when every image is right, and an older one is removed). Each file is
// written to "<name>.tmp.<pid>" and renamed, so a crash leaves no half file;
// gnuplot's script and data go into the folder out/report-plots.tmp.<pid>,
// removed afterwards (and, from crashed runs, at the start: call this while
// holding the run folder's lock). Throws std::invalid_argument for
// inconsistent predictions (see ConfusionMatrix; images.size() must be
// labels.size() * height * width) and std::runtime_error when the CSV cannot
// be written.
ReportFiles write_report_files(const std::filesystem::path& out, const TestPredictions& predictions,
                               const std::vector<std::string>& class_names);

}  // namespace vit
