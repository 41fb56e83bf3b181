// SPDX-License-Identifier: Apache-2.0
// biolatency-like: block request issue time in an LRU hash keyed by the
// request, a log2 latency histogram per disk in a per-CPU hash at completion.
#include "corpus.h"

#define MAX_SLOTS 27

struct hist_key {
  u32 dev;
  u32 cmd_flags;
};

struct hist {
  u32 slots[MAX_SLOTS];
};

const volatile bool targ_per_disk = false;
const volatile bool targ_ms = false;

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 10240);
  __type(key, struct request *);
  __type(value, u64);
} start SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 256);
  __type(key, struct hist_key);
  __type(value, struct hist);
} hists SEC(".maps");

static __always_inline u64 log2_u32(u32 v) {
  u32 shift, r;
  r = (v > 0xFFFF) << 4; v >>= r;
  shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
  shift = (v > 0xF) << 2; v >>= shift; r |= shift;
  shift = (v > 0x3) << 1; v >>= shift; r |= shift;
  r |= (v >> 1);
  return r;
}

static __always_inline u64 log2l(u64 v) {
  u32 hi = v >> 32;
  return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue, struct request *rq) {
  u64 ts = bpf_ktime_get_ns();
  bpf_map_update_elem(&start, &rq, &ts, 0);
  return 0;
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, int error, unsigned int nr_bytes) {
  u64 *tsp = bpf_map_lookup_elem(&start, &rq);
  if (!tsp) return 0;
  s64 delta = (s64)(bpf_ktime_get_ns() - *tsp);
  if (delta < 0) goto cleanup;
  struct hist_key key = {};
  if (targ_per_disk) key.dev = BPF_CORE_READ(rq, __data_len);
  static const struct hist zero;
  struct hist *h = bpf_map_lookup_elem(&hists, &key);
  if (!h) {
    bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
    h = bpf_map_lookup_elem(&hists, &key);
    if (!h) goto cleanup;
  }
  delta /= targ_ms ? 1000000U : 1000U;
  u64 slot = log2l(delta);
  if (slot >= MAX_SLOTS) slot = MAX_SLOTS - 1;
  h->slots[slot]++;
cleanup:
  bpf_map_delete_elem(&start, &rq);
  return 0;
}
