// SPDX-License-Identifier: Apache-2.0
// An LSM policy: bprm_check_security refuses programs whose uid is in a deny
// list (a hash user space fills), counts decisions in a per-CPU array and
// reports each refusal through a ring buffer.
#include "corpus.h"

#define EPERM 1

struct denial {
  u32 pid, uid;
  char comm[TASK_COMM_LEN];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __type(key, u32);
  __type(value, u8);
} denied_uids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, u32);
  __type(value, u64);
} decisions SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 * 4096);
} denials SEC(".maps");

static void count(u32 which) {
  u64 *n = bpf_map_lookup_elem(&decisions, &which);
  if (n) *n += 1;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(check_exec, struct linux_binprm *bprm, int ret) {
  if (ret) return ret;
  u32 uid = (u32)bpf_get_current_uid_gid();
  if (!bpf_map_lookup_elem(&denied_uids, &uid)) {
    count(0);
    return 0;
  }
  count(1);
  struct denial *d = bpf_ringbuf_reserve(&denials, sizeof(*d), 0);
  if (d) {
    d->pid = bpf_get_current_pid_tgid() >> 32;
    d->uid = uid;
    bpf_get_current_comm(d->comm, sizeof(d->comm));
    bpf_ringbuf_submit(d, 0);
  }
  return -EPERM;
}
