// SPDX-License-Identifier: Apache-2.0
// bpfsig verify --deep (docs/deep-verify.md): the manifest on stdout, the
// exit codes, --allow-unsigned-input, --expect and its diff lines.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

using test::bpfsig_cmd;

// A key, its certificate, execcount signed with the load-time scheme, and
// the same with bpftool 7.7's ctx-reading loader (sign --ctx-overrides).
struct Signed {
  test::TempDir dir;
  std::string cert = dir.file("c.der"), bundle = dir.file("x.bpfsig"), overrides = dir.file("o.bpfsig");
  Signed() {
    EXPECT_EQ(bpfsig_cmd({"keygen", "--key", dir.file("k.pem"), "--cert", cert}).exit_code, 0);
    const std::string object = test::examples_dir() + "/execcount.bpf.o";
    EXPECT_EQ(bpfsig_cmd({"sign", "--scheme", "loadtime", "-k", dir.file("k.pem"), "-i", cert, "-o", bundle, object})
                  .exit_code,
              0);
    EXPECT_EQ(bpfsig_cmd({"sign", "--scheme", "loader-hash", "--ctx-overrides", "-k", dir.file("k.pem"), "-i", cert,
                          "-o", overrides, object})
                  .exit_code,
              0);
  }
};
Signed& signed_example() {
  static Signed s;
  return s;
}

}  // namespace

TEST(CliDeep, JsonIsTheManifest) {
  auto r = bpfsig_cmd({"verify", "--deep", "-j", "-i", signed_example().cert, signed_example().bundle});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json m = Json::parse(r.out);
  EXPECT_EQ(m["schema"], "bpfsig-manifest/1");
  EXPECT_EQ(m["input"]["file"], signed_example().bundle);
  EXPECT_EQ(m["input"]["format"], "bundle");
  EXPECT_EQ(m["signature"]["verdict"], "OK");
  EXPECT_EQ(m["programs"][0]["name"], "count_execve");
  EXPECT_TRUE(m["unsigned_inputs"].empty());
}

TEST(CliDeep, HumanSummaryNamesEveryObject) {
  auto r = bpfsig_cmd({"verify", "--deep", "-i", signed_example().cert, signed_example().bundle});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("exec_counts HASH"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("count_execve TRACEPOINT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unsigned inputs: none"), std::string::npos) << r.out;
}

// A flipped signature byte: verify's own refusal, and no manifest.
TEST(CliDeep, TamperedBundleFailsAsVerifyDoes) {
  test::TempDir dir;
  std::string bytes = test::read_text(signed_example().bundle);
  bytes[bytes.size() - 300] ^= 0x01;  // inside the signature or the seal
  test::write_text(dir.file("bad.bpfsig"), bytes);
  auto deep = bpfsig_cmd({"verify", "--deep", "-j", "-i", signed_example().cert, dir.file("bad.bpfsig")});
  auto plain = bpfsig_cmd({"verify", "-j", "-i", signed_example().cert, dir.file("bad.bpfsig")});
  EXPECT_EQ(deep.exit_code, 1);
  EXPECT_EQ(deep.exit_code, plain.exit_code);
  EXPECT_EQ(deep.err, plain.err);
  EXPECT_FALSE(Json::parse(deep.out).contains("schema"));
}

TEST(CliDeep, UnsignedInputFailsUnlessAllowed) {
  auto r = bpfsig_cmd({"verify", "--deep", "-j", "-i", signed_example().cert, signed_example().overrides});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unsigned_input"), std::string::npos) << r.err;
  EXPECT_FALSE(Json::parse(r.out)["unsigned_inputs"].empty());
  auto allowed = bpfsig_cmd(
      {"verify", "--deep", "--allow-unsigned-input", "-i", signed_example().cert, signed_example().overrides});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
}

TEST(CliDeep, ExpectPassesOnTheSameManifestAndDiffsAChangedOne) {
  test::TempDir dir;
  auto first = bpfsig_cmd({"verify", "--deep", "-j", "-i", signed_example().cert, signed_example().bundle});
  ASSERT_EQ(first.exit_code, 0);
  Json reviewed = Json::parse(first.out);
  reviewed["input"]["file"] = "reviewed/elsewhere.bpfsig";
  test::write_text(dir.file("same.json"), reviewed.dump());
  auto same = bpfsig_cmd({"verify", "--deep", "--expect", dir.file("same.json"), "-i", signed_example().cert,
                          signed_example().bundle});
  EXPECT_EQ(same.exit_code, 0) << same.err;

  const uint32_t actual = reviewed["maps"][0]["max_entries"];
  reviewed["maps"][0]["max_entries"] = 1;
  test::write_text(dir.file("changed.json"), reviewed.dump());
  auto changed = bpfsig_cmd({"verify", "--deep", "--expect", dir.file("changed.json"), "-i", signed_example().cert,
                             signed_example().bundle});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("maps[0].max_entries: 1 -> " + std::to_string(actual) + "\n"), std::string::npos)
      << changed.err;
  EXPECT_NE(changed.err.find("manifest_mismatch"), std::string::npos) << changed.err;
}

TEST(CliDeep, DeepOnlyOptionsNeedDeep) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--allow-unsigned-input"}, std::vector<std::string>{"--expect", "m.json"}}) {
    std::vector<std::string> args = {"verify", "-i", signed_example().cert, signed_example().bundle};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = bpfsig_cmd(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--deep"), std::string::npos) << r.err;
  }
}
