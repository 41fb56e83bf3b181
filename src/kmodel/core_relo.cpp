// SPDX-License-Identifier: Apache-2.0
// CO-RE relocations in BPF_PROG_LOAD, as 6.18 applies them for light
// skeletons: verifier.c check_btf_info_early (prog_btf_fd) and
// check_core_relo (the record checks, one record at a time), btf.c
// bpf_core_apply (the candidates: bpf_core_find_cands over vmlinux BTF) and
// the relocation engine the kernel shares with libbpf, relo_core.c's
// bpf_core_calc_relo_insn and bpf_core_patch_insn, called from libbpf 1.8's
// archive (relo_core_abi.h). The target BTF is the host's vmlinux or the
// file given to Kernel::set_vmlinux_btf_file; module BTF is not modelled.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "skel/libbpf_log.h"
#include "kmodel/objects.h"
#include "kmodel/relo_core_abi.h"

namespace bpfsig::kmodel {
namespace {

constexpr const char* kCmd = "BPF_PROG_LOAD";
static_assert(sizeof(struct bpf_core_relo) == kMinCoreReloSize);
static_assert(sizeof(struct bpf_insn) == 8);
static_assert(sizeof(struct bpf_core_spec) == 1312);  // relo_core.h on x86-64
static_assert(sizeof(struct bpf_core_relo_res) == 40);

struct BtfFree {
  void operator()(struct btf* btf) const { btf__free(btf); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfFree>;

// The program's BTF as the relocations read it (btf_get_by_fd, then the
// types that BPF_BTF_LOAD would have parsed).
BtfPtr parse_prog_btf(const Btf& object) {
  skel::LibbpfLog warnings;
  struct btf* parsed = btf__new(object.blob().data(), static_cast<uint32_t>(object.blob().size()));
  if (libbpf_get_error(parsed) || !parsed)
    fail(EINVAL, kCmd,
         "prog_btf_fd: BTF object " + std::to_string(object.id()) + " has types libbpf cannot parse" + warnings.suffix());
  return BtfPtr(parsed);
}

// check_core_relo's checks on core_relo_cnt and core_relo_rec_size.
void check_record_size(const ProgLoadAttr& attr) {
  if (attr.core_relo_cnt > INT_MAX / sizeof(struct bpf_core_relo))
    fail(EINVAL, kCmd, "core_relo_cnt " + std::to_string(attr.core_relo_cnt) + " is too large");
  if (!core_relo_rec_size_ok(attr.core_relo_rec_size))
    fail(EINVAL, kCmd, "core_relo_rec_size " + std::to_string(attr.core_relo_rec_size) +
                           " is not a multiple of 4 in [16, 252]");
}

// Record i as the kernel copies it: bytes past struct bpf_core_relo must be
// zero (bpf_check_uarg_tail_zero: E2BIG), a record the caller's memory does
// not hold is EFAULT, and insn_off must name an instruction (EINVAL).
struct bpf_core_relo read_record(const ProgLoadAttr& attr, uint32_t i, size_t insn_cnt) {
  const size_t size = attr.core_relo_rec_size, start = size_t{i} * size;
  const std::string which = "core_relo[" + std::to_string(i) + "]";
  if (attr.core_relos.size() < start + size) fail(EFAULT, kCmd, which + " is not readable");
  const uint8_t* rec = attr.core_relos.data() + start;
  for (size_t b = kMinCoreReloSize; b < size; ++b)
    if (rec[b]) fail(E2BIG, kCmd, "nonzero tailing record in " + which);
  struct bpf_core_relo relo;
  std::memcpy(&relo, rec, sizeof(relo));
  if (relo.insn_off % 8 || relo.insn_off / 8 >= insn_cnt)
    fail(EINVAL, kCmd, "Invalid " + which + ".insn_off:" + std::to_string(relo.insn_off) +
                           " prog->len:" + std::to_string(insn_cnt));
  return relo;
}

// bpf_core_find_cands / bpf_core_add_cands for vmlinux: every type of the
// local type's kind (exactly: an ENUM does not match an ENUM64, unlike
// libbpf's own search) whose name equals the local one up to its "___"
// flavour suffix. An anonymous local type: EINVAL.
std::vector<bpf_core_cand> find_candidates(const struct btf* local, uint32_t local_id, const struct btf* target,
                                           uint32_t relo_idx) {
  const struct btf_type* local_type = btf__type_by_id(local, local_id);
  const char* name = btf__name_by_offset(local, local_type->name_off);
  if (!name || !*name)
    fail(EINVAL, kCmd, "relo #" + std::to_string(relo_idx) + ": target candidate search failed for " +
                           std::to_string(local_id) + " (an anonymous type)");
  const size_t essential = bpf_core_essential_name_len(name);
  std::vector<bpf_core_cand> cands;
  for (uint32_t id = 1, n = btf__type_cnt(target); id < n; ++id) {
    const struct btf_type* t = btf__type_by_id(target, id);
    if (btf_kind(t) != btf_kind(local_type)) continue;
    const char* targ_name = btf__name_by_offset(target, t->name_off);
    if (!targ_name || std::strncmp(name, targ_name, essential) != 0) continue;
    if (bpf_core_essential_name_len(targ_name) != essential) continue;
    cands.push_back(bpf_core_cand{target, id});
  }
  return cands;
}

[[noreturn]] void relocation_failed(int err, uint32_t relo_idx, const std::string& step, const skel::LibbpfLog& log) {
  fail(err < 0 ? -err : EINVAL, kCmd,
       "CO-RE relo #" + std::to_string(relo_idx) + ": " + step + " failed" + log.suffix());
}

// bpf_core_apply(): one relocation, patched into insns in place.
void apply_one(const struct bpf_core_relo& relo, uint32_t relo_idx, const struct btf* local, const struct btf* target,
               const std::string& prog_name, Bytes& insns) {
  if (relo.type_id >= btf__type_cnt(local))
    fail(EINVAL, kCmd, "relo #" + std::to_string(relo_idx) + ": bad type id " + std::to_string(relo.type_id));
  std::vector<bpf_core_cand> cands;
  if (relo.kind != BPF_CORE_TYPE_ID_LOCAL) {
    if (!target) fail(EINVAL, kCmd, "CO-RE relocation without vmlinux BTF (the host's is unreadable, no --btf)");
    cands = find_candidates(local, relo.type_id, target, relo_idx);
  }
  bpf_core_cand_list list{cands.data(), static_cast<int>(cands.size())};
  std::vector<bpf_core_spec> specs(3);
  bpf_core_relo_res res{};
  skel::LibbpfLog log;  // relo_core.c's messages go to the verifier log in the kernel
  if (int err = bpf_core_calc_relo_insn(prog_name.c_str(), &relo, static_cast<int>(relo_idx), local, &list,
                                        specs.data(), &res))
    relocation_failed(err, relo_idx, "calc", log);
  // The instruction is patched in an aligned copy (insns is a byte buffer);
  // an ld_imm64 is patched with its second slot.
  const size_t insn_idx = relo.insn_off / 8, slots = std::min<size_t>(2, insns.size() / 8 - insn_idx);
  struct bpf_insn patched[2] = {};
  std::memcpy(patched, insns.data() + relo.insn_off, slots * 8);
  if (int err = bpf_core_patch_insn(prog_name.c_str(), patched, static_cast<int>(insn_idx), &relo,
                                    static_cast<int>(relo_idx), &res))
    relocation_failed(err, relo_idx, "patch", log);
  std::memcpy(insns.data() + relo.insn_off, patched, slots * 8);
}

}  // namespace

Bytes Kernel::apply_core_relos(Process& proc, const ProgLoadAttr& attr) {
  Bytes insns = attr.insns;
  if (!attr.func_info_cnt && !attr.line_info_cnt) return insns;  // 6.18: no BTF info, core_relos unread
  auto object = typed_object_at<Btf>(proc, attr.prog_btf_fd, kCmd);  // check_btf_info_early
  if (!attr.core_relo_cnt) return insns;
  check_record_size(attr);
  BtfPtr local = parse_prog_btf(*object);
  const struct btf* target = using_host_vmlinux_btf() ? host_btf_->btf : nullptr;
  const std::string prog_name = attr.name.substr(0, attr.name.find('\0'));
  for (uint32_t i = 0; i < attr.core_relo_cnt; ++i)
    apply_one(read_record(attr, i, insns.size() / 8), i, local.get(), target, prog_name, insns);
  return insns;
}

}  // namespace bpfsig::kmodel
