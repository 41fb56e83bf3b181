// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the IPE policy parser. A policy that parses must render to a
// canonical text that parses to the same policy (and renders to itself), and
// both must decide every probe event the same way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
  return 0;
}
