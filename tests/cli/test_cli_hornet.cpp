// SPDX-License-Identifier: Apache-2.0
// The hornet scheme end to end: sign, verify, inspect and run --kernel hornet.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bpfsig/bytes.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

test::CommandResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), test::cli_path());
  return test::run_command(args);
}

struct HornetSigned {
  test::TempDir dir;
  std::string cert = dir.file("c.der"), other = dir.file("o.der");
  std::string final_bundle = dir.file("f.bpfsig"), v7_bundle = dir.file("v7.bpfsig"), header = dir.file("f.h");
  HornetSigned() {
    EXPECT_EQ(cli({"keygen", "--key", dir.file("k.pem"), "--cert", cert}).exit_code, 0);
    EXPECT_EQ(cli({"keygen", "--key", dir.file("o.pem"), "--cert", other}).exit_code, 0);
    const std::string obj = test::examples_dir() + "/execcount.bpf.o";
    auto r = cli({"sign", "-j", "-k", dir.file("k.pem"), "-i", cert, "--scheme", "hornet", "-o", final_bundle, "--header",
                  header, obj});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    sign_json = Json::parse(r.out);
    EXPECT_EQ(cli({"sign", "-k", dir.file("k.pem"), "-i", cert, "--scheme", "hornet", "--hornet-format", "v7", "-o",
                   v7_bundle, obj})
                  .exit_code,
              0);
  }
  Json sign_json;
};
HornetSigned& hornet_signed() {
  static HornetSigned s;
  return s;
}

Json json_of(std::vector<std::string> args, int expected_exit) {
  auto r = cli(args);
  EXPECT_EQ(r.exit_code, expected_exit) << r.err;
  return Json::parse(r.out);
}

TEST(CliHornet, SignReportsTheScheme) {
  const Json& j = hornet_signed().sign_json;
  EXPECT_EQ(j["scheme"], "hornet");
  EXPECT_EQ(j["hornet_format"], "final");
  auto bad = cli({"sign", "-k", hornet_signed().dir.file("k.pem"), "-i", hornet_signed().cert, "--scheme", "hornet",
                  "--hornet-format", "v9", "-o", hornet_signed().dir.file("x"), test::examples_dir() + "/execcount.bpf.o"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("[EINVAL, usage]"), std::string::npos) << bad.err;
}

TEST(CliHornet, VerifyGivesHornetVerdicts) {
  auto& s = hornet_signed();
  for (const auto& file : {s.final_bundle, s.v7_bundle, s.header}) {
    Json ok = json_of({"verify", "-j", "-i", s.cert, file}, 0);
    EXPECT_EQ(ok["verdict"], "OK") << file;
    ASSERT_TRUE(ok["hornet"].is_object()) << file;
    EXPECT_EQ(ok["hornet"]["maps"][0]["sha256"], s.sign_json["metadata_sha256"]);
  }
  Json v7 = json_of({"verify", "-j", "-i", s.cert, s.v7_bundle}, 0);
  EXPECT_EQ(v7["hornet"]["format"], "v7");
  EXPECT_EQ(v7["hornet"]["maps"][0]["index"], 0);
  // Another signer's certificate: Hornet's verify_pkcs7_message_sig fails, BADSIG.
  Json bad = json_of({"verify", "-j", "-i", s.other, s.final_bundle}, 1);
  EXPECT_EQ(bad["verdict"], "BADSIG");
  EXPECT_EQ(bad["errno_name"], "ENOKEY");
}

TEST(CliHornet, InspectShowsTheAttribute) {
  auto& s = hornet_signed();
  Json j = json_of({"inspect", "-j", "--no-disasm", s.v7_bundle}, 0);
  EXPECT_EQ(j["scheme"], "hornet");
  EXPECT_EQ(j["signature"]["hornet"]["format"], "v7");
  EXPECT_EQ(j["signature"]["hornet"]["maps"].size(), 1u);
  EXPECT_FALSE(j["signature"]["signers"][0]["by_skid"].get<bool>());
  auto human = cli({"inspect", "--no-disasm", s.final_bundle});
  EXPECT_NE(human.out.find("hornet:       attribute 2.25.316487325684022475439036912669789383960, format final"),
            std::string::npos);
}

TEST(CliHornet, RunWithTheHornetKernel) {
  auto& s = hornet_signed();
  Json j = json_of({"run", "-j", "--kernel", "hornet", "--lsm", "signed-only", "-i", s.cert, s.final_bundle}, 0);
  EXPECT_EQ(j["decision"], "loaded");
  bool hornet_ok = false;
  for (const auto& r : j["audit"])
    hornet_ok |= r["lsm"] == "hornet" && r["hook"] == "bpf_prog_load_integrity" && r["verdict"] == "OK";
  EXPECT_TRUE(hornet_ok);
  Json v7 = json_of({"run", "-j", "--kernel", "hornet", "--hornet-design", "v7", "--lsm", "signed-only", "-i", s.cert,
                     s.v7_bundle},
                    0);
  EXPECT_EQ(v7["decision"], "loaded");
  // The final design cannot read a v7 attribute: BADSIG, refused by signed-only.
  Json refused = json_of({"run", "-j", "--kernel", "hornet", "--lsm", "signed-only", "-i", s.cert, s.v7_bundle}, 1);
  EXPECT_EQ(refused["decision"], "refused");
  EXPECT_EQ(refused["errno_name"], "EPERM");
}

}  // namespace
