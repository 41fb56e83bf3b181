// SPDX-License-Identifier: Apache-2.0
// Many subprograms: a checksum pipeline split into 14 non-inlined static
// functions and two global (verified separately) functions, called from
// one SYSCALL program that user space runs with the data.
#include "corpus.h"

#define N 32

struct args {
  u8 data[N];
  u32 result;
};

static __noinline u32 rotl(u32 v, u32 s) { return (v << (s & 31)) | (v >> ((32 - s) & 31)); }
static __noinline u32 mix1(u32 h, u32 v) { return rotl(h ^ v, 5) * 0x9e3779b1u; }
static __noinline u32 mix2(u32 h, u32 v) { return rotl(h + v, 13) ^ 0x85ebca6bu; }
static __noinline u32 mix3(u32 h, u32 v) { return (h ^ (v >> 3)) * 0xc2b2ae35u; }
static __noinline u32 fold16(u32 h) { return (h & 0xffff) + (h >> 16); }
static __noinline u32 avalanche(u32 h) { h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; return h; }
static __noinline u32 byte_at(struct args *a, u32 i) { return i < N ? a->data[i] : 0; }
static __noinline u32 word_at(struct args *a, u32 i) {
  return byte_at(a, i) | byte_at(a, i + 1) << 8 | byte_at(a, i + 2) << 16 | byte_at(a, i + 3) << 24;
}
static __noinline u32 sum_bytes(struct args *a) {
  u32 s = 0;
  for (u32 i = 0; i < N; i++) s += byte_at(a, i);
  return s;
}
static __noinline u32 xor_words(struct args *a) {
  u32 x = 0;
  for (u32 i = 0; i < N; i += 4) x ^= word_at(a, i);
  return x;
}
static __noinline u32 round1(u32 h, struct args *a) { return mix1(h, xor_words(a)); }
static __noinline u32 round2(u32 h, struct args *a) { return mix2(h, sum_bytes(a)); }
static __noinline u32 round3(u32 h, struct args *a) { return mix3(h, word_at(a, 0)); }
static __noinline u32 finish(u32 h) { return avalanche(fold16(h) ^ h); }

__noinline int checksum_global(struct args *a) {
  if (!a) return 0;
  u32 h = 0x12345678;
  h = round1(h, a);
  h = round2(h, a);
  h = round3(h, a);
  return (int)finish(h);
}

__noinline int parity_global(struct args *a) {
  if (!a) return 0;
  return (int)(sum_bytes(a) & 1);
}

SEC("syscall")
int checksum(struct args *a) {
  a->result = (u32)checksum_global(a);
  return parity_global(a);
}
