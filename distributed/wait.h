// The bounded wait under every collective: polls until done, spinning
// briefly and then sleeping (up to 1 ms) so that a waiting rank leaves its
// core to the others; past the timeout it ends the job.
#pragma once
#include <functional>
#include <string>

namespace lg::distributed::detail {

// Returns the seconds spent. On timeout: one line on stderr naming this
// rank, what and the timeout, then abort() (MPI_Abort: every rank ends).
double wait_until(const std::function<bool()>& done, const std::string& what);

}  // namespace lg::distributed::detail
