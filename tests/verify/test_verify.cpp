// SPDX-License-Identifier: Apache-2.0
// Offline verification with the kernel's rules, against bpfsig's own loaders
// and bpftool's real output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <set>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "skel/matchblock.h"
#include "support/sign_options.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::verify;

namespace {

test::TestSigner& keys() { return test::default_signer(); }

// A second signer, on another curve, that nobody trusts.
test::TestSigner& other_signer() {
  static test::TestSigner s(crypto::KeygenOptions{crypto::KeyAlgo::kP256, "CN=someone else", 365});
  return s;
}

skel::SignedLoader signed_example(skel::MatchLayout layout = skel::MatchLayout::kExcl) {
  skel::SignOptions o = test::loader_hash_options(layout, skel::MismatchTarget::kCleanup);
  return skel::sign_object(test::examples_dir() + "/execcount.bpf.o", keys().cert.get(), keys().key.get(), o);
}

Report check(const skel::SignedLoader& l) { return verify_loader(l, keys().trust()); }

std::vector<crypto::Certificate> bpftool_trust() {
  std::vector<crypto::Certificate> v;
  v.push_back(crypto::load_certificate(test::shared_testdata() + "/bpftool-7.7/cert.der"));
  return v;
}

skel::SignedLoader bpftool_header(const std::string& f) {
  return skel::parse_header(test::read_text(test::shared_testdata() + "/bpftool-7.7/" + f), f);
}

// Re-signs after a change to the instructions, so the check under test is the
// one after the signature.
void resign(skel::SignedLoader& l) {
  l.signature = crypto::sign_bpftool(l.insns, keys().cert.get(), keys().key.get());
  crypto::Digest d = skel::prog_digest(l.insns);
  l.excl_hash.assign(d.begin(), d.end());
}

}  // namespace

TEST(Verify, OwnLoadersVerifyInBothLayouts) {
  for (auto layout : {skel::MatchLayout::k618, skel::MatchLayout::kExcl}) {
    Report r = check(signed_example(layout));
    EXPECT_EQ(r.err, 0) << r.message;
    EXPECT_EQ(r.verdict, Verdict::kOk);
    EXPECT_TRUE(r.chain.metadata_ok);
    EXPECT_TRUE(r.chain.excl_ok);
    EXPECT_EQ(r.chain.mismatch_target, "cleanup");
    ASSERT_TRUE(r.signature.signer.has_value());
  }
}

TEST(Verify, AcceptsBpftool77Header) {
  SKIP_UNLESS(test::missing_shared_testdata());
  Report r = verify_loader(bpftool_header("prog.lskel.h"), bpftool_trust());
  EXPECT_EQ(r.err, 0) << r.message;
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.chain.layout, "6.18");
  EXPECT_EQ(r.chain.block_start, 36u);
  EXPECT_EQ(r.chain.block_length, 28u);
  EXPECT_EQ(r.chain.cleanup_pc, 7u);
  EXPECT_EQ(r.chain.mismatch_target, "cleanup+1");
  ASSERT_TRUE(r.chain.signed_metadata_sha256.has_value());
  EXPECT_EQ(to_hex(*r.chain.signed_metadata_sha256).substr(0, 8), "202423a9");
}

TEST(Verify, BpftoolMasterHeaderIsPartialAndFailsClosed) {
  SKIP_UNLESS(test::missing_shared_testdata());
  Report r = verify_loader(bpftool_header("prog.master.lskel.h"), bpftool_trust());
  EXPECT_EQ(r.signature.err, 0) << "the signature over the instructions is good: " << r.signature.detail;
  EXPECT_FALSE(r.chain.block_found);
  EXPECT_EQ(r.verdict, Verdict::kPartialSig);
  EXPECT_NE(r.err, 0);
  EXPECT_EQ(r.kind, "metadata_not_covered");
  EXPECT_NE(r.message.find("not covered"), std::string::npos);
}

TEST(Verify, EveryBitFlipInTheInstructionsIsRejected) {
  skel::SignedLoader good = signed_example();
  // Every bit of the first 64 bytes, of the match block, and one bit per byte elsewhere.
  for (size_t byte = 0; byte < good.insns.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      bool every_bit = byte < 64 || (byte >= 8 * 30 && byte < 8 * 70);
      if (!every_bit && bit != (static_cast<int>(byte) & 7)) continue;
      skel::SignedLoader l = good;
      l.insns[byte] ^= static_cast<uint8_t>(1 << bit);
      Report r = check(l);
      ASSERT_EQ(r.err, EKEYREJECTED) << "byte " << byte << " bit " << bit << ": " << r.message;
      ASSERT_EQ(r.verdict, Verdict::kBadSig);
    }
  }
}

TEST(Verify, EveryByteOfTheMetadataIsCovered) {
  skel::SignedLoader good = signed_example();
  for (size_t byte = 0; byte < good.data.size(); ++byte) {
    skel::SignedLoader l = good;
    l.data[byte] ^= static_cast<uint8_t>(1 << (byte & 7));
    Report r = check(l);
    ASSERT_EQ(r.err, EINVAL) << "byte " << byte;
    ASSERT_EQ(r.kind, "metadata_mismatch");
  }
  skel::SignedLoader l = good;
  l.data.push_back(1);
  EXPECT_EQ(check(l).kind, "metadata_mismatch");
}

// Offsets of the bytes the kernel's PKCS#7 parser reads but never uses, so a
// change there is accepted by the kernel too: the OID inside SignedData's
// digestAlgorithms set (pkcs7.asn1 only notes it) and the parameters of the
// RSA signature algorithm (ANY OPTIONAL).
std::set<size_t> kernel_ignored_bytes(const Bytes& sig) {
  std::set<size_t> out;
  auto find = [&](const Bytes& needle) {
    auto it = std::search(sig.begin(), sig.end(), needle.begin(), needle.end());
    return it == sig.end() ? std::string::npos : static_cast<size_t>(it - sig.begin());
  };
  const Bytes digest_set = {0x31, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
  if (size_t at = find(digest_set); at != std::string::npos)
    for (size_t i = at + 6; i < at + digest_set.size(); ++i) out.insert(i);  // the OID's content bytes
  const Bytes rsa_null = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
  if (size_t at = find(rsa_null); at != std::string::npos) out.insert(at + 9);  // the NULL's tag
  return out;
}

TEST(Verify, SignatureBitFlipsAreRejectedWhereTheKernelRejectsThem) {
  skel::SignedLoader good = signed_example();
  const std::set<size_t> ignored = kernel_ignored_bytes(good.signature);
  ASSERT_EQ(ignored.size(), 10u) << "the bpftool-profile RSA signature has the expected layout";
  size_t rejected = 0, accepted = 0;
  for (size_t byte = 0; byte < good.signature.size(); ++byte) {
    skel::SignedLoader l = good;
    l.signature[byte] ^= static_cast<uint8_t>(1 << (byte % 8));
    Report r = check(l);
    if (ignored.count(byte)) {
      accepted += r.err == 0;
      continue;
    }
    ASSERT_NE(r.err, 0) << "byte " << byte;
    // The kernel's parser answers EINVAL for unsupported versions and content types.
    ASSERT_TRUE(r.err == EBADMSG || r.err == EKEYREJECTED || r.err == ENOKEY || r.err == ENOPKG || r.err == EINVAL)
        << "byte " << byte << ": " << errno_name(r.err);
    ++rejected;
  }
  EXPECT_EQ(rejected, good.signature.size() - ignored.size());
  RecordProperty("rejected", static_cast<int>(rejected));
  RecordProperty("accepted_in_kernel_ignored_fields", static_cast<int>(accepted));
}

TEST(Verify, WrongCertificateIsUnknownKey) {
  Report r = verify_loader(signed_example(), other_signer().trust());
  EXPECT_EQ(r.err, ENOKEY);
  EXPECT_EQ(r.verdict, Verdict::kUnknownKey);
}

TEST(Verify, TruncatedAndOversizedSignatures) {
  skel::SignedLoader l = signed_example();
  l.signature.resize(l.signature.size() - 10);
  EXPECT_EQ(check(l).err, EBADMSG);
  l = signed_example();
  l.signature.resize(crypto::kMaxKernelSignatureSize + 1, 0);
  EXPECT_EQ(check(l).err, EINVAL);
  l = signed_example();
  l.signature.clear();
  EXPECT_EQ(check(l).verdict, Verdict::kUnsigned);
}

TEST(Verify, AlteredMatchBlockIsUnexpected) {
  skel::SignedLoader l = signed_example(skel::MatchLayout::k618);
  auto prog = isa::decode(l.insns);
  skel::MatchBlockInfo info = skel::read_match_block(prog);
  prog[info.start_pc + 6].code = isa::kClassJmp | isa::kJmpJeq | isa::kSrcX;  // jne -> jeq
  l.insns = isa::encode(prog);
  EXPECT_EQ(check(l).err, EKEYREJECTED) << "without re-signing, the signature catches it";
  resign(l);
  Report r = check(l);
  EXPECT_EQ(r.err, EBADMSG);
  EXPECT_EQ(r.kind, "match_block_shape");
  EXPECT_EQ(r.verdict, Verdict::kUnexpected);
}

TEST(Verify, SignedHashOfOtherMetadataIsAMismatch) {
  skel::SignedLoader l = signed_example(skel::MatchLayout::k618);
  auto prog = isa::decode(l.insns);
  skel::MatchBlockInfo info = skel::read_match_block(prog);
  crypto::Digest other = crypto::sha256(Bytes{1, 2, 3});
  auto block = skel::build_match_block(skel::MatchLayout::k618, other, info.start_pc, info.cleanup_pc);
  std::copy(block.begin(), block.end(), prog.begin() + static_cast<long>(info.start_pc));
  l.insns = isa::encode(prog);
  resign(l);
  Report r = check(l);
  EXPECT_EQ(r.err, EINVAL);
  EXPECT_EQ(r.kind, "metadata_mismatch");
}

TEST(Verify, ExclusiveHashMismatchIsEacces) {
  skel::SignedLoader l = signed_example();
  l.excl_hash[5] ^= 0x40;
  Report r = check(l);
  EXPECT_EQ(r.err, EACCES);
  EXPECT_EQ(r.kind, "excl_mismatch");
}

// The bundle seal (docs/formats.md, section 10): what the kernel never sees
// is still the signer's.
TEST(VerifySeal, GoodSealIsReported) {
  Report r = check(signed_example());
  EXPECT_EQ(r.err, 0) << r.message;
  EXPECT_TRUE(r.seal.present);
  EXPECT_TRUE(r.seal.checked);
  EXPECT_TRUE(r.seal.ok);
}

TEST(VerifySeal, ChangesTheKernelNeverSeesAreRejected) {
  const skel::SignedLoader good = signed_example();
  std::vector<std::pair<std::string, std::function<void(skel::SignedLoader&)>>> changes = {
      {"name", [](skel::SignedLoader& l) { l.name = "other"; }},
      {"map names", [](skel::SignedLoader& l) { l.map_names.back() += "x"; }},
      {"prog names", [](skel::SignedLoader& l) { l.prog_names[0] = "evil"; }},
      {"certificate", [](skel::SignedLoader& l) { l.signer_cert = crypto::certificate_der(other_signer().cert.get()); }},
      {"no certificate", [](skel::SignedLoader& l) { l.signer_cert.clear(); }},
      {"extension", [](skel::SignedLoader& l) { l.extensions.push_back({0x80000001u, Bytes{0}}); }},
  };
  for (auto& [what, change] : changes) {
    skel::SignedLoader l = good;
    change(l);
    // Through the bytes, as `bpfsig verify` reads it.
    Report r = check(skel::decode_bundle(skel::encode_bundle(l), what));
    EXPECT_EQ(r.verdict, Verdict::kBadSig) << what;
    EXPECT_EQ(r.err, EKEYREJECTED) << what << ": " << r.message;
    EXPECT_EQ(r.kind, "bundle_seal") << what;
    EXPECT_TRUE(r.seal.checked) << what;
    EXPECT_EQ(r.signature.err, 0) << what << ": the kernel's check itself passes";
  }
}

TEST(VerifySeal, SealByAnotherTrustedSignerIsRejected) {
  skel::SignedLoader l = signed_example();
  skel::seal_bundle(l, other_signer().key.get());
  std::vector<crypto::Certificate> both = keys().trust();
  for (auto& c : other_signer().trust()) both.push_back(std::move(c));
  Report r = verify_loader(l, both);
  EXPECT_EQ(r.err, EKEYREJECTED) << r.message;
  EXPECT_EQ(r.kind, "bundle_seal");
  EXPECT_FALSE(r.seal.ok);
  // Sealed again by the program's signer: good.
  skel::seal_bundle(l, keys().key.get());
  EXPECT_EQ(verify_loader(l, both).err, 0);
}

TEST(VerifySeal, KernelChecksComeFirst) {
  skel::SignedLoader l = signed_example();
  l.insns[8] ^= 1;  // the signature no longer matches, and the seal neither
  Report r = check(l);
  EXPECT_EQ(r.kind, "bad_signature") << r.message;
  EXPECT_TRUE(r.seal.present);
  EXPECT_FALSE(r.seal.checked);
}

TEST(VerifySeal, HeadersHaveNoSeal) {
  SKIP_UNLESS(test::missing_shared_testdata());
  Report r = verify_loader(bpftool_header("prog.lskel.h"), bpftool_trust());
  EXPECT_EQ(r.err, 0) << r.message;
  EXPECT_FALSE(r.seal.present);
  EXPECT_FALSE(r.seal.checked);
}

// A bundle whose signer certificate has a key the kernel cannot use: `load
// --keyring own` would fail at add_key with ENOPKG, so verify says so.
TEST(Verify, BundleSignerCertificateWithAKeyTheKernelCannotUseIsEnopkg) {
  test::TempDir d;
  const std::string k1 = test::openssl_key_and_cert(d, "k1", "ec", "ec_paramgen_curve:secp256k1");
  ASSERT_FALSE(k1.empty());
  skel::SignedLoader l = signed_example();
  l.signer_cert = read_file(k1 + ".der");
  Report r = check(l);
  EXPECT_EQ(r.verdict, Verdict::kBadSig);
  EXPECT_EQ(r.err, ENOPKG);
  EXPECT_EQ(r.kind, "unsupported_algo");
  EXPECT_NE(r.message.find("secp256k1"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("RSA, ECDSA P-256, ECDSA P-384"), std::string::npos) << r.message;
  // Without an embedded certificate nothing is added to a keyring: OK.
  l.signer_cert.clear();
  l.seal.clear();
  EXPECT_EQ(check(l).err, 0) << check(l).message;
}
