// SPDX-License-Identifier: Apache-2.0
// BPF_PROG_LOAD's attach target by BTF (kernel/bpf/syscall.c bpf_prog_load
// and bpf_prog_load_check_attach; kernel/bpf/verifier.c check_attach_btf_id,
// bpf_check_attach_target, check_struct_ops_btf_id) and the kernel BTF ids
// in instructions: ld_imm64 src 3 (ksym, check_pseudo_btf_id) and
// BPF_PSEUDO_KFUNC_CALL (add_kfunc_call, the kfunc set check). The kernel
// side is the host's vmlinux BTF (libbpf) and /proc/kallsyms; a model
// without them answers as a kernel without vmlinux BTF.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "bpfsig/isa.h"
#include "kmodel/objects.h"

namespace bpfsig::kmodel {

namespace {

constexpr const char* kCmd = "BPF_PROG_LOAD";
constexpr uint32_t kProgTracing = 26, kProgStructOps = 27, kProgExt = 28, kProgLsm = 29;
constexpr uint32_t kTraceRawTp = 23, kTraceFentry = 24, kTraceFexit = 25, kModifyReturn = 26, kLsmMac = 27,
                   kTraceIter = 28, kLsmCgroup = 43;
constexpr uint32_t kBtfMaxType = 0xfffff;  // BTF_MAX_TYPE

bool needs_trampoline(const ProgLoadAttr& a) {
  if (a.prog_type == kProgLsm || a.prog_type == kProgExt) return true;
  return a.prog_type == kProgTracing &&
         (a.expected_attach_type == kTraceFentry || a.expected_attach_type == kTraceFexit ||
          a.expected_attach_type == kModifyReturn);
}

// btf_id_deny: functions a tracing program may not attach to.
bool denied(const std::string& name) {
  static const char* const kDeny[] = {"migrate_disable", "migrate_enable", "rcu_read_unlock_strict",
                                      "preempt_count_add", "preempt_count_sub", "__rcu_read_lock", "__rcu_read_unlock"};
  return std::any_of(std::begin(kDeny), std::end(kDeny), [&](const char* d) { return name == d; });
}

std::string id_text(uint32_t id) { return "attach_btf_id " + std::to_string(id); }

// The type behind modifiers and typedefs (btf_type_skip_modifiers plus typedefs).
const struct btf_type* skip_mods(const struct btf* btf, uint32_t id) {
  const struct btf_type* t = btf__type_by_id(btf, id);
  while (t && (btf_is_mod(t) || btf_is_typedef(t))) t = btf__type_by_id(btf, t->type);
  return t;
}

}  // namespace

bool Kernel::kallsyms_has(const std::string& name) {
  if (profile_.kallsyms.count(name)) return true;
  if (!using_host_vmlinux_btf()) return false;
  if (!host_kallsyms_tried_) {
    host_kallsyms_tried_ = true;
    std::ifstream in("/proc/kallsyms");
    if (in) {
      auto names = std::make_shared<std::vector<std::string>>();
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string addr, kind, sym;
        if (fields >> addr >> kind >> sym) names->push_back(sym);
      }
      std::sort(names->begin(), names->end());
      host_kallsyms_ = std::move(names);
    }
  }
  return host_kallsyms_ && std::binary_search(host_kallsyms_->begin(), host_kallsyms_->end(), name);
}

// bpf_prog_load(): the target object, then bpf_prog_load_check_attach().
void Kernel::check_attach_attr(Process& proc, const ProgLoadAttr& a) {
  if (profile_.refuse_trampolines && needs_trampoline(a))
    fail(EPERM, kCmd, "this kernel refuses programs that need a BPF trampoline (profile refuse_trampolines)");
  bool have_btf = false;
  if (a.attach_btf_obj_fd) {
    std::shared_ptr<Object> object;
    auto it = proc.fds_.find(a.attach_btf_obj_fd);
    if (it != proc.fds_.end()) object = it->second;
    if (std::dynamic_pointer_cast<Prog>(object))
      fail(EOPNOTSUPP, kCmd, "not modelled: attach_prog_fd (a BPF program as the attach target)");
    if (!std::dynamic_pointer_cast<Btf>(object))
      fail(EINVAL, kCmd, "attach_btf_obj_fd " + std::to_string(a.attach_btf_obj_fd) + " is neither a program nor BTF");
    // The model's BTF objects come from BTF_LOAD: never kernel (module) BTF.
    fail(kENOTSUPP, kCmd, "attach_btf_obj_fd names BTF that is not a kernel module's");
  } else if (a.attach_btf_id) {
    if (!using_host_vmlinux_btf()) fail(EINVAL, kCmd, "attach_btf_id without vmlinux BTF (the model has none)");
    have_btf = true;
  }
  if (a.attach_btf_id) {
    if (a.attach_btf_id > kBtfMaxType) fail(EINVAL, kCmd, id_text(a.attach_btf_id) + " is over BTF_MAX_TYPE");
    if (!have_btf) fail(EINVAL, kCmd, "attach_btf_id without a BTF");
    if (a.prog_type != kProgTracing && a.prog_type != kProgLsm && a.prog_type != kProgStructOps &&
        a.prog_type != kProgExt)
      fail(EINVAL, kCmd, "attach_btf_id is for TRACING, LSM, STRUCT_OPS and EXT programs");
  }
  if (a.prog_type == kProgExt && a.expected_attach_type)
    fail(EINVAL, kCmd, "an EXT program takes no expected_attach_type");
}

// check_attach_btf_id() after the sleepable rules (check_sleepable).
void Kernel::check_attach_btf_id(const ProgLoadAttr& a, bool gpl) {
  const uint32_t type = a.prog_type, id = a.attach_btf_id, eat = a.expected_attach_type;
  if (type == kProgStructOps) {  // check_struct_ops_btf_id
    if (!gpl) fail(EINVAL, kCmd, "struct ops programs must have a GPL compatible license");
    if (!id) fail(kENOTSUPP, kCmd, "a STRUCT_OPS program needs attach_btf_id");
    const struct btf* btf = host_btf_->btf;
    const struct btf_type* t = btf__type_by_id(btf, id);
    std::string name = t ? btf__name_by_offset(btf, t->name_off) : "";
    // Each registered struct_ops type has its value type bpf_struct_ops_<name>.
    if (!t || !btf_is_struct(t) || btf__find_by_name_kind(btf, ("bpf_struct_ops_" + name).c_str(), BTF_KIND_STRUCT) <= 0)
      fail(kENOTSUPP, kCmd, id_text(id) + " is not a supported struct");
    if (eat >= btf_vlen(t)) fail(EINVAL, kCmd, "attach to invalid member idx " + std::to_string(eat) + " of struct " + name);
    const struct btf_type* member = skip_mods(btf, btf_members(t)[eat].type);
    const struct btf_type* proto = member && btf_is_ptr(member) ? skip_mods(btf, member->type) : nullptr;
    if (!proto || !btf_is_func_proto(proto)) fail(EINVAL, kCmd, "attach to unsupported member of struct " + name);
    return;
  }
  if (type != kProgTracing && type != kProgLsm && type != kProgExt) return;
  if (!id) fail(EINVAL, kCmd, "Tracing programs must provide btf_id");
  if (!using_host_vmlinux_btf()) fail(EINVAL, kCmd, "no vmlinux BTF to attach to");
  const struct btf* btf = host_btf_->btf;
  const struct btf_type* t = btf__type_by_id(btf, id);
  if (!t) fail(EINVAL, kCmd, id_text(id) + " is invalid");
  std::string name = btf__name_by_offset(btf, t->name_off);
  if (name.empty()) fail(EINVAL, kCmd, id_text(id) + " doesn't have a name");
  if (type == kProgExt) fail(EINVAL, kCmd, "Cannot replace kernel functions");
  switch (eat) {
    case kTraceRawTp: {
      if (!btf_is_typedef(t)) fail(EINVAL, kCmd, id_text(id) + " is not a typedef");
      if (!name.starts_with("btf_trace_")) fail(EINVAL, kCmd, id_text(id) + " points to wrong type name " + name);
      const struct btf_type* ptr = btf__type_by_id(btf, t->type);
      if (!ptr || !btf_is_ptr(ptr) || !btf_is_func_proto(btf__type_by_id(btf, ptr->type)))
        fail(EINVAL, kCmd, id_text(id) + " is not a tracepoint typedef");
      break;
    }
    case kTraceIter:
      if (!btf_is_func(t) || !btf_is_func_proto(btf__type_by_id(btf, t->type)))
        fail(EINVAL, kCmd, id_text(id) + " is not a function");
      break;
    case kModifyReturn:
    case kLsmMac:
    case kLsmCgroup:
    case kTraceFentry:
    case kTraceFexit:
      if (!btf_is_func(t) || !btf_is_func_proto(btf__type_by_id(btf, t->type)))
        fail(EINVAL, kCmd, id_text(id) + " is not a function");
      if (!kallsyms_has(name)) fail(ENOENT, kCmd, "The address of function " + name + " cannot be found");
      if (a.prog_flags & kFSleepable)
        fail(EOPNOTSUPP, kCmd, "not modelled: whether " + name + " is sleepable (the error-injection list, the sleepable LSM hooks)");
      if (eat == kModifyReturn && !name.starts_with("security_"))
        fail(EOPNOTSUPP, kCmd, "not modelled: whether " + name + "() is modifiable (the error-injection list)");
      break;
    default: fail(EINVAL, kCmd, "expected_attach_type " + std::to_string(eat) + " has no BTF attach target");
  }
  // A TRACING program with an LSM attach type has no trampoline kind:
  // ENOTSUPP (measured on 6.18.44 for fentry-able targets such as do_unlinkat).
  if (type == kProgTracing && (eat == kLsmMac || eat == kLsmCgroup))
    fail(kENOTSUPP, kCmd, "a TRACING program cannot take an LSM attach type");
  if (type == kProgLsm) {  // bpf_lsm_verify_prog
    if (!gpl) fail(EINVAL, kCmd, "LSM programs must have a GPL compatible license");
    if (!name.starts_with("bpf_lsm_")) fail(EINVAL, kCmd, id_text(id) + " points to wrong type name " + name);
  } else if (denied(name)) {
    fail(EINVAL, kCmd, "tracing programs may not attach to " + name);
  }
  if (eat == kTraceIter && !name.starts_with("bpf_iter_"))
    fail(EINVAL, kCmd, id_text(id) + " is not a valid iterator target");
}

// ld_imm64 src 3 (check_pseudo_btf_id) and kfunc calls (add_kfunc_call, then
// check_kfunc_call's "is it a kfunc" test: the bpf_kfunc decl tag vmlinux
// BTF carries for every registered kfunc; which program types each kfunc
// set admits is not modelled).
void Kernel::resolve_kernel_btf_ids(Process& proc, ByteView raw, bool gpl) {
  for (size_t off = 0; off + 8 <= raw.size(); off += 8) {
    uint8_t code = raw[off], src = raw[off + 1] >> 4;
    int16_t insn_off = static_cast<int16_t>(load_le16(raw.data() + off + 2));
    uint32_t imm = load_le32(raw.data() + off + 4);
    if (code == 0x18 && off + 16 <= raw.size()) {
      uint32_t next_imm = load_le32(raw.data() + off + 12);
      off += 8;
      if (src != isa::kPseudoBtfId) continue;
      if (next_imm) {  // a module BTF fd
        auto it = proc.fds_.find(static_cast<int>(next_imm));
        if (it == proc.fds_.end() || !std::dynamic_pointer_cast<Btf>(it->second))
          fail(EINVAL, kCmd, "invalid module BTF object FD specified");
        fail(EINVAL, kCmd, "BTF object is not a module BTF");
      }
      if (!using_host_vmlinux_btf()) fail(EINVAL, kCmd, "kernel is missing BTF");
      const struct btf* btf = host_btf_->btf;
      const struct btf_type* t = imm ? btf__type_by_id(btf, imm) : nullptr;
      if (!t) fail(ENOENT, kCmd, "ldimm64 insn specifies invalid btf_id " + std::to_string(imm));
      if (!btf_is_var(t) && !btf_is_func(t))
        fail(EINVAL, kCmd, "pseudo btf_id " + std::to_string(imm) + " in ldimm64 isn't KIND_VAR or KIND_FUNC");
      std::string name = btf__name_by_offset(btf, t->name_off);
      if (!kallsyms_has(name)) fail(ENOENT, kCmd, "ldimm64 failed to find the address for kernel symbol '" + name + "'");
      continue;
    }
    if (code != (isa::kClassJmp | isa::kJmpCall) || src != isa::kPseudoKfuncCall) continue;
    if (!gpl) fail(EINVAL, kCmd, "cannot call kernel function from non-GPL compatible program");
    if (insn_off) fail(EOPNOTSUPP, kCmd, "not modelled: kfuncs of module BTF (fd_array index in off)");
    if (!using_host_vmlinux_btf()) fail(EINVAL, kCmd, "calling kernel functions needs vmlinux BTF");
    // imm 0 (off is 0 here): a weak kfunc gen_loader did not find (its
    // emit_relo_kfunc_btf zeroes both). add_kfunc_call lets it through for
    // the dead-code pass to remove; a reached one is refused later, as
    // fixup_kfunc_call does (reach.h).
    if (!imm) continue;
    const struct btf* btf = host_btf_->btf;
    const struct btf_type* t = imm ? btf__type_by_id(btf, imm) : nullptr;
    if (!t || !btf_is_func(t)) fail(EINVAL, kCmd, "kernel btf_id " + std::to_string(imm) + " is not a function");
    std::string name = btf__name_by_offset(btf, t->name_off);
    if (!kallsyms_has(name)) fail(EINVAL, kCmd, "cannot find address for kernel function " + name);
    bool tagged = false;
    for (uint32_t i = 1, n = btf__type_cnt(btf); i < n && !tagged; ++i) {
      const struct btf_type* tag = btf__type_by_id(btf, i);
      tagged = btf_is_decl_tag(tag) && tag->type == imm && std::string(btf__name_by_offset(btf, tag->name_off)) == "bpf_kfunc";
    }
    if (!tagged) fail(EACCES, kCmd, "calling kernel function " + name + " is not allowed");
  }
}

}  // namespace bpfsig::kmodel
