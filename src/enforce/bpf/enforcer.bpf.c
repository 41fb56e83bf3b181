// SPDX-License-Identifier: GPL-2.0
// bpfsig's enforcer: a BPF-LSM program that applies a compiled IPE-style policy
// to every BPF_PROG_LOAD, from the verdict Linux 7.3 keeps in prog->aux->sig,
// and keeps its own pins from being removed by anyone but bpfsig.
//
// It is built by the project with clang -target bpf, signed by bpfsig (the
// load-time scheme) and loaded as a light skeleton (src/sys/enforcer.cpp).
// Kernel structures are declared here with only the fields it reads; CO-RE
// relocations (applied by the kernel for a light skeleton) find them in the
// running kernel's BTF, so no vmlinux.h is needed. The layouts it shares with
// user space are in include/bpfsig/enforcer_abi.h; docs/enforce.md explains it.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "bpfsig/enforcer_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1

// ---- the kernel's types, as far as they are read (CO-RE) ----

struct bpf_prog_aux {
	struct {
		__s32 keyring_serial;
		__u8 keyring_type;
		__u8 verdict;
	} sig;
	char name[16];
} __attribute__((preserve_access_index));

struct bpf_prog {
	enum bpf_prog_type type;
	struct bpf_prog_aux *aux;
} __attribute__((preserve_access_index));

struct super_block {
	__u32 s_dev;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct dentry {
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct super_block *mnt_sb;
} __attribute__((preserve_access_index));

// ---- maps ----

// The compiled policy, filled and frozen by `bpfsig enforce start` before the
// programs are attached (version 0 until then: everything is allowed).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfsig_enforcer_policy);
} bpfsig_policy SEC(".maps");

// One record per decision, read by `bpfsig enforce log`.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} bpfsig_events SEC(".maps");

// [0] decisions, [1] records lost because the ring buffer was full.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bpfsig_stats SEC(".maps");

static __always_inline void count(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&bpfsig_stats, &index);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline const struct bpfsig_enforcer_policy *active_policy(void)
{
	__u32 key = 0;
	const struct bpfsig_enforcer_policy *p = bpf_map_lookup_elem(&bpfsig_policy, &key);

	if (!p || p->magic != BPFSIG_ENFORCER_MAGIC || p->version != BPFSIG_ENFORCER_VERSION)
		return 0;
	return p;
}

static __always_inline struct bpfsig_enforcer_record *new_record(__u32 kind)
{
	struct bpfsig_enforcer_record *r = bpf_ringbuf_reserve(&bpfsig_events, sizeof(*r), 0);
	__u64 id;

	if (!r) {
		count(1);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	id = bpf_get_current_pid_tgid();
	r->kind = kind;
	r->pid = id >> 32;
	r->boot_ns = bpf_ktime_get_boot_ns();
	r->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	return r;
}

static __always_inline int rule_matches(const struct bpfsig_enforcer_rule *r, __u32 verdict, __u32 keyring_type,
					 __u32 kernel, __u32 prog_type, __u32 uid)
{
	if (verdict > 7 || !((r->sig_mask >> verdict) & 1))
		return 0;
	if (keyring_type > 7 || !((r->keyring_mask >> keyring_type) & 1))
		return 0;
	if (!((r->kernel_mask >> kernel) & 1))
		return 0;
	if (prog_type >= 64 || !((r->prog_type_mask >> prog_type) & 1))
		return 0;
	if (r->uid != BPFSIG_ENFORCER_ANY_UID && r->uid != uid)
		return 0;
	return 1;
}

// ---- BPF_PROG_LOAD: the policy ----

SEC("lsm/bpf_prog_load")
int BPF_PROG(bpfsig_prog_load, struct bpf_prog *prog, union bpf_attr *attr, void *token, _Bool kernel, int ret)
{
	const struct bpfsig_enforcer_policy *p;
	struct bpfsig_enforcer_record *rec;
	__u32 verdict, keyring_type, prog_type, uid, n, i;
	__u8 action, match = BPFSIG_MATCH_RULE;
	__u32 line = 0, index = 0;
	int found = 0;

	if (ret)
		return ret;
	p = active_policy();
	if (!p)
		return 0;
	verdict = prog->aux->sig.verdict;
	keyring_type = prog->aux->sig.keyring_type;
	prog_type = prog->type;
	uid = (__u32)bpf_get_current_uid_gid();
	n = p->rule_count;

	for (i = 0; i < BPFSIG_ENFORCER_MAX_RULES; i++) {
		if (i >= n)
			break;
		if (rule_matches(&p->rules[i], verdict, keyring_type, kernel ? 1 : 0, prog_type, uid)) {
			action = p->rules[i].action;
			line = p->rules[i].line;
			index = i;
			found = 1;
			break;
		}
	}
	if (!found) {
		action = p->default_action;
		match = p->default_match;
	}
	count(0);

	rec = new_record(BPFSIG_RECORD_PROG_LOAD);
	if (rec) {
		rec->prog_type = prog_type;
		bpf_probe_read_kernel_str(rec->prog_name, sizeof(rec->prog_name), prog->aux->name);
		rec->keyring_serial = prog->aux->sig.keyring_serial;
		rec->verdict = verdict;
		rec->keyring_type = keyring_type;
		rec->kernel = kernel ? 1 : 0;
		rec->action = action;
		rec->match = match;
		rec->enforcing = p->mode == BPFSIG_MODE_ENFORCE;
		rec->refused = action != 0 && p->mode == BPFSIG_MODE_ENFORCE;
		rec->rule_line = line;
		rec->rule_index = index;
		bpf_ringbuf_submit(rec, 0);
	}
	if (action != 0 && p->mode == BPFSIG_MODE_ENFORCE)
		return -EPERM;
	return 0;
}

// ---- self-protection: the pins stay until bpfsig removes them ----

static __always_inline int is_owner(const struct bpfsig_enforcer_policy *p)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *exe = task->mm->exe_file->f_inode;

	if (!exe)
		return 0;
	return exe->i_ino == p->owner_exe_ino && exe->i_sb->s_dev == p->owner_exe_dev;
}

static __always_inline int in_pin_dir(const struct bpfsig_enforcer_policy *p, struct inode *dir)
{
	return dir && dir->i_ino == p->pin_dir_ino && dir->i_sb->s_dev == p->pin_dir_dev;
}

static __always_inline int guard(const struct bpfsig_enforcer_policy *p, __u8 op)
{
	struct bpfsig_enforcer_record *rec;
	int refuse;

	if (is_owner(p))
		return 0;
	refuse = p->mode == BPFSIG_MODE_ENFORCE;
	rec = new_record(BPFSIG_RECORD_GUARD);
	if (rec) {
		rec->guard_op = op;
		rec->action = 1;
		rec->enforcing = refuse;
		rec->refused = refuse;
		bpf_ringbuf_submit(rec, 0);
	}
	return refuse ? -EPERM : 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(bpfsig_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	const struct bpfsig_enforcer_policy *p;

	if (ret)
		return ret;
	p = active_policy();
	if (!p || !in_pin_dir(p, dir))
		return 0;
	return guard(p, BPFSIG_GUARD_UNLINK);
}

SEC("lsm/inode_rename")
int BPF_PROG(bpfsig_inode_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry, int ret)
{
	const struct bpfsig_enforcer_policy *p;

	if (ret)
		return ret;
	p = active_policy();
	if (!p || (!in_pin_dir(p, old_dir) && !in_pin_dir(p, new_dir)))
		return 0;
	return guard(p, BPFSIG_GUARD_RENAME);
}

SEC("lsm/sb_umount")
int BPF_PROG(bpfsig_sb_umount, struct vfsmount *mnt, int flags, int ret)
{
	const struct bpfsig_enforcer_policy *p;

	if (ret)
		return ret;
	p = active_policy();
	if (!p || mnt->mnt_sb->s_dev != p->pin_dir_dev)
		return 0;
	return guard(p, BPFSIG_GUARD_UMOUNT);
}
