// SPDX-License-Identifier: Apache-2.0
// Tests of the kernel model's program layer: BPF_PROG_LOAD (signature,
// keyrings, LSM hooks, map resolution), BPF_PROG_RUN of real signed
// light-skeleton loaders in the VM, and differential tests against the
// running kernel (root needed; they skip otherwise).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "kmodel/kmodel_test_util.h"
#include "support/signer.h"
#include "support/kernel_features.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

using test::errno_of;
using test::kExamples;
using test::signed_example;


Bytes signer_cert_der() { return crypto::certificate_der(test::default_signer().cert.get()); }

// A kernel whose builtin keyring trusts the test signer.
struct TrustingKernel {
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  TrustingKernel() { kernel.keyring_add_cert(kBuiltinKeyring, signer_cert_der()); }
};

// What the real kernel (6.18.44) reported for the examples' maps and programs.
struct MapShape {
  uint32_t type;
  std::string name;
  uint32_t key_size, value_size, max_entries;
};
struct ProgShape {
  uint32_t type;
  std::string name;
};
const std::map<std::string, std::vector<MapShape>> kExpectedMaps = {
    {"execcount",
     {{kMapHash, "exec_counts", 4, 8, 4096}, {kMapArray, "execcoun.bss", 4, 8, 1}, {kMapArray, "execcoun.data", 4, 4, 1}}},
    {"multimap",
     {{kMapHash, "start_ts", 8, 8, 8192},
      {kMapArray, "histogram", 4, 8, 64},
      {kMapRingbuf, "slow_events", 0, 0, 65536},
      {kMapPercpuArray, "dropped", 4, 8, 1},
      {kMapArray, "multimap.rodata", 4, 12, 1}}},
    {"xdpfilter", {{kMapPercpuArray, "proto_packets", 4, 8, 256}, {kMapArray, "xdpfilte.rodata", 4, 4, 1}}},
};
const std::map<std::string, std::vector<ProgShape>> kExpectedProgs = {
    {"execcount", {{kProgTracepoint, "count_execve"}}},
    {"multimap", {{kProgTracepoint, "on_enter"}, {kProgTracepoint, "on_exit"}}},
    {"xdpfilter", {{kProgXdp, "xdp_filter"}}},
};

// ---- small programs -------------------------------------------------------------

Bytes program(const std::vector<isa::Insn>& insns) { return isa::encode(insns); }
isa::Insn exit_insn() { return isa::Insn{isa::kClassJmp | isa::kJmpExit, 0, 0, 0, 0}; }
isa::Insn call(int32_t helper) { return isa::Insn{isa::kClassJmp | isa::kJmpCall, 0, 0, 0, helper}; }
isa::Insn mov_reg(uint8_t dst, uint8_t src) {
  return isa::Insn{isa::kClassAlu64 | isa::kAluMov | isa::kSrcX, dst, src, 0, 0};
}
isa::Insn add_imm(uint8_t dst, int32_t imm) { return isa::Insn{isa::kClassAlu64 | isa::kAluAdd, dst, 0, 0, imm}; }
std::vector<isa::Insn> concat(std::vector<std::vector<isa::Insn>> parts) {
  std::vector<isa::Insn> out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes return_zero() { return program({isa::mov64_imm(0, 0), exit_insn()}); }

// r1 = r10 - 8; r2 = 8; r3 = 0; call bpf_probe_read_kernel; r0 = 0; exit
Bytes probe_read_null() {
  return program({mov_reg(1, 10), add_imm(1, -8), isa::mov64_imm(2, 8), isa::mov64_imm(3, 0), call(113),
                 isa::mov64_imm(0, 0), exit_insn()});
}

// r0 = map[idx 0] value + 0 (ld_imm64 src 6); r0 = 0; exit
Bytes map_value_ref() {
  return program(concat({isa::ld_imm64(1, isa::kPseudoMapIdxValue, 0), {isa::mov64_imm(0, 0), exit_insn()}}));
}

ProgLoadAttr syscall_attr(Bytes insns) {
  ProgLoadAttr attr;
  attr.insns = std::move(insns);
  attr.license = "GPL";
  attr.prog_flags = kFSleepable;
  attr.name = "t";
  return attr;
}

sys::ProgLoad sys_attr(const ProgLoadAttr& a, std::vector<int> fd_array = {}) {
  sys::ProgLoad req;
  req.prog_type = a.prog_type;
  req.name = a.name;
  req.insns = a.insns;
  req.license = a.license;
  req.prog_flags = a.prog_flags;
  req.fd_array = std::move(fd_array);
  return req;
}


// ---- an LSM that records what the program hooks saw -----------------------------

struct HookCall {
  lsm::Hook hook;
  std::string prog;
  bool kernel;
};

class RecordingLsm : public lsm::Lsm {
 public:
  explicit RecordingLsm(std::vector<HookCall>& calls, bool deny_kernel_loads = false)
      : Lsm({"recorder", static_cast<lsm::LsmId>(2000)}, lsm::hook_bit(lsm::Hook::kBpfProgLoad) |
                                                             lsm::hook_bit(lsm::Hook::kBpfProg)),
        calls_(calls), deny_kernel_loads_(deny_kernel_loads) {}
  int bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr&, const lsm::Token*, bool kernel) override {
    calls_.push_back({lsm::Hook::kBpfProgLoad, prog.name, kernel});
    return kernel && deny_kernel_loads_ ? -EPERM : 0;
  }
  int bpf_prog(lsm::ProgView& prog) override {
    calls_.push_back({lsm::Hook::kBpfProg, prog.name, false});
    return 0;
  }

 private:
  std::vector<HookCall>& calls_;
  bool deny_kernel_loads_;
};

}  // namespace

// ---- (a) signed examples through the model ------------------------------------------

TEST(KmodelSkeleton, LoadsEachSignedExample) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader& loader = signed_example(name);
    TrustingKernel k;
    SkeletonResult r = load_skeleton(k.kernel, k.proc, loader);
    EXPECT_EQ(r.loader_retval, 0);

    EXPECT_EQ(r.loader_map.name, "__loader.map");
    EXPECT_TRUE(r.loader_map.frozen);
    EXPECT_TRUE(r.loader_map.exclusive);
    EXPECT_EQ(r.loader_map.value_size, loader.data.size());
    EXPECT_EQ(r.loader_prog.type, kProgSyscall);
    EXPECT_EQ(r.loader_prog.name, "__loader.prog");
    EXPECT_EQ(r.loader_prog.insn_count, loader.insns.size() / 8);
    EXPECT_FALSE(r.loader_prog.loaded_by_kernel);

    const auto& maps = kExpectedMaps.at(name);
    ASSERT_EQ(r.maps.size(), maps.size());
    for (size_t i = 0; i < maps.size(); ++i) {
      EXPECT_EQ(r.maps[i].type, maps[i].type) << maps[i].name;
      EXPECT_EQ(r.maps[i].name, maps[i].name);
      EXPECT_EQ(r.maps[i].key_size, maps[i].key_size) << maps[i].name;
      EXPECT_EQ(r.maps[i].value_size, maps[i].value_size) << maps[i].name;
      EXPECT_EQ(r.maps[i].max_entries, maps[i].max_entries) << maps[i].name;
    }
    const auto& progs = kExpectedProgs.at(name);
    ASSERT_EQ(r.progs.size(), progs.size());
    for (size_t i = 0; i < progs.size(); ++i) {
      EXPECT_EQ(r.progs[i].type, progs[i].type);
      EXPECT_EQ(r.progs[i].name, progs[i].name);
      EXPECT_GT(r.progs[i].insn_count, 0u);
      EXPECT_TRUE(r.progs[i].loaded_by_kernel);
      EXPECT_TRUE(r.progs[i].gpl_compatible);
      EXPECT_FALSE(r.progs[i].map_ids.empty()) << "every example program uses a map";
    }

    // The loader closed its temporary fds (BTF) and load_skeleton the
    // loader's own: what stays open is exactly what the skeleton hands out.
    std::vector<int> expected_fds = r.map_fds;
    expected_fds.insert(expected_fds.end(), r.prog_fds.begin(), r.prog_fds.end());
    std::sort(expected_fds.begin(), expected_fds.end());
    EXPECT_EQ(k.proc.open_fds(), expected_fds);
    EXPECT_FALSE(k.kernel.map_alive(r.loader_map.id)) << "the metadata map dies with the loader's fds";
  }
}

TEST(KmodelSkeleton, MapsHoldTheObjectsInitialValues) {
  TrustingKernel k;
  SkeletonResult r = load_skeleton(k.kernel, k.proc, signed_example("multimap"));
  // multimap.rodata: slow_threshold_ns = 10 ms, only_syscall = -1; frozen by the loader.
  int rodata = r.map_fds.at(4);
  Bytes value = k.kernel.map_lookup(k.proc, rodata, Bytes(4, 0));
  EXPECT_EQ(load_le64(value.data()), 10'000'000u);
  EXPECT_EQ(static_cast<int32_t>(load_le32(value.data() + 8)), -1);
  EXPECT_TRUE(k.kernel.map_info(k.proc, rodata).frozen);
}

// Only a loader signed with ctx_overrides (bpftool 7.7's) reads initial
// values from its ctx; every default loader ignores them (gen_hash).
skel::SignedLoader ctx_overrides_multimap() {
  skel::SignOptions o;
  o.scheme = skel::Scheme::kLoaderHash;
  o.ctx_overrides = true;
  test::TestSigner& s = test::default_signer();
  return skel::sign_object(test::examples_dir() + "/multimap.bpf.o", s.cert.get(), s.key.get(), o);
}

TEST(KmodelSkeleton, InitialValueComesFromUserMemoryThroughCopyFromUser) {
  TrustingKernel k;
  const skel::SignedLoader overriding = ctx_overrides_multimap();
  UserMemory user;
  Bytes rodata(12);
  store_le64(rodata.data(), 42);
  store_le32(rodata.data() + 8, 7);
  user.regions[0x7f0000001000] = rodata;
  SkeletonOptions options;
  options.user_memory = &user;
  options.initial_values[4] = 0x7f0000001000;
  SkeletonResult r = load_skeleton(k.kernel, k.proc, overriding, options);
  EXPECT_EQ(k.kernel.map_lookup(k.proc, r.map_fds.at(4), Bytes(4, 0)), rodata);
  // The default loader keeps the signed value whatever the ctx says.
  TrustingKernel k3;
  SkeletonResult r3 = load_skeleton(k3.kernel, k3.proc, signed_example("multimap"), options);
  EXPECT_NE(k3.kernel.map_lookup(k3.proc, r3.map_fds.at(4), Bytes(4, 0)), rodata);

  // An address nothing is mapped at: bpf_copy_from_user zero-fills and
  // returns -EFAULT, which the loader ignores, as in the kernel.
  TrustingKernel k2;
  options.initial_values[4] = 0x1000;
  SkeletonResult r2 = load_skeleton(k2.kernel, k2.proc, overriding, options);
  EXPECT_EQ(k2.kernel.map_lookup(k2.proc, r2.map_fds.at(4), Bytes(4, 0)), Bytes(12, 0));
}

// ---- (c) negative cases, in the model ---------------------------------------------

TEST(KmodelSkeleton, TamperedMetadataMakesTheLoaderReturnEinval) {
  skel::SignedLoader loader = signed_example("execcount");
  loader.data[loader.data.size() / 2] ^= 1;
  TrustingKernel k;
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, loader); }), EINVAL);
}

TEST(KmodelSkeleton, ExclusiveHashMismatchIsEacces) {
  skel::SignedLoader loader = signed_example("execcount");
  crypto::Digest other = crypto::sha256(Bytes{1, 2, 3});
  loader.excl_hash.assign(other.begin(), other.end());
  TrustingKernel k;
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, loader); }), EACCES);
}

TEST(KmodelSkeleton, HashOfUnfrozenMapIsEperm) {
  Kernel kernel;
  Process& p = kernel.spawn("t");
  int fd = kernel.map_create(p, {kMapArray, 4, 8, 1, 0, "m", {}});
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(p, fd); }), EPERM);
}

// Without the hash fetched, map->sha reads as zeros and the loader refuses.
TEST(KmodelSkeleton, LoaderRefusesWhenTheHashWasNotFetched) {
  const skel::SignedLoader& loader = signed_example("execcount");
  TrustingKernel k;
  int map = k.kernel.map_create(k.proc, {kMapArray, 4, static_cast<uint32_t>(loader.data.size()), 1, 0,
                                         "__loader.map", loader.excl_hash});
  k.kernel.map_update(k.proc, map, Bytes(4, 0), loader.data);
  k.kernel.map_freeze(k.proc, map);
  ProgLoadAttr attr = syscall_attr(loader.insns);
  attr.license = "Dual BSD/GPL";
  attr.fd_array = {map};
  attr.signature = loader.signature;
  int prog = k.kernel.prog_load(k.proc, attr);
  Bytes ctx((skel::loader_ctx_size(loader) + 7) & ~size_t{7}, 0);
  store_le32(ctx.data(), skel::loader_ctx_size(loader));
  EXPECT_EQ(static_cast<int32_t>(k.kernel.prog_run(k.proc, prog, ctx).retval), -EINVAL);
  // Fetching the hash afterwards is seen by the next run: map->sha is read live.
  k.kernel.map_get_hash(k.proc, map);
  Bytes ctx2(ctx.size(), 0);
  store_le32(ctx2.data(), skel::loader_ctx_size(loader));
  EXPECT_EQ(k.kernel.prog_run(k.proc, prog, ctx2).retval, 0u);
}

// ---- (d) signatures and keyrings (this machine's kernel cannot check them) ------------

TEST(KmodelSignature, CorrectlySignedLoaderLoadsWithTheCertInTheKeyring) {
  TrustingKernel k;
  SkeletonResult r = load_skeleton(k.kernel, k.proc, signed_example("xdpfilter"));
  EXPECT_EQ(r.loader_retval, 0);
}

TEST(KmodelSignature, WrongCertIsEnokey) {
  static test::TestSigner other;
  Kernel kernel;
  Process& p = kernel.spawn("loader");
  kernel.keyring_add_cert(kBuiltinKeyring, crypto::certificate_der(other.cert.get()));
  EXPECT_EQ(errno_of([&] { load_skeleton(kernel, p, signed_example("execcount")); }), ENOKEY);
}

TEST(KmodelSignature, FlippedInstructionBitIsEkeyrejected) {
  skel::SignedLoader loader = signed_example("execcount");
  loader.insns[loader.insns.size() - 16] ^= 0x01;
  loader.excl_hash.clear();  // the metadata map admits the tampered loader: only the signature can refuse it
  TrustingKernel k;
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, loader); }), EKEYREJECTED);
}

TEST(KmodelSignature, UnknownKeyringIsEinval) {
  TrustingKernel k;
  SkeletonOptions options;
  options.keyring_id = 12345;
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, signed_example("execcount"), options); }), EINVAL);
}

TEST(KmodelSignature, KeyringSelection) {
  const skel::SignedLoader& loader = signed_example("execcount");
  auto load_with = [&](Kernel& kernel, int32_t keyring) {
    SkeletonOptions options;
    options.keyring_id = keyring;
    return errno_of([&] { load_skeleton(kernel, kernel.spawn("loader"), loader, options); });
  };
  Kernel builtin_only;
  builtin_only.keyring_add_cert(kBuiltinKeyring, signer_cert_der());
  EXPECT_EQ(load_with(builtin_only, kSecondaryKeyring), 0) << "the secondary keyring falls back to the builtin one";
  EXPECT_EQ(load_with(builtin_only, kPlatformKeyring), ENOKEY) << "the platform keyring does not";

  Kernel user;
  int32_t serial = user.keyring_create("bpfsig-test");
  user.keyring_add_cert(serial, signer_cert_der());
  EXPECT_EQ(load_with(user, serial), 0);
  EXPECT_EQ(load_with(user, kBuiltinKeyring), ENOKEY);
  EXPECT_EQ(errno_of([&] { user.keyring_add_cert(serial + 1, signer_cert_der()); }), ENOKEY);
}

TEST(KmodelSignature, OversizedSignatureIsEinval) {
  TrustingKernel k;
  ProgLoadAttr attr = syscall_attr(return_zero());
  attr.signature = Bytes(crypto::kMaxKernelSignatureSize + 1, 0x30);
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, attr); }), EINVAL);
}

// ---- (e) LSM hooks -----------------------------------------------------------------

TEST(KmodelLsm, LoadsMadeByTheLoaderReachTheHooksWithKernelTrue) {
  std::vector<HookCall> calls;
  TrustingKernel k;
  auto stack = std::make_shared<lsm::LsmStack>();
  stack->add(std::make_unique<RecordingLsm>(calls));
  k.kernel.set_lsm_stack(stack);
  load_skeleton(k.kernel, k.proc, signed_example("multimap"));

  std::vector<std::string> load_hook;
  for (const auto& c : calls)
    if (c.hook == lsm::Hook::kBpfProgLoad) load_hook.push_back(c.prog + (c.kernel ? ":kernel" : ":user"));
  EXPECT_EQ(load_hook, (std::vector<std::string>{"__loader.prog:user", "on_enter:kernel", "on_exit:kernel"}));
  size_t published = std::count_if(calls.begin(), calls.end(), [](const HookCall& c) { return c.hook == lsm::Hook::kBpfProg; });
  EXPECT_EQ(published, 3u);
}

TEST(KmodelLsm, AnLsmDenyingKernelLoadsMakesTheLoaderFail) {
  std::vector<HookCall> calls;
  TrustingKernel k;
  auto stack = std::make_shared<lsm::LsmStack>();
  stack->add(std::make_unique<RecordingLsm>(calls, /*deny_kernel_loads=*/true));
  k.kernel.set_lsm_stack(stack);
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, signed_example("execcount")); }), EPERM);
  // The loader's cleanup block closed everything it had created.
  EXPECT_TRUE(k.proc.open_fds().empty());
}

// ---- PROG_LOAD rules, model only ---------------------------------------------------------

TEST(KmodelProgLoad, Rules) {
  Kernel kernel;
  Process& p = kernel.spawn("t");
  int hash = kernel.map_create(p, {kMapHash, 4, 8, 4, 0, "h", {}});
  int array = kernel.map_create(p, {kMapArray, 4, 8, 2, 0, "a2", {}});
  auto load = [&](ProgLoadAttr a) { return errno_of([&] { kernel.prog_load(p, a); }); };

  EXPECT_EQ(load(syscall_attr(return_zero())), 0);
  ProgLoadAttr empty = syscall_attr({});
  EXPECT_EQ(load(empty), E2BIG);
  ProgLoadAttr bad_type = syscall_attr(return_zero());
  bad_type.prog_type = kMaxProgType + 1;
  EXPECT_EQ(load(bad_type), EINVAL);
  ProgLoadAttr bad_name = syscall_attr(return_zero());
  bad_name.name = "has space";
  EXPECT_EQ(load(bad_name), EINVAL);
  ProgLoadAttr sleepy_xdp = syscall_attr(return_zero());
  sleepy_xdp.prog_type = kProgXdp;
  EXPECT_EQ(load(sleepy_xdp), EINVAL);
  ProgLoadAttr no_fd_array = syscall_attr(map_value_ref());
  EXPECT_EQ(load(no_fd_array), EPROTO);
  ProgLoadAttr hash_value = syscall_attr(map_value_ref());
  hash_value.fd_array = {hash};
  EXPECT_EQ(load(hash_value), EINVAL) << "no direct value access for a hash map";
  ProgLoadAttr two_entries = syscall_attr(map_value_ref());
  two_entries.fd_array = {array};
  EXPECT_EQ(load(two_entries), kENOTSUPP) << "direct value access needs max_entries == 1";
  ProgLoadAttr closed_fd = syscall_attr(map_value_ref());
  closed_fd.fd_array = {99};
  EXPECT_EQ(load(closed_fd), EBADF);
  EXPECT_FALSE(kernel.prog_alive(100));
}

TEST(KmodelProgLoad, IdsOnlyForLoadedProgramsAndTheFdHoldsThem) {
  Kernel kernel;
  Process& p = kernel.spawn("t");
  ProgLoadAttr bad = syscall_attr(return_zero());
  bad.prog_flags = 0;
  EXPECT_NE(errno_of([&] { kernel.prog_load(p, bad); }), 0);
  int fd = kernel.prog_load(p, syscall_attr(return_zero()));
  ProgInfo info = kernel.prog_info(p, fd);
  EXPECT_EQ(info.id, 1u);
  EXPECT_EQ(info.digest, crypto::sha256(return_zero()));
  EXPECT_TRUE(kernel.prog_alive(1));
  kernel.close(p, fd);
  EXPECT_FALSE(kernel.prog_alive(1));
}

// ---- bpf_sys_bpf(BPF_MAP_UPDATE_ELEM): the value is copied from where it lies --------

isa::Insn store_imm(uint8_t size, int16_t off, int32_t imm) {
  return isa::Insn{static_cast<uint8_t>(isa::kClassSt | size | isa::kModeMem), 10, 0, off, imm};
}
isa::Insn store_reg(uint8_t dst, uint8_t src, int16_t off) {
  return isa::Insn{isa::kClassStx | isa::kSizeDW | isa::kModeMem, dst, src, off, 0};
}

// Builds union bpf_attr for BPF_MAP_UPDATE_ELEM at r10 - 32 (map_fd, key at
// r10 - 40 = key_index, value = fd_array[0]'s value + value_offset) and
// calls bpf_sys_bpf; r0 is its result. Leaves nothing else in registers.
std::vector<isa::Insn> update_from_map_value(int map_fd, int32_t key_index, int32_t value_offset) {
  return concat({{store_imm(isa::kSizeW, -40, key_index), store_imm(isa::kSizeDW, -32, map_fd), mov_reg(1, 10),
                  add_imm(1, -40), store_reg(10, 1, -24)},
                 isa::ld_imm64(1, isa::kPseudoMapIdxValue, 0),
                 {add_imm(1, value_offset), store_reg(10, 1, -16), store_imm(isa::kSizeDW, -8, 0),
                  isa::mov64_imm(1, 2 /* BPF_MAP_UPDATE_ELEM */), mov_reg(2, 10), add_imm(2, -32),
                  isa::mov64_imm(3, 32), call(166)}});
}

Bytes counting_bytes(uint8_t first, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}

Bytes u32_key(uint32_t index) {
  Bytes key(4);
  store_le32(key.data(), index);
  return key;
}

// A program may name its own map's storage as the value (a direct value
// access is to a one-element array, so it is the element itself): the
// element is rewritten with what it holds. A value that runs past the
// storage is not readable as a whole: EFAULT, and the map is unchanged.
TEST(KmodelSysBpf, UpdateFromTheUpdatedMapsOwnStorage) {
  Kernel kernel(KernelProfile::linux_6_18());
  Process& p = kernel.spawn("t");
  int map = kernel.map_create(p, {kMapArray, 4, 16, 1, 0, "m", {}});
  kernel.map_update(p, map, u32_key(0), counting_bytes(1, 16));
  for (int32_t offset : {0, 8}) {
    SCOPED_TRACE(offset);
    ProgLoadAttr attr = syscall_attr(program(concat({update_from_map_value(map, 0, offset), {exit_insn()}})));
    attr.fd_array = {map};
    int prog = kernel.prog_load(p, attr);
    Bytes ctx;
    EXPECT_EQ(static_cast<int32_t>(kernel.prog_run(p, prog, ctx).retval), offset == 0 ? 0 : -EFAULT);
    EXPECT_EQ(kernel.map_lookup(p, map, u32_key(0)), counting_bytes(1, 16));
  }
}

// The updated map holds its own copy: the program writing the source value
// afterwards changes the source only.
TEST(KmodelSysBpf, UpdatedMapKeepsItsCopyWhenTheSourceIsWrittenLater) {
  Kernel kernel(KernelProfile::linux_6_18());
  Process& p = kernel.spawn("t");
  int source = kernel.map_create(p, {kMapArray, 4, 16, 1, 0, "source", {}});
  int target = kernel.map_create(p, {kMapArray, 4, 16, 1, 0, "target", {}});
  kernel.map_update(p, source, u32_key(0), counting_bytes(1, 16));
  // update target[0] = source's value; then *(u64 *)source's value = -1
  ProgLoadAttr attr = syscall_attr(program(concat({update_from_map_value(target, 0, 0), {mov_reg(6, 0)},
                                                   isa::ld_imm64(1, isa::kPseudoMapIdxValue, 0),
                                                   {isa::Insn{isa::kClassSt | isa::kSizeDW | isa::kModeMem, 1, 0, 0, -1},
                                                    mov_reg(0, 6), exit_insn()}})));
  attr.fd_array = {source};
  int prog = kernel.prog_load(p, attr);
  Bytes ctx;
  ASSERT_EQ(kernel.prog_run(p, prog, ctx).retval, 0u);
  EXPECT_EQ(kernel.map_lookup(p, target, u32_key(0)), counting_bytes(1, 16));
  Bytes written = counting_bytes(1, 16);
  std::fill_n(written.begin(), 8, 0xff);
  EXPECT_EQ(kernel.map_lookup(p, source, u32_key(0)), written);
}

// load_skeleton of a loader the caller gives up (bpfsig run): its metadata
// is freed once the metadata map holds a copy, and the load is the same as
// from a loader the caller keeps, down to the maps' initial values.
TEST(KmodelSkeleton, MovedLoaderReleasesItsMetadataAndLoadsTheSame) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader& kept = signed_example(name);
    TrustingKernel a, b;
    SkeletonResult from_kept = load_skeleton(a.kernel, a.proc, kept);
    skel::SignedLoader given = kept;
    SkeletonResult from_given = load_skeleton(b.kernel, b.proc, std::move(given));
    EXPECT_TRUE(given.data.empty());
    EXPECT_EQ(given.data.capacity(), 0u) << "the metadata is freed, not only cleared";
    EXPECT_EQ(given.insns, kept.insns) << "only the metadata is given up";
    EXPECT_EQ(given.signature, kept.signature);
    EXPECT_EQ(from_given.loader_retval, 0);
    EXPECT_EQ(from_given.loader_map.value_size, kept.data.size());
    ASSERT_EQ(from_given.maps.size(), from_kept.maps.size());
    for (size_t i = 0; i < from_kept.maps.size(); ++i) {
      const MapInfo& m = from_kept.maps[i];
      EXPECT_EQ(from_given.maps[i].name, m.name);
      if (m.type != kMapArray || (m.flags & kFWronly)) continue;
      for (uint32_t key = 0; key < m.max_entries; ++key)
        EXPECT_EQ(b.kernel.map_lookup(b.proc, from_given.map_fds[i], u32_key(key)),
                  a.kernel.map_lookup(a.proc, from_kept.map_fds[i], u32_key(key)))
            << m.name << "[" << key << "]";
    }
    ASSERT_EQ(from_given.progs.size(), from_kept.progs.size());
    for (size_t i = 0; i < from_kept.progs.size(); ++i) {
      EXPECT_EQ(from_given.progs[i].digest, from_kept.progs[i].digest);
      EXPECT_EQ(from_given.progs[i].insns, from_kept.progs[i].insns);
    }
  }
}

TEST(KmodelProgRun, HelpersTheModelProvides) {
  KernelProfile profile = KernelProfile::linux_6_18();
  profile.kallsyms["bpf_prog_put"] = 0xffffffff81234560;
  Kernel kernel(profile);
  Process& p = kernel.spawn("t");
  // r0 = probe_read_kernel(r10 - 8, 8, NULL): -EFAULT, stack zeroed.
  int fd = kernel.prog_load(p, syscall_attr(program({mov_reg(1, 10), add_imm(1, -8), isa::mov64_imm(2, 8),
                                                    isa::mov64_imm(3, 0), call(113), exit_insn()})));
  Bytes ctx;
  EXPECT_EQ(static_cast<int32_t>(kernel.prog_run(p, fd, ctx).retval), -EFAULT);
  // r0 = sys_close(12345): -EBADF
  int close_fd = kernel.prog_load(p, syscall_attr(program({isa::mov64_imm(1, 12345), call(168), exit_insn()})));
  EXPECT_EQ(static_cast<int32_t>(kernel.prog_run(p, close_fd, ctx).retval), -EBADF);
  // bpf_sys_bpf with a command programs may not issue (BPF_MAP_LOOKUP_ELEM = 1): -EINVAL.
  int bad_cmd = kernel.prog_load(p, syscall_attr(program({isa::mov64_imm(1, 1), mov_reg(2, 10), add_imm(2, -8),
                                                         isa::mov64_imm(3, 8), call(166), exit_insn()})));
  EXPECT_EQ(static_cast<int32_t>(kernel.prog_run(p, bad_cmd, ctx).retval), -EINVAL);
  // A tracepoint program is recorded, not run.
  ProgLoadAttr tp = syscall_attr(return_zero());
  tp.prog_type = kProgTracepoint;
  tp.prog_flags = 0;
  int tp_fd = kernel.prog_load(p, tp);
  EXPECT_EQ(errno_of([&] { kernel.prog_run(p, tp_fd, ctx); }), kENOTSUPP);
}

// ---- (b), (c) differential: the running kernel and the model -------------------------

TEST(KmodelDifferentialLoad, SameObjectsAsTheRealKernel) {
  SKIP_UNLESS(test::missing_excl_maps());
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader& loader = signed_example(name);
    sys::LoadOptions real_options;
    real_options.send_signature = false;  // the real kernel cannot verify signatures
    sys::LoadResult real = sys::load(loader, real_options);
    Kernel kernel;
    Process& p = kernel.spawn("loader");
    SkeletonOptions model_options;
    model_options.send_signature = false;
    SkeletonResult model = load_skeleton(kernel, p, loader, model_options);

    ASSERT_EQ(real.maps.size(), model.maps.size());
    for (size_t i = 0; i < real.maps.size(); ++i) {
      EXPECT_EQ(real.maps[i].type, model.maps[i].type) << real.maps[i].name;
      EXPECT_EQ(real.maps[i].name, model.maps[i].name);
      EXPECT_EQ(real.maps[i].key_size, model.maps[i].key_size) << real.maps[i].name;
      EXPECT_EQ(real.maps[i].value_size, model.maps[i].value_size) << real.maps[i].name;
      EXPECT_EQ(real.maps[i].max_entries, model.maps[i].max_entries) << real.maps[i].name;
    }
    ASSERT_EQ(real.progs.size(), model.progs.size());
    for (size_t i = 0; i < real.progs.size(); ++i) {
      EXPECT_EQ(real.progs[i].type, model.progs[i].type) << real.progs[i].name;
      EXPECT_EQ(real.progs[i].name, model.progs[i].name);
      // The real insn_count is xlated_prog_len / 8, counted after the
      // verifier's rewrites (ctx accesses, inlined helpers, dead code), which
      // the model does not make. The tag is taken before them: equal tags
      // mean the model loaded exactly the instructions the kernel received.
      EXPECT_EQ(real.progs[i].tag_hex, to_hex(ByteView(model.progs[i].digest).first(8))) << real.progs[i].name;
    }
    // The loader has nothing the verifier rewrites: there the counts agree.
    EXPECT_EQ(real.loader_prog.insn_count, model.loader_prog.insn_count);
    EXPECT_EQ(real.loader_prog.tag_hex, to_hex(ByteView(model.loader_prog.digest).first(8)));
    sys::close_fds(real);
  }
}

TEST(KmodelDifferentialLoad, SharedNegativeCasesGiveTheSameErrnos) {
  SKIP_UNLESS(test::missing_excl_maps());
  sys::LoadOptions real_options;
  real_options.send_signature = false;
  SkeletonOptions model_options;
  model_options.send_signature = false;
  auto both = [&](const skel::SignedLoader& loader) {
    int real = errno_of([&] { sys::close_fds(sys::load(loader, real_options)); });
    Kernel kernel;
    int model = errno_of([&] { load_skeleton(kernel, kernel.spawn("loader"), loader, model_options); });
    return std::make_pair(real, model);
  };

  skel::SignedLoader tampered = signed_example("execcount");
  tampered.data[tampered.data.size() / 2] ^= 1;
  EXPECT_EQ(both(tampered), std::make_pair(EINVAL, EINVAL));

  skel::SignedLoader wrong_excl = signed_example("execcount");
  crypto::Digest other = crypto::sha256(Bytes{1, 2, 3});
  wrong_excl.excl_hash.assign(other.begin(), other.end());
  EXPECT_EQ(both(wrong_excl), std::make_pair(EACCES, EACCES));

  sys::MapCreate req;
  req.name = "unfrozen";
  req.value_size = 8;
  int fd = sys::map_create(req);
  int real = errno_of([&] { sys::map_get_hash(fd); });
  ::close(fd);
  Kernel kernel;
  Process& p = kernel.spawn("t");
  int model_fd = kernel.map_create(p, {kMapArray, 4, 8, 1, 0, "unfrozen", {}});
  EXPECT_EQ(real, EPERM);
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(p, model_fd); }), real);
}

// The PROG_LOAD rules the model takes from the verifier, checked against it.
TEST(KmodelDifferentialLoad, ProgLoadRulesMatchTheVerifier) {
  SKIP_UNLESS(test::missing_excl_maps());
  auto real = [](const ProgLoadAttr& a, std::vector<int> fd_array = {}) {
    return errno_of([&] { ::close(sys::prog_load(sys_attr(a, std::move(fd_array)))); });
  };
  Kernel kernel;
  Process& p = kernel.spawn("t");
  auto model = [&](const ProgLoadAttr& a) { return errno_of([&] { kernel.prog_load(p, a); }); };

  ProgLoadAttr not_sleepable = syscall_attr(return_zero());
  not_sleepable.prog_flags = 0;
  EXPECT_EQ(model(not_sleepable), real(not_sleepable)) << "SYSCALL program without BPF_F_SLEEPABLE";

  ProgLoadAttr non_gpl = syscall_attr(probe_read_null());
  non_gpl.license = "Proprietary";
  EXPECT_EQ(model(non_gpl), real(non_gpl)) << "GPL-only helper from a non-GPL program";
  ProgLoadAttr gpl = syscall_attr(probe_read_null());
  EXPECT_EQ(model(gpl), real(gpl));

  ProgLoadAttr no_fd_array = syscall_attr(map_value_ref());
  EXPECT_EQ(model(no_fd_array), real(no_fd_array)) << "map index without fd_array";
}
