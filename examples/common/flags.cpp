#include "common/flags.h"

#include <CLI/CLI.hpp>
#include <charconv>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common/run_lock.h"

namespace examples {
namespace {

std::string plain(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

template <class T>
T& as(void* target) {
  return *static_cast<T*>(target);
}

[[noreturn]] void malformed(const std::string& key, const std::string& text,
                            const std::string& want) {
  throw std::runtime_error("checkpoint metadata \"" + key + "\" is not " + want + ": \"" + text +
                           "\"");
}

}  // namespace

// CLI11 2.1's PositiveNumber prints its upper bound, DBL_MAX, in full; this says
// what it wants in words.
CLI::Validator number_check(bool integer, double min, bool min_inclusive, double max) {
  std::string want = std::string(integer ? "an integer" : "a number") +
                     (min_inclusive ? " >= " : " > ") + plain(min);
  if (std::isfinite(max)) want += " and <= " + plain(max);
  auto check = [=](const std::string& text) -> std::string {
    const char* begin = text.c_str();
    char* end = nullptr;
    errno = 0;
    const double v =
        integer ? static_cast<double>(std::strtoll(begin, &end, 10)) : std::strtod(begin, &end);
    // inf and nan parse as numbers, but no flag means them.
    const bool parsed = end != begin && *end == '\0' && errno == 0 && std::isfinite(v);
    if (parsed && (min_inclusive ? v >= min : v > min) && v <= max) return {};
    return "must be " + want + ", got '" + text + "'";
  };
  const std::string name = std::isfinite(max)          ? "[" + plain(min) + ", " + plain(max) + "]"
                           : min == 0 && min_inclusive ? "NONNEGATIVE"
                           : min == (min_inclusive ? 1 : 0) ? "POSITIVE"
                                                            : want;
  return CLI::Validator(check, name);
}

SavedFlag::SavedFlag(std::string flag, std::string key, int& value)
    : flag_(std::move(flag)), key_(std::move(key)), kind_(Kind::Int), target_(&value) {}
SavedFlag::SavedFlag(std::string flag, std::string key, double& value)
    : flag_(std::move(flag)), key_(std::move(key)), kind_(Kind::Double), target_(&value) {}
SavedFlag::SavedFlag(std::string flag, std::string key, bool& value)
    : flag_(std::move(flag)), key_(std::move(key)), kind_(Kind::Bool), target_(&value) {}
SavedFlag::SavedFlag(std::string flag, std::string key, uint64_t& value)
    : flag_(std::move(flag)), key_(std::move(key)), kind_(Kind::UInt64), target_(&value) {}
SavedFlag::SavedFlag(std::string flag, std::string key, std::string& value)
    : flag_(std::move(flag)), key_(std::move(key)), kind_(Kind::String), target_(&value) {}

std::string SavedFlag::value() const {
  switch (kind_) {
    case Kind::Int:
      return std::to_string(as<int>(target_));
    case Kind::UInt64:
      return std::to_string(as<uint64_t>(target_));
    case Kind::Bool:
      return as<bool>(target_) ? "true" : "false";
    case Kind::String:
      return as<std::string>(target_);
    case Kind::Double: {
      // The shortest text that reads back as the same double: "0.1", not "0.10000000000000001".
      char buf[40];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, as<double>(target_));
      return ec == std::errc() ? std::string(buf, end) : std::string("nan");
    }
  }
  return {};
}

void SavedFlag::set(const std::string& text) const {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  const bool sign_digits = digits || (text.size() > 1 && text[0] == '-' &&
                                      text.find_first_not_of("0123456789", 1) == std::string::npos);
  errno = 0;
  char* end = nullptr;
  switch (kind_) {
    case Kind::Int: {
      const long long v = sign_digits ? std::strtoll(text.c_str(), &end, 10) : 0;
      if (!sign_digits || errno != 0 || v < std::numeric_limits<int>::min() ||
          v > std::numeric_limits<int>::max())
        malformed(key_, text, "an integer");
      as<int>(target_) = static_cast<int>(v);
      return;
    }
    case Kind::UInt64: {
      const unsigned long long v = digits ? std::strtoull(text.c_str(), &end, 10) : 0;
      if (!digits || errno != 0) malformed(key_, text, "an unsigned 64-bit integer");
      as<uint64_t>(target_) = v;
      return;
    }
    case Kind::Bool:
      if (text != "true" && text != "false") malformed(key_, text, "true or false");
      as<bool>(target_) = text == "true";
      return;
    case Kind::String:
      as<std::string>(target_) = text;
      return;
    case Kind::Double: {
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(v))
        malformed(key_, text, "a finite number");
      as<double>(target_) = v;
      return;
    }
  }
}

std::map<std::string, std::string> save_flags(const std::vector<SavedFlag>& flags) {
  std::map<std::string, std::string> m;
  for (const SavedFlag& f : flags) m[f.key()] = f.value();
  return m;
}

void restore_flags(const std::vector<SavedFlag>& flags,
                   const std::map<std::string, std::string>& metadata,
                   const std::set<std::string>& given, const std::string& mode) {
  std::string conflicts;
  std::vector<std::pair<const SavedFlag*, std::string>> values;
  for (const SavedFlag& f : flags) {
    auto it = metadata.find(f.key());
    if (it == metadata.end())
      throw std::runtime_error("the checkpoint has no config entry \"" + f.key() + "\"");
    const std::string mine = f.value();
    f.set(it->second);  // checks the recorded text
    const std::string theirs = f.value();
    f.set(mine);
    if (given.count(f.flag()) > 0 && mine != theirs)
      conflicts += (conflicts.empty() ? "" : ", ") + f.flag() + " " + mine +
                   " (the checkpoint's: " + theirs + ")";
    values.emplace_back(&f, it->second);
  }
  if (!conflicts.empty())
    throw InputError(mode + ": flags that contradict the checkpoint: " + conflicts);
  for (const auto& [flag, text] : values) flag->set(text);
}

std::optional<int> parse_flags(CLI::App& app, int argc, const char* const* argv,
                               std::set<std::string>& given,
                               const std::function<std::string()>& check, std::ostream& out,
                               std::ostream& err) {
  const std::string program = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << program << ": " << e.what() << " (see " << program << " --help)\n";
    return kUsageExitCode;
  }
  for (const CLI::Option* option : app.get_options())
    if (option->count() > 0) given.insert(option->get_name());
  if (std::string problem = check(); !problem.empty()) {
    err << program << ": " << problem << "\n";
    return kUsageExitCode;
  }
  return std::nullopt;
}

}  // namespace examples
