// SPDX-License-Identifier: Apache-2.0
// The command-line contract of docs/cli.md: usage errors (exit 2, one line,
// kind "usage", a suggestion for a near miss), version and help, the global
// -j/-p, options refused where they mean nothing, JSON output that survives
// names that are not UTF-8, and keygen's progress line on a terminal.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "support/support.h"

extern char** environ;

using Json = nlohmann::json;
namespace test = bpfsig::test;

namespace {

using test::bpfsig_cmd;

// U+FFFD, which JSON output puts for each byte that is not UTF-8.
const std::string kReplacement = "\xEF\xBF\xBD";
const std::string kUsageTail = " [EINVAL, usage]\n";

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string example_object() { return test::examples_dir() + "/execcount.bpf.o"; }

// A usage error: exit 2, exactly one stderr line ending in [EINVAL, usage]
// that contains `message`; on stdout nothing, or with -j the error object.
void expect_usage_error(const std::vector<std::string>& args, const std::string& message) {
  auto r = bpfsig_cmd(args);
  std::string cmdline;
  for (const auto& a : args) cmdline += a + " ";
  EXPECT_EQ(r.exit_code, 2) << cmdline << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << cmdline << "\n" << r.err;
  EXPECT_TRUE(ends_with(r.err, kUsageTail)) << cmdline << "\n" << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << cmdline << "\nwanted: " << message << "\ngot: " << r.err;
  EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos) << r.err;
  if (std::find(args.begin(), args.end(), "-j") == args.end()) {
    EXPECT_TRUE(r.out.empty()) << r.out;
  } else {
    EXPECT_EQ(Json::parse(r.out)["error"]["kind"], "usage") << r.out;
  }
}

// A key, a certificate and the signed execcount example, made once.
struct Signed {
  test::TempDir dir;
  std::string key = dir.file("k.pem"), cert = dir.file("c.der"), bundle = dir.file("x.bpfsig");
  Signed() {
    EXPECT_EQ(bpfsig_cmd({"keygen", "--algo", "p256", "--key", key, "--cert", cert}).exit_code, 0);
    EXPECT_EQ(bpfsig_cmd({"sign", "-k", key, "-i", cert, "-o", bundle, example_object()}).exit_code, 0);
  }
};
Signed& signed_example() {
  static Signed s;
  return s;
}

struct TerminalRun {
  int exit_code = -1;
  std::string terminal;  // what the command wrote to its stderr, a terminal
};

// Runs bpfsig with stderr on a pseudo-terminal (stdout to /dev/null), so
// that isatty(stderr) holds as it does for someone at a shell.
TerminalRun run_with_stderr_on_a_terminal(const std::vector<std::string>& args) {
  TerminalRun result;
  int master = -1, slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, slave, 2);
  posix_spawn_file_actions_addclose(&actions, master);
  std::vector<std::string> argv{test::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(slave);
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(master, buf, sizeof buf)) > 0) result.terminal.append(buf, static_cast<size_t>(n));
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::close(master);
  return result;
}

}  // namespace

// ---- usage errors ---------------------------------------------------------------------------

TEST(CliContract, UnknownCommandIsAUsageErrorNotAMissingOne) {
  expect_usage_error({"bogus"}, "bpfsig: unknown command 'bogus'; see bpfsig help");
  expect_usage_error({"sgin"}, "unknown command 'sgin' (did you mean 'sign'?)");
  expect_usage_error({"verfy", "x"}, "(did you mean 'verify'?)");
}

TEST(CliContract, MissingCommandListsTheCommands) {
  expect_usage_error({}, "bpfsig: a command is required: keygen, sign, verify, inspect, load, run, policy, sim, enforce, version, "
                         "help, man, completion; see bpfsig help");
  expect_usage_error({"policy"}, "bpfsig policy: a command is required: check, eval; see bpfsig help policy");
  expect_usage_error({"policy", "chek", "p.pol"},
                     "bpfsig policy: unknown command 'chek' (did you mean 'check'?); see bpfsig help policy");
}

TEST(CliContract, UnknownOptionSuggestsTheNearestOne) {
  expect_usage_error({"sign", "--layot", "excl", "-k", "k", "-i", "c", "x.o"},
                     "bpfsig sign: unknown option '--layot' (did you mean '--layout'?)");
  expect_usage_error({"verify", "--cret", "c", "f"}, "unknown option '--cret' (did you mean '--cert'?)");
  expect_usage_error({"inspect", "--frobnicate", "f"}, "unknown option '--frobnicate' [EINVAL, usage]");
  // The unknown option is named even when a required one is missing too.
  expect_usage_error({"keygen", "--algp", "p256"}, "unknown option '--algp' (did you mean '--algo'?)");
  expect_usage_error({"inspect", "a.bpfsig", "b.bpfsig"}, "unexpected argument 'b.bpfsig'");
  // sign takes several objects, but only into a directory.
  expect_usage_error({"sign", "-k", "k", "-i", "c", "a.o", "b.o"}, "signing 2 objects needs -o DIR, an existing directory");
}

TEST(CliContract, BadEnumValueIsAUsageErrorWithTheChoices) {
  expect_usage_error({"sign", "--scheme", "loadtim", "-k", "k", "-i", "c", "x.o"},
                     "--scheme: must be one of loader-hash, loadtime, hornet, hash-chain, not 'loadtim' (did you "
                     "mean 'loadtime'?)");
  expect_usage_error({"sign", "--layout", "6.81", "-k", "k", "-i", "c", "x.o"}, "--layout: must be one of");
  expect_usage_error({"keygen", "--key", "k", "--cert", "c", "--algo", "p265"}, "(did you mean 'p256'?)");
  expect_usage_error({"run", "--kernel", "hornt", "f"}, "--kernel: must be one of");
  expect_usage_error({"run", "--keyring", "secundary", "f"}, "(did you mean 'secondary'?)");
  expect_usage_error({"run", "--kernel", "hornet", "--hornet-design", "v9", "f"}, "--hornet-design: must be one of");
  expect_usage_error({"verify", "-i", "c", "--insns", "i", "--sig", "s", "--scheme", "rot13"}, "--scheme: must be");
  expect_usage_error({"load", "--keyring", "sesion", "f"}, "(did you mean 'session'?)");
  expect_usage_error({"keygen", "--key", "k", "--cert", "c", "--days", "0"}, "--days");
}

TEST(CliContract, KeyAlgorithmStaysCaseInsensitive) {
  test::TempDir d;
  auto r = bpfsig_cmd({"keygen", "--algo", "P256", "--key", d.file("k.pem"), "--cert", d.file("c.der")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliContract, MissingRequiredOptionIsAUsageError) {
  expect_usage_error({"keygen", "--cert", "c.der"}, "bpfsig keygen: --key is required");
  expect_usage_error({"sign", "-k", "k", "-i", "c"}, "bpfsig sign: object is required");
  expect_usage_error({"verify", "f"}, "verify needs at least one -i CERT");
  expect_usage_error({"verify", "-i", "c"}, "give either FILE or --insns/--data/--sig");
  expect_usage_error({"verify", "-i", "c", "--insns", "i"}, "raw input needs at least --insns and --sig");
  expect_usage_error({"sim"}, "give scenario files, or --matrix DIR");
}

TEST(CliContract, UsageErrorsAreJsonErrorObjectsWithJ) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"-j", "bogus"},
                                                                {"sign", "-j", "--layot", "x", "-k", "k", "-i", "c", "o"},
                                                                {"-j", "keygen", "--cert", "c"},
                                                                {"-p", "run", "--kernel", "x", "f"},
                                                                {"sim", "-j", "--markdown", "x.toml"}}) {
    auto r = bpfsig_cmd(args);
    EXPECT_EQ(r.exit_code, 2) << args[1];
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    Json j = Json::parse(r.out);
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["error"]["errno"], 22);
    EXPECT_EQ(j["error"]["errno_name"], "EINVAL");
    EXPECT_EQ(j["error"]["kind"], "usage");
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
}

// ---- version, help, global options ----------------------------------------------------------

TEST(CliContract, VersionAsCommandAndOption) {
  auto a = bpfsig_cmd({"version"});
  auto b = bpfsig_cmd({"--version"});
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_EQ(b.exit_code, 0);
  EXPECT_EQ(a.out, "bpfsig 0.1.0\n");
  EXPECT_EQ(b.out, a.out);
  Json j = Json::parse(bpfsig_cmd({"version", "-j"}).out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["version"], "0.1.0");
}

TEST(CliContract, HelpCommandShowsACommandsHelpUnderTheProgramName) {
  auto all = bpfsig_cmd({"help"});
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_NE(all.out.find("Usage: bpfsig [OPTIONS] SUBCOMMAND"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("keygen"), std::string::npos);
  auto sign = bpfsig_cmd({"help", "sign"});
  EXPECT_EQ(sign.exit_code, 0);
  EXPECT_NE(sign.out.find("Usage: bpfsig sign [OPTIONS] object"), std::string::npos) << sign.out;
  EXPECT_NE(sign.out.find("--hornet-format"), std::string::npos);
  EXPECT_EQ(sign.out, bpfsig_cmd({"sign", "--help"}).out);
  auto check = bpfsig_cmd({"help", "policy", "check"});
  EXPECT_NE(check.out.find("Usage: bpfsig policy check"), std::string::npos) << check.out;
  // Never argv[0]'s path.
  EXPECT_EQ(bpfsig_cmd({"--help"}).out.find(test::cli_path()), std::string::npos);
  expect_usage_error({"help", "sgin"}, "bpfsig help: unknown command 'sgin' (did you mean 'sign'?)");
}

TEST(CliContract, JsonFlagsWorkBeforeTheCommandAndPrettyImpliesJson) {
  test::TempDir d;
  auto compact = bpfsig_cmd({"-j", "keygen", "--algo", "p256", "--key", d.file("a.pem"), "--cert", d.file("a.der")});
  ASSERT_EQ(compact.exit_code, 0) << compact.err;
  EXPECT_EQ(count_lines(compact.out), 1u) << compact.out;  // compact: one line
  EXPECT_EQ(Json::parse(compact.out)["ok"], true);
  auto pretty = bpfsig_cmd({"keygen", "-p", "--algo", "p256", "--key", d.file("b.pem"), "--cert", d.file("b.der")});
  ASSERT_EQ(pretty.exit_code, 0) << pretty.err;
  EXPECT_GT(count_lines(pretty.out), 5u) << pretty.out;
  EXPECT_NE(pretty.out.find("\n  \"key\": "), std::string::npos) << pretty.out;
  EXPECT_EQ(Json::parse(pretty.out)["key"], d.file("b.pem"));
  auto global_pretty = bpfsig_cmd({"--pretty", "inspect", "--no-disasm", signed_example().bundle});
  ASSERT_EQ(global_pretty.exit_code, 0) << global_pretty.err;
  EXPECT_EQ(Json::parse(global_pretty.out)["scheme"], "loadtime");  // sign's default
  EXPECT_GT(count_lines(global_pretty.out), 5u);
}

// ---- options that do not apply --------------------------------------------------------------

TEST(CliContract, SignRefusesOptionsItsSchemeOrOutputsDoNotUse) {
  const std::vector<std::string> base{"sign", "-k", "k", "-i", "c", "x.o"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.begin() + 1, extra.begin(), extra.end());
    return args;
  };
  expect_usage_error(with({"--hornet-format", "v7"}), "--hornet-format applies only with --scheme hornet");
  expect_usage_error(with({"--scheme", "loadtime", "--hornet-format", "final"}), "--hornet-format applies only");
  expect_usage_error(with({"--scheme", "loadtime", "--layout", "6.18"}),
                     "--layout does not apply to --scheme loadtime: its loader has no hash-match block");
  expect_usage_error(with({"--scheme", "hornet", "--layout", "excl"}), "--layout does not apply to --scheme hornet");
  expect_usage_error(with({"--scheme", "loadtime", "--mismatch-target", "cleanup+1"}),
                     "--mismatch-target does not apply to --scheme loadtime");
  expect_usage_error(with({"--header", "x.h", "--no-embed-cert"}), "--no-embed-cert applies only to a bundle");
}

TEST(CliContract, SignStillTakesTheOptionsWhereTheyApply) {
  const Signed& s = signed_example();
  test::TempDir d;
  auto chain = bpfsig_cmd({"sign", "-j", "-k", s.key, "-i", s.cert, "--scheme", "hash-chain", "--layout", "6.18", "-o",
                           d.file("hc.bpfsig"), example_object()});
  ASSERT_EQ(chain.exit_code, 0) << chain.err;
  EXPECT_EQ(Json::parse(chain.out)["layout"], "6.18");
  auto both = bpfsig_cmd({"sign", "-k", s.key, "-i", s.cert, "--no-embed-cert", "--header", d.file("x.h"), "-o",
                          d.file("x.bpfsig"), example_object()});
  EXPECT_EQ(both.exit_code, 0) << both.err;
}

TEST(CliContract, VerifyRefusesRawOptionsWithAFile) {
  expect_usage_error({"verify", "-i", "c", "--scheme", "loadtime", "f.bpfsig"},
                     "--scheme applies only to raw input (--insns/--sig): FILE names its own scheme");
  expect_usage_error({"verify", "-i", "c", "--data", "d", "f.bpfsig"}, "--data applies only to raw input");
  expect_usage_error({"verify", "-i", "c", "--excl-hash", "e", "f.bpfsig"}, "--excl-hash applies only to raw input");
}

TEST(CliContract, RunRefusesOptionsItsStackDoesNotUse) {
  expect_usage_error({"run", "--hornet-design", "v7", "f"},
                     "--hornet-design needs the Hornet LSM: --kernel hornet, or hornet in --lsm");
  expect_usage_error({"run", "--kernel", "loadtime", "--hornet-design", "final", "f"}, "--hornet-design needs");
  expect_usage_error({"run", "--ipe-policy", "p.pol", "f"}, "--ipe-policy needs ipe in --lsm");
  expect_usage_error({"run", "--lsm", "capability,,ipe", "f"}, "--lsm: empty entry in 'capability,,ipe'");
  expect_usage_error({"run", "--lsm", "", "f"}, "--lsm: empty entry");
  expect_usage_error({"run", "--lsm", "ipe,signed-only,ipe", "f"}, "--lsm: 'ipe' is listed twice");
  expect_usage_error({"run", "--lsm", "capabilty", "f"}, "no LSM named 'capabilty' (did you mean 'capability'?)");
}

TEST(CliContract, RunTakesTheHornetDesignWhenHornetIsInTheLsmList) {
  const Signed& s = signed_example();
  auto r = bpfsig_cmd({"run", "-j", "--lsm", "capability,hornet", "--hornet-design", "v7", "-i", s.cert, s.bundle});
  EXPECT_NE(r.exit_code, 2) << r.err;
  EXPECT_EQ(Json::parse(r.out)["lsm"], "capability,hornet");
}

TEST(CliContract, LoadRefusesAKeyringItWouldNotUse) {
  expect_usage_error({"load", "--userspace-verify", "--keyring", "user", "-i", "c", "f"},
                     "--keyring does not apply to --userspace-verify");
  expect_usage_error({"load", "--keyring", "builtin", "-i", "c", "f"}, "-i does not apply to --keyring builtin");
  expect_usage_error({"load", "--keyring", "sesion", "f"}, "did you mean 'session'");
  expect_usage_error({"load", "--userspace-verify", "f"}, "--userspace-verify needs -i CERT");
}

TEST(CliContract, SimAndPolicyRefuseRenderingsThatWouldBeIgnored) {
  expect_usage_error({"sim", "--markdown", "x.toml"}, "--markdown applies only with --matrix");
  expect_usage_error({"sim", "--doc", "x.toml"}, "--doc applies only with --matrix");
  expect_usage_error({"sim", "--matrix", "d", "--markdown", "--doc"}, "--markdown and --doc are two renderings");
  expect_usage_error({"sim", "--matrix", "d", "--doc", "-j"}, "--doc and -j are two renderings");
  expect_usage_error({"sim", "--matrix", "d", "x.toml"}, "--matrix takes a directory, not scenario files");
  expect_usage_error({"policy", "check", "--canonical", "-j", "p.pol"}, "--canonical and -j are two outputs");
}

// ---- JSON output and bytes that are not UTF-8 -----------------------------------------------

TEST(CliContract, JsonOutputSurvivesFileNamesThatAreNotUtf8) {
  test::TempDir d;
  const std::string key = d.file("k\xff.pem"), cert = d.file("c\xfe.der"), bundle = d.file("x\xff.bundle");
  auto keygen = bpfsig_cmd({"keygen", "-j", "--algo", "p256", "--key", key, "--cert", cert});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  Json k = Json::parse(keygen.out);
  EXPECT_EQ(k["key"], d.file("k" + kReplacement + ".pem"));
  EXPECT_TRUE(test::file_exists(key));  // the file itself has the name as given

  auto sign = bpfsig_cmd({"sign", "-j", "-k", key, "-i", cert, "-o", bundle, example_object()});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  EXPECT_EQ(Json::parse(sign.out)["bundle"], d.file("x" + kReplacement + ".bundle"));
  ASSERT_TRUE(test::file_exists(bundle));

  auto verify = bpfsig_cmd({"verify", "-j", "-i", cert, bundle});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  Json v = Json::parse(verify.out);
  EXPECT_EQ(v["verdict"], "OK");
  EXPECT_EQ(v["file"], d.file("x" + kReplacement + ".bundle"));

  auto inspect = bpfsig_cmd({"inspect", "-j", "--no-disasm", bundle});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(Json::parse(inspect.out)["file"], d.file("x" + kReplacement + ".bundle"));

  auto pretty = bpfsig_cmd({"inspect", "-p", "--no-disasm", bundle});
  EXPECT_EQ(pretty.exit_code, 0) << pretty.err;
  EXPECT_EQ(Json::parse(pretty.out), Json::parse(inspect.out));
}

TEST(CliContract, ErrorObjectsSurviveNamesThatAreNotUtf8) {
  test::TempDir d;
  const std::string missing = d.file("missing\xff.bundle");
  auto r = bpfsig_cmd({"inspect", "-j", missing});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  Json e = Json::parse(r.out);
  EXPECT_EQ(e["ok"], false);
  EXPECT_EQ(e["error"]["kind"], "io");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("missing" + kReplacement + ".bundle"), std::string::npos);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;  // stderr keeps the bytes as they are
  EXPECT_EQ(count_lines(r.err), 1u);

  // A usage error naming a value that is not UTF-8.
  auto usage = bpfsig_cmd({"-j", "run", "--kernel", "6.18\xff", "f"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  EXPECT_NE(Json::parse(usage.out)["error"]["message"].get<std::string>().find("6.18" + kReplacement),
            std::string::npos);

  // A malformed bundle: the error names the file.
  const Signed& s = signed_example();
  test::write_text(d.file("bad\xff.bpfsig"), test::read_text(s.bundle).substr(0, 100));
  auto bad = bpfsig_cmd({"verify", "-j", "-i", s.cert, d.file("bad\xff.bpfsig")});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  Json b = Json::parse(bad.out);
  EXPECT_EQ(b["ok"], false);
  EXPECT_NE(b["error"]["message"].get<std::string>().find("bad" + kReplacement), std::string::npos) << bad.out;
}

// ---- keygen progress ------------------------------------------------------------------------

TEST(CliContract, KeygenTellsATerminalWhatItIsDoing) {
  test::TempDir d;
  auto t = run_with_stderr_on_a_terminal({"keygen", "--algo", "rsa2048", "--key", d.file("a.pem"), "--cert",
                                          d.file("a.der")});
  EXPECT_EQ(t.exit_code, 0) << t.terminal;
  EXPECT_NE(t.terminal.find("generating an RSA-2048 key..."), std::string::npos) << t.terminal;

  auto json = run_with_stderr_on_a_terminal({"keygen", "-j", "--algo", "p256", "--key", d.file("b.pem"), "--cert",
                                             d.file("b.der")});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(json.terminal, "") << "with -j, nothing: scripts read stdout";

  auto piped = bpfsig_cmd({"keygen", "--algo", "p256", "--key", d.file("c.pem"), "--cert", d.file("c.der")});
  EXPECT_EQ(piped.exit_code, 0);
  EXPECT_EQ(piped.err, "") << "not a terminal: nothing";
}
