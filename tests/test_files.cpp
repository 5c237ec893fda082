// lg::write_file_atomically, lg::read_regular_file and lg::regular_file_problem:
// only regular files replaced (also when the target is swapped between the
// check and the rename), symlinks written through, bounded reads.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

using namespace lg;
namespace fs = std::filesystem;

namespace {

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A producer that writes bytes, then has `swap` run (the moment between the
// writer's check of the target and its rename).
std::function<void(const ByteSink&)> writing_then(const std::string& bytes,
                                                  const std::function<void()>& swap) {
  return [=](const ByteSink& sink) {
    sink(bytes.data(), bytes.size());
    swap();
  };
}

}  // namespace

TEST_CASE("write_file_atomically replaces a regular file and writes through symlinks") {
  TempDir dir("lg_files");
  const std::string path = dir.file("a.txt");
  write_file_atomically("test", path, std::string_view("hello"));
  CHECK(contents(path) == "hello");
  write_file_atomically("test", path, std::string_view("bye"));
  CHECK(contents(path) == "bye");
  CHECK(dir.entries() == std::vector<std::string>{"a.txt"});

  fs::create_directories(dir.path / "elsewhere");
  fs::create_symlink("elsewhere/b.txt", dir.path / "link");
  CHECK(atomic_write_target("test", dir.file("link")) == dir.file("elsewhere/b.txt"));
  write_file_atomically("test", dir.file("link"), std::string_view("through"));
  CHECK(fs::is_symlink(dir.path / "link"));
  CHECK(contents(dir.file("elsewhere/b.txt")) == "through");
  CHECK(dir.entries() == std::vector<std::string>{"a.txt", "elsewhere", "link"});

  // Messages start with who, or with the problem itself when who is empty.
  CHECK_ERROR(write_file_atomically("", dir.file("no/such/dir/x"), std::string_view("x")),
              "cannot create a temporary file", "no/such/dir");
  CHECK_ERROR(write_file_atomically("saver", dir.file("no/such/dir/x"), std::string_view("x")),
              "saver: cannot create");
}

TEST_CASE("write_file_atomically refuses special files, before writing and at the rename") {
  TempDir dir("lg_files");
  const std::string path = dir.file("target");
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  CHECK_ERROR(write_file_atomically("test", path, std::string_view("x")),
              "test: ", "is a FIFO, not a regular file; refusing to replace it");
  fs::create_symlink("target", dir.path / "link");
  CHECK_ERROR(write_file_atomically("test", dir.file("link"), std::string_view("x")), "a FIFO",
              "the symlink", "leads to it");
  CHECK(fs::is_fifo(path));
  fs::remove(path);
  fs::remove(dir.path / "link");

  // The target is a regular file when checked, and something else by the time
  // of the rename: the new file never takes that node's place, nothing is
  // written into it, the temporary file is gone.
  struct Swap {
    const char* what;
    std::function<void(const std::string&)> make;
    std::function<bool(const std::string&)> is_there;
  };
  const Swap swaps[] = {
      {"a FIFO", [](const std::string& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); },
       [](const std::string& p) { return fs::is_fifo(p); }},
      {"a directory", [](const std::string& p) { fs::create_directories(p + "/inside"); },
       [](const std::string& p) { return fs::is_directory(p + "/inside"); }},
      {"a symlink", [](const std::string& p) { fs::create_symlink("elsewhere", p); },
       [](const std::string& p) { return fs::is_symlink(p); }},
  };
  for (const Swap& swap : swaps) {
    INFO(swap.what);
    for (bool existed : {true, false}) {
      INFO("a file there before: " << existed);
      if (existed) write_file_atomically("test", path, std::string_view("old"));
      CHECK_ERROR(write_file_atomically("test", path,
                                        writing_then("new",
                                                     [&] {
                                                       fs::remove(path);
                                                       swap.make(path);
                                                     })),
                  swap.what, "not a regular file");
      CHECK(swap.is_there(path));
      CHECK(dir.entries() == std::vector<std::string>{"target"});
      fs::remove_all(path);
    }
  }

  // A regular file swapped for another regular file is simply replaced.
  write_file_atomically("test", path, std::string_view("old"));
  write_file_atomically("test", path, writing_then("new", [&] {
                          fs::remove(path);
                          std::ofstream(path) << "other";
                        }));
  CHECK(contents(path) == "new");
  CHECK(dir.entries() == std::vector<std::string>{"target"});
}

TEST_CASE("read_regular_file reads regular files within the limit, checked on the open file") {
  TempDir dir("lg_files");
  const std::string text = dir.file("text"), fifo = dir.file("fifo");
  write_file_atomically("", text, std::string_view("0123456789"));
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  ::alarm(20);  // a regression blocks in open() on the FIFO: SIGALRM ends the test instead
  const std::string fifo_problem = "--data " + fifo + ": not a regular file (it is a FIFO)";
  CHECK_ERROR(read_regular_file("--data", fifo), fifo_problem.c_str());
  ::alarm(0);
  CHECK_ERROR(read_regular_file("--data", "/dev/zero"),
              "--data /dev/zero: not a regular file (it is a character device)");
  CHECK(read_regular_file("--data", text, 10, "--max-data-bytes") == "0123456789");
  CHECK_ERROR(read_regular_file("--data", text, 9, "--max-data-bytes"),
              "is 10 bytes, above --max-data-bytes 9");
  CHECK(regular_file_problem("", text, 9) ==
        text + " is 10 bytes, above the size limit 9 (raise it to read this file)");
  CHECK(regular_file_problem("--data", text).empty());
  CHECK(regular_file_problem("--data", dir.file("missing")) ==
        "--data " + dir.file("missing") + ": No such file or directory");
  CHECK_ERROR(read_regular_file("", dir.file("missing")), "cannot open");
}
