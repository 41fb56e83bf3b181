// SPDX-License-Identifier: Apache-2.0
// opensnoop-like: openat's arguments kept at entry in a hash keyed by
// pid_tgid, one event per completed open through a perf buffer.
#include "corpus.h"

#define NAME_MAX 255

struct args_t {
  const char *fname;
  int flags;
};

struct event {
  u64 ts;
  u32 pid, uid;
  int ret, flags;
  char comm[TASK_COMM_LEN];
  char fname[NAME_MAX];
};

const volatile pid_t targ_tgid = 0;
const volatile bool targ_failed = false;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, u64);
  __type(value, struct args_t);
} start SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct event);
} heap SEC(".maps");

struct openat_args {
  u64 pad;
  int nr;
  int dfd;
  const char *filename;
  int flags;
  int mode;
};

struct exit_args {
  u64 pad;
  int nr;
  long ret;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_enter_openat(struct openat_args *ctx) {
  u64 id = bpf_get_current_pid_tgid();
  if (targ_tgid && targ_tgid != (id >> 32)) return 0;
  struct args_t args = {.fname = ctx->filename, .flags = ctx->flags};
  bpf_map_update_elem(&start, &id, &args, 0);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tp_exit_openat(struct exit_args *ctx) {
  u64 id = bpf_get_current_pid_tgid();
  struct args_t *ap = bpf_map_lookup_elem(&start, &id);
  if (!ap) return 0;
  int ret = ctx->ret;
  if (targ_failed && ret >= 0) goto cleanup;
  u32 zero = 0;
  struct event *e = bpf_map_lookup_elem(&heap, &zero);
  if (!e) goto cleanup;
  e->ts = bpf_ktime_get_ns();
  e->pid = id >> 32;
  e->uid = (u32)bpf_get_current_uid_gid();
  e->ret = ret;
  e->flags = ap->flags;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  bpf_probe_read_user_str(e->fname, sizeof(e->fname), ap->fname);
  bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
cleanup:
  bpf_map_delete_elem(&start, &id);
  return 0;
}
