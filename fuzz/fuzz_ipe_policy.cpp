// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the IPE policy parser. A policy that parses must render to a
// canonical text that parses to the same policy (and renders to itself), and
// both must decide every probe event the same way. A policy the enforcer
// compiles must make the enforcer decide as IPE does (enforce::decide against
// ipe::evaluate), for every load the enforcer can tell apart.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bpfsig/enforce.h"
#include "bpfsig/error.h"
#include "bpfsig/ipe.h"

namespace {

using namespace bpfsig;

std::vector<ipe::Event> probe_events() {
  std::vector<ipe::Event> events;
  for (int v = 0; v <= 7; ++v) {
    for (int keyring = 0; keyring <= 3; ++keyring) {
      for (bool kernel : {false, true}) {
        ipe::Event e;
        e.bpf_verdict = static_cast<lsm::IntegrityVerdict>(v);
        e.bpf_keyring_id = keyring;
        e.bpf_kernel = kernel;
        events.push_back(e);
      }
    }
  }
  for (size_t op = 0; op < ipe::kOpCount; ++op) {
    for (int bits = 0; bits < 16; ++bits) {
      ipe::Event e;
      e.op = static_cast<ipe::Op>(op);
      e.hook = ipe::EvalHook::kKernelRead;
      ipe::FileInfo f;
      f.from_initramfs = bits & 1;
      f.dmverity_signed = bits & 2;
      f.fsverity_signed = bits & 4;
      if (bits & 8) {
        f.dmverity_roothash = ipe::Digest{"sha256", Bytes{0xab, 0x01}};
        f.fsverity_digest = ipe::Digest{"sha256", Bytes{0xab, 0x01}};
      }
      e.file = f;
      events.push_back(e);
      e.file.reset();
      events.push_back(e);
    }
  }
  return events;
}

bool same_decision(const ipe::Decision& a, const ipe::Decision& b, ipe::Op op) {
  return a.action == b.action && a.match == b.match && a.rule_text(op) == b.rule_text(op);
}

bool has_keyring_property(const ipe::Policy& policy) {
  for (const auto& r : policy.rules_for(ipe::Op::kBpfProgLoad))
    for (const auto& p : r.props)
      if (p.type >= ipe::PropType::kBpfKeyringBuiltin && p.type <= ipe::PropType::kBpfKeyringPlatform) return true;
  for (const auto& r : policy.rules_for(ipe::Op::kBpfProgLoad))
    for (const auto& p : r.props)
      if (p.type == ipe::PropType::kBpfKeyringUser) return true;
  return false;
}

// The enforcer against IPE. Signed loads: keyring ids 0, 1, 2 and a user
// keyring are types BUILTIN..USER. Unsigned loads carry keyring type NONE in
// the kernel, where IPE would still read attr->keyring_id: compared only when
// no rule looks at the keyring.
void enforcer_agrees(const std::string& text, const ipe::Policy& policy) {
  enforce::CompiledPolicy c;
  try {
    c = enforce::compile_policy(text, enforce::Mode::kEnforce);
  } catch (const bpfsig::Error&) {
    return;
  }
  const bool keyring_rules = has_keyring_property(policy);
  const int32_t keyring_ids[] = {0, 1, 2, -3};
  for (int verdict = 0; verdict <= 1; ++verdict)
    for (int k = 0; k < 4; ++k)
      for (bool kernel : {false, true})
        for (uint32_t type : {2u, 31u})
          for (uint32_t uid : {0u, 1000u}) {
            if (verdict == 0 && (k > 0 || keyring_rules)) continue;
            ipe::Event e;
            e.bpf_verdict = verdict ? lsm::IntegrityVerdict::kOk : lsm::IntegrityVerdict::kNone;
            e.bpf_keyring_id = verdict ? keyring_ids[k] : 0;
            e.bpf_kernel = kernel;
            e.bpf_prog_type = type;
            e.uid = uid;
            ipe::Decision want = ipe::evaluate(policy, e);
            enforce::Decision got = enforce::decide(
                c.value, {static_cast<uint8_t>(verdict), static_cast<uint8_t>(verdict ? k + 1 : 0), kernel, type, uid});
            if (got.action != want.action || got.match != static_cast<uint8_t>(want.match)) __builtin_trap();
            if (want.rule && c.rules.at(got.rule_index).to_text() != want.rule->to_text()) __builtin_trap();
          }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<ipe::Event> events = probe_events();
  std::string text(reinterpret_cast<const char*>(data), size);
  ipe::Policy policy;
  try {
    policy = ipe::parse_policy(text);
  } catch (const bpfsig::Error&) {
    return 0;
  }
  std::string canonical = policy.render();
  ipe::Policy again;
  try {
    again = ipe::parse_policy(canonical);
  } catch (const bpfsig::Error&) {
    __builtin_trap();  // the canonical text of a valid policy must be valid
  }
  if (!again.same_as(policy) || again.render() != canonical) __builtin_trap();
  for (const auto& e : events) {
    ipe::Decision a = ipe::evaluate(policy, e), b = ipe::evaluate(again, e);
    if (!same_decision(a, b, e.op)) __builtin_trap();
    (void)ipe::audit_fields(e, a, true);
  }
  (void)ipe::policy_warnings(policy);
  enforcer_agrees(text, policy);
  return 0;
}
