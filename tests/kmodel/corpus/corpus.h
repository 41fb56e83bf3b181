/* SPDX-License-Identifier: Apache-2.0 */
/* What the corpus programs share: fixed-width types, the kernel structs they
 * read (only the fields read, preserve_access_index so that libbpf relocates
 * them against the target kernel's BTF: no vmlinux.h), and the headers of
 * libbpf 1.8. */
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef u16 __be16;
typedef u32 __be32;
typedef u32 __wsum;
typedef int pid_t;
typedef _Bool bool;
#define true 1
#define false 0

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16

struct cred {
  struct { u32 val; } uid;
} __attribute__((preserve_access_index));

struct task_struct {
  int pid;
  int tgid;
  char comm[TASK_COMM_LEN];
  struct task_struct *real_parent;
  const struct cred *cred;
  unsigned int __state;
  u64 start_time;
} __attribute__((preserve_access_index));

struct sock_common {
  u16 skc_family;
  u32 skc_daddr;
  u32 skc_rcv_saddr;
  u16 skc_dport;
  u16 skc_num;
} __attribute__((preserve_access_index));

struct sock {
  struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct sockaddr;

struct linux_binprm {
  const char *filename;
} __attribute__((preserve_access_index));

struct file {
  struct inode *f_inode;
} __attribute__((preserve_access_index));
struct inode;
struct request_queue;

struct request {
  struct request_queue *q;
  unsigned int __data_len;
  u64 start_time_ns;
} __attribute__((preserve_access_index));

struct seq_file;
struct bpf_iter_meta {
  struct seq_file *seq;
  u64 session_id;
  u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
  struct bpf_iter_meta *meta;
  struct task_struct *task;
} __attribute__((preserve_access_index));

struct bpf_perf_event_data;

char LICENSE[] SEC("license") = "GPL";
