// safetensors: bit-exact round trips, a hand-assembled file with known bytes,
// tied-weight aliases, every malformed-input error, truncation and random
// corruption (never a crash), and atomic writes that leave the old file intact.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 misreports "literal" + std::string&& (an insert at 0) under -Wrestrict,
// depending on inlining (GCC bug 105329); the tests build such headers a lot.
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <lasergrad/nn/safetensors.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_util.h"

using namespace lg;
namespace fs = std::filesystem;

namespace {

// Random bit patterns (NaN payloads, infinities, subnormals included), so a
// round trip that converted values instead of copying bytes would show.
Tensor random_tensor(std::mt19937_64& rng, DType dtype, const Shape& shape) {
  int64_t n = shape_numel(shape);
  switch (dtype) {
    case DType::Float32: {
      std::vector<float> v(n);
      for (float& x : v) x = std::bit_cast<float>(static_cast<uint32_t>(rng()));
      return from_vector(v, shape);
    }
    case DType::Float64: {
      std::vector<double> v(n);
      for (double& x : v) x = std::bit_cast<double>(rng());
      return from_vector(v, shape);
    }
    case DType::Int64: {
      std::vector<int64_t> v(n);
      for (int64_t& x : v) x = static_cast<int64_t>(rng());
      return from_vector(v, shape);
    }
    case DType::Bool:
      break;
  }
  std::vector<bool> v(n);
  for (size_t i = 0; i < v.size(); ++i) v[i] = rng() & 1;
  return from_vector(v, shape);
}

// The bytes of t's values in row-major order.
std::string value_bytes(const Tensor& t) {
  Tensor c = t.to(Device::cpu()).contiguous();
  return std::string(static_cast<const char*>(c.raw_data()),
                     static_cast<size_t>(c.numel()) * element_size(c.dtype()));
}

void check_same_values(const Tensor& got, const Tensor& want) {
  CHECK(got.dtype() == want.dtype());
  CHECK(got.shape() == want.shape());
  CHECK(got.is_contiguous());
  CHECK(value_bytes(got) == value_bytes(want));
}

void append_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }

// A file image from a header text and a data buffer (no padding).
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string s;
  append_u64(s, header.size());
  return s + header + data;
}

SafetensorsFile parse(const std::string& bytes) {
  return parse_safetensors(bytes.data(), bytes.size());
}

// One F32 tensor "x" of shape [2] over the whole buffer: the base many error
// cases edit.
std::string f32_entry(const std::string& name, const std::string& shape,
                      const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets +
         "}";
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact for every dtype and layout") {
  std::mt19937_64 rng(7);
  StateDict sd;
  for (DType dt : {kFloat32, kFloat64, kInt64, kBool}) {
    std::string d = dtype_name(dt);
    sd[d + ".matrix"] = random_tensor(rng, dt, {3, 5});
    sd[d + ".scalar"] = random_tensor(rng, dt, {});
    sd[d + ".empty"] = random_tensor(rng, dt, {0, 4});
    sd[d + ".transposed"] = random_tensor(rng, dt, {4, 3}).t();
    sd[d + ".sliced"] = random_tensor(rng, dt, {6, 7}).slice(1, 1, 7, 2).slice(0, 2, 5);
  }
  CHECK_FALSE(sd["float32.transposed"].is_contiguous());
  CHECK_FALSE(sd["int64.sliced"].is_contiguous());
  Metadata meta{{"epoch", "3"}, {"note", "ünïcode ✓"}, {"empty", ""}};

  std::string bytes = serialize_safetensors(sd, meta);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);  // padded like the reference writer: the buffer is 8-aligned
  SafetensorsFile f = parse(bytes);
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == sd.size());
  for (const auto& [name, t] : sd) {
    INFO(name);
    check_same_values(f.tensors.at(name), t);
  }
  // Wider elements come first, so every tensor is aligned to its element size.
  std::string header = bytes.substr(8, n);
  CHECK(header.find("\"float64.matrix\":{\"data_offsets\":[0,120]") != std::string::npos);

  TempDir dir("lg_safetensors");
  save_safetensors(dir.file("m.safetensors"), sd, meta);
  std::ifstream in(dir.file("m.safetensors"), std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == bytes);
  StateDict loaded = load_safetensors(dir.file("m.safetensors"));
  for (const auto& [name, t] : sd) check_same_values(loaded.at(name), t);
  CHECK(read_safetensors(dir.file("m.safetensors")).metadata == meta);

  // An empty state_dict is a valid file too.
  CHECK(parse(serialize_safetensors({})).tensors.empty());
}

TEST_CASE("safetensors reads a hand-assembled file with BF16 and F16 as float32") {
  std::string header =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]},"
      "\"c\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[14,24]},"
      "\"d\":{\"dtype\":\"BOOL\",\"shape\":[1,3],\"data_offsets\":[24,27]},"
      "\"e\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[27,35]},"
      "\"f\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[35,35]},"
      "\"__metadata__\":{\"format\":\"pt\"}}";
  std::string data;
  for (float v : {1.5f, -2.0f}) data.append(reinterpret_cast<const char*>(&v), 4);
  // BF16 1.0, -2.0, 3.140625; F16 1.0, -2.0, 65504, 2^-24 (subnormal), -inf
  for (uint16_t h : {0x3F80, 0xC000, 0x4049, 0x3C00, 0xC000, 0x7BFF, 0x0001, 0xFC00})
    data.append(reinterpret_cast<const char*>(&h), 2);
  data += std::string("\x01\x00\x07", 3);  // any non-zero byte is true
  int64_t e = -7;
  data.append(reinterpret_cast<const char*>(&e), 8);

  SafetensorsFile f = parse(make_file(header, data));
  CHECK(f.metadata == Metadata{{"format", "pt"}});
  CHECK(f.tensors.at("a").to_vector<float>() == std::vector<float>{1.5f, -2.0f});
  CHECK(f.tensors.at("b").dtype() == kFloat32);
  CHECK(f.tensors.at("b").to_vector<float>() == std::vector<float>{1.0f, -2.0f, 3.140625f});
  std::vector<float> c = f.tensors.at("c").to_vector<float>();
  CHECK(c == std::vector<float>{1.0f, -2.0f, 65504.0f, 0x1p-24f, -INFINITY});
  CHECK(f.tensors.at("d").dtype() == kBool);
  CHECK(f.tensors.at("d").shape() == Shape{1, 3});
  CHECK(value_bytes(f.tensors.at("d")) == std::string("\x01\x00\x01", 3));
  CHECK(f.tensors.at("e").dim() == 0);
  CHECK(f.tensors.at("e").item<int64_t>() == -7);
  CHECK(f.tensors.at("f").dtype() == kFloat64);
  CHECK(f.tensors.at("f").numel() == 0);
}

TEST_CASE("safetensors stores tied weights once and loads them as one Tensor") {
  std::mt19937_64 rng(11);
  Tensor w = random_tensor(rng, kFloat32, {16, 8});
  Tensor other = random_tensor(rng, kFloat32, {16, 8});
  StateDict sd{{"decoder.weight", w},
               {"embed.weight", w.detach()},  // another handle, the same view
               {"lm_head.weight", w},
               {"other", other},
               {"reshaped", w.view({8, 16})}};  // a different view: stored on its own
  std::string bytes = serialize_safetensors(sd);
  CHECK(bytes.find("\"lasergrad.alias.embed.weight\":\"decoder.weight\"") != std::string::npos);
  CHECK(bytes.find("\"lasergrad.alias.lm_head.weight\":\"decoder.weight\"") != std::string::npos);
  std::string untied = serialize_safetensors(
      {{"a", w.clone()}, {"b", w.clone()}, {"c", w.clone()}, {"other", other}, {"d", w.clone()}});
  CHECK(untied.size() > bytes.size() + 16 * 8 * 4);  // copies saved

  SafetensorsFile f = parse(bytes);
  CHECK(f.metadata.empty());  // the aliases are the reader's business, not the user's
  REQUIRE(f.tensors.size() == 5);
  CHECK(f.tensors.at("embed.weight").is_same(f.tensors.at("decoder.weight")));
  CHECK(f.tensors.at("lm_head.weight").is_same(f.tensors.at("decoder.weight")));
  CHECK_FALSE(f.tensors.at("reshaped").is_same(f.tensors.at("decoder.weight")));
  check_same_values(f.tensors.at("lm_head.weight"), w);
  check_same_values(f.tensors.at("reshaped"), w.view({8, 16}));
  // Re-saving what was loaded gives the same bytes.
  CHECK(serialize_safetensors(f.tensors) == bytes);
}

TEST_CASE("safetensors writer rejects what it cannot store") {
  CHECK_ERROR(serialize_safetensors({{"w", Tensor()}}), "serialize_safetensors", "'w'",
              "undefined");
  CHECK_ERROR(serialize_safetensors({{"__metadata__", zeros({1})}}), "__metadata__");
  CHECK_ERROR(serialize_safetensors({}, {{"lasergrad.alias.x", "y"}}), "reserved",
              "lasergrad.alias.x");
  CHECK_ERROR(serialize_safetensors({{std::string("\xff"), zeros({1})}}), "UTF-8");
  TempDir dir("lg_safetensors");
  CHECK_ERROR(save_safetensors(dir.file("missing/m.safetensors"), {{"a", zeros({2})}}),
              "save_safetensors", "temporary file", "missing");
}

TEST_CASE("safetensors reader names the problem in malformed input") {
  const std::string x = f32_entry("x", "[2]", "[0,8]");
  const std::string data(8, '\0');
  auto bad = [&](const std::string& header, const std::string& buffer = std::string(8, '\0')) {
    return make_file(header, buffer);
  };
  CHECK(parse(bad("{" + x + "}")).tensors.at("x").numel() == 2);  // the base case is valid

  CHECK_ERROR(parse(std::string("\x08\x00\x00", 3)), "parse_safetensors", "<memory>", "too short");
  std::string huge;
  append_u64(huge, 200'000'000);
  CHECK_ERROR(parse(huge + "{}"), "header length 200000000", "limit");
  std::string longer;
  append_u64(longer, 64);
  CHECK_ERROR(parse(longer + "{}"), "header length 64", "truncated");
  CHECK_ERROR(parse(bad("{\"x\":", data)), "not valid JSON");
  CHECK_ERROR(parse(bad("{" + x + "}garbage")), "not valid JSON");
  CHECK_ERROR(parse(bad("[1,2]")), "the header", "expected a JSON object", "an array");
  CHECK_ERROR(parse(bad("{\"x\":1}")), "tensor 'x'", "expected an object", "a number");
  CHECK_ERROR(parse(bad("{\"x\":{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}}")),
              "field 'dtype'", "expected a string");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "\"2\"", "[0,8]") + "}")), "field 'shape'",
              "got a string");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[2.5]", "[0,8]") + "}")), "field 'shape'", "2.5");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[[2]]", "[0,8]") + "}")), "got an array");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[-2]", "[0,8]") + "}")), "negative number -2");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[2]", "[0]") + "}")), "fewer than two");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[2]", "[0,8,8]") + "}")), "more than two");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[2]", "[0,-8]") + "}")), "negative number -8");
  CHECK_ERROR(parse(bad("{\"x\":{\"dtype\":\"Q8\",\"shape\":[2],\"data_offsets\":[0,8]}}")),
              "tensor 'x'", "unsupported dtype 'Q8'");
  CHECK_ERROR(parse(bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}")), "lacks data_offsets");
  CHECK_ERROR(
      parse(bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"k\":1}}")),
      "unknown field 'k'");
  CHECK_ERROR(
      parse(bad("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}")),
      "field 'shape' twice");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[4611686018427387904,4]", "[0,8]") + "}")),
              "overflows");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[18446744073709551615]", "[0,8]") + "}")),
              "more than a dimension");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[2]", "[0,4]") + "}", std::string(4, '\0'))),
              "holding 4 bytes", "needs 8");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[2]", "[0,16]") + "}")), "past the end", "truncated");
  CHECK_ERROR(parse(bad("{" + f32_entry("x", "[0]", "[8,0]") + "}")), "begin > end");
  CHECK_ERROR(
      parse(bad("{" + x + "," + f32_entry("y", "[2]", "[4,12]") + "}", std::string(12, '\0'))),
      "tensor 'y'", "overlaps tensor 'x'");
  CHECK_ERROR(
      parse(bad("{" + f32_entry("x", "[1]", "[0,4]") + "," + f32_entry("y", "[1]", "[8,12]") + "}",
                std::string(12, '\0'))),
      "bytes [4,8)", "belong to no tensor");
  CHECK_ERROR(parse(bad("{" + x + "}", std::string(12, '\0'))), "unused tail");
  CHECK_ERROR(parse(bad("{" + x + "," + x + "}")), "names 'x' twice");
  CHECK_ERROR(parse(bad("{\"__metadata__\":{},\"__metadata__\":{}," + x + "}")),
              "'__metadata__' twice");
  CHECK_ERROR(parse(bad("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}," + x + "}")),
              "key 'a' twice");
  CHECK_ERROR(parse(bad("{\"__metadata__\":{\"epoch\":3}," + x + "}")), "key 'epoch'",
              "metadata values are strings");
  CHECK_ERROR(parse(bad("{\"__metadata__\":[]," + x + "}")), "__metadata__", "an array");
  CHECK_ERROR(parse(bad("{\"__metadata__\":{\"lasergrad.alias.y\":\"nope\"}," + x + "}")),
              "alias 'y'", "'nope'", "does not hold");
  CHECK_ERROR(parse(bad("{\"__metadata__\":{\"lasergrad.alias.x\":\"x\"}," + x + "}")), "alias 'x'",
              "also the name");
  CHECK_ERROR(parse_safetensors(nullptr, 8), "null data");

  // The file forms name the path.
  TempDir dir("lg_safetensors");
  std::string path = dir.file("bad.safetensors");
  std::ofstream(path, std::ios::binary) << bad("{" + x + "}", std::string(4, '\0'));
  CHECK_ERROR(load_safetensors(path), "load_safetensors", path.c_str(), "past the end");
  CHECK_ERROR(read_safetensors(path), "read_safetensors", path.c_str());
  CHECK_ERROR(load_safetensors(dir.file("absent.safetensors")), "cannot open",
              "absent.safetensors");
  CHECK_ERROR(load_safetensors(dir.path.string()), "not a regular file", "a directory");
}

TEST_CASE("safetensors reader rejects every truncation of a valid file") {
  std::mt19937_64 rng(3);
  std::string bytes = serialize_safetensors({{"a", random_tensor(rng, kFloat32, {3})},
                                             {"b", random_tensor(rng, kBool, {2})},
                                             {"c", random_tensor(rng, kInt64, {})}},
                                            {{"k", "v"}});
  for (size_t len = 0; len < bytes.size(); ++len) {
    INFO("length " << len);
    // An exact-size heap copy, so that the sanitizer build sees any overread.
    std::unique_ptr<char[]> copy(new char[len]);
    std::memcpy(copy.get(), bytes.data(), len);
    CHECK_THROWS_AS(parse_safetensors(copy.get(), len), lg::Error);
  }
  CHECK(parse(bytes).tensors.size() == 3);
}

TEST_CASE("safetensors reader survives random corruption") {
  std::mt19937_64 rng(2024);
  StateDict sd{{"w", random_tensor(rng, kFloat32, {4, 3})},
               {"b", random_tensor(rng, kFloat64, {2})},
               {"i", random_tensor(rng, kInt64, {1, 2})},
               {"m", random_tensor(rng, kBool, {5})}};
  sd["tied"] = sd["w"];
  const std::string valid = serialize_safetensors(sd, {{"k", "v"}});
  uint64_t header_len = 0;
  std::memcpy(&header_len, valid.data(), 8);
  const std::string digits = "0123456789";
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = valid;
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    switch (iter % 5) {
      case 0:  // flip bits anywhere
        for (int k = 1 + pick(3); k > 0; --k) b[pick(b.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1:  // change a digit of the header (shapes, offsets)
        for (int k = 1 + pick(2); k > 0; --k) {
          size_t at = 8 + pick(header_len);
          if (std::isdigit(static_cast<unsigned char>(b[at]))) b[at] = digits[pick(10)];
        }
        break;
      case 2:  // insert or delete a header byte (the length field then lies)
        if (rng() & 1)
          b.erase(8 + pick(header_len), 1);
        else
          b.insert(8 + pick(header_len), 1, "{}[],:\"0 a"[pick(10)]);
        break;
      case 3:  // cut or extend the file
        if (rng() & 1)
          b.resize(pick(b.size()));
        else
          b.append(1 + pick(16), static_cast<char>(rng()));
        break;
      default: {  // rewrite the length field
        uint64_t n = header_len + static_cast<uint64_t>(static_cast<int64_t>(pick(17)) - 8);
        if (rng() % 8 == 0) n = rng();
        std::memcpy(b.data(), &n, 8);
      }
    }
    std::unique_ptr<char[]> copy(new char[b.size()]);
    std::memcpy(copy.get(), b.data(), b.size());
    try {
      SafetensorsFile f = parse_safetensors(copy.get(), b.size());
      ++parsed;
      // Self-consistent: what was read fits in the input and survives a re-save.
      uint64_t total = 0;
      for (const auto& [name, t] : f.tensors) total += t.numel() * element_size(t.dtype());
      CHECK(total <= 2 * b.size());
      SafetensorsFile again = parse(serialize_safetensors(f.tensors, f.metadata));
      CHECK(again.metadata == f.metadata);
      REQUIRE(again.tensors.size() == f.tensors.size());
      for (const auto& [name, t] : f.tensors) check_same_values(again.tensors.at(name), t);
    } catch (const lg::Error&) {
      ++rejected;
    }
  }
  INFO(parsed << " parsed, " << rejected << " rejected");
  CHECK(parsed > 100);  // data-region flips stay valid files
  CHECK(rejected > 1000);
}

TEST_CASE("safetensors atomic write leaves the old file and no temporary behind") {
  TempDir dir("lg_safetensors");
  const std::string path = dir.file("model.safetensors");
  std::mt19937_64 rng(5);
  Tensor old_w = random_tensor(rng, kFloat32, {4});
  save_safetensors(path, {{"w", old_w}});

  // The writer fails midway: the file size limit stops write() with EFBIG.
  {
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto previous = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    CHECK_ERROR(save_safetensors(path, {{"w", random_tensor(rng, kFloat64, {4096})}}),
                "save_safetensors", "writing", "failed");
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous);
  }
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  check_same_values(load_safetensors(path).at("w"), old_w);

  // An exception from the producer of the bytes cleans up the same way.
  CHECK_ERROR(write_file_atomically("test_writer", path,
                                    [](const ByteSink& sink) {
                                      sink("partial", 7);
                                      detail::fail("test_writer: producer failed");
                                    }),
              "producer failed");
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  check_same_values(load_safetensors(path).at("w"), old_w);

  // The target is a directory: refused before any temporary file is made.
  fs::create_directories(dir.path / "taken" / "inside");
  CHECK_ERROR(save_safetensors(dir.file("taken"), {{"w", old_w}}), "not a regular file", "taken");
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors", "taken"});

  // A successful save replaces the file.
  Tensor new_w = random_tensor(rng, kFloat32, {4});
  save_safetensors(path, {{"w", new_w}});
  check_same_values(load_safetensors(path).at("w"), new_w);
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors", "taken"});
}

TEST_CASE("safetensors writes device tensors as their CPU copy") {
  if (!cuda_is_available()) return;
  std::mt19937_64 rng(9);
  Tensor host = random_tensor(rng, kFloat32, {5, 3});
  SafetensorsFile f = parse(serialize_safetensors({{"g", host.to(Device::cuda(0)).t()}}));
  check_same_values(f.tensors.at("g"), host.t());
}

namespace {
// An output projection tied to the embedding, as in GPT-2.
struct TiedNet : nn::Module {
  Tensor embed, head, bias;
  TiedNet() {
    embed = randn({10, 4});
    head = embed;
    bias = randn({10});
    register_parameter("embed", embed);
    register_parameter("head", head);
    register_parameter("bias", bias);
  }
};
}  // namespace

TEST_CASE("safetensors file of a model with tied weights loads strictly and stays tied") {
  manual_seed(1);
  TiedNet a;
  TempDir dir("lg_safetensors");
  save_safetensors(dir.file("tied.safetensors"), a.state_dict());
  StateDict loaded = load_safetensors(dir.file("tied.safetensors"));
  CHECK(loaded.at("head").is_same(loaded.at("embed")));
  TiedNet b;  // other random values
  b.load_state_dict(loaded);
  CHECK(b.head.is_same(b.embed));
  check_same_values(b.embed, a.embed);
  check_same_values(b.bias, a.bias);
  // A reader that ignores the alias sees one stored copy; the module accepts
  // that too (the tied name is filled from its partner).
  loaded.erase("head");
  TiedNet c;
  c.load_state_dict(loaded);
  check_same_values(c.head, a.embed);
}
