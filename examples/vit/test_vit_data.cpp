// lg-vit's data: the IDX reader (raw and gzipped, and every kind of broken
// file), the MNIST directory, the validation split, normalisation,
// augmentation and batches. Tiny files written here; no Debian data set needed.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <set>

#include "common/data_loader.h"
#include "common/files.h"
#include "idx.h"
#include "image_data.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// An IDX file's bytes: magic 0 0 type ndim, big-endian dims, then data.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                      uint8_t type = 0x08) {
  std::string s = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  s.append(data.begin(), data.end());
  return s;
}

void write_raw(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::string gz_bytes(const std::string& bytes) {
  TempDir dir;
  write_gz(dir / "x.gz", bytes);
  return examples::read_file(dir / "x.gz");
}

std::vector<uint8_t> counting(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

// The error of reading an IDX file with these bytes (raw); it must start with the path.
std::string idx_error(const std::string& bytes, uint64_t max_bytes = vit::kMaxIdxBytes) {
  TempDir dir;
  const fs::path path = dir / "broken-idx";
  write_raw(path, bytes);
  const std::string e = error_of([&] { vit::read_idx(path, max_bytes); });
  CHECK(starts_with(e, path.string() + ": "));
  return e;
}

// Image i of a synthetic set: every pixel says which image it is (i % 251) and
// where it is, so images are told apart and transformations can be checked.
uint8_t synthetic_pixel(int64_t i, int64_t y, int64_t x) {
  return static_cast<uint8_t>((i * 31 + y * 5 + x) % 251);
}

std::string images_idx(int64_t n, int64_t h, int64_t w, int64_t first = 0) {
  std::vector<uint8_t> px;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) px.push_back(synthetic_pixel(first + i, y, x));
  return idx_bytes({static_cast<uint32_t>(n), static_cast<uint32_t>(h), static_cast<uint32_t>(w)},
                   px);
}

std::string labels_idx(int64_t n, int64_t first = 0) {
  std::vector<uint8_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>((first + i) % 10));
  return idx_bytes({static_cast<uint32_t>(n)}, labels);
}

// A complete MNIST-like directory: n_train + n_test images of h x w, the
// training files gzipped, the test files plain.
void write_mnist_dir(const fs::path& dir, int64_t n_train, int64_t n_test, int64_t h = 6,
                     int64_t w = 5) {
  fs::create_directories(dir);
  write_gz(dir / "train-images-idx3-ubyte.gz", images_idx(n_train, h, w));
  write_gz(dir / "train-labels-idx1-ubyte.gz", labels_idx(n_train));
  write_raw(dir / "t10k-images-idx3-ubyte", images_idx(n_test, h, w, n_train));
  write_raw(dir / "t10k-labels-idx1-ubyte", labels_idx(n_test, n_train));
}

vit::ImageSet synthetic_set(int64_t n, int64_t h, int64_t w) {
  vit::ImageSet s;
  s.height = h;
  s.width = w;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) s.pixels.push_back(synthetic_pixel(i, y, x));
    s.labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return s;
}

examples::BatchRequest request(std::vector<int64_t> indices, int64_t epoch, uint64_t seed = 1) {
  examples::BatchRequest r;
  r.sample_indices = std::move(indices);
  r.epoch = epoch;
  r.seed = seed;
  return r;
}

}  // namespace

TEST_CASE("IDX files round-trip, raw and gzipped, detected by content not name") {
  TempDir dir;
  const auto data = counting(2 * 3 * 4 * 2);
  const std::string bytes = idx_bytes({2, 3, 4, 2}, data);
  write_raw(dir / "raw", bytes);
  write_gz(dir / "zipped", bytes);     // gzip without .gz in the name
  write_raw(dir / "plain.gz", bytes);  // .gz in the name, raw inside
  for (const char* name : {"raw", "zipped", "plain.gz"}) {
    const vit::IdxArray a = vit::read_idx(dir / name);
    CHECK(a.dims == std::vector<int64_t>{2, 3, 4, 2});
    CHECK(a.data == data);
  }
  write_gz(dir / "labels.gz", idx_bytes({5}, {0, 1, 2, 3, 4}));
  CHECK(vit::read_idx(dir / "labels.gz").data == std::vector<uint8_t>{0, 1, 2, 3, 4});
  // Two gzip members one after the other are one stream (as gzip(1) reads them).
  const std::string whole = idx_bytes({4}, {9, 8, 7, 6});
  write_raw(dir / "members.gz", gz_bytes(whole.substr(0, 6)) + gz_bytes(whole.substr(6)));
  CHECK(vit::read_idx(dir / "members.gz").data == std::vector<uint8_t>{9, 8, 7, 6});
}

TEST_CASE("a broken IDX header is an error naming the file and the problem") {
  CHECK(contains(idx_error(std::string("\x01\x02\x08\x01\0\0\0\x01\x05", 9)),
                 "not an IDX file (its first bytes are 0x01 0x02"));
  CHECK(contains(idx_error(idx_bytes({1}, {0, 0, 0, 0}, 0x0D)),
                 "IDX element type 0x0D (float32) is not supported: only 0x08 (unsigned byte)"));
  CHECK(contains(idx_error(idx_bytes({1}, {0}, 0x0C)), "0x0C (int32)"));
  CHECK(contains(idx_error(idx_bytes({}, {})), "gives 0 dimensions (1 to 4 expected)"));
  CHECK(contains(idx_error(idx_bytes({1, 1, 1, 1, 1}, {0})), "gives 5 dimensions"));
  CHECK(contains(idx_error(idx_bytes({3, 0, 2}, {})), "dimension 1 of the IDX header is 0"));
  CHECK(contains(idx_error(idx_bytes({2, 3}, {}).substr(0, 9)),
                 "truncated IDX header: expected 12 bytes, found 9"));
  CHECK(contains(idx_error(std::string("\0\0", 2)), "too short for an IDX file (2 bytes"));
  CHECK(contains(idx_error(""), "too short for an IDX file (0 bytes"));
  // Dimensions whose product is above the limit are refused before any allocation.
  CHECK(contains(idx_error(idx_bytes({600, 28, 28}, {}), 100000),
                 "dimensions [600,28,28]... make more than 100000 bytes"));
  CHECK(contains(idx_error(idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {})),
                 "make more than 2147483648 bytes"));
}

TEST_CASE("a payload of the wrong size is an error saying what was expected and found") {
  CHECK(contains(idx_error(idx_bytes({3, 4}, counting(11))),
                 "truncated: the IDX header's dimensions [3,4] need 12 bytes of data, found 11"));
  CHECK(contains(idx_error(idx_bytes({3, 4}, counting(15))),
                 "3 trailing bytes after the 12 bytes of data that the IDX header's dimensions "
                 "[3,4] announce"));
}

TEST_CASE("broken gzip is an error naming the file") {
  TempDir dir;
  const std::string gz = gz_bytes(idx_bytes({50}, counting(50)));
  const auto error = [&](const std::string& name, const std::string& bytes) {
    write_raw(dir / name, bytes);
    const std::string e = error_of([&] { vit::read_idx(dir / name); });
    CHECK(starts_with(e, (dir / name).string() + ": "));
    return e;
  };
  CHECK(contains(error("truncated.gz", gz.substr(0, gz.size() / 2)), "truncated gzip data"));
  CHECK(contains(error("no-trailer.gz", gz.substr(0, gz.size() - 4)), "truncated gzip data"));
  CHECK(
      contains(error("garbage.gz", "\x1f\x8b" + std::string(40, 'x')), "corrupt gzip data (zlib:"));
  std::string flipped = gz;
  flipped[flipped.size() - 6] = static_cast<char>(flipped[flipped.size() - 6] ^ 0x55);  // the CRC
  CHECK(contains(error("bad-crc.gz", flipped), "corrupt gzip data (zlib:"));
  CHECK(contains(error("trailing.gz", gz + "junk"),
                 "4 trailing bytes after the end of the gzip data"));
  CHECK(contains(error("magic-only.gz", "\x1f\x8b"), "truncated gzip data"));
  // The trailing-bytes check of the IDX payload also applies inside gzip.
  CHECK(contains(error("long.gz", gz_bytes(idx_bytes({2}, {1, 2, 3}))), "1 trailing bytes"));
}

TEST_CASE("a gzip file that decompresses past the limit stops there") {
  TempDir dir;
  write_gz(dir / "bomb.gz", idx_bytes({1000000}, std::vector<uint8_t>(1000000, 0)));
  CHECK(fs::file_size(dir / "bomb.gz") < 10000);
  const std::string e = error_of([&] { vit::read_idx(dir / "bomb.gz", 1000); });
  CHECK(starts_with(e, (dir / "bomb.gz").string() + ": "));
  CHECK(contains(e, "decompresses to more than 1020 bytes"));
  CHECK(vit::read_idx(dir / "bomb.gz").data.size() == 1000000);
}

TEST_CASE("an IDX path that is a directory, a FIFO or missing is refused") {
  TempDir dir;
  const std::string e = error_of([&] { vit::read_idx(dir.path); });
  CHECK(starts_with(e, dir.path.string() + ": "));
  CHECK(contains(e, "not a regular file (it is a directory)"));
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  const std::string f = error_of([&] { vit::read_idx(dir / "fifo"); });  // must not block
  CHECK(starts_with(f, (dir / "fifo").string() + ": "));
  CHECK(contains(f, "a FIFO"));
  const std::string m = error_of([&] { vit::read_idx(dir / "absent"); });
  CHECK(starts_with(m, (dir / "absent").string() + ": "));
}

TEST_CASE("an MNIST directory loads, plain and gzipped files mixed") {
  TempDir dir;
  write_mnist_dir(dir.path, 30, 12);
  const vit::MnistFiles f = vit::load_mnist_dir(dir.path);
  CHECK(f.train.size() == 30);
  CHECK(f.test.size() == 12);
  CHECK(f.train.height == 6);
  CHECK(f.train.width == 5);
  CHECK(f.test.height == 6);
  CHECK(f.train.image(4)[7] == synthetic_pixel(4, 1, 2));
  CHECK(f.test.image(2)[0] == synthetic_pixel(32, 0, 0));
  CHECK(f.train.labels[13] == 3);
  CHECK(f.test.labels[0] == 0);
}

TEST_CASE("missing MNIST files are listed with the names looked for") {
  TempDir dir;
  write_mnist_dir(dir.path, 10, 5);
  fs::remove(dir / "t10k-labels-idx1-ubyte");
  fs::remove(dir / "train-images-idx3-ubyte.gz");
  const std::string e = error_of([&] { vit::load_mnist_dir(dir.path); });
  CHECK(starts_with(e, dir.path.string() + ": missing train-images-idx3-ubyte[.gz], "
                                           "t10k-labels-idx1-ubyte[.gz]"));
  CHECK(contains(e, "dataset-fashion-mnist"));
  const std::string n = error_of([&] { vit::load_mnist_dir(dir / "nowhere"); });
  CHECK(starts_with(n, (dir / "nowhere").string() + ": not a directory (looked for "
                                                    "train-images-idx3-ubyte[.gz], "));
}

TEST_CASE("inconsistent MNIST files are errors naming the file") {
  TempDir dir;
  const auto error_after = [&](const std::function<void()>& spoil) {
    write_mnist_dir(dir.path, 10, 5);
    spoil();
    return error_of([&] { vit::load_mnist_dir(dir.path); });
  };
  const std::string test_labels = (dir / "t10k-labels-idx1-ubyte").string();
  CHECK(error_after([&] {
          write_raw(test_labels, idx_bytes({5}, {0, 1, 10, 3, 4}));
        }) == test_labels + ": label 2 is 10, outside 0..9");
  CHECK(error_after([&] { write_raw(test_labels, labels_idx(4)); }) ==
        test_labels + ": 4 labels for the 5 images of " +
            (dir / "t10k-images-idx3-ubyte").string());
  CHECK(error_after([&] {
          write_raw(test_labels, idx_bytes({5, 1}, counting(5)));
        }) == test_labels + ": labels must have 1 dimension [N], this file has 2");
  const std::string test_images = (dir / "t10k-images-idx3-ubyte").string();
  CHECK(error_after([&] {
          write_raw(test_images, idx_bytes({5, 30}, counting(150)));
        }) == test_images + ": images must have 3 dimensions [N,H,W], this file has 2");
  CHECK(starts_with(error_after([&] { write_raw(test_images, images_idx(5, 5, 6)); }),
                    test_images + ": images of 5x6 pixels, the training images ("));
  const std::string train_images = (dir / "train-images-idx3-ubyte.gz").string();
  CHECK(starts_with(error_after([&] { write_raw(train_images, "\x1f\x8b garbage"); }),
                    train_images + ": corrupt gzip data"));
}

TEST_CASE("class names: Fashion-MNIST's unless the folder is MNIST's") {
  const auto fashion = vit::class_names("/usr/share/datasets/fashion-mnist");
  REQUIRE(fashion.size() == 10);
  CHECK(fashion[0] == "T-shirt/top");
  CHECK(fashion[9] == "Ankle boot");
  CHECK(vit::class_names("/data/images") == fashion);
  CHECK(vit::class_names("/data/Fashion_MNIST/") == fashion);
  const auto digits = vit::class_names("/data/MNIST/");
  CHECK(digits[0] == "0");
  CHECK(digits[9] == "9");
  CHECK(vit::class_names("mnist-digits") == digits);
}

TEST_CASE("the validation split: its size, disjoint from training, the same every time") {
  const vit::ImageSet all = synthetic_set(200, 2, 3);
  const vit::Split s = vit::split_validation(all, 37);
  CHECK(s.val.size() == 37);
  CHECK(s.train.size() == 163);
  CHECK(s.val.height == 2);
  CHECK(s.train.width == 3);
  // Each image is told apart by its first pixel (i * 31 % 251, distinct for i < 251), and
  // keeps its label.
  const auto original = [&](uint8_t id) {
    for (int64_t j = 0; j < all.size(); ++j)
      if (all.image(j)[0] == id) return j;
    return int64_t{-1};
  };
  std::set<uint8_t> train_ids, val_ids;
  for (const vit::ImageSet* part : {&s.train, &s.val})
    for (int64_t i = 0; i < part->size(); ++i) {
      const int64_t j = original(part->image(i)[0]);
      REQUIRE(j >= 0);
      CHECK(std::equal(part->image(i).begin(), part->image(i).end(), all.image(j).begin()));
      CHECK(part->labels[static_cast<size_t>(i)] == all.labels[static_cast<size_t>(j)]);
      (part == &s.train ? train_ids : val_ids).insert(part->image(i)[0]);
    }
  CHECK(train_ids.size() == 163);
  CHECK(val_ids.size() == 37);
  std::vector<uint8_t> both;
  std::set_intersection(train_ids.begin(), train_ids.end(), val_ids.begin(), val_ids.end(),
                        std::back_inserter(both));
  CHECK(both.empty());
  // Not simply the last images: a permutation, and the same one on every call.
  CHECK(s.val.image(0)[0] != all.image(163)[0]);
  CHECK(vit::split_validation(all, 37).val.pixels == s.val.pixels);
  CHECK(vit::split_validation(all, 0).train.pixels == all.pixels);
  CHECK(contains(error_of([&] { vit::split_validation(all, 200); }), "validation size 200"));
  CHECK(contains(error_of([&] { vit::split_validation(all, -1); }), "validation size -1"));
}

TEST_CASE("load_image_data: split, normalisation from the training split, class names") {
  TempDir dir;
  write_mnist_dir(dir / "mnist", 40, 8);
  const vit::ImageData d = vit::load_image_data(dir / "mnist", 10);
  CHECK(d.train.size() == 30);
  CHECK(d.val.size() == 10);
  CHECK(d.test.size() == 8);
  CHECK(d.class_names[3] == "3");
  const vit::Normalization n = vit::pixel_statistics(d.train);
  CHECK(d.norm.mean == n.mean);
  CHECK(d.norm.std == n.std);
}

TEST_CASE("normalisation: the set's mean and standard deviation map to 0 and 1") {
  vit::ImageSet s;
  s.height = 1;
  s.width = 2;
  s.pixels = {0, 255, 0, 255};
  s.labels = {0, 1};
  const vit::Normalization n = vit::pixel_statistics(s);
  CHECK(n.mean == doctest::Approx(0.5));
  CHECK(n.std == doctest::Approx(0.5));
  CHECK(n(0) == doctest::Approx(-1.0));
  CHECK(n(255) == doctest::Approx(1.0));
  s.pixels = {7, 7, 7, 7};  // no spread: std 1, not a division by zero
  CHECK(vit::pixel_statistics(s).std == 1.0f);
}

TEST_CASE("a batch without augmentation: normalised pixels, labels, shapes and dtypes") {
  const vit::ImageSet s = synthetic_set(10, 3, 4);
  const vit::Normalization norm{0.25f, 0.5f};
  const vit::ImageBatch b =
      vit::make_image_batch(s, norm, request({7, 2, 7}, 0), {.enabled = false});
  CHECK(b.images.shape() == lg::Shape{3, 1, 3, 4});
  CHECK(b.images.dtype() == lg::kFloat32);
  CHECK(b.labels.shape() == lg::Shape{3});
  CHECK(b.labels.dtype() == lg::kInt64);
  CHECK(b.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 2, 7});
  const auto px = b.images.to_vector<float>();
  CHECK(px[12 + 1 * 4 + 3] == doctest::Approx((synthetic_pixel(2, 1, 3) / 255.0 - 0.25) / 0.5));
  CHECK(px[0] == doctest::Approx((synthetic_pixel(7, 0, 0) / 255.0 - 0.25) / 0.5));
  CHECK(contains(error_of([&] { vit::make_image_batch(s, norm, request({10}, 0), {}); }),
                 "sample 10 is outside the 10 images"));
}

TEST_CASE("augmentation: a flip mirrors, a shift moves and fills with zeros, shapes stay") {
  const vit::ImageSet s = synthetic_set(1, 3, 4);
  std::vector<uint8_t> out(12);
  vit::apply_augmentation(s.image(0), 3, 4, {.dy = 0, .dx = 0, .flip = true}, out);
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x)
      CHECK(out[static_cast<size_t>(y * 4 + x)] == synthetic_pixel(0, y, 3 - x));
  vit::apply_augmentation(s.image(0), 3, 4, {.dy = 1, .dx = -2, .flip = false}, out);
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x) {
      const bool inside = y + 1 < 3 && x - 2 >= 0;
      CHECK(out[static_cast<size_t>(y * 4 + x)] == (inside ? synthetic_pixel(0, y + 1, x - 2) : 0));
    }
  vit::apply_augmentation(s.image(0), 3, 4, {}, out);
  CHECK(std::equal(out.begin(), out.end(), s.image(0).begin()));
}

TEST_CASE("augmentation draws: fixed by (seed, epoch, sample), covering every shift and flip") {
  std::set<int64_t> dys, dxs;
  int flips = 0, same_next_epoch = 0;
  for (int64_t sample = 0; sample < 400; ++sample) {
    const vit::AugmentDraw d = vit::draw_augmentation(5, 3, sample, 2);
    const vit::AugmentDraw again = vit::draw_augmentation(5, 3, sample, 2);
    CHECK((d.dy == again.dy && d.dx == again.dx && d.flip == again.flip));
    CHECK(std::abs(d.dy) <= 2);
    CHECK(std::abs(d.dx) <= 2);
    dys.insert(d.dy);
    dxs.insert(d.dx);
    flips += d.flip;
    const vit::AugmentDraw next = vit::draw_augmentation(5, 4, sample, 2);
    same_next_epoch += next.dy == d.dy && next.dx == d.dx && next.flip == d.flip;
  }
  CHECK(dys.size() == 5);
  CHECK(dxs.size() == 5);
  CHECK(flips > 150);
  CHECK(flips < 250);
  CHECK(same_next_epoch < 40);  // 1 in 50 by chance
  const vit::AugmentDraw none = vit::draw_augmentation(5, 3, 0, 0);
  CHECK(none.dy == 0);
  CHECK(none.dx == 0);
  CHECK(contains(error_of([] { vit::draw_augmentation(1, 0, 0, -1); }), "pad -1 is negative"));
}

TEST_CASE("augmented batches: the same request gives the same pixels, another epoch others") {
  const vit::ImageSet s = synthetic_set(16, 6, 6);
  const vit::Normalization norm{0.3f, 0.4f};
  const std::vector<int64_t> samples = {3, 1, 4, 15, 9, 2, 6, 5};
  const auto pixels = [&](int64_t epoch, uint64_t seed, bool augment) {
    return vit::make_image_batch(s, norm, request(samples, epoch, seed),
                                 {.enabled = augment, .pad = 2})
        .images.to_vector<float>();
  };
  CHECK(pixels(2, 9, true) == pixels(2, 9, true));
  CHECK(pixels(2, 9, true) != pixels(3, 9, true));
  CHECK(pixels(2, 9, true) != pixels(2, 10, true));
  CHECK(pixels(2, 9, true) != pixels(2, 9, false));
  CHECK(pixels(2, 9, false) == pixels(3, 9, false));
  // Each augmented image is its draw applied to the original.
  const auto batch = pixels(2, 9, true);
  for (size_t b = 0; b < samples.size(); ++b) {
    std::vector<uint8_t> expect(36);
    vit::apply_augmentation(s.image(samples[b]), 6, 6, vit::draw_augmentation(9, 2, samples[b], 2),
                            expect);
    for (size_t p = 0; p < 36; ++p) CHECK(batch[b * 36 + p] == norm(expect[p]));
  }
}

TEST_CASE("the loader's batches of images equal the serially built ones") {
  const vit::ImageSet s = synthetic_set(21, 4, 4);
  const vit::Normalization norm = vit::pixel_statistics(s);
  examples::LoaderOptions o;
  o.num_samples = s.size();
  o.batch_size = 4;
  o.seed = 42;
  o.start_step = 3;
  o.stop_step = 13;
  const vit::Augmentation aug;
  examples::DataLoader<vit::ImageBatch> loader(
      o, [&](const examples::BatchRequest& r) { return vit::make_image_batch(s, norm, r, aug); });
  for (int64_t step = 3; step < 13; ++step) {
    const vit::ImageBatch got = loader.next();
    const vit::ImageBatch want =
        vit::make_image_batch(s, norm, examples::batch_request(o, step), aug);
    CHECK(got.images.to_vector<float>() == want.images.to_vector<float>());
    CHECK(got.labels.to_vector<int64_t>() == want.labels.to_vector<int64_t>());
  }
}
