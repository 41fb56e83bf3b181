// SPDX-License-Identifier: Apache-2.0
// bpfsig's enforcer, the part both kernels share: an IPE policy compiled into
// the enforcer's policy map (include/bpfsig/enforcer_abi.h), the decision the
// BPF-LSM program takes for one BPF_PROG_LOAD, its audit records in the
// model's type=1420 form, and the same rules as an LSM of the kernel model
// (`bpfsig run --lsm capability,enforce --policy P`).
//
// The real kernel's side (load, pin, log) is sys::enforcer_* in
// include/bpfsig/enforcer.h; docs/enforce.md describes the whole feature.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/enforcer_abi.h"
#include "bpfsig/ipe.h"
#include "bpfsig/lsm.h"

namespace bpfsig::enforce {

enum class Mode : uint32_t { kEnforce = BPFSIG_MODE_ENFORCE, kAudit = BPFSIG_MODE_AUDIT };
std::string_view mode_name(Mode mode);                 // "enforce", "audit"
std::optional<Mode> mode_from_name(std::string_view name);

// An IPE policy as the enforcer runs it: the map value, plus the rules' text
// for the audit lines (the map holds only their index and line).
struct CompiledPolicy {
  bpfsig_enforcer_policy value{};
  std::vector<ipe::Rule> rules;  // the BPF_PROG_LOAD rules, in map order
  std::string name, version;     // policy_name=, policy_version=
  std::string text;              // the policy text it was compiled from
  ipe::Action default_action = ipe::Action::kAllow;
  ipe::MatchType default_match = ipe::MatchType::kGlobalDefault;

  Bytes map_value() const;  // sizeof(bpfsig_enforcer_policy) bytes, key 0
};

// Parses `text` (ipe::parse_policy, strict) and compiles its BPF_PROG_LOAD
// rules. Everything the enforcer cannot evaluate is an error, never dropped:
//  - Error(EINVAL, "enforce_unsupported_property", "SOURCE:LINE: ...") for a
//    property the kernel does not report: bpf_signature= other than OK or NONE
//    (Linux 7.3 records only verified or unsigned; a bad signature fails the
//    load before any LSM), and every file property;
//  - Error(EINVAL, "enforce_unsupported_op", ...) for a rule of another op;
//  - Error(E2BIG, "enforce_too_many_rules", ...) above BPFSIG_ENFORCER_MAX_RULES.
// Parse errors are ipe::parse_policy's.
CompiledPolicy compile_policy(std::string_view text, Mode mode, const std::string& source = "policy");

// What one BPF_PROG_LOAD looks like to the enforcer: prog->aux->sig, the
// hook's `kernel` argument, prog->type and the caller's uid.
struct LoadFacts {
  uint8_t verdict = 0;       // enum bpf_sig_verdict: 0 unsigned, 1 verified
  uint8_t keyring_type = 0;  // enum bpf_sig_keyring
  bool kernel = false;
  uint32_t prog_type = 0;
  uint32_t uid = 0;
};

struct Decision {
  ipe::Action action = ipe::Action::kAllow;
  uint8_t match = BPFSIG_MATCH_GLOBAL_DEFAULT;  // BPFSIG_MATCH_*
  uint32_t rule_index = 0, rule_line = 0;       // for BPFSIG_MATCH_RULE
  bool refused = false;                          // -EPERM returned (enforce mode and DENY)
};

// The BPF program's loop, in C++: the first rule whose masks all hold, else
// the default. A value that is not configured (version 0) allows everything.
Decision decide(const bpfsig_enforcer_policy& policy, const LoadFacts& facts);

// One decoded ring-buffer record, with the wall-clock time `log` gives it.
struct Record {
  bpfsig_enforcer_record raw{};
  uint64_t time_ms = 0;  // milliseconds since the epoch
  uint64_t serial = 0;   // 1, 2, ... in the order read
};
// Error(EBADMSG, "enforce_bad_record") for a record of another size or kind.
bpfsig_enforcer_record decode_record(ByteView bytes);

// "ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=1 pid=7 comm=\"bpftool\" uid=0 prog_type=SYSCALL
//  prog_name=\"x\" bpf_signature=NONE bpf_keyring=NONE keyring_serial=0 bpf_kernel=FALSE
//  rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\" decision=deny" (one line): the
// fields after the audit stamp. `policy` names the matched rule; without it
// the rule is shown by its line.
std::string record_text(const bpfsig_enforcer_record& r, const CompiledPolicy* policy);
// type=1420 audit(SEC.MSEC:SERIAL): TEXT
std::string audit_line(const Record& r, const CompiledPolicy* policy);
// {"type":1420,"sec":..,"msec":..,"serial":..,"lsm":"enforce","hook":"bpf_prog_load",...,"text":TEXT}
std::string json_line(const Record& r, const CompiledPolicy* policy);

// The fields two runs of the same sequence must agree on, whatever the pids,
// times and keyring serials: "prog_type=SYSCALL prog_name=... bpf_signature=OK
// bpf_keyring=USER bpf_kernel=FALSE rule=\"...\" decision=allow enforcing=1".
std::string decision_key(const bpfsig_enforcer_record& r, const CompiledPolicy* policy);

// ---- the model ----------------------------------------------------------------------

// The enforcer as an LSM of the kernel model: bpf_prog_load only, the same
// decide() over the program's ProgSig (prog->aux->sig), an audit record per
// decision with record_text() as its text, and each raw record to the sink
// when one is given, so a test can compare them with the real kernel's.
class EnforceLsm : public lsm::Lsm {
 public:
  // `sink`, when given, gets every record (a test's view of a stack it does
  // not own).
  explicit EnforceLsm(std::shared_ptr<const CompiledPolicy> policy,
                      std::shared_ptr<std::vector<bpfsig_enforcer_record>> sink = nullptr);
  int bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr& attr, const lsm::Token* token,
                    bool kernel) override;

 private:
  std::shared_ptr<const CompiledPolicy> policy_;
  std::shared_ptr<std::vector<bpfsig_enforcer_record>> sink_;
};

// "enforce" for an lsm::LsmRegistry: each stack it is used for gets its own
// EnforceLsm over the one compiled policy (and the one sink, when given).
lsm::LsmFactory enforce_factory(std::shared_ptr<const CompiledPolicy> policy,
                                std::shared_ptr<std::vector<bpfsig_enforcer_record>> sink = nullptr);

}  // namespace bpfsig::enforce
