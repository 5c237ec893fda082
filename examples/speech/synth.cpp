#include "synth.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "audio.h"
#include "common/files.h"
#include "common/run_lock.h"

extern char** environ;

namespace speech {
namespace {

std::string not_found(const std::string& program) {
  return program + " not found: install it (apt-get install espeak-ng)";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    line += arg.find(' ') == std::string::npos ? arg : "\"" + arg + "\"";
  }
  return line;
}

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Removes the files on every path out of speak.
struct RemoveOnExit {
  std::vector<std::string> paths;
  ~RemoveOnExit() {
    for (const std::string& p : paths) ::unlink(p.c_str());
  }
};

// Spawns argv with stdout to /dev/null and stderr to err_path; returns the
// wait status. Throws InputError where the program is not found.
int run(const std::vector<std::string>& argv, const std::string& err_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  // ENOENT is also what a missing folder of err_path gives.
  if (error == ENOENT) check_espeak(argv[0]);
  if (error != 0)
    throw std::runtime_error(command_line(argv) + ": cannot start: " + std::strerror(error));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      throw std::runtime_error(command_line(argv) + ": waitpid: " + std::strerror(errno));
  return status;
}

}  // namespace

void check_espeak(const std::string& program) {
  const bool is_path = program.find('/') != std::string::npos;
  if (program.empty() ||
      (is_path ? ::access(program.c_str(), X_OK) != 0 : examples::find_on_path(program).empty()))
    throw examples::InputError(not_found(program.empty() ? "espeak-ng" : program));
}

std::vector<float> speak(const std::string& program, const SpeakRequest& r,
                         const std::string& tmp_wav) {
  const std::vector<std::string> argv = {program,
                                         "-v",
                                         r.speaker.espeak_voice(),
                                         "-s",
                                         std::to_string(r.speed),
                                         "-p",
                                         std::to_string(r.pitch),
                                         "-w",
                                         tmp_wav,
                                         r.text};
  const std::string err_path = tmp_wav + ".err";
  RemoveOnExit cleanup{{tmp_wav, err_path}};
  const int status = run(argv, err_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    if (std::string err = first_line_of(err_path); !err.empty()) why += ": " + err;
    throw std::runtime_error(command_line(argv) + " failed (" + why + ")");
  }
  try {
    return read_audio(tmp_wav, kSampleRate);
  } catch (const std::exception& e) {
    throw std::runtime_error(command_line(argv) + " wrote no usable audio: " + e.what());
  }
}

}  // namespace speech
