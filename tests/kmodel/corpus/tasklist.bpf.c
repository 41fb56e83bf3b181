// SPDX-License-Identifier: Apache-2.0
// A task iterator (cat /sys/fs/bpf/tasks): one line per task with pid, parent
// and comm read through CO-RE, a header on the first call.
#include "corpus.h"

const volatile int only_tgid = 0;

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx) {
  struct seq_file *seq = ctx->meta->seq;
  struct task_struct *task = ctx->task;
  if (!task) return 0;
  if (ctx->meta->seq_num == 0) BPF_SEQ_PRINTF(seq, "    tgid     pid    ppid comm\n");
  if (only_tgid && task->tgid != only_tgid) return 0;
  int ppid = BPF_CORE_READ(task, real_parent, tgid);
  BPF_SEQ_PRINTF(seq, "%8d %8d %8d %s\n", task->tgid, task->pid, ppid, task->comm);
  return 0;
}
