// SPDX-License-Identifier: Apache-2.0
// profile-like: a perf_event program samples user and kernel stacks into a
// STACK_TRACE map and counts (pid, stacks) in a hash.
#include "corpus.h"

#define MAX_STACK_DEPTH 127

struct key_t {
  u32 pid;
  s32 user_stack_id;
  s32 kern_stack_id;
  char name[TASK_COMM_LEN];
};

const volatile bool kernel_stacks_only = false;
const volatile pid_t targ_pid = -1;

struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(key_size, sizeof(u32));
  __uint(value_size, MAX_STACK_DEPTH * sizeof(u64));
  __uint(max_entries, 16384);
} stackmap SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct key_t);
  __type(value, u64);
} counts SEC(".maps");

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx) {
  u64 id = bpf_get_current_pid_tgid();
  u32 pid = id >> 32;
  if (!pid) return 0;
  if (targ_pid != -1 && targ_pid != pid) return 0;
  struct key_t key = {.pid = pid};
  bpf_get_current_comm(&key.name, sizeof(key.name));
  key.kern_stack_id = bpf_get_stackid(ctx, &stackmap, 0);
  key.user_stack_id = kernel_stacks_only ? -1 : bpf_get_stackid(ctx, &stackmap, BPF_F_USER_STACK);
  u64 zero = 0, *val = bpf_map_lookup_elem(&counts, &key);
  if (!val) {
    bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
    val = bpf_map_lookup_elem(&counts, &key);
    if (!val) return 0;
  }
  __sync_fetch_and_add(val, 1);
  return 0;
}
