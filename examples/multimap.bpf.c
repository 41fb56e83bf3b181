// SPDX-License-Identifier: GPL-2.0
// Several maps of different types, read-only configuration in .rodata and two
// programs: a syscall-latency sampler that exercises what a light skeleton
// loader must create and freeze.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct sys_enter_args {
	__u64 common;
	__s64 id;
	__u64 args[6];
};

struct sys_exit_args {
	__u64 common;
	__s64 id;
	__s64 ret;
};

struct event {
	__u32 tgid;
	__s32 syscall;
	__u64 latency_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);     /* pid_tgid */
	__type(value, __u64);   /* entry timestamp */
} start_ts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);     /* log2 latency bucket */
	__type(value, __u64);
} histogram SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} slow_events SEC(".maps");

/* Configuration fixed at load time: the loader freezes .rodata. */
const volatile __u64 slow_threshold_ns = 10 * 1000 * 1000;
const volatile __s32 only_syscall = -1;

static __u32 log2_bucket(__u64 v)
{
	__u32 bucket = 0;

	for (int i = 0; i < 63 && v > 1; i++) {
		v >>= 1;
		bucket++;
	}
	return bucket;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int on_enter(struct sys_enter_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	if (only_syscall >= 0 && ctx->id != only_syscall)
		return 0;
	bpf_map_update_elem(&start_ts, &id, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int on_exit(struct sys_exit_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *start = bpf_map_lookup_elem(&start_ts, &id);
	__u32 zero = 0, bucket;
	__u64 delta, *slot, *drops;
	struct event *e;

	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&start_ts, &id);
	bucket = log2_bucket(delta);
	slot = bpf_map_lookup_elem(&histogram, &bucket);
	if (slot)
		__sync_fetch_and_add(slot, 1);
	if (delta < slow_threshold_ns)
		return 0;
	e = bpf_ringbuf_reserve(&slow_events, sizeof(*e), 0);
	if (!e) {
		drops = bpf_map_lookup_elem(&dropped, &zero);
		if (drops)
			*drops += 1;
		return 0;
	}
	e->tgid = id >> 32;
	e->syscall = ctx->id;
	e->latency_ns = delta;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
