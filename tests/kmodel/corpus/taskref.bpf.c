// SPDX-License-Identifier: Apache-2.0
// kfuncs from a SYSCALL program: a task found by pid with bpf_task_from_pid
// (an acquired reference, released with bpf_task_release), an RCU section
// around the read of its parent, a weak kfunc this kernel may lack called
// only when bpf_ksym_exists says it is there, and a weak kfunc that exists
// (bpf_task_acquire: its bpf_ksym_exists is an ld_imm64 of the kfunc).
#include "corpus.h"

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern int bpfsig_corpus_no_such_kfunc(int x) __ksym __weak;

struct args {
  s32 pid;
  s32 tgid, ppid;
  s32 weak_result;
  s32 have_acquire;
};

SEC("syscall")
int task_lookup(struct args *a) {
  struct task_struct *t = bpf_task_from_pid(a->pid);
  if (!t) return -3;  /* ESRCH */
  struct task_struct *again = bpf_ksym_exists(bpf_task_acquire) ? bpf_task_acquire(t) : 0;
  a->tgid = t->tgid;
  bpf_rcu_read_lock();
  struct task_struct *parent = t->real_parent;
  a->ppid = parent ? parent->tgid : -1;
  bpf_rcu_read_unlock();
  if (again) bpf_task_release(again);
  bpf_task_release(t);
  a->weak_result = bpf_ksym_exists(bpfsig_corpus_no_such_kfunc) ? bpfsig_corpus_no_such_kfunc(1) : -1;
  a->have_acquire = bpf_ksym_exists(bpf_task_acquire);
  return 0;
}
