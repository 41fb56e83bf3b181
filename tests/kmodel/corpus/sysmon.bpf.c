// SPDX-License-Identifier: Apache-2.0
// A system monitor's maps, one of each general-purpose type: a QUEUE and a
// STACK of recent pids, a BLOOM_FILTER of seen uids, an LPM_TRIE of address
// prefixes, a CGROUP_ARRAY, task/inode/socket/cgroup local storage, a
// USER_RINGBUF of commands from user space, an LRU_PERCPU_HASH of syscall
// counts, a REUSEPORT_SOCKARRAY and a PERCPU_CGROUP_STORAGE. A raw tracepoint
// at syscall entry drives them: not a SYSCALL program, those are sleepable,
// and sleepable programs may not use queues, stacks, bloom filters or tries.
// The inode, socket and cgroup storages and the reuseport array are for
// programs user space loads later.
#include "corpus.h"

struct lpm_key {
  u32 prefixlen;
  u32 addr;
};

struct command {
  u32 op, arg;
};

struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 64); __type(value, u32); } recent_q SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK); __uint(max_entries, 64); __type(value, u32); } recent_s SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
  __uint(max_entries, 1024);
  __uint(map_extra, 3);
  __type(value, u32);
} seen_uids SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 256);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lpm_key);
  __type(value, u32);
} prefixes SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
  __uint(max_entries, 8);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} cgroups SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, u64);
} task_calls SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_INODE_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, u32);
} inode_opens SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, u64);
} sk_bytes SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, u64);
} cgrp_events SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 1024);
  __type(key, u32);
  __type(value, u64);
} syscalls_by_pid SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
  __uint(max_entries, 16);
  __type(key, u32);
  __type(value, u64);
} listeners SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
  __type(key, struct bpf_cgroup_storage_key);
  __type(value, u64);
} cgroup_bytes SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_USER_RINGBUF);
  __uint(max_entries, 4096);
} commands SEC(".maps");

static long apply_command(struct bpf_dynptr *dynptr, void *ctx) {
  struct command cmd;
  if (bpf_dynptr_read(&cmd, sizeof(cmd), dynptr, 0, 0)) return 1;
  if (cmd.op == 1) bpf_map_push_elem(&recent_q, &cmd.arg, 0);
  if (cmd.op == 2) bpf_map_push_elem(&recent_s, &cmd.arg, 0);
  return 0;
}

SEC("raw_tp/sys_enter")
int sysmon_tick(void *ctx) {
  u32 uid = (u32)bpf_get_current_uid_gid(), pid = bpf_get_current_pid_tgid() >> 32, top = 0;
  long drained = bpf_user_ringbuf_drain(&commands, apply_command, 0, 0);
  if (bpf_map_peek_elem(&seen_uids, &uid)) bpf_map_push_elem(&seen_uids, &uid, 0);
  bpf_map_push_elem(&recent_q, &pid, BPF_EXIST);
  bpf_map_push_elem(&recent_s, &pid, BPF_EXIST);
  bpf_map_pop_elem(&recent_s, &top);
  struct lpm_key key = {.prefixlen = 32, .addr = 0x0100007f};
  u32 *match = bpf_map_lookup_elem(&prefixes, &key);
  struct task_struct *task = bpf_get_current_task_btf();
  u64 *calls = bpf_task_storage_get(&task_calls, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (calls) *calls += 1;
  u64 one = 1, *n = bpf_map_lookup_elem(&syscalls_by_pid, &pid);
  if (n) *n += 1;
  else bpf_map_update_elem(&syscalls_by_pid, &pid, &one, BPF_NOEXIST);
  return (int)drained + (match ? (int)*match : 0) + (int)top;
}
