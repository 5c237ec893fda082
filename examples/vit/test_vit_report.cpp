// lg-vit's report and image reading: the confusion matrix and its text and
// CSV, the pictures (when gnuplot is installed), PGM and PNG files and their
// corruptions, and resizing.
#include <doctest/doctest.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/files.h"
#include "image_file.h"
#include "report.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

// A fresh empty folder for one test, inside one that is removed when the tests end.
fs::path scratch(const std::string& name) {
  static const struct Root {
    fs::path path =
        fs::temp_directory_path() / ("lg-vit-report-test-" + std::to_string(::getpid()));
    ~Root() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } root;
  fs::path dir = root.path / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// 3 classes, 8 images:        predicted 0  1  2
//                             true 0:   2  1  0
//                             true 1:   0  3  0
//                             true 2:   1  0  1
const std::vector<int64_t> kTrue = {0, 0, 0, 1, 1, 1, 2, 2};
const std::vector<int64_t> kPredicted = {0, 0, 1, 1, 1, 1, 0, 2};
const std::vector<std::string> kNames = {"T-shirt/top", "Trouser", "Ankle boot"};

}  // namespace

TEST_CASE("confusion matrix counts, accuracy and per-class accuracy of a small example") {
  const vit::ConfusionMatrix m(kTrue, kPredicted, 3);
  const int64_t want[3][3] = {{2, 1, 0}, {0, 3, 0}, {1, 0, 1}};
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t p = 0; p < 3; ++p) CHECK(m.count(t, p) == want[t][p]);
  CHECK(m.total() == 8);
  CHECK(m.correct() == 6);
  CHECK(m.accuracy() == doctest::Approx(0.75));
  CHECK(*m.class_accuracy(0) == doctest::Approx(2.0 / 3.0));
  CHECK(*m.class_accuracy(1) == doctest::Approx(1.0));
  CHECK(*m.class_accuracy(2) == doctest::Approx(0.5));
  CHECK(m.class_total(1) == 3);
  // A class the test set lacks has no accuracy.
  const vit::ConfusionMatrix absent(std::vector<int64_t>{0, 0}, std::vector<int64_t>{0, 1}, 3);
  CHECK_FALSE(absent.class_accuracy(2).has_value());
}

TEST_CASE("confusion matrix refuses mismatched sizes, labels out of range and no images") {
  const std::vector<int64_t> two = {0, 1}, three = {0, 1, 2};
  CHECK(contains(error_of([&] { vit::ConfusionMatrix(two, three, 3); }),
                 "2 true labels but 3 predictions"));
  CHECK(contains(error_of([&] { vit::ConfusionMatrix(three, three, 2); }),
                 "true label 2 of image 2 is outside [0, 2)"));
  CHECK(contains(error_of([&] {
                   vit::ConfusionMatrix(two, std::vector<int64_t>{0, -1}, 2);
                 }),
                 "prediction -1 of image 1 is outside [0, 2)"));
  CHECK(contains(error_of([&] { vit::ConfusionMatrix({}, {}, 2); }), "no test images"));
  CHECK(contains(error_of([&] { vit::ConfusionMatrix(two, two, 0); }), "0 classes"));
  const vit::ConfusionMatrix m(kTrue, kPredicted, 3);
  CHECK(contains(error_of([&] {
                   vit::format_report(m, {"a", "b"});
                 }),
                 "2 class names for 3 classes"));
  CHECK(contains(error_of([&] { (void)m.count(3, 0); }), "no cell (3, 0)"));
}

TEST_CASE("the printed report has the accuracy, the class table and the aligned matrix") {
  const vit::ConfusionMatrix m(kTrue, kPredicted, 3);
  const std::string text = vit::format_report(m, kNames);
  CHECK(contains(text, "test accuracy: 75.00% (6 of 8 images)\n"));
  CHECK(contains(text, "class        accuracy  correct / images\n"));
  CHECK(contains(text, "T-shirt/top    66.67%  2 / 3\n"));
  CHECK(contains(text, "Trouser       100.00%  3 / 3\n"));
  CHECK(contains(text, "Ankle boot     50.00%  1 / 2\n"));
  CHECK(contains(text, "rows: true class, columns: predicted class"));
  CHECK(contains(text,
                 "              0 1 2\n"
                 "0 T-shirt/top 2 1 0\n"
                 "1 Trouser     0 3 0\n"
                 "2 Ankle boot  1 0 1\n"));
}

TEST_CASE("confusion_matrix.csv has a header of class names and one row per true class") {
  const vit::ConfusionMatrix m(kTrue, kPredicted, 3);
  CHECK(vit::confusion_csv(m, kNames) ==
        "true \\ predicted,T-shirt/top,Trouser,Ankle boot\n"
        "T-shirt/top,2,1,0\n"
        "Trouser,0,3,0\n"
        "Ankle boot,1,0,1\n");
  // Names with a comma or a quote are CSV-quoted.
  CHECK(vit::confusion_csv(m, {"a,b", "say \"hi\"", "c"}) ==
        "true \\ predicted,\"a,b\",\"say \"\"hi\"\"\",c\n"
        "\"a,b\",2,1,0\n"
        "\"say \"\"hi\"\"\",0,3,0\n"
        "c,1,0,1\n");
}

namespace {

// 8 images of 4 rows x 5 columns for kTrue / kPredicted: image i is all i * 30.
std::vector<uint8_t> tiny_images() {
  std::vector<uint8_t> images;
  for (int i = 0; i < 8; ++i) images.insert(images.end(), 20, static_cast<uint8_t>(i * 30));
  return images;
}

// A PNG's width and height from its IHDR (0, 0 when it is not a PNG).
std::pair<uint32_t, uint32_t> png_size(const fs::path& path) {
  const std::string bytes = examples::read_file(path);
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {0, 0};
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) v = v << 8 | static_cast<unsigned char>(bytes[at + k]);
    return v;
  };
  return {be32(16), be32(20)};
}

// Only the final files: no temp file or work folder left behind.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs f with $PATH set to path, restoring it afterwards.
void with_path(const std::string& path, const std::function<void()>& f) {
  const char* old = std::getenv("PATH");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("PATH", path.c_str(), 1);
  try {
    f();
  } catch (...) {
    ::setenv("PATH", saved.c_str(), 1);
    throw;
  }
  ::setenv("PATH", saved.c_str(), 1);
}

}  // namespace

TEST_CASE("without gnuplot the CSV is written and one note names the skipped pictures") {
  const fs::path out = scratch("no-gnuplot");
  const std::vector<uint8_t> images = tiny_images();
  vit::ReportFiles files;
  with_path((out / "no-bin").string(), [&] {
    files = vit::write_report_files(out, {kTrue, kPredicted, images, 4, 5}, kNames);
  });
  REQUIRE(files.notes.size() == 1);
  CHECK(contains(files.notes[0], "confusion_matrix.png and misclassified.png"));
  CHECK(contains(files.notes[0], "apt-get install gnuplot-nox"));
  CHECK(files.written == std::vector<fs::path>{out / "confusion_matrix.csv"});
  CHECK(examples::read_file(out / "confusion_matrix.csv") ==
        vit::confusion_csv(vit::ConfusionMatrix(kTrue, kPredicted, 3), kNames));
  CHECK(names_in(out) == std::vector<std::string>{"confusion_matrix.csv"});
}

TEST_CASE("write_report_files refuses image bytes that do not match the images") {
  const fs::path out = scratch("bad-images");
  const std::vector<uint8_t> images(7);
  CHECK(contains(error_of([&] {
                   vit::write_report_files(out, {kTrue, kPredicted, images, 4, 5}, kNames);
                 }),
                 "7 image bytes for 8 images of 4x5"));
  CHECK(
      contains(error_of([&] {
                 vit::write_report_files(out, {kTrue, kPredicted, tiny_images(), 4, 5}, {"a", "b"});
               }),
               "true label 2 of image 6 is outside [0, 2)"));
}

TEST_CASE("with gnuplot the heat map and the misclassified grid are PNGs, no temp files left") {
  if (examples::find_on_path("gnuplot").empty()) {
    MESSAGE("gnuplot is not installed (apt-get install gnuplot-nox): PNG checks skipped");
    return;
  }
  // Quotes, a '<' and a '|' in the folder and the names: gnuplot must see them as text.
  const fs::path out = scratch("it's <a> |folder|");
  fs::create_directory(out / "report-plots.tmp.123");  // a crashed run's work folder
  const std::vector<uint8_t> images = tiny_images();
  const std::vector<std::string> names = {"T-shirt/top", "Men's 'boot'", "a\\b \"c\" $x @y"};
  const vit::ReportFiles files =
      vit::write_report_files(out, {kTrue, kPredicted, images, 4, 5}, names);
  CHECK(files.notes.empty());
  for (const auto& note : files.notes) MESSAGE(note);
  CHECK(files.written.size() == 3);
  CHECK(names_in(out) == std::vector<std::string>{"confusion_matrix.csv", "confusion_matrix.png",
                                                  "misclassified.png"});
  const auto [mw, mh] = png_size(out / "confusion_matrix.png");
  CHECK(mw >= 400);
  CHECK(mh >= 400);
  const auto [gw, gh] = png_size(out / "misclassified.png");
  CHECK(gw >= 300);  // 3 misclassified: one row of 3
  CHECK(gh >= 150);
  CHECK(fs::file_size(out / "misclassified.png") > 1000);

  // All right: no grid, and the older one is removed.
  const vit::ReportFiles right = vit::write_report_files(out, {kTrue, kTrue, images, 4, 5}, names);
  REQUIRE(right.notes.size() == 1);
  CHECK(contains(right.notes[0], "every test image is classified correctly"));
  CHECK(names_in(out) == std::vector<std::string>{"confusion_matrix.csv", "confusion_matrix.png"});
}

TEST_CASE("a gnuplot that fails is a note, and leaves no half PNG") {
  const fs::path out = scratch("failing-gnuplot");
  const fs::path bin = out / "bin";
  fs::create_directory(bin);
  write_bytes(bin / "gnuplot", "#!/bin/sh\necho 'broken gnuplot' >&2\nexit 3\n");
  fs::permissions(bin / "gnuplot", fs::perms::owner_all);
  const std::vector<uint8_t> images = tiny_images();
  vit::ReportFiles files;
  with_path(bin.string(), [&] {
    files = vit::write_report_files(out, {kTrue, kPredicted, images, 4, 5}, kNames);
  });
  REQUIRE(files.notes.size() == 2);
  CHECK(contains(files.notes[0], "skipped confusion_matrix.png"));
  CHECK(contains(files.notes[0], "exited with status 3: broken gnuplot"));
  CHECK(contains(files.notes[1], "skipped misclassified.png"));
  CHECK(names_in(out) == std::vector<std::string>{"bin", "confusion_matrix.csv"});
}

namespace {

// Writes a PNG with libpng: rows of width * channels samples of bit_depth bits
// (16-bit samples big-endian), of color_type (palette: gray levels as the palette).
// No object with a destructor may live here: libpng's errors longjmp.
bool write_png_file(const char* path, uint32_t width, uint32_t height, int bit_depth,
                    int color_type, const unsigned char* data, size_t row_bytes, bool interlace,
                    const png_color* palette, int palette_size) {
  FILE* f = std::fopen(path, "wb");
  if (f == nullptr) return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, bit_depth, color_type,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (palette != nullptr) png_set_PLTE(png, info, palette, palette_size);
  png_write_info(png, info);
  if (interlace) png_set_interlace_handling(png);
  for (int pass = 0; pass < (interlace ? 7 : 1); ++pass)
    for (uint32_t y = 0; y < height; ++y) png_write_row(png, data + y * row_bytes);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return std::fclose(f) == 0;
}

// 3 x 2 gray ramp: what every PNG below holds in its own colour type.
const std::vector<uint8_t> kRamp = {0, 50, 100, 150, 200, 255};

std::string read_error(const fs::path& path) {
  return error_of([&] { vit::read_gray_image(path, "--predict"); });
}

}  // namespace

TEST_CASE("PGM P5 and P2 are read, with comments, and maxval below 255 is scaled") {
  const fs::path dir = scratch("pgm");
  write_bytes(dir / "a.pgm", std::string("P5\n# a comment\n3 2\n255\n") +
                                 std::string(reinterpret_cast<const char*>(kRamp.data()), 6));
  vit::GrayImage image = vit::read_gray_image(dir / "a.pgm");
  CHECK(image.width == 3);
  CHECK(image.height == 2);
  CHECK(image.pixels == kRamp);

  write_bytes(dir / "b.pgm", "P2 #c\n3#c\n 2 15\n0 1 2\n\t 3  14\n15\n");
  image = vit::read_gray_image(dir / "b.pgm");
  CHECK(image.width == 3);
  CHECK(image.height == 2);
  CHECK(image.pixels == std::vector<uint8_t>{0, 17, 34, 51, 238, 255});
}

TEST_CASE("PNGs of every colour type read back as the same 8-bit gray") {
  const fs::path dir = scratch("png");
  struct Case {
    std::string name;
    int depth, type;
    std::vector<unsigned char> data;
    bool interlace = false;
  };
  std::vector<Case> cases;
  cases.push_back({"gray8", 8, PNG_COLOR_TYPE_GRAY, kRamp});
  cases.push_back({"gray8-interlaced", 8, PNG_COLOR_TYPE_GRAY, kRamp, true});
  Case gray16{"gray16", 16, PNG_COLOR_TYPE_GRAY, {}};
  Case rgb{"rgb", 8, PNG_COLOR_TYPE_RGB, {}};
  Case rgba{"rgba", 8, PNG_COLOR_TYPE_RGB_ALPHA, {}};
  Case ga{"gray-alpha", 8, PNG_COLOR_TYPE_GRAY_ALPHA, {}};
  Case palette{"palette", 8, PNG_COLOR_TYPE_PALETTE, {0, 1, 2, 3, 4, 5}};
  for (uint8_t v : kRamp) {
    gray16.data.insert(gray16.data.end(), {v, v});  // v * 257: scales back to v
    rgb.data.insert(rgb.data.end(), {v, v, v});
    rgba.data.insert(rgba.data.end(), {v, v, v, 7});
    ga.data.insert(ga.data.end(), {v, 99});
  }
  cases.insert(cases.end(), {gray16, rgb, rgba, ga, palette});
  png_color colours[6];
  for (int i = 0; i < 6; ++i) colours[i] = {kRamp[size_t(i)], kRamp[size_t(i)], kRamp[size_t(i)]};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const fs::path path = dir / (c.name + ".png");
    const bool is_palette = c.type == PNG_COLOR_TYPE_PALETTE;
    REQUIRE(write_png_file(path.c_str(), 3, 2, c.depth, c.type, c.data.data(), c.data.size() / 2,
                           c.interlace, is_palette ? colours : nullptr, is_palette ? 6 : 0));
    const vit::GrayImage image = vit::read_gray_image(path);
    CHECK(image.width == 3);
    CHECK(image.height == 2);
    CHECK(image.pixels == kRamp);
  }
}

TEST_CASE("corrupt, truncated or absurd image files are one-line errors naming the file") {
  const fs::path dir = scratch("corrupt");
  const std::string ramp(reinterpret_cast<const char*>(kRamp.data()), 6);
  struct Case {
    std::string name, bytes, want;
  };
  const std::vector<Case> cases = {
      {"empty", "", "not a PGM or PNG file"},
      {"text", "hello world", "not a PGM or PNG file"},
      {"ppm", "P6\n3 2\n255\n" + ramp + ramp + ramp, "P6 Netpbm file (PBM or PPM)"},
      {"maxval0", "P5 3 2 0\n" + ramp, "PGM maxval 0 (must be 1 to 255)"},
      {"maxval256", "P5 3 2 256\n" + ramp, "PGM maxval 256 (must be 1 to 255)"},
      {"maxval65535", "P5 3 2 65535\n" + ramp + ramp, "PGM maxval 65535"},
      {"wide", "P5 16385 1 255\n" + std::string(16385, 'x'), "image size 16385x1"},
      {"huge", "P5 99999999999999 1 255\n", "image size 1000000000x1"},
      {"zero", "P5 0 2 255\n", "image size 0x2"},
      {"truncated-p5", "P5 3 2 255\n" + ramp.substr(0, 5), "truncated PGM: 5 bytes for 6 pixels"},
      {"truncated-header", "P5 3 2", "truncated PGM: no maxval"},
      {"no-space", "P5 3 2 255", "truncated PGM: no whitespace after maxval"},
      {"magic-glued", "P53 2 255\n" + ramp, "PGM width not separated by whitespace"},
      {"trailing", "P5 3 2 255\n" + ramp + "x", "1 bytes after the PGM image"},
      {"p2-big", "P2 3 2 9\n1 2 3 4 5 10\n", "PGM pixel 5 is 10, above maxval 9"},
      {"p2-word", "P2 3 2 9\n1 2 3 4 five 6\n", "PGM pixel 4 is not a number"},
      {"p2-short", "P2 3 2 9\n1 2 3 4 5  \n", "truncated PGM: 5 of 6 pixels"},
      {"p2-extra", "P2 3 2 9\n1 2 3 4 5 6 7\n", "bytes after the PGM image"},
      {"p2-glued", "P2 3 2 9\n1 2 3 4 5 6# c\n", "bytes after the PGM image"},
      {"png-signature-only", "\x89PNG\r\n\x1a\n", "corrupt PNG: the file is truncated"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const fs::path path = dir / (c.name + ".img");
    write_bytes(path, c.bytes);
    const std::string error = read_error(path);
    CHECK(contains(error, c.want));
    CHECK(contains(error, "--predict " + path.string() + ": "));
    CHECK(error.find('\n') == std::string::npos);
  }

  // A good PNG cut short, or with a flipped byte in its compressed pixels (a CRC error).
  const fs::path good = dir / "good.png";
  std::vector<unsigned char> big(64 * 64);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<unsigned char>(i * 7);
  REQUIRE(write_png_file(good.c_str(), 64, 64, 8, PNG_COLOR_TYPE_GRAY, big.data(), 64, false,
                         nullptr, 0));
  const std::string bytes = examples::read_file(good);
  write_bytes(dir / "cut.png", bytes.substr(0, bytes.size() / 2));
  CHECK(contains(read_error(dir / "cut.png"), "corrupt PNG: the file is truncated"));
  write_bytes(dir / "no-end.png", bytes.substr(0, bytes.size() - 12));  // IEND missing
  CHECK(contains(read_error(dir / "no-end.png"), "corrupt PNG"));
  std::string flipped = bytes;
  const size_t idat = flipped.find("IDAT");
  REQUIRE(idat != std::string::npos);
  flipped[idat + 20] = static_cast<char>(flipped[idat + 20] ^ 0x55);
  write_bytes(dir / "flipped.png", flipped);
  CHECK(contains(read_error(dir / "flipped.png"), "corrupt PNG"));
  const std::vector<unsigned char> row(16385, 9);
  REQUIRE(write_png_file((dir / "wide.png").c_str(), 16385, 1, 8, PNG_COLOR_TYPE_GRAY, row.data(),
                         row.size(), false, nullptr, 0));
  CHECK(
      contains(read_error(dir / "wide.png"), "image size 16385x1 (each side must be 1 to 16384)"));
}

TEST_CASE("missing files, folders and FIFOs are refused without reading") {
  const fs::path dir = scratch("kinds");
  CHECK(contains(read_error(dir / "none.pgm"), "No such file"));
  CHECK(contains(read_error(dir), "not a regular file (it is a directory)"));
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  CHECK(contains(read_error(dir / "fifo"), "not a regular file (it is a FIFO)"));
}

TEST_CASE("resizing: a constant image stays constant, 2x2 blocks average, same size copies") {
  vit::GrayImage flat{100, 60, std::vector<uint8_t>(6000, 173)};
  for (auto [w, h] : {std::pair<int64_t, int64_t>{28, 28}, {7, 3}, {300, 211}, {1, 1}}) {
    const vit::GrayImage r = vit::resize_area(flat, w, h);
    CHECK(r.width == w);
    CHECK(r.height == h);
    CHECK(r.pixels == std::vector<uint8_t>(static_cast<size_t>(w * h), 173));
  }
  const vit::GrayImage four{4, 2, {0, 10, 100, 200, 20, 30, 0, 0}};
  CHECK(vit::resize_area(four, 2, 1).pixels == std::vector<uint8_t>{15, 75});
  const vit::GrayImage two{2, 1, {10, 90}};
  CHECK(vit::resize_area(two, 4, 2).pixels == std::vector<uint8_t>{10, 10, 90, 90, 10, 10, 90, 90});
  // 3 -> 2: the middle pixel is split between the two new ones.
  const vit::GrayImage three{3, 1, {0, 90, 180}};
  CHECK(vit::resize_area(three, 2, 1).pixels == std::vector<uint8_t>{30, 150});
  CHECK(vit::resize_area(four, 4, 2).pixels == four.pixels);
  CHECK(contains(error_of([&] { vit::resize_area(four, 0, 2); }), "to 0x2"));
}

TEST_CASE("load_model_input resizes to the model's size and inverts on request") {
  const fs::path dir = scratch("model-input");
  write_bytes(dir / "flat.pgm", "P5 56 56 255\n" + std::string(56 * 56, '\x28'));
  const vit::GrayImage plain = vit::load_model_input(dir / "flat.pgm", 28, 28, false);
  CHECK(plain.width == 28);
  CHECK(plain.height == 28);
  CHECK(plain.pixels == std::vector<uint8_t>(28 * 28, 0x28));
  const vit::GrayImage inverted = vit::load_model_input(dir / "flat.pgm", 28, 28, true);
  CHECK(inverted.pixels == std::vector<uint8_t>(28 * 28, 255 - 0x28));
}
