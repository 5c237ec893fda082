#include "progress.h"

#include <unistd.h>

#include <cmath>
#include <utility>

namespace examples {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    const auto s = static_cast<long>(seconds);
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    const auto m = static_cast<long>(seconds / 60);
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", m / 60, m % 60);
  }
  return buf;
}

ProgressLine::ProgressLine(std::FILE* out, bool live, int64_t plain_every, std::string unit)
    : out_(out),
      live_(live),
      plain_every_(plain_every < 1 ? 1 : plain_every),
      unit_(std::move(unit)) {}

ProgressLine::~ProgressLine() { finish(); }

bool ProgressLine::is_terminal(std::FILE* out) { return ::isatty(::fileno(out)) == 1; }

std::string ProgressLine::format(const ProgressStats& s) const {
  const int64_t done_here = s.step - first_step_;
  const double eta = done_here > 0 ? s.elapsed_s / static_cast<double>(done_here) *
                                         static_cast<double>(s.total - s.step)
                                   : NAN;
  const int width = static_cast<int>(std::to_string(s.total).size());
  char buf[256];
  std::snprintf(
      buf, sizeof buf, "step %*lld/%lld  loss %.4f  lr %.2e  %.0f %s/s  elapsed %s  eta %s", width,
      static_cast<long long>(s.step), static_cast<long long>(s.total), s.loss, s.lr, s.items_per_s,
      unit_.c_str(), format_duration(s.elapsed_s).c_str(), format_duration(eta).c_str());
  return buf;
}

void ProgressLine::update(const ProgressStats& stats) {
  if (live_) {
    last_ = format(stats);
    // \033[K clears what a longer earlier line left behind.
    std::fprintf(out_, "\r%s\033[K", last_.c_str());
    line_open_ = true;
  } else if (stats.step % plain_every_ == 0 || stats.step == stats.total) {
    std::fprintf(out_, "%s\n", format(stats).c_str());
  }
  std::fflush(out_);
}

void ProgressLine::message(const std::string& line) {
  if (line_open_) {
    std::fprintf(out_, "\r%s\033[K\n%s", line.c_str(), last_.c_str());
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressLine::finish() {
  if (line_open_) {
    std::fputc('\n', out_);
    std::fflush(out_);
    line_open_ = false;
  }
}

}  // namespace examples
