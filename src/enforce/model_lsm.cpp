// SPDX-License-Identifier: Apache-2.0
// The enforcer in the kernel model: the same compiled policy and the same
// decision as the BPF program, from the model's prog->aux->sig.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpfsig/enforce.h"

namespace bpfsig::enforce {

namespace {

// The model's `.bpf` keyring type has no enum bpf_sig_keyring value in 7.3:
// it is outside every rule's mask, as an unknown value would be in the kernel.
uint8_t keyring_type_of(const lsm::ProgSig& sig) { return static_cast<uint8_t>(sig.keyring_type); }

void copy_name(char (&dst)[16], const std::string& src) {
  std::memset(dst, 0, sizeof(dst));
  std::memcpy(dst, src.data(), std::min(src.size(), sizeof(dst) - 1));
}

}  // namespace

EnforceLsm::EnforceLsm(std::shared_ptr<const CompiledPolicy> policy,
                       std::shared_ptr<std::vector<bpfsig_enforcer_record>> sink)
    : Lsm({"enforce", lsm::LsmId::kBpf}, lsm::hook_bit(lsm::Hook::kBpfProgLoad)),
      policy_(std::move(policy)),
      sink_(std::move(sink)) {}

int EnforceLsm::bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr&, const lsm::Token*, bool kernel) {
  LoadFacts facts;
  facts.verdict = static_cast<uint8_t>(prog.sig.verdict);
  facts.keyring_type = keyring_type_of(prog.sig);
  facts.kernel = kernel;
  facts.prog_type = prog.prog_type;
  facts.uid = stack().current().uid;
  const Decision d = decide(policy_->value, facts);

  bpfsig_enforcer_record r{};
  r.kind = BPFSIG_RECORD_PROG_LOAD;
  r.pid = static_cast<uint32_t>(stack().current().pid);
  r.uid = facts.uid;
  r.prog_type = facts.prog_type;
  copy_name(r.comm, stack().current().comm);
  copy_name(r.prog_name, prog.name);
  r.keyring_serial = prog.sig.keyring_serial;
  r.verdict = facts.verdict;
  r.keyring_type = facts.keyring_type;
  r.kernel = kernel ? 1 : 0;
  r.action = static_cast<uint8_t>(d.action);
  r.match = d.match;
  r.enforcing = policy_->value.mode == BPFSIG_MODE_ENFORCE;
  r.refused = d.refused;
  r.rule_line = d.rule_line;
  r.rule_index = d.rule_index;
  if (sink_) sink_->push_back(r);

  lsm::AuditRecord rec;
  rec.pid = stack().current().pid;
  rec.comm = stack().current().comm;
  rec.hook = lsm::Hook::kBpfProgLoad;
  rec.lsm = name();
  rec.err = d.refused ? -EPERM : 0;
  rec.lsm_text = record_text(r, policy_.get());
  stack().emit_audit(std::move(rec));
  return d.refused ? -EPERM : 0;
}

lsm::LsmFactory enforce_factory(std::shared_ptr<const CompiledPolicy> policy,
                                std::shared_ptr<std::vector<bpfsig_enforcer_record>> sink) {
  return [policy, sink] { return std::make_unique<EnforceLsm>(policy, sink); };
}

}  // namespace bpfsig::enforce
