// SPDX-License-Identifier: Apache-2.0
// The scenario parser: what it accepts, and that every refusal names the
// file, the line and the key.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "bpfsig/error.h"
#include "bpfsig/sim.h"

using namespace bpfsig;

namespace {

const std::string kHead = "name = \"t\"\n";
const std::string kKeygen = "[[steps]]\nkind = \"keygen\"\nkey = \"k\"\n";
const std::string kSign = kKeygen + "[[steps]]\nkind = \"sign\"\nartifact = \"a\"\nobject = \"execcount\"\nkey = \"k\"\n";

// The message of the Error parse_scenario throws, with its errno.
struct Refusal {
  int err = 0;
  std::string message;
};
Refusal refusal(const std::string& text) {
  try {
    sim::parse_scenario(text, "t.toml");
  } catch (const Error& e) {
    return {e.err(), e.what()};
  }
  return {0, "(accepted)"};
}

struct BadCase {
  const char* title;
  std::string text;
  std::string where;  // "t.toml:<line>:<col>: <key>" prefix expected in the message
  std::string why;    // a part of the reason
};

class ParserRefuses : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParserRefuses, NamingFileLineAndKey) {
  const BadCase& c = GetParam();
  Refusal r = refusal(c.text);
  EXPECT_NE(r.err, 0) << c.title;
  EXPECT_EQ(r.message.rfind(c.where, 0), 0u) << c.title << ": " << r.message;
  EXPECT_NE(r.message.find(c.why), std::string::npos) << c.title << ": " << r.message;
}

const BadCase kBadCases[] = {
    {"toml syntax", kHead + "x = [1,\n", "t.toml:2:9", "TOML syntax"},
    {"missing name", kKeygen, "t.toml:1:1: name", "missing"},
    {"unknown top key", kHead + "colour = 1\n" + kKeygen, "t.toml:2:1: colour", "unknown key"},
    {"name not a string", "name = 3\n" + kKeygen, "t.toml:1:8: name", "must be a string"},
    {"unknown kernel", kHead + "kernel = \"5.10\"\n" + kKeygen, "t.toml:2:10: kernel", "unknown kernel profile"},
    {"unknown lsm", kHead + "lsm = \"capability,apparmor\"\n" + kKeygen, "t.toml:2:7: lsm", "unknown LSM 'apparmor'"},
    {"unknown scheme", kHead + "schemes = [\"loader-hash\", \"magic\"]\n" + kKeygen, "t.toml:2:11: schemes",
     "unknown scheme 'magic'"},
    {"empty schemes", kHead + "schemes = []\n" + kKeygen, "t.toml:2:11: schemes", "lists no scheme"},
    {"keyring id", kHead + "[keyrings.r]\nid = \"nowhere\"\n" + kKeygen, "t.toml:3:6: keyrings.r.id", "must be builtin"},
    {"keyring missing id", kHead + "[keyrings.r]\nkeys = []\n" + kKeygen, "t.toml:2:1: keyrings.r", "missing id"},
    {"keyring unknown field", kHead + "[keyrings.r]\nid = 0\nsize = 1\n" + kKeygen, "t.toml:4:1: keyrings.r.size",
     "unknown key"},
    {"keyring unknown key name", kHead + "[keyrings.r]\nid = 0\nkeys = [\"nokey\"]\n" + kKeygen, "t.toml:2:1: keyrings.r",
     "no keygen step makes 'nokey'"},
    {"policy without text", kHead + "[policies.p]\n" + kKeygen, "t.toml:2:1: policies.p", "needs text or file"},
    {"policy file missing", kHead + "[policies.p]\nfile = \"/nonexistent/p.pol\"\n" + kKeygen,
     "t.toml:3:8: policies.p.file", "cannot read"},
    {"ipe_policy unknown", kHead + "ipe_policy = \"q\"\n" + kKeygen, "t.toml:2:14: ipe_policy", "no policy named 'q'"},
    {"lsm_options unknown lsm", kHead + "[lsm_options.selinux]\nx = 1\n" + kKeygen, "t.toml:2:1: lsm_options.selinux",
     "unknown LSM"},
    {"lsm_options array", kHead + "[lsm_options.signed-only]\nx = [1]\n" + kKeygen,
     "t.toml:3:5: lsm_options.signed-only.x", "must be a string, integer or boolean"},
    {"no steps", kHead, "t.toml:1:1: steps", "missing"},
    {"steps not array", kHead + "steps = 1\n", "t.toml:2:9: steps", "array of tables"},
    {"empty steps", kHead + "steps = []\n", "t.toml:2:9: steps", "is empty"},
    {"step without kind", kHead + "[[steps]]\nkey = \"k\"\n", "t.toml:2:1: steps[1]", "missing kind"},
    {"unknown kind", kHead + "[[steps]]\nkind = \"reboot\"\n", "t.toml:3:8: steps[1].kind", "unknown step kind"},
    {"unknown step key", kHead + kKeygen + "bits = 4096\n", "t.toml:5:1: steps[1].bits", "unknown key for a keygen step"},
    {"wrong type", kHead + "[[steps]]\nkind = \"keygen\"\nkey = 5\n", "t.toml:4:7: steps[1].key", "must be a string"},
    {"missing required", kHead + "[[steps]]\nkind = \"keygen\"\n", "t.toml:2:1: steps[1]", "needs key"},
    {"bad algo", kHead + kKeygen + "algo = \"dsa\"\n", "t.toml:5:8: steps[1].algo", "'dsa' is not one of"},
    {"int out of range", kHead + kSign + "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"data\"\nappend = 99999999\n",
     "t.toml:14:10: steps[3].append", "must be between 0 and"},
    {"negative int", kHead + kSign + "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"data\"\ntruncate = -1\n",
     "t.toml:14:12: steps[3].truncate", "must be between 0 and"},
    {"xor range", kHead + kSign + "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"data\"\nxor = 256\n",
     "t.toml:14:7: steps[3].xor", "between 1 and 255"},
    {"two tamper ops", kHead + kSign + "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"data\"\nxor = 1\ntruncate = 3\n",
     "t.toml:10:1: steps[3]", "exactly one of"},
    {"bad part", kHead + kSign + "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"btf\"\nxor = 1\n",
     "t.toml:13:8: steps[3].part", "'btf' is not one of"},
    {"hex", kHead + kSign + "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"data\"\nset = \"abc\"\n",
     "t.toml:14:7: steps[3].set", "hex digits"},
    {"sign object and bundle",
     kHead + kKeygen + "[[steps]]\nkind = \"sign\"\nartifact = \"a\"\nobject = \"x\"\nbundle = \"y\"\nkey = \"k\"\n",
     "t.toml:5:1: steps[2]", "exactly one of object, bundle"},
    {"sign unknown scheme", kHead + kSign + "scheme = \"pgp\"\n", "t.toml:10:10: steps[2].scheme", "unknown scheme"},
    {"artifact not made", kHead + kKeygen + "[[steps]]\nkind = \"load\"\nartifact = \"ghost\"\n",
     "t.toml:7:12: steps[2].artifact", "no artifact named 'ghost' was made by an earlier step"},
    {"key not made", kHead + "[[steps]]\nkind = \"sign\"\nartifact = \"a\"\nobject = \"execcount\"\nkey = \"k\"\n",
     "t.toml:6:7: steps[1].key", "no key named 'k'"},
    {"map not made", kHead + "[[steps]]\nkind = \"map_freeze\"\nmap = \"m\"\n", "t.toml:4:7: steps[1].map",
     "no map named 'm'"},
    {"map_create without size", kHead + "[[steps]]\nkind = \"map_create\"\nmap = \"m\"\n", "t.toml:2:1: steps[1]",
     "needs like or value_size"},
    {"keyring not declared", kHead + kSign + "[[steps]]\nkind = \"load\"\nartifact = \"a\"\nkeyring = \"r\"\n",
     "t.toml:13:11: steps[3].keyring", "no keyring named 'r'"},
    {"run before load", kHead + "[[steps]]\nkind = \"run\"\n", "t.toml:2:1: steps[1]", "no prog named 'loader'"},
    {"swap unknown", kHead + "[[steps]]\nkind = \"map_create\"\nmap = \"m\"\nvalue_size = 8\n[[steps]]\nkind = \"swap\"\nmap = \"m\"\nwith = \"n\"\n",
     "t.toml:9:8: steps[2].with", "no map named 'n'"},
    {"expect unknown key", kHead + kKeygen + "[steps.expect]\nfeeling = \"good\"\n", "t.toml:6:1: steps[1].expect.feeling",
     "unknown expectation"},
    {"expect unknown scheme", kHead + kKeygen + "[steps.expect.pgp]\nok = true\n", "t.toml:5:15: steps[1].expect.pgp",
     "unknown scheme 'pgp'"},
    {"expect verdict", kHead + kKeygen + "[steps.expect]\nverdict = \"FINE\"\n", "t.toml:6:11: steps[1].expect.verdict",
     "unknown verdict"},
    {"expect ok type", kHead + kKeygen + "[steps.expect]\nok = \"yes\"\n", "t.toml:6:6: steps[1].expect.ok",
     "true or false"},
    {"expect per-scheme unknown key", kHead + kKeygen + "[steps.expect.loadtime]\nmood = 1\n",
     "t.toml:6:1: steps[1].expect.loadtime.mood", "unknown expectation"},
};

INSTANTIATE_TEST_SUITE_P(All, ParserRefuses, ::testing::ValuesIn(kBadCases));

TEST(SimParse, OversizedFileIsRefusedBeforeParsing) {
  std::string text = kHead + "# " + std::string(sim::kMaxScenarioBytes, 'x') + "\n" + kKeygen;
  Refusal r = refusal(text);
  EXPECT_EQ(r.err, EFBIG);
  EXPECT_EQ(r.message.rfind("t.toml: file is", 0), 0u) << r.message;
}

TEST(SimParse, TooManyStepsAreRefused) {
  std::string text = kHead;
  for (size_t i = 0; i <= sim::kMaxSteps; ++i) text += "[[steps]]\nkind = \"keygen\"\nkey = \"k" + std::to_string(i) + "\"\n";
  Refusal r = refusal(text);
  EXPECT_EQ(r.err, E2BIG);
  EXPECT_NE(r.message.find("t.toml:2:1: steps: 129 steps, over the limit of 128"), std::string::npos) << r.message;
}

TEST(SimParse, LoadScenarioNamesAMissingFile) {
  try {
    sim::load_scenario("/nonexistent/x.toml");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.toml"), std::string::npos);
  }
}

TEST(SimParse, AcceptsTheFullFormat) {
  std::string text = R"(name = "full"
description = "everything"
kernel = "6.18-toctou"
lsm = "capability,signed-only"
schemes = ["loader-hash", "loadtime"]
ipe_policy = "p2"
[keyrings.r]
id = "own"
keys = ["k"]
[keyrings.n]
id = -3
[policies.p1]
text = "policy_name=a policy_version=0.0.1\nDEFAULT action=ALLOW\n"
[policies.p2]
text = "policy_name=b policy_version=0.0.1\nDEFAULT action=DENY\n"
[lsm_options.signed-only]
allow_kernel_loads = false
[[steps]]
kind = "keygen"
key = "k"
algo = "ec"
name = "the key"
[[steps]]
kind = "sign"
artifact = "a"
object = "execcount"
key = "k"
layout = "6.18"
[steps.expect]
ok = true
[steps.expect.loadtime]
errno = "EKEYREJECTED"
check = "signature: EKEYREJECTED"
audit = ["x", "y"]
audit_count = 0
maps = 1
progs = 2
retval = -22
verdict = "BADSIG"
denied_by = "bpf_prog_load/ipe"
)";
  sim::Scenario s = sim::parse_scenario(text, "full.toml");
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.kernel, "6.18-toctou");
  EXPECT_EQ(s.schemes, (std::vector<std::string>{"loader-hash", "loadtime"}));
  EXPECT_EQ(s.keyrings.at("r").id, "own");
  EXPECT_EQ(s.keyrings.at("n").id, "-3");
  EXPECT_EQ(s.ipe_policy, "p2");
  EXPECT_EQ(s.policies.size(), 2u);
  EXPECT_EQ(std::get<bool>(s.lsm_options.at("signed-only").at("allow_kernel_loads")), false);
  ASSERT_EQ(s.steps.size(), 2u);
  EXPECT_EQ(s.steps[0].label, "the key");
  EXPECT_EQ(s.steps[1].where.line, 23);
  ASSERT_TRUE(s.steps[1].expect);
  EXPECT_EQ(*s.steps[1].expect->ok, true);
  const sim::Expect& lt = s.steps[1].expect_by_scheme.at("loadtime");
  EXPECT_EQ(*lt.errno_name, "EKEYREJECTED");
  EXPECT_EQ(lt.audit.size(), 2u);
  EXPECT_EQ(*lt.retval, -22);
  EXPECT_EQ(*lt.denied_by, "bpf_prog_load/ipe");
}

TEST(SimParse, PolicyFileIsReadRelativeToTheScenario) {
  std::string dir = ::testing::TempDir();
  std::string policy = dir + "/sim_policy.pol";
  FILE* f = fopen(policy.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("policy_name=x policy_version=0.0.1\nDEFAULT action=ALLOW\n", f);
  fclose(f);
  sim::Scenario s = sim::parse_scenario(kHead + "[policies.p]\nfile = \"sim_policy.pol\"\n" + kKeygen, dir + "/s.toml");
  EXPECT_EQ(s.policies.at("p").rfind("policy_name=x", 0), 0u);
  EXPECT_EQ(s.ipe_policy, "p");
}

TEST(SimTables, EveryNamedSchemeProfileAndLsmIsListed) {
  for (const char* name : {"loader-hash", "loadtime", "hornet", "hash-chain"}) EXPECT_NE(sim::find_scheme(name), nullptr) << name;
  for (const char* name : {"6.18", "6.18-toctou", "loadtime", "hornet", "hash-chain"})
    EXPECT_NE(sim::find_profile(name), nullptr) << name;
  for (const char* name : {"capability", "signed-only", "hornet", "ipe"}) EXPECT_NE(sim::find_lsm(name), nullptr) << name;
  // Each scheme's default profile is in the profile table.
  for (const auto& s : sim::scheme_table()) EXPECT_NE(sim::find_profile(s.profile), nullptr) << s.name;
  EXPECT_TRUE(sim::find_scheme("loader-hash")->sign);
  EXPECT_TRUE(sim::find_profile("6.18")->make);
  EXPECT_TRUE(sim::find_lsm("signed-only")->make);
}

}  // namespace

namespace {

// toml++ 3.3 reaches __builtin_unreachable() on some non-ASCII code points
// (found by fuzz_scenario; marzer/tomlplusplus#295): they are refused first.
TEST(SimParse, CodePointsTheTomlParserMishandlesAreRefused) {
  const std::string cases[] = {
      kHead + "[[steps]]\nkind = \"keygen\"\nkey = \"k\"\nalg2\xd0\x94" "e\"ec\"\n",  // the fuzzer's input (U+0414)
      kHead + "s = \"\"\"\\\n\xc2\xa7\"\"\"\n" + kKeygen,                            // tomlplusplus#190
      "\xcc\xaa",                                                                  // tomlplusplus#295
  };
  for (const auto& text : cases) {
    Refusal r = refusal(text);
    EXPECT_EQ(r.err, EBADMSG) << r.message;
    EXPECT_NE(r.message.find("is refused (the TOML parser mishandles it)"), std::string::npos) << r.message;
  }
  EXPECT_EQ(refusal(kHead + "x\xc3(").message, "t.toml:2:2: invalid UTF-8");
  EXPECT_EQ(refusal(kHead + "\xd0\x94").message.rfind("t.toml:2:1: character U+0414", 0), 0u);
  // Code points it handles, and \u escapes, are fine.
  sim::Scenario s = sim::parse_scenario("name = \"\xe2\x86\x92 \\u0414\"\n" + kKeygen, "t.toml");
  EXPECT_EQ(s.name, "\xe2\x86\x92 \xd0\x94");
}

}  // namespace
