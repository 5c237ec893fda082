// lg-gpt's data, flags and metrics: UTF-8 decoding, the character vocabulary
// and its split, reproducible windows, and the one-line flag errors.
#include <doctest/doctest.h>
#include <lasergrad/nn/checkpoint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "common/char_vocab.h"
#include "common/files.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/utf8.h"
#include "tests/test_util.h"
#include "masking.h"
#include "text_data.h"

namespace {

std::string repeated(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct ParseResult {
  std::optional<int> code;
  std::string out, err;
  gpt::TrainConfig config;
};

ParseResult parse(std::vector<std::string> args) {
  args.insert(args.begin(), "lg-gpt");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  ParseResult r;
  std::ostringstream out, err;
  r.code = gpt::parse_command_line(static_cast<int>(argv.size()), argv.data(), r.config, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("lg_gpt_test_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace

TEST_CASE("utf8 decodes one- to four-byte sequences and drops a byte-order mark") {
  const std::string text =
      "\xEF\xBB\xBF"
      "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  CHECK(examples::decode_utf8(text) == U"a\u00E9\u20AC\U0001F600");
  CHECK(examples::encode_utf8(U"a\u00E9\u20AC\U0001F600") == text.substr(3));
  CHECK(examples::decode_utf8("") == U"");
  CHECK(examples::code_point_name(U'\u00E9') == "U+00E9");
}

TEST_CASE("utf8 rejects invalid input naming the byte offset") {
  struct Case {
    std::string bytes, offset, reason;
  };
  const std::vector<Case> cases = {
      {"ab\x80", "offset 2", "continuation byte without a lead byte"},
      {"a\xC3", "offset 1", "truncated"},
      {"a\xC3\x41", "offset 1", "cut short"},
      {"\xC0\x80", "offset 0", "overlong"},
      {"xy\xE0\x80\x80", "offset 2", "overlong"},
      {"\xF0\x80\x80\x80", "offset 0", "overlong"},
      {"\xED\xA0\x80", "offset 0", "surrogate"},
      {"\xF4\x90\x80\x80", "offset 0", "above U+10FFFF"},
      {"abc\xFF", "offset 3", "never used"},
  };
  for (const Case& c : cases) {
    const std::string msg = error_of([&] { examples::decode_utf8(c.bytes); });
    INFO("message: " << msg);
    CHECK(contains(msg, "invalid UTF-8 at byte " + c.offset));
    CHECK(contains(msg, c.reason));
  }
}

TEST_CASE("the vocabulary comes from the training split and unknown characters map to unk") {
  // 90 'a'/'b' characters train, then 10 validation characters, two of them new.
  const std::string text = repeated("ab", 45) +
                           "aaaa\xC3\xA9"
                           "bbbb\xE2\x82\xAC";
  gpt::TextDataset data(text, 4);
  const examples::CharVocab& vocab = data.vocab();
  CHECK(vocab.size() == 3);  // <unk>, a, b
  CHECK(vocab.id(U'a') == 1);
  CHECK(vocab.id(U'b') == 2);
  CHECK(vocab.id(U'\u00E9') == examples::CharVocab::kUnk);
  CHECK(data.train_tokens().size() == 90);
  CHECK(data.val_tokens().size() == 10);
  CHECK(data.val_unknown() == 2);
  CHECK(data.val_tokens()[4] == examples::CharVocab::kUnk);
  CHECK(vocab.decode({1, 0, 2}) == U"a\uFFFDb");

  const examples::CharVocab restored = examples::CharVocab::from_string(vocab.to_string());
  CHECK(restored.to_string() == "ab");
  CHECK(restored.size() == vocab.size());
  CHECK(contains(error_of([] { examples::CharVocab::from_string("ba"); }), "code-point order"));
  CHECK(contains(error_of([] { examples::CharVocab::from_string("aa"); }), "appears twice"));
  CHECK(contains(error_of([&] { vocab.character(3); }), "outside [0, 3)"));

  // A given vocabulary (a resumed run's) is used as it is.
  gpt::TextDataset again(text, 4, examples::CharVocab::from_string("abc"));
  CHECK(again.vocab().size() == 4);
}

TEST_CASE("training windows are reproducible from the seed and targets are inputs shifted by one") {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += static_cast<char>('a' + (i * 7) % 26);
  gpt::TextDataset data(text, 16);
  const gpt::Batch a = data.train_batch(4, 42, 3), b = data.train_batch(4, 42, 3);
  CHECK(a.inputs.dtype() == lg::kInt64);
  CHECK(a.inputs.shape() == lg::Shape{4, 16});
  CHECK(a.targets.shape() == lg::Shape{4, 16});
  const auto in = a.inputs.to_vector<int64_t>(), tg = a.targets.to_vector<int64_t>();
  CHECK(in == b.inputs.to_vector<int64_t>());
  CHECK(tg == b.targets.to_vector<int64_t>());
  for (int row = 0; row < 4; ++row)
    for (int t = 0; t + 1 < 16; ++t) CHECK(in[row * 16 + t + 1] == tg[row * 16 + t]);
  CHECK(in != data.train_batch(4, 43, 3).inputs.to_vector<int64_t>());
  CHECK(in != data.train_batch(4, 42, 4).inputs.to_vector<int64_t>());
  // Two ranks' halves (first_row) are the whole batch's rows.
  const auto top = data.train_batch(2, 42, 3, 0).inputs.to_vector<int64_t>();
  const auto bottom = data.train_batch(2, 42, 3, 2).inputs.to_vector<int64_t>();
  CHECK(std::vector<int64_t>(in.begin(), in.begin() + 32) == top);
  CHECK(std::vector<int64_t>(in.begin() + 32, in.end()) == bottom);
  for (int64_t id : in) CHECK((id >= 1 && id < data.vocab().size()));

  // Validation batches are fixed and cover the split from its start to its end.
  const auto v0 = data.val_batch(4, 0, 2).inputs.to_vector<int64_t>();
  CHECK(v0 == data.val_batch(4, 0, 2).inputs.to_vector<int64_t>());
  const auto& val = data.val_tokens();
  CHECK(std::vector<int64_t>(v0.begin(), v0.begin() + 16) ==
        std::vector<int64_t>(val.begin(), val.begin() + 16));
  const auto last = data.val_batch(4, 1, 2).targets.to_vector<int64_t>();
  CHECK(std::vector<int64_t>(last.end() - 16, last.end()) ==
        std::vector<int64_t>(val.end() - 16, val.end()));
}

TEST_CASE("a text too short for a window in each split is an error") {
  // 30 characters split 27 + 3, enough for a window of seq_len 2 (3 characters); 12 split 11 + 1.
  CHECK_NOTHROW(gpt::TextDataset(std::string(30, 'x'), 2));
  const std::string msg = error_of([] { gpt::TextDataset(std::string(12, 'x'), 2); });
  CHECK(contains(msg, "too short for --seq-len 2"));
  CHECK(contains(msg, "seq_len + 1 = 3"));
  CHECK(contains(error_of([] { gpt::TextDataset("abc", 4); }), "too short"));
  CHECK(contains(error_of([] { gpt::TextDataset("ok\xFF", 1); }), "byte offset 2"));
}

TEST_CASE(
    "the default text is the King James Bible, cached, and a missing bible command is named") {
  const auto cache = fresh_dir("cache");
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  const char* old_cache = std::getenv("XDG_CACHE_HOME");
  const std::string saved_cache = old_cache ? old_cache : "";
  ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
  const bool have_bible = !examples::find_on_path("bible").empty();
  ::setenv("PATH", (cache / "no-bin").c_str(), 1);
  const std::string msg = error_of([] { gpt::king_james_bible(); });
  ::setenv("PATH", old_path.c_str(), 1);
  CHECK(contains(msg, "bible-kjv"));
  CHECK(contains(msg, "scripts/install-deps.sh --examples"));
  if (have_bible) {
    const gpt::Text first = gpt::king_james_bible();
    CHECK(first.utf8.rfind("\nGenesis 1\n\n  1 In the beginning God created", 0) == 0);
    CHECK(contains(first.utf8, "The grace of our Lord Jesus Christ be with you all. Amen."));
    CHECK(std::filesystem::exists(cache / "lasergrad" / "kjv.txt"));
    // From the cache now, even without the command.
    ::setenv("PATH", (cache / "no-bin").c_str(), 1);
    const gpt::Text second = gpt::king_james_bible();
    ::setenv("PATH", old_path.c_str(), 1);
    CHECK(second.utf8 == first.utf8);
  }
  if (old_cache)
    ::setenv("XDG_CACHE_HOME", saved_cache.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
  std::filesystem::remove_all(cache);
}

TEST_CASE("the default flags parse and describe a small run") {
  const ParseResult r = parse({});
  CHECK_FALSE(r.code.has_value());
  CHECK(r.err.empty());
  CHECK(r.config.attention == "laser");
  CHECK(r.config.d_model % r.config.heads == 0);
  CHECK(r.config.warmup < r.config.steps);

  const ParseResult help = parse({"--help"});
  CHECK(help.code == 0);
  for (const char* flag :
       {"--data",         "--attention",   "--layers",    "--d-model",    "--heads",
        "--seq-len",      "--batch",       "--steps",     "--lr",         "--warmup",
        "--weight-decay", "--dropout",     "--grad-clip", "--eval-every", "--eval-batches",
        "--seed",         "--threads",     "--device",    "--out",        "--resume",
        "--sample",       "--temperature", "--top-k",     "--prompt",     "--bench"})
    CHECK_MESSAGE(contains(help.out, flag), flag);

  const ParseResult short_run = parse({"--steps", "20"});
  CHECK_FALSE(short_run.code.has_value());
  CHECK(short_run.config.warmup == 2);
}

TEST_CASE("a bad flag value is a one-line error with exit status 2") {
  const auto out = fresh_dir("no_checkpoint");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--layers", "0"}, "--layers"},
      {{"--layers", "abc"}, "--layers"},
      {{"--d-model", "-8"}, "--d-model"},
      {{"--d-model", "100", "--heads", "3"}, "not divisible by --heads 3"},
      {{"--temperature", "0"}, "--temperature"},
      {{"--top-k", "-1"}, "--top-k"},
      {{"--attention", "linear"}, "--attention"},
      {{"--device", "tpu"}, "--device"},
      {{"--dropout", "1.5"}, "--dropout"},
      {{"--warmup", "50", "--steps", "50"}, "--warmup 50 must be below --steps 50"},
      {{"--resume", "--out", out.string()}, "--resume: no checkpoint in --out"},
      {{"--sample", "10", "--out", out.string()}, "--sample: no checkpoint in --out"},
      {{"--data", "/nonexistent/text.txt"}, "/nonexistent/text.txt"},
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--objective", "bert"}, "--objective"},
      {{"--mask-prob", "0", "--objective", "mlm"}, "--mask-prob"},
      {{"--mask-prob", "0.3"}, "--mask-prob is for --objective mlm"},
      {{"--objective", "mlm", "--prompt", "In"}, "use --fill"},
      {{"--objective", "mlm", "--top-k", "3"}, "--top-k and --temperature"},
      {{"--fill", "no marker"}, "has no [MASK]"},
      {{"--fill", "a[MASK]", "--out", out.string()}, "--fill: no checkpoint in --out"},
      {{"--fill", "a[MASK]", "--sample", "3"}, "exclude each other"},
  };
  for (const auto& [args, part] : cases) {
    const ParseResult r = parse(args);
    INFO("args: " << args[0] << "  stderr: " << r.err);
    CHECK(r.code == gpt::kUsageExitCode);
    CHECK(contains(r.err, part));
    CHECK(r.err.rfind("lg-gpt: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  if (!lg::cuda_is_available()) CHECK(contains(parse({"--device", "cuda"}).err, "no usable CUDA"));
}

TEST_CASE(
    "metrics rows go to JSONL and CSV and a resumed run drops the rows after its checkpoint") {
  const auto dir = fresh_dir("metrics");
  {
    examples::MetricsWriter m(dir, {"train_loss", "val_loss"});
    m.write(1, {2.5, std::nullopt});
    m.write(2, {2.25, 2.0});
    m.write(3, {2.0, std::nullopt});
  }
  CHECK(examples::read_file(dir / "metrics.csv") ==
        "step,train_loss,val_loss\n1,2.5,\n2,2.25,2\n3,2,\n");
  CHECK(examples::read_file(dir / "metrics.jsonl") ==
        "{\"step\":1,\"train_loss\":2.5,\"val_loss\":null}\n"
        "{\"step\":2,\"train_loss\":2.25,\"val_loss\":2}\n"
        "{\"step\":3,\"train_loss\":2,\"val_loss\":null}\n");
  {
    examples::MetricsWriter m(dir, {"train_loss", "val_loss"}, 2);
    m.write(3, {1.5, 1.25});
  }
  CHECK(examples::read_file(dir / "metrics.csv") ==
        "step,train_loss,val_loss\n1,2.5,\n2,2.25,2\n3,1.5,1.25\n");
  CHECK(contains(examples::read_file(dir / "metrics.jsonl"), "{\"step\":3,\"train_loss\":1.5,"));
  CHECK(examples::peak_rss_mb() > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a metrics write that fails (a full disk) throws MetricsWriteError naming the file") {
  const auto dir = fresh_dir("metrics-full");
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("/dev/full", dir / "metrics.jsonl");  // every write: ENOSPC
  examples::MetricsWriter m(dir, {"train_loss"});
  CHECK(contains(error_of([&] { m.write(1, {2.5}); }), "metrics.jsonl"));
  CHECK_THROWS_AS(m.write(2, {2.0}), examples::MetricsWriteError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("files are written atomically and durations print compactly") {
  const auto dir = fresh_dir("files");
  examples::write_file_atomically(dir / "sub" / "a.txt", "hello");
  CHECK(examples::read_file(dir / "sub" / "a.txt") == "hello");
  examples::write_file_atomically(dir / "sub" / "a.txt", "bye");
  CHECK(examples::read_file(dir / "sub" / "a.txt") == "bye");
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "sub"),
                      std::filesystem::directory_iterator()) == 1);
  CHECK(contains(error_of([&] { examples::read_file(dir / "missing"); }), "cannot open"));
  std::filesystem::remove_all(dir);
  CHECK(examples::format_duration(12.34) == "12.3s");
  CHECK(examples::format_duration(245) == "4m05s");
  CHECK(examples::format_duration(3720) == "1h02m");
}

TEST_CASE("inputs are regular files within their size limit, checked on the open file") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("lg-gpt-input-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path fifo = dir / "fifo", text = dir / "text";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  examples::write_file_atomically(text, "0123456789");
  // A regression blocks in open() on the FIFO: SIGALRM ends the test instead of a hang.
  ::alarm(20);
  CHECK(contains(error_of([&] { examples::read_input_file("--data", fifo); }), "a FIFO"));
  CHECK(contains(error_of([&] { lg::load_checkpoint(fifo.string()); }),
                 "not a regular file (it is a FIFO)"));
  ::alarm(0);
  CHECK(contains(error_of([&] { examples::read_input_file("--data", "/dev/zero"); }),
                 "--data /dev/zero: not a regular file (it is a character device)"));
  CHECK(examples::read_input_file("--data", text, 10, "--max-data-bytes") == "0123456789");
  CHECK(
      contains(error_of([&] { examples::read_input_file("--data", text, 9, "--max-data-bytes"); }),
               "is 10 bytes, above --max-data-bytes 9"));
  CHECK(examples::input_file_problem("--data", text, 9, "--max-data-bytes") ==
        "--data " + text.string() +
            " is 10 bytes, above --max-data-bytes 9 (raise it to read this file)");
  CHECK(examples::input_file_problem("--data", text).empty());
  std::filesystem::remove_all(dir);
}

TEST_CASE(
    "resume and sample metadata: malformed entries are named, conflicting flags are refused") {
  gpt::TrainConfig saved;
  saved.layers = 1;
  saved.seed = 7;
  std::map<std::string, std::string> m = saved.model_metadata();
  m["gpt.seed"] = "abc";
  gpt::TrainConfig config;
  CHECK(error_of([&] { config.apply_resume_metadata(m); }) ==
        "checkpoint metadata \"gpt.seed\" is not an unsigned 64-bit integer: \"abc\"");
  m["gpt.seed"] = "-1";  // stoull would wrap it
  CHECK(contains(error_of([&] { config.apply_resume_metadata(m); }), "\"-1\""));
  m["gpt.seed"] = "7";
  config.layers = 3;  // not given: the checkpoint's value wins
  config.apply_resume_metadata(m);
  CHECK(config.layers == 1);
  CHECK(config.seed == 7);
  config.given = {"--layers", "--seed"};  // given equal to the checkpoint's: fine
  config.apply_resume_metadata(m);
  config.layers = 2;
  CHECK(error_of([&] { config.apply_resume_metadata(m); }) ==
        "--resume: the checkpoint was trained with other settings: --layers 2 (the checkpoint's: "
        "1); drop these flags, or train into another --out");
  // --sample: the same check of the model flags, but --seed seeds the sample.
  gpt::TrainConfig sampler;
  sampler.given = {"--seed", "--temperature"};
  sampler.seed = 99;
  sampler.apply_sample_metadata(m);
  CHECK(sampler.layers == 1);
  CHECK(sampler.seed == 99);
  sampler.given.insert("--layers");
  sampler.given.insert("--attention");
  sampler.layers = 3;
  sampler.attention = "softmax";
  CHECK(error_of([&] { sampler.apply_sample_metadata(m); }) ==
        "--sample: the checkpoint was trained with other settings: --attention softmax (the "
        "checkpoint's: laser), --layers 3 (the checkpoint's: 1); drop these flags, or sample from "
        "another --out");
  CHECK(examples::fnv1a64_hex("") == "fnv1a64:cbf29ce484222325");  // the FNV-1a offset basis
  CHECK(examples::fnv1a64_hex("a") == "fnv1a64:af63dc4c8601ec8c");
}

TEST_CASE("BERT masking: 15% of positions, 80/10/10, a function of (stream, row, position)") {
  const int64_t rows = 64, length = 256, mask_id = 30;
  std::vector<int64_t> ids(static_cast<size_t>(rows * length));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = 1 + static_cast<int64_t>(i * 7 % 29);
  const lg::Tensor windows = lg::from_vector(ids, {rows, length});
  const gpt::MaskingOptions options{.probability = 0.15, .mask_id = mask_id};
  const gpt::MaskedBatch m = gpt::mask_tokens(windows, options, gpt::train_mask_stream(5, 0));
  const auto in = m.inputs.to_vector<int64_t>(), tg = m.targets.to_vector<int64_t>();
  int64_t chosen = 0, masked = 0, replaced = 0, kept = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (tg[i] == gpt::kNotMasked) {
      CHECK(in[i] == ids[i]);  // a position not chosen is left alone
      continue;
    }
    ++chosen;
    CHECK(tg[i] == ids[i]);  // the target is the original character
    if (in[i] == mask_id) {
      ++masked;
    } else if (in[i] == ids[i]) {
      ++kept;  // includes a random draw of the same character (1 in 29 of the 10%)
    } else {
      ++replaced;
      CHECK((in[i] >= 1 && in[i] < mask_id));
    }
  }
  CHECK(chosen == m.chosen);
  // 16384 positions: the shares lie within ~4 standard deviations of p.
  const double n = static_cast<double>(rows * length), c = static_cast<double>(chosen);
  CHECK(std::abs(c / n - 0.15) < 4 * std::sqrt(0.15 * 0.85 / n));
  CHECK(std::abs(masked / c - 0.8) < 4 * std::sqrt(0.8 * 0.2 / c));
  CHECK(std::abs(replaced / c - 0.1 * 28 / 29) < 4 * std::sqrt(0.1 * 0.9 / c));
  CHECK(std::abs(kept / c - (0.1 + 0.1 / 29)) < 4 * std::sqrt(0.1 * 0.9 / c));

  // Deterministic; another step, seed or validation batch masks elsewhere.
  const gpt::MaskedBatch again = gpt::mask_tokens(windows, options, gpt::train_mask_stream(5, 0));
  CHECK(again.inputs.to_vector<int64_t>() == in);
  CHECK(again.targets.to_vector<int64_t>() == tg);
  CHECK(gpt::mask_tokens(windows, options, gpt::train_mask_stream(5, 1)).targets.to_vector<int64_t>() != tg);
  CHECK(gpt::mask_tokens(windows, options, gpt::train_mask_stream(6, 0)).targets.to_vector<int64_t>() != tg);
  CHECK(gpt::validation_mask_stream(0) != gpt::validation_mask_stream(1));
  // Rows first_row.. of a larger batch (one rank's part) are masked as in the whole batch.
  const gpt::MaskedBatch lower = gpt::mask_tokens(windows.slice(0, 32, 64), options,
                                                  gpt::train_mask_stream(5, 0), 32);
  const auto lower_tg = lower.targets.to_vector<int64_t>();
  CHECK(std::vector<int64_t>(tg.begin() + 32 * length, tg.end()) == lower_tg);

  // A batch in which no position was drawn still masks one (its loss is defined).
  const gpt::MaskedBatch tiny = gpt::mask_tokens(lg::from_vector(std::vector<int64_t>{3}, {1, 1}),
                                                 {.probability = 1e-9, .mask_id = mask_id}, 1);
  CHECK(tiny.chosen == 1);
  CHECK(tiny.inputs.item<int64_t>() == mask_id);
  CHECK(tiny.targets.item<int64_t>() == 3);
  // Bad arguments are named.
  CHECK(contains(error_of([&] { gpt::mask_tokens(windows.view({-1}), options, 1); }), "[B, T]"));
  CHECK(contains(error_of([&] { gpt::mask_tokens(windows, {.probability = 0.15, .mask_id = 1}, 1); }),
                 "mask_id 1"));
}

TEST_CASE("the MLM error counts wrong arg maxes on masked positions only") {
  // Two rows of three positions over four classes; positions 0 and 4 are masked.
  std::vector<double> logits(2 * 3 * 4, 0.0);
  logits[0 * 4 + 2] = 5;  // row 0 position 0 predicts 2 (target 2: right)
  logits[1 * 4 + 1] = 5;  // unmasked: predicts 1 against nothing
  logits[4 * 4 + 3] = 5;  // row 1 position 1 predicts 3 (target 0: wrong)
  const lg::Tensor l = lg::from_vector(logits, {2, 3, 4});
  const lg::Tensor targets = lg::from_vector(
      std::vector<int64_t>{2, gpt::kNotMasked, gpt::kNotMasked, gpt::kNotMasked, 0, gpt::kNotMasked},
      {2, 3});
  const gpt::MaskedCounts c = gpt::count_mlm_errors(l, targets);
  CHECK(c.chosen == 2);
  CHECK(c.wrong == 1);
  // The loss on the masked positions ignores the others: changing an unmasked logit changes nothing.
  const double loss = lg::cross_entropy(l, targets).item<double>();
  logits[1 * 4 + 0] = -40;
  CHECK(lg::cross_entropy(lg::from_vector(logits, {2, 3, 4}), targets).item<double>() == loss);
  // The unigram baseline: always predicting 2 gets position 0 right and position 4 wrong.
  const gpt::MaskedCounts u = gpt::count_constant_errors(targets, 2);
  CHECK(u.chosen == 2);
  CHECK(u.wrong == 1);
  CHECK(gpt::commonest_token({3, 1, 3, 2, 1, 3}) == 3);
  CHECK(gpt::commonest_token({2, 1, 1, 2}) == 1);  // a tie: the smaller id
  CHECK(contains(error_of([&] { gpt::count_mlm_errors(l, targets.view({-1})); }), "[B, T, V]"));
}

TEST_CASE("the objective and mask share round-trip through a checkpoint and --resume checks them") {
  gpt::TrainConfig saved;
  saved.objective = "mlm";
  saved.mask_prob = 0.2;
  std::map<std::string, std::string> m = saved.model_metadata();
  m["gpt.seed"] = "1337";
  CHECK(m.at("gpt.mask_prob") == "0.2");
  gpt::TrainConfig config;
  config.apply_resume_metadata(m);
  CHECK(config.objective == "mlm");
  CHECK(config.mask_prob == 0.2);
  config.given = {"--objective"};
  config.objective = "clm";
  CHECK(contains(error_of([&] { config.apply_resume_metadata(m); }),
                 "--objective clm (the checkpoint's: mlm)"));
  // A checkpoint from before --objective is a causal LM.
  m.erase("gpt.objective");
  m.erase("gpt.mask_prob");
  gpt::TrainConfig old;
  old.apply_resume_metadata(m);
  CHECK(old.objective == "clm");
  m["gpt.objective"] = "bert";
  CHECK(contains(error_of([&] { old.apply_resume_metadata(m); }), "neither clm nor mlm"));
}
