// SPDX-License-Identifier: Apache-2.0
// The built-in LSMs: the capability baseline and "signed-only".
#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>

#include "bpfsig/ipe.h"
#include "bpfsig/lsm.h"
#include "bpfsig/hornet.h"

namespace bpfsig::lsm {

CapSet::CapSet(std::initializer_list<Cap> caps) {
  for (Cap cap : caps) bits_ |= uint64_t{1} << static_cast<unsigned>(cap);
}

// ---- capability ---------------------------------------------------------------------------

namespace {

// bpf_token_capable(): a token replaces the init namespace by its own, and
// CAP_SYS_ADMIN stands in for any other capability.
bool bpf_token_capable(const Caller& caller, const Token* token, Cap cap) {
  const CapSet& caps = token != nullptr ? token->caps : caller.caps;
  return caps.has(cap) || (cap != Cap::kSysAdmin && caps.has(Cap::kSysAdmin));
}

// kernel/bpf/syscall.c is_net_admin_prog_type().
bool is_net_admin_prog_type(uint32_t type) {
  switch (type) {
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_XDP:
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
    case BPF_PROG_TYPE_LWT_SEG6LOCAL:
    case BPF_PROG_TYPE_SK_SKB:
    case BPF_PROG_TYPE_SK_MSG:
    case BPF_PROG_TYPE_LIRC_MODE2:
    case BPF_PROG_TYPE_FLOW_DISSECTOR:
    case BPF_PROG_TYPE_CGROUP_DEVICE:
    case BPF_PROG_TYPE_CGROUP_SOCK:
    case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
    case BPF_PROG_TYPE_CGROUP_SOCKOPT:
    case BPF_PROG_TYPE_CGROUP_SYSCTL:
    case BPF_PROG_TYPE_SOCK_OPS:
    case BPF_PROG_TYPE_EXT:
      return true;
    default:
      return false;
  }
}

// kernel/bpf/syscall.c is_perfmon_prog_type().
bool is_perfmon_prog_type(uint32_t type) {
  switch (type) {
    case BPF_PROG_TYPE_KPROBE:
    case BPF_PROG_TYPE_TRACEPOINT:
    case BPF_PROG_TYPE_PERF_EVENT:
    case BPF_PROG_TYPE_RAW_TRACEPOINT:
    case BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE:
    case BPF_PROG_TYPE_TRACING:
    case BPF_PROG_TYPE_LSM:
    case BPF_PROG_TYPE_STRUCT_OPS:
    case BPF_PROG_TYPE_EXT:
      return true;
    default:
      return false;
  }
}

// The two program types an unprivileged user may load (when the sysctl allows it).
bool is_unprivileged_prog_type(uint32_t type) {
  return type == BPF_PROG_TYPE_SOCKET_FILTER || type == BPF_PROG_TYPE_CGROUP_SKB;
}

// map_create(): the types that need no capability, and those that need CAP_NET_ADMIN.
bool is_unprivileged_map_type(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_CGROUP_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
    case BPF_MAP_TYPE_RINGBUF:
    case BPF_MAP_TYPE_USER_RINGBUF:
    case BPF_MAP_TYPE_CGROUP_STORAGE:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
      return true;
    default:
      return false;
  }
}

bool is_net_admin_map_type(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_SOCKMAP:
    case BPF_MAP_TYPE_SOCKHASH:
    case BPF_MAP_TYPE_DEVMAP:
    case BPF_MAP_TYPE_DEVMAP_HASH:
    case BPF_MAP_TYPE_XSKMAP:
      return true;
    default:
      return false;
  }
}

}  // namespace

int capability_check_prog_load(const Caller& caller, const ProgLoadAttr& attr, const Token* token,
                               const CapabilityOptions& options) {
  const bool bpf_cap = bpf_token_capable(caller, token, Cap::kBpf);
  if (options.unprivileged_bpf_disabled && !bpf_cap) return -EPERM;
  if (!is_unprivileged_prog_type(attr.prog_type) && !bpf_cap) return -EPERM;
  if (is_net_admin_prog_type(attr.prog_type) && !bpf_token_capable(caller, token, Cap::kNetAdmin)) return -EPERM;
  if (is_perfmon_prog_type(attr.prog_type) && !bpf_token_capable(caller, token, Cap::kPerfmon)) return -EPERM;
  return 0;
}

int capability_check_map_create(const Caller& caller, const MapCreateAttr& attr, const Token* token,
                                const CapabilityOptions& options) {
  if (options.unprivileged_bpf_disabled && !bpf_token_capable(caller, token, Cap::kBpf)) return -EPERM;
  if (is_unprivileged_map_type(attr.map_type)) return 0;
  // Every other type needs CAP_BPF (the kernel refuses types it does not know).
  const Cap needed = is_net_admin_map_type(attr.map_type) ? Cap::kNetAdmin : Cap::kBpf;
  return bpf_token_capable(caller, token, needed) ? 0 : -EPERM;
}

CapabilityLsm::CapabilityLsm(CapabilityOptions options)
    : Lsm({"capability", LsmId::kCapability}, hook_bit(Hook::kBpfMapCreate) | hook_bit(Hook::kBpfProgLoad)),
      options_(options) {}

// syscall.c checks `current` whether or not the call came from the kernel: a
// loader's bpf_sys_bpf() loads are checked against the task that runs it.
int CapabilityLsm::bpf_map_create(const MapView&, const MapCreateAttr& attr, const Token* token, bool) {
  return capability_check_map_create(stack().current(), attr, token, options_);
}

int CapabilityLsm::bpf_prog_load(ProgView&, const ProgLoadAttr& attr, const Token* token, bool) {
  return capability_check_prog_load(stack().current(), attr, token, options_);
}

// ---- signed-only ----------------------------------------------------------------------------

SignedOnlyLsm::SignedOnlyLsm(SignedOnlyOptions options)
    : Lsm({"signed-only", LsmId::kBpfsigSignedOnly},
          hook_bit(Hook::kBpfProgLoadPostIntegrity) | hook_bit(Hook::kBpfProgLoad)),
      options_(options) {}

std::unique_ptr<ProgBlob> SignedOnlyLsm::new_prog_blob() const { return std::make_unique<Blob>(); }

// Keep the verdict and decide later: failing here would hide the verdicts of
// integrity LSMs that have not run yet (the framework allows either way).
int SignedOnlyLsm::bpf_prog_load_post_integrity(ProgView& prog, const ProgLoadAttr&, const Token*, bool,
                                                const LsmIdent&, IntegrityVerdict verdict) {
  blob<Blob>(prog)->received.push_back(verdict);
  return 0;
}

int SignedOnlyLsm::bpf_prog_load(ProgView& prog, const ProgLoadAttr&, const Token*, bool kernel) {
  if (kernel && options_.allow_kernel_loads) return 0;
  const auto& received = blob<Blob>(prog)->received;
  bool ok = std::find(received.begin(), received.end(), IntegrityVerdict::kOk) != received.end();
  return ok ? 0 : -EPERM;
}

// ---- registry ---------------------------------------------------------------------------------

LsmRegistry builtin_registry() {
  return {
      {"capability", [] { return std::make_unique<CapabilityLsm>(); }},
      {"signed-only", [] { return std::make_unique<SignedOnlyLsm>(); }},
      {"ipe", ipe::ipe_factory(std::make_shared<ipe::PolicyStore>())},
      {"hornet", [] { return std::make_unique<HornetLsm>(); }},
  };
}

}  // namespace bpfsig::lsm
