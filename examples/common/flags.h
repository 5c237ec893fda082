// What the trainers' command lines share: the exit status of a flag error, a
// number check with a plain message for CLI11 flags, and the flags a
// checkpoint records so that --resume (and modes that read a checkpoint)
// rebuild the same model, refusing flags that say otherwise.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

// CLI11 only where flags are added (its header costs seconds per file).
namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace examples {

// Exit status for a bad flag or input (one line on stderr).
inline constexpr int kUsageExitCode = 2;

// A CLI11 check: an integer (or a finite number) >= min (> min unless
// min_inclusive) and <= max, with a plain message ("must be an integer >= 1,
// got '0'"); inf and nan are refused.
CLI::Validator number_check(bool integer, double min, bool min_inclusive,
                            double max = std::numeric_limits<double>::infinity());

// Parses argv with app (its name starts every message), records the flags
// given on the command line in `given`, then runs check (the checks that span
// flags: "" when all pass). Returns an exit status when the program should
// stop now: 0 after --help, kUsageExitCode after a one-line error on err.
std::optional<int> parse_flags(CLI::App& app, int argc, const char* const* argv,
                               std::set<std::string>& given,
                               const std::function<std::string()>& check, std::ostream& out,
                               std::ostream& err);

// A flag whose value a checkpoint records under `key` (e.g. "--layers" under
// "vit.layers"), bound to the variable it sets.
class SavedFlag {
 public:
  SavedFlag(std::string flag, std::string key, int& value);
  SavedFlag(std::string flag, std::string key, double& value);
  SavedFlag(std::string flag, std::string key, bool& value);
  SavedFlag(std::string flag, std::string key, uint64_t& value);
  SavedFlag(std::string flag, std::string key, std::string& value);

  const std::string& flag() const { return flag_; }
  const std::string& key() const { return key_; }
  std::string value() const;  // as recorded: doubles exactly, in their shortest such text
  // Sets the variable from its recorded text; throws std::runtime_error
  // naming the key when the text is not a value of the variable's type.
  void set(const std::string& text) const;

 private:
  std::string flag_, key_;
  enum class Kind { Int, Double, Bool, UInt64, String } kind_;
  void* target_;
};

// The entries for a checkpoint's config.
std::map<std::string, std::string> save_flags(const std::vector<SavedFlag>& flags);

// Sets every flag from metadata (a missing or malformed entry: std::runtime_error
// naming it). Flags in `given` (the command line's) that differ from the
// checkpoint are refused first: InputError naming each with both values, e.g.
// "--resume: --layers 2 (the checkpoint's: 1), --seed 8 (the checkpoint's: 7)".
void restore_flags(const std::vector<SavedFlag>& flags,
                   const std::map<std::string, std::string>& metadata,
                   const std::set<std::string>& given, const std::string& mode = "--resume");

}  // namespace examples
