// SPDX-License-Identifier: Apache-2.0
// Global data in every section libbpf maps: .rodata constants (a table and
// volatile knobs), .data, .bss, and two custom sections (.data.stats,
// .rodata.names) that become maps of their own.
#include "corpus.h"

const volatile u32 scale = 3;
const u32 primes[8] = {2, 3, 5, 7, 11, 13, 17, 19};
u64 calls = 1;
u64 last_input;
u64 hits[4] SEC(".data.stats") = {0, 0, 0, 0};
u32 stats_version SEC(".data.stats") = 2;
const char names[4][8] SEC(".rodata.names") = {"zero", "one", "two", "three"};

struct args {
  u32 which;
  u32 out;
  char name[8];
};

SEC("syscall")
int use_globals(struct args *a) {
  u32 i = a->which & 3;
  calls++;
  last_input = a->which;
  hits[i] += stats_version;
  a->out = primes[i * 2] * scale;
  __builtin_memcpy(a->name, names[i], sizeof(a->name));
  return (int)(calls + hits[i]);
}
