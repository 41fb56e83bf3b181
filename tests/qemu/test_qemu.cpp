// SPDX-License-Identifier: Apache-2.0
// The VM suite's checks: real kernels that verify signatures (Debian's 7.2
// and 7.3 under QEMU, scripts/vm/kernels.list) against bpfsig load, verify's
// per-kernel prediction, and the kernel model. The ctest fixture qemu_suite
// (scripts/vm/run-suite.sh) boots each kernel once and keeps one JSON line
// per case in BUILD/vm/NAME/results.jsonl; these tests read them.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpfsig/error.h"
#include "support/readme_journey.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const fs::path kVmDir = fs::path(BPFSIG_BINARY_DIR) / "vm";

std::vector<std::string> kernel_names() {
  std::ifstream in(fs::path(BPFSIG_SOURCE_DIR) / "scripts/vm/kernels.list");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name;
    if (words >> name && name[0] != '#') names.push_back(name);
  }
  return names;
}

std::vector<std::string> example_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(BPFSIG_EXAMPLES_DIR)) {
    std::string file = e.path().filename().string();
    if (file.size() > 6 && file.ends_with(".bpf.o")) names.push_back(file.substr(0, file.size() - 6));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The results of one kernel's boot, by case name.
struct KernelRun {
  std::string name;
  std::map<std::string, Json> cases;
};

std::string skip_reason() {
  std::ifstream in(kVmDir / "skipped");
  std::string reason;
  std::getline(in, reason);
  return reason;
}

class Qemu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string reason = skip_reason(); !reason.empty()) GTEST_SKIP() << "skipped: " << reason;
    for (const std::string& name : kernel_names()) {
      KernelRun run{name, {}};
      std::ifstream in(kVmDir / name / "results.jsonl");
      ASSERT_TRUE(in) << "no results for kernel " << name << ": the ctest fixture qemu_suite "
                      << "(scripts/vm/run-suite.sh) did not boot it; see " << (kVmDir / name / "console.txt");
      std::string line;
      while (std::getline(in, line)) {
        Json j = Json::parse(line, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << name << ": not JSON: " << line;
        run.cases[j.at("case").get<std::string>()] = j;
      }
      runs_.push_back(std::move(run));
    }
  }

  static const Json& get(const KernelRun& run, const std::string& name) {
    static const Json missing;
    auto it = run.cases.find(name);
    return it == run.cases.end() ? missing : it->second;
  }

  // The scheme each kernel checks, as the probe found it and bpfsig signs it.
  static std::string scheme_of(const std::string& kernel) { return kernel == "7.2" ? "loader-hash" : "loadtime"; }

  std::vector<KernelRun> runs_;
};

const std::vector<std::string> kTamperClasses = {
    "valid",          "wrong_certificate",   "insn_flipped",           "metadata_flipped",
    "signature_damaged", "unknown_keyring_serial", "metadata_not_frozen", "metadata_not_exclusive",
    "other_kernel_format", "signature_truncated"};

TEST_F(Qemu, TheProbeFindsWhatEachKernelChecks) {
  const std::map<std::string, std::string> expected = {{"7.2", "insns"}, {"7.3", "insns||metadata"}};
  for (const KernelRun& run : runs_) {
    const Json& probe = get(run, "probe");
    ASSERT_FALSE(probe.is_null()) << run.name << ": no probe result";
    EXPECT_TRUE(probe.at("signed_load").get<bool>()) << run.name;
    EXPECT_EQ(probe.at("signature_check"), expected.at(run.name)) << run.name << ": " << probe.dump();
  }
}

TEST_F(Qemu, EveryExampleLoadsSignedInTheSchemeItsKernelChecks) {
  for (const KernelRun& run : runs_)
    for (const std::string& example : example_names()) {
      const Json& cli = get(run, "cli/" + example + "/load");
      ASSERT_FALSE(cli.is_null()) << run.name << ": no `bpfsig load` of " << example;
      const Json& out = cli.at("output");
      ASSERT_TRUE(out.is_object()) << run.name << " " << example << ": " << cli.dump();
      EXPECT_TRUE(out.value("ok", false)) << run.name << " " << example << ": " << out.dump();
      EXPECT_TRUE(out.value("signature_sent", false)) << run.name << " " << example;
      const std::string checked = run.name == "7.3" ? "signature over insns||metadata"
                                                    : "signature over insns; the loader checks its metadata hash";
      EXPECT_EQ(out.value("kernel_checked", ""), checked) << run.name << " " << example;
      EXPECT_EQ(out.value("fd_array_cnt", -1), run.name == "7.3" ? 1 : 0) << run.name << " " << example;
      EXPECT_FALSE(out.at("programs").empty()) << run.name << " " << example;
    }
}

// Issue 12: loader-hash's default block (bpftool 7.7's: 28 instructions,
// mismatch jumps at cleanup+1; run-suite.sh signs with --scheme loader-hash
// alone) loads signed on 7.2, and the default scheme, loadtime, on 7.3.
TEST_F(Qemu, LoaderHashDefaultBlockLoadsSignedOn72) {
  size_t checked = 0;
  for (const KernelRun& run : runs_)
    for (const std::string& example : example_names()) {
      const Json& c = get(run, example + "/valid");
      ASSERT_FALSE(c.is_null()) << run.name << ": no case " << example << "/valid";
      EXPECT_EQ(c.value("scheme", ""), scheme_of(run.name)) << c.dump();
      EXPECT_EQ(c.at("kernel_errno"), 0) << run.name << " " << example << ": " << c.value("kernel_message", "");
      const Json& block = c.at("match_block");
      if (run.name == "7.2") {
        ASSERT_TRUE(block.is_object()) << c.dump();
        EXPECT_EQ(block.at("layout"), "6.18") << c.dump();
        EXPECT_EQ(block.at("length"), 28) << c.dump();
        EXPECT_EQ(block.at("mismatch_target"), "cleanup+1") << c.dump();
        EXPECT_EQ(block.at("shape_error"), "") << c.dump();
        EXPECT_EQ(c.value("kernel_checked", ""), "signature over insns; the loader checks its metadata hash");
        ++checked;
      } else {
        EXPECT_TRUE(block.is_null()) << "a loadtime loader has no hash-match block: " << c.dump();
        EXPECT_EQ(c.value("kernel_checked", ""), "signature over insns||metadata");
      }
    }
  EXPECT_EQ(checked, example_names().size()) << "the 7.2 kernel is in scripts/vm/kernels.list";
}

// tests/skel/bpftool_header_program.c, a C program written for bpftool 7.8's
// header, built against bpfsig's loadtime header (case "bpfsig") or bpftool
// 7.8's own ("bpftool78"), with libbpf 1.8's skel_internal.h, run by the
// runner with the signer's certificate in the session keyring.
TEST_F(Qemu, BpftoolHeaderProgramLoadsOn73) {
  for (const KernelRun& run : runs_) {
    if (run.name != "7.3") continue;
    const Json& c = get(run, "bpftool_header/bpfsig");
    ASSERT_FALSE(c.is_null()) << run.name << ": no case bpftool_header/bpfsig";
    ASSERT_TRUE(c.contains("exit")) << c.dump();
    EXPECT_EQ(c.at("exit"), 0) << c.dump();
    // Initial values after __open, then the load and attach, then .bss read through the mmapped map.
    EXPECT_NE(c.at("output").get<std::string>().find("sample_every=1 total_execs=0\nloaded: total_execs="),
              std::string::npos)
        << c.dump();
  }
}

TEST_F(Qemu, Bpftool78HeaderProgramLoadsOn73) {
  for (const KernelRun& run : runs_) {
    if (run.name != "7.3") continue;
    const Json& c = get(run, "bpftool_header/bpftool78");
    ASSERT_FALSE(c.is_null()) << run.name << ": no case bpftool_header/bpftool78";
    if (c.contains("skipped")) {
      const char* ci = std::getenv("CI");
      if (ci && std::string(ci) == "true") FAIL() << "CI=true: " << c.at("skipped");
      GTEST_SKIP() << "skipped: " << c.at("skipped").get<std::string>();
    }
    ASSERT_TRUE(c.contains("exit")) << c.dump();
    EXPECT_EQ(c.at("exit"), 0) << c.dump();
    EXPECT_NE(c.at("output").get<std::string>().find("sample_every=1 total_execs=0\nloaded: total_execs="),
              std::string::npos)
        << c.dump();
  }
}

// The README journey's steps marked "# On Linux 7.3" (bpfsig load signed,
// bpfsig enforce), run in the 7.3 VM by tests/qemu/runner/journey_cases.cpp
// after the journey's earlier steps: each prints what the README shows, up to
// keys, dates and ids (tests/cli/test_readme.cpp does the host's steps).
TEST_F(Qemu, ReadmeJourneyOn73) {
  std::ifstream readme(fs::path(BPFSIG_SOURCE_DIR) / "README.md");
  std::stringstream text;
  text << readme.rdbuf();
  const std::vector<bpfsig::test::JourneyStep> steps = bpfsig::test::journey_steps(text.str());
  size_t on_73 = 0;
  for (const KernelRun& run : runs_) {
    if (run.name != "7.3") continue;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (!steps[i].on_linux_73) continue;
      ++on_73;
      const Json& c = get(run, "readme/" + std::to_string(i));
      ASSERT_FALSE(c.is_null()) << "no case readme/" << i << " (" << steps[i].command << ")";
      EXPECT_EQ(bpfsig::test::normalize_journey_output(c.at("output").get<std::string>()),
                bpfsig::test::normalize_journey_output(steps[i].output))
          << "$ " << steps[i].command;
    }
  }
  EXPECT_GT(on_73, 0u) << "the README's journey has a block marked '" << bpfsig::test::kLinux73Marker << "'";
}

// 7.2 checks the 6.18 scheme: it hashes the instructions alone, so the
// load-time signature (over insns || metadata) is rejected. What the real
// kernel answered, through the program's own report of __load's error.
TEST_F(Qemu, BpftoolHeaderProgramOn72) {
  for (const KernelRun& run : runs_) {
    if (run.name != "7.2") continue;
    for (const std::string header : {"bpfsig", "bpftool78"}) {
      const Json& c = get(run, "bpftool_header/" + header);
      ASSERT_FALSE(c.is_null()) << run.name << ": no case bpftool_header/" << header;
      if (c.contains("skipped")) continue;  // Bpftool78HeaderProgramLoadsOn73 says why
      ASSERT_TRUE(c.contains("exit")) << c.dump();
      EXPECT_EQ(c.at("exit"), 2) << header << ": " << c.dump();
      EXPECT_NE(c.at("output").get<std::string>().find("load failed: -" + std::to_string(EKEYREJECTED)),
                std::string::npos)
          << header << ": " << c.dump();
    }
  }
}

// The errno table of docs/load.md: verify's prediction, the real kernel and
// the model, for every example, kernel and tamper class.
TEST_F(Qemu, VerifyPredictsEveryKernelAnswer) {
  std::ostringstream table;
  table << "| class |";
  for (const KernelRun& run : runs_) table << " Linux " << run.name << " (" << scheme_of(run.name) << ") |";
  table << "\n|---|";
  for (size_t i = 0; i < runs_.size(); ++i) table << "---|";
  table << "\n";
  for (const std::string& cls : kTamperClasses) {
    table << "| " << cls << " |";
    for (const KernelRun& run : runs_) {
      std::set<std::string> cells;
      for (const std::string& example : example_names()) {
        const Json& c = get(run, example + "/" + cls);
        ASSERT_FALSE(c.is_null()) << run.name << ": no case " << example << "/" << cls;
        int kernel = c.at("kernel_errno"), predicted = c.at("predicted_errno");
        EXPECT_EQ(predicted, kernel) << run.name << " " << example << "/" << cls << ": verify predicted "
                                     << bpfsig::errno_name(predicted) << " (" << c.value("predicted_kind", "")
                                     << "), the kernel answered " << bpfsig::errno_name(kernel) << ": "
                                     << c.value("kernel_message", "");
        cells.insert(kernel == 0 ? "loads" : bpfsig::errno_name(kernel));
      }
      table << " ";
      for (const std::string& cell : cells) table << cell << (cell == *cells.rbegin() ? "" : " / ");
      table << " |";
    }
    table << "\n";
  }
  std::cout << "kernel answers (verify's prediction equal in every cell):\n" << table.str();
}

TEST_F(Qemu, TheModelGivesTheKernelsErrnos) {
  for (const KernelRun& run : runs_)
    for (const std::string& example : example_names())
      for (const std::string& cls : kTamperClasses) {
        const Json& c = get(run, example + "/" + cls);
        ASSERT_FALSE(c.is_null()) << run.name << ": no case " << example << "/" << cls;
        EXPECT_EQ(c.at("model_errno"), c.at("kernel_errno"))
            << run.name << " " << example << "/" << cls << ": model: " << c.value("model_message", "")
            << "; kernel: " << c.value("kernel_message", "");
      }
}

// Types, names, sizes and program tags of what the loader created, ids aside.
TEST_F(Qemu, TheModelCreatesWhatTheKernelCreates) {
  for (const KernelRun& run : runs_)
    for (const std::string& example : example_names()) {
      const Json& c = get(run, example + "/valid");
      ASSERT_TRUE(c.contains("objects") && c.contains("model_objects")) << run.name << " " << example;
      EXPECT_EQ(c.at("model_objects"), c.at("objects")) << run.name << " " << example;
    }
}

TEST_F(Qemu, EveryKeyringChoiceGetsTheKernelsAnswer) {
  for (const KernelRun& run : runs_) {
    size_t seen = 0;
    for (const auto& [name, c] : run.cases) {
      if (c.value("class", "").rfind("keyring_", 0) != 0) continue;
      ++seen;
      EXPECT_EQ(c.at("kernel_errno"), c.at("expected_errno")) << run.name << " " << name << ": "
                                                              << c.value("kernel_message", "");
    }
    EXPECT_EQ(seen, 8u) << run.name << ": own, session, user, serial, builtin, secondary, platform, no anchor";
  }
}

TEST_F(Qemu, LoadRefusesWhatTheKernelWouldNotCheckAndSaysWhy) {
  for (const KernelRun& run : runs_) {
    const Json& no_anchor = get(run, "cli/no_anchor").at("output");
    EXPECT_EQ(no_anchor.at("error").at("kind"), "no_trust_anchor") << run.name;
    const Json& other = get(run, "cli/other_scheme").at("output");
    EXPECT_EQ(other.at("error").at("kind"), "scheme_not_in_kernel") << run.name;
    const std::string fix = "--scheme " + scheme_of(run.name);
    EXPECT_NE(other.at("error").at("message").get<std::string>().find(fix), std::string::npos)
        << run.name << ": " << other.dump();
  }
}

TEST_F(Qemu, VerifierLogReachesTheLoadersPrograms) {
  for (const KernelRun& run : runs_) {
    const Json& out = get(run, "cli/verifier_log").at("output");
    ASSERT_TRUE(out.value("ok", false)) << run.name << ": " << out.dump();
    // The loader hands its log buffer to every program it loads; a
    // successful level-1 log ends with the verifier's statistics line.
    EXPECT_NE(out.value("verifier_log", "").find("processed "), std::string::npos) << run.name << ": " << out.dump();
  }
}

// ---- bpfsig enforce on the real 7.3 kernel (docs/enforce.md) ----

// The kernels whose runner ran the enforcer's sequence: all of them (7.2
// records prog->aux->sig for its 6.18-scheme check, 7.3 for the load-time one,
// and both have the BPF LSM on).
std::vector<const KernelRun*> enforcer_runs(const std::vector<KernelRun>& runs) {
  std::vector<const KernelRun*> out;
  for (const KernelRun& run : runs) out.push_back(&run);
  return out;
}

bool any_contains(const Json& keys, const std::string& needle) {
  for (const Json& k : keys)
    if (k.get<std::string>().find(needle) != std::string::npos) return true;
  return false;
}

TEST_F(Qemu, EnforceRefusesUnsignedAndLetsSignedSkeletonsThrough) {
  for (const KernelRun* run : enforcer_runs(runs_)) {
    const Json& c = get(*run, "enforce/signed_user");
    ASSERT_TRUE(c.contains("kernel_outcomes")) << run->name << ": " << c.dump();
    const Json& out = c.at("kernel_outcomes");
    EXPECT_EQ(out.at("unsigned"), EPERM) << c.dump();
    EXPECT_EQ(out.at("signed"), 0) << c.dump();
    EXPECT_NE(out.at("bpftool_prog_load"), 0) << "an unsigned `bpftool prog load` went through: " << c.dump();
    EXPECT_EQ(out.at("unsigned_after_stop"), 0) << "stop did not remove the enforcer: " << c.dump();
    const Json& d = c.at("kernel_decisions");
    // The unsigned load, then the signed loader and each program it loads.
    ASSERT_GE(d.size(), 3u) << c.dump();
    EXPECT_NE(d[0].get<std::string>().find("prog_name=\"enf_unsigned\" bpf_signature=NONE"), std::string::npos) << d;
    EXPECT_NE(d[0].get<std::string>().find("rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\" decision=deny"),
              std::string::npos) << d;
    EXPECT_NE(d[1].get<std::string>().find("prog_type=SYSCALL prog_name=\"__loader.prog\" bpf_signature=OK "
                                           "bpf_keyring=USER bpf_kernel=FALSE"),
              std::string::npos) << d;
    EXPECT_NE(d[1].get<std::string>().find("decision=allow"), std::string::npos) << d;
    for (size_t i = 2; i < d.size(); ++i)
      EXPECT_NE(d[i].get<std::string>().find("bpf_kernel=TRUE rule=\"op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\" "
                                             "decision=allow"),
                std::string::npos) << d;
    // bpftool's loads (its feature probes and the object) are all refused.
    bool bpftool_seen = false;
    for (const Json& o : c.at("kernel_other_records"))
      if (o.at("comm") == "bpftool") {
        bpftool_seen = true;
        EXPECT_NE(o.at("key").get<std::string>().find("decision=deny"), std::string::npos) << o;
      }
    EXPECT_TRUE(bpftool_seen) << c.dump();
  }
}

TEST_F(Qemu, EnforceGuardsItsPinsAgainstEveryoneButStop) {
  for (const KernelRun* run : enforcer_runs(runs_)) {
    const Json& c = get(*run, "enforce/signed_user");
    ASSERT_TRUE(c.contains("kernel_outcomes")) << run->name << ": " << c.dump();
    const Json& out = c.at("kernel_outcomes");
    EXPECT_NE(out.at("rm_link_pin"), 0) << c.dump();
    EXPECT_NE(out.at("umount_bpffs"), 0) << c.dump();
    EXPECT_NE(out.at("bpftool_link_detach"), 0) << c.dump();
    // Still enforcing after every attempt.
    EXPECT_EQ(out.at("unsigned_after_attempts"), EPERM) << c.dump();
    size_t guards = 0;
    for (const Json& o : c.at("kernel_other_records"))
      if (o.at("key").get<std::string>().starts_with("guard=")) {
        ++guards;
        EXPECT_NE(o.at("key").get<std::string>().find("decision=deny"), std::string::npos) << o;
      }
    EXPECT_GE(guards, 2u) << "rm and umount should each leave a guard record: " << c.dump();
  }
}

TEST_F(Qemu, EnforceRefusesAKeyInTheWrongKeyringType) {
  for (const KernelRun* run : enforcer_runs(runs_)) {
    const Json& c = get(*run, "enforce/wrong_keyring");
    ASSERT_TRUE(c.contains("kernel_outcomes")) << run->name << ": " << c.dump();
    EXPECT_EQ(c.at("kernel_outcomes").at("signed"), EPERM) << c.dump();
    const Json& d = c.at("kernel_decisions");
    ASSERT_EQ(d.size(), 1u) << c.dump();
    EXPECT_NE(d[0].get<std::string>().find("bpf_signature=OK bpf_keyring=USER"), std::string::npos) << d;
    EXPECT_NE(d[0].get<std::string>().find("decision=deny"), std::string::npos) << d;
  }
}

TEST_F(Qemu, EnforceAuditModeRefusesNothing) {
  for (const KernelRun* run : enforcer_runs(runs_)) {
    const Json& c = get(*run, "enforce/audit");
    ASSERT_TRUE(c.contains("kernel_outcomes")) << run->name << ": " << c.dump();
    EXPECT_EQ(c.at("kernel_outcomes").at("unsigned"), 0) << c.dump();
    EXPECT_EQ(c.at("kernel_outcomes").at("signed"), 0) << c.dump();
    const Json& d = c.at("kernel_decisions");
    EXPECT_TRUE(any_contains(d, "bpf_signature=NONE")) << d;
    for (const Json& k : d) {
      EXPECT_EQ(k.get<std::string>().find("decision=deny"), std::string::npos) << d;
      if (k.get<std::string>().find("bpf_kernel=FALSE") != std::string::npos) {
        EXPECT_NE(k.get<std::string>().find("decision=audit"), std::string::npos) << "what enforce would refuse: " << d;
      }
    }
  }
}

// The differential test: the model, given the same compiled policy, takes
// the same decisions in the same order as the real kernel's enforcer.
TEST_F(Qemu, EnforceModelDecidesAsTheRealKernel) {
  size_t phases = 0;
  for (const KernelRun* run : enforcer_runs(runs_))
    for (const std::string phase : {"signed_user", "wrong_keyring", "audit"}) {
      const Json& c = get(*run, "enforce/" + phase);
      ASSERT_TRUE(c.contains("kernel_decisions")) << run->name << " " << phase << ": " << c.dump();
      EXPECT_EQ(c.at("model_decisions"), c.at("kernel_decisions")) << run->name << " " << phase;
      for (const std::string step : {"unsigned", "signed"})
        if (c.at("model_outcomes").contains(step)) {
          EXPECT_EQ(c.at("model_outcomes").at(step), c.at("kernel_outcomes").at(step)) << phase << " " << step;
        }
      ++phases;
    }
  EXPECT_EQ(phases, 3 * runs_.size());
}

TEST_F(Qemu, EnforceOverheadIsMeasured) {
  for (const KernelRun* run : enforcer_runs(runs_)) {
    const Json& c = get(*run, "enforce/overhead");
    ASSERT_TRUE(c.contains("ratio")) << c.dump();
    EXPECT_GT(c.at("median_ns_without").get<uint64_t>(), 0u);
    EXPECT_GT(c.at("median_ns_with").get<uint64_t>(), 0u);
    std::cout << "enforcer overhead on Linux " << run->name << " (TCG): one BPF_PROG_LOAD " << c.at("median_ns_without")
              << " ns without, " << c.at("median_ns_with") << " ns with, ratio " << c.at("ratio") << "\n";
  }
}

// The "Done when" of docs/enforce.md, through the command itself.
TEST_F(Qemu, EnforceCommandRefusesUnsignedBpftoolAndAllowsSignedSkeletons) {
  for (const KernelRun* run : enforcer_runs(runs_)) {
    const Json& start = get(*run, "cli/enforce/start").at("output");
    ASSERT_TRUE(start.is_object()) << start.dump();
    EXPECT_EQ(start.value("running", false), true) << start.dump();
    EXPECT_EQ(start.value("mode", ""), "enforce") << start.dump();
    EXPECT_EQ(start.at("attachments").size(), 4u) << start.dump();
    EXPECT_NE(get(*run, "cli/enforce/bpftool_prog_load").at("exit"), 0);
    const Json& load = get(*run, "cli/enforce/signed_load").at("output");
    EXPECT_TRUE(load.value("ok", false)) << load.dump();
    EXPECT_GT(get(*run, "cli/enforce/status").at("output").value("decisions", 0), 0);
    bool bpftool_denied = false, loader_allowed = false;
    for (const Json& r : get(*run, "cli/enforce/log").at("output")) {
      EXPECT_EQ(r.at("type"), 1420);
      if (r.at("comm") == "bpftool" && r.at("decision") == "deny") bpftool_denied = true;
      if (r.value("prog_name", "") == "__loader.prog" && r.at("decision") == "allow" && r.at("bpf_signature") == "OK")
        loader_allowed = true;
    }
    EXPECT_TRUE(bpftool_denied) << get(*run, "cli/enforce/log").dump();
    EXPECT_TRUE(loader_allowed) << get(*run, "cli/enforce/log").dump();
    EXPECT_EQ(get(*run, "cli/enforce/stop").at("output").value("stopped", false), true);
    EXPECT_EQ(get(*run, "cli/enforce/status_after_stop").at("output").value("running", true), false);
  }
}

// The kernel model's corpus (tests/kmodel/corpus, docs/kmodel.md "Corpus")
// on 7.3, which loads the program types the host refuses: each program
// loads signed in the real kernel and in the model, with the same maps and
// programs (types, names, sizes, tags).
TEST_F(Qemu, CorpusModelCreatesWhatTheKernelCreates) {
  std::vector<std::string> programs;
  for (const auto& e : fs::directory_iterator(BPFSIG_CORPUS_DIR))
    if (e.path().filename().string().ends_with(".bpf.o")) programs.push_back(e.path().stem().stem().string());
  ASSERT_FALSE(programs.empty()) << "build the `corpus` target";
  for (const KernelRun& run : runs_) {
    if (run.name != "7.3") continue;
    for (const std::string& program : programs) {
      const Json& c = get(run, "corpus/" + program);
      ASSERT_FALSE(c.is_null()) << "no corpus result for " << program;
      EXPECT_EQ(c.value("kernel_errno", -1), 0) << program << ": " << c.dump();
      EXPECT_EQ(c.value("model_errno", -1), 0) << program << ": " << c.dump();
      EXPECT_EQ(c.value("model_objects", Json()), c.value("objects", Json())) << program;
    }
  }
}

}  // namespace

