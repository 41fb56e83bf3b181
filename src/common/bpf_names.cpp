// SPDX-License-Identifier: Apache-2.0
#include "common/bpf_names.h"

#include <array>

namespace bpfsig {
namespace {

// Indexed by enum bpf_map_type (Linux 6.18).
constexpr std::array<std::string_view, 34> kMapTypes = {
    "unspec",        "hash",         "array",          "prog_array",      "perf_event_array",
    "percpu_hash",   "percpu_array", "stack_trace",    "cgroup_array",    "lru_hash",
    "lru_percpu_hash", "lpm_trie",   "array_of_maps",  "hash_of_maps",    "devmap",
    "sockmap",       "cpumap",       "xskmap",         "sockhash",        "cgroup_storage",
    "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack",    "sk_storage",
    "devmap_hash",   "struct_ops",   "ringbuf",        "inode_storage",   "task_storage",
    "bloom_filter",  "user_ringbuf", "cgrp_storage",   "arena",
};

// Indexed by enum bpf_prog_type (Linux 6.18).
constexpr std::array<std::string_view, 33> kProgTypes = {
    "unspec",         "socket_filter",  "kprobe",          "sched_cls",       "sched_act",
    "tracepoint",     "xdp",            "perf_event",      "cgroup_skb",      "cgroup_sock",
    "lwt_in",         "lwt_out",        "lwt_xmit",        "sock_ops",        "sk_skb",
    "cgroup_device",  "sk_msg",         "raw_tracepoint",  "cgroup_sock_addr", "lwt_seg6local",
    "lirc_mode2",     "sk_reuseport",   "flow_dissector",  "cgroup_sysctl",   "raw_tracepoint_writable",
    "cgroup_sockopt", "tracing",        "struct_ops",      "ext",             "lsm",
    "sk_lookup",      "syscall",        "netfilter",
};

template <size_t N>
std::optional<std::string_view> lookup(const std::array<std::string_view, N>& table, uint32_t type) {
  if (type < table.size()) return table[type];
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> bpf_map_type_str(uint32_t type) { return lookup(kMapTypes, type); }
std::optional<std::string_view> bpf_prog_type_str(uint32_t type) { return lookup(kProgTypes, type); }

}  // namespace bpfsig
