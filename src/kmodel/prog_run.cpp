// SPDX-License-Identifier: Apache-2.0
// BPF_PROG_RUN of SYSCALL programs (bpf_prog_test_run_syscall) in the VM,
// with the helpers a gen_loader light-skeleton loader calls. bpf_sys_bpf's
// nested commands are decoded in sys_bpf.cpp.
#include <algorithm>
#include <cstring>
#include <string>

#include "kmodel/objects.h"
#include "kmodel/sys_bpf.h"

namespace bpfsig::kmodel {
namespace {

constexpr const char* kCmd = "BPF_PROG_RUN";
constexpr size_t kMaxCtxSize = 0xffff;  // U16_MAX

// enum bpf_func_id
constexpr int32_t kProbeReadKernel = 113;
constexpr int32_t kCopyFromUser = 148;
constexpr int32_t kSysBpf = 166;
constexpr int32_t kBtfFindByNameKind = 167;
constexpr int32_t kSysClose = 168;
constexpr int32_t kKallsymsLookupName = 179;

uint64_t errno_ret(int err) { return static_cast<uint64_t>(-static_cast<int64_t>(err)); }

// The bytes user memory holds at [addr, addr + len), or null; *offset is
// addr's offset in the mapping that holds it.
const uint8_t* user_bytes_at(const UserMemory* user, uint64_t addr, uint64_t len, uint64_t* offset_out) {
  if (!user) return nullptr;
  auto it = user->regions.upper_bound(addr);
  if (it == user->regions.begin()) return nullptr;
  --it;
  uint64_t offset = addr - it->first;
  if (offset > it->second.size() || len > it->second.size() - offset) return nullptr;
  *offset_out = offset;
  return it->second.data() + offset;
}

// A NUL-terminated name argument (name, name_sz) as bpf_kallsyms_lookup_name
// and bpf_btf_find_by_name_kind take it; nullopt when the kernel says EINVAL.
std::optional<std::string> helper_name_arg(vm::HelperContext& ctx, uint64_t addr, uint64_t size) {
  auto bytes = ctx.read(addr, size);
  if (size <= 1 || bytes[size - 1] != 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(bytes.data()));
}

// bpf_probe_read_kernel: "kernel memory" is whatever the VM can read; any
// other address faults like copy_from_kernel_nofault, which zero-fills the
// destination and returns -EFAULT (what the loader's stack clearing with
// src = NULL relies on).
uint64_t probe_read_kernel(vm::HelperContext& ctx, const uint64_t a[5]) {
  auto dst = ctx.writable(a[0], a[1]);
  vm::AccessFault fault;
  const uint8_t* src = ctx.memory().translate(a[2], a[1], false, &fault);
  if (!src) {
    std::fill(dst.begin(), dst.end(), 0);
    return errno_ret(EFAULT);
  }
  // A zero-size read copies nothing (and dst.data() may then be null, which
  // memmove must not get: found by fuzz_kmodel).
  if (!dst.empty()) std::memmove(dst.data(), src, dst.size());
  if (ctx.origins() && a[1]) ctx.mark(a[0], a[1], ctx.origins()->read(a[2], a[1]));  // the bytes keep their sources
  return 0;
}

// bpf_copy_from_user: the same contract against the process's user memory.
uint64_t copy_from_user(vm::HelperContext& ctx, const uint64_t a[5], const UserMemory* user) {
  auto dst = ctx.writable(a[0], a[1]);
  uint64_t offset = 0;
  const uint8_t* src = user_bytes_at(user, a[2], a[1], &offset);
  if (!src) {
    std::fill(dst.begin(), dst.end(), 0);
    return errno_ret(EFAULT);
  }
  std::copy_n(src, dst.size(), dst.begin());
  ctx.mark(a[0], a[1], vm::RegOrigin{vm::kFromUser, static_cast<uint32_t>(offset)});  // unsigned input
  return 0;
}

// bpf_kallsyms_lookup_name(name, name_sz, flags, u64 *res)
uint64_t kallsyms_lookup_name(vm::HelperContext& ctx, const uint64_t a[5], const KernelProfile& profile,
                              NestedTrace* trace) {
  auto res = ctx.writable(a[3], sizeof(uint64_t));
  auto name = helper_name_arg(ctx, a[0], a[1]);
  if (a[2] != 0 || !name) return errno_ret(EINVAL);
  auto it = profile.kallsyms.find(*name);
  store_le64(res.data(), it == profile.kallsyms.end() ? 0 : it->second);
  uint64_t result = it == profile.kallsyms.end() ? errno_ret(ENOENT) : 0;
  if (trace) trace->lookups.push_back({"bpf_kallsyms_lookup_name", *name, 0, static_cast<int64_t>(result)});
  return result;
}

// bpf_btf_find_by_name_kind(name, name_sz, kind, flags): a vmlinux type id
// (BTF object fd 0 in the upper half); module BTF is not modelled.
uint64_t helper_btf_find_by_name_kind(vm::HelperContext& ctx, const uint64_t a[5], Kernel& kernel,
                                      NestedTrace* trace) {
  auto name = helper_name_arg(ctx, a[0], a[1]);
  if (a[3] != 0 || !name) return errno_ret(EINVAL);
  int64_t id = kernel.btf_find_by_name_kind(*name, static_cast<uint32_t>(a[2]));
  if (trace) trace->lookups.push_back({"bpf_btf_find_by_name_kind", *name, static_cast<uint32_t>(a[2]), id});
  return static_cast<uint64_t>(id);
}

}  // namespace

ProgRunResult Kernel::prog_run(Process& proc, int fd, Bytes& ctx, const ProgRunOptions& options) {
  nested_failure_.reset();  // a failure describes the run it happened in
  uint8_t test_attr[4];  // attr->test.prog_fd, what an LSM's bpf hook reads first
  store_le32(test_attr, static_cast<uint32_t>(fd));
  lsm_bpf(proc, 10 /* BPF_PROG_TEST_RUN */, kCmd, false, ByteView(test_attr, sizeof(test_attr)));
  auto prog = typed_object_at<Prog>(proc, fd, kCmd);
  uint32_t type = prog->attr().prog_type;
  if (type == kProgTracepoint) fail(kENOTSUPP, kCmd, "tracepoint programs have no test_run");
  if (type != kProgSyscall) fail(EOPNOTSUPP, kCmd, "test_run of this program type is not modelled");
  if (ctx.size() > kMaxCtxSize) fail(EINVAL, kCmd, "ctx_size_in larger than 65535");

  // map->sha may have changed since the load (another GET_INFO): the
  // program reads the map as it is now.
  for (auto& pointer : prog->map_pointers) pointer->prefix = struct_prefix(*pointer->map);

  vm::HelperTable helpers;
  helpers.set(kProbeReadKernel, probe_read_kernel);
  helpers.set(kCopyFromUser, [&](vm::HelperContext& c, const uint64_t a[5]) {
    return copy_from_user(c, a, options.user_memory);
  });
  helpers.set(kSysBpf, [&](vm::HelperContext& c, const uint64_t a[5]) { return sys_bpf(*this, proc, c, a); });
  helpers.set(kBtfFindByNameKind, [&](vm::HelperContext& c, const uint64_t a[5]) {
    return helper_btf_find_by_name_kind(c, a, *this, options.trace);
  });
  helpers.set(kSysClose, [&](vm::HelperContext&, const uint64_t a[5]) -> uint64_t {
    int target = static_cast<int>(static_cast<int32_t>(a[0]));
    if (!proc.fds_.count(target)) return errno_ret(EBADF);
    close(proc, target);
    return 0;
  });
  helpers.set(kKallsymsLookupName, [&](vm::HelperContext& c, const uint64_t a[5]) {
    return kallsyms_lookup_name(c, a, profile_, options.trace);
  });

  vm::RunOptions run_options;
  run_options.budget = options.budget;
  run_options.strict_arith = false;  // the kernel's arithmetic, not the VM's stricter checks
  // Deep verify: provenance tracked and nested calls recorded for this run only.
  vm::OriginTracker origins;
  if (options.trace) {
    run_options.origins = &origins;
    // Only the metadata map's value is the signed metadata; other memory
    // the program reaches (map pointers, other values) is the kernel's.
    const std::string metadata = "map_value:" + std::to_string(options.trace->metadata_map_id);
    for (size_t i = vm::kCtxRegion + 1; i < prog->memory->region_count(); ++i)
      if (prog->memory->region(i).name != metadata) origins.set_original(i, vm::kFromKernel);
  }
  // bpf_sys_bpf records into the trace while this run lasts, and not after,
  // however it ends.
  struct TraceScope {
    NestedTrace*& slot;
    ~TraceScope() { slot = nullptr; }
  } scope{trace_ = options.trace};
  vm::RunResult run = vm::run(*prog->program, *prog->memory, ctx, helpers, run_options);
  if (options.trace) options.trace->tainted_branches = origins.tainted_branches();
  if (!run.ok())
    fail(EFAULT, kCmd, "the model stopped the program (" + run.fault->kind + "): " + run.fault->message);
  return ProgRunResult{static_cast<uint32_t>(run.r0), run.instructions};
}

}  // namespace bpfsig::kmodel
