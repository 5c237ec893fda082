// Helpers shared by the doctest files.
#pragma once
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

// CHECK_ERROR(expr, "part", ...): expr throws lg::Error and its message
// contains every part (the op's name, shapes, dtypes, ...).
#define CHECK_ERROR(expr, ...)                                    \
  do {                                                            \
    try {                                                         \
      (void)(expr);                                               \
      FAIL_CHECK("no lg::Error from: " #expr);                    \
    } catch (const ::lg::Error& e) {                              \
      std::string msg = e.what();                                 \
      for (const char* part : {__VA_ARGS__}) {                    \
        INFO("message: " << msg);                                 \
        CHECK_MESSAGE(msg.find(part) != std::string::npos, part); \
      }                                                           \
    }                                                             \
  } while (false)

// got agrees with want elementwise: |got - want| <= tol * max(1, |want|),
// or both are the same infinity, or both NaN. Fails (once, at the first
// mismatch) with the index and both values; tol is never loosened.
inline void check_close(const lg::Tensor& got, const std::vector<double>& want, double tol) {
  std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  for (size_t i = 0; i < g.size(); ++i) {
    bool same = g[i] == want[i] || (std::isnan(g[i]) && std::isnan(want[i]));
    if (!same && !(std::fabs(g[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i])))) {
      FAIL_CHECK("element " << i << ": got " << g[i] << ", want " << want[i] << " (tol " << tol
                            << ")");
      return;
    }
  }
}

inline void check_close(const lg::Tensor& got, const lg::Tensor& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  check_close(got, want.to_vector<double>(), tol);
}

// A tensor of the given shape and dtype, uniform in [lo, hi), from lg's generator.
inline lg::Tensor random_uniform(const lg::Shape& shape, lg::DType dtype = lg::kFloat64,
                                 double lo = -1, double hi = 1) {
  lg::Tensor t = lg::empty(shape, {.dtype = dtype});
  lg::uniform_(t, lo, hi);
  return t;
}

// Row-major multi-index of flat index i in shape, and back (for loop references).
inline std::vector<int64_t> unravel(int64_t i, const lg::Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}
inline int64_t ravel(const std::vector<int64_t>& idx, const lg::Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}

// The message of the std::exception that f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "lg_test") {
    std::random_device rd;
    std::string name = prefix;  // appended piecewise: GCC 12's -Wrestrict misfires on a + chain
    name += '_';
    name += std::to_string(::getpid());
    name += '_';
    name += std::to_string(rd());
    path = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;  // never throw from a destructor
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path))
      names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
};

// Runs fn() once for each CPU vector path this machine supports (avx512,
// avx2, baseline: lg::supported_cpu_isas()) with that path active, naming it
// in any failure; the path active before is restored, also after a throw.
template <typename Fn>
void for_each_cpu_isa(Fn&& fn) {
  struct Restore {
    std::string before = lg::cpu_isa();
    ~Restore() { lg::set_cpu_isa(before); }
  } restore;
  for (const std::string& isa : lg::supported_cpu_isas()) {
    INFO("CPU path: " << isa);
    lg::set_cpu_isa(isa);
    fn();
  }
}
