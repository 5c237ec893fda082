// Writes a tiny learnable MNIST-format data set for lg-vit's tests:
//   make_test_images DIR N_TRAIN N_TEST
// 24x24 images of 10 classes, class k a bright horizontal band at rows
// 2k+2..2k+3 over noise (left-right symmetric); training files raw, test
// files gzipped (both formats are read), and DIR/class3.pgm, an image of
// class 3 for --predict.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kSide = 24;

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::vector<uint8_t> image_of(int label, std::mt19937& rng) {
  std::uniform_int_distribution<int> noise(0, 60), bright(150, 255);
  std::vector<uint8_t> pixels(kSide * kSide);
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(noise(rng));
  const int level = bright(rng);
  for (int row = 2 * label + 2; row < 2 * label + 4; ++row)
    for (int col = 3; col < kSide - 3; ++col)
      pixels[row * kSide + col] = static_cast<uint8_t>(level);
  return pixels;
}

void write(const std::filesystem::path& path, const std::string& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) <= 0 ||
        gzclose(f) != Z_OK)
      throw std::runtime_error("cannot write " + path.string());
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_set(const std::filesystem::path& dir, const std::string& prefix, int n, bool gzip,
               std::mt19937& rng) {
  std::string images = big_endian(0x803) + big_endian(static_cast<uint32_t>(n)) +
                       big_endian(kSide) + big_endian(kSide);
  std::string labels = big_endian(0x801) + big_endian(static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    const int label = i % 10;
    const std::vector<uint8_t> pixels = image_of(label, rng);
    images.append(pixels.begin(), pixels.end());
    labels.push_back(static_cast<char>(label));
  }
  const std::string gz = gzip ? ".gz" : "";
  write(dir / (prefix + "-images-idx3-ubyte" + gz), images, gzip);
  write(dir / (prefix + "-labels-idx1-ubyte" + gz), labels, gzip);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_test_images DIR N_TRAIN N_TEST\n");
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    std::mt19937 rng(7);
    write_set(dir, "train", std::stoi(argv[2]), false, rng);
    write_set(dir, "t10k", std::stoi(argv[3]), true, rng);
    const std::vector<uint8_t> three = image_of(3, rng);
    write(dir / "class3.pgm",
          "P5\n" + std::to_string(kSide) + " " + std::to_string(kSide) + "\n255\n" +
              std::string(three.begin(), three.end()),
          false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_test_images: %s\n", e.what());
    return 1;
  }
  return 0;
}
