/* SPDX-License-Identifier: Apache-2.0 */
/*
 * <bpfsig/skel_internal.h>: a drop-in for libbpf's <bpf/skel_internal.h>
 * with the API of libbpf 1.7, for signed light skeletons (headers written by
 * `bpftool gen skeleton -L -S` or by `bpfsig`).
 *
 * Debian's libbpf 1.1 header lacks the signature fields of
 * struct bpf_load_and_run_opts, and its <linux/bpf.h> lacks the Linux 6.18
 * attr fields (excl_prog_hash, map_info.hash, signature, keyring_id). This
 * header therefore builds the bpf(2) attrs that need those fields itself, at
 * their documented offsets, and uses <linux/bpf.h> only for old fields.
 *
 * bpf_load_and_run() does the 6.18 sequence: MAP_CREATE("__loader.map",
 * exclusive to the loader) -> UPDATE -> FREEZE -> OBJ_GET_INFO_BY_FD(hash)
 * -> PROG_LOAD("__loader.prog", SYSCALL, sleepable, signature, keyring_id)
 * -> PROG_RUN(ctx). With opts->signature_sz == 0 no signature is sent.
 * Compile with -DBPFSIG_SKEL_NO_KERNEL_SIG to never send one (for kernels
 * without in-kernel PKCS#7 verification, after checking the signature in
 * user space with `bpfsig verify`).
 *
 * User space only; valid C99/gnu11 and C++.
 */
#ifndef BPFSIG_SKEL_INTERNAL_H
#define BPFSIG_SKEL_INTERNAL_H

#ifdef __SKEL_INTERNAL_H
#error "<bpf/skel_internal.h> is already included: include only <bpfsig/skel_internal.h>"
#endif
/* Keep libbpf's header out if someone includes it after this one. */
#define __SKEL_INTERNAL_H

#ifdef __KERNEL__
#error "<bpfsig/skel_internal.h> is for user space only"
#endif

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/types.h>

/* Strict -std=c99/c11 hides syscall() and MAP_ANONYMOUS (they need
 * _DEFAULT_SOURCE): redeclare syscall() as glibc declares it, and take
 * MAP_ANONYMOUS from the kernel's <linux/mman.h>. */
#ifndef __cplusplus
extern long syscall(long number, ...);
#endif
#ifndef MAP_ANONYMOUS
#include <linux/mman.h>
#endif

#if defined(__cplusplus)
#define BPFSIG_SKEL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define BPFSIG_SKEL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else /* C99: a negative array size stops the build */
#define BPFSIG_SKEL_CONCAT2(a, b) a##b
#define BPFSIG_SKEL_CONCAT(a, b) BPFSIG_SKEL_CONCAT2(a, b)
#define BPFSIG_SKEL_STATIC_ASSERT(cond, msg) \
	typedef char BPFSIG_SKEL_CONCAT(bpfsig_skel_static_assert_, __LINE__)[(cond) ? 1 : -1]
#endif

#ifndef offsetofend
#define offsetofend(TYPE, MEMBER) (offsetof(TYPE, MEMBER) + sizeof(((TYPE *)0)->MEMBER))
#endif

/* ---- the structs generated skeletons embed (layout of libbpf 1.7) ---- */

struct bpf_map_desc {
	/* output of the loader prog */
	int map_fd;
	/* input for the loader prog */
	__u32 max_entries;
	__aligned_u64 initial_value;
};
struct bpf_prog_desc {
	int prog_fd;
};

enum {
	BPF_SKEL_KERNEL = (1ULL << 0),
};

struct bpf_loader_ctx {
	__u32 sz;
	__u32 flags;
	__u32 log_level;
	__u32 log_size;
	__u64 log_buf;
};

struct bpf_load_and_run_opts {
	struct bpf_loader_ctx *ctx;
	const void *data;
	const void *insns;
	__u32 data_sz;
	__u32 insns_sz;
	const char *errstr;
	void *signature;
	__u32 signature_sz;
	__s32 keyring_id;
	void *excl_prog_hash;
	__u32 excl_prog_hash_sz;
	/* bpfsig additions for the other schemes (docs/signing.md): loadtime
	 * headers set fd_array_cnt = 1; hash-chain headers set signature_maps
	 * (fd_array indices, sent only with the signature). Zero: as 6.18. */
	__u32 fd_array_cnt;
	const int *signature_maps;
	__u32 signature_maps_sz;
};

BPFSIG_SKEL_STATIC_ASSERT(sizeof(struct bpf_loader_ctx) == 24, "bpf_loader_ctx is 24 bytes");
BPFSIG_SKEL_STATIC_ASSERT(sizeof(struct bpf_map_desc) == 16, "bpf_map_desc is 16 bytes");
BPFSIG_SKEL_STATIC_ASSERT(sizeof(struct bpf_prog_desc) == 4, "bpf_prog_desc is 4 bytes");

/* ---- Linux 6.18 attrs, defined here (see the top of the file) ---- */

#define BPFSIG_SKEL_SHA256_SIZE 32
#define BPFSIG_SKEL_OBJ_NAME_LEN 16
#define BPFSIG_SKEL_PROG_TYPE_SYSCALL 31
#define BPFSIG_SKEL_F_SLEEPABLE (1U << 4)

struct bpfsig_skel_map_create_attr {
	__u32 map_type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
	__u32 inner_map_fd;
	__u32 numa_node;
	char map_name[BPFSIG_SKEL_OBJ_NAME_LEN];
	__u32 map_ifindex;
	__u32 btf_fd;
	__u32 btf_key_type_id;
	__u32 btf_value_type_id;
	__u32 btf_vmlinux_value_type_id;
	__u64 map_extra;
	__s32 value_type_btf_obj_fd;
	__s32 map_token_fd;
	__aligned_u64 excl_prog_hash;
	__u32 excl_prog_hash_size;
};
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_map_create_attr, map_name) == 28, "map_name at 28");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_map_create_attr, map_token_fd) == 76, "map_token_fd at 76");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_map_create_attr, excl_prog_hash) == 80, "excl_prog_hash at 80");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_map_create_attr, excl_prog_hash_size) == 88,
			  "excl_prog_hash_size at 88");

struct bpfsig_skel_map_info {
	__u32 type;
	__u32 id;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
	char name[BPFSIG_SKEL_OBJ_NAME_LEN];
	__u32 ifindex;
	__u32 btf_vmlinux_value_type_id;
	__u64 netns_dev;
	__u64 netns_ino;
	__u32 btf_id;
	__u32 btf_key_type_id;
	__u32 btf_value_type_id;
	__u32 btf_vmlinux_id;
	__u64 map_extra;
	__aligned_u64 hash;
	__u32 hash_size;
};
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_map_info, hash) == 88, "map_info.hash at 88");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_map_info, hash_size) == 96, "map_info.hash_size at 96");
BPFSIG_SKEL_STATIC_ASSERT(sizeof(struct bpfsig_skel_map_info) == 104, "bpf_map_info is 104 bytes");

struct bpfsig_skel_prog_load_attr {
	__u32 prog_type;
	__u32 insn_cnt;
	__aligned_u64 insns;
	__aligned_u64 license;
	__u32 log_level;
	__u32 log_size;
	__aligned_u64 log_buf;
	__u32 kern_version;
	__u32 prog_flags;
	char prog_name[BPFSIG_SKEL_OBJ_NAME_LEN];
	__u32 prog_ifindex;
	__u32 expected_attach_type;
	__u32 prog_btf_fd;
	__u32 func_info_rec_size;
	__aligned_u64 func_info;
	__u32 func_info_cnt;
	__u32 line_info_rec_size;
	__aligned_u64 line_info;
	__u32 line_info_cnt;
	__u32 attach_btf_id;
	__u32 attach_prog_fd;
	__u32 core_relo_cnt;
	__aligned_u64 fd_array;
	__aligned_u64 core_relos;
	__u32 core_relo_rec_size;
	__u32 log_true_size;
	__s32 prog_token_fd;
	__u32 fd_array_cnt;
	__aligned_u64 signature;
	__u32 signature_size;
	__s32 keyring_id;
	/* the hash-chain series (not merged): sent only when set */
	__aligned_u64 signature_maps;
	__u32 signature_maps_size;
};
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, prog_name) == 48, "prog_name at 48");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, fd_array) == 120, "fd_array at 120");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, prog_token_fd) == 144, "prog_token_fd at 144");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, fd_array_cnt) == 148, "fd_array_cnt at 148");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, signature) == 152, "signature at 152");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, signature_size) == 160,
			  "signature_size at 160");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, keyring_id) == 164, "keyring_id at 164");
BPFSIG_SKEL_STATIC_ASSERT(offsetof(struct bpfsig_skel_prog_load_attr, signature_maps) == 168,
			  "signature_maps at 168 (hash-chain series)");
/* 6.18's PROG_LOAD attr ends at 168; the hash-chain series' at 180. */
#define BPFSIG_SKEL_PROG_LOAD_618_SIZE 168
#define BPFSIG_SKEL_PROG_LOAD_HASH_CHAIN_SIZE 180

/* ---- syscalls and memory ---- */

static inline int bpfsig_skel_bpf(int cmd, void *attr, unsigned int size)
{
	return (int)syscall(__NR_bpf, cmd, attr, size);
}

static inline int skel_sys_bpf(enum bpf_cmd cmd, union bpf_attr *attr, unsigned int size)
{
	return bpfsig_skel_bpf((int)cmd, attr, size);
}

static inline __u64 bpfsig_skel_ptr(const void *p)
{
	return (__u64)(unsigned long)p;
}

static inline void *skel_alloc(size_t size)
{
	return calloc(1, size);
}

static inline void skel_free(void *p)
{
	free(p);
}

/* skel->bss/data/rodata live in anonymous shared memory until the loader
 * ran (it copies the initial value from there with bpf_copy_from_user), then
 * skel_finalize_map_data() maps the array map's value over the same address.
 */
static inline void skel_free_map_data(void *p, __u64 addr, size_t sz)
{
	(void)addr;
	munmap(p, sz);
}

static inline void *skel_prep_map_data(const void *val, size_t mmap_sz, size_t val_sz)
{
	void *addr;

	addr = mmap(NULL, mmap_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (addr == (void *)-1)
		return NULL;
	memcpy(addr, val, val_sz);
	return addr;
}

static inline void *skel_finalize_map_data(__u64 *init_val, size_t mmap_sz, int flags, int fd)
{
	void *addr;

	addr = mmap((void *)(long)*init_val, mmap_sz, flags, MAP_SHARED | MAP_FIXED, fd, 0);
	if (addr == (void *)-1)
		return NULL;
	return addr;
}

static inline int skel_closenz(int fd)
{
	if (fd > 0)
		return close(fd);
	return -EINVAL;
}

static inline void bpfsig_skel_copy_name(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < BPFSIG_SKEL_OBJ_NAME_LEN && src[i]; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

/* ---- commands ---- */

static inline int skel_map_create(enum bpf_map_type map_type, const char *map_name, __u32 key_size,
				  __u32 value_size, __u32 max_entries, const void *excl_prog_hash,
				  __u32 excl_prog_hash_sz)
{
	const size_t attr_sz = offsetofend(struct bpfsig_skel_map_create_attr, excl_prog_hash_size);
	struct bpfsig_skel_map_create_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = (__u32)map_type;
	bpfsig_skel_copy_name(attr.map_name, map_name);
	attr.key_size = key_size;
	attr.value_size = value_size;
	attr.max_entries = max_entries;
	attr.excl_prog_hash = bpfsig_skel_ptr(excl_prog_hash);
	attr.excl_prog_hash_size = excl_prog_hash_sz;
	return bpfsig_skel_bpf(BPF_MAP_CREATE, &attr, (unsigned int)attr_sz);
}

static inline int skel_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	const size_t attr_sz = offsetofend(union bpf_attr, flags);
	union bpf_attr attr;

	memset(&attr, 0, attr_sz);
	attr.map_fd = (__u32)fd;
	attr.key = bpfsig_skel_ptr(key);
	attr.value = bpfsig_skel_ptr(value);
	attr.flags = flags;
	return skel_sys_bpf(BPF_MAP_UPDATE_ELEM, &attr, (unsigned int)attr_sz);
}

static inline int skel_map_delete_elem(int fd, const void *key)
{
	const size_t attr_sz = offsetofend(union bpf_attr, flags);
	union bpf_attr attr;

	memset(&attr, 0, attr_sz);
	attr.map_fd = (__u32)fd;
	attr.key = bpfsig_skel_ptr(key);
	return skel_sys_bpf(BPF_MAP_DELETE_ELEM, &attr, (unsigned int)attr_sz);
}

static inline int skel_map_get_fd_by_id(__u32 id)
{
	const size_t attr_sz = offsetofend(union bpf_attr, flags);
	union bpf_attr attr;

	memset(&attr, 0, attr_sz);
	attr.map_id = id;
	return skel_sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr, (unsigned int)attr_sz);
}

static inline int skel_raw_tracepoint_open(const char *name, int prog_fd)
{
	const size_t attr_sz = offsetofend(union bpf_attr, raw_tracepoint.prog_fd);
	union bpf_attr attr;

	memset(&attr, 0, attr_sz);
	attr.raw_tracepoint.name = bpfsig_skel_ptr(name);
	attr.raw_tracepoint.prog_fd = (__u32)prog_fd;
	return skel_sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr, (unsigned int)attr_sz);
}

static inline int skel_link_create(int prog_fd, int target_fd, enum bpf_attach_type attach_type)
{
	const size_t attr_sz = offsetofend(union bpf_attr, link_create.iter_info_len);
	union bpf_attr attr;

	memset(&attr, 0, attr_sz);
	attr.link_create.prog_fd = (__u32)prog_fd;
	attr.link_create.target_fd = (__u32)target_fd;
	attr.link_create.attach_type = attach_type;
	return skel_sys_bpf(BPF_LINK_CREATE, &attr, (unsigned int)attr_sz);
}

/* Makes the kernel compute map->sha (the loader compares it with the digest
 * in its instructions). Linux 6.18 only does that when info.hash is set and
 * hash_size is 32; newer kernels also require the map to be frozen.
 */
static inline int skel_obj_get_info_by_fd(int fd)
{
	const size_t attr_sz = offsetofend(union bpf_attr, info);
	__u8 sha[BPFSIG_SKEL_SHA256_SIZE];
	struct bpfsig_skel_map_info info;
	union bpf_attr attr;

	memset(sha, 0, sizeof(sha));
	memset(&info, 0, sizeof(info));
	info.hash = bpfsig_skel_ptr(sha);
	info.hash_size = BPFSIG_SKEL_SHA256_SIZE;

	memset(&attr, 0, attr_sz);
	attr.info.bpf_fd = (__u32)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = bpfsig_skel_ptr(&info);
	return skel_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, (unsigned int)attr_sz);
}

static inline int skel_map_freeze(int fd)
{
	const size_t attr_sz = offsetofend(union bpf_attr, map_fd);
	union bpf_attr attr;

	memset(&attr, 0, attr_sz);
	attr.map_fd = (__u32)fd;
	return skel_sys_bpf(BPF_MAP_FREEZE, &attr, (unsigned int)attr_sz);
}

/* Whether PROG_LOAD gets the signature: never with -DBPFSIG_SKEL_NO_KERNEL_SIG. */
static inline int bpfsig_skel_sends_signature(const struct bpf_load_and_run_opts *opts)
{
#ifdef BPFSIG_SKEL_NO_KERNEL_SIG
	(void)opts;
	return 0;
#else
	return opts->signature != NULL && opts->signature_sz != 0;
#endif
}

/* Returns 0, or a negative errno with opts->errstr set (errno is set too). */
static inline int bpf_load_and_run(struct bpf_load_and_run_opts *opts)
{
	const size_t test_run_attr_sz = offsetofend(union bpf_attr, test);
	struct bpfsig_skel_prog_load_attr load;
	unsigned int load_sz;
	union bpf_attr attr;
	int map_fd = -1, prog_fd = -1, key = 0, err;

	err = map_fd = skel_map_create(BPF_MAP_TYPE_ARRAY, "__loader.map", 4, opts->data_sz, 1,
				       opts->excl_prog_hash, opts->excl_prog_hash_sz);
	if (map_fd < 0) {
		opts->errstr = "failed to create loader map";
		err = -errno;
		goto out;
	}

	err = skel_map_update_elem(map_fd, &key, opts->data, 0);
	if (err < 0) {
		opts->errstr = "failed to update loader map";
		err = -errno;
		goto out;
	}

	err = skel_map_freeze(map_fd);
	if (err < 0) {
		opts->errstr = "failed to freeze map";
		err = -errno;
		goto out;
	}

	err = skel_obj_get_info_by_fd(map_fd);
	if (err < 0) {
		opts->errstr = "failed to fetch obj info";
		err = -errno;
		goto out;
	}

	memset(&load, 0, sizeof(load));
	load.prog_type = BPFSIG_SKEL_PROG_TYPE_SYSCALL;
	load.insns = bpfsig_skel_ptr(opts->insns);
	load.insn_cnt = opts->insns_sz / sizeof(struct bpf_insn);
	load.license = bpfsig_skel_ptr("Dual BSD/GPL");
	bpfsig_skel_copy_name(load.prog_name, "__loader.prog");
	load.fd_array = bpfsig_skel_ptr(&map_fd);
	load.log_level = opts->ctx->log_level;
	load.log_size = opts->ctx->log_size;
	load.log_buf = opts->ctx->log_buf;
	load.prog_flags = BPFSIG_SKEL_F_SLEEPABLE;
	load_sz = BPFSIG_SKEL_PROG_LOAD_618_SIZE;
	/* fd_array_cnt and signature_maps go only with the signature: on 6.18
	 * fd_array_cnt over the exclusive loader map is EACCES, and a non-zero
	 * signature_maps is E2BIG there. */
	if (bpfsig_skel_sends_signature(opts)) {
		load.signature = bpfsig_skel_ptr(opts->signature);
		load.signature_size = opts->signature_sz;
		load.keyring_id = opts->keyring_id;
		load.fd_array_cnt = opts->fd_array_cnt;
		if (opts->signature_maps && opts->signature_maps_sz) {
			load.signature_maps = bpfsig_skel_ptr(opts->signature_maps);
			load.signature_maps_size = opts->signature_maps_sz;
			load_sz = BPFSIG_SKEL_PROG_LOAD_HASH_CHAIN_SIZE;
		}
	}
	err = prog_fd = bpfsig_skel_bpf(BPF_PROG_LOAD, &load, load_sz);
	if (prog_fd < 0) {
		/* EOPNOTSUPP with a signature: the kernel has no in-kernel
		 * PKCS#7 verification (CONFIG_SYSTEM_DATA_VERIFICATION off). */
		opts->errstr = "failed to load loader prog";
		err = -errno;
		goto out;
	}

	memset(&attr, 0, test_run_attr_sz);
	attr.test.prog_fd = (__u32)prog_fd;
	attr.test.ctx_in = bpfsig_skel_ptr(opts->ctx);
	attr.test.ctx_size_in = opts->ctx->sz;
	err = skel_sys_bpf(BPF_PROG_RUN, &attr, (unsigned int)test_run_attr_sz);
	if (err < 0 || (int)attr.test.retval < 0) {
		opts->errstr = "failed to execute loader prog";
		if (err < 0) {
			err = -errno;
		} else {
			err = (int)attr.test.retval;
			errno = -err;
		}
		goto out;
	}
	err = 0;
out:
	if (map_fd >= 0)
		close(map_fd);
	if (prog_fd >= 0)
		close(prog_fd);
	if (err < 0)
		errno = -err;
	return err;
}

#endif /* BPFSIG_SKEL_INTERNAL_H */
