// SPDX-License-Identifier: Apache-2.0
// The "hornet" kernel profile: a Hornet-signed light skeleton through the
// 6.18 load path with the Hornet LSM in the stack.
#include <gtest/gtest.h>

#include "bpfsig/hornet.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "kmodel/kmodel_test_util.h"

namespace bpfsig::kmodel {
namespace {

const skel::SignedLoader& hornet_example(crypto::HornetFormat format) {
  static std::map<crypto::HornetFormat, skel::SignedLoader> cache;
  auto it = cache.find(format);
  if (it != cache.end()) return it->second;
  auto& signer = test::default_signer();
  skel::SignOptions opts;
  opts.scheme = skel::Scheme::kHornet;
  opts.hornet_format = format;
  return cache.emplace(format, skel::sign_object(test::examples_dir() + "/execcount.bpf.o", signer.cert.get(),
                                                 signer.key.get(), opts))
      .first->second;
}

struct HornetKernel {
  explicit HornetKernel(lsm::HornetDesign design = lsm::HornetDesign::kFinal) : kernel(KernelProfile::hornet()) {
    stack = std::make_shared<lsm::LsmStack>();
    hornet = static_cast<lsm::HornetLsm*>(&stack->add(std::make_unique<lsm::HornetLsm>(lsm::HornetOptions{design})));
    stack->add(std::make_unique<lsm::SignedOnlyLsm>());
    kernel.set_lsm_stack(stack);
    if (design == lsm::HornetDesign::kV7) kernel.set_lsm_bpf_hooks(true);
    kernel.keyring_add_cert(kBuiltinKeyring, crypto::certificate_der(test::default_signer().cert.get()));
  }
  std::vector<lsm::IntegrityVerdict> verdicts() const {
    std::vector<lsm::IntegrityVerdict> v;
    for (const auto& r : stack->audit_log().records())
      if (r.hook == lsm::Hook::kBpfProgLoadIntegrity && r.verdict) v.push_back(*r.verdict);
    return v;
  }
  Kernel kernel;
  std::shared_ptr<lsm::LsmStack> stack;
  lsm::HornetLsm* hornet;
};

TEST(KmodelHornet, ProfileIs618WithTheFrameworkHooks) {
  KernelProfile p = KernelProfile::hornet();
  EXPECT_EQ(p.name, "hornet");
  EXPECT_FALSE(p.loadtime_signature);
  EXPECT_TRUE(p.map_hash_requires_frozen);
}

TEST(KmodelHornet, SignedSkeletonLoadsAndItsProgramsAreKernelLoads) {
  HornetKernel k;
  Process& proc = k.kernel.spawn("loader");
  SkeletonResult r = load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kFinal));
  EXPECT_EQ(r.loader_retval, 0);
  ASSERT_EQ(r.progs.size(), 1u);
  EXPECT_TRUE(r.progs[0].loaded_by_kernel);
  // The loader: OK; the program it loads through bpf_sys_bpf: UNSIGNED, let
  // through by signed-only's kernel-load rule and by Hornet's empty hash set.
  EXPECT_EQ(k.verdicts(), (std::vector<lsm::IntegrityVerdict>{lsm::IntegrityVerdict::kOk, lsm::IntegrityVerdict::kUnsigned}));
  // The loader's fds are closed: its blob is gone; the created program keeps one.
  EXPECT_EQ(k.hornet->live_blobs(), 1u);
  for (int fd : r.prog_fds) k.kernel.close(proc, fd);
  EXPECT_EQ(k.hornet->live_blobs(), 0u);
}

TEST(KmodelHornet, MetadataChangedAfterSigningIsRefusedAtPublish) {
  HornetKernel k;
  Process& proc = k.kernel.spawn("loader");
  skel::SignedLoader tampered = hornet_example(crypto::HornetFormat::kFinal);
  tampered.data[tampered.data.size() / 2] ^= 1;
  // The signature over the instructions is still good (6.18's check and
  // Hornet's say OK); the publish check finds no map with the signed hash.
  EXPECT_EQ(test::errno_of([&] { load_skeleton(k.kernel, proc, tampered); }), EPERM);
  EXPECT_EQ(k.verdicts(), (std::vector<lsm::IntegrityVerdict>{lsm::IntegrityVerdict::kOk}));
  EXPECT_EQ(k.stack->audit_log().records().back().hook, lsm::Hook::kBpfProg);
  EXPECT_EQ(k.hornet->live_blobs(), 0u);
}

TEST(KmodelHornet, V7ReportsUnexpectedAtLoad) {
  HornetKernel k(lsm::HornetDesign::kV7);
  Process& proc = k.kernel.spawn("loader");
  EXPECT_EQ(load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kV7)).loader_retval, 0);
  skel::SignedLoader tampered = hornet_example(crypto::HornetFormat::kV7);
  tampered.data[10] ^= 1;
  EXPECT_EQ(test::errno_of([&] { load_skeleton(k.kernel, proc, tampered); }), EPERM);  // signed-only refuses
  EXPECT_EQ(k.verdicts().back(), lsm::IntegrityVerdict::kUnexpected);
  // A final-format signature under the v7 design: BADSIG.
  EXPECT_EQ(test::errno_of([&] { load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kFinal)); }), EPERM);
  EXPECT_EQ(k.verdicts().back(), lsm::IntegrityVerdict::kBadSig);
}

TEST(KmodelHornet, The618CheckRunsFirst) {
  HornetKernel k;
  Process& proc = k.kernel.spawn("loader");
  SkeletonOptions opts;
  opts.keyring_id = 424242;  // names no keyring: 6.18's check answers EINVAL before any LSM
  EXPECT_EQ(test::errno_of([&] { load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kFinal), opts); }),
            EINVAL);
  EXPECT_TRUE(k.verdicts().empty());
  // Unsigned: Hornet reports UNSIGNED, signed-only refuses.
  opts = SkeletonOptions{};
  opts.send_signature = false;
  EXPECT_EQ(test::errno_of([&] { load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kFinal), opts); }),
            EPERM);
  EXPECT_EQ(k.verdicts().back(), lsm::IntegrityVerdict::kUnsigned);
}

TEST(KmodelHornet, UserKeyringThroughTheServices) {
  HornetKernel k;
  Process& proc = k.kernel.spawn("loader");
  k.kernel.keyring_add_cert(proc, kSessionKeyring, crypto::certificate_der(test::default_signer().cert.get()));
  SkeletonOptions opts;
  opts.keyring_id = kSessionKeyring;
  EXPECT_EQ(load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kFinal), opts).loader_retval, 0);
  EXPECT_EQ(k.verdicts().front(), lsm::IntegrityVerdict::kOk);
}

TEST(KmodelHornet, StackOutlivingTheKernelDropsItsServices) {
  std::shared_ptr<lsm::LsmStack> stack;
  {
    HornetKernel k;
    Process& proc = k.kernel.spawn("loader");
    load_skeleton(k.kernel, proc, hornet_example(crypto::HornetFormat::kFinal));
    ASSERT_NE(k.stack->kernel_services(), nullptr);
    stack = k.stack;
  }
  EXPECT_EQ(stack->kernel_services(), nullptr);
}

}  // namespace
}  // namespace bpfsig::kmodel
