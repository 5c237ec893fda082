#include "distributed/launch_env.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "lasergrad/core/error.h"

namespace lg::distributed::detail {
namespace {

// The variable's value as a non-negative int, or fallback when unset.
int int_variable(const EnvLookup& env, const char* name, int fallback) {
  const char* value = env(name);
  if (value == nullptr) return fallback;
  errno = 0;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  LG_CHECK(end != value && *end == '\0' && errno == 0 && parsed >= 0 && parsed <= 1 << 30,
           "distributed: environment variable ", name, "='", value,
           "' is not a non-negative integer");
  return static_cast<int>(parsed);
}

}  // namespace

LaunchInfo launch_info(const EnvLookup& env) {
  LaunchInfo info;
  info.launched = env("OMPI_COMM_WORLD_SIZE") != nullptr || env("PMIX_RANK") != nullptr ||
                  env("PMI_SIZE") != nullptr;
  if (!info.launched) return info;
  info.world_size = int_variable(env, "OMPI_COMM_WORLD_SIZE", int_variable(env, "PMI_SIZE", 0));
  info.rank = int_variable(env, "OMPI_COMM_WORLD_RANK",
                           int_variable(env, "PMIX_RANK", int_variable(env, "PMI_RANK", 0)));
  info.local_rank = int_variable(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
  return info;
}

bool needs_mpi(const LaunchInfo& info) {
  return info.launched && (info.world_size > 1 || info.rank > 0);
}

double timeout_from(double option_s, const EnvLookup& env) {
  LG_CHECK(std::isfinite(option_s) && option_s >= 0, "distributed: InitOptions::timeout_s ",
           option_s, " is not a non-negative number of seconds");
  if (option_s > 0) return option_s;
  const char* value = env("LG_DISTRIBUTED_TIMEOUT");
  if (value == nullptr) return 300;
  char* end = nullptr;
  const double parsed = std::strtod(value, &end);
  LG_CHECK(end != value && *end == '\0' && std::isfinite(parsed) && parsed > 0,
           "distributed: LG_DISTRIBUTED_TIMEOUT='", value, "' is not a positive number of seconds");
  return parsed;
}

}  // namespace lg::distributed::detail
