// SPDX-License-Identifier: Apache-2.0
// Small helpers every test executable shares: paths, scratch directories and
// running external commands (openssl, clang, the bpfsig CLI).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig::test {

// A fresh directory under $TMPDIR, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;   // -1 when the command could not be run or was killed
  std::string out;      // standard output
  std::string err;      // standard error
};
// Runs argv (no shell) with the given standard input; collects both streams.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "");

std::string examples_dir();     // build/examples (compiled *.bpf.o)
// ../shared/testdata beside the checkout: the reference artifacts CI has and a
// fresh clone has not. Every test that reads it starts with
// SKIP_UNLESS(test::missing_shared_testdata()).
std::string shared_testdata();
// "" when shared_testdata() is there, else why a test that needs it skips.
std::string missing_shared_testdata();
std::string cli_path();         // the bpfsig executable
// The bpfsig command with args (run_command with cli_path() first).
CommandResult bpfsig_cmd(std::vector<std::string> args);
// A private key (KEY.pem, mode 0600) and a self-signed DER certificate
// (KEY.der, with subjectKeyIdentifier) made by the openssl command, for keys
// bpfsig's keygen will not make: newkey is openssl req's -newkey argument
// ("ec", "ed25519", "rsa:2048") and pkeyopt its -pkeyopt ("" for none).
// Returns the path without extension; "" when openssl failed.
std::string openssl_key_and_cert(const TempDir& dir, const std::string& name, const std::string& newkey,
                                 const std::string& pkeyopt = "");
// Writes source to DIR/STEM.bpf.c and compiles it with clang -target bpf -O2
// into DIR/STEM.bpf.o. Returns "" on success, else why it failed (tests
// skip then: SKIP_UNLESS(test::compile_bpf_c(...))).
std::string compile_bpf_c(const TempDir& dir, const std::string& stem, const std::string& source);
std::string source_dir();
bool is_root();
bool file_exists(const std::string& path);
std::string read_text(const std::string& path);
// The type bits (S_IFMT) and the permission bits (07777) of path; a path
// that cannot be stat'ed fails the test and gives 0.
mode_t file_type(const std::string& path);
mode_t file_mode(const std::string& path);
void write_text(const std::string& path, const std::string& text);
// Starts argv[0] with argv, its standard output and error sent to /dev/null,
// without waiting for it: its pid, or -1 when it could not be started.
pid_t spawn_quiet(const std::vector<std::string>& argv);
// n bytes with a pattern that shows which byte is which (for comparing copies).
Bytes patterned(size_t n);

}  // namespace bpfsig::test

// Skips the running test with "skipped: <why>" unless check (an expression
// giving a std::string) is empty: SKIP_UNLESS(test::missing_shared_testdata()).
#ifndef SKIP_UNLESS
#define SKIP_UNLESS(check)                         \
  do {                                             \
    if (std::string why_ = (check); !why_.empty()) \
      GTEST_SKIP() << "skipped: " << why_;         \
  } while (0)
#endif
