// SPDX-License-Identifier: Apache-2.0
// A tail-call dispatcher: an XDP entry program jumps through a PROG_ARRAY
// (slots filled by user space after the load: a light
// skeleton cannot initialize a PROG_ARRAY) to a handler per EtherType.
#include "corpus.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_ARP 0x0806

enum { SLOT_IPV4, SLOT_IPV6, SLOT_ARP, SLOT_MAX };

struct ethhdr {
  u8 h_dest[6];
  u8 h_source[6];
  __be16 h_proto;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLOT_MAX + 1);
  __type(key, u32);
  __type(value, u64);
} packets SEC(".maps");

static int count(u32 slot) {
  u64 *n = bpf_map_lookup_elem(&packets, &slot);
  if (n) *n += 1;
  return XDP_PASS;
}

SEC("xdp") int handle_ipv4(struct xdp_md *ctx) { return count(SLOT_IPV4); }
SEC("xdp") int handle_ipv6(struct xdp_md *ctx) { return count(SLOT_IPV6); }
SEC("xdp") int handle_arp(struct xdp_md *ctx) { return count(SLOT_ARP); }

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, SLOT_MAX);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} handlers SEC(".maps");

SEC("xdp")
int dispatch(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return XDP_PASS;
  switch (__builtin_bswap16(eth->h_proto)) {
  case ETH_P_IP: bpf_tail_call(ctx, &handlers, SLOT_IPV4); break;
  case ETH_P_IPV6: bpf_tail_call(ctx, &handlers, SLOT_IPV6); break;
  case ETH_P_ARP: bpf_tail_call(ctx, &handlers, SLOT_ARP); break;
  }
  return count(SLOT_MAX);
}
