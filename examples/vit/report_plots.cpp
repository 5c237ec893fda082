#include "report_plots.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "gnuplot.h"

namespace vit {
namespace {

// pngcairo (antialiased, gnuplot-nox has it) where this gnuplot has it, else png.
std::string terminal(int width, int height, int font_size) {
  const std::string size = " size " + std::to_string(width) + "," + std::to_string(height);
  return "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
         "  set terminal pngcairo" +
         size + " noenhanced font '," + std::to_string(font_size) +
         "'\n} else {\n  set terminal png" + size + " noenhanced\n}\n";
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", fraction * 100.0);
  return buf;
}

// Writes text to path; empty on success, otherwise why not.
std::string write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return out ? std::string() : path.string() + ": cannot write";
}

// Renders script (saved as work/name.gp, gnuplot's output in work/name.log).
std::string render(const std::filesystem::path& gnuplot, const std::filesystem::path& work,
                   const std::string& name, const std::string& script) {
  const std::filesystem::path script_path = work / (name + ".gp");
  if (std::string problem = write_text(script_path, script); !problem.empty()) return problem;
  return run_gnuplot(gnuplot, script_path, work / (name + ".log"));
}

// ('name 0' 0, 'name 1' 1, ...): tics labelled with the class names.
std::string class_tics(const std::vector<std::string>& class_names) {
  std::string tics = "(";
  for (size_t c = 0; c < class_names.size(); ++c)
    tics += (c ? ", " : "") + gnuplot_quote(class_names[c]) + " " + std::to_string(c);
  return tics + ")";
}

}  // namespace

std::string plot_confusion_matrix(const std::filesystem::path& gnuplot,
                                  const std::filesystem::path& work, const ConfusionMatrix& matrix,
                                  const std::vector<std::string>& class_names,
                                  const std::filesystem::path& png) {
  const int64_t n = matrix.num_classes();
  std::ostringstream data;
  int64_t largest = 1;
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t p = 0; p < n; ++p) {
      data << (p ? " " : "") << matrix.count(t, p);
      largest = std::max(largest, matrix.count(t, p));
    }
    data << "\n";
  }
  const std::filesystem::path data_path = work / "confusion_matrix.dat";
  if (std::string problem = write_text(data_path, data.str()); !problem.empty()) return problem;

  const int side = static_cast<int>(std::clamp<int64_t>(60 * n + 300, 500, 1600));
  const std::string last = std::to_string(n) + "-0.5";
  const std::string file = gnuplot_quote(data_path.string());
  const std::string label = "sprintf('%d', $3)";
  std::ostringstream gp;
  gp << terminal(side + 100, side, 10) << "set output " << gnuplot_quote(png.string()) << "\n"
     << "set title 'lg-vit confusion matrix (" << matrix.total() << " test images, accuracy "
     << percent(matrix.accuracy()) << ")'\n"
     << "set xlabel 'predicted class'\nset ylabel 'true class'\n"
     << "set xrange [-0.5:" << last << "]\nset yrange [" << last << ":-0.5]\n"
     << "set xtics " << class_tics(class_names) << " rotate by 45 right\n"
     << "set ytics " << class_tics(class_names) << "\n"
     << "set tics scale 0\nset size ratio -1\nunset key\n"
     << "set palette defined (0 '#ffffff', 1 '#08306b')\n"
     << "set cbrange [0:" << largest
     << "]\nset cblabel 'images'\n"
     // Counts in white on the dark half of the scale, black on the light half.
     << "half = " << largest << " / 2.0\n"
     << "plot " << file << " matrix with image, \\\n"
     << "  " << file << " matrix using 1:2:($3 <= half ? " << label
     << " : '') with labels textcolor rgb '#000000', \\\n"
     << "  " << file << " matrix using 1:2:($3 > half ? " << label
     << " : '') with labels textcolor rgb '#ffffff'\n";
  return render(gnuplot, work, "confusion_matrix", gp.str());
}

std::string plot_misclassified(const std::filesystem::path& gnuplot,
                               const std::filesystem::path& work,
                               const TestPredictions& predictions,
                               const std::vector<int64_t>& shown, int64_t misclassified,
                               const std::vector<std::string>& class_names,
                               const std::filesystem::path& png) {
  const int64_t pixels = predictions.height * predictions.width;
  std::string bytes;
  for (int64_t i : shown) {
    const auto* first = predictions.images.data() + i * pixels;
    bytes.append(reinterpret_cast<const char*>(first), static_cast<size_t>(pixels));
  }
  const std::filesystem::path data_path = work / "misclassified.u8";
  if (std::string problem = write_text(data_path, bytes); !problem.empty()) return problem;

  const auto count = static_cast<int64_t>(shown.size());
  const int64_t columns = std::min<int64_t>(6, count);
  const int64_t rows = (count + columns - 1) / columns;
  const int width = static_cast<int>(170 * columns), height = static_cast<int>(190 * rows + 50);
  std::ostringstream gp;
  gp << terminal(width, height, 9) << "set output " << gnuplot_quote(png.string()) << "\n"
     << "set palette gray\nset cbrange [0:255]\nunset colorbox\nunset key\nunset tics\n"
     << "unset border\nset size ratio -1\n"
     << "set xrange [-0.5:" << predictions.width << "-0.5]\n"
     << "set yrange [" << predictions.height << "-0.5:-0.5]\n"
     << "set multiplot layout " << rows << "," << columns
     << " title 'lg-vit: misclassified test images (" << count << " of " << misclassified << ")'\n";
  const std::string file = gnuplot_quote(data_path.string());
  for (int64_t k = 0; k < count; ++k) {
    const auto i = static_cast<size_t>(shown[static_cast<size_t>(k)]);
    const auto& truth = class_names[static_cast<size_t>(predictions.labels[i])];
    const auto& guess = class_names[static_cast<size_t>(predictions.predicted[i])];
    gp << "set title " << gnuplot_quote("true: " + truth) << " . \"\\n\" . "
       << gnuplot_quote("pred: " + guess) << "\n"
       << "plot " << file << " binary array=(" << predictions.width << "," << predictions.height
       << ") format='%uchar' skip=" << k * pixels << " with image\n";
  }
  gp << "unset multiplot\n";
  return render(gnuplot, work, "misclassified", gp.str());
}

}  // namespace vit
