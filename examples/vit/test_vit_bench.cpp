// run_vit_bench at a tiny shape: one JSON line with every field, the model's
// parameter count, and bad options as std::invalid_argument.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

#include "bench.h"

namespace {

vit::VitBenchOptions tiny_options() {
  vit::VitBenchOptions o;
  o.shape = {.image_size = 8,
             .channels = 1,
             .patch = 4,
             .d_model = 8,
             .layers = 1,
             .heads = 2,
             .mlp_ratio = 2,
             .classes = 3};
  o.threads = 1;
  o.warmup_steps = 1;
  o.steps = 2;
  o.batch = 4;
  return o;
}

}  // namespace

TEST_CASE("the benchmark prints one JSON line with every field") {
  for (const char* attention : {"laser", "softmax"}) {
    CAPTURE(attention);
    vit::VitBenchOptions o = tiny_options();
    o.shape.attention = lg::nn::attention_kind_from_string(attention);
    std::ostringstream out;
    REQUIRE(vit::run_vit_bench(o, out) == 0);
    const std::string text = out.str();
    CAPTURE(text);
    REQUIRE(text.find('\n') == text.size() - 1);
    const auto line = nlohmann::json::parse(text);
    CHECK(line["bench"] == "train_vit");
    CHECK(line["framework"] == "lasergrad");
    CHECK(line["attention"] == attention);
    CHECK(line["pool"] == "cls");
    CHECK(line["device"] == "cpu");
    CHECK(line["threads"] == 1);
    CHECK(line["batch"] == 4);
    CHECK(line["params"] == vit::Vit(o.shape).num_parameters());
    for (const char* key : {"median_step_ms", "images_per_s", "seconds_per_epoch",
                            "inference_images_per_s", "peak_rss_mb", "sgemm_gflops"}) {
      CAPTURE(key);
      REQUIRE(line[key].is_number());
      CHECK(line[key].get<double>() > 0);
    }
    // The machine of the same run.
    CHECK(line["isa"] == lg::cpu_isa());
    CHECK(line["cpu"] == lg::cpu_name());
    CHECK(line["openblas_core"] == lg::openblas_core());
    CHECK(line["openmp_wait"] == lg::openmp_wait_policy());
    CHECK(line.size() == 18);
  }
}

TEST_CASE("bad benchmark options are std::invalid_argument naming the option") {
  auto message = [](void (*edit)(vit::VitBenchOptions&)) -> std::string {
    vit::VitBenchOptions o = tiny_options();
    edit(o);
    std::ostringstream out;
    try {
      vit::run_vit_bench(o, out);
    } catch (const std::invalid_argument& e) {
      CHECK(out.str().empty());
      return e.what();
    }
    return "no std::invalid_argument";
  };
  CHECK(message([](vit::VitBenchOptions& o) { o.steps = 0; }) ==
        "vit bench: steps must be >= 1, got 0");
  CHECK(message([](vit::VitBenchOptions& o) { o.warmup_steps = -1; }) ==
        "vit bench: warmup_steps must be >= 0, got -1");
  CHECK(message([](vit::VitBenchOptions& o) { o.batch = 0; }) ==
        "vit bench: batch must lie in [1, 1048576], got 0");
  CHECK(message([](vit::VitBenchOptions& o) { o.threads = -2; }) ==
        "vit bench: threads must be >= 0, got -2");
  CHECK(message([](vit::VitBenchOptions& o) { o.shape.heads = 3; }) ==
        "vit shape: heads 3 does not divide d_model 8");
}
