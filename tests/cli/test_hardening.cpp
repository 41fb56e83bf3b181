// SPDX-License-Identifier: Apache-2.0
// The command's promises about data and secrets: outputs are atomic (a failed
// sign leaves an existing output alone, concurrent signs leave one complete
// file, SIGKILL at any point leaves the old file or a complete new one and,
// with O_TMPFILE, next to no temp file), key files are 0600, group/world-readable keys are
// refused, passphrases come in openssl's forms, and no error echoes a key.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <dirent.h>
#include <random>
#include <thread>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

using test::bpfsig_cmd;

std::string example(const std::string& name) { return test::examples_dir() + "/" + name + ".bpf.o"; }

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (struct dirent* e = d ? ::readdir(d) : nullptr)
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  if (d) ::closedir(d);
  return out;
}

size_t temp_files(const std::string& dir) {
  size_t n = 0;
  for (const std::string& name : dir_entries(dir)) n += name.find(".tmp.") != std::string::npos;
  return n;
}

// One keygen per test binary: key.pem (0600), cert.der, in a directory kept for the run.
struct Keys {
  test::TempDir dir;
  std::string key = dir.file("key.pem"), cert = dir.file("cert.der");
  Keys() {
    auto r = bpfsig_cmd({"keygen", "--key", key, "--cert", cert, "--algo", "p256"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
};
Keys& keys() {
  static Keys k;
  return k;
}

// True when the file is a complete bundle that verifies against keys().cert.
bool verifies(const std::string& path, const std::string& cert = keys().cert) {
  try {
    skel::SignedLoader l = skel::read_signed_file(path);
    std::vector<crypto::Certificate> trust;
    trust.push_back(crypto::load_certificate(cert));
    return verify::verify_loader(l, trust).err == 0;
  } catch (const Error&) {
    return false;
  }
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> sign_argv(const std::string& out, const std::string& ex = "execcount",
                                   const std::string& layout = "excl") {
  return {test::cli_path(), "sign", "-k", keys().key, "-i", keys().cert, "--scheme", "loader-hash", "--layout", layout,
          "--mismatch-target", "cleanup", "-o", out, example(ex)};
}

}  // namespace

// ---- no data loss ---------------------------------------------------------------

TEST(Atomic, FailedSignNeverTouchesAnExistingOutput) {
  test::TempDir d;
  const std::string out = d.file("out.bpfsig");
  test::write_text(out, "precious old content\n");
  test::write_text(d.file("garbage.bpf.o"), "not an ELF object");
  std::vector<std::vector<std::string>> failing = {
      {"sign", "-k", keys().key, "-i", keys().cert, "-o", out, d.file("garbage.bpf.o")},     // bad object
      {"sign", "-k", keys().key, "-i", keys().cert, "-o", out, d.file("missing.bpf.o")},     // no object
      {"sign", "-k", keys().cert, "-i", keys().cert, "-o", out, example("execcount")},       // not a key
      {"sign", "-k", keys().key, "-i", keys().cert, "--scheme", "loader-hash", "--layout", "x", "-o", out,
       example("execcount")},
      {"sign", "-k", keys().key, "-i", keys().cert, "-o", out, "--header", d.file("nodir/x.h"), example("execcount")},
  };
  for (const auto& args : failing) {
    auto r = bpfsig_cmd(args);
    EXPECT_NE(r.exit_code, 0) << args.back();
    EXPECT_EQ(test::read_text(out), "precious old content\n") << "after: " << r.err;
  }
  EXPECT_EQ(temp_files(d.path()), 0u);
}

TEST(Atomic, ParallelSignsLeaveOneCompleteVerifiableFile) {
  test::TempDir d;
  const std::string out = d.file("same.bpfsig");
  constexpr int kWriters = 8;
  std::vector<pid_t> pids;
  // Different inputs, so a torn mix of two writers could not verify.
  const char* kExamples[] = {"execcount", "multimap", "xdpfilter"};
  for (int i = 0; i < kWriters; ++i) pids.push_back(test::spawn_quiet(sign_argv(out, kExamples[i % 3], i % 2 ? "6.18" : "excl")));
  for (pid_t p : pids) {
    ASSERT_GT(p, 0);
    EXPECT_EQ(wait_exit(p), 0);
  }
  EXPECT_TRUE(verifies(out));
  EXPECT_EQ(dir_entries(d.path()), std::vector<std::string>{"same.bpfsig"});
}

TEST(Atomic, SigkillAtRandomPointsLeavesOldOrCompleteNewFile) {
  test::TempDir d;
  const std::string out = d.file("victim.bpfsig");
  ASSERT_EQ(wait_exit(test::spawn_quiet(sign_argv(out, "multimap", "6.18"))), 0);
  Bytes old_bytes = read_file(out);
  ASSERT_TRUE(verifies(out));

  // How long one run takes, to spread the kills over it.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(wait_exit(test::spawn_quiet(sign_argv(d.file("timing.bpfsig")))), 0);
  const auto run_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  ::unlink(d.file("timing.bpfsig").c_str());

  std::mt19937 rng(12345);
  std::uniform_int_distribution<long> delay(0, std::max<long>(1000, run_us * 6 / 5));
  int killed = 0, finished = 0, left_old = 0, complete_new = 0;
  size_t max_stray = 0;
  for (int i = 0; i < 50; ++i) {
    pid_t p = test::spawn_quiet(sign_argv(out, i % 2 ? "execcount" : "xdpfilter"));
    ASSERT_GT(p, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(delay(rng)));
    ::kill(p, SIGKILL);
    int rc = wait_exit(p);
    (rc == 128 + SIGKILL ? killed : finished) += 1;
    Bytes now = read_file(out);
    if (now == old_bytes) {
      ++left_old;
    } else {
      ASSERT_TRUE(verifies(out)) << "iteration " << i << ": a partial or corrupt file after SIGKILL";
      ++complete_new;
      old_bytes = now;
    }
    max_stray = std::max(max_stray, temp_files(d.path()));
  }
  std::printf("[sigkill] 50 runs (one takes %ld us): %d killed, %d finished; file unchanged %d, complete new %d; "
              "at most %zu temp file(s) from killed runs at a time\n",
              static_cast<long>(run_us), killed, finished, left_old, complete_new, max_stray);
  // The new content is an unnamed O_TMPFILE until it is linked and renamed in
  // one step: a kill leaves a named temp file only in the microseconds
  // between link and rename, and nothing cleans up after another process
  // (issue 14: the old cleanup removed user files).
  ASSERT_EQ(wait_exit(test::spawn_quiet(sign_argv(out))), 0);
  EXPECT_TRUE(verifies(out));
  EXPECT_LE(temp_files(d.path()), 1u);
}

// ---- secrets -----------------------------------------------------------------

TEST(Secrets, KeygenWritesMode0600EvenWithAPermissiveUmask) {
  test::TempDir d;
  auto r = test::run_command({"/bin/sh", "-c", "umask 000 && exec \"$0\" keygen --key \"$1\" --cert \"$2\" --algo p256",
                              test::cli_path(), d.file("k.pem"), d.file("c.der")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::file_mode(d.file("k.pem")), 0600u);
  // Replacing an existing, readable file gives a 0600 file too.
  test::write_text(d.file("old.pem"), "x");
  ::chmod(d.file("old.pem").c_str(), 0644);
  ASSERT_EQ(bpfsig_cmd({"keygen", "--force", "--key", d.file("old.pem"), "--cert", d.file("c2.der"), "--algo", "p256"}).exit_code, 0);
  EXPECT_EQ(test::file_mode(d.file("old.pem")), 0600u);
}

TEST(Secrets, GroupOrWorldReadableKeyIsRefusedUnlessInsecureKeyPerms) {
  test::TempDir d;
  const std::string key = d.file("k.pem");
  test::write_text(key, test::read_text(keys().key));
  for (mode_t mode : {0644u, 0640u, 0604u, 0444u}) {
    ::chmod(key.c_str(), mode);
    auto r = bpfsig_cmd({"sign", "-k", key, "-i", keys().cert, "-o", d.file("o.bpfsig"), example("execcount")});
    EXPECT_EQ(r.exit_code, 1);
    char m[8];
    std::snprintf(m, sizeof m, "%04o", mode);
    EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(m), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("[EACCES, key_permissions]"), std::string::npos) << r.err;
    EXPECT_FALSE(test::file_exists(d.file("o.bpfsig")));
  }
  auto ok = bpfsig_cmd({"sign", "--insecure-key-perms", "-k", key, "-i", keys().cert, "-o", d.file("o.bpfsig"),
                        example("execcount")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  ::chmod(key.c_str(), 0600);
  EXPECT_EQ(bpfsig_cmd({"sign", "-k", key, "-i", keys().cert, "-o", d.file("o.bpfsig"), example("execcount")}).exit_code, 0);
  ::chmod(key.c_str(), 0400);
  EXPECT_EQ(bpfsig_cmd({"sign", "-k", key, "-i", keys().cert, "-o", d.file("o.bpfsig"), example("execcount")}).exit_code, 0);
}

TEST(Secrets, EncryptedKeyWithEveryPassphraseForm) {
  test::TempDir d;
  const std::string key = d.file("enc.pem"), cert = d.file("enc.der"), out = d.file("o.bpfsig");
  auto g = bpfsig_cmd({"keygen", "--key", key, "--cert", cert, "--algo", "p256", "--pass", "pass:s3cret word"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(test::file_mode(key), 0600u);
  EXPECT_NE(test::read_text(key).find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos);
  test::write_text(d.file("pass.txt"), "s3cret word\nsecond line ignored\n");
  const std::string cli = test::cli_path(), obj = example("execcount");
  struct Case {
    std::string name;
    std::vector<std::string> argv;
    bool ok;
  };
  std::vector<Case> cases = {
      {"pass:", {cli, "sign", "-k", key, "-i", cert, "--pass", "pass:s3cret word", "-o", out, obj}, true},
      {"env:", {"/usr/bin/env", "MYPASS=s3cret word", cli, "sign", "-k", key, "-i", cert, "--pass", "env:MYPASS", "-o", out, obj}, true},
      {"file:", {cli, "sign", "-k", key, "-i", cert, "--pass", "file:" + d.file("pass.txt"), "-o", out, obj}, true},
      {"fd:", {"/bin/sh", "-c", "exec 3<\"$0\"; exec \"$1\" sign -k \"$2\" -i \"$3\" --pass fd:3 -o \"$4\" \"$5\"",
               d.file("pass.txt"), cli, key, cert, out, obj}, true},
      {"BPFSIG_KEY_PASS", {"/usr/bin/env", "BPFSIG_KEY_PASS=s3cret word", cli, "sign", "-k", key, "-i", cert, "-o", out, obj}, true},
      {"wrong", {cli, "sign", "-k", key, "-i", cert, "--pass", "pass:nope", "-o", out, obj}, false},
      {"missing", {"/usr/bin/env", "-u", "BPFSIG_KEY_PASS", cli, "sign", "-k", key, "-i", cert, "-o", out, obj}, false},
  };
  for (const Case& c : cases) {
    ::unlink(out.c_str());
    auto r = test::run_command(c.argv);  // stdin is closed: a prompt would fail, not hang
    if (c.ok) {
      EXPECT_EQ(r.exit_code, 0) << c.name << ": " << r.err;
      EXPECT_TRUE(verifies(out, cert)) << c.name;
    } else {
      EXPECT_EQ(r.exit_code, 1) << c.name;
      EXPECT_NE(r.err.find("[EACCES, key_passphrase]"), std::string::npos) << c.name << ": " << r.err;
      EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("nope"), std::string::npos) << "the passphrase was echoed: " << r.err;
      EXPECT_FALSE(test::file_exists(out)) << c.name;
    }
  }
  // Bad --pass forms are usage errors that do not echo the argument.
  const std::vector<std::string> bad_forms = {"s3cret word", "env:BPFSIG_TEST_UNSET_VAR", "fd:999", "fd:x", "file:" + d.file("none")};
  for (const std::string& bad : bad_forms) {
    auto r = bpfsig_cmd({"sign", "-k", key, "-i", cert, "--pass", bad, "-o", out, obj});
    EXPECT_EQ(r.exit_code, 1) << bad;
    if (bad == "s3cret word") {
      EXPECT_EQ(r.err.find("s3cret"), std::string::npos) << r.err;
    }
  }
}

TEST(Secrets, NoCommandEchoesAPrivateKey) {
  test::TempDir d;
  const std::string pem = test::read_text(keys().key);
  // Every 12-character run of the key's base64 body.
  std::vector<std::string> chunks;
  {
    std::string body;
    size_t b = pem.find('\n') + 1, e = pem.find("-----END");
    for (char c : pem.substr(b, e - b))
      if (c != '\n') body.push_back(c);
    for (size_t i = 0; i + 12 <= body.size(); i += 6) chunks.push_back(body.substr(i, 12));
  }
  ASSERT_GT(chunks.size(), 10u);
  // A DER copy too, and a header-looking file that embeds the key.
  test::write_text(d.file("key.h"), "struct x { struct bpf_loader_ctx ctx; };\nstatic const char opts_data[] = \"" + pem + "\";\n");
  const std::string k = keys().key, c = keys().cert, obj = example("execcount");
  std::vector<std::vector<std::string>> runs = {
      {"verify", "-i", c, k},          {"verify", "-i", k, obj},         {"verify", "-i", c, d.file("key.h")},
      {"inspect", k},                  {"inspect", d.file("key.h")},     {"sign", "-k", c, "-i", k, obj},
      {"sign", "-k", k, "-i", c, k},   {"verify", "-i", c, "--insns", k, "--data", k, "--sig", k},
      {"run", "-i", c, k},             {"verify", "-j", "-i", c, k},     {"inspect", "-j", k},
  };
  for (const auto& args : runs) {
    auto r = bpfsig_cmd(args);
    EXPECT_NE(r.exit_code, 0);
    for (const std::string& chunk : chunks)
      if (r.out.find(chunk) != std::string::npos || r.err.find(chunk) != std::string::npos) {
        ADD_FAILURE() << "key material in the output of bpfsig " << args[0] << ": " << r.err;
        break;
      }
  }
}
