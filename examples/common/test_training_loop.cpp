// The shared training loop on a tiny regression task: exact resume,
// --stop-after, the schedule, the optimizer's groups, the loop's errors and
// the run-folder lock.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/run_lock.h"
#include "common/training_loop.h"

namespace fs = std::filesystem;

namespace {

// y = x . w + noise, with dropout on the input so that the run draws from
// lasergrad's generator (which a resume must restore).
class RegressionTask : public examples::TrainingTask {
 public:
  explicit RegressionTask(double poison_at = 0) : poison_at_(poison_at) {
    lg::manual_seed(99);
    x_ = lg::randn({64, 4});
    y_ = lg::matmul(x_, lg::randn({4, 1}));
    lg::manual_seed(5);
    model_ = std::make_unique<lg::nn::Linear>(4, 1);
  }
  lg::nn::Module& model() override { return *model_; }
  void start(int64_t first_step) override { started_at = first_step; }
  lg::Tensor loss(int64_t step) override {
    const int64_t from = (step * 8) % 64;
    lg::Tensor x = lg::dropout(x_.slice(0, from, from + 8), 0.1);
    lg::Tensor loss = lg::mse_loss((*model_)(x), y_.slice(0, from, from + 8));
    if (poison_at_ > 0 && step >= poison_at_) return loss * NAN;
    return loss;
  }
  std::vector<std::string> eval_columns() const override { return columns; }
  std::vector<double> evaluate() override {
    CHECK_FALSE(lg::GradMode::is_enabled());
    CHECK_FALSE(model_->is_training());
    return std::vector<double>(eval_count, lg::mse_loss((*model_)(x_), y_).item<double>());
  }
  std::string describe(const std::vector<double>& e) const override {
    return "validation mse " + std::to_string(e.at(0));
  }
  lg::Metadata checkpoint_metadata() const override { return {{"test.kind", "regression"}}; }

  std::vector<std::string> columns = {"val_mse"};
  size_t eval_count = 1;  // values evaluate() returns
  int64_t started_at = -1;

 private:
  double poison_at_;
  lg::Tensor x_, y_;
  std::unique_ptr<lg::nn::Linear> model_;
};

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("lg-loop-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  return dir;
}

examples::LoopSettings settings_for(const fs::path& dir) {
  examples::LoopSettings s;
  s.program = "test";
  s.out = dir.string();
  s.steps = 20;
  s.lr = 0.05;
  s.warmup = 3;
  s.weight_decay = 0.1;
  s.grad_clip = 1.0;
  s.eval_every = 5;
  s.log_every = 100;
  return s;
}

examples::LoopResult train(const examples::LoopSettings& s, RegressionTask& task) {
  examples::RunFolder folder(s);
  auto optimizer = examples::make_adamw(task.model(), s);
  return examples::run_training(s, folder, task, *optimizer);
}

// metrics.csv without the columns that measure time.
std::vector<std::string> loss_rows(const fs::path& dir) {
  std::ifstream in(dir / "metrics.csv");
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) {
    std::stringstream fields(line);
    std::string kept, field;
    for (int i = 0; i < 4 && std::getline(fields, field, ','); ++i) kept += field + ",";
    rows.push_back(kept);
  }
  return rows;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("a run stopped with stop_after and resumed equals an uninterrupted one") {
  const fs::path whole = fresh_dir("whole"), split = fresh_dir("split");
  RegressionTask a;
  const examples::LoopResult full = train(settings_for(whole), a);
  CHECK(full.finished);
  CHECK(full.step == 20);
  CHECK(full.exit_code == 0);
  REQUIRE(full.evaluation.size() == 1);
  CHECK(full.evaluation[0] < 1.0);  // it learned something

  examples::LoopSettings first = settings_for(split);
  first.stop_after = 7;
  RegressionTask b;
  const examples::LoopResult stopped = train(first, b);
  CHECK_FALSE(stopped.finished);
  CHECK(stopped.step == 7);
  examples::LoopSettings second = settings_for(split);
  second.resume = true;
  RegressionTask c;
  const examples::LoopResult resumed = train(second, c);
  CHECK(c.started_at == 7);
  CHECK(resumed.finished);
  CHECK(resumed.evaluation == full.evaluation);
  CHECK(loss_rows(split) == loss_rows(whole));
  CHECK(loss_rows(whole).size() == 21);  // header + 20 steps
  CHECK(file_bytes(split / "checkpoint.safetensors") ==
        file_bytes(whole / "checkpoint.safetensors"));
  fs::remove_all(whole);
  fs::remove_all(split);
}

TEST_CASE("learning_rate warms up linearly, peaks, and decays to lr * min_lr_ratio") {
  examples::LoopSettings s = settings_for("unused");
  s.steps = 100;
  s.warmup = 9;
  CHECK(examples::learning_rate(s, 1) == doctest::Approx(0.005));
  CHECK(examples::learning_rate(s, 9) == doctest::Approx(0.045));
  CHECK(examples::learning_rate(s, 10) == doctest::Approx(0.05).epsilon(1e-3));
  CHECK(examples::learning_rate(s, 100) == doctest::Approx(0.005));
  CHECK(examples::learning_rate(s, 1000) == doctest::Approx(0.005));
  for (int64_t step = 10; step < 100; ++step)
    CHECK(examples::learning_rate(s, step + 1) <= examples::learning_rate(s, step));
}

TEST_CASE("make_adamw decays matrices only") {
  lg::nn::Linear layer(3, 2);
  examples::LoopSettings s = settings_for("unused");
  auto optimizer = examples::make_adamw(layer, s);
  REQUIRE(optimizer->num_groups() == 2);
  CHECK(optimizer->weight_decay(0) == doctest::Approx(0.1));  // the weight
  CHECK(optimizer->weight_decay(1) == 0.0);                   // the bias
}

TEST_CASE("a non-finite loss stops the run with an error naming the step and --lr") {
  const fs::path dir = fresh_dir("nan");
  RegressionTask task(/*poison_at=*/4);
  CHECK_THROWS_WITH_AS(train(settings_for(dir), task),
                       doctest::Contains("at step 4: try a lower --lr"), std::runtime_error);
  fs::remove_all(dir);
}

TEST_CASE("evaluate() must return one value per column, and steps must be positive") {
  const fs::path dir = fresh_dir("columns");
  RegressionTask task;
  task.eval_count = 2;
  CHECK_THROWS_WITH_AS(train(settings_for(dir), task), doctest::Contains("2 values for 1 columns"),
                       std::logic_error);
  examples::LoopSettings s = settings_for(fresh_dir("no-steps"));
  s.steps = 0;
  CHECK_THROWS_AS(train(s, task), std::invalid_argument);
  fs::remove_all(dir);
  fs::remove_all(s.out);
}

TEST_CASE("a second RunFolder on the same folder is refused while the first lives") {
  const fs::path dir = fresh_dir("lock");
  const examples::LoopSettings s = settings_for(dir);
  examples::RunFolder first(s);
  CHECK_THROWS_AS(examples::RunFolder{s}, examples::InputError);
  fs::remove_all(dir);
}

TEST_CASE("RunLock with IfBusy::Wait waits for the holder to let go; Refuse does not") {
  const fs::path dir = fresh_dir("wait");
  std::optional<examples::RunLock> held(std::in_place, dir, "test");
  CHECK_THROWS_AS(examples::RunLock(dir, "test", examples::IfBusy::Refuse), examples::InputError);
  const auto start = std::chrono::steady_clock::now();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.reset();
  });
  { examples::RunLock second(dir, "test", examples::IfBusy::Wait); }
  release.join();
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
  fs::remove_all(dir);
}
