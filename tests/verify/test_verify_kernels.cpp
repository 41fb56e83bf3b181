// SPDX-License-Identifier: Apache-2.0
// verify::predict_kernel_load: each real kernel's answer to every tamper
// class, in that kernel's order. The same table is checked against the real
// Debian 7.2 and 7.3 kernels by tests/qemu; this is its offline half.
#include <gtest/gtest.h>

#include <cerrno>
#include <functional>
#include <string>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "support/signer.h"
#include "support/support.h"

namespace bpfsig {
namespace {

using verify::KernelProfile;
using verify::LoadConditions;

skel::SignedLoader signed_example(skel::Scheme scheme, skel::MatchLayout layout = skel::MatchLayout::kExcl) {
  skel::SignOptions o;
  o.scheme = scheme;
  o.layout = layout;
  test::TestSigner& s = test::default_signer();
  return skel::sign_object(test::examples_dir() + "/execcount.bpf.o", s.cert.get(), s.key.get(), o);
}

struct Row {
  std::string name;
  std::function<void(skel::SignedLoader&, LoadConditions&)> change;
  int on_7_2, on_7_3;  // for the scheme that kernel checks
};

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"valid", [](skel::SignedLoader&, LoadConditions&) {}, 0, 0},
      {"insn_flipped", [](skel::SignedLoader& l, LoadConditions&) { l.insns[l.insns.size() / 2] ^= 1; },
       EKEYREJECTED, EACCES},
      {"metadata_flipped", [](skel::SignedLoader& l, LoadConditions&) { l.data[l.data.size() / 2] ^= 1; }, EINVAL,
       EKEYREJECTED},
      {"signature_damaged", [](skel::SignedLoader& l, LoadConditions&) { l.signature.back() ^= 1; }, EKEYREJECTED,
       EKEYREJECTED},
      {"signature_truncated",
       [](skel::SignedLoader& l, LoadConditions&) { l.signature.resize(l.signature.size() - 10); }, EBADMSG, EBADMSG},
      {"excl_hash_flipped", [](skel::SignedLoader& l, LoadConditions&) { l.excl_hash[0] ^= 1; }, EACCES, EACCES},
      {"unknown_keyring_serial",
       [](skel::SignedLoader&, LoadConditions& c) { c.keyring = LoadConditions::Keyring::kUnknownSerial; }, EINVAL,
       EINVAL},
      {"metadata_not_frozen", [](skel::SignedLoader&, LoadConditions& c) { c.metadata_frozen = false; }, EPERM,
       EPERM},
      // The 7.2 loader's excl layout checks the map's excl flag itself.
      {"metadata_not_exclusive", [](skel::SignedLoader&, LoadConditions& c) { c.metadata_exclusive = false; },
       EINVAL, EPERM},
  };
  return r;
}

skel::Scheme scheme_of(KernelProfile k) {
  return k == KernelProfile::k7_3 ? skel::Scheme::kLoadtime : skel::Scheme::kLoaderHash;
}

TEST(VerifyKernels, EveryTamperClassGetsItsKernelsErrno) {
  for (KernelProfile k : {KernelProfile::k7_2, KernelProfile::k7_3}) {
    const skel::SignedLoader original = signed_example(scheme_of(k));
    for (const Row& row : rows()) {
      SCOPED_TRACE(verify::kernel_profile_name(k) + " " + row.name);
      skel::SignedLoader loader = original;
      LoadConditions conditions;
      row.change(loader, conditions);
      verify::Report r = verify::predict_kernel_load(loader, test::default_signer().trust(), k, conditions);
      EXPECT_EQ(r.err, k == KernelProfile::k7_2 ? row.on_7_2 : row.on_7_3)
          << errno_name(r.err) << " " << r.kind << ": " << r.message;
    }
  }
}

TEST(VerifyKernels, AWrongCertificateIsEnokeyOnBoth) {
  test::TestSigner other;
  for (KernelProfile k : {KernelProfile::k7_2, KernelProfile::k7_3}) {
    verify::Report r = verify::predict_kernel_load(signed_example(scheme_of(k)), other.trust(), k);
    EXPECT_EQ(r.err, ENOKEY) << verify::kernel_profile_name(k) << ": " << r.message;
  }
}

// A loader in the other kernel's format: 7.2 hashes the instructions alone
// (EKEYREJECTED for a load-time signature); 7.3 passes the signature of a
// 6.18 loader, then refuses maps not bound through fd_array_cnt (EACCES).
TEST(VerifyKernels, TheOtherKernelsFormatIsRefusedAsEachKernelDoes) {
  verify::Report on_7_2 = verify::predict_kernel_load(signed_example(skel::Scheme::kLoadtime),
                                                      test::default_signer().trust(), KernelProfile::k7_2);
  EXPECT_EQ(on_7_2.err, EKEYREJECTED) << on_7_2.message;
  verify::Report on_7_3 = verify::predict_kernel_load(signed_example(skel::Scheme::kLoaderHash),
                                                      test::default_signer().trust(), KernelProfile::k7_3);
  EXPECT_EQ(on_7_3.err, EACCES) << on_7_3.message;
  EXPECT_EQ(on_7_3.kind, "fd_array_cnt_required");
}

TEST(VerifyKernels, The618LayoutDoesNotNoticeANonExclusiveMapOn7_2) {
  LoadConditions c;
  c.metadata_exclusive = false;
  verify::Report r = verify::predict_kernel_load(signed_example(skel::Scheme::kLoaderHash, skel::MatchLayout::k618),
                                                 test::default_signer().trust(), KernelProfile::k7_2, c);
  EXPECT_EQ(r.err, 0) << r.message;
}

TEST(VerifyKernels, SchemesNoKernelChecksAreNotSent) {
  for (skel::Scheme s : {skel::Scheme::kHornet, skel::Scheme::kHashChain}) {
    verify::Report r =
        verify::predict_kernel_load(signed_example(s), test::default_signer().trust(), KernelProfile::k7_3);
    EXPECT_EQ(r.err, EOPNOTSUPP) << skel::scheme_name(s);
    EXPECT_EQ(r.kind, "scheme_not_in_kernel");
  }
}

TEST(VerifyKernels, ProfilesAreNamedAfterTheKernels) {
  EXPECT_EQ(verify::kernel_profile_names(), (std::vector<std::string>{"7.2", "7.3"}));
  EXPECT_EQ(verify::parse_kernel_profile("7.3"), KernelProfile::k7_3);
  try {
    verify::parse_kernel_profile("6.1");
    ADD_FAILURE() << "accepted 6.1";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
  }
}

}  // namespace
}  // namespace bpfsig
