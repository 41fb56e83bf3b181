// SPDX-License-Identifier: Apache-2.0
// The command's files, end to end (issue 14, a hostile user's defects): device
// and FIFO outputs written in place and "-" as standard output, keygen all or
// nothing and no key replaced without --force, outputs checked against inputs
// and each other, no user file taken for a stale temporary, the umask and
// replaced modes kept, FIFO inputs refused instead of hanging, every input
// read once ("-" and /dev/stdin from a pipe), and sim's own errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <future>

#include "support/support.h"

using namespace bpfsig;

namespace {

using test::bpfsig_cmd;
using test::CommandResult;

const std::string kBundleMagic = "\x89" "BPFSIG\n";

std::string example(const std::string& name) { return test::examples_dir() + "/" + name + ".bpf.o"; }
std::string scenario() { return test::source_dir() + "/scenarios/examples/basic-load.toml"; }
std::string policy() { return test::source_dir() + "/tests/lsm/ipe_policies/allow_all.pol"; }

// One keygen per test binary: key.pem (0600), cert.der.
struct Keys {
  test::TempDir dir;
  std::string key = dir.file("key.pem"), cert = dir.file("cert.der");
  Keys() { EXPECT_EQ(bpfsig_cmd({"keygen", "--key", key, "--cert", cert, "--algo", "p256"}).exit_code, 0); }
};
Keys& keys() {
  static Keys k;
  return k;
}

std::vector<std::string> sign_args(const std::vector<std::string>& extra) {
  std::vector<std::string> args{"sign", "-k", keys().key, "-i", keys().cert};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

CommandResult bpfsig_with_stdin(std::vector<std::string> args, const std::string& in) {
  args.insert(args.begin(), test::cli_path());
  return test::run_command(args, in);
}

// bpfsig under `timeout`: a command that blocks fails the test instead of hanging it.
CommandResult bpfsig_bounded(std::vector<std::string> args) {
  args.insert(args.begin(), {"timeout", "20", test::cli_path()});
  return test::run_command(args);
}

// The error contract: exit 1, exactly one line on stderr, with "[ERRNO, kind]".
void expect_one_line_error(const CommandResult& r, const std::string& errno_kind, int exit_code = 1) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("[" + errno_kind + "]"), std::string::npos) << r.err;
}

bool verifies(const std::string& path) {
  return bpfsig_cmd({"verify", "-i", keys().cert, path}).exit_code == 0;
}

// ---- item 1: devices, FIFOs and "-" as outputs -------------------------------

TEST(CliFilesOutput, DashIsStandardOutputAndTheReportGoesToStderr) {
  auto r = bpfsig_cmd(sign_args({"-o", "-", example("execcount")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.compare(0, kBundleMagic.size(), kBundleMagic), 0) << "stdout is not the bundle";
  EXPECT_NE(r.err.find("signed "), std::string::npos) << r.err;
  EXPECT_EQ(bpfsig_with_stdin({"verify", "-i", keys().cert, "-"}, r.out).exit_code, 0);

  auto h = bpfsig_cmd(sign_args({"--header", "-", example("execcount")}));
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("struct bpf_loader_ctx"), std::string::npos);
  EXPECT_EQ(h.out.find("  signature: "), std::string::npos) << "the report is mixed into the header";
  EXPECT_NE(h.err.find("  signature: "), std::string::npos) << h.err;

  auto dev = bpfsig_cmd(sign_args({"-o", "/dev/stdout", example("execcount")}));  // the test's pipe
  ASSERT_EQ(dev.exit_code, 0) << dev.err;
  EXPECT_EQ(dev.out.compare(0, kBundleMagic.size(), kBundleMagic), 0) << "stdout is not the bundle";
  EXPECT_NE(dev.err.find("signed "), std::string::npos) << dev.err;

  auto s = bpfsig_cmd({"sim", "-o", "-", scenario()});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("basic-load"), std::string::npos) << s.out;
}

TEST(CliFilesOutput, AFifoIsWrittenInPlace) {
  test::TempDir d;
  const std::string fifo = d.file("out.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto reader = std::async(std::launch::async, [&] { return test::read_text(fifo); });
  auto r = bpfsig_bounded(sign_args({"-o", fifo, example("execcount")}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string bundle = reader.get();
  EXPECT_EQ(test::file_type(fifo), S_IFIFO);
  test::write_text(d.file("copy.bpfsig"), bundle);
  EXPECT_TRUE(verifies(d.file("copy.bpfsig")));
}

TEST(CliFilesOutput, DevNullStaysACharacterDevice) {
  ASSERT_EQ(test::file_type("/dev/null"), S_IFCHR);
  auto r = bpfsig_cmd(sign_args({"-o", "/dev/null", example("execcount")}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::file_type("/dev/null"), S_IFCHR);
}

TEST(CliFilesOutput, AFullDeviceIsAnErrorAndStaysADevice) {
  if (!test::is_root()) GTEST_SKIP() << "mknod of a character device needs root";
  test::TempDir d;
  const std::string full = d.file("full");  // a private /dev/full (1, 7)
  ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
  expect_one_line_error(bpfsig_cmd(sign_args({"-o", full, example("execcount")})), "ENOSPC, io");
  EXPECT_EQ(test::file_type(full), S_IFCHR);
}

TEST(CliFilesOutput, ADirectoryOrBlockDeviceIsRefused) {
  test::TempDir d;
  ::mkdir(d.file("dir").c_str(), 0755);
  expect_one_line_error(bpfsig_cmd(sign_args({"-o", d.file("dir"), example("execcount")})), "EISDIR, output_type");
  if (!test::is_root()) GTEST_SKIP() << "mknod of a block device needs root";
  ASSERT_EQ(::mknod(d.file("blk").c_str(), S_IFBLK | 0600, ::makedev(7, 200)), 0);
  expect_one_line_error(bpfsig_cmd(sign_args({"-o", d.file("blk"), example("execcount")})), "EINVAL, output_type");
  EXPECT_EQ(test::file_type(d.file("blk")), S_IFBLK);
}

// ---- item 2: keygen -----------------------------------------------------------

TEST(CliFilesKeygen, AFailedCertificateLeavesTheExistingKey) {
  test::TempDir d;
  const std::string key = d.file("precious.pem");
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", key, "--cert", d.file("c.der"), "--algo", "p256"}).exit_code, 0);
  const std::string before = test::read_text(key);
  auto r = bpfsig_cmd({"keygen", "--force", "--key", key, "--cert", d.file("nodir/new.der"), "--algo", "p256"});
  expect_one_line_error(r, "ENOENT, io");
  EXPECT_EQ(test::read_text(key), before);
}

TEST(CliFilesKeygen, AnExistingKeyNeedsForce) {
  test::TempDir d;
  const std::string key = d.file("precious.pem");
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", key, "--cert", d.file("c.der"), "--algo", "p256"}).exit_code, 0);
  const std::string before = test::read_text(key);
  auto r = bpfsig_cmd({"keygen", "--key", key, "--cert", d.file("new.der"), "--algo", "p256"});
  expect_one_line_error(r, "EEXIST, output_exists");
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_text(key), before);
  EXPECT_FALSE(test::file_exists(d.file("new.der")));
  auto forced = bpfsig_cmd({"keygen", "--force", "--key", key, "--cert", d.file("new.der"), "--algo", "p256"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(test::read_text(key), before);
}

// ---- item 3: outputs against inputs and each other ------------------------------

TEST(CliFilesConflicts, EveryWriterRefusesToWriteOverItsInputs) {
  test::TempDir d;
  const std::string key = d.file("K.pem"), obj = d.file("x.bpf.o"), toml = d.file("f.toml");
  test::write_text(key, test::read_text(keys().key));
  ::chmod(key.c_str(), 0600);
  test::write_text(obj, test::read_text(example("execcount")));
  test::write_text(toml, test::read_text(scenario()));
  ASSERT_EQ(::symlink(key.c_str(), d.file("alias.pem").c_str()), 0);
  struct Case {
    std::vector<std::string> args;
    std::string kind;
    int exit_code = 1;
  };
  const std::vector<Case> cases = {
      {{"keygen", "--key", d.file("same.pem"), "--cert", d.file("same.pem")}, "EINVAL, output_conflict"},
      {{"sign", "-k", key, "-i", keys().cert, "-o", key, obj}, "EINVAL, output_is_input"},
      {{"sign", "-k", key, "-i", keys().cert, "-o", d.file("alias.pem"), obj}, "EINVAL, output_is_input"},
      {{"sign", "-k", key, "-i", keys().cert, "--header", keys().cert, obj}, "EINVAL, output_is_input"},
      {{"sign", "-k", key, "-i", keys().cert, "-o", obj, obj}, "EINVAL, output_is_input"},
      {{"sign", "-k", key, "-i", keys().cert, "-o", d.file("f"), "--header", d.file("f"), obj},
       "EINVAL, output_conflict"},
      {{"sim", "-o", toml, toml}, "EINVAL, output_is_input", 2},
  };
  const std::string key_before = test::read_text(key), obj_before = test::read_text(obj),
                    toml_before = test::read_text(toml);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0] + " " + c.kind);
    expect_one_line_error(bpfsig_cmd(c.args), c.kind, c.exit_code);
  }
  EXPECT_EQ(test::read_text(key), key_before);
  EXPECT_EQ(test::read_text(obj), obj_before);
  EXPECT_EQ(test::read_text(toml), toml_before);
  EXPECT_FALSE(test::file_exists(d.file("same.pem")));
  EXPECT_FALSE(test::file_exists(d.file("f")));
}

// ---- item 4: temporary files ---------------------------------------------------

TEST(CliFilesTemps, AFileNamedLikeAStaleTemporaryIsNotRemoved) {
  test::TempDir d;
  const std::string decoy = d.file("out.bpfsig.tmp.99999999.abcdefgh");  // a dead pid, 8 characters
  test::write_text(decoy, "my notes");
  auto r = bpfsig_cmd(sign_args({"-o", d.file("out.bpfsig"), example("execcount")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_text(decoy), "my notes");
}

// ---- item 5: umask and replaced modes ----------------------------------------------

TEST(CliFilesModes, OutputsFollowTheUmaskAndKeepAReplacedFilesMode) {
  test::TempDir d;
  const std::string out = d.file("o.bpfsig");
  auto sign_under = [&](const char* umask) {
    return test::run_command({"/bin/sh", "-c", std::string("umask ") + umask + " && exec \"$0\" sign -k \"$1\" -i \"$2\" -o \"$3\" \"$4\"",
                              test::cli_path(), keys().key, keys().cert, out, example("execcount")});
  };
  ASSERT_EQ(sign_under("077").exit_code, 0);
  EXPECT_EQ(test::file_mode(out), 0600u);
  ASSERT_EQ(sign_under("022").exit_code, 0);  // replacing a 0600 file: it stays 0600
  EXPECT_EQ(test::file_mode(out), 0600u);
  ::unlink(out.c_str());
  ASSERT_EQ(sign_under("022").exit_code, 0);
  EXPECT_EQ(test::file_mode(out), 0644u);
  auto k = test::run_command({"/bin/sh", "-c", "umask 000 && exec \"$0\" keygen --key \"$1\" --cert \"$2\" --algo p256",
                              test::cli_path(), d.file("k.pem"), d.file("c.der")});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_EQ(test::file_mode(d.file("k.pem")), 0600u);
  EXPECT_EQ(test::file_mode(d.file("c.der")), 0666u);
}

// ---- item 9: FIFO inputs -----------------------------------------------------------

TEST(CliFilesInput, AFifoInputIsRefusedNotWaitedOn) {
  test::TempDir d;
  const std::string fifo = d.file("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::vector<std::string>> runs = {
      {"sign", "-k", fifo, "-i", keys().cert, "-o", d.file("o"), example("execcount")},
      {"sign", "-k", keys().key, "-i", fifo, "-o", d.file("o"), example("execcount")},
      {"sign", "-k", keys().key, "-i", keys().cert, "-o", d.file("o"), fifo},
      {"verify", "-i", keys().cert, fifo},
      {"inspect", fifo},
      {"policy", "check", fifo},
  };
  for (const auto& args : runs) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    expect_one_line_error(bpfsig_bounded(args), "EINVAL, not_regular_file");
  }
}

// ---- item 13: every input read once, "-" for standard input ---------------------------

TEST(CliFilesInput, StandardInputForEveryMainFile) {
  test::TempDir d;
  const std::string bundle = d.file("b.bpfsig");
  ASSERT_EQ(bpfsig_cmd(sign_args({"-o", bundle, example("execcount")})).exit_code, 0);
  const std::string bytes = test::read_text(bundle);
  const std::string cert = keys().cert;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"verify", "-i", cert, "/dev/stdin"}, {"verify", "-i", cert, "-"}, {"inspect", "-"},
           {"run", "--kernel", "loadtime", "-i", cert, "-"}}) {  // the bundle is in sign's default scheme
    auto r = bpfsig_with_stdin(args, bytes);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args.back() << ": " << r.err;
  }
  EXPECT_EQ(bpfsig_with_stdin({"policy", "check", "-"}, test::read_text(policy())).exit_code, 0);
  // The object of sign, from a pipe.
  auto s = bpfsig_with_stdin(sign_args({"-o", d.file("piped.bpfsig"), "-"}), test::read_text(example("execcount")));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(verifies(d.file("piped.bpfsig")));
}

TEST(CliFilesInput, OnlyOneInputMayBeStandardInput) {
  test::TempDir d;
  expect_one_line_error(bpfsig_with_stdin({"verify", "-i", "-", "-"}, "x"), "EINVAL, stdin_twice");
  expect_one_line_error(bpfsig_with_stdin({"sign", "-k", "-", "-i", keys().cert, "-o", d.file("o"), "-"}, "x"),
                        "EINVAL, stdin_twice");
  expect_one_line_error(bpfsig_with_stdin({"policy", "eval", "--policy", "-", "-"}, "x"), "EINVAL, stdin_twice");
  EXPECT_FALSE(test::file_exists(d.file("o")));
}

TEST(CliFilesInput, StandardInputStopsPastTheLimit) {
  // A key is at most 1 MiB: 2 MiB on standard input is refused once the limit is passed.
  // bpfsig exits without reading the rest: the writer gets EPIPE, not SIGPIPE.
  struct IgnoreSigpipe {
    void (*old)(int) = ::signal(SIGPIPE, SIG_IGN);
    ~IgnoreSigpipe() { ::signal(SIGPIPE, old); }
  } ignore;
  auto r = bpfsig_with_stdin({"sign", "-k", "-", "-i", keys().cert, "-o", "/dev/null", example("execcount")},
                             std::string(2u << 20, 'k'));
  expect_one_line_error(r, "EFBIG, input_too_large");
}

// ---- item 14: sim's errors ---------------------------------------------------------------

TEST(CliFilesSim, EachBadScenarioPathHasItsOwnError) {
  test::TempDir d;
  expect_one_line_error(bpfsig_cmd({"sim", d.path()}), "EISDIR, io", 2);
  auto missing = bpfsig_cmd({"sim", d.file("none.toml")});
  expect_one_line_error(missing, "ENOENT, io", 2);
  EXPECT_EQ(missing.err.find("not a regular file"), std::string::npos) << missing.err;
  auto piped = bpfsig_with_stdin({"sim", "-"}, test::read_text(scenario()));
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.out.find("basic-load (stdin)"), std::string::npos) << piped.out;
}

}  // namespace
