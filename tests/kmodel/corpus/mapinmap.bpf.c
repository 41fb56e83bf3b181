// SPDX-License-Identifier: Apache-2.0
// Map-in-map: per-tenant counters in inner arrays, found through an
// ARRAY_OF_MAPS slot and a HASH_OF_MAPS key, both outer maps with initial
// values the loader stores (libbpf's .values = { ... }).
#include "corpus.h"

struct inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u64);
};

struct inner tenant_a SEC(".maps"), tenant_b SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 4);
  __type(key, u32);
  __array(values, struct inner);
} by_slot SEC(".maps") = {
    .values = {[0] = &tenant_a, [2] = &tenant_b},
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, 16);
  __type(key, u32);
  __array(values, struct inner);
} by_uid SEC(".maps");

struct args {
  u32 slot, uid, counter;
};

static u64 bump(void *inner, u32 counter) {
  u64 *v = bpf_map_lookup_elem(inner, &counter);
  if (!v) return 0;
  return __sync_add_and_fetch(v, 1);
}

SEC("syscall")
int count_tenant(struct args *a) {
  u32 slot = a->slot, uid = a->uid;
  void *inner = bpf_map_lookup_elem(&by_slot, &slot);
  u64 total = inner ? bump(inner, a->counter) : 0;
  inner = bpf_map_lookup_elem(&by_uid, &uid);
  if (inner) total += bump(inner, a->counter);
  return (int)total;
}
