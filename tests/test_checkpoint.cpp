// Training checkpoints: a round trip restores model, optimizer state, step,
// RNG state and config exactly; malformed checkpoints give clear errors.
#include <lasergrad/nn/checkpoint.h>
#include <lasergrad/nn/optimizer.h>
#include <lasergrad/nn/safetensors.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "test_util.h"

using namespace lg;
namespace fs = std::filesystem;

namespace {


void check_equal(const Tensor& got, const Tensor& want) {
  CHECK(got.dtype() == want.dtype());
  CHECK(got.shape() == want.shape());
  if (want.dtype() == kInt64)
    CHECK(got.to_vector<int64_t>() == want.to_vector<int64_t>());
  else
    CHECK(got.to_vector<double>() == want.to_vector<double>());
}

Metadata valid_metadata() {
  return {{"format", kCheckpointFormat}, {"step", "5"}, {"rng.seed", "1"}, {"rng.offset", "2"}};
}

}  // namespace

TEST_CASE("checkpoint round trip restores model, optimizer, step, rng and config") {
  manual_seed(42);
  Tensor embed = randn({10, 4});
  TrainingCheckpoint ck;
  ck.model = {{"embed.weight", embed},
              {"head.weight", embed},  // tied
              {"head.bias", randn({10}, {.dtype = kFloat64})}};
  ck.optimizer = {{"state.0.exp_avg", randn({10, 4})},
                  {"state.0.step", tensor(std::vector<int64_t>{17}, {})},
                  {"param_groups.0.lr", full({}, 3e-4)}};
  ck.step = std::numeric_limits<int64_t>::max() - 3;
  // Values a double (or a JSON number) would round: decimal strings are exact.
  ck.rng = {.seed = std::numeric_limits<uint64_t>::max() - 1, .offset = (uint64_t{1} << 60) + 1};
  ck.config = {{"lr", "3e-4"}, {"attention", "laser"}, {"model.layers", "6"}};

  TempDir dir("lg_checkpoint");
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, ck);
  TrainingCheckpoint back = load_checkpoint(path);
  CHECK(back.step == ck.step);
  CHECK(back.rng == ck.rng);
  CHECK(back.config == ck.config);
  REQUIRE(back.model.size() == 3);
  REQUIRE(back.optimizer.size() == 3);
  for (const auto& [name, t] : ck.model) check_equal(back.model.at(name), t);
  for (const auto& [name, t] : ck.optimizer) check_equal(back.optimizer.at(name), t);
  CHECK(back.model.at("head.weight").is_same(back.model.at("embed.weight")));

  // The file is plain safetensors underneath, with the documented layout.
  SafetensorsFile raw = read_safetensors(path);
  CHECK(raw.metadata.at("format") == "lasergrad.checkpoint.v1");
  CHECK(raw.metadata.at("rng.seed") == "18446744073709551614");
  CHECK(raw.metadata.at("config.model.layers") == "6");
  CHECK(raw.tensors.count("optimizer.state.0.step") == 1);

  // Saving over an existing checkpoint replaces it.
  ck.step = 0;
  ck.optimizer.clear();
  save_checkpoint(path, ck);
  back = load_checkpoint(path);
  CHECK(back.step == 0);
  CHECK(back.optimizer.empty());
}

TEST_CASE("parse_checkpoint reads a checkpoint file's bytes as load_checkpoint reads the file") {
  manual_seed(7);
  TrainingCheckpoint ck;
  ck.model = {{"w", randn({3, 2})}};
  ck.step = 12;
  ck.rng = {.seed = 5, .offset = 99};
  ck.config = {{"lr", "0.01"}};
  TempDir dir("lg_checkpoint");
  const std::string path = dir.file("ckpt.safetensors");
  save_checkpoint(path, ck);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TrainingCheckpoint back = parse_checkpoint(bytes, "rank 0's checkpoint");
  CHECK(back.step == 12);
  CHECK(back.rng == ck.rng);
  CHECK(back.config == ck.config);
  check_equal(back.model.at("w"), ck.model.at("w"));
  CHECK(contains(error_of([&] { parse_checkpoint(bytes.substr(0, 40), "rank 0's checkpoint"); }),
                 "parse_checkpoint: 'rank 0's checkpoint': "));
}

TEST_CASE("checkpoint loading rejects files that are not valid checkpoints") {
  TempDir dir("lg_checkpoint");
  const std::string path = dir.file("bad.safetensors");
  StateDict tensors{{"model.w", zeros({2})}};
  auto with = [&](Metadata meta, StateDict sd) {
    save_safetensors(path, sd, meta);
    return path;
  };
  CHECK_ERROR(load_checkpoint(with({}, tensors)), "load_checkpoint", path.c_str(),
              "not a lasergrad checkpoint");
  Metadata m = valid_metadata();
  m["format"] = "lasergrad.checkpoint.v9";
  CHECK_ERROR(load_checkpoint(with(m, tensors)), "unsupported checkpoint format",
              "lasergrad.checkpoint.v9");
  for (const char* key : {"step", "rng.seed", "rng.offset"}) {
    m = valid_metadata();
    m.erase(key);
    CHECK_ERROR(load_checkpoint(with(m, tensors)), "lacks", key);
  }
  for (const char* value : {"", "12x", " 3", "+3", "1e3", "99999999999999999999"}) {
    m = valid_metadata();
    m["step"] = value;
    CHECK_ERROR(load_checkpoint(with(m, tensors)), "'step'", "not a decimal 64-bit signed");
  }
  m = valid_metadata();
  m["step"] = "-1";
  CHECK_ERROR(load_checkpoint(with(m, tensors)), "step -1", "negative");
  m = valid_metadata();
  m["rng.seed"] = "-1";
  CHECK_ERROR(load_checkpoint(with(m, tensors)), "'rng.seed'", "unsigned");
  m = valid_metadata();
  m["stray"] = "1";
  CHECK_ERROR(load_checkpoint(with(m, tensors)), "unknown metadata key 'stray'");
  CHECK_ERROR(load_checkpoint(with(valid_metadata(), {{"weights", zeros({1})}})),
              "tensor 'weights'", "neither");
  CHECK(load_checkpoint(with(valid_metadata(), tensors)).step == 5);

  TrainingCheckpoint negative;
  negative.step = -2;
  CHECK_ERROR(save_checkpoint(path, negative), "save_checkpoint", "negative");
  CHECK_ERROR(save_checkpoint(dir.file("no/such/dir/c.safetensors"), {}), "save_checkpoint",
              "temporary file");
  CHECK_ERROR(load_checkpoint(dir.file("absent")), "load_checkpoint", "cannot open");
}

namespace {

struct TinyNet : nn::Module {
  nn::Linear fc1{6, 8}, fc2{8, 6};
  TinyNet() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) { return fc2(relu(fc1(x))); }
};

void train_steps(TinyNet& net, optim::AdamW& opt, int steps) {
  for (int i = 0; i < steps; ++i) {
    Tensor y = net.forward(dropout(randn({4, 6}), 0.25, /*train=*/true));
    opt.zero_grad();
    mean(y * y).backward();
    opt.step();
  }
}

}  // namespace

TEST_CASE("checkpoint resume through the file continues training bit-exactly") {
  manual_seed(3);
  TinyNet net;
  optim::AdamW opt(net.parameters(), {.lr = 1e-2});
  train_steps(net, opt, 3);
  TempDir dir("lg_checkpoint");
  const std::string path = dir.file("resume.safetensors");
  save_checkpoint(path, {.model = net.state_dict(),
                         .optimizer = opt.state_dict(),
                         .step = 3,
                         .rng = get_rng_state(),
                         .config = {{"lr", "1e-2"}}});
  train_steps(net, opt, 2);  // the run that was not interrupted

  manual_seed(99);  // a fresh process: other weights, other RNG state
  TinyNet resumed;
  optim::AdamW resumed_opt(resumed.parameters(), {.lr = 5.0});
  TrainingCheckpoint ck = load_checkpoint(path);
  resumed.load_state_dict(ck.model);
  resumed_opt.load_state_dict(ck.optimizer);
  set_rng_state(ck.rng);
  CHECK(ck.step == 3);
  train_steps(resumed, resumed_opt, 2);
  StateDict want = net.state_dict(), got = resumed.state_dict();
  for (const auto& [name, t] : want) CHECK(got.at(name).to_vector<float>() == t.to_vector<float>());
}
