// The training progress line of the example trainers: on a terminal one live
// line rewritten in place (step, loss, lr, tokens/s or images/s, elapsed, ETA); otherwise
// (a log file, a pipe, CI) a plain line every N steps.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace examples {

struct ProgressStats {
  int64_t step = 0;   // steps done, counting those before a resume
  int64_t total = 0;  // steps of the whole run
  double loss = 0;
  double lr = 0;
  double items_per_s = 0;  // throughput: tokens, images, ... per second
  double elapsed_s = 0;    // since this process started training
};

// "12.3s", "4m05s", "1h02m".
std::string format_duration(double seconds);

class ProgressLine {
 public:
  // live: rewrite one line with '\r' (pass is_terminal(out)); plain_every:
  // print a plain line every this many steps when not live; unit: the
  // throughput's items, short ("tok" prints "tok/s").
  ProgressLine(std::FILE* out, bool live, int64_t plain_every, std::string unit = "tok");
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // first_step: the step this process started from (after a resume), so that
  // the ETA uses only the steps timed here.
  void start(int64_t first_step) { first_step_ = first_step; }
  void update(const ProgressStats& stats);
  // A line of its own (an evaluation result, a note), printed above the live line.
  void message(const std::string& line);
  // Ends the live line so that later output starts on a fresh line.
  void finish();

  static bool is_terminal(std::FILE* out);

 private:
  std::string format(const ProgressStats& stats) const;

  std::FILE* out_;
  bool live_;
  int64_t plain_every_;
  std::string unit_;
  int64_t first_step_ = 0;
  bool line_open_ = false;
  std::string last_;
};

}  // namespace examples
