// SPDX-License-Identifier: Apache-2.0
// bpf_sys_bpf: kern_sys_bpf()'s command filter, __sys_bpf()'s attr copy
// (bpf_check_uarg_tail_zero, CHECK_ATTR) and the attr layouts of the
// commands a gen_loader loader issues (6.18 union bpf_attr). Pointers in the
// attr are VM addresses; one that does not lie in a readable region is the
// kernel's -EFAULT.
#include <algorithm>
#include <optional>
#include <string>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "kmodel/objects.h"
#include "kmodel/sys_bpf.h"

namespace bpfsig::kmodel {
namespace {

// enum bpf_cmd
constexpr uint32_t kMapCreate = 0;
constexpr uint32_t kMapUpdateElem = 2;
constexpr uint32_t kMapDeleteElem = 3;
constexpr uint32_t kProgLoad = 5;
constexpr uint32_t kProgTestRun = 10;
constexpr uint32_t kMapGetFdById = 14;
constexpr uint32_t kRawTracepointOpen = 17;
constexpr uint32_t kBtfLoad = 18;
constexpr uint32_t kMapFreeze = 22;
constexpr uint32_t kLinkCreate = 28;

// The names failures are reported under, as the kernel's enum bpf_cmd.
std::string command_name(uint32_t cmd) {
  switch (cmd) {
    case kMapCreate: return "BPF_MAP_CREATE";
    case kMapUpdateElem: return "BPF_MAP_UPDATE_ELEM";
    case kMapDeleteElem: return "BPF_MAP_DELETE_ELEM";
    case kProgLoad: return "BPF_PROG_LOAD";
    case kProgTestRun: return "BPF_PROG_TEST_RUN";
    case kMapGetFdById: return "BPF_MAP_GET_FD_BY_ID";
    case kRawTracepointOpen: return "BPF_RAW_TRACEPOINT_OPEN";
    case kBtfLoad: return "BPF_BTF_LOAD";
    case kMapFreeze: return "BPF_MAP_FREEZE";
    case kLinkCreate: return "BPF_LINK_CREATE";
    default: return "bpf_sys_bpf command " + std::to_string(cmd);
  }
}

constexpr size_t kAttrSize = 168;  // sizeof(union bpf_attr) up to keyring_id
constexpr size_t kMaxLicense = 127;

// The kernel's copy of the attr, with typed field access.
class Attr {
 public:
  explicit Attr(std::span<const uint8_t> user) : bytes_(kAttrSize, 0) {
    std::copy_n(user.begin(), std::min(user.size(), kAttrSize), bytes_.begin());
  }
  uint32_t u32(size_t off) const { return load_le32(bytes_.data() + off); }
  int32_t s32(size_t off) const { return static_cast<int32_t>(u32(off)); }
  uint64_t u64(size_t off) const { return load_le64(bytes_.data() + off); }
  // A char[16] object name: up to the first NUL, all 16 bytes when there is none.
  std::string name(size_t off) const {
    const char* p = reinterpret_cast<const char*>(bytes_.data() + off);
    return std::string(p, std::find(p, p + kObjNameLen, '\0'));
  }
  // CHECK_ATTR: everything after the command's last field must be zero.
  void check_unused_zero(size_t end, const char* cmd) const {
    if (std::any_of(bytes_.begin() + static_cast<std::ptrdiff_t>(end), bytes_.end(), [](uint8_t b) { return b; }))
      fail(EINVAL, cmd, "non-zero bytes after the command's last attr field");
  }

 private:
  Bytes bytes_;
};

// [addr, addr + len) of VM memory where it lies, or nullopt (the kernel's
// copy fault). The view is valid while the VM's regions are: for the rest
// of the command, whose callee copies what it keeps.
std::optional<ByteView> vm_view(const vm::HelperContext& ctx, uint64_t addr, uint64_t len) {
  if (len == 0) return ByteView{};
  vm::AccessFault fault;
  const uint8_t* p = ctx.memory().translate(addr, len, false, &fault);
  if (!p) return std::nullopt;
  return ByteView(p, static_cast<size_t>(len));
}

// The same bytes, copied (what the command keeps).
std::optional<Bytes> vm_bytes(const vm::HelperContext& ctx, uint64_t addr, uint64_t len) {
  auto view = vm_view(ctx, addr, len);
  if (!view) return std::nullopt;
  return Bytes(view->begin(), view->end());
}

ByteView vm_view_or_efault(vm::HelperContext& ctx, uint64_t addr, uint64_t len, const char* cmd, const char* what) {
  auto view = vm_view(ctx, addr, len);
  if (!view) fail(EFAULT, cmd, std::string(what) + " pointer is not readable");
  return *view;
}

Bytes vm_bytes_or_efault(vm::HelperContext& ctx, uint64_t addr, uint64_t len, const char* cmd, const char* what) {
  ByteView view = vm_view_or_efault(ctx, addr, len, cmd, what);
  return Bytes(view.begin(), view.end());
}

// strncpy_from_bpfptr(license, attr->license, sizeof(license) - 1)
std::string vm_string(vm::HelperContext& ctx, uint64_t addr, size_t max, const char* cmd) {
  std::string out;
  for (; out.size() < max; ++addr) {
    auto byte = vm_bytes(ctx, addr, 1);
    if (!byte) fail(EFAULT, cmd, "license pointer is not readable");
    if ((*byte)[0] == 0) break;
    out.push_back(static_cast<char>((*byte)[0]));
  }
  return out;
}

[[noreturn]] void not_modelled(const char* cmd, const std::string& what) {
  fail(EOPNOTSUPP, cmd, what + " is not modelled");
}

// ---- BPF_MAP_CREATE ----------------------------------------------------------

int map_create(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const Attr& a) {
  constexpr const char* cmd = "BPF_MAP_CREATE";
  a.check_unused_zero(92, cmd);  // excl_prog_hash_size is the last field
  if (a.u32(44) || a.u32(72) || a.u32(76)) not_modelled(cmd, "offload, value_type_btf_obj_fd and tokens");
  MapCreateAttr attr{a.u32(0), a.u32(4), a.u32(8), a.u32(12), a.u32(16), a.name(28), {}};
  attr.inner_map_fd = a.s32(20);
  attr.btf_fd = a.s32(48);
  attr.btf_key_type_id = a.u32(52);
  attr.btf_value_type_id = a.u32(56);
  attr.btf_vmlinux_value_type_id = a.u32(60);
  attr.map_extra = a.u64(64);
  if (uint64_t hash = a.u64(80)) attr.excl_prog_hash = vm_bytes_or_efault(ctx, hash, a.u32(88), cmd, "excl_prog_hash");
  else if (a.u32(88)) fail(EINVAL, cmd, "excl_prog_hash_size without excl_prog_hash");
  return kernel.map_create(proc, attr);
}

// ---- element commands: key and value are copied after the permission
// checks, so an unreadable pointer reaches the map layer as an empty buffer
// and fails there with EFAULT, in the kernel's order.
// bpf_map_value_size()
size_t value_bytes(const MapInfo& info, const KernelProfile& profile) {
  switch (info.type) {
    case kMapPercpuArray:
    case kMapPercpuHash:
    case kMapLruPercpuHash:
    case kMapPercpuCgroupStorage: return static_cast<size_t>((info.value_size + 7u) & ~7u) * profile.nr_cpus;
  }
  return info.value_size;
}

int map_update(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const Attr& a) {
  a.check_unused_zero(32, "BPF_MAP_UPDATE_ELEM");
  int fd = a.s32(0);
  MapInfo info = kernel.map_info(proc, fd);
  Bytes key = vm_bytes(ctx, a.u64(8), info.key_size).value_or(Bytes{});
  // The value is not copied out first (the kernel's kvmemdup_bpfptr): the
  // map copies it in from where it lies, and a value that lies in the
  // updated map's own storage is copied as a snapshot (ArrayMap::update
  // moves overlapping bytes), so the result is the kernel's.
  ByteView value = vm_view(ctx, a.u64(16), value_bytes(info, kernel.profile())).value_or(ByteView{});
  kernel.map_update(proc, fd, key, value, a.u64(24));
  return 0;
}

int map_delete(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const Attr& a) {
  a.check_unused_zero(16, "BPF_MAP_DELETE_ELEM");
  int fd = a.s32(0);
  MapInfo info = kernel.map_info(proc, fd);
  kernel.map_delete(proc, fd, vm_bytes(ctx, a.u64(8), info.key_size).value_or(Bytes{}));
  return 0;
}

int map_freeze(Kernel& kernel, Process& proc, const Attr& a) {
  a.check_unused_zero(4, "BPF_MAP_FREEZE");
  kernel.map_freeze(proc, a.s32(0));
  return 0;
}

// ---- BPF_BTF_LOAD (the log is not produced)

int btf_load(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const Attr& a) {
  constexpr const char* cmd = "BPF_BTF_LOAD";
  a.check_unused_zero(40, cmd);
  if (a.u32(36)) not_modelled(cmd, "BPF tokens");
  return kernel.btf_load(proc, vm_view_or_efault(ctx, a.u64(0), a.u32(16), cmd, "btf"));  // Btf keeps its copy
}

// ---- BPF_PROG_LOAD -------------------------------------------------------------

// How many fd_array entries the verifier will read: fd_array_cnt, and every
// index an ld_imm64 src 5/6 names.
size_t fd_array_entries_needed(ByteView insns, uint32_t fd_array_cnt) {
  size_t needed = fd_array_cnt;
  for (size_t off = 0; off + 16 <= insns.size(); off += 8) {
    uint8_t src = insns[off + 1] >> 4;
    if (insns[off] != 0x18) continue;
    if (src == isa::kPseudoMapIdx || src == isa::kPseudoMapIdxValue)
      needed = std::max<size_t>(needed, static_cast<size_t>(load_le32(insns.data() + off + 4)) + 1);
    off += 8;
  }
  return needed;
}

// The verifier reads fd_array[idx] when it needs it; entries that cannot be
// read are left out, so the load fails with EFAULT only if one is used.
std::vector<int32_t> read_fd_array(vm::HelperContext& ctx, uint64_t addr, size_t entries) {
  std::vector<int32_t> fds;
  if (addr == 0) return fds;
  for (size_t i = 0; i < entries; ++i) {
    auto entry = vm_bytes(ctx, addr + 4 * i, 4);
    if (!entry) break;
    fds.push_back(static_cast<int32_t>(load_le32(entry->data())));
  }
  return fds;
}

// func_info and line_info are checked for readability and need a BTF fd;
// their records are not interpreted.
void check_btf_info(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const Attr& a, const char* cmd) {
  uint64_t func_info_len = uint64_t{a.u32(76)} * a.u32(88);
  uint64_t line_info_len = uint64_t{a.u32(92)} * a.u32(104);
  if (!func_info_len && !line_info_len) return;
  kernel.btf_info(proc, a.s32(72));
  vm_view_or_efault(ctx, a.u64(80), func_info_len, cmd, "func_info");
  vm_view_or_efault(ctx, a.u64(96), line_info_len, cmd, "line_info");
}

// prog_btf_fd, the BTF info counts and the CO-RE records. 6.18 reads
// core_relos only with func_info or line_info, and copies the records one
// at a time once core_relo_rec_size passed its checks: they are read here
// up to the first one the loader's memory does not hold (Kernel::prog_load
// then answers EFAULT if it gets that far).
void read_core_relos(vm::HelperContext& ctx, const Attr& a, ProgLoadAttr& attr) {
  attr.prog_btf_fd = a.s32(72);
  attr.func_info_cnt = a.u32(88);
  attr.line_info_cnt = a.u32(104);
  attr.core_relo_cnt = a.u32(116);
  attr.core_relo_rec_size = a.u32(136);
  const uint32_t size = attr.core_relo_rec_size;
  if ((!attr.func_info_cnt && !attr.line_info_cnt) || !core_relo_rec_size_ok(size)) return;
  for (uint64_t i = 0, addr = a.u64(128); i < attr.core_relo_cnt; ++i, addr += size) {
    auto record = vm_bytes(ctx, addr, size);
    if (!record) break;
    attr.core_relos.insert(attr.core_relos.end(), record->begin(), record->end());
  }
}

Bytes read_signature(vm::HelperContext& ctx, const Attr& a, const char* cmd) {
  uint64_t addr = a.u64(152);
  uint32_t size = a.u32(160);
  if (!addr) return {};
  // Too large is refused before the copy; the verification reports EINVAL.
  if (size > crypto::kMaxKernelSignatureSize) return Bytes(size, 0);
  return vm_bytes_or_efault(ctx, addr, size, cmd, "signature");
}

int prog_load(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const Attr& a) {
  constexpr const char* cmd = "BPF_PROG_LOAD";
  a.check_unused_zero(kAttrSize, cmd);
  if (a.u32(64)) not_modelled(cmd, "device offload");
  ProgLoadAttr attr;
  attr.prog_type = a.u32(0);
  attr.insns = vm_bytes_or_efault(ctx, a.u64(8), uint64_t{a.u32(4)} * 8, cmd, "insns");
  attr.license = vm_string(ctx, a.u64(16), kMaxLicense, cmd);
  attr.prog_flags = a.u32(44);
  attr.name = a.name(48);
  attr.expected_attach_type = a.u32(68);
  attr.attach_btf_id = a.u32(108);
  attr.attach_btf_obj_fd = a.s32(112);  // attach_prog_fd / attach_btf_obj_fd
  attr.fd_array_cnt = a.u32(148);
  attr.fd_array = read_fd_array(ctx, a.u64(120), fd_array_entries_needed(attr.insns, attr.fd_array_cnt));
  attr.signature = read_signature(ctx, a, cmd);
  attr.keyring_id = a.s32(164);
  check_btf_info(kernel, proc, ctx, a, cmd);
  read_core_relos(ctx, a, attr);
  return kernel.prog_load(proc, attr, /*kernel=*/true);
}

bool carried_out(uint32_t cmd) {
  return cmd == kMapCreate || cmd == kMapUpdateElem || cmd == kMapDeleteElem || cmd == kMapFreeze ||
         cmd == kBtfLoad || cmd == kProgLoad;
}

int dispatch(Kernel& kernel, Process& proc, vm::HelperContext& ctx, uint32_t cmd, const Attr& a) {
  switch (cmd) {
    case kMapCreate: return map_create(kernel, proc, ctx, a);
    case kMapUpdateElem: return map_update(kernel, proc, ctx, a);
    case kMapDeleteElem: return map_delete(kernel, proc, ctx, a);
    case kMapFreeze: return map_freeze(kernel, proc, a);
    case kBtfLoad: return btf_load(kernel, proc, ctx, a);
    case kProgLoad: return prog_load(kernel, proc, ctx, a);
    case kProgTestRun:
    case kMapGetFdById:
    case kRawTracepointOpen:
    case kLinkCreate: not_modelled("bpf_sys_bpf", "command " + std::to_string(cmd));
    default: fail(EINVAL, "bpf_sys_bpf", "command " + std::to_string(cmd) + " is not allowed from a program");
  }
}

}  // namespace

namespace {

// What the failing call was about, from its attr: the map or program name,
// and a map's type.
NestedFailure describe_failure(uint32_t cmd, const Attr& a, const Error& e) {
  NestedFailure f;
  f.command = command_name(cmd);
  if (cmd == kMapCreate) {
    f.object = a.name(28);
    f.map_type = map_type_enum_name(a.u32(0));
  } else if (cmd == kProgLoad) {
    f.object = a.name(48);
  }
  f.err = e.err();
  const std::string prefix = f.command + ": ";
  std::string message = e.what();
  f.reason = message.starts_with(prefix) ? message.substr(prefix.size()) : message;
  return f;
}

}  // namespace

uint64_t sys_bpf_untraced(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const uint64_t args[5]);

// The Kernel internals bpf_sys_bpf needs (a friend of Kernel).
struct KernelInternals {
  // Keeps the first failure of a run: later calls fail because of it (or
  // the loader's cleanup), so it is the cause.
  static void record_failure(Kernel& kernel, NestedFailure failure) {
    if (kernel.nested_failure_) return;
    if (kernel.lsm_) failure.audit_position = kernel.lsm_->audit_log().records().size();
    kernel.nested_failure_ = std::move(failure);
  }
  static void announce(Kernel& kernel, const Process& proc, uint32_t cmd, ByteView attr, uint32_t size) {
    if (!kernel.lsm_ || !kernel.lsm_bpf_hooks_) return;
    lsm::Caller caller = kernel.lsm_->current();
    caller.pid = proc.pid();
    caller.comm = proc.comm();
    kernel.lsm_->set_current(caller);
    if (int err = kernel.lsm_->security_bpf(static_cast<int>(cmd), attr, size, /*kernel=*/true))
      fail(-err, "bpf_sys_bpf", "refused by an LSM (security_bpf)");
  }
  static bool traced(const Kernel& kernel) { return kernel.trace_ != nullptr; }
  static void trace(Kernel& kernel, Process& proc, const vm::HelperContext& ctx, uint32_t cmd, uint64_t attr_addr,
                    ByteView user, int64_t result);
  // Marks the Kernel as inside a nested command for its lifetime.
  class Nested {
   public:
    explicit Nested(Kernel& kernel) : kernel_(kernel), was_(kernel.in_sys_bpf_) { kernel_.in_sys_bpf_ = true; }
    ~Nested() { kernel_.in_sys_bpf_ = was_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    Kernel& kernel_;
    bool was_;
  };
};

namespace {

// The bytes each command's attr pointers name, as the command reads them.
void trace_pointed_data(Kernel& kernel, Process& proc, const vm::HelperContext& ctx, uint32_t cmd, const Attr& a,
                        TracedCall& call, uint32_t metadata) {
  switch (cmd) {
    case kMapCreate:
      trace_data(ctx, call, "excl_prog_hash", a.u64(80), a.u32(88), metadata);
      break;
    case kMapUpdateElem: {
      MapInfo info;
      try {
        info = kernel.map_info(proc, a.s32(0));
      } catch (const Error&) {
        return;  // no such map: the call failed before reading key and value
      }
      trace_data(ctx, call, "key", a.u64(8), info.key_size, metadata);
      trace_data(ctx, call, "value", a.u64(16), value_bytes(info, kernel.profile()), metadata);
      break;
    }
    case kBtfLoad:
      trace_data(ctx, call, "btf", a.u64(0), a.u32(16), metadata);
      break;
    case kProgLoad: {
      trace_data(ctx, call, "insns", a.u64(8), uint64_t{a.u32(4)} * 8, metadata);
      vm::AccessFault fault;
      uint64_t license_len = 0;  // the NUL-terminated license, NUL included
      while (license_len <= kMaxLicense && ctx.memory().translate(a.u64(16) + license_len, 1, false, &fault) &&
             *ctx.memory().translate(a.u64(16) + license_len, 1, false, &fault))
        ++license_len;
      trace_data(ctx, call, "license", a.u64(16), license_len + 1, metadata);
      auto insns = vm_bytes(ctx, a.u64(8), uint64_t{a.u32(4)} * 8).value_or(Bytes{});
      trace_data(ctx, call, "fd_array", a.u64(120), 4 * fd_array_entries_needed(insns, a.u32(148)), metadata);
      if (a.u32(88) || a.u32(104))
        trace_data(ctx, call, "core_relos", a.u64(128), uint64_t{a.u32(116)} * a.u32(136), metadata);
      break;
    }
    default: break;
  }
}

}  // namespace

// Deep verify: the call's attr and data with their provenance, and what it
// created (bpf_sys_bpf of a traced run).
void KernelInternals::trace(Kernel& kernel, Process& proc, const vm::HelperContext& ctx, uint32_t cmd,
                            uint64_t attr_addr, ByteView user, int64_t result) {
  const uint32_t metadata = kernel.trace_->metadata_map_id;
  auto fd_to_id = [&](int fd) -> uint32_t {
    try {
      return kernel.object_at(proc, fd, "trace")->id();
    } catch (const Error&) {
      return 0;  // not open: the call failed on it
    }
  };
  ByteView attr(user.data(), std::min<size_t>(user.size(), kAttrSize));
  TracedCall call = trace_call(ctx, command_name(cmd), cmd, attr_addr, attr, fd_to_id, metadata);
  trace_pointed_data(kernel, proc, ctx, cmd, Attr(user), call, metadata);
  call.result = result;
  if (result > 0 && (cmd == kMapCreate || cmd == kBtfLoad || cmd == kProgLoad))
    call.object_id = fd_to_id(static_cast<int>(result));
  kernel.trace_->calls.push_back(std::move(call));
}

uint64_t sys_bpf(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const uint64_t args[5]) {
  const uint64_t result = sys_bpf_untraced(kernel, proc, ctx, args);
  if (KernelInternals::traced(kernel) && ctx.origins()) {
    auto user = ctx.read(args[1], static_cast<uint32_t>(args[2]));
    KernelInternals::trace(kernel, proc, ctx, static_cast<uint32_t>(args[0]), args[1], user,
                           static_cast<int64_t>(result));
  }
  return result;
}

uint64_t sys_bpf_untraced(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const uint64_t args[5]) {
  uint32_t cmd = static_cast<uint32_t>(args[0]);
  uint32_t size = static_cast<uint32_t>(args[2]);
  auto user = ctx.read(args[1], size);  // the verifier proved [attr, attr + size) readable
  try {
    if (size > kAttrSize && std::any_of(user.begin() + kAttrSize, user.end(), [](uint8_t b) { return b; }))
      fail(E2BIG, "bpf_sys_bpf", "non-zero attr bytes beyond the kernel's union bpf_attr");
    if (!carried_out(cmd)) return static_cast<uint64_t>(static_cast<int64_t>(dispatch(kernel, proc, ctx, cmd, Attr(user))));
    // __sys_bpf(): security_bpf with the copied attr (at most the union's
    // size) and kernel == true, then the command, whose own hooks see
    // kernel == true and skip security_bpf.
    uint32_t copied = std::min<uint32_t>(size, static_cast<uint32_t>(kAttrSize));
    KernelInternals::announce(kernel, proc, cmd, ByteView(user.data(), copied), copied);
    KernelInternals::Nested nested(kernel);
    return static_cast<uint64_t>(static_cast<int64_t>(dispatch(kernel, proc, ctx, cmd, Attr(user))));
  } catch (const Error& e) {
    KernelInternals::record_failure(kernel, describe_failure(cmd, Attr(user), e));
    return static_cast<uint64_t>(-static_cast<int64_t>(e.err()));
  }
}

}  // namespace bpfsig::kmodel
