// SPDX-License-Identifier: Apache-2.0
// PROG_LOAD with attach targets by BTF, ksyms and kfuncs: the same loads on
// the running kernel (raw bpf(2), root) and in the model, whose vmlinux BTF
// and kallsyms are the host's; the errnos must be equal
// (KmodelAttachDifferential). Model-only tests pin the rules that need no
// host BTF (KmodelAttach).
#include <gtest/gtest.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "kmodel/kmodel_test_util.h"
#include "support/kernel_features.h"
#include "support/support.h"
#include "sys/internal.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

constexpr uint32_t kTracing = 26, kStructOps = 27, kExt = 28, kLsm = 29, kKprobe = 2;
constexpr uint32_t kRawTp = 23, kFentry = 24, kFexit = 25, kModReturn = 26, kLsmMac = 27, kIter = 28;

Bytes ret0() { return isa::encode({isa::mov64_imm(0, 0), isa::exit_insn()}); }
Bytes ksym_then_ret0(uint32_t id) {
  isa::Insn lo{0x18, 1, isa::kPseudoBtfId, 0, static_cast<int32_t>(id)};
  isa::Insn hi{0, 0, 0, 0, 0};
  return isa::encode({lo, hi, isa::mov64_imm(0, 0), isa::exit_insn()});
}
Bytes kfunc_then_ret0(uint32_t id) {
  isa::Insn call{isa::kClassJmp | isa::kJmpCall, 0, isa::kPseudoKfuncCall, 0, static_cast<int32_t>(id)};
  return isa::encode({call, isa::mov64_imm(0, 0), isa::exit_insn()});
}

struct Case {
  std::string what;
  ProgLoadAttr attr;
};

ProgLoadAttr P(uint32_t type, uint32_t eat, uint32_t id, Bytes insns = ret0(), std::string license = "GPL",
               uint32_t flags = 0) {
  ProgLoadAttr a;
  a.prog_type = type;
  a.expected_attach_type = eat;
  a.attach_btf_id = id;
  a.insns = std::move(insns);
  a.license = std::move(license);
  a.prog_flags = flags;
  a.name = "p";
  return a;
}

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};

// The host's vmlinux BTF ids the cases name; 0 when a name is missing.
struct Ids {
  std::unique_ptr<struct btf, BtfDeleter> btf;
  uint32_t id(const char* name, uint32_t kind) const {
    int id = btf__find_by_name_kind(btf.get(), name, kind);
    return id > 0 ? static_cast<uint32_t>(id) : 0;
  }
};

std::vector<Case> cases(const Ids& v) {
  uint32_t unlinkat = v.id("do_unlinkat", BTF_KIND_FUNC), task = v.id("task_struct", BTF_KIND_STRUCT);
  uint32_t tcp_ops = v.id("tcp_congestion_ops", BTF_KIND_STRUCT);
  uint32_t file_open = v.id("bpf_lsm_file_open", BTF_KIND_FUNC);
  uint32_t kfunc = v.id("bpf_task_release", BTF_KIND_FUNC);
  uint32_t nr = static_cast<uint32_t>(btf__type_cnt(v.btf.get()));
  constexpr uint32_t kSys = kProgSyscall;
  return {
      {"fentry do_unlinkat", P(kTracing, kFentry, unlinkat)},
      {"fexit do_unlinkat", P(kTracing, kFexit, unlinkat)},
      {"fmod_ret do_unlinkat", P(kTracing, kModReturn, unlinkat)},
      {"fentry id 0", P(kTracing, kFentry, 0)},
      {"fentry task_struct", P(kTracing, kFentry, task)},
      {"fentry id over BTF_MAX_TYPE", P(kTracing, kFentry, 0x100000)},
      {"fentry id past vmlinux", P(kTracing, kFentry, nr + 10)},
      {"fentry migrate_disable", P(kTracing, kFentry, v.id("migrate_disable", BTF_KIND_FUNC))},
      {"tracing without expected attach type", P(kTracing, 0, unlinkat)},
      {"tracing lsm_mac attach type", P(kTracing, kLsmMac, unlinkat)},
      {"tp_btf sched_switch", P(kTracing, kRawTp, v.id("btf_trace_sched_switch", BTF_KIND_TYPEDEF))},
      {"tp_btf do_unlinkat", P(kTracing, kRawTp, unlinkat)},
      {"tp_btf task_struct", P(kTracing, kRawTp, task)},
      {"tp_btf id 0", P(kTracing, kRawTp, 0)},
      {"iter bpf_map", P(kTracing, kIter, v.id("bpf_iter_bpf_map", BTF_KIND_FUNC))},
      {"iter task", P(kTracing, kIter, v.id("bpf_iter_task", BTF_KIND_FUNC))},
      {"iter do_unlinkat", P(kTracing, kIter, unlinkat)},
      {"iter task_struct", P(kTracing, kIter, task)},
      {"iter sleepable bpf_map", P(kTracing, kIter, v.id("bpf_iter_bpf_map", BTF_KIND_FUNC), ret0(), "GPL", kFSleepable)},
      {"lsm file_open", P(kLsm, kLsmMac, file_open)},
      {"lsm do_unlinkat", P(kLsm, kLsmMac, unlinkat)},
      {"lsm non-GPL", P(kLsm, kLsmMac, file_open, ret0(), "Proprietary")},
      {"struct_ops without attach_btf_id", P(kStructOps, 0, 0)},
      {"struct_ops non-GPL without attach_btf_id", P(kStructOps, 0, 0, ret0(), "Proprietary")},
      {"struct_ops task_struct", P(kStructOps, 0, task)},
      {"struct_ops tcp_congestion_ops member 3", P(kStructOps, 3, tcp_ops)},
      {"struct_ops tcp_congestion_ops member 100", P(kStructOps, 100, tcp_ops)},
      {"struct_ops do_unlinkat", P(kStructOps, 0, unlinkat)},
      {"ext do_unlinkat", P(kExt, 0, unlinkat)},
      {"ext with expected attach type", P(kExt, kFentry, unlinkat)},
      {"kprobe with attach_btf_id", P(kKprobe, 0, unlinkat)},
      {"syscall with attach_btf_id", P(kSys, 0, unlinkat, ret0(), "GPL", kFSleepable)},
      {"ksym do_unlinkat", P(kSys, 0, 0, ksym_then_ret0(unlinkat), "GPL", kFSleepable)},
      {"ksym task_struct", P(kSys, 0, 0, ksym_then_ret0(task), "GPL", kFSleepable)},
      {"ksym id past vmlinux", P(kSys, 0, 0, ksym_then_ret0(nr + 10), "GPL", kFSleepable)},
      {"ksym bpf_prog_active", P(kSys, 0, 0, ksym_then_ret0(v.id("bpf_prog_active", BTF_KIND_VAR)), "GPL", kFSleepable)},
      {"ksym in a socket filter", P(1, 0, 0, ksym_then_ret0(unlinkat))},
      {"kfunc task_struct", P(kSys, 0, 0, kfunc_then_ret0(task), "GPL", kFSleepable)},
      {"kfunc id past vmlinux", P(kSys, 0, 0, kfunc_then_ret0(nr + 10), "GPL", kFSleepable)},
      {"kfunc do_unlinkat (not a kfunc)", P(kSys, 0, 0, kfunc_then_ret0(unlinkat), "GPL", kFSleepable)},
      {"kfunc from a non-GPL program", P(kSys, 0, 0, kfunc_then_ret0(kfunc), "Proprietary", kFSleepable)},
  };
}

int real_load(const ProgLoadAttr& a) {
  uint8_t attr[168] = {};
  std::string license = a.license;
  store_le32(attr + 0, a.prog_type);
  store_le32(attr + 4, static_cast<uint32_t>(a.insns.size() / 8));
  store_le64(attr + 8, reinterpret_cast<uintptr_t>(a.insns.data()));
  store_le64(attr + 16, reinterpret_cast<uintptr_t>(license.c_str()));
  store_le32(attr + 44, a.prog_flags);
  store_le32(attr + 68, a.expected_attach_type);
  store_le32(attr + 108, a.attach_btf_id);
  store_le32(attr + 112, static_cast<uint32_t>(a.attach_btf_obj_fd));
  try {
    int fd = static_cast<int>(sys::detail::bpf_call(5 /* BPF_PROG_LOAD */, attr, sizeof attr));
    ::close(fd);
    return 0;
  } catch (const Error& e) {
    return e.err();
  }
}

TEST(KmodelAttachDifferential, SameErrnosAsTheRunningKernel) {
  SKIP_UNLESS(test::missing_bpf());
  Ids v{std::unique_ptr<struct btf, BtfDeleter>(btf__load_vmlinux_btf())};
  if (!v.btf || libbpf_get_error(v.btf.get())) GTEST_SKIP() << "skipped: no readable vmlinux BTF";
  // This machine's kernel refuses trampoline programs with EPERM (facts
  // section 9); the model does so only when asked.
  KernelProfile profile = KernelProfile::linux_6_18();
  profile.refuse_trampolines =
      real_load(P(kTracing, kFentry, v.id("do_unlinkat", BTF_KIND_FUNC))) == EPERM;
  Kernel kernel(profile);
  Process& proc = kernel.spawn("attach");
  ASSERT_TRUE(kernel.using_host_vmlinux_btf());
  size_t equal = 0;
  auto all = cases(v);
  for (const auto& c : all) {
    int real = real_load(c.attr);
    int model = test::errno_of([&] { kernel.prog_load(proc, c.attr); });
    EXPECT_EQ(errno_name(model), errno_name(real)) << c.what << " (model vs kernel)";
    equal += model == real;
    if (std::getenv("BPFSIG_KMODEL_TRANSCRIPT")) std::cout << "kernel " << c.what << ": " << errno_name(real) << "\n";
  }
  std::cout << "[ attach   ] " << equal << " of " << all.size() << " loads equal on the running kernel"
            << (profile.refuse_trampolines ? " (trampolines refused here: EPERM)" : "") << "\n";
}

// Without vmlinux BTF (a deterministic profile), attach_btf_id is EINVAL as
// on a kernel without BTF; STRUCT_OPS without attach_btf_id is ENOTSUPP.
TEST(KmodelAttach, RulesThatNeedNoHostBtf) {
  KernelProfile profile = KernelProfile::linux_6_18();
  profile.host_vmlinux_btf = false;
  Kernel kernel(profile);
  Process& proc = kernel.spawn("attach");
  auto load = [&](const ProgLoadAttr& a) { return test::errno_of([&] { kernel.prog_load(proc, a); }); };
  EXPECT_EQ(load(P(kStructOps, 0, 0)), kENOTSUPP);
  EXPECT_EQ(load(P(kStructOps, 0, 0, ret0(), "Proprietary")), EINVAL);
  EXPECT_EQ(load(P(kTracing, kFentry, 0)), EINVAL);        // Tracing programs must provide btf_id
  EXPECT_EQ(load(P(kTracing, kFentry, 5)), EINVAL);        // no vmlinux BTF
  EXPECT_EQ(load(P(kTracing, kFentry, 0x100000)), EINVAL);  // over BTF_MAX_TYPE
  EXPECT_EQ(load(P(kKprobe, 0, 5)), EINVAL);
  EXPECT_EQ(load(P(kExt, kFentry, 0)), EINVAL);
  EXPECT_EQ(load(P(kProgSyscall, 0, 0, ksym_then_ret0(5), "GPL", kFSleepable)), EINVAL);  // kernel is missing BTF
  EXPECT_EQ(load(P(kProgSyscall, 0, 0, kfunc_then_ret0(5), "X", kFSleepable)), EINVAL);   // non-GPL kfunc call
  int btf = kernel.btf_load(proc, test::minimal_btf());
  ProgLoadAttr with_btf_fd = P(kTracing, kFentry, 1);
  with_btf_fd.attach_btf_obj_fd = btf;
  EXPECT_EQ(load(with_btf_fd), kENOTSUPP);  // user BTF is not a kernel module's
  with_btf_fd.attach_btf_obj_fd = 77;
  EXPECT_EQ(load(with_btf_fd), EINVAL);
  KernelProfile refusing = profile;
  refusing.refuse_trampolines = true;
  Kernel fc(refusing);
  Process& p2 = fc.spawn("attach");
  EXPECT_EQ(test::errno_of([&] { fc.prog_load(p2, P(kLsm, kLsmMac, 0)); }), EPERM);
  EXPECT_EQ(test::errno_of([&] { fc.prog_load(p2, P(kTracing, kRawTp, 0)); }), EINVAL);  // tp_btf has no trampoline
}

}  // namespace
