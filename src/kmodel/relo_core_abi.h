// SPDX-License-Identifier: Apache-2.0
// The CO-RE relocation engine the kernel shares with libbpf
// (tools/lib/bpf/relo_core.c): kernel/bpf/btf.c bpf_core_apply() runs the
// same bpf_core_calc_relo_insn() and bpf_core_patch_insn(). libbpf 1.8's
// static archive has both as global (non-exported) symbols but installs no
// header for them, so the structs and prototypes of relo_core.h (libbpf 1.8,
// LGPL-2.1 OR BSD-2-Clause) are declared here. They must stay layout-equal
// to the archive's: the static_asserts in core_relo.cpp pin the sizes.
#pragma once

#include <linux/bpf.h>  // struct bpf_core_relo, enum bpf_core_relo_kind, struct bpf_insn (libbpf 1.8's uapi)

#include <cstddef>

struct btf;

extern "C" {

struct bpf_core_cand {
  const struct btf* btf;
  __u32 id;
};

struct bpf_core_cand_list {
  struct bpf_core_cand* cands;
  int len;
};

#define BPF_CORE_SPEC_MAX_LEN 64

struct bpf_core_accessor {
  __u32 type_id;
  __u32 idx;
  const char* name;
};

struct bpf_core_spec {
  const struct btf* btf;
  struct bpf_core_accessor spec[BPF_CORE_SPEC_MAX_LEN];
  __u32 root_type_id;
  enum bpf_core_relo_kind relo_kind;
  int len;
  int raw_spec[BPF_CORE_SPEC_MAX_LEN];
  int raw_len;
  __u32 bit_offset;
};

struct bpf_core_relo_res {
  __u64 orig_val;
  __u64 new_val;
  bool poison;  // unsatisfiable: the instruction is poisoned, the load goes on
  bool validate;
  bool fail_memsz_adjust;
  __u32 orig_sz;
  __u32 orig_type_id;
  __u32 new_sz;
  __u32 new_type_id;
};

size_t bpf_core_essential_name_len(const char* name);

int bpf_core_calc_relo_insn(const char* prog_name, const struct bpf_core_relo* relo, int relo_idx,
                            const struct btf* local_btf, struct bpf_core_cand_list* cands,
                            struct bpf_core_spec* specs_scratch, struct bpf_core_relo_res* targ_res);

int bpf_core_patch_insn(const char* prog_name, struct bpf_insn* insn, int insn_idx, const struct bpf_core_relo* relo,
                        int relo_idx, const struct bpf_core_relo_res* res);

}  // extern "C"
