// Checks what the installed package links: OpenBLAS's OpenMP build (found
// through the RPATH the package adds) sharing one thread pool with lasergrad.
#include <lasergrad/lasergrad.h>

#include <cstdio>

int main() {
  lg::set_num_threads(2);
  const int mode = lg::openblas_parallel_mode(), threads = lg::get_num_threads();
  std::printf("OpenBLAS threading mode %d (2 = OpenMP), %d threads\n", mode, threads);
  lg::Tensor a = lg::ones({64, 64});
  const double s = lg::matmul(a, a).sum().item<double>();
  return mode == 2 && threads == 2 && s == 64.0 * 64 * 64 ? 0 : 1;
}
