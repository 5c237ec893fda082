// lg-speech's data: digit texts, the speaker split, audio reading, writing
// and resampling, noise, the manifest, and a tiny corpus synthesised with
// espeak-ng (the tests that need it are skipped where it is not installed).
#include <doctest/doctest.h>
#include <sndfile.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "audio.h"
#include "common/files.h"
#include "common/run_lock.h"
#include "corpus.h"
#include "digits.h"
#include "noise.h"
#include "speakers.h"
#include "synth.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace speech;

namespace {

// The message of the examples::InputError that f throws; fails where it
// throws none or another exception.
std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const examples::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("not an InputError: " << e.what());
    return e.what();
  }
  FAIL_CHECK("no error");
  return "";
}

bool have_espeak() {
  if (!examples::find_on_path("espeak-ng").empty()) return true;
  MESSAGE("espeak-ng is not installed: skipped");
  return false;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::vector<float> sine(double hz, int rate, double seconds, double amplitude = 0.5) {
  std::vector<float> s(static_cast<size_t>(rate * seconds));
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<float>(amplitude *
                              std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate));
  return s;
}

int zero_crossings(const std::vector<float>& s) {
  int n = 0;
  for (size_t i = 1; i < s.size(); ++i) n += (s[i - 1] < 0) != (s[i] < 0);
  return n;
}

double rms(const std::vector<float>& s) {
  double p = 0;
  for (float x : s) p += static_cast<double>(x) * x;
  return std::sqrt(p / static_cast<double>(s.size()));
}

// Correlation of neighbouring samples: ~0 for white noise, near 1 for noise
// whose power sits at low frequencies.
double lag1_correlation(const std::vector<float>& s) {
  double num = 0, den = 0;
  for (size_t i = 1; i < s.size(); ++i) num += static_cast<double>(s[i - 1]) * s[i];
  for (float x : s) den += static_cast<double>(x) * x;
  return num / den;
}

// A corpus of 12 in a fresh folder, quiet.
CorpusOptions tiny(const fs::path& dir, uint64_t seed = 1, int threads = 2) {
  CorpusOptions o;
  o.dir = dir.string();
  o.utterances = 12;
  o.seed = seed;
  o.threads = threads;
  o.progress = false;
  return o;
}

std::map<std::string, std::string> folder_bytes(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "lock")
      files[fs::relative(e.path(), dir).string()] = examples::read_file(e.path());
  return files;
}

}  // namespace

TEST_CASE("digit texts: 1-7 digit words, both spellings of 0, fixed by the key") {
  std::set<size_t> lengths;
  std::set<std::string> words_seen;
  for (uint64_t key = 0; key < 2000; ++key) {
    const std::string text = random_digit_text(key);
    CHECK(text == random_digit_text(key));
    REQUIRE(!text.empty());
    CHECK(text.front() != ' ');
    CHECK(text.back() != ' ');
    CHECK(text.find("  ") == std::string::npos);
    std::istringstream in(text);
    std::string word;
    size_t n = 0;
    while (in >> word) {
      ++n;
      words_seen.insert(word);
      CHECK(std::count(digit_words().begin(), digit_words().end(), word) == 1);
    }
    lengths.insert(n);
    CHECK(digit_string(text).size() == n);
  }
  CHECK(lengths == std::set<size_t>{1, 2, 3, 4, 5, 6, 7});
  CHECK(words_seen.size() == 11);  // zero..nine and oh
  CHECK(random_digit_text(1) != random_digit_text(2));
}

TEST_CASE("digit_string reads transcripts and names a word that is not a digit") {
  CHECK(digit_string("three oh seven zero") == "3070");
  CHECK(digit_string("nine") == "9");
  CHECK(contains(error_of([] { digit_string("three ten"); }), "\"ten\""));
}

TEST_CASE("the speaker split: no variant in two splits, every voice and both sexes in each") {
  std::set<std::string> names;
  for (const Variant& v : variants()) CHECK(names.insert(v.name).second);
  CHECK(names.size() >= 28);
  std::map<Split, std::set<std::string>> split_variants;
  for (Split s : {Split::Train, Split::Validation, Split::Test}) {
    std::set<std::string> voices_here;
    std::set<Sex> sexes;
    for (const Speaker& sp : speakers(s)) {
      voices_here.insert(sp.voice);
      sexes.insert(sp.sex);
      split_variants[s].insert(sp.variant);
      CHECK(sp.espeak_voice() == (sp.voice == "en-gb" ? "gmw/en" : sp.voice) + "+" + sp.variant);
    }
    CHECK(voices_here.size() == voices().size());
    CHECK(sexes.size() == 2);
    CHECK(speakers(s).size() == voices().size() * split_variants[s].size());
  }
  for (const std::string& v : split_variants[Split::Test]) {
    CHECK(!split_variants[Split::Train].contains(v));
    CHECK(!split_variants[Split::Validation].contains(v));
  }
  for (const std::string& v : split_variants[Split::Validation])
    CHECK(!split_variants[Split::Train].contains(v));
  CHECK(split_variants[Split::Train].size() == 22);
  CHECK(split_variants[Split::Validation].size() == 4);
  CHECK(split_variants[Split::Test].size() == 4);
  CHECK(split_name(Split::Validation) == "validation");
  CHECK(parse_split("test") == Split::Test);
  CHECK(!parse_split("dev"));
}

TEST_CASE("every voice and every variant exists in espeak-ng (a variant changes the sound)") {
  if (!have_espeak()) return;
  TempDir dir;
  auto say = [&](const std::string& voice, const std::string& variant) {
    return speak("espeak-ng", {{voice, variant, Sex::Male}, 160, 50, "four"}, dir.file("x.wav"));
  };
  // espeak-ng ignores an unknown variant: each must sound unlike one.
  for (const std::string& voice : voices()) {
    const std::vector<float> plain = say(voice, "no-such-variant");
    for (const Variant& v : variants()) {
      INFO("voice " << voice << ", variant " << v.name);
      CHECK(say(voice, v.name) != plain);
    }
  }
  // Each voice is its own accent.
  std::set<std::vector<float>> accents;
  for (const std::string& voice : voices()) accents.insert(say(voice, "m1"));
  CHECK(accents.size() == voices().size());
  CHECK(dir.entries().empty());  // the temporary files are gone
}

TEST_CASE("speak reports a failing or silent espeak-ng with its command") {
  TempDir dir;
  const fs::path failing = dir / "failing";
  write_text(failing, "#!/bin/sh\necho 'Error: no such voice' >&2\nexit 3\n");
  fs::permissions(failing, fs::perms::owner_all);
  const SpeakRequest request{{"en-gb", "f1", Sex::Female}, 150, 40, "one two"};
  std::string e = error_of([&] { speak(failing.string(), request, dir.file("x.wav")); });
  CHECK(contains(e, failing.string() + " -v gmw/en+f1 -s 150 -p 40 -w"));
  CHECK(contains(e, "\"one two\""));
  CHECK(contains(e, "exit status 3: Error: no such voice"));

  const fs::path silent = dir / "silent";
  write_text(silent, "#!/bin/sh\nexit 0\n");
  fs::permissions(silent, fs::perms::owner_all);
  e = error_of([&] { speak(silent.string(), request, dir.file("x.wav")); });
  CHECK(contains(e, "wrote no usable audio"));

  CHECK(input_error_of([&] { speak("no-such-espeak-here", request, dir.file("x.wav")); }) ==
        "no-such-espeak-here not found: install it (apt-get install espeak-ng)");
  e = error_of([&] { speak(silent.string(), request, dir.file("no-such-folder/x.wav")); });
  CHECK(contains(e, "cannot start"));
  CHECK(input_error_of([] { check_espeak("/nonexistent/espeak-ng"); }) ==
        "/nonexistent/espeak-ng not found: install it (apt-get install espeak-ng)");
  CHECK(input_error_of([] { check_espeak("no-such-espeak-here"); }) ==
        "no-such-espeak-here not found: install it (apt-get install espeak-ng)");
}

TEST_CASE("read_audio: a missing file, a text file, a stereo file and an empty one are errors") {
  TempDir dir;
  std::string e = input_error_of([&] { read_audio(dir.file("missing.wav")); });
  CHECK(contains(e, dir.file("missing.wav")));

  write_text(dir / "text.wav", "this is not audio\n");
  e = input_error_of([&] { read_audio(dir.file("text.wav")); });
  CHECK(contains(e, dir.file("text.wav") + ": "));
  CHECK(e.size() > dir.file("text.wav").size() + 4);  // libsndfile's reason follows

  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 2;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(dir.file("stereo.wav").c_str(), SFM_WRITE, &info);
  REQUIRE(f != nullptr);
  const std::vector<float> frames(200, 0.25f);
  CHECK(sf_writef_float(f, frames.data(), 100) == 100);
  sf_close(f);
  CHECK(input_error_of([&] { read_audio(dir.file("stereo.wav")); }) ==
        dir.file("stereo.wav") + ": 2 channels; lg-speech needs mono audio");

  write_wav(dir.file("empty.wav"), {}, 16000);
  CHECK(input_error_of([&] { read_audio(dir.file("empty.wav")); }) ==
        dir.file("empty.wav") + ": no audio samples");

  fs::create_directories(dir / "folder.wav");
  CHECK(contains(input_error_of([&] { read_audio(dir.file("folder.wav")); }),
                 dir.file("folder.wav")));
}

TEST_CASE("resample keeps a 1 kHz tone at 1 kHz, and the length ratio is the rate ratio") {
  const std::vector<float> in = sine(1000, 22050, 1.0);
  const std::vector<float> out = resample(in, 22050, 16000);
  CHECK(std::abs(static_cast<double>(out.size()) - 16000.0) <= 16000 * 0.002);
  CHECK(std::abs(zero_crossings(out) - 2000) <= 4);  // 2 a period
  CHECK(rms(out) == doctest::Approx(rms(in)).epsilon(0.01));
  CHECK(resample(in, 22050, 22050) == in);
  CHECK(resample(in, 22050, 8000).size() == doctest::Approx(8000).epsilon(0.002));
  CHECK(contains(error_of([&] { resample(in, 0, 16000); }), "must be positive"));
}

TEST_CASE("write_wav and read_audio round trip, resampled on reading at another rate") {
  TempDir dir;
  std::vector<float> samples = sine(440, 16000, 0.5);
  samples[10] = 2.0f;  // clamped
  samples[11] = -2.0f;
  write_wav(dir.file("x.wav"), samples, 16000);
  CHECK(dir.entries() == std::vector<std::string>{"x.wav"});  // no temporary file left
  CHECK(fs::file_size(dir / "x.wav") == 44 + 2 * samples.size());
  const std::vector<float> back = read_audio(dir.file("x.wav"));
  REQUIRE(back.size() == samples.size());
  for (size_t i = 0; i < back.size(); ++i)
    CHECK(std::fabs(back[i] - std::clamp(samples[i], -1.0f, 1.0f)) <= 1.0 / 32767 + 1e-6);
  CHECK(read_audio(dir.file("x.wav"), 8000).size() == doctest::Approx(4000).epsilon(0.005));
  CHECK(contains(error_of([&] { write_wav(dir.file("y.wav"), samples, 0); }), "y.wav"));
}

TEST_CASE(
    "noise: unit RMS, white is uncorrelated, pink and brown are low-heavy, and the SNR is met") {
  const std::vector<float> white = make_noise(Noise::White, 16000, 7);
  const std::vector<float> pink = make_noise(Noise::Pink, 16000, 7);
  const std::vector<float> brown = make_noise(Noise::Brown, 16000, 7);
  for (const auto* n : {&white, &pink, &brown}) CHECK(rms(*n) == doctest::Approx(1).epsilon(1e-3));
  CHECK(std::abs(lag1_correlation(white)) < 0.05);
  CHECK(lag1_correlation(pink) > 0.3);
  CHECK(lag1_correlation(brown) > 0.9);
  CHECK(make_noise(Noise::Pink, 100, 7) == make_noise(Noise::Pink, 100, 7));
  CHECK(make_noise(Noise::Pink, 100, 7) != make_noise(Noise::Pink, 100, 8));
  CHECK(rms(make_noise(Noise::None, 100, 1)) == 0);

  const std::vector<float> speech = sine(300, 16000, 1.0, 0.1);
  std::vector<float> noisy = speech;
  add_noise(noisy, Noise::Pink, 10.0, 3);
  std::vector<float> diff(speech.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = noisy[i] - speech[i];
  CHECK(20 * std::log10(rms(speech) / rms(diff)) == doctest::Approx(10.0).epsilon(0.01));

  std::vector<float> loud = sine(300, 16000, 0.1, 0.9);
  add_noise(loud, Noise::White, 5.0, 3);
  float peak = 0;
  for (float s : loud) peak = std::max(peak, std::fabs(s));
  CHECK(peak == doctest::Approx(kMaxPeak));
  CHECK(noise_name(Noise::Brown) == "brown");
  CHECK(parse_noise("pink") == Noise::Pink);
}

TEST_CASE("the manifest round trips, relative to its folder") {
  TempDir dir;
  Manifest m{2, 42, {}};
  Utterance a;
  a.path = (dir / "audio/train/0.wav").string();
  a.transcript = "three oh seven";
  a.voice = "en-gb";
  a.variant = "f1";
  a.speed = 150;
  a.pitch = 40;
  a.noise = Noise::Pink;
  a.snr_db = 12.5;
  a.duration_s = 1.25;
  Utterance b = a;
  b.path = (dir / "audio/test/1.wav").string();
  b.split = Split::Test;
  b.noise = Noise::None;
  b.snr_db = kCleanSnrDb;
  m.items = {a, b};
  const std::string text = manifest_text(m, dir.path.string());
  CHECK(text.substr(0, text.find('\n')) ==
        R"({"corpus":"lg-speech digits","version":1,"utterances":2,"seed":42})");
  CHECK(contains(text, R"("path":"audio/train/0.wav")"));
  CHECK(contains(text, R"("snr_db":null)"));
  write_text(dir / "manifest.jsonl", text);
  const Manifest back = load_manifest(dir.file("manifest.jsonl"));
  CHECK(back.utterances == 2);
  CHECK(back.seed == 42);
  REQUIRE(back.items.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const Utterance& u = back.items[i];
    const Utterance& want = m.items[i];
    CHECK(u.path == want.path);
    CHECK(u.transcript == want.transcript);
    CHECK(u.voice == want.voice);
    CHECK(u.variant == want.variant);
    CHECK(u.split == want.split);
    CHECK(u.speed == want.speed);
    CHECK(u.pitch == want.pitch);
    CHECK(u.noise == want.noise);
    CHECK(u.snr_db == want.snr_db);
    CHECK(u.duration_s == want.duration_s);
  }
  CHECK(read_manifest(dir.file("manifest.jsonl")).size() == 2);
}

TEST_CASE("the manifest reader is strict and names the line") {
  TempDir dir;
  const std::string header = R"({"corpus":"lg-speech digits","version":1,"utterances":2,"seed":1})";
  const std::string line =
      R"({"path":"audio/train/0.wav","transcript":"one","voice":"en-gb","variant":"f1",)"
      R"("split":"train","speed":150,"pitch":40,"noise":"white","snr_db":10.5,"duration_s":1.0})";
  auto error_for = [&](const std::string& text) {
    write_text(dir / "m.jsonl", text);
    return input_error_of([&] { read_manifest(dir.file("m.jsonl")); });
  };
  auto with = [&](const std::string& from, const std::string& to) {
    std::string l = line;
    l.replace(l.find(from), from.size(), to);
    return l;
  };
  const std::string m = dir.file("m.jsonl");
  write_text(dir / "m.jsonl", header + "\n" + line + "\n" + line + "\n");
  CHECK(read_manifest(m).size() == 2);
  CHECK(contains(error_for(header + "\n" + line + "\n{not json\n"), m + ":3: not JSON"));
  CHECK(error_for(header + "\n" + with(R"("pitch":40,)", "") + "\n" + line + "\n") ==
        m + ":2: missing \"pitch\"");
  CHECK(error_for(header + "\n" + line + "\n" + with("150", "\"fast\"") + "\n") ==
        m + ":3: \"speed\" is not an integer");
  CHECK(error_for(header + "\n" + line + "\n" + with(R"("pitch":40)", R"("pitch":40,"x":1)") +
                  "\n") == m + ":3: unknown field \"x\"");
  CHECK(error_for(header + "\n" + line + "\n" + with("train\"", "dev\"") + "\n") ==
        m + ":3: \"split\" \"dev\" is not train, validation or test");
  CHECK(error_for(header + "\n" + line + "\n" + with("audio/", "../") + "\n") ==
        m + ":3: \"path\" leaves the manifest's folder");
  CHECK(error_for(header + "\n" + line + "\n" + with("audio/", "/") + "\n") ==
        m + ":3: \"path\" is not a relative path");
  CHECK(error_for(header + "\n" + line + "\n" + with(R"("white")", R"("none")") + "\n") ==
        m + ":3: \"snr_db\" is not null for an utterance without noise");
  CHECK(error_for(header + "\n" + line + "\n") == m + ": 1 utterances, the header says 2");
  CHECK(error_for(header + "\n" + line + "\n" + line + "\n" + line + "\n") ==
        m + ":4: more utterances than the header's 2");
  CHECK(contains(error_for(header + "\n\n" + line + "\n"), m + ":2: not JSON: "));
  CHECK(contains(error_for(R"({"corpus":"other","version":1,"utterances":0,"seed":1})"),
                 m + ":1: not an lg-speech manifest"));
  CHECK(error_for(line + "\n") == m + ":1: missing \"corpus\"");
  CHECK(error_for(R"({"corpus":"lg-speech digits","version":2,"utterances":0,"seed":1})") ==
        m + ":1: version 2, this lg-speech reads version 1");
  CHECK(error_for("") == m + ": empty, no header line");
  CHECK(contains(input_error_of([&] { read_manifest(dir.file("none.jsonl")); }),
                 dir.file("none.jsonl")));
}

TEST_CASE(
    "the plan of an utterance: fixed by (seed, index), split by index, speaker of its split") {
  std::map<Split, int> count;
  int clean = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    const UtterancePlan p = plan_utterance(5, i);
    const UtterancePlan again = plan_utterance(5, i);
    CHECK(p.transcript == again.transcript);
    CHECK(p.speaker.espeak_voice() == again.speaker.espeak_voice());
    CHECK(p.split == (i % 10 < 8 ? Split::Train : i % 10 == 8 ? Split::Validation : Split::Test));
    ++count[p.split];
    bool found = false;
    for (const Speaker& s : speakers(p.split))
      found |= s.espeak_voice() == p.speaker.espeak_voice();
    CHECK(found);
    CHECK((p.speed >= 130 && p.speed <= 200));
    CHECK((p.pitch >= 30 && p.pitch <= 70));
    if (p.noise == Noise::None) {
      ++clean;
      CHECK(p.snr_db == kCleanSnrDb);
    } else {
      CHECK((p.snr_db >= 5 && p.snr_db <= 30));
    }
  }
  CHECK(count[Split::Train] == 800);
  CHECK(count[Split::Test] == 100);
  CHECK((clean > 100 && clean < 200));
  CHECK(plan_utterance(5, 3).transcript != plan_utterance(6, 3).transcript);
}

TEST_CASE(
    "prepare_corpus synthesises 12 utterances, then reuses them, and another seed re-synthesises") {
  if (!have_espeak()) return;
  TempDir dir;
  const std::vector<Utterance> first = prepare_corpus(tiny(dir.path));
  REQUIRE(first.size() == 12);
  CHECK(fs::is_regular_file(dir / "manifest.jsonl"));
  CHECK(!fs::exists(dir / "tmp"));
  for (size_t i = 0; i < first.size(); ++i) {
    const Utterance& u = first[i];
    INFO("utterance " << i << ": " << u.path);
    const UtterancePlan p = plan_utterance(1, static_cast<int64_t>(i));
    CHECK(u.split == p.split);
    CHECK(u.transcript == p.transcript);
    CHECK(u.path == (dir / "audio" / split_name(u.split) / (std::to_string(i) + ".wav")).string());
    CHECK((u.duration_s > 0.3 && u.duration_s < 6.0));
    bool in_split = false;
    for (const Variant& v : variants()) in_split |= v.name == u.variant && v.split == u.split;
    CHECK(in_split);
    const std::vector<float> audio = read_audio(u.path);
    CHECK(static_cast<double>(audio.size()) == doctest::Approx(u.duration_s * kSampleRate));
  }
  CHECK(select(first, Split::Validation).size() == 1);
  CHECK(select(first, Split::Test).size() == 1);
  CHECK(select(first, Split::Train).size() == 10);

  // Reuse: mark every file as old, and nothing may be rewritten.
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(24);
  for (const Utterance& u : first) fs::last_write_time(u.path, old);
  const std::string manifest = examples::read_file(dir / "manifest.jsonl");
  const std::vector<Utterance> second = prepare_corpus(tiny(dir.path, 1, 1));
  REQUIRE(second.size() == 12);
  for (size_t i = 0; i < second.size(); ++i) {
    CHECK(second[i].path == first[i].path);
    CHECK(second[i].duration_s == first[i].duration_s);
    CHECK(fs::last_write_time(second[i].path) == old);
  }

  // A missing audio file: synthesised afresh.
  fs::remove(first[5].path);
  prepare_corpus(tiny(dir.path));
  CHECK(fs::is_regular_file(first[5].path));
  CHECK(fs::last_write_time(first[0].path) != old);
  CHECK(examples::read_file(dir / "manifest.jsonl") == manifest);

  // Another seed: other transcripts, a new manifest.
  const std::vector<Utterance> third = prepare_corpus(tiny(dir.path, 2));
  REQUIRE(third.size() == 12);
  CHECK(third[0].transcript == plan_utterance(2, 0).transcript);
  CHECK(contains(examples::read_file(dir / "manifest.jsonl"), R"("seed":2})"));
  CHECK(load_manifest((dir / "manifest.jsonl").string()).seed == 2);
}

TEST_CASE("prepare_corpus: the same seed with 1 or 2 threads gives the same bytes") {
  if (!have_espeak()) return;
  TempDir one, two;
  prepare_corpus(tiny(one.path, 9, 1));
  prepare_corpus(tiny(two.path, 9, 2));
  const auto a = folder_bytes(one.path), b = folder_bytes(two.path);
  CHECK(a.size() == 13);  // 12 wav files and the manifest
  CHECK(a == b);
}

TEST_CASE(
    "prepare_corpus refuses bad options and a missing or failing espeak-ng") {
  TempDir dir;
  const fs::path failing = dir / "failing";
  write_text(failing, "#!/bin/sh\necho 'Error: broken' >&2\nexit 3\n");
  fs::permissions(failing, fs::perms::owner_all);
  CorpusOptions broken = tiny(dir / "b");
  broken.espeak = failing.string();
  const std::string e = error_of([&] { prepare_corpus(broken); });
  CHECK(contains(e, failing.string() + " -v "));
  CHECK(contains(e, "exit status 3: Error: broken"));
  CHECK(!fs::exists(dir / "b" / "manifest.jsonl"));

  CorpusOptions o = tiny(dir / "c");
  o.espeak = "/nonexistent/espeak-ng";
  CHECK(input_error_of([&] { prepare_corpus(o); }) ==
        "/nonexistent/espeak-ng not found: install it (apt-get install espeak-ng)");
  CHECK(!fs::exists(dir / "c" / "manifest.jsonl"));
  o = tiny(dir / "c");
  o.utterances = 0;
  CHECK(contains(input_error_of([&] { prepare_corpus(o); }), "0 utterances"));
  o = tiny(dir / "c");
  o.dir.clear();
  CHECK(contains(input_error_of([&] { prepare_corpus(o); }), "no corpus folder"));
}

TEST_CASE("prepare_corpus waits for another run holding the corpus folder, then goes on") {
  TempDir dir;
  std::optional<examples::RunLock> held(std::in_place, dir / "c", "lg-speech");
  const auto start = std::chrono::steady_clock::now();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.reset();
  });
  std::vector<Utterance> got;
  CHECK_NOTHROW(got = prepare_corpus(tiny(dir / "c")));
  release.join();
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
  CHECK(got.size() == 12);
}
