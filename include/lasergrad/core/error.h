// lg::Error, the one exception type lasergrad throws for misuse, and the
// helpers that format the shapes, dtypes and devices its messages name.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "[2,3]" for a shape or stride list.
std::string shape_str(const std::vector<int64_t>& shape);

namespace detail {
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail
}  // namespace lg

// LG_CHECK(cond, "op: message ", value, ...) throws lg::Error when cond is false.
#define LG_CHECK(cond, ...)                       \
  do {                                            \
    if (!(cond)) ::lg::detail::fail(__VA_ARGS__); \
  } while (false)
