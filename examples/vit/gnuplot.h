// Running gnuplot on a script file for lg-vit's pictures: text quoted for
// gnuplot's single-quoted strings, and one child process with its output kept.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace vit {

// text as a gnuplot single-quoted string: ' doubled (the only escape there),
// control characters (a newline would end the command) turned into spaces.
std::string gnuplot_quote(std::string_view text);

// Runs `gnuplot script` with stdin from /dev/null and stdout and stderr into
// log (so nothing gnuplot prints reaches the user's terminal). Returns empty
// when it exited with status 0, otherwise why not (its exit status or signal
// and the first line of the log).
std::string run_gnuplot(const std::filesystem::path& gnuplot, const std::filesystem::path& script,
                        const std::filesystem::path& log);

}  // namespace vit
