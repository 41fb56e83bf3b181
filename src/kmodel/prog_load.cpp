// SPDX-License-Identifier: Apache-2.0
// BPF_PROG_LOAD (kernel/bpf/syscall.c bpf_prog_load, 6.18) in the order the
// kernel runs it: attribute checks, the instructions and license copied in,
// the signature checked against a keyring, the program type and name, the
// LSM hook security_bpf_prog_load, then a structural stand-in for the
// verifier (bpf_check), the id, security_bpf_prog and the fd.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "bpfsig/isa.h"
#include "kmodel/objects.h"
#include "kmodel/reach.h"

namespace bpfsig::kmodel {
namespace {

constexpr const char* kCmd = "BPF_PROG_LOAD";
// BPF_F_STRICT_ALIGNMENT .. BPF_F_TEST_REG_INVARIANTS; BPF_F_TOKEN_FD is separate.
constexpr uint32_t kKnownProgFlags = 0xff;
constexpr uint32_t kFTokenFd = 1u << 16;
constexpr size_t kComplexityLimitInsns = 1'000'000;  // BPF_COMPLEXITY_LIMIT_INSNS (bpf_capable)
constexpr size_t kMaxUsedMaps = 64;                  // MAX_USED_MAPS
constexpr size_t kLicenseLen = 128;

// Program types that may be sleepable: fentry/fexit/fmod_ret (TRACING), LSM,
// uprobes (KPROBE), STRUCT_OPS and SYSCALL (can_be_sleepable).
bool can_be_sleepable(uint32_t prog_type) {
  return prog_type == 2 || prog_type == 26 || prog_type == 27 || prog_type == 29 || prog_type == kProgSyscall;
}

// Helpers whose proto is gpl_only, among those loaders and the examples call:
// probe_read (4), trace_printk (6), probe_read_user (112), probe_read_kernel
// (113), probe_read_user_str (114), probe_read_kernel_str (115).
bool helper_is_gpl_only(int32_t id) { return id == 4 || id == 6 || (id >= 112 && id <= 115); }

// include/linux/license.h
bool license_is_gpl_compatible(const std::string& license) {
  static const std::set<std::string> gpl = {"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                                            "Dual MIT/GPL", "Dual MPL/GPL"};
  return gpl.count(license) != 0;
}

void check_attr(const ProgLoadAttr& attr) {
  if (attr.prog_flags & kFTokenFd) fail(EOPNOTSUPP, kCmd, "BPF tokens are not modelled");
  if (attr.prog_flags & ~kKnownProgFlags) fail(EINVAL, kCmd, "unknown prog_flags");
  if (attr.insns.size() % sizeof(uint64_t) != 0) fail(EINVAL, kCmd, "instructions are not a multiple of 8 bytes");
  size_t insn_cnt = attr.insns.size() / sizeof(uint64_t);
  if (insn_cnt == 0 || insn_cnt > kComplexityLimitInsns) fail(E2BIG, kCmd, "insn_cnt is 0 or over the limit");
}

lsm::ProgLoadAttr lsm_attr(const ProgLoadAttr& attr) {
  lsm::ProgLoadAttr out;
  out.prog_type = attr.prog_type;
  out.expected_attach_type = attr.expected_attach_type;
  out.prog_flags = attr.prog_flags;
  out.insn_cnt = static_cast<uint32_t>(attr.insns.size() / sizeof(uint64_t));
  if (!attr.signature.empty()) out.signature = attr.signature;
  out.keyring_id = attr.keyring_id;
  out.fd_array = attr.fd_array;
  out.fd_array_cnt = attr.fd_array_cnt;
  out.signature_maps = attr.signature_maps;
  return out;
}

// ---- the hash-chain series (bpf-next v2, Sep 2025) ------------------------------

// __sys_bpf's bpf_check_uarg_tail_zero: a kernel whose union bpf_attr ends at
// keyring_id (168 bytes, 6.18) refuses a longer attr with non-zero bytes
// past its end, before anything else (even security_bpf) runs.
void check_attr_tail(const ProgLoadAttr& attr, const KernelProfile& profile) {
  if (!attr.signature_maps.empty() && !profile.hash_chain_signature)
    fail(E2BIG, kCmd, "attr.signature_maps is past this kernel's union bpf_attr (bpf_check_uarg_tail_zero)");
}

// bpf_prog_verify_signature's hash-chain leg: each named map's hash, from the
// last to the first, through fd_array (copy_from_bpfptr_offset: EFAULT past
// the caller's array) and bpf_map_get_hash (EBADF no fd, EINVAL not a map or
// no map_get_hash: only a plain ARRAY has one). Like array_map_get_hash it
// stores each hash in map->sha. The series does not require the maps to be
// frozen or exclusive. Returns the 32-byte value the PKCS#7 must cover.
Bytes hash_chain_content(const ProgLoadAttr& attr, const std::function<std::shared_ptr<Map>(int)>& lookup) {
  if (attr.signature.size() > crypto::kMaxKernelSignatureSize)
    fail(EINVAL, kCmd, "signature_size over KMALLOC_MAX_CACHE_SIZE");
  std::vector<crypto::Digest> hashes(attr.signature_maps.size());
  for (size_t n = attr.signature_maps.size(); n-- > 0;) {
    uint32_t idx = attr.signature_maps[n];
    if (idx >= attr.fd_array.size())
      fail(EFAULT, kCmd, "signature_maps[" + std::to_string(n) + "] = " + std::to_string(idx) + ": fd_array[" +
                             std::to_string(idx) + "] is not readable");
    auto map = lookup(attr.fd_array[idx]);
    std::optional<crypto::Digest> hash = map->content_hash();
    if (!hash) fail(EINVAL, kCmd, "map " + std::to_string(map->id()) + " has no map_get_hash (not a plain ARRAY)");
    map->sha = *hash;
    map->sha_computed = true;
    hashes[n] = *hash;
  }
  crypto::Digest value = skel::hash_chain_value(attr.insns, hashes);
  return Bytes(value.begin(), value.end());
}

lsm::MapView map_view(const Map& map) {
  lsm::MapView view{map.id(), map.type(), map.attr().name.substr(0, map.attr().name.find('\0')),
                    map.attr().value_size, map.attr().max_entries, map.frozen, std::nullopt};
  if (map.sha_computed) view.hash = map.sha;
  return view;
}

// What one ld_imm64 with a map source resolved to.
struct MapRef {
  std::shared_ptr<Map> map;
  bool value = false;  // src 2/6: the address of value byte `offset`
  uint32_t offset = 0;
};

using MapLookup = std::function<std::shared_ptr<Map>(int fd)>;

// The fd an ld_imm64 names: src 1/2 carry the fd itself, src 5/6 an index
// into attr.fd_array (the kernel reads fd_array[idx] from the caller's memory).
int ld_imm64_fd(const isa::Insn& insn, const ProgLoadAttr& attr) {
  if (insn.src == isa::kPseudoMapFd || insn.src == isa::kPseudoMapValue) return insn.imm;
  if (attr.fd_array.empty()) fail(EPROTO, kCmd, "fd_idx without fd_array is invalid");
  uint32_t idx = static_cast<uint32_t>(insn.imm);
  if (attr.fd_array_cnt && idx >= attr.fd_array_cnt)
    fail(EINVAL, kCmd, "fd_idx " + std::to_string(idx) + " is past fd_array_cnt");
  if (idx >= attr.fd_array.size()) fail(EFAULT, kCmd, "fd_array[" + std::to_string(idx) + "] is not readable");
  return attr.fd_array[idx];
}

// map->ops->map_direct_value_addr: only a one-entry ARRAY has one.
void check_direct_value(const Map& map, uint32_t offset) {
  if (map.type() != kMapArray) fail(EINVAL, kCmd, "no direct value access support for this map type");
  if (map.attr().max_entries != 1) fail(kENOTSUPP, kCmd, "direct value access needs max_entries == 1");
  if (offset >= map.attr().value_size) fail(EINVAL, kCmd, "invalid access to map value pointer");
}

// resolve_pseudo_ldimm64(): every ld_imm64 with a map source, by pc.
std::map<size_t, MapRef> resolve_map_refs(const std::vector<isa::Insn>& insns, const ProgLoadAttr& attr,
                                          const MapLookup& lookup) {
  std::map<size_t, MapRef> refs;
  for (size_t pc = 0; pc + 1 < insns.size(); ++pc) {
    const isa::Insn& insn = insns[pc];
    if (!isa::is_ld_imm64(insn)) continue;
    uint8_t src = insn.src;
    ++pc;  // the second slot
    if (src == 0 || src == isa::kPseudoFunc || src == isa::kPseudoBtfId) continue;  // ksyms: resolve_kernel_btf_ids
    bool value = src == isa::kPseudoMapValue || src == isa::kPseudoMapIdxValue;
    bool pointer = src == isa::kPseudoMapFd || src == isa::kPseudoMapIdx;
    if (!value && !pointer) fail(EINVAL, kCmd, "unrecognized bpf_ld_imm64 insn");
    uint32_t offset = static_cast<uint32_t>(insns[pc].imm);
    if (pointer && offset != 0) fail(EINVAL, kCmd, "unrecognized bpf_ld_imm64 insn");
    auto map = lookup(ld_imm64_fd(insn, attr));
    if (value) check_direct_value(*map, offset);
    refs[pc - 1] = MapRef{map, value, offset};
  }
  return refs;
}

// used_maps: each map once, in the order first referenced; fd_array_cnt > 0
// adds the whole fd_array first (process_fd_array). BTF fds there are
// accepted and, as the model keeps no used_btfs, not recorded.
std::vector<std::shared_ptr<Map>> collect_used_maps(const ProgLoadAttr& attr, const std::map<size_t, MapRef>& refs,
                                                    const std::function<std::shared_ptr<Object>(int)>& object_at) {
  std::vector<std::shared_ptr<Map>> used;
  auto add = [&](const std::shared_ptr<Map>& map) {
    if (std::find(used.begin(), used.end(), map) == used.end()) used.push_back(map);
  };
  if (attr.fd_array_cnt > attr.fd_array.size()) fail(EFAULT, kCmd, "fd_array shorter than fd_array_cnt");
  for (uint32_t i = 0; i < attr.fd_array_cnt; ++i) {
    auto object = object_at(attr.fd_array[i]);
    if (auto map = std::dynamic_pointer_cast<Map>(object)) add(map);
    else if (!std::dynamic_pointer_cast<Btf>(object))
      fail(EINVAL, kCmd, "fd " + std::to_string(attr.fd_array[i]) + " is not pointing to valid bpf_map or btf");
  }
  for (const auto& [pc, ref] : refs) add(ref.map);
  if (used.size() > kMaxUsedMaps) fail(E2BIG, kCmd, "more than 64 maps used");
  return used;
}

// 6.18 binds the fd_array_cnt maps (process_fd_array) before it computes
// prog->digest, so an exclusive map there is compared with an all-zero
// digest: EACCES (measured on 6.18.44). The loadtime order computes the
// digest first (bind_fd_array).
void check_fd_array_exclusive_618(const ProgLoadAttr& attr, const std::function<std::shared_ptr<Object>(int)>& object_at) {
  const crypto::Digest unset{};
  for (uint32_t i = 0; i < attr.fd_array_cnt && i < attr.fd_array.size(); ++i)
    if (auto map = std::dynamic_pointer_cast<Map>(object_at(attr.fd_array[i])))
      if (map->excl_prog_sha && *map->excl_prog_sha != unset)
        fail(EACCES, kCmd, "program's hash doesn't match map's excl_prog_hash (fd_array_cnt is bound before "
                           "the digest is computed)");
}

// check_map_prog_compatibility(), the part the model has: exclusive maps.
void check_exclusive_maps(const std::vector<std::shared_ptr<Map>>& used, const crypto::Digest& digest) {
  for (const auto& map : used)
    if (map->excl_prog_sha && *map->excl_prog_sha != digest)
      fail(EACCES, kCmd, "program's hash doesn't match map's excl_prog_hash");
}

void check_sleepable(const ProgLoadAttr& attr) {
  bool sleepable = attr.prog_flags & kFSleepable;
  if (sleepable && !can_be_sleepable(attr.prog_type))
    fail(EINVAL, kCmd, "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable");
  if (attr.prog_type == kProgSyscall && !sleepable)
    fail(EINVAL, kCmd, "Syscall programs can only be sleepable");
}

void check_gpl_helpers(const std::vector<isa::Insn>& insns, bool gpl_compatible) {
  if (gpl_compatible) return;
  for (const isa::Insn& insn : insns)
    if (insn.code == (isa::kClassJmp | isa::kJmpCall) && insn.src == 0 && helper_is_gpl_only(insn.imm))
      fail(EINVAL, kCmd, "cannot call GPL-restricted function from non-GPL compatible program");
}

// ---- the 2026 loadtime scheme ---------------------------------------------------

// process_fd_array() as the loadtime scheme has it: every fd_array entry up
// to fd_array_cnt is bound first. For a signed load a BTF is refused
// (EACCES, __add_used_btf) and each map must be a plain ARRAY (EINVAL),
// frozen (EPERM) and exclusive (EPERM), in that order (the selftests'
// signed_*_fd_array_rejected cases pin these errnos); an exclusive map bound
// to another digest is EACCES. Returns the maps in fd_array order.
std::vector<std::shared_ptr<Map>> bind_fd_array(const ProgLoadAttr& attr, bool is_signed, const crypto::Digest& digest,
                                                const std::function<std::shared_ptr<Object>(int)>& object_at) {
  std::vector<std::shared_ptr<Map>> maps;
  if (attr.fd_array_cnt > attr.fd_array.size()) fail(EFAULT, kCmd, "fd_array shorter than fd_array_cnt");
  for (uint32_t i = 0; i < attr.fd_array_cnt; ++i) {
    auto object = object_at(attr.fd_array[i]);
    auto map = std::dynamic_pointer_cast<Map>(object);
    if (!map) {
      if (!std::dynamic_pointer_cast<Btf>(object))
        fail(EINVAL, kCmd, "fd " + std::to_string(attr.fd_array[i]) + " is not pointing to valid bpf_map or btf");
      if (is_signed) fail(EACCES, kCmd, "a signed program may not bind a BTF (fd_array[" + std::to_string(i) + "])");
      continue;  // BTF: the model keeps no used_btfs
    }
    if (is_signed) {
      std::string which = "map " + std::to_string(map->id()) + " (fd_array[" + std::to_string(i) + "])";
      if (map->type() != kMapArray) fail(EINVAL, kCmd, which + " is not a plain array and cannot be signed");
      if (!map->frozen) fail(EPERM, kCmd, which + " is not frozen");
      if (!map->excl_prog_sha) fail(EPERM, kCmd, which + " is not exclusive and cannot be signed");
    }
    if (map->excl_prog_sha && *map->excl_prog_sha != digest)
      fail(EACCES, kCmd, "program's hash doesn't match map's excl_prog_hash");
    if (std::find(maps.begin(), maps.end(), map) == maps.end()) maps.push_back(map);
  }
  return maps;
}

// insns || value of map 0 || value of map 1 ...: each map's value through
// map_direct_value_addr (one-entry ARRAY only, else ENOTSUPP), value_size
// bytes. The parts are views of the attr and of the maps' own storage (the
// kernel hashes the values where they lie), valid while nothing writes them.
std::vector<ByteView> signed_content(const ProgLoadAttr& attr, const std::vector<std::shared_ptr<Map>>& folded) {
  std::vector<ByteView> parts{attr.insns};
  for (const auto& map : folded) {
    if (map->attr().max_entries != 1) fail(kENOTSUPP, kCmd, "a folded map needs max_entries == 1");
    auto area = map->mmapable_area();
    if (!area || area->size() < map->attr().value_size) fail(EINVAL, kCmd, "map has no direct value address");
    parts.push_back(area->first(map->attr().value_size));
  }
  return parts;
}

// prog->aux->sig's keyring fields, classified from keyring_id alone.
lsm::ProgSig verified_sig(int32_t keyring_id) {
  lsm::ProgSig sig;
  sig.verdict = lsm::SigVerdict::kVerified;
  switch (keyring_id) {
    case kBuiltinKeyring: sig.keyring_type = lsm::SigKeyring::kBuiltin; break;
    case kSecondaryKeyring: sig.keyring_type = lsm::SigKeyring::kSecondary; break;
    case kPlatformKeyring: sig.keyring_type = lsm::SigKeyring::kPlatform; break;
    case kBpfKeyring: sig.keyring_type = lsm::SigKeyring::kBpf; break;
    default:
      sig.keyring_type = lsm::SigKeyring::kUser;
      sig.keyring_serial = keyring_id;  // the model's user keyrings are named by their serial
  }
  return sig;
}

std::vector<isa::Insn> decode_and_validate(ByteView raw) {
  try {
    auto insns = isa::decode(raw, "program");
    isa::validate(insns);
    return insns;
  } catch (const Error& e) {
    fail(e.err(), kCmd, e.what());
  }
}

// A SYSCALL program runs in the VM: map pointers become read-only views of
// the struct bpf_map prefix, map values the map's own storage (writable
// unless BPF_F_RDONLY_PROG; freezing only stops syscall-side writes).
void prepare_for_vm(Prog& prog, const std::vector<isa::Insn>& insns, const std::map<size_t, MapRef>& refs) {
  prog.memory = std::make_unique<vm::AddressSpace>();
  std::map<const Map*, uint64_t> pointer_addr, value_addr;
  for (const auto& [pc, ref] : refs) {
    Map& map = *ref.map;
    if (ref.value && !value_addr.count(&map)) {
      bool writable = !(map.attr().flags & kFRdonlyProg);
      value_addr[&map] = prog.memory->add("map_value:" + std::to_string(map.id()), *map.mmapable_area(), writable);
    }
    if (!ref.value && !pointer_addr.count(&map)) {
      prog.map_pointers.push_back(std::make_unique<Prog::MapPointer>(Prog::MapPointer{ref.map, {}}));
      pointer_addr[&map] =
          prog.memory->add_read_only("map:" + std::to_string(map.id()), prog.map_pointers.back()->prefix);
    }
  }
  prog.program = vm::prepare(insns, [&](const vm::PseudoLoad& load) -> uint64_t {
    // A ksym: a kernel address, which no VM region covers (an access faults).
    if (load.src == isa::kPseudoBtfId) return 0xffff'ffff'0000'0000ull | static_cast<uint32_t>(load.imm);
    const MapRef& ref = refs.at(load.pc);
    return ref.value ? value_addr.at(ref.map.get()) + ref.offset : pointer_addr.at(ref.map.get());
  });
}

constexpr int kMaxBpfStack = 512;  // MAX_BPF_STACK

int mem_access_size(const isa::Insn& insn) {
  switch (insn.code & 0x18) {
    case isa::kSizeB: return 1;
    case isa::kSizeH: return 2;
    case isa::kSizeW: return 4;
    default: return 8;
  }
}

// check_stack_access_within_bounds() for an access through R10 itself, whose
// offset is static: the frame is [-512, 0). A first byte outside it is
// EACCES; one that starts inside and runs past the frame pointer is EINVAL.
// (Loaders reach the stack only this way; copies of R10 are not followed.)
void check_stack_access(size_t pc, int off, int size, const char* what) {
  int err = 0;
  if (off < -kMaxBpfStack || off >= 0) err = EACCES;
  else if (off + size > 0) err = EINVAL;
  if (err)
    fail(err, kCmd, "insn " + std::to_string(pc) + ": invalid " + what + " stack R10 off=" + std::to_string(off) +
                        " size=" + std::to_string(size));
}

// Every load and store through R10. An atomic operation is checked as the
// read it starts with, as check_atomic() does.
void check_stack_accesses(const std::vector<isa::Insn>& insns) {
  for (size_t pc = 0; pc < insns.size(); ++pc) {
    const isa::Insn& insn = insns[pc];
    const uint8_t cls = isa::insn_class(insn), mode = insn.code & 0xe0;
    const int size = mem_access_size(insn);
    if (cls == isa::kClassLdx && insn.src == 10 && (mode == isa::kModeMem || mode == isa::kModeMemSx))
      check_stack_access(pc, insn.off, size, "read from");
    else if ((cls == isa::kClassSt || cls == isa::kClassStx) && insn.dst == 10 && mode == isa::kModeMem)
      check_stack_access(pc, insn.off, size, "write to");
    else if (cls == isa::kClassStx && insn.dst == 10 && mode == isa::kModeAtomic)
      check_stack_access(pc, insn.off, size, "read from");
  }
}

// What bpf_check() does last in every order: exclusive maps, stack bounds,
// GPL-only helpers, and for SYSCALL programs the translation the VM runs.
void finish_structural_checks(Prog& prog, const ProgLoadAttr& attr, const std::vector<isa::Insn>& insns,
                              const std::map<size_t, MapRef>& refs) {
  check_exclusive_maps(prog.used_maps, prog.digest);
  if (std::optional<size_t> pc = first_unreachable_insn(insns))  // check_cfg()
    fail(EINVAL, kCmd, "unreachable insn " + std::to_string(*pc));
  check_stack_accesses(insns);  // do_check(), after the maps are resolved
  check_gpl_helpers(insns, prog.gpl_compatible);
  // A reached CO-RE poison (do_check) or unresolved weak kfunc (fixup_kfunc_call).
  if (std::optional<ReachedCall> bad = first_reached_refused_call(insns))
    fail(EINVAL, kCmd, "insn " + std::to_string(bad->pc) + ": " + bad->message);
  if (attr.prog_type == kProgSyscall) prepare_for_vm(prog, insns, refs);
}

// The program object both PROG_LOAD orders start from.
std::shared_ptr<Prog> new_prog(const ProgLoadAttr& attr, const std::string& license, bool kernel) {
  auto prog = std::make_shared<Prog>(attr, kernel);
  prog->gpl_compatible = license_is_gpl_compatible(license);
  prog->view.prog_type = attr.prog_type;
  prog->view.name = attr.name.substr(0, attr.name.find('\0'));
  prog->view.insns = attr.insns;
  return prog;
}

}  // namespace

// security_bpf_prog_load, with the calling process as the LSMs' current task.
void Kernel::run_prog_load_hook(Process& proc, Prog& prog, const ProgLoadAttr& attr, bool kernel) {
  if (!lsm_) return;
  lsm::Caller caller = lsm_->current();
  caller.pid = proc.pid();
  caller.comm = proc.comm();
  lsm_->set_current(caller);
  attach_lsm_services(proc);
  if (int err = lsm_->security_bpf_prog_load(prog.view, lsm_attr(attr), nullptr, kernel))
    fail(-err, kCmd, "refused by an LSM (security_bpf_prog_load)");
  prog.lsm = lsm_;  // from here on, dropping the program frees its LSM blobs
}

int Kernel::publish_prog(Process& proc, std::shared_ptr<Prog> prog) {
  prog->publish_id(next_prog_id_++);
  progs_by_id_[prog->id()] = prog;
  for (const auto& map : prog->used_maps) prog->view.used_maps.push_back(map_view(*map));
  if (lsm_) attach_lsm_services(proc);
  if (lsm_)
    if (int err = lsm_->security_bpf_prog(prog->view)) fail(-err, kCmd, "refused by an LSM (security_bpf_prog)");
  return proc.install(std::move(prog));
}

Prog::~Prog() {
  if (lsm) lsm->security_bpf_prog_free(view);
}

int Kernel::prog_load(Process& proc, const ProgLoadAttr& attr, bool kernel) {
  check_attr_tail(attr, profile_);
  lsm_bpf(proc, 5 /* BPF_PROG_LOAD */, kCmd, kernel);
  if (profile_.loadtime_signature) return prog_load_loadtime(proc, attr, kernel);
  check_attr(attr);
  check_attach_attr(proc, attr);
  std::string license = attr.license.substr(0, std::min(attr.license.find('\0'), kLicenseLen - 1));
  std::optional<lsm::ProgSig> sig;
  if (!attr.signature.empty()) {
    auto certs = trusted_certs(proc, attr.keyring_id);  // EINVAL for an unknown keyring
    // The hash-chain series: with signature_maps the signature covers the
    // chained hash, else the instructions (as 6.18).
    bool chained = profile_.hash_chain_signature && !attr.signature_maps.empty();
    Bytes content = chained ? hash_chain_content(attr, [&](int fd) { return typed_object_at<Map>(proc, fd, kCmd); })
                            : attr.insns;
    crypto::SigCheck check = crypto::verify_kernel_rules(attr.signature, content, certs);
    if (check.err) fail(check.err, kCmd, "signature: " + check.kind + ": " + check.detail);
    if (profile_.records_prog_sig) sig = verified_sig(resolve_keyring(proc, attr.keyring_id, true));
  }
  if (attr.prog_type == 0 || attr.prog_type > kMaxProgType) fail(EINVAL, kCmd, "unknown program type");
  check_obj_name(attr.name, kCmd, "program");

  auto prog = new_prog(attr, license, kernel);
  if (sig) prog->view.sig = *sig;
  run_prog_load_hook(proc, *prog, attr, kernel);

  // bpf_check(), structurally.
  check_sleepable(attr);
  decode_and_validate(attr.insns);
  resolve_kernel_btf_ids(proc, attr.insns, prog->gpl_compatible);  // add_subprog_and_kfunc
  check_attach_btf_id(attr, prog->gpl_compatible);
  check_fd_array_exclusive_618(attr, [&](int fd) { return object_at(proc, fd, kCmd); });
  // check_btf_info's CO-RE relocations patch the instructions before
  // resolve_pseudo_ldimm64 takes the digest: the tag covers the patched code.
  const Bytes code = apply_core_relos(proc, attr);
  auto insns = decode_and_validate(code);
  prog->digest = prog_digest(code);
  prog->view.digest = prog->digest;
  prog->loaded_insns = code;
  auto refs = resolve_map_refs(insns, attr, [&](int fd) { return typed_object_at<Map>(proc, fd, kCmd); });
  prog->used_maps = collect_used_maps(attr, refs, [&](int fd) { return object_at(proc, fd, kCmd); });
  finish_structural_checks(*prog, attr, insns, refs);
  return publish_prog(proc, std::move(prog));
}

// The loadtime profile's order (bpf-next 2026): the attr checks and the
// signature size up front; then, inside bpf_check(), the digest, fd_array
// bound (with the signed-map rules), the keyring looked up and the signature
// verified over insns || folded map values, prog->aux->sig recorded, the
// security_bpf_prog_load hook, and the rest of the verifier, where a signed
// program binding any map it did not fold is refused (EACCES).
int Kernel::prog_load_loadtime(Process& proc, const ProgLoadAttr& attr, bool kernel) {
  check_attr(attr);
  check_attach_attr(proc, attr);
  const bool is_signed = !attr.signature.empty();
  if (is_signed && attr.signature.size() > crypto::kMaxKernelSignatureSize)
    fail(EINVAL, kCmd, "signature_size over KMALLOC_MAX_CACHE_SIZE");
  std::string license = attr.license.substr(0, std::min(attr.license.find('\0'), kLicenseLen - 1));
  if (attr.prog_type == 0 || attr.prog_type > kMaxProgType) fail(EINVAL, kCmd, "unknown program type");
  check_obj_name(attr.name, kCmd, "program");

  auto prog = new_prog(attr, license, kernel);

  // bpf_check(): the digest up front (over the signed, unmodified insns).
  prog->digest = prog_digest(attr.insns);
  prog->view.digest = prog->digest;
  auto folded = bind_fd_array(attr, is_signed, prog->digest, [&](int fd) { return object_at(proc, fd, kCmd); });
  if (is_signed) {
    auto certs = trusted_certs(proc, attr.keyring_id);  // EINVAL unknown, ENOKEY empty .bpf keyring
    crypto::SigCheck check = crypto::verify_kernel_rules(attr.signature, signed_content(attr, folded), certs);
    if (check.err) fail(check.err, kCmd, "signature verification failed: " + check.kind + ": " + check.detail);
    // -3 / -4 name a user keyring: the sig records its real serial.
    prog->view.sig = verified_sig(resolve_keyring(proc, attr.keyring_id, true));
  }

  run_prog_load_hook(proc, *prog, attr, kernel);

  check_sleepable(attr);
  decode_and_validate(attr.insns);
  resolve_kernel_btf_ids(proc, attr.insns, prog->gpl_compatible);
  check_attach_btf_id(attr, prog->gpl_compatible);
  // CO-RE patches the instructions; check_and_resolve_insns then takes the
  // digest again, over the patched code (for a program without relocations
  // it is the digest the signature step used).
  const Bytes code = apply_core_relos(proc, attr);
  auto insns = decode_and_validate(code);
  prog->digest = prog_digest(code);
  prog->view.digest = prog->digest;
  prog->loaded_insns = code;
  auto refs = resolve_map_refs(insns, attr, [&](int fd) {
    auto map = typed_object_at<Map>(proc, fd, kCmd);
    if (is_signed && std::find(folded.begin(), folded.end(), map) == folded.end())
      fail(EACCES, kCmd, "map " + std::to_string(map->id()) + " is not covered by the program's signature");
    return map;
  });
  prog->used_maps = folded;
  for (const auto& [pc, ref] : refs)
    if (std::find(prog->used_maps.begin(), prog->used_maps.end(), ref.map) == prog->used_maps.end())
      prog->used_maps.push_back(ref.map);
  if (prog->used_maps.size() > kMaxUsedMaps) fail(E2BIG, kCmd, "more than 64 maps used");
  finish_structural_checks(*prog, attr, insns, refs);
  return publish_prog(proc, std::move(prog));
}

ProgInfo Kernel::prog_info(Process& proc, int fd) {
  auto prog = typed_object_at<Prog>(proc, fd, "BPF_OBJ_GET_INFO_BY_FD");
  const ProgLoadAttr& a = prog->attr();
  ProgInfo info{a.prog_type, prog->id(), a.prog_flags, a.expected_attach_type, prog->view.name,
                static_cast<uint32_t>(a.insns.size() / sizeof(uint64_t)), prog->digest, {},
                prog->gpl_compatible, prog->loaded_by_kernel(), prog->loaded_insns};
  for (const auto& map : prog->used_maps) info.map_ids.push_back(map->id());
  return info;
}

}  // namespace bpfsig::kmodel
