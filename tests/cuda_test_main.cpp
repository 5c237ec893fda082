// The main of the CUDA test executables (test_cuda, test_cuda_attention,
// test_cuda_training): exits 77, which ctest reports as skipped, where no
// CUDA device is usable; runs the doctest cases otherwise.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <lasergrad/runtime.h>

#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  if (!lg::cuda_is_available()) {
    const std::string name = argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "";
    std::cout << name << ": no usable CUDA device; skipped\n";
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
