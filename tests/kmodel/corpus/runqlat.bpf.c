// SPDX-License-Identifier: Apache-2.0
// runqlat-like: wakeup time per pid at sched_wakeup/sched_wakeup_new
// (tp_btf: typed arguments, attach_btf_id), run-queue latency histogram at
// sched_switch, the previous task's state read through CO-RE.
#include "corpus.h"

#define MAX_SLOTS 26
#define TASK_RUNNING 0

struct hist {
  u32 slots[MAX_SLOTS];
  char comm[TASK_COMM_LEN];
};

const volatile bool targ_per_process = false;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, u32);
  __type(value, u64);
} start SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, u32);
  __type(value, struct hist);
} hists SEC(".maps");

static int trace_enqueue(u32 tgid, u32 pid) {
  if (!pid) return 0;
  u64 ts = bpf_ktime_get_ns();
  bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
  return 0;
}

static unsigned int task_state(struct task_struct *t) {
  return BPF_CORE_READ(t, __state);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p) {
  return trace_enqueue(p->tgid, p->pid);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *p) {
  return trace_enqueue(p->tgid, p->pid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next) {
  if (task_state(prev) == TASK_RUNNING) trace_enqueue(prev->tgid, prev->pid);
  u32 pid = next->pid;
  u64 *tsp = bpf_map_lookup_elem(&start, &pid);
  if (!tsp) return 0;
  s64 delta = bpf_ktime_get_ns() - *tsp;
  if (delta < 0) goto cleanup;
  u32 key = targ_per_process ? (u32)next->tgid : 0;
  static struct hist zero;
  struct hist *h = bpf_map_lookup_elem(&hists, &key);
  if (!h) {
    bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
    h = bpf_map_lookup_elem(&hists, &key);
    if (!h) goto cleanup;
  }
  u64 slot = 0;
  for (delta /= 1000; delta > 1 && slot < MAX_SLOTS - 1; delta >>= 1) slot++;
  __sync_fetch_and_add(&h->slots[slot], 1);
cleanup:
  bpf_map_delete_elem(&start, &pid);
  return 0;
}
