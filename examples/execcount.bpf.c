// SPDX-License-Identifier: GPL-2.0
// Counts execve() calls per process: a tracepoint program with a HASH map and
// global data in .bss and .data.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

// The fixed part of every syscall tracepoint record (see the tracepoint's
// format file); declared here so the example needs no vmlinux.h.
struct sys_enter_args {
	__u64 common;
	__s64 id;
	__u64 args[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} exec_counts SEC(".maps");

__u64 total_execs = 0;          /* .bss */
__u32 sample_every = 1;         /* .data */

SEC("tracepoint/syscalls/sys_enter_execve")
int count_execve(struct sys_enter_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *count;

	__sync_fetch_and_add(&total_execs, 1);
	if (sample_every == 0)
		return 0;
	count = bpf_map_lookup_elem(&exec_counts, &tgid);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&exec_counts, &tgid, &one, BPF_NOEXIST);
	return ctx->id < 0;
}
