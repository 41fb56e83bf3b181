/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enforcer's ABI: the layout of its policy map and of its audit records,
 * shared by the BPF-LSM program (src/enforce/bpf/enforcer.bpf.c), the policy
 * compiler and the model's `enforce` LSM (src/enforce/), and the code that
 * loads and reads it on a real kernel (src/sys/enforcer.cpp). Plain C, fixed
 * width, no padding the compiler chooses: the BPF side and the C++ side must
 * agree byte for byte, which the static asserts of src/enforce/policy.cpp pin.
 * docs/formats.md ("The enforcer's policy map and audit records") describes it.
 */
#ifndef BPFSIG_ENFORCER_ABI_H
#define BPFSIG_ENFORCER_ABI_H

#ifdef __cplusplus
#include <cstdint>
#define BPFSIG_U8 std::uint8_t
#define BPFSIG_U16 std::uint16_t
#define BPFSIG_U32 std::uint32_t
#define BPFSIG_S32 std::int32_t
#define BPFSIG_U64 std::uint64_t
#else
#define BPFSIG_U8 __u8
#define BPFSIG_U16 __u16
#define BPFSIG_U32 __u32
#define BPFSIG_S32 __s32
#define BPFSIG_U64 __u64
#endif

/* "BSEN" and the layout version: start refuses an enforcer object built
 * against another layout. */
#define BPFSIG_ENFORCER_MAGIC 0x4e455342u
#define BPFSIG_ENFORCER_VERSION 1u

/* Rules one policy may hold (the BPF program's loop bound). */
#define BPFSIG_ENFORCER_MAX_RULES 64

/* Rule masks: bit N set = value N allowed. */
/* sig_mask: bit 0 = NONE (prog->aux->sig.verdict BPF_SIG_UNSIGNED), bit 1 = OK (BPF_SIG_VERIFIED). */
/* keyring_mask: bit = enum bpf_sig_keyring (0 NONE, 1 BUILTIN, 2 SECONDARY, 3 PLATFORM, 4 USER). */
/* kernel_mask: bit 0 = kernel FALSE, bit 1 = kernel TRUE. */
/* prog_type_mask: bit = enum bpf_prog_type (all types below 64). */
#define BPFSIG_ENFORCER_ANY_UID 0xffffffffu

struct bpfsig_enforcer_rule {
	BPFSIG_U32 line;           /* the rule's line in the policy text (audit) */
	BPFSIG_U8 action;          /* 0 ALLOW, 1 DENY (ipe::Action) */
	BPFSIG_U8 sig_mask;
	BPFSIG_U8 keyring_mask;
	BPFSIG_U8 kernel_mask;
	BPFSIG_U32 uid;            /* BPFSIG_ENFORCER_ANY_UID: any */
	BPFSIG_U32 pad;
	BPFSIG_U64 prog_type_mask;
};

/* Decision sources in a record's `match` field. */
#define BPFSIG_MATCH_RULE 0
#define BPFSIG_MATCH_OP_DEFAULT 1
#define BPFSIG_MATCH_GLOBAL_DEFAULT 2

/* Modes. */
#define BPFSIG_MODE_ENFORCE 0
#define BPFSIG_MODE_AUDIT 1

/* The one value of the frozen "bpfsig_policy" ARRAY map (key 0). */
struct bpfsig_enforcer_policy {
	BPFSIG_U32 magic;          /* BPFSIG_ENFORCER_MAGIC */
	BPFSIG_U32 version;        /* BPFSIG_ENFORCER_VERSION; 0 = not configured: allow all */
	BPFSIG_U32 mode;           /* BPFSIG_MODE_* */
	BPFSIG_U32 rule_count;
	BPFSIG_U8 default_action;  /* what applies when no rule matches */
	BPFSIG_U8 default_match;   /* BPFSIG_MATCH_OP_DEFAULT or BPFSIG_MATCH_GLOBAL_DEFAULT */
	BPFSIG_U8 pad[6];
	/* Self-protection: the program that may remove the pins (bpfsig's own
	 * executable, by device and inode) and the pin directory it guards. */
	BPFSIG_U64 owner_exe_dev;  /* kernel dev_t (MKDEV), as in super_block.s_dev */
	BPFSIG_U64 owner_exe_ino;
	BPFSIG_U64 pin_dir_dev;
	BPFSIG_U64 pin_dir_ino;
	BPFSIG_U8 policy_sha256[32];  /* of the policy text, shown by status */
	struct bpfsig_enforcer_rule rules[BPFSIG_ENFORCER_MAX_RULES];
};

/* Audit record kinds. */
#define BPFSIG_RECORD_PROG_LOAD 1  /* a BPF_PROG_LOAD decision */
#define BPFSIG_RECORD_GUARD 2      /* a refused attempt to remove the enforcer */

/* Guard operations (record.guard_op). */
#define BPFSIG_GUARD_UNLINK 1
#define BPFSIG_GUARD_RENAME 2
#define BPFSIG_GUARD_UMOUNT 3

/* One ring buffer record per decision. */
struct bpfsig_enforcer_record {
	BPFSIG_U32 kind;           /* BPFSIG_RECORD_* */
	BPFSIG_U32 pid;            /* tgid */
	BPFSIG_U64 boot_ns;        /* bpf_ktime_get_boot_ns() */
	BPFSIG_U32 uid;
	BPFSIG_U32 prog_type;
	char comm[16];
	char prog_name[16];        /* prog->aux->name */
	BPFSIG_S32 keyring_serial; /* prog->aux->sig.keyring_serial */
	BPFSIG_U8 verdict;         /* prog->aux->sig.verdict */
	BPFSIG_U8 keyring_type;    /* prog->aux->sig.keyring_type */
	BPFSIG_U8 kernel;          /* the hook's `kernel` argument */
	BPFSIG_U8 action;          /* 0 ALLOW, 1 DENY: what the policy says */
	BPFSIG_U8 match;           /* BPFSIG_MATCH_* */
	BPFSIG_U8 enforcing;       /* 0 in audit mode */
	BPFSIG_U8 refused;         /* the hook returned -EPERM */
	BPFSIG_U8 guard_op;        /* BPFSIG_GUARD_* for BPFSIG_RECORD_GUARD */
	BPFSIG_U32 rule_line;      /* the matched rule's line (BPFSIG_MATCH_RULE) */
	BPFSIG_U32 rule_index;     /* and its index in the policy map */
};

#endif
