// SPDX-License-Identifier: Apache-2.0
// Packet steering: XDP redirects to an AF_XDP socket (XSKMAP) when one is
// bound to the queue, else to another CPU (CPUMAP) or device (DEVMAP,
// DEVMAP_HASH) by the rule in a hash; socket redirection for local
// connections through a SOCKMAP and a SOCKHASH (sk_skb and sk_msg).
#include "corpus.h"

struct sock_key {
  u32 sip, dip;
  u32 sport, dport;
};

struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __uint(max_entries, 64); __type(key, u32); __type(value, u32); }
    xsks SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_CPUMAP);
  __uint(max_entries, 16);
  __type(key, u32);
  __type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_DEVMAP);
  __uint(max_entries, 32);
  __type(key, u32);
  __type(value, struct bpf_devmap_val);
} ports SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
  __uint(max_entries, 32);
  __type(key, u32);
  __type(value, u32);
} ports_by_ifindex SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, u32); __type(value, u32); }
    rules SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, 128);
  __type(key, u32);
  __type(value, u64);
} sock_slots SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 1024);
  __type(key, struct sock_key);
  __type(value, u64);
} sock_pairs SEC(".maps");

SEC("xdp")
int steer(struct xdp_md *ctx) {
  u32 queue = ctx->rx_queue_index;
  if (bpf_map_lookup_elem(&xsks, &queue)) return bpf_redirect_map(&xsks, queue, XDP_PASS);
  u32 *rule = bpf_map_lookup_elem(&rules, &queue);
  if (!rule) return XDP_PASS;
  if (*rule & 0x10000) return bpf_redirect_map(&cpus, *rule & 0xffff, XDP_PASS);
  if (*rule & 0x20000) return bpf_redirect_map(&ports_by_ifindex, *rule & 0xffff, XDP_PASS);
  return bpf_redirect_map(&ports, *rule & 0xffff, XDP_PASS);
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb) {
  return bpf_sk_redirect_map(skb, &sock_slots, skb->local_port & 127, 0);
}

SEC("sk_msg")
int msg_verdict(struct sk_msg_md *msg) {
  struct sock_key key = {.sip = msg->remote_ip4, .dip = msg->local_ip4,
                         .sport = msg->remote_port, .dport = msg->local_port << 16};
  return bpf_msg_redirect_hash(msg, &sock_pairs, &key, BPF_F_INGRESS);
}
