// Installs the ops layer's functions into core's hooks table (called once by
// lg::init; internal).
#pragma once

namespace lg::detail {
void install_ops_into_core();
}  // namespace lg::detail
