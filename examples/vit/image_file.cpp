#include "image_file.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "common/files.h"
#include "common/run_lock.h"

namespace vit {
namespace {

// No image file worth predicting on is this big (a 16384 x 16384 P2 file stays under it).
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

[[noreturn]] void fail(const std::string& who, const std::filesystem::path& path,
                       const std::string& what) {
  throw examples::InputError(who + " " + path.string() + ": " + what);
}

void check_size(const std::string& who, const std::filesystem::path& path, int64_t width,
                int64_t height) {
  if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide)
    fail(who, path,
         "image size " + std::to_string(width) + "x" + std::to_string(height) +
             " (each side must be 1 to " + std::to_string(kMaxImageSide) + ")");
}

// ---- PGM: "P5" or "P2", width, height, maxval (whitespace and # comments
// between them), one whitespace byte, then the pixels.

class PgmParser {
 public:
  PgmParser(std::string_view bytes, const std::string& who, const std::filesystem::path& path)
      : bytes_(bytes), who_(who), path_(path) {}

  GrayImage parse() {
    const bool binary = bytes_[1] == '5';
    pos_ = 2;
    GrayImage image;
    image.width = header_number("width");
    image.height = header_number("height");
    check_size(who_, path_, image.width, image.height);
    const int64_t maxval = header_number("maxval");
    if (maxval < 1 || maxval > 255)
      fail(who_, path_, "PGM maxval " + std::to_string(maxval) + " (must be 1 to 255)");
    if (pos_ >= bytes_.size() || !is_space(bytes_[pos_]))
      fail(who_, path_, "truncated PGM: no whitespace after maxval");
    ++pos_;
    const auto count = static_cast<size_t>(image.width * image.height);
    // Before allocating: a binary pixel takes a byte, a text one a digit and a space.
    const size_t need = binary ? count : 2 * count - 1;
    if (bytes_.size() - pos_ < need)
      fail(who_, path_,
           "truncated PGM: " + std::to_string(bytes_.size() - pos_) + " bytes for " +
               std::to_string(count) + " pixels");
    image.pixels.resize(count);
    for (size_t i = 0; i < count; ++i) {
      const int64_t v = binary ? binary_value(i, count) : text_value(i, count);
      if (v > maxval)
        fail(who_, path_,
             "PGM pixel " + std::to_string(i) + " is " + std::to_string(v) + ", above maxval " +
                 std::to_string(maxval));
      image.pixels[i] = static_cast<uint8_t>((v * 255 + maxval / 2) / maxval);
    }
    if (!binary) skip_space(false);
    if (pos_ != bytes_.size())
      fail(
          who_, path_,
          std::to_string(bytes_.size() - pos_) + " bytes after the PGM image (one image per file)");
    return image;
  }

 private:
  static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  }

  void skip_space(bool comments) {
    while (pos_ < bytes_.size()) {
      if (is_space(bytes_[pos_])) {
        ++pos_;
      } else if (comments && bytes_[pos_] == '#') {
        while (pos_ < bytes_.size() && bytes_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  // The decimal number at pos_ (a digit there). Values above 10^9 stop
  // growing: every check rejects them anyway.
  int64_t digits() {
    int64_t value = 0;
    while (pos_ < bytes_.size() && bytes_[pos_] >= '0' && bytes_[pos_] <= '9') {
      value = std::min<int64_t>(value * 10 + (bytes_[pos_] - '0'), 1'000'000'000);
      ++pos_;
    }
    return value;
  }

  int64_t header_number(const std::string& what) {
    if (pos_ < bytes_.size() && !is_space(bytes_[pos_]) && bytes_[pos_] != '#')
      fail(who_, path_, "PGM " + what + " not separated by whitespace");
    skip_space(true);
    if (pos_ >= bytes_.size()) fail(who_, path_, "truncated PGM: no " + what);
    if (bytes_[pos_] < '0' || bytes_[pos_] > '9')
      fail(who_, path_, "PGM " + what + " is not a number");
    return digits();
  }

  int64_t binary_value(size_t i, size_t count) {
    if (pos_ >= bytes_.size())
      fail(who_, path_,
           "truncated PGM: " + std::to_string(i) + " of " + std::to_string(count) + " pixels");
    return static_cast<unsigned char>(bytes_[pos_++]);
  }

  int64_t text_value(size_t i, size_t count) {
    skip_space(false);
    if (pos_ >= bytes_.size())
      fail(who_, path_,
           "truncated PGM: " + std::to_string(i) + " of " + std::to_string(count) + " pixels");
    if (!is_space(bytes_[pos_ - 1]))
      fail(who_, path_, "PGM pixel " + std::to_string(i) + " not separated by whitespace");
    if (bytes_[pos_] < '0' || bytes_[pos_] > '9')
      fail(who_, path_, "PGM pixel " + std::to_string(i) + " is not a number");
    return digits();
  }

  std::string_view bytes_;
  const std::string& who_;
  const std::filesystem::path& path_;
  size_t pos_ = 0;
};

// ---- PNG through libpng. libpng reports errors by longjmp, so the two
// functions that call it hold no object with a destructor (a longjmp over one
// is undefined), and the pixels live in the caller.

struct PngSource {
  const unsigned char* data;
  size_t size;
  size_t pos;
  char error[200];
};

void png_read_bytes(png_structp png, png_bytep out, size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->size - source->pos < length) png_error(png, "the file is truncated");
  std::memcpy(out, source->data + source->pos, length);
  source->pos += length;
}

void png_on_error(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->error, sizeof source->error, "%s", message);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

// Reads the header and sets up the conversion to 8-bit gray; false with
// source.error set on failure.
bool png_start(png_structp png, png_infop info, PngSource& source, png_uint_32& width,
               png_uint_32& height) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, &source, png_read_bytes);
  png_read_info(png, info);
  width = png_get_image_width(png, info);
  height = png_get_image_height(png, info);
  const int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color == PNG_COLOR_TYPE_RGB || color == PNG_COLOR_TYPE_RGB_ALPHA ||
      color == PNG_COLOR_TYPE_PALETTE)
    png_set_rgb_to_gray_fixed(png, 1, -1, -1);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 1 || png_get_bit_depth(png, info) != 8)
    png_error(png, "cannot convert this PNG to 8-bit gray");
  return true;
}

// Reads the rows (already allocated) and the end of the file.
bool png_finish(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

GrayImage read_png(std::string_view bytes, const std::string& who,
                   const std::filesystem::path& path) {
  PngSource source{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, {}};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_on_error, png_on_warning);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    fail(who, path, "libpng cannot start (out of memory)");
  }
  struct Destroy {
    png_structp& png;
    png_infop& info;
    ~Destroy() { png_destroy_read_struct(&png, &info, nullptr); }
  } destroy{png, info};

  png_uint_32 width = 0, height = 0;
  if (!png_start(png, info, source, width, height))
    fail(who, path, std::string("corrupt PNG: ") + source.error);
  check_size(who, path, width, height);
  GrayImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(image.width * image.height));
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.pixels.data() + size_t{y} * width;
  if (!png_finish(png, info, rows.data()))
    fail(who, path, std::string("corrupt PNG: ") + source.error);
  return image;
}

}  // namespace

GrayImage read_gray_image(const std::filesystem::path& path, const std::string& who) {
  if (std::string problem = examples::input_file_problem(who, path); !problem.empty())
    throw examples::InputError(problem);
  std::error_code ec;
  if (const uintmax_t size = std::filesystem::file_size(path, ec); !ec && size > kMaxImageFileBytes)
    fail(who, path,
         std::to_string(size) + " bytes, more than an image file may have (" +
             std::to_string(kMaxImageFileBytes) + ")");
  std::string bytes;
  try {
    bytes = examples::read_input_file(who, path, kMaxImageFileBytes, "the image file limit");
  } catch (const std::runtime_error& e) {
    throw examples::InputError(e.what());
  }
  constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
  if (std::string_view(bytes).substr(0, 8) == kPngSignature) return read_png(bytes, who, path);
  if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '2'))
    return PgmParser(bytes, who, path).parse();
  if (bytes.size() >= 2 && bytes[0] == 'P' && std::strchr("1346", bytes[1]) != nullptr)
    fail(who, path,
         std::string("a P") + bytes[1] +
             " Netpbm file (PBM or PPM): only PGM (P5, P2) and PNG are read");
  fail(who, path,
       "not a PGM or PNG file (it starts with neither \"P5\", \"P2\" nor the PNG signature)");
}

namespace {

// The weights of the old pixels (along one axis, n_in of them) under each of
// n_out new ones: for new pixel j, its span [j, j + 1) * n_in / n_out in old
// pixels, as (first old pixel, weights), the weights summing to 1.
struct Span {
  int64_t first;
  std::vector<double> weights;
};

std::vector<Span> area_spans(int64_t n_in, int64_t n_out) {
  std::vector<Span> spans(static_cast<size_t>(n_out));
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  for (int64_t j = 0; j < n_out; ++j) {
    const double lo = static_cast<double>(j) * scale, hi = static_cast<double>(j + 1) * scale;
    Span& span = spans[static_cast<size_t>(j)];
    span.first = static_cast<int64_t>(std::floor(lo));
    const int64_t last = std::min(n_in - 1, static_cast<int64_t>(std::ceil(hi)) - 1);
    for (int64_t i = span.first; i <= last; ++i) {
      const double overlap =
          std::min(hi, static_cast<double>(i + 1)) - std::max(lo, static_cast<double>(i));
      span.weights.push_back(std::max(0.0, overlap) / scale);
    }
  }
  return spans;
}

}  // namespace

GrayImage resize_area(const GrayImage& image, int64_t width, int64_t height) {
  if (width < 1 || height < 1 || image.width < 1 || image.height < 1 ||
      static_cast<int64_t>(image.pixels.size()) != image.width * image.height)
    throw std::invalid_argument("resize_area: from " + std::to_string(image.width) + "x" +
                                std::to_string(image.height) + " to " + std::to_string(width) +
                                "x" + std::to_string(height));
  if (width == image.width && height == image.height) return image;
  const std::vector<Span> xs = area_spans(image.width, width),
                          ys = area_spans(image.height, height);
  // Rows first (height x new width), then columns.
  std::vector<double> rows(static_cast<size_t>(image.height * width));
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const Span& span = xs[static_cast<size_t>(x)];
      double sum = 0;
      for (size_t k = 0; k < span.weights.size(); ++k)
        sum +=
            span.weights[k] * image.pixels[static_cast<size_t>(y * image.width + span.first) + k];
      rows[static_cast<size_t>(y * width + x)] = sum;
    }
  GrayImage resized{width, height, std::vector<uint8_t>(static_cast<size_t>(width * height))};
  for (int64_t y = 0; y < height; ++y) {
    const Span& span = ys[static_cast<size_t>(y)];
    for (int64_t x = 0; x < width; ++x) {
      double sum = 0;
      for (size_t k = 0; k < span.weights.size(); ++k)
        sum += span.weights[k] *
               rows[static_cast<size_t>((span.first + static_cast<int64_t>(k)) * width + x)];
      resized.pixels[static_cast<size_t>(y * width + x)] =
          static_cast<uint8_t>(std::clamp(std::lround(sum), 0L, 255L));
    }
  }
  return resized;
}

GrayImage load_model_input(const std::filesystem::path& path, int64_t width, int64_t height,
                           bool invert, const std::string& who) {
  GrayImage image = resize_area(read_gray_image(path, who), width, height);
  if (invert)
    for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(255 - v);
  return image;
}

}  // namespace vit
