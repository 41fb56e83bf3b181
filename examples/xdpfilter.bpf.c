// SPDX-License-Identifier: GPL-2.0
// An XDP program: counts packets per IP protocol and drops the protocols
// listed in a read-only blocklist.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_packets SEC(".maps");

/* Protocols to drop; 0 ends the list. */
const volatile __u8 blocked_protocols[4] = { 47 /* GRE */, 0, 0, 0 };

static int is_blocked(__u8 proto)
{
	for (int i = 0; i < 4; i++) {
		if (blocked_protocols[i] == 0)
			return 0;
		if (blocked_protocols[i] == proto)
			return 1;
	}
	return 0;
}

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 proto;
	__u64 *count;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	proto = ip->protocol;
	count = bpf_map_lookup_elem(&proto_packets, &proto);
	if (count)
		*count += 1;
	return is_blocked(ip->protocol) ? XDP_DROP : XDP_PASS;
}
