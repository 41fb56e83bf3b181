// SPDX-License-Identifier: Apache-2.0
// Tests of three later additions to the kernel model: the security_bpf and
// security_bpf_map_create LSM hooks, bpf_btf_find_by_name_kind against the
// host's vmlinux BTF, and the session (-3) and user (-4) keyrings.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "bpfsig/skel.h"
#include "kmodel/kmodel_test_util.h"
#include "support/signer.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

using test::errno_of;
using test::signed_example;

Bytes signer_cert_der() { return crypto::certificate_der(test::default_signer().cert.get()); }

// enum bpf_cmd
constexpr int kCmdMapCreate = 0;
constexpr int kCmdMapUpdate = 2;
constexpr int kCmdProgLoad = 5;
constexpr int kCmdProgRun = 10;
constexpr int kCmdGetInfo = 15;
constexpr int kCmdFreeze = 22;

struct Call {
  lsm::Hook hook;
  int cmd = -1;          // security_bpf
  std::string map;       // security_bpf_map_create
  uint32_t map_id = 0;   // the view's id at the hook
  unsigned size = 0;     // security_bpf's attr size
  bool kernel = false;
};

class Recorder : public lsm::Lsm {
 public:
  Recorder(std::vector<Call>& calls, int deny_map_create = 0)
      : Lsm({"recorder", static_cast<lsm::LsmId>(2001)},
            lsm::hook_bit(lsm::Hook::kBpf) | lsm::hook_bit(lsm::Hook::kBpfMapCreate)),
        deny_map_create_(deny_map_create), calls_(calls) {}
  int bpf(int cmd, ByteView attr, unsigned size, bool kernel) override {
    EXPECT_EQ(attr.size(), size);
    calls_.push_back({lsm::Hook::kBpf, cmd, "", 0, size, kernel});
    return 0;
  }
  int bpf_map_create(const lsm::MapView& map, const lsm::MapCreateAttr&, const lsm::Token* token,
                     bool kernel) override {
    EXPECT_EQ(token, nullptr);
    calls_.push_back({lsm::Hook::kBpfMapCreate, -1, map.name, map.id, 0, kernel});
    return deny_map_create_;
  }
  int deny_map_create_;

 private:
  std::vector<Call>& calls_;
};

struct HookedKernel {
  std::vector<Call> calls;
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  Recorder* recorder = nullptr;
  explicit HookedKernel(bool enable = true) {
    kernel.keyring_add_cert(kBuiltinKeyring, signer_cert_der());
    auto stack = std::make_shared<lsm::LsmStack>();
    recorder = static_cast<Recorder*>(&stack->add(std::make_unique<Recorder>(calls)));
    kernel.set_lsm_stack(stack);
    kernel.set_lsm_bpf_hooks(enable);
  }
};

}  // namespace

// ---- 1. security_bpf and security_bpf_map_create ----------------------------------------

TEST(KmodelLsmBpfHooks, LoaderRunOrder) {
  HookedKernel k;
  SkeletonResult r = load_skeleton(k.kernel, k.proc, signed_example("execcount"));
  ASSERT_EQ(r.loader_retval, 0);
  const auto& c = k.calls;
  ASSERT_GE(c.size(), 8u);
  // The user-space half: MAP_CREATE (security_bpf, then the map hook before
  // the map has an id), UPDATE, FREEZE, GET_INFO (hash), PROG_LOAD, PROG_RUN.
  EXPECT_EQ(c[0].hook, lsm::Hook::kBpf);
  EXPECT_EQ(c[0].cmd, kCmdMapCreate);
  EXPECT_EQ(c[1].hook, lsm::Hook::kBpfMapCreate);
  EXPECT_EQ(c[1].map, "__loader.map");
  EXPECT_EQ(c[1].map_id, 0u) << "security_bpf_map_create runs before bpf_map_alloc_id";
  std::vector<int> user_cmds;
  for (size_t i = 2; i < 7; ++i) {
    EXPECT_EQ(c[i].hook, lsm::Hook::kBpf);
    user_cmds.push_back(c[i].cmd);
  }
  EXPECT_EQ(user_cmds, (std::vector<int>{kCmdMapUpdate, kCmdFreeze, kCmdGetInfo, kCmdProgLoad, kCmdProgRun}));
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_FALSE(c[i].kernel) << i;
    if (c[i].hook == lsm::Hook::kBpf) {
      // The syscall side keeps no raw attr, except attr->test.prog_fd for
      // PROG_RUN (Hornet v7's bpf hook reads it).
      EXPECT_EQ(c[i].size, c[i].cmd == kCmdProgRun ? 4u : 0u) << i;
    }
  }
  // The loader's bpf_sys_bpf calls: kernel == true, the copied attr, and a
  // map hook right after the security_bpf of each MAP_CREATE.
  std::vector<std::string> nested_maps;
  size_t nested_prog_loads = 0;
  for (size_t i = 7; i < c.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(c[i].kernel);
    if (c[i].hook == lsm::Hook::kBpf) {
      EXPECT_GT(c[i].size, 0u);
      if (c[i].cmd == kCmdProgLoad) ++nested_prog_loads;
      if (c[i].cmd == kCmdMapCreate) {
        ASSERT_LT(i + 1, c.size());
        EXPECT_EQ(c[i + 1].hook, lsm::Hook::kBpfMapCreate);
      }
    } else {
      ASSERT_EQ(c[i].hook, lsm::Hook::kBpfMapCreate);
      EXPECT_EQ(c[i - 1].cmd, kCmdMapCreate);
      nested_maps.push_back(c[i].map);
    }
  }
  std::vector<std::string> created;
  for (const MapInfo& m : r.maps) created.push_back(m.name);
  EXPECT_EQ(nested_maps, created);
  EXPECT_EQ(nested_prog_loads, r.progs.size());
}

TEST(KmodelLsmBpfHooks, DeniedMapCreateTakesNoId) {
  HookedKernel k;
  k.recorder->deny_map_create_ = -EACCES;
  MapCreateAttr attr{kMapArray, 4, 8, 1, 0, "denied", {}};
  EXPECT_EQ(errno_of([&] { k.kernel.map_create(k.proc, attr); }), EACCES);
  EXPECT_TRUE(k.proc.open_fds().empty());
  EXPECT_FALSE(k.kernel.map_alive(1));
  k.recorder->deny_map_create_ = 0;
  attr.name = "allowed";
  int fd = k.kernel.map_create(k.proc, attr);
  EXPECT_EQ(k.kernel.map_info(k.proc, fd).id, 1u) << "the refused map consumed no id";
}

TEST(KmodelLsmBpfHooks, DeniedSecurityBpfFailsTheCommand) {
  class DenyFreeze : public lsm::Lsm {
   public:
    DenyFreeze() : Lsm({"deny-freeze", static_cast<lsm::LsmId>(2002)}, lsm::hook_bit(lsm::Hook::kBpf)) {}
    int bpf(int cmd, ByteView, unsigned, bool) override { return cmd == kCmdFreeze ? -EPERM : 0; }
  };
  Kernel kernel;
  Process& proc = kernel.spawn("p");
  auto stack = std::make_shared<lsm::LsmStack>();
  stack->add(std::make_unique<DenyFreeze>());
  kernel.set_lsm_stack(stack);
  kernel.set_lsm_bpf_hooks(true);
  int fd = kernel.map_create(proc, {kMapArray, 4, 8, 1, 0, "m", {}});
  EXPECT_EQ(errno_of([&] { kernel.map_freeze(proc, fd); }), EPERM);
  EXPECT_FALSE(kernel.map_info(proc, fd).frozen);
}

TEST(KmodelLsmBpfHooks, OffByDefault) {
  HookedKernel k(/*enable=*/false);
  EXPECT_FALSE(k.kernel.lsm_bpf_hooks());
  load_skeleton(k.kernel, k.proc, signed_example("execcount"));
  EXPECT_TRUE(k.calls.empty());
}

// ---- 2. bpf_btf_find_by_name_kind and the host's vmlinux BTF --------------------------------

TEST(KmodelHostBtf, TaskStructMatchesLibbpf) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "skipped: /sys/kernel/btf/vmlinux is not readable";
  struct btf* btf = btf__parse("/sys/kernel/btf/vmlinux", nullptr);
  ASSERT_TRUE(btf != nullptr && libbpf_get_error(btf) == 0);
  int expected = btf__find_by_name_kind(btf, "task_struct", 4 /* BTF_KIND_STRUCT */);
  btf__free(btf);
  ASSERT_GT(expected, 0);

  Kernel kernel;
  EXPECT_EQ(kernel.btf_find_by_name_kind("task_struct", 4), expected) << "vmlinux: fd 0 in the upper half";
  EXPECT_TRUE(kernel.using_host_vmlinux_btf());
  EXPECT_EQ(kernel.btf_find_by_name_kind("bpfsig_no_such_type", 4), -ENOENT);
  EXPECT_EQ(kernel.btf_find_by_name_kind("task_struct", 1 /* INT */), -ENOENT);
}

TEST(KmodelHostBtf, ProfileTableWhenTurnedOff) {
  KernelProfile profile = KernelProfile::linux_6_18();
  profile.host_vmlinux_btf = false;
  profile.vmlinux_btf[{"task_struct", 4}] = 7;
  Kernel kernel(profile);
  EXPECT_EQ(kernel.btf_find_by_name_kind("task_struct", 4), 7);
  EXPECT_EQ(kernel.btf_find_by_name_kind("mm_struct", 4), -ENOENT);
  EXPECT_FALSE(kernel.using_host_vmlinux_btf());
}

// ---- 3. session (-3) and user (-4) keyrings -------------------------------------------------------

namespace {

int load_with(Kernel& kernel, Process& proc, int32_t keyring) {
  SkeletonOptions options;
  options.keyring_id = keyring;
  return errno_of([&] { load_skeleton(kernel, proc, signed_example("execcount"), options); });
}

}  // namespace

TEST(KmodelKeyrings, SessionKeyringIsPerProcess) {
  Kernel kernel;
  Process& a = kernel.spawn("a", 1000);
  Process& b = kernel.spawn("b", 1000);
  kernel.keyring_add_cert(a, kSessionKeyring, signer_cert_der());
  EXPECT_EQ(load_with(kernel, a, kSessionKeyring), 0);
  EXPECT_EQ(load_with(kernel, b, kSessionKeyring), ENOKEY) << "b's own session keyring is empty";
  EXPECT_EQ(load_with(kernel, a, kUserKeyring), ENOKEY) << "the session keyring is not the user keyring";
  EXPECT_EQ(load_with(kernel, a, kBuiltinKeyring), ENOKEY);
  // Without a process -3 names nothing.
  EXPECT_EQ(errno_of([&] { kernel.keyring_add_cert(kSessionKeyring, signer_cert_der()); }), ENOKEY);
}

TEST(KmodelKeyrings, UserKeyringIsPerUid) {
  Kernel kernel;
  Process& a = kernel.spawn("a", 1000);
  Process& b = kernel.spawn("b", 1000);
  Process& root = kernel.spawn("root");
  EXPECT_EQ(root.uid(), 0u);
  kernel.keyring_add_cert(a, kUserKeyring, signer_cert_der());
  EXPECT_EQ(load_with(kernel, a, kUserKeyring), 0);
  EXPECT_EQ(load_with(kernel, b, kUserKeyring), 0) << "same uid, same user keyring";
  EXPECT_EQ(load_with(kernel, root, kUserKeyring), ENOKEY) << "uid 0 has its own user keyring";
  EXPECT_EQ(load_with(kernel, b, kSessionKeyring), ENOKEY);
  EXPECT_EQ(errno_of([&] { kernel.keyring_add_cert(kUserKeyring, signer_cert_der()); }), ENOKEY);
}

TEST(KmodelKeyrings, LoadtimeRecordsTheResolvedSerial) {
  std::vector<lsm::ProgSig> sigs;
  class SigLsm : public lsm::Lsm {
   public:
    explicit SigLsm(std::vector<lsm::ProgSig>& out)
        : Lsm({"sig", static_cast<lsm::LsmId>(2003)}, lsm::hook_bit(lsm::Hook::kBpfProgLoad)), out_(out) {}
    int bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr&, const lsm::Token*, bool kernel) override {
      if (!kernel) out_.push_back(prog.sig);
      return 0;
    }

   private:
    std::vector<lsm::ProgSig>& out_;
  };
  Kernel kernel(KernelProfile::loadtime_2026());
  auto stack = std::make_shared<lsm::LsmStack>();
  stack->add(std::make_unique<SigLsm>(sigs));
  kernel.set_lsm_stack(stack);
  Process& a = kernel.spawn("a", 1000);
  kernel.keyring_add_cert(a, kUserKeyring, signer_cert_der());
  // The loadtime scheme signs insns || the metadata map's value; its light
  // skeleton passes fd_array_cnt = 1 and fetches no map hash (the loader has
  // no hash-match block to read it).
  test::TestSigner& signer = test::default_signer();
  skel::SignOptions sign_options;
  sign_options.scheme = skel::Scheme::kLoadtime;
  skel::SignedLoader loader = skel::sign_object(test::examples_dir() + "/execcount.bpf.o", signer.cert.get(),
                                                signer.key.get(), sign_options);
  SkeletonOptions options;
  options.keyring_id = kUserKeyring;
  load_skeleton(kernel, a, loader, options);
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].verdict, lsm::SigVerdict::kVerified);
  EXPECT_EQ(sigs[0].keyring_type, lsm::SigKeyring::kUser);
  EXPECT_GT(sigs[0].keyring_serial, 0) << "a real serial, not -4";
}
