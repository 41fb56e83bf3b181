// SPDX-License-Identifier: Apache-2.0
// Offline verification of loadtime and hash-chain loaders, with the verdicts
// and errnos their kernels give (the kernel model is the cross-check).
#include <gtest/gtest.h>

#include <cerrno>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::verify;

namespace {

test::TestSigner& keys() { return test::default_signer(); }

const skel::SignedLoader& example(skel::Scheme scheme) {
  static std::map<skel::Scheme, skel::SignedLoader> cache;
  auto it = cache.find(scheme);
  if (it != cache.end()) return it->second;
  skel::SignOptions o;
  o.scheme = scheme;
  auto l = skel::sign_object(test::examples_dir() + "/multimap.bpf.o", keys().cert.get(), keys().key.get(), o);
  return cache.emplace(scheme, std::move(l)).first->second;
}

Report check(const skel::SignedLoader& l) { return verify_loader(l, keys().trust()); }

// What the scheme's own kernel (the model) answers for the same loader.
int model_errno(const skel::SignedLoader& l) {
  kmodel::Kernel kernel(l.scheme == skel::Scheme::kLoadtime ? kmodel::KernelProfile::loadtime_2026()
                                                            : kmodel::KernelProfile::hash_chain());
  kernel.keyring_add_cert(kmodel::kBuiltinKeyring, crypto::certificate_der(keys().cert.get()));
  kmodel::Process& p = kernel.spawn("loader");
  try {
    kmodel::load_skeleton(kernel, p, l);
  } catch (const Error& e) {
    return e.err();
  }
  return 0;
}

const skel::Scheme kSchemes[] = {skel::Scheme::kLoadtime, skel::Scheme::kHashChain};

}  // namespace

TEST(VerifySchemes, GoodLoadersAreOk) {
  for (skel::Scheme s : kSchemes) {
    SCOPED_TRACE(skel::scheme_name(s));
    Report r = check(example(s));
    EXPECT_EQ(r.verdict, Verdict::kOk) << r.message;
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.scheme, skel::scheme_name(s));
    EXPECT_EQ(model_errno(example(s)), 0);
  }
  Report lt = check(example(skel::Scheme::kLoadtime));
  EXPECT_EQ(lt.signed_content, "insns || metadata");
  EXPECT_EQ(lt.signed_content_size, example(skel::Scheme::kLoadtime).insns.size() + example(skel::Scheme::kLoadtime).data.size());
  EXPECT_FALSE(lt.chain.block_found);
  Report hc = check(example(skel::Scheme::kHashChain));
  EXPECT_EQ(hc.signed_content, "hash chain");
  EXPECT_EQ(hc.signed_content_size, 32u);
  EXPECT_EQ(hc.signed_value, to_hex(skel::signed_content(example(skel::Scheme::kHashChain))));
  EXPECT_EQ(hc.signature_maps, std::vector<uint32_t>{0});
  EXPECT_TRUE(hc.chain.block_found && hc.chain.metadata_ok);
}

TEST(VerifySchemes, TamperGivesTheKernelsErrno) {
  for (skel::Scheme s : kSchemes) {
    SCOPED_TRACE(skel::scheme_name(s));
    skel::SignedLoader meta = example(s);
    meta.data[meta.data.size() / 2] ^= 0x01;
    Report rm = check(meta);
    EXPECT_EQ(rm.verdict, Verdict::kBadSig);
    EXPECT_EQ(rm.err, EKEYREJECTED) << rm.message;
    EXPECT_EQ(model_errno(meta), EKEYREJECTED);

    skel::SignedLoader insns = example(s);
    insns.insns[insns.insns.size() - 16 + 4] ^= 0x01;
    crypto::Digest d = skel::prog_digest(insns.insns);
    insns.excl_hash.assign(d.begin(), d.end());
    EXPECT_EQ(check(insns).err, EKEYREJECTED);
    EXPECT_EQ(model_errno(insns), EKEYREJECTED);

    skel::SignedLoader sig = example(s);
    sig.signature[sig.signature.size() - 3] ^= 0x01;
    EXPECT_EQ(check(sig).err, EKEYREJECTED);
    EXPECT_EQ(model_errno(sig), EKEYREJECTED);

    skel::SignedLoader junk = example(s);
    junk.signature = Bytes{0x30, 0x03, 0x02, 0x01, 0x00};
    EXPECT_EQ(check(junk).err, EBADMSG);

    skel::SignedLoader excl = example(s);
    excl.excl_hash[0] ^= 0xff;
    EXPECT_EQ(check(excl).err, EACCES);

    skel::SignedLoader none = example(s);
    none.signature.clear();
    EXPECT_EQ(check(none).verdict, Verdict::kUnsigned);
  }
}

TEST(VerifySchemes, TamperedSignatureMaps) {
  skel::SignedLoader twice = example(skel::Scheme::kHashChain);
  twice.signature_maps = {0, 0};
  EXPECT_EQ(check(twice).err, EKEYREJECTED);
  EXPECT_EQ(model_errno(twice), EKEYREJECTED);
  skel::SignedLoader past = example(skel::Scheme::kHashChain);
  past.signature_maps = {2};
  Report r = check(past);
  EXPECT_EQ(r.err, EFAULT);
  EXPECT_EQ(r.kind, "signature_maps");
  EXPECT_EQ(model_errno(past), EFAULT);
}

TEST(VerifySchemes, WrongTrustIsUnknownKey) {
  test::TestSigner other(crypto::KeygenOptions{crypto::KeyAlgo::kP256, "CN=nobody", 365});
  for (skel::Scheme s : kSchemes) {
    Report r = verify_loader(example(s), other.trust());
    EXPECT_EQ(r.verdict, Verdict::kUnknownKey);
    EXPECT_EQ(r.err, ENOKEY);
  }
}

TEST(VerifySchemes, ASchemeFieldThatLiesFails) {
  // A loadtime signature read as loader-hash covers the wrong bytes.
  skel::SignedLoader lt = example(skel::Scheme::kLoadtime);
  lt.scheme = skel::Scheme::kLoaderHash;
  EXPECT_EQ(check(lt).err, EKEYREJECTED);
  // A hash-chain signature read as loader-hash, likewise.
  skel::SignedLoader hc = example(skel::Scheme::kHashChain);
  hc.scheme = skel::Scheme::kLoaderHash;
  hc.signature_maps.clear();
  EXPECT_EQ(check(hc).err, EKEYREJECTED);
}
