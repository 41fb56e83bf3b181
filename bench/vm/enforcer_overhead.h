// SPDX-License-Identifier: Apache-2.0
// The cost the enforcer adds to one BPF_PROG_LOAD, measured on a real kernel
// that runs it (inside the VM suite: bpfsig_vm_runner links this file; the
// host's 6.18 cannot run BPF-LSM programs). Baseline and enforced loads are
// timed in the same run, so the figure is a ratio (docs/enforce.md).
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

namespace bpfsig::bench {

// Allows everything after evaluating every rule: the enforcer's worst case
// for an allowed load.
inline constexpr const char* kOverheadPolicy =
    "policy_name=bench policy_version=0.0.1\n"
    "DEFAULT action=ALLOW\n"
    "op=BPF_PROG_LOAD bpf_uid=4000000000 action=DENY\n"
    "op=BPF_PROG_LOAD bpf_prog_type=KPROBE bpf_signature=OK action=DENY\n"
    "op=BPF_PROG_LOAD bpf_keyring=PLATFORM action=DENY\n";

// {"case": "enforce/overhead", "loads", "median_ns_without", "median_ns_with", "ratio"}:
// rounds of trivial SYSCALL program loads without the enforcer, then
// start(), the same rounds with it, then stop().
nlohmann::json measure_enforcer_overhead(const std::function<void()>& start, const std::function<void()>& stop);

}  // namespace bpfsig::bench
