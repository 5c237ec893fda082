#include "report.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/files.h"
#include "report_plots.h"

namespace vit {

ConfusionMatrix::ConfusionMatrix(std::span<const int64_t> true_labels,
                                 std::span<const int64_t> predicted, int64_t num_classes)
    : num_classes_(num_classes) {
  if (num_classes < 1)
    throw std::invalid_argument("confusion matrix: " + std::to_string(num_classes) +
                                " classes (need at least 1)");
  if (true_labels.size() != predicted.size())
    throw std::invalid_argument("confusion matrix: " + std::to_string(true_labels.size()) +
                                " true labels but " + std::to_string(predicted.size()) +
                                " predictions");
  if (true_labels.empty()) throw std::invalid_argument("confusion matrix: no test images");
  counts_.assign(static_cast<size_t>(num_classes * num_classes), 0);
  for (size_t i = 0; i < true_labels.size(); ++i) {
    for (auto [what, label] :
         {std::pair{"true label", true_labels[i]}, std::pair{"prediction", predicted[i]}}) {
      if (label < 0 || label >= num_classes)
        throw std::invalid_argument("confusion matrix: " + std::string(what) + " " +
                                    std::to_string(label) + " of image " + std::to_string(i) +
                                    " is outside [0, " + std::to_string(num_classes) + ")");
    }
    ++counts_[static_cast<size_t>(true_labels[i] * num_classes + predicted[i])];
  }
  total_ = static_cast<int64_t>(true_labels.size());
}

int64_t ConfusionMatrix::count(int64_t true_class, int64_t predicted_class) const {
  if (true_class < 0 || true_class >= num_classes_ || predicted_class < 0 ||
      predicted_class >= num_classes_)
    throw std::out_of_range("confusion matrix: no cell (" + std::to_string(true_class) + ", " +
                            std::to_string(predicted_class) + ")");
  return counts_[static_cast<size_t>(true_class * num_classes_ + predicted_class)];
}

int64_t ConfusionMatrix::correct() const {
  int64_t sum = 0;
  for (int64_t c = 0; c < num_classes_; ++c) sum += count(c, c);
  return sum;
}

int64_t ConfusionMatrix::class_total(int64_t true_class) const {
  int64_t sum = 0;
  for (int64_t p = 0; p < num_classes_; ++p) sum += count(true_class, p);
  return sum;
}

double ConfusionMatrix::accuracy() const {
  return static_cast<double>(correct()) / static_cast<double>(total_);
}

std::optional<double> ConfusionMatrix::class_accuracy(int64_t true_class) const {
  const int64_t n = class_total(true_class);
  if (n == 0) return std::nullopt;
  return static_cast<double>(count(true_class, true_class)) / static_cast<double>(n);
}

void check_class_names(const ConfusionMatrix& matrix, const std::vector<std::string>& class_names) {
  if (static_cast<int64_t>(class_names.size()) != matrix.num_classes())
    throw std::invalid_argument("report: " + std::to_string(class_names.size()) +
                                " class names for " + std::to_string(matrix.num_classes()) +
                                " classes");
}

namespace {

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", fraction * 100.0);
  return buf;
}

// text left-aligned in a field of width characters (bytes: class names are
// usually ASCII; others only misalign their own row).
std::string pad(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::string pad_left(const std::string& text, size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

// "3 Dress": a row's label in the matrix table.
std::string row_label(const std::vector<std::string>& class_names, size_t c) {
  return std::to_string(c) + " " + class_names[c];
}

// A CSV field, quoted (with "" for ") when it holds a comma, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string format_report(const ConfusionMatrix& matrix,
                          const std::vector<std::string>& class_names) {
  check_class_names(matrix, class_names);
  const auto n = static_cast<size_t>(matrix.num_classes());
  std::ostringstream out;
  out << "test accuracy: " << percent(matrix.accuracy()) << " (" << matrix.correct() << " of "
      << matrix.total() << " images)\n\n";

  size_t name_width = 5;  // "class"
  for (const auto& name : class_names) name_width = std::max(name_width, name.size());
  out << pad("class", name_width) << "  accuracy  correct / images\n";
  for (size_t c = 0; c < n; ++c) {
    const auto k = static_cast<int64_t>(c);
    const std::optional<double> acc = matrix.class_accuracy(k);
    out << pad(class_names[c], name_width) << "  " << pad_left(acc ? percent(*acc) : "-", 8) << "  "
        << matrix.count(k, k) << " / " << matrix.class_total(k) << "\n";
  }

  out << "\nconfusion matrix (rows: true class, columns: predicted class)\n";
  size_t label_width = 0, cell_width = std::to_string(n - 1).size();
  for (size_t c = 0; c < n; ++c) {
    label_width = std::max(label_width, row_label(class_names, c).size());
    for (size_t p = 0; p < n; ++p)
      cell_width = std::max(
          cell_width,
          std::to_string(matrix.count(static_cast<int64_t>(c), static_cast<int64_t>(p))).size());
  }
  out << std::string(label_width, ' ');
  for (size_t p = 0; p < n; ++p) out << " " << pad_left(std::to_string(p), cell_width);
  out << "\n";
  for (size_t c = 0; c < n; ++c) {
    out << pad(row_label(class_names, c), label_width);
    for (size_t p = 0; p < n; ++p)
      out << " "
          << pad_left(
                 std::to_string(matrix.count(static_cast<int64_t>(c), static_cast<int64_t>(p))),
                 cell_width);
    out << "\n";
  }
  return out.str();
}

std::string confusion_csv(const ConfusionMatrix& matrix,
                          const std::vector<std::string>& class_names) {
  check_class_names(matrix, class_names);
  std::string csv = "true \\ predicted";
  for (const auto& name : class_names) (csv += ',') += csv_field(name);
  csv += "\n";
  for (int64_t t = 0; t < matrix.num_classes(); ++t) {
    csv += csv_field(class_names[static_cast<size_t>(t)]);
    for (int64_t p = 0; p < matrix.num_classes(); ++p)
      (csv += ',') += std::to_string(matrix.count(t, p));
    csv += "\n";
  }
  return csv;
}

namespace {

constexpr const char* kWorkPrefix = "report-plots.tmp.";

// Removes the work folders "report-plots.tmp.<digits>" that crashed runs left in out.
void remove_stale_work_folders(const std::filesystem::path& out) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string_view prefix = kWorkPrefix;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::error_code ignored;
    if (entry.is_directory(ignored) && !entry.is_symlink(ignored))
      std::filesystem::remove_all(entry.path(), ignored);
  }
}

bool starts_like_png(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof head);
  return in && std::string_view(head, sizeof head) == std::string_view("\x89PNG\r\n\x1a\n", 8);
}

// Renders one picture to "<name>.tmp.<pid>" through draw and writes it to
// out/name with write_file_atomically; returns empty on success, otherwise a note.
template <class Draw>
std::string render_png(const std::filesystem::path& out, const std::string& name, Draw draw,
                       ReportFiles& files) {
  const std::filesystem::path final_path = out / name;
  std::filesystem::path tmp = final_path;
  tmp += ".tmp." + std::to_string(::getpid());
  std::string problem = draw(tmp);
  if (problem.empty() && !starts_like_png(tmp)) problem = "gnuplot wrote no PNG";
  if (problem.empty()) {
    try {  // the atomic writer's rules: synced, only a regular file replaced
      examples::write_file_atomically(final_path, examples::read_input_file("", tmp));
    } catch (const std::runtime_error& e) {
      problem = e.what();
    }
  }
  std::error_code ignored;
  std::filesystem::remove(tmp, ignored);
  if (!problem.empty()) return "note: skipped " + name + ": " + problem;
  files.written.push_back(final_path);
  return {};
}

void check_predictions(const TestPredictions& predictions) {
  const auto n = static_cast<int64_t>(predictions.labels.size());
  if (predictions.height < 1 || predictions.width < 1 ||
      static_cast<int64_t>(predictions.images.size()) != n * predictions.height * predictions.width)
    throw std::invalid_argument("report: " + std::to_string(predictions.images.size()) +
                                " image bytes for " + std::to_string(n) + " images of " +
                                std::to_string(predictions.height) + "x" +
                                std::to_string(predictions.width));
}

void write_pictures(const std::filesystem::path& out, const std::filesystem::path& gnuplot,
                    const TestPredictions& predictions, const ConfusionMatrix& matrix,
                    const std::vector<std::string>& class_names, ReportFiles& files) {
  const std::filesystem::path work = out / (kWorkPrefix + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  std::filesystem::create_directory(work, ec);
  if (ec) {
    files.notes.push_back(
        "note: skipped confusion_matrix.png and misclassified.png: cannot create " + work.string() +
        ": " + ec.message());
    return;
  }
  auto note = [&](std::string text) {
    if (!text.empty()) files.notes.push_back(std::move(text));
  };
  note(render_png(
      out, "confusion_matrix.png",
      [&](const std::filesystem::path& png) {
        return plot_confusion_matrix(gnuplot, work, matrix, class_names, png);
      },
      files));

  std::vector<int64_t> shown;
  int64_t misclassified = 0;
  for (size_t i = 0; i < predictions.labels.size(); ++i) {
    if (predictions.labels[i] == predictions.predicted[i]) continue;
    if (++misclassified <= kMaxMisclassifiedShown) shown.push_back(static_cast<int64_t>(i));
  }
  if (shown.empty()) {
    std::filesystem::remove(out / "misclassified.png", ec);  // an older run's
    note("note: no misclassified.png: every test image is classified correctly");
  } else {
    note(render_png(
        out, "misclassified.png",
        [&](const std::filesystem::path& png) {
          return plot_misclassified(gnuplot, work, predictions, shown, misclassified, class_names,
                                    png);
        },
        files));
  }
  std::filesystem::remove_all(work, ec);
}

}  // namespace

ReportFiles write_report_files(const std::filesystem::path& out, const TestPredictions& predictions,
                               const std::vector<std::string>& class_names) {
  const ConfusionMatrix matrix(predictions.labels, predictions.predicted,
                               static_cast<int64_t>(class_names.size()));
  check_predictions(predictions);
  ReportFiles files;
  const std::filesystem::path csv = out / "confusion_matrix.csv";
  examples::write_file_atomically(csv, confusion_csv(matrix, class_names));
  files.written.push_back(csv);

  const std::filesystem::path gnuplot = examples::find_on_path("gnuplot");
  if (gnuplot.empty()) {
    files.notes.push_back(
        "note: gnuplot is not installed: skipped confusion_matrix.png and misclassified.png "
        "(apt-get install gnuplot-nox or scripts/install-deps.sh --examples gets them)");
    return files;
  }
  // Absolute paths in the scripts: gnuplot reads a file name starting with '<'
  // as a command to run and an output starting with '|' as a pipe.
  std::error_code ec;
  std::filesystem::path absolute_out = std::filesystem::absolute(out, ec);
  if (ec) absolute_out = out.is_absolute() ? out : std::filesystem::path(".") / out;
  remove_stale_work_folders(absolute_out);
  write_pictures(absolute_out, gnuplot, predictions, matrix, class_names, files);
  return files;
}

}  // namespace vit
