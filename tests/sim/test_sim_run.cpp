// SPDX-License-Identifier: Apache-2.0
// Running scenarios on the kernel model: every step kind, every expectation
// kind (holding and failing), the attack matrix against its checked-in
// expected table, and the `bpfsig sim` command's exit codes and JSON.
#include <gtest/gtest.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/sim.h"
#include "bpfsig/skel.h"
#include "support/sign_options.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

sim::SimOptions options() {
  sim::SimOptions o;
  o.examples_dir = test::examples_dir();
  return o;
}

sim::RunResult run(const std::string& text, const std::string& scheme = "loader-hash") {
  sim::Scenario s = sim::parse_scenario(text, "t.toml");
  return sim::run_scenario(s, scheme, options());
}

// A trusted key and the execcount example signed with it.
const std::string kSigned = R"(name = "t"
[keyrings.trusted]
id = "builtin"
keys = ["k"]
[[steps]]
kind = "keygen"
key = "k"
algo = "ec"
[[steps]]
kind = "sign"
artifact = "a"
object = "execcount"
key = "k"
)";

// The stepwise load of artifact a through map "meta" (steps 3-8).
const std::string kStepwise = kSigned + R"([[steps]]
kind = "map_create"
map = "meta"
like = "a"
[[steps]]
kind = "map_update"
map = "meta"
from = "a"
[[steps]]
kind = "map_freeze"
map = "meta"
[[steps]]
kind = "map_hash"
map = "meta"
[[steps]]
kind = "load"
artifact = "a"
map = "meta"
keyring = "trusted"
[[steps]]
kind = "run"
)";

std::string load_step(const std::string& extra = "") {
  return "[[steps]]\nkind = \"load\"\nartifact = \"a\"\nkeyring = \"trusted\"\n" + extra;
}

std::string tamper(const std::string& part, const std::string& op) {
  return "[[steps]]\nkind = \"tamper\"\nartifact = \"a\"\npart = \"" + part + "\"\n" + op + "\n";
}

const sim::StepResult& last(const sim::RunResult& r) { return r.steps.back(); }

// ---- step kinds ----------------------------------------------------------------

// attach links a program the loader created; it must exist, and the kernel's
// checks apply (a tracepoint program cannot be an XDP link).
TEST(SimSteps, AttachLinksAProgramTheLoaderCreated) {
  std::string xdp = kSigned;
  xdp.replace(xdp.find("execcount"), 9, "xdpfilter");
  auto attach = [](const std::string& extra) { return "[[steps]]\nkind = \"attach\"\n" + extra; };
  sim::RunResult r = run(xdp + load_step() + attach("prog = \"xdp_filter\"\n"));
  EXPECT_TRUE(last(r).ok) << last(r).message;
  r = run(xdp + load_step() + attach("prog = \"xdp_filter\"\nifindex = 2\n"));
  EXPECT_EQ(errno_name(last(r).err), "EINVAL");
  EXPECT_EQ(last(r).check, "BPF_LINK_CREATE: EINVAL");
  r = run(xdp + load_step("signature = false\n") + attach("prog = \"no_such\"\n"));
  EXPECT_TRUE(last(r).skipped);
  r = run(kSigned + load_step() + attach("prog = \"count_execve\"\n"));
  EXPECT_EQ(errno_name(last(r).err), "EINVAL") << "BPF_XDP needs an XDP program, not a tracepoint one";
}

TEST(SimSteps, KeygenSignAndSkeletonLoad) {
  sim::RunResult r = run(kSigned + load_step());
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_TRUE(r.passed());
  const auto& s = last(r);
  EXPECT_TRUE(s.ok) << s.message;
  EXPECT_EQ(*s.retval, 0);
  EXPECT_EQ(*s.maps, 3);
  EXPECT_EQ(*s.progs, 1);
  EXPECT_EQ(s.check, "none");
  // The loader and the program it loads, each through the capability LSM.
  ASSERT_EQ(s.hooks.size(), 2u);
  EXPECT_EQ(s.hooks[0].hook, "bpf_prog_load");
  EXPECT_EQ(s.hooks[0].lsm, "capability");
  EXPECT_EQ(s.hooks[0].decision, "allow");
  EXPECT_EQ(s.audit.size(), 2u);
  EXPECT_EQ(r.kernel, "6.18");
  EXPECT_EQ(r.lsm, "capability");
}

TEST(SimSteps, RsaKeyAndLoadtimeScheme) {
  std::string text = kSigned;
  text.replace(text.find("algo = \"ec\""), 11, "algo = \"rsa\"");
  sim::RunResult r = run(text + load_step(), "loadtime");
  EXPECT_EQ(r.kernel, "loadtime");
  EXPECT_TRUE(last(r).ok) << last(r).message;
  // A loader-hash light skeleton on the loadtime kernel: without fd_array_cnt
  // its exclusive metadata map is bound before the digest exists, EACCES
  // (what this machine's 6.18 answers too, docs/kmodel.md).
  sim::RunResult mixed = run(text + "scheme = \"loader-hash\"\n" + load_step(), "loadtime");
  EXPECT_EQ(errno_name(last(mixed).err), "EACCES");
}

TEST(SimSteps, TamperEveryPartAndOperation) {
  struct Case {
    std::string part, op, check;
  };
  const Case cases[] = {
      {"data", "xor = 1\noffset = 8", "loader: -EINVAL"},
      {"insns", "xor = 1\noffset = 0", "signature: EKEYREJECTED"},
      {"signature", "truncate = 10", "signature: EBADMSG"},
      {"signature", "append = 8192", "signature: EINVAL"},
      {"signature", "garbage = 64", "signature: EBADMSG"},
      {"signature", "set = \"3000\"", "signature: EBADMSG"},
      {"excl_hash", "garbage = 32", "exclusive map: EACCES"},
  };
  for (const auto& c : cases) {
    sim::RunResult r = run(kSigned + tamper(c.part, c.op) + load_step());
    EXPECT_FALSE(last(r).ok) << c.part << " " << c.op;
    EXPECT_EQ(last(r).check, c.check) << c.part << " " << c.op << ": " << last(r).message;
  }
  // The signer certificate is not what the kernel checks: garbage there changes nothing.
  EXPECT_TRUE(last(run(kSigned + tamper("signer", "garbage = 16") + load_step())).ok);
}

TEST(SimSteps, TamperFromAnotherArtifact) {
  std::string text = kSigned +
                     "[[steps]]\nkind = \"sign\"\nartifact = \"b\"\nobject = \"xdpfilter\"\nkey = \"k\"\n" +
                     tamper("signature", "from = \"b\"") + load_step();
  EXPECT_EQ(last(run(text)).check, "signature: EKEYREJECTED");
}

TEST(SimSteps, TamperOffsetPastThePartIsBadInput) {
  try {
    run(kSigned + tamper("excl_hash", "xor = 1\noffset = 32"));
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "scenario");
    EXPECT_NE(std::string(e.what()).find("t.toml:19:10: steps[3].offset: offset 32 is past the excl_hash"),
              std::string::npos)
        << e.what();
  }
}

TEST(SimSteps, StepwiseLoadAndRun) {
  sim::RunResult r = run(kStepwise);
  ASSERT_EQ(r.steps.size(), 8u);
  for (const auto& s : r.steps) EXPECT_TRUE(s.ok) << s.index << " " << s.kind << ": " << s.message;
  EXPECT_EQ(*last(r).retval, 0);
  EXPECT_EQ(*last(r).progs, 1);
  EXPECT_EQ(*last(r).maps, 3);
  EXPECT_TRUE(r.passed());
}

TEST(SimSteps, MapHashOfAnUnfrozenMapDependsOnTheProfile) {
  std::string text = kSigned +
                     "[[steps]]\nkind = \"map_create\"\nmap = \"m\"\nvalue_size = 8\n"
                     "[[steps]]\nkind = \"map_hash\"\nmap = \"m\"\n";
  sim::RunResult fixed = run(text);
  EXPECT_EQ(last(fixed).check, "BPF_OBJ_GET_INFO_BY_FD: EPERM");
  sim::RunResult old = run("kernel = \"6.18-toctou\"\n" + text);
  EXPECT_TRUE(last(old).ok) << last(old).message;
}

TEST(SimSteps, MapUpdateWithHexValueAndHashSize) {
  std::string text = kSigned +
                     "[[steps]]\nkind = \"map_create\"\nmap = \"m\"\ntype = \"array\"\nvalue_size = 4\nmax_entries = 1\n"
                     "[[steps]]\nkind = \"map_update\"\nmap = \"m\"\nvalue = \"01020304\"\n"
                     "[[steps]]\nkind = \"map_update\"\nmap = \"m\"\nvalue = \"0102\"\n"
                     "[[steps]]\nkind = \"map_freeze\"\nmap = \"m\"\n"
                     "[[steps]]\nkind = \"map_hash\"\nmap = \"m\"\nhash_size = 20\n";
  sim::RunResult r = run(text);
  EXPECT_TRUE(r.steps[3].ok) << r.steps[3].message;
  EXPECT_FALSE(r.steps[4].ok);  // a 2-byte value for a 4-byte map
  EXPECT_EQ(errno_name(last(r).err), "EINVAL");
}

TEST(SimSteps, HashMapCreate) {
  sim::RunResult r = run(kSigned +
                         "[[steps]]\nkind = \"map_create\"\nmap = \"h\"\ntype = \"hash\"\nkey_size = 4\nvalue_size = 8\n"
                         "max_entries = 4\nprocess = \"other\"\n");
  EXPECT_TRUE(last(r).ok) << last(r).message;
}

TEST(SimSteps, SwapPointsTheLoadAtAnotherMap) {
  std::string text = kSigned +
                     "[[steps]]\nkind = \"map_create\"\nmap = \"meta\"\nlike = \"a\"\n"
                     "[[steps]]\nkind = \"map_create\"\nmap = \"copy\"\nlike = \"a\"\nexclusive = false\n"
                     "[[steps]]\nkind = \"map_update\"\nmap = \"copy\"\nfrom = \"a\"\n"
                     "[[steps]]\nkind = \"map_freeze\"\nmap = \"copy\"\n"
                     "[[steps]]\nkind = \"map_hash\"\nmap = \"copy\"\n"
                     "[[steps]]\nkind = \"swap\"\nmap = \"meta\"\nwith = \"copy\"\n" +
                     load_step("map = \"meta\"\n") + "[[steps]]\nkind = \"run\"\n";
  sim::RunResult r = run(text);
  // The copy has the right contents and hash, but is not exclusive: the loader's excl check refuses it.
  EXPECT_TRUE(r.steps[8].ok) << r.steps[8].message;
  EXPECT_EQ(last(r).check, "loader: -EINVAL");
  EXPECT_EQ(*last(r).retval, -22);
}

TEST(SimSteps, RawKernelLoadWithoutSignature) {
  std::string text = "lsm = \"capability,signed-only\"\n" + kStepwise;
  text.replace(text.find("keyring = \"trusted\"\n[[steps]]\nkind = \"run\""), std::string::npos,
               "signature = false\nkernel = true\nprog = \"p\"\n");
  sim::RunResult r = run(text);
  EXPECT_TRUE(last(r).ok) << last(r).message;
  ASSERT_EQ(last(r).hooks.size(), 2u);
  EXPECT_EQ(last(r).hooks[1].lsm, "signed-only");
  EXPECT_EQ(last(r).hooks[1].verdict, "NONE");
}

TEST(SimSteps, RunAfterAFailedLoadIsSkipped) {
  std::string text = kStepwise;
  text.replace(text.find("keyring = \"trusted\""), 19, "signature = true");  // builtin, still trusted
  text = text.substr(0, text.find("[[steps]]\nkind = \"map_freeze\"")) +
         text.substr(text.find("[[steps]]\nkind = \"map_hash\""));
  // Unfrozen: the hash is refused (EPERM), the load passes, the loader sees no hash: -EINVAL.
  sim::RunResult r = run(text);
  EXPECT_EQ(r.steps[4].check, "BPF_OBJ_GET_INFO_BY_FD: EPERM");
  EXPECT_EQ(last(r).check, "loader: -EINVAL");
  // A load refused (wrong keyring id) leaves nothing to run.
  std::string bogus = kStepwise;
  bogus.replace(bogus.find("keyring = \"trusted\""), 19, "keyring = \"bogus\"");
  sim::RunResult s = run(bogus.replace(bogus.find("[[steps]]"), 0, "[keyrings.bogus]\nid = 4242\n"));
  EXPECT_EQ(errno_name(s.steps[6].err), "EINVAL");
  EXPECT_TRUE(last(s).skipped);
  EXPECT_EQ(last(s).check, "skipped");
}

TEST(SimSteps, KeyringKinds) {
  for (const char* id : {"\"own\"", "\"session\"", "\"user\"", "\"secondary\""}) {
    std::string text = kSigned;
    text.replace(text.find("\"builtin\""), 9, id);
    EXPECT_TRUE(last(run(text + load_step())).ok) << id;
  }
  // The .bpf keyring exists only in the loadtime profile.
  std::string text = kSigned;
  text.replace(text.find("\"builtin\""), 9, "\"bpf\"");
  EXPECT_TRUE(last(run(text + load_step(), "loadtime")).ok);
  EXPECT_EQ(errno_name(last(run(text + load_step())).err), "EINVAL");
}

TEST(SimSteps, SchemesAndLsmsNotBuiltInAreRefused) {
  sim::Scenario s = sim::parse_scenario(kSigned, "t.toml");
  for (const char* scheme : {"hornet", "hash-chain"}) {
    if (sim::find_scheme(scheme)->sign) continue;  // plugged in since
    try {
      sim::run_scenario(s, scheme, options());
      FAIL() << scheme;
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EOPNOTSUPP) << e.what();
    }
  }
  if (!sim::find_lsm("ipe")->make) {
    sim::Scenario withipe = sim::parse_scenario("lsm = \"ipe\"\n" + kSigned, "t.toml");
    EXPECT_THROW(sim::run_scenario(withipe, "loader-hash", options()), Error);
  }
}

// ---- expectations ----------------------------------------------------------------

struct ExpectCase {
  std::string expect;   // the [steps.expect] body for the skeleton load of a tampered-metadata loader
  bool holds;
  std::string failure;  // part of the failure text when it does not hold
};

TEST(SimExpect, EveryKindHoldsOrFailsWithTheDifference) {
  const ExpectCase cases[] = {
      {"ok = false", true, ""},
      {"ok = true", false, "expected  ok, got refused"},
      {"errno = \"EINVAL\"", true, ""},
      {"errno = \"EPERM\"", false, "expected errno EPERM, got EINVAL"},
      {"check = \"loader: -EINVAL\"", true, ""},
      {"check = \"signature: EKEYREJECTED\"", false, "expected check 'signature: EKEYREJECTED', got 'loader: -EINVAL'"},
      {"verdict = \"NONE\"", true, ""},
      {"verdict = \"OK\"", false, "expected verdict OK, got NONE"},
      {"denied_by = \"none\"", true, ""},
      {"denied_by = \"bpf_prog_load\"", false, "expected denied_by bpf_prog_load, got none"},
      {"audit = \"lsm=capability verdict=NONE decision=allow\"", true, ""},
      {"audit = [\"decision=deny\"]", false, "expected an audit record containing 'decision=deny', got 1 records"},
      {"audit_count = 1", true, ""},
      {"audit_count = 4", false, "expected audit_count 4, got 1"},
      {"retval = -22", true, ""},
      {"retval = 0", false, "expected retval 0, got -22"},
      {"maps = 3", false, "expected maps 3, got none"},
      {"progs = 1", false, "expected progs 1, got none"},
  };
  for (const auto& c : cases) {
    std::string text = kSigned + tamper("data", "xor = 1\noffset = 8") + load_step("[steps.expect]\n" + c.expect + "\n");
    sim::RunResult r = run(text);
    EXPECT_EQ(r.passed(), c.holds) << c.expect;
    if (!c.holds) {
      ASSERT_EQ(last(r).failures.size(), 1u) << c.expect;
      EXPECT_NE(last(r).failures[0].find("step 4 (load a): " + c.failure), std::string::npos)
          << c.expect << " -> " << last(r).failures[0];
    }
  }
}

TEST(SimExpect, CountsOfASuccessfulLoad) {
  sim::RunResult ok = run(kSigned + load_step("[steps.expect]\nmaps = 3\nprogs = 1\nretval = 0\n"));
  EXPECT_TRUE(ok.passed());
  sim::RunResult bad = run(kSigned + load_step("[steps.expect]\nmaps = 2\nprogs = 2\n"));
  ASSERT_EQ(last(bad).failures.size(), 2u);
  EXPECT_NE(last(bad).failures[0].find("expected maps 2, got 3"), std::string::npos);
  EXPECT_NE(last(bad).failures[1].find("expected progs 2, got 1"), std::string::npos);
}

TEST(SimExpect, AStepWithoutExpectationMustSucceed) {
  sim::RunResult r = run(kSigned + tamper("signature", "truncate = 4") + load_step());
  EXPECT_FALSE(r.passed());
  ASSERT_EQ(last(r).failures.size(), 1u);
  EXPECT_NE(last(r).failures[0].find("expected  ok, got refused"), std::string::npos) << last(r).failures[0];
}

TEST(SimExpect, PerSchemeTablesReplaceTheCommonOne) {
  std::string text = kSigned + tamper("data", "xor = 1\noffset = 8") +
                     load_step("[steps.expect]\nok = false\n[steps.expect.loader-hash]\ncheck = \"loader: -EINVAL\"\n"
                               "[steps.expect.loadtime]\ncheck = \"signature: EKEYREJECTED\"\n");
  EXPECT_TRUE(run(text, "loader-hash").passed());
  EXPECT_TRUE(run(text, "loadtime").passed());
  std::string wrong = kSigned + tamper("data", "xor = 1\noffset = 8") +
                      load_step("[steps.expect.loadtime]\ncheck = \"loader: -EINVAL\"\n");
  sim::RunResult r = run(wrong, "loadtime");
  ASSERT_EQ(last(r).failures.size(), 1u);
  EXPECT_NE(last(r).failures[0].find("got 'signature: EKEYREJECTED'"), std::string::npos);
  // loader-hash has no table of its own and no common one: the step must succeed, and does not.
  EXPECT_FALSE(run(wrong, "loader-hash").passed());
}

TEST(SimExpect, DeniedByAndVerdictOfAnLsmDenial) {
  std::string text = "lsm = \"capability,signed-only\"\n" + kSigned +
                     load_step("[steps.expect]\nerrno = \"EPERM\"\ndenied_by = \"bpf_prog_load/signed-only\"\n"
                               "verdict = \"NONE\"\ncheck = \"bpf_prog_load/signed-only: NONE\"\n"
                               "audit = \"hook=bpf_prog_load lsm=signed-only verdict=NONE decision=deny\"\n");
  sim::RunResult r = run(text);
  EXPECT_TRUE(r.passed()) << (last(r).failures.empty() ? "" : last(r).failures[0]);
}

// ---- renderings, the matrix and the command -----------------------------------------

TEST(SimRender, JsonAndTextCarryStepsHooksAndFailures) {
  sim::RunResult r = run(kSigned + tamper("data", "xor = 1\noffset = 8") + load_step("[steps.expect]\nok = true\n"));
  auto j = nlohmann::json::parse(sim::runs_json({r}));
  EXPECT_EQ(j["ok"], false);
  const auto& step = j["runs"][0]["steps"][3];
  EXPECT_EQ(step["kind"], "load");
  EXPECT_EQ(step["errno_name"], "EINVAL");
  EXPECT_EQ(step["check"], "loader: -EINVAL");
  EXPECT_EQ(step["hooks"][0]["hook"], "bpf_prog_load");
  EXPECT_EQ(step["expect_held"], false);
  EXPECT_EQ(step["expect"]["ok"], true);
  std::string text = sim::runs_text({r});
  EXPECT_NE(text.find("[4] load a: refused at loader: -EINVAL"), std::string::npos) << text;
  EXPECT_NE(text.find("result: FAIL"), std::string::npos);
}

TEST(SimMatrix, AttacksMatchTheCheckedInTable) {
  sim::Matrix m = sim::run_matrix(test::source_dir() + "/scenarios/attacks", options());
  EXPECT_TRUE(m.all_held());
  std::string expected = test::read_text(test::source_dir() + "/tests/sim/expected_matrix.md");
  EXPECT_EQ(sim::matrix_markdown(m), expected);
  // Deterministic: a second run renders the same bytes.
  sim::Matrix again = sim::run_matrix(test::source_dir() + "/scenarios/attacks", options());
  EXPECT_EQ(sim::matrix_markdown(again), expected);
  // docs/attacks.md is this matrix, generated (sim --matrix --doc).
  EXPECT_EQ(sim::matrix_document(again), test::read_text(test::source_dir() + "/docs/attacks.md"));
}

TEST(SimMatrix, ExamplesPass) {
  sim::Matrix m = sim::run_matrix(test::source_dir() + "/scenarios/examples", options());
  EXPECT_TRUE(m.all_held()) << sim::matrix_text(m);
}

test::CommandResult sim_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), {test::cli_path(), "sim", "--examples", test::examples_dir()});
  return test::run_command(args);
}

TEST(SimCli, ExitCodesZeroOneTwo) {
  test::TempDir dir;
  std::string good = dir.file("good.toml"), failing = dir.file("failing.toml"), broken = dir.file("broken.toml");
  test::write_text(good, kSigned + load_step());
  test::write_text(failing, kSigned + load_step("[steps.expect]\nprogs = 7\n"));
  test::write_text(broken, kSigned + "[[steps]]\nkind = \"load\"\nartifact = \"nothing\"\n");
  auto g = sim_cmd({good});
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_NE(g.out.find("result: PASS"), std::string::npos);
  auto f = sim_cmd({failing});
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.err.find("step 3 (load a): expected progs 7, got 1"), std::string::npos) << f.err;
  auto b = sim_cmd({"-j", broken});
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("broken.toml:16:12: steps[3].artifact"), std::string::npos) << b.err;
  auto j = nlohmann::json::parse(b.out);
  EXPECT_EQ(j["error"]["kind"], "scenario");
  auto missing = sim_cmd({dir.file("none.toml")});
  EXPECT_EQ(missing.exit_code, 2);
}

TEST(SimCli, MatrixMarkdownAndJson) {
  test::TempDir dir;
  test::write_text(dir.file("a.toml"), kSigned + tamper("data", "xor = 1\noffset = 8") +
                                           load_step("[steps.expect]\ncheck = \"loader: -EINVAL\"\n"));
  auto md = sim_cmd({"--matrix", dir.path(), "--markdown"});
  EXPECT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(md.out,
            "| attack | loader-hash |\n|---|---|\n| t | detected: loader: -EINVAL; audit: allow only (1 record); ipe: - |\n");
  auto js = sim_cmd({"--matrix", dir.path(), "-j"});
  auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["rows"][0]["cells"]["loader-hash"]["where"], "loader: -EINVAL");
  EXPECT_EQ(j["rows"][0]["file"], "a.toml");
  auto out = sim_cmd({"--matrix", dir.path(), "--markdown", "-o", dir.file("m.md")});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(test::read_text(dir.file("m.md")), md.out);
  EXPECT_EQ(sim_cmd({"--matrix", dir.file("nowhere")}).exit_code, 2);
}

}  // namespace

namespace {

TEST(SimSteps, SignABundleAsItIsOrAgain) {
  test::TempDir dir;
  crypto::keygen({}, dir.file("k.pem"), dir.file("c.der"));
  auto key = crypto::load_private_key(dir.file("k.pem"));
  auto cert = crypto::load_certificate(dir.file("c.der"));
  skel::SignedLoader loader =
      skel::sign_object(test::examples_dir() + "/execcount.bpf.o", cert.get(), key.get(), test::loader_hash_excl());
  write_file_atomic(dir.file("x.bpfsig"), skel::encode_bundle(loader));
  std::string head = "name = \"b\"\n[keyrings.trusted]\nid = 0\nkeys = [\"k\"]\n[[steps]]\nkind = \"keygen\"\nkey = \"k\"\nalgo = \"ec\"\n";
  std::string as_is = head + "[[steps]]\nkind = \"sign\"\nartifact = \"a\"\nbundle = \"x.bpfsig\"\n" + load_step();
  sim::RunResult r = sim::run_scenario(sim::parse_scenario(as_is, dir.file("s.toml")), "", options());
  EXPECT_EQ(last(r).check, "signature: ENOKEY");  // signed by the bundle's key, not the scenario's
  std::string again = head + "[[steps]]\nkind = \"sign\"\nartifact = \"a\"\nbundle = \"x.bpfsig\"\nkey = \"k\"\n" + load_step();
  for (const char* scheme : {"loader-hash", "loadtime"}) {
    sim::RunResult r2 = sim::run_scenario(sim::parse_scenario(again, dir.file("s.toml")), scheme, options());
    EXPECT_TRUE(last(r2).ok) << scheme << ": " << last(r2).message;
  }
  // Without file access (fuzzing) the bundle is refused.
  sim::SimOptions closed = options();
  closed.allow_files = false;
  EXPECT_THROW(sim::run_scenario(sim::parse_scenario(again, dir.file("s.toml")), "", closed), Error);
}

}  // namespace

// ---- ctx rewrites (scenarios/attacks/ctx-*-rewritten.toml) ----------------------

namespace {

// kSigned with the sign step's extra keys (before the first ctx step).
std::string signed_with(const std::string& sign_keys) {
  return kSigned + sign_keys + R"([[steps]]
kind = "ctx_rewrite"
artifact = "a"
map = "exec_counts"
max_entries = 1
[[steps]]
kind = "ctx_rewrite"
artifact = "a"
map = "data"
value = "07000000"
)";
}

}  // namespace

TEST(SimCtxRewrite, EverySchemesLoaderCreatesTheSignedMaps) {
  for (const char* scheme : {"loader-hash", "loadtime", "hornet", "hash-chain"}) {
    SCOPED_TRACE(scheme);
    sim::RunResult r = run(signed_with("") + load_step("[steps.expect]\nmaps = 3\nmaps_as_signed = true\n"), scheme);
    EXPECT_TRUE(r.passed()) << sim::runs_text({r});
    ASSERT_EQ(r.steps.size(), 5u);
    EXPECT_EQ(r.steps[4].maps_as_signed, std::optional<bool>(true)) << r.steps[4].maps_difference;
  }
}

// The expectation can fail: bpftool 7.7's loader (ctx_overrides) takes the host's ctx.
TEST(SimCtxRewrite, ACtxOverridesLoaderTakesTheRewrittenValues) {
  for (const char* scheme : {"loader-hash", "hash-chain"}) {
    SCOPED_TRACE(scheme);
    sim::RunResult r = run(signed_with("ctx_overrides = true\n") + load_step("[steps.expect]\nmaps_as_signed = true\n"), scheme);
    EXPECT_FALSE(r.passed());
    ASSERT_EQ(r.steps.size(), 5u);
    EXPECT_EQ(r.steps[4].maps_as_signed, std::optional<bool>(false));
    EXPECT_NE(r.steps[4].maps_difference.find("max_entries 1, signed 4096"), std::string::npos)
        << r.steps[4].maps_difference;
    ASSERT_EQ(r.steps[4].failures.size(), 1u);
    EXPECT_NE(r.steps[4].failures[0].find("maps_as_signed"), std::string::npos) << r.steps[4].failures[0];
  }
  // Only the value rewritten: the created map holds the host's value.
  std::string value_only = kSigned + "ctx_overrides = true\n" + R"([[steps]]
kind = "ctx_rewrite"
artifact = "a"
map = "data"
value = "07000000"
)";
  sim::RunResult r = run(value_only + load_step());
  ASSERT_EQ(r.steps.size(), 4u);
  EXPECT_EQ(r.steps[3].maps_as_signed, std::optional<bool>(false));
  EXPECT_NE(r.steps[3].maps_difference.find("map 'data': value differs from the signed one at offset 0"),
            std::string::npos)
      << r.steps[3].maps_difference;
}

TEST(SimCtxRewrite, BadStepsAreScenarioErrors) {
  auto error_of = [](const std::string& text) {
    try {
      run(text);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), "scenario");
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(kSigned + "[[steps]]\nkind = \"ctx_rewrite\"\nartifact = \"a\"\nmap = \"nope\"\nmax_entries = 2\n")
                .find("has no map 'nope'"),
            std::string::npos);
  EXPECT_NE(error_of(kSigned + "[[steps]]\nkind = \"ctx_rewrite\"\nartifact = \"a\"\nmap = \"data\"\n")
                .find("takes max_entries, value or both"),
            std::string::npos);
  EXPECT_NE(error_of(kSigned + "[[steps]]\nkind = \"ctx_rewrite\"\nartifact = \"a\"\nmap = \"data\"\nmax_entries = 0\n")
                .find("between 1 and"),
            std::string::npos);
}
