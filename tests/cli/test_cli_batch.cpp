// SPDX-License-Identifier: Apache-2.0
// Many inputs to `sign` and `verify` (src/cli/batch.cpp): every core, results
// in input order, a summary line, the exit code of the whole batch, a progress
// bar only on a terminal.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

const std::vector<std::string> kExamples = {"execcount", "multimap", "xdpfilter"};

std::vector<std::string> example_objects() {
  std::vector<std::string> v;
  for (const std::string& e : kExamples) v.push_back(test::examples_dir() + "/" + e + ".bpf.o");
  return v;
}

test::CommandResult sign_many(const std::string& dir, std::vector<std::string> objects, std::vector<std::string> extra = {}) {
  test::TestSigner& s = test::default_signer();
  std::vector<std::string> args = {"sign", "--scheme", "loadtime", "-k", s.dir.file("key.pem"), "-i", s.cert_path(), "-o", dir};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), objects.begin(), objects.end());
  return test::bpfsig_cmd(args);
}

test::CommandResult verify_many(const std::vector<std::string>& files, bool json = false) {
  std::vector<std::string> args = {"verify", "-i", test::default_signer().cert_path()};
  if (json) args.push_back("-j");
  args.insert(args.end(), files.begin(), files.end());
  return test::bpfsig_cmd(args);
}

// The signed examples, and a tampered copy of the first.
struct Signed {
  test::TempDir dir;
  std::vector<std::string> bundles;
  std::string tampered = dir.file("tampered.bpfsig");
  Signed() {
    test::CommandResult r = sign_many(dir.path(), example_objects());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& e : kExamples) bundles.push_back(dir.file(e + ".bpfsig"));
    std::string bytes = test::read_text(bundles[0]);
    bytes[bytes.size() / 2] ^= 0x10;
    test::write_text(tampered, bytes);
  }
};

}  // namespace

TEST(CliBatch, SignWritesEachBundleIntoTheDirectory) {
  Signed s;
  for (const std::string& b : s.bundles) {
    test::CommandResult v = verify_many({b});
    EXPECT_EQ(v.exit_code, 0) << b << ": " << v.err;
  }
  test::TempDir d;
  test::CommandResult r = sign_many(d.path(), example_objects(), {"-j"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], true);
  ASSERT_EQ(j["results"].size(), 3u);
  for (size_t i = 0; i < kExamples.size(); ++i) {
    EXPECT_EQ(j["results"][i]["object"], example_objects()[i]);
    EXPECT_EQ(j["results"][i]["bundle"], d.path() + "/" + kExamples[i] + ".bpfsig");
    EXPECT_EQ(j["results"][i]["scheme"], "loadtime");
  }
  EXPECT_EQ(j["summary"]["inputs"], 3);
  EXPECT_EQ(j["summary"]["ok"], 3);
  EXPECT_EQ(j["summary"]["failed"], 0);
}

TEST(CliBatch, SignGoesOnPastABadObjectAndFailsTheBatch) {
  test::TempDir d;
  test::write_text(d.file("junk.bpf.o"), "not an ELF file");
  std::vector<std::string> objects = example_objects();
  objects.insert(objects.begin() + 1, d.file("junk.bpf.o"));
  test::TempDir out;
  test::CommandResult r = sign_many(out.path(), objects);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("sign: 4 inputs: 3 ok, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("junk.bpf.o"), std::string::npos) << r.err;
  for (const std::string& e : kExamples) EXPECT_TRUE(std::filesystem::exists(out.file(e + ".bpfsig"))) << e;
  EXPECT_FALSE(std::filesystem::exists(out.file("junk.bpfsig")));
}

TEST(CliBatch, SignRefusesWhatOneObjectAlonePermits) {
  test::TempDir d;
  // -o is not a directory; --header and --name name one output; two objects, one bundle name.
  EXPECT_EQ(sign_many(d.file("missing"), example_objects()).exit_code, 2);
  EXPECT_EQ(sign_many(d.path(), example_objects(), {"--header", d.file("x.h")}).exit_code, 2);
  EXPECT_EQ(sign_many(d.path(), example_objects(), {"--name", "x"}).exit_code, 2);
  std::filesystem::create_directory(d.file("other"));
  std::filesystem::copy_file(example_objects()[0], d.file("other/execcount.bpf.o"));
  test::CommandResult dup = sign_many(d.path(), {example_objects()[0], d.file("other/execcount.bpf.o")});
  EXPECT_EQ(dup.exit_code, 2);
  EXPECT_NE(dup.err.find("execcount.bpfsig"), std::string::npos) << dup.err;
  EXPECT_FALSE(std::filesystem::exists(d.file("execcount.bpfsig")));
}

TEST(CliBatch, VerifyReportsInInputOrderWithASummary) {
  Signed s;
  const std::vector<std::string> files = {s.bundles[2], s.tampered, s.bundles[0], s.dir.file("missing.bpfsig"), s.bundles[1]};
  test::CommandResult r = verify_many(files);
  EXPECT_EQ(r.exit_code, 1);
  size_t at = 0;
  for (const std::string& f : files) {
    if (f.find("missing") != std::string::npos) continue;  // only on stderr
    size_t next = r.out.find(f + ": ", at);
    ASSERT_NE(next, std::string::npos) << f << " after offset " << at << ":\n" << r.out;
    at = next;
  }
  EXPECT_NE(r.out.find("verify: 5 inputs: 3 ok, 2 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("tampered.bpfsig: BADSIG"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.bpfsig"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no progress bar when stderr is not a terminal";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;
}

TEST(CliBatch, VerifyJsonHasOneResultPerInputInInputOrder) {
  Signed s;
  // Enough inputs that several threads finish out of order; failures finish first.
  std::vector<std::string> files;
  for (int i = 0; i < 40; ++i) files.push_back(i % 5 == 3 ? s.dir.file("missing" + std::to_string(i)) : s.bundles[i % 3]);
  test::CommandResult r = verify_many(files, true);
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  ASSERT_EQ(j["results"].size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const nlohmann::json& item = j["results"][i];
    EXPECT_EQ(item["file"], files[i]) << i;
    EXPECT_EQ(item["ok"], i % 5 != 3) << i;
    if (i % 5 == 3) {
      EXPECT_EQ(item["error"]["errno_name"], "ENOENT") << i;
    }
  }
  EXPECT_EQ(j["summary"]["inputs"], 40);
  EXPECT_EQ(j["summary"]["ok"], 32);
  EXPECT_EQ(j["summary"]["failed"], 8);
  EXPECT_GE(j["summary"]["seconds"].get<double>(), 0.0);
  EXPECT_EQ(r.err, "") << "with --json, the results say it all";
}

TEST(CliBatch, VerifyOfGoodInputsExitsZero) {
  Signed s;
  test::CommandResult r = verify_many(s.bundles);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("verify: 3 inputs: 3 ok, 0 failed"), std::string::npos) << r.out;
}

TEST(CliBatch, ProgressBarOnlyOnATerminal) {
  if (!std::filesystem::exists("/usr/bin/script")) GTEST_SKIP() << "skipped: script(1) (util-linux) is not installed";
  Signed s;
  // script(1) gives the command a pseudo-terminal; its output is what the terminal showed.
  std::string cmd = std::string(BPFSIG_CLI) + " verify -i " + test::default_signer().cert_path();
  for (const std::string& b : s.bundles) cmd += " " + b;
  test::CommandResult tty = test::run_command({"script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(tty.exit_code, 0) << tty.err;
  EXPECT_NE(tty.out.find("] 3/3"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\r\033[K"), std::string::npos) << "the bar is cleared";
  test::CommandResult json = test::run_command({"script", "-qec", cmd + " -j", "/dev/null"});
  EXPECT_EQ(json.out.find("] 3/3"), std::string::npos) << "no bar with --json";
}
