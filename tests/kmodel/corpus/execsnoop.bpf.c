// SPDX-License-Identifier: Apache-2.0
// execsnoop-like: one event per execve into a ring buffer, with the task's
// pid, parent tgid, uid and comm read through CO-RE (task_struct, cred), and
// filters in .rodata that user space sets before load.
#include "corpus.h"

#define MAX_ARGS 8
#define ARG_LEN 64

struct event {
  u32 pid, ppid, uid;
  s32 retval;
  u32 args_count;
  char comm[TASK_COMM_LEN];
  char args[MAX_ARGS][ARG_LEN];
};

const volatile u32 targ_uid = (u32)-1;
const volatile bool ignore_failed = true;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, u32);
  __type(value, struct event);
} execs SEC(".maps");

static const struct event empty_event = {};

struct execve_args {
  u64 pad;
  int nr;
  const char *filename;
  const char *const *argv;
  const char *const *envp;
};

struct exit_args {
  u64 pad;
  int nr;
  long ret;
};

SEC("tracepoint/syscalls/sys_enter_execve")
int tp_enter_execve(struct execve_args *ctx) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  u32 uid = BPF_CORE_READ(task, cred, uid.val);
  if (targ_uid != (u32)-1 && targ_uid != uid) return 0;
  u32 pid = bpf_get_current_pid_tgid() >> 32;
  if (bpf_map_update_elem(&execs, &pid, &empty_event, BPF_NOEXIST)) return 0;
  struct event *e = bpf_map_lookup_elem(&execs, &pid);
  if (!e) return 0;
  e->pid = pid;
  e->uid = uid;
  e->ppid = BPF_CORE_READ(task, real_parent, tgid);
  bpf_probe_read_user_str(e->args[0], ARG_LEN, ctx->filename);
  for (int i = 1; i < MAX_ARGS; i++) {
    const char *argp = 0;
    bpf_probe_read_user(&argp, sizeof(argp), &ctx->argv[i]);
    if (!argp) break;
    bpf_probe_read_user_str(e->args[i], ARG_LEN, argp);
    e->args_count++;
  }
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tp_exit_execve(struct exit_args *ctx) {
  u32 pid = bpf_get_current_pid_tgid() >> 32;
  struct event *e = bpf_map_lookup_elem(&execs, &pid);
  if (!e) return 0;
  e->retval = ctx->ret;
  if (ignore_failed && ctx->ret < 0) goto cleanup;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  struct event *out = bpf_ringbuf_reserve(&events, sizeof(*out), 0);
  if (out) {
    __builtin_memcpy(out, e, sizeof(*out));
    bpf_ringbuf_submit(out, 0);
  }
cleanup:
  bpf_map_delete_elem(&execs, &pid);
  return 0;
}
