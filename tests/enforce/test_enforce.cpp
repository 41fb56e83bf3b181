// SPDX-License-Identifier: Apache-2.0
// The enforcer's shared part: the policy compiler, the decision, the audit
// records, the model's enforce LSM, and what the command does on a kernel
// that cannot run it. The real 7.3 kernel runs the same policies in the VM
// suite (tests/qemu, Qemu.Enforce*).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bpfsig/enforce.h"
#include "bpfsig/enforcer.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "kmodel/kmodel_test_util.h"
#include "support/support.h"

using namespace bpfsig;
using enforce::CompiledPolicy;
using enforce::compile_policy;
using enforce::Mode;

namespace {

const std::string kHeader = "policy_name=t policy_version=0.0.1\nDEFAULT action=ALLOW\n";

CompiledPolicy compile(const std::string& rules, Mode mode = Mode::kEnforce) {
  return compile_policy(kHeader + rules, mode, "p.txt");
}

std::string error_kind(const std::string& rules) {
  try {
    compile(rules);
  } catch (const Error& e) {
    return e.kind() + ": " + e.what();
  }
  return "";
}

enforce::LoadFacts facts(uint8_t verdict, uint8_t keyring, bool kernel, uint32_t type = 31, uint32_t uid = 0) {
  return {verdict, keyring, kernel, type, uid};
}

constexpr uint8_t kUnsigned = 0, kVerified = 1;
constexpr uint8_t kNone = 0, kBuiltin = 1, kUser = 4;

// ---- compiling ----

TEST(EnforcePolicy, EachPropertyNarrowsItsMask) {
  CompiledPolicy c = compile(
      "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=USER action=ALLOW\n"
      "op=BPF_PROG_LOAD bpf_kernel=TRUE bpf_prog_type=TRACEPOINT action=ALLOW\n"
      "op=BPF_PROG_LOAD bpf_uid=1000 bpf_signature=NONE action=DENY\n");
  ASSERT_EQ(c.value.rule_count, 3u);
  EXPECT_EQ(c.value.magic, BPFSIG_ENFORCER_MAGIC);
  const auto& r = c.value.rules;
  EXPECT_EQ(r[0].sig_mask, 0x2);
  EXPECT_EQ(r[0].keyring_mask, 1u << 4);
  EXPECT_EQ(r[0].kernel_mask, 0x3);
  EXPECT_EQ(r[0].uid, BPFSIG_ENFORCER_ANY_UID);
  EXPECT_EQ(r[0].line, 3u);
  EXPECT_EQ(r[1].kernel_mask, 0x2);
  EXPECT_EQ(r[1].prog_type_mask, uint64_t{1} << 5);  // BPF_PROG_TYPE_TRACEPOINT
  EXPECT_EQ(r[2].uid, 1000u);
  EXPECT_EQ(r[2].sig_mask, 0x1);
  EXPECT_EQ(r[2].action, 1);
  EXPECT_EQ(c.value.default_action, 0);  // the global DEFAULT
  EXPECT_EQ(c.value.default_match, BPFSIG_MATCH_GLOBAL_DEFAULT);
  EXPECT_EQ(c.map_value().size(), sizeof(bpfsig_enforcer_policy));
}

TEST(EnforcePolicy, TheOpDefaultWinsOverTheGlobalOne) {
  CompiledPolicy c = compile("DEFAULT op=BPF_PROG_LOAD action=DENY\n");
  EXPECT_EQ(c.value.default_action, 1);
  EXPECT_EQ(c.value.default_match, BPFSIG_MATCH_OP_DEFAULT);
}

TEST(EnforcePolicy, WhatTheKernelDoesNotReportIsAnErrorNeverDropped) {
  EXPECT_NE(error_kind("op=BPF_PROG_LOAD bpf_signature=UNSIGNED action=DENY\n").find(
                "enforce_unsupported_property: p.txt:3: 'bpf_signature=UNSIGNED' cannot be evaluated"),
            std::string::npos);
  for (const char* v : {"PARTIALSIG", "UNKNOWNKEY", "UNEXPECTED", "FAULT", "BADSIG"})
    EXPECT_NE(error_kind(std::string("op=BPF_PROG_LOAD bpf_signature=") + v + " action=DENY\n")
                  .find("enforce_unsupported_property"),
              std::string::npos)
        << v;
  EXPECT_NE(error_kind("op=EXECUTE boot_verified=TRUE action=ALLOW\n").find("enforce_unsupported_op: p.txt:3: op=EXECUTE"),
            std::string::npos);
  // A file property on BPF_PROG_LOAD: the strict parser refuses it.
  EXPECT_NE(error_kind("op=BPF_PROG_LOAD boot_verified=TRUE action=ALLOW\n"), "");
  std::string many;
  for (int i = 0; i <= BPFSIG_ENFORCER_MAX_RULES; ++i) many += "op=BPF_PROG_LOAD bpf_uid=" + std::to_string(i) + " action=DENY\n";
  EXPECT_NE(error_kind(many).find("enforce_too_many_rules"), std::string::npos);
}

TEST(EnforcePolicy, NewPropertiesParseAndPrintBack) {
  ipe::Policy p = ipe::parse_policy(kHeader +
                                    "op=BPF_PROG_LOAD bpf_keyring=USER bpf_prog_type=LSM bpf_uid=0 action=ALLOW\n");
  const ipe::Rule& r = p.rules_for(ipe::Op::kBpfProgLoad).at(0);
  EXPECT_EQ(r.to_text(), "op=BPF_PROG_LOAD bpf_keyring=USER bpf_prog_type=LSM bpf_uid=0 action=ALLOW");
  EXPECT_EQ(r.props.at(1).number, 29u);  // BPF_PROG_TYPE_LSM
  for (const char* bad : {"bpf_prog_type=lsm", "bpf_prog_type=NOPE", "bpf_uid=-1", "bpf_uid=4294967295", "bpf_uid=",
                          "bpf_uid=1x", "bpf_keyring=OTHER"}) {
    try {
      ipe::parse_policy(kHeader + "op=BPF_PROG_LOAD " + bad + " action=ALLOW\n");
      ADD_FAILURE() << bad << " parsed";
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EBADMSG) << bad;
    }
  }
}

// ---- deciding ----

TEST(EnforceDecide, FirstMatchingRuleElseTheDefault) {
  CompiledPolicy c = compile(
      "DEFAULT op=BPF_PROG_LOAD action=DENY\n"
      "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
      "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=USER action=ALLOW\n"
      "op=BPF_PROG_LOAD bpf_signature=OK action=DENY\n");
  auto d = enforce::decide(c.value, facts(kUnsigned, kNone, false));
  EXPECT_EQ(d.action, ipe::Action::kDeny);
  EXPECT_EQ(d.match, BPFSIG_MATCH_OP_DEFAULT);
  EXPECT_TRUE(d.refused);
  d = enforce::decide(c.value, facts(kUnsigned, kNone, true));
  EXPECT_EQ(d.action, ipe::Action::kAllow);
  EXPECT_EQ(d.rule_index, 0u);
  EXPECT_EQ(d.rule_line, 4u);
  d = enforce::decide(c.value, facts(kVerified, kUser, false));
  EXPECT_EQ(d.rule_index, 1u);
  EXPECT_FALSE(d.refused);
  d = enforce::decide(c.value, facts(kVerified, kBuiltin, false));  // the key in the wrong keyring type
  EXPECT_EQ(d.rule_index, 2u);
  EXPECT_TRUE(d.refused);
}

TEST(EnforceDecide, AuditModeRefusesNothingButSaysWhat) {
  CompiledPolicy c = compile("DEFAULT op=BPF_PROG_LOAD action=DENY\n", Mode::kAudit);
  auto d = enforce::decide(c.value, facts(kUnsigned, kNone, false));
  EXPECT_EQ(d.action, ipe::Action::kDeny);
  EXPECT_FALSE(d.refused);
}

TEST(EnforceDecide, ProgTypeUidAndConflictingUids) {
  CompiledPolicy c = compile(
      "op=BPF_PROG_LOAD bpf_uid=1 bpf_uid=2 action=DENY\n"
      "op=BPF_PROG_LOAD bpf_prog_type=KPROBE bpf_uid=1000 action=DENY\n");
  EXPECT_EQ(enforce::decide(c.value, facts(kUnsigned, kNone, false, 2, 1000)).rule_index, 1u);
  EXPECT_EQ(enforce::decide(c.value, facts(kUnsigned, kNone, false, 2, 1000)).action, ipe::Action::kDeny);
  EXPECT_EQ(enforce::decide(c.value, facts(kUnsigned, kNone, false, 2, 0)).match, BPFSIG_MATCH_GLOBAL_DEFAULT);
  EXPECT_EQ(enforce::decide(c.value, facts(kUnsigned, kNone, false, 31, 1000)).match, BPFSIG_MATCH_GLOBAL_DEFAULT);
  // Rule 0 holds two different uids: it can match nobody.
  EXPECT_EQ(enforce::decide(c.value, facts(kUnsigned, kNone, false, 31, 1)).match, BPFSIG_MATCH_GLOBAL_DEFAULT);
}

TEST(EnforceDecide, AnUnconfiguredMapAllowsEverything) {
  bpfsig_enforcer_policy empty{};
  auto d = enforce::decide(empty, facts(kUnsigned, kNone, false));
  EXPECT_EQ(d.action, ipe::Action::kAllow);
  EXPECT_FALSE(d.refused);
}

// ---- records ----

bpfsig_enforcer_record sample_record() {
  bpfsig_enforcer_record r{};
  r.kind = BPFSIG_RECORD_PROG_LOAD;
  r.pid = 42;
  r.uid = 0;
  r.prog_type = 31;
  std::strcpy(r.comm, "bpftool");
  std::strcpy(r.prog_name, "my prog");
  r.action = 1;
  r.match = BPFSIG_MATCH_OP_DEFAULT;
  r.enforcing = 1;
  r.refused = 1;
  return r;
}

TEST(EnforceRecord, AuditLineInTheModelsForm) {
  enforce::Record rec;
  rec.raw = sample_record();
  rec.time_ms = 1796525981278;
  rec.serial = 7;
  EXPECT_EQ(enforce::audit_line(rec, nullptr),
            "type=1420 audit(1796525981.278:7): ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=1 pid=42 "
            "comm=\"bpftool\" uid=0 prog_type=SYSCALL prog_name=6D792070726F67 bpf_signature=NONE bpf_keyring=NONE "
            "bpf_kernel=FALSE rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\" decision=deny keyring_serial=0");
  nlohmann::json j = nlohmann::json::parse(enforce::json_line(rec, nullptr));
  EXPECT_EQ(j["type"], 1420);
  EXPECT_EQ(j["sec"], 1796525981u);
  EXPECT_EQ(j["msec"], 278u);
  EXPECT_EQ(j["decision"], "deny");
  EXPECT_EQ(j["errno"], -EPERM);
  EXPECT_EQ(j["prog_name"], "my prog");
  EXPECT_EQ(j["rule_line"], nullptr);
}

TEST(EnforceRecord, MatchedRuleIsNamedByItsText) {
  CompiledPolicy c = compile("op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\n");
  bpfsig_enforcer_record r = sample_record();
  r.match = BPFSIG_MATCH_RULE;
  r.action = 0;
  r.refused = 0;
  r.rule_index = 0;
  r.rule_line = 3;
  EXPECT_NE(enforce::decision_key(r, &c).find("rule=\"op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\" decision=allow"),
            std::string::npos);
  EXPECT_NE(enforce::decision_key(r, nullptr).find("rule=\"line 3\""), std::string::npos);
}

TEST(EnforceRecord, BadRecordsAreRefused) {
  bpfsig_enforcer_record r = sample_record();
  Bytes bytes(sizeof r);
  std::memcpy(bytes.data(), &r, sizeof r);
  EXPECT_EQ(enforce::decode_record(bytes).pid, 42u);
  EXPECT_THROW(enforce::decode_record(ByteView(bytes.data(), bytes.size() - 1)), Error);
  bytes[0] = 9;
  EXPECT_THROW(enforce::decode_record(bytes), Error);
}

// ---- the model ----

struct ModelRun {
  std::shared_ptr<std::vector<bpfsig_enforcer_record>> records = std::make_shared<std::vector<bpfsig_enforcer_record>>();
  std::shared_ptr<lsm::LsmStack> stack;
  kmodel::Kernel kernel{kmodel::KernelProfile::loadtime_2026()};
  kmodel::Process* proc = nullptr;

  explicit ModelRun(const CompiledPolicy& policy) {
    lsm::LsmRegistry registry = lsm::builtin_registry();
    registry["enforce"] = enforce::enforce_factory(std::make_shared<const CompiledPolicy>(policy), records);
    stack = std::make_shared<lsm::LsmStack>("capability,enforce", registry);
    stack->make_replayable("loader");
    kernel.set_lsm_stack(stack);
    proc = &kernel.spawn("loader");
  }
  int unsigned_load() {
    return test::errno_of([&] {
      kmodel::ProgLoadAttr attr;
      attr.insns = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
      attr.license = "GPL";
      attr.prog_flags = 0x10;
      attr.name = "plain";
      kernel.prog_load(*proc, attr);
    });
  }
  int signed_load(int32_t keyring_id) {
    return test::errno_of([&] {
      kmodel::SkeletonOptions options;
      options.keyring_id = keyring_id;
      kmodel::load_skeleton(kernel, *proc, test::scheme_example("execcount", skel::Scheme::kLoadtime), options);
    });
  }
  int32_t user_keyring() {
    int32_t id = kernel.keyring_create("user");
    kernel.keyring_add_cert(id, crypto::certificate_der(test::default_signer().cert.get()));
    return id;
  }
};

const std::string kSignedUser =
    "DEFAULT op=BPF_PROG_LOAD action=DENY\n"
    "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
    "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=USER action=ALLOW\n";

TEST(EnforceModel, UnsignedRefusedSignedSkeletonAndItsProgramsAllowed) {
  ModelRun m(compile(kSignedUser));
  EXPECT_EQ(m.unsigned_load(), EPERM);
  EXPECT_EQ(m.signed_load(m.user_keyring()), 0);
  ASSERT_EQ(m.records->size(), 3u);  // the unsigned program, the loader, count_execve
  EXPECT_EQ((*m.records)[0].refused, 1);
  EXPECT_EQ((*m.records)[1].verdict, 1);
  EXPECT_EQ((*m.records)[1].keyring_type, 4);
  EXPECT_EQ((*m.records)[1].kernel, 0);
  EXPECT_EQ((*m.records)[2].kernel, 1);
  EXPECT_EQ((*m.records)[2].rule_index, 0u);
  // Each decision is in the stack's audit log too, as the enforcer's text
  // (beside the stack's own record of every callback, as for IPE).
  std::vector<lsm::AuditRecord> audit;
  for (const auto& r : m.stack->audit_log().records())
    if (r.lsm == "enforce" && r.lsm_text) audit.push_back(r);
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_NE(audit[0].lsm_text->find("decision=deny"), std::string::npos);
}

TEST(EnforceModel, AKeyInTheWrongKeyringTypeIsRefused) {
  ModelRun m(compile("DEFAULT op=BPF_PROG_LOAD action=DENY\n"
                     "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
                     "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=BUILTIN action=ALLOW\n"));
  EXPECT_EQ(m.signed_load(m.user_keyring()), EPERM);
  kmodel::Kernel& k = m.kernel;
  k.keyring_add_cert(kmodel::kBuiltinKeyring, crypto::certificate_der(test::default_signer().cert.get()));
  EXPECT_EQ(m.signed_load(kmodel::kBuiltinKeyring), 0);
}

TEST(EnforceModel, AuditModeLetsEverythingThrough) {
  ModelRun m(compile(kSignedUser, Mode::kAudit));
  EXPECT_EQ(m.unsigned_load(), 0);
  ASSERT_EQ(m.records->size(), 1u);
  EXPECT_EQ(m.records->front().action, 1);
  EXPECT_EQ(m.records->front().refused, 0);
  EXPECT_NE(enforce::decision_key(m.records->front(), nullptr).find("decision=audit"), std::string::npos);
}

// ---- the command ----

TEST(EnforceCli, PolicyCheckAndRunAcceptTheSameFiles) {
  test::TempDir dir;
  const std::string policy = dir.file("p.txt");
  std::ofstream(policy) << kHeader << kSignedUser;
  auto check = test::bpfsig_cmd({"policy", "check", "--strict", "--enforcer", policy});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("enforcer: OK, 2 BPF_PROG_LOAD rules"), std::string::npos) << check.out;
  const std::string unsupported = dir.file("u.txt");
  std::ofstream(unsupported) << kHeader << "op=BPF_PROG_LOAD bpf_signature=BADSIG action=DENY\n";
  EXPECT_EQ(test::bpfsig_cmd({"policy", "check", unsupported}).exit_code, 0);  // valid IPE
  auto refused = test::bpfsig_cmd({"policy", "check", "--enforcer", unsupported});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("enforce_unsupported_property"), std::string::npos) << refused.err;
  auto run = test::bpfsig_cmd({"run", "-j", "--kernel", "loadtime", "--lsm", "capability,enforce", "--policy", policy,
                               "--keyring", "own", "-i", dir.file("c.der"), dir.file("missing.bpfsig")});
  EXPECT_NE(run.exit_code, 0);  // no bundle: the options themselves were accepted
  EXPECT_EQ(run.err.find("--policy"), std::string::npos) << run.err;
  // The policy and the bundle cannot both be standard input.
  auto twice = test::bpfsig_cmd({"run", "--lsm", "capability,enforce", "--policy", "-", "-"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("stdin_twice"), std::string::npos) << twice.err;
  auto no_policy = test::bpfsig_cmd({"run", "--lsm", "capability,enforce", dir.file("x")});
  EXPECT_EQ(no_policy.exit_code, 2) << no_policy.err;
  EXPECT_NE(no_policy.err.find("needs --policy"), std::string::npos) << no_policy.err;
}

TEST(EnforceCli, StartOnAKernelWithoutTheVerdictSaysWhatIsMissing) {
  sys::EnforcerSupport support = sys::probe_enforcer_support();
  if (support.ok()) GTEST_SKIP() << "skipped: this kernel can run the enforcer (the VM suite tests it)";
  test::TempDir dir;
  const std::string policy = dir.file("p.txt");
  std::ofstream(policy) << kHeader << kSignedUser;
  auto r = test::bpfsig_cmd({"enforce", "start", "--policy", policy, "--pin-dir", dir.file("pins")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("this kernel cannot run the enforcer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(support.missing), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("enforcer_unsupported"), std::string::npos) << r.err;
  struct stat st {};
  EXPECT_NE(::stat(dir.file("pins").c_str(), &st), 0) << "nothing is created";
}

TEST(EnforceCli, TheSupportProbeReadsBtfAndTheLsmList) {
  test::TempDir dir;
  std::ofstream(dir.file("lsm")) << "lockdown,capability,yama,bpf,ipe";
  sys::EnforcerSupport s = sys::probe_enforcer_support(dir.file("no-btf"), dir.file("lsm"));
  EXPECT_TRUE(s.bpf_lsm_active);
  EXPECT_FALSE(s.prog_aux_sig);
  EXPECT_NE(s.missing.find("prog->aux->sig"), std::string::npos);
  EXPECT_EQ(s.missing.find("BPF LSM"), std::string::npos);
  std::ofstream(dir.file("lsm2")) << "lockdown,capability,yama";
  s = sys::probe_enforcer_support(dir.file("no-btf"), dir.file("lsm2"));
  EXPECT_FALSE(s.bpf_lsm_active);
  EXPECT_NE(s.missing.find("the BPF LSM is not active"), std::string::npos);
  // The host's own BTF: 6.18 has no prog->aux->sig.
  if (::access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
    std::ifstream release("/proc/sys/kernel/osrelease");
    std::string version;
    release >> version;
    if (version.starts_with("6.")) {
      EXPECT_FALSE(sys::probe_enforcer_support().prog_aux_sig) << version;
    }
  }
}

TEST(EnforceCli, StatusAndStopWhenNothingIsPinned) {
  test::TempDir dir;
  auto status = test::bpfsig_cmd({"enforce", "status", "-j", "--pin-dir", dir.file("none")});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out)["running"], false);
  auto stop = test::bpfsig_cmd({"enforce", "stop", "--pin-dir", dir.file("none")});
  EXPECT_EQ(stop.exit_code, 1);
  EXPECT_NE(stop.err.find("enforcer_not_running"), std::string::npos) << stop.err;
}

}  // namespace
