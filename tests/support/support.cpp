// SPDX-License-Identifier: Apache-2.0
#include "support/support.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace bpfsig::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/bpfsig-test.XXXXXX";
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult bpfsig_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), cli_path());
  return run_command(args);
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text) {
  CommandResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC)) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = std::string("cannot run ") + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  // Feed stdin and drain both outputs together so no pipe fills up and blocks.
  size_t written = 0;
  if (stdin_text.empty()) {
    ::close(in_pipe[1]);
    in_pipe[1] = -1;
  }
  struct pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_pipe[1], POLLOUT, 0}};
  int open_outputs = 2;
  while (open_outputs > 0) {
    int nfds = in_pipe[1] >= 0 ? 3 : 2;
    if (::poll(fds, nfds, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[8192];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_outputs;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
    if (in_pipe[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in_pipe[1], stdin_text.data() + written, stdin_text.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n <= 0 || written == stdin_text.size()) {
        ::close(in_pipe[1]);
        in_pipe[1] = -1;
      }
    }
  }
  if (in_pipe[1] >= 0) ::close(in_pipe[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string openssl_key_and_cert(const TempDir& dir, const std::string& name, const std::string& newkey,
                                 const std::string& pkeyopt) {
  const std::string base = dir.file(name);
  std::vector<std::string> argv = {"openssl", "req", "-x509", "-newkey", newkey};
  if (!pkeyopt.empty()) argv.insert(argv.end(), {"-pkeyopt", pkeyopt});
  argv.insert(argv.end(), {"-nodes", "-keyout", base + ".pem", "-out", base + ".der", "-outform", "DER", "-subj",
                           "/CN=" + name, "-days", "2", "-addext", "subjectKeyIdentifier=hash"});
  if (run_command(argv).exit_code != 0) return "";
  ::chmod((base + ".pem").c_str(), 0600);
  return base;
}

std::string compile_bpf_c(const TempDir& dir, const std::string& stem, const std::string& source) {
  write_text(dir.file(stem + ".bpf.c"), source);
  auto cc = run_command({"clang", "-O2", "-g", "-target", "bpf", "-c", dir.file(stem + ".bpf.c"), "-o",
                         dir.file(stem + ".bpf.o")});
  return cc.exit_code == 0 ? "" : "clang -target bpf failed here: " + cc.err;
}

std::string examples_dir() { return BPFSIG_EXAMPLES_DIR; }
std::string shared_testdata() { return BPFSIG_SHARED_TESTDATA; }

std::string missing_shared_testdata() {
  if (file_exists(shared_testdata() + "/bpftool-7.7") && file_exists(shared_testdata() + "/hornet")) return "";
  return "../shared/testdata not present (a fresh clone)";
}
std::string cli_path() { return BPFSIG_CLI; }
std::string source_dir() { return BPFSIG_SOURCE_DIR; }
bool is_root() { return ::geteuid() == 0; }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn_quiet(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

Bytes patterned(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  return b;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

namespace {

mode_t stat_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st.st_mode;
}

}  // namespace

mode_t file_type(const std::string& path) { return stat_mode(path) & S_IFMT; }
mode_t file_mode(const std::string& path) { return stat_mode(path) & 07777; }

}  // namespace bpfsig::test
