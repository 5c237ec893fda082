// One grayscale image from a file, for lg-vit --predict: PGM (P5 binary or P2
// text, maxval at most 255) or PNG (any colour type, through libpng), resized
// to the model's input size.
//
// The model learnt Fashion-MNIST: a light object on a black background,
// centred and filling a square. A photo of a dark object on a light background
// must be inverted (invert = true); a picture that is not square is stretched
// to it, so crop it to a square around the object first.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vit {

// Row-major pixels, top row first, 0 black .. 255 white.
struct GrayImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;
};

// Neither side of an image read may be longer than this.
inline constexpr int64_t kMaxImageSide = 16384;

// Reads path as PGM or PNG (told apart by their first bytes, not the name).
// PNG colour is converted to gray with libpng's default weights (0.2126 R +
// 0.7152 G + 0.0722 B), 16-bit samples scaled to 8, alpha ignored; PGM values
// below a maxval of less than 255 scaled to 0..255. Throws examples::InputError
// naming who (e.g. "--predict") and the file when it is not a regular file,
// not PGM or PNG, truncated or corrupt, has a maxval of 0 or above 255, a side
// of 0 or above kMaxImageSide, or bytes after the PGM image.
GrayImage read_gray_image(const std::filesystem::path& path, const std::string& who = "image");

// image resampled to width x height by area averaging: each new pixel is the
// mean of the old pixels under it, weighted by how much of each it covers
// (a box filter, which neither aliases when shrinking nor blurs when growing
// by a whole factor). A constant image stays constant; the same size is a copy.
GrayImage resize_area(const GrayImage& image, int64_t width, int64_t height);

// What --predict feeds the model: the image of path resized to width x height
// (only when it differs) and, with invert, each pixel v turned into 255 - v.
GrayImage load_model_input(const std::filesystem::path& path, int64_t width, int64_t height,
                           bool invert, const std::string& who = "image");

}  // namespace vit
