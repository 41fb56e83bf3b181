// SPDX-License-Identifier: Apache-2.0
// The loadtime and hash-chain schemes in the skel module: what sign_object
// produces, what the signature covers, and their bundle and header forms.
#include <gtest/gtest.h>

#include <cerrno>
#include <functional>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "skel/matchblock.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::skel;

namespace {

SignedLoader sign_as(const std::string& name, Scheme scheme) {
  SignOptions o;
  o.scheme = scheme;
  test::TestSigner& s = test::default_signer();
  return sign_object(test::examples_dir() + "/" + name + ".bpf.o", s.cert.get(), s.key.get(), o);
}

const std::vector<std::string> kNames = {"execcount", "multimap", "xdpfilter"};

void expect_same(const SignedLoader& a, const SignedLoader& b) {
  EXPECT_EQ(a.scheme, b.scheme);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.insns, b.insns);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.excl_hash, b.excl_hash);
  EXPECT_EQ(a.map_names, b.map_names);
  EXPECT_EQ(a.prog_names, b.prog_names);
  EXPECT_EQ(a.signature_maps, b.signature_maps);
}

int error_of(const std::function<void()>& f, std::string* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.err();
  }
  return 0;
}

bool verifies(const SignedLoader& l, ByteView content) {
  return crypto::verify_kernel_rules(l.signature, content, test::default_signer().trust()).err == 0;
}

}  // namespace

TEST(SkelSchemes, NamesRoundTrip) {
  for (Scheme s : {Scheme::kLoaderHash, Scheme::kLoadtime, Scheme::kHashChain})
    EXPECT_EQ(parse_scheme(scheme_name(s)), s);
  EXPECT_EQ(static_cast<int>(Scheme::kLoadtime), 2);
  EXPECT_EQ(static_cast<int>(Scheme::kHashChain), 4);
  std::string kind;
  EXPECT_EQ(error_of([] { parse_scheme("hash_chain"); }, &kind), EINVAL);
  EXPECT_EQ(kind, "unknown_scheme");
}

TEST(SkelSchemes, LoadtimeLoaderHasNoMatchBlockAndSignsInsnsThenMetadata) {
  for (const auto& name : kNames) {
    SCOPED_TRACE(name);
    SignedLoader lt = sign_as(name, Scheme::kLoadtime);
    EXPECT_FALSE(read_match_block(isa::decode(lt.insns, name)).found);
    // No immediate anywhere carries the metadata digest.
    crypto::Digest meta = crypto::sha256_padded8(lt.data);
    uint64_t first_word = load_le64(meta.data());
    for (size_t off = 0; off + 16 <= lt.insns.size(); off += 8) {
      uint64_t imm64 = load_le32(&lt.insns[off + 4]) | (uint64_t{load_le32(&lt.insns[off + 12])} << 32);
      EXPECT_NE(imm64, first_word) << "insn " << off / 8;
    }
    Bytes content = lt.insns;
    content.insert(content.end(), lt.data.begin(), lt.data.end());
    EXPECT_EQ(signed_content(lt), content);
    EXPECT_TRUE(verifies(lt, content));
    EXPECT_FALSE(verifies(lt, lt.insns));
    crypto::Digest digest = crypto::sha256(lt.insns);
    EXPECT_EQ(lt.excl_hash, Bytes(digest.begin(), digest.end()));
    EXPECT_TRUE(lt.signature_maps.empty());
  }
}

TEST(SkelSchemes, HashChainKeepsTheBlockAndSignsTheChain) {
  SignedLoader hc = sign_as("multimap", Scheme::kHashChain);
  SignedLoader lh = sign_as("multimap", Scheme::kLoaderHash);
  EXPECT_EQ(hc.insns, lh.insns);
  EXPECT_TRUE(read_match_block(isa::decode(hc.insns, "hc")).found);
  EXPECT_EQ(hc.signature_maps, std::vector<uint32_t>{0});
  // Written out: sha256(sha256(insns) || sha256(metadata padded to 8)).
  Bytes padded = hc.data;
  padded.resize((padded.size() + 7) / 8 * 8, 0);
  crypto::Digest a = crypto::sha256(hc.insns), b = crypto::sha256(padded);
  Bytes joined(a.begin(), a.end());
  joined.insert(joined.end(), b.begin(), b.end());
  crypto::Digest value = crypto::sha256(joined);
  Bytes expected(value.begin(), value.end());
  EXPECT_EQ(signed_content(hc), expected);
  EXPECT_TRUE(verifies(hc, expected));
  EXPECT_FALSE(verifies(hc, hc.insns));
  EXPECT_EQ(hash_chain_value(hc.insns, {b}), value);
}

TEST(SkelSchemes, SignatureMapsPastTheFdArrayIsEfault) {
  SignedLoader hc = sign_as("execcount", Scheme::kHashChain);
  hc.signature_maps = {0, 1};
  std::string kind;
  EXPECT_EQ(error_of([&] { signed_content(hc); }, &kind), EFAULT);
  EXPECT_EQ(kind, "signature_maps");
}

TEST(SkelSchemes, BundleRoundTrips) {
  for (Scheme s : {Scheme::kLoadtime, Scheme::kHashChain}) {
    SCOPED_TRACE(scheme_name(s));
    SignedLoader l = sign_as("multimap", s);
    Bytes bundle = encode_bundle(l);
    EXPECT_EQ(load_le16(&bundle[10]), static_cast<uint16_t>(s));
    expect_same(decode_bundle(bundle, "b"), l);
  }
}

TEST(SkelSchemes, SignatureMapsSectionIsRequiredAndChecked) {
  SignedLoader hc = sign_as("execcount", Scheme::kHashChain);
  Bytes bundle = encode_bundle(hc);
  // Walk the sections to section 9.
  size_t at = 24;
  while (load_le32(&bundle[at]) != 9) at += 8 + ((load_le32(&bundle[at + 4]) + 7) & ~7u);
  EXPECT_EQ(load_le32(&bundle[at + 4]), 4u);
  EXPECT_EQ(load_le32(&bundle[at + 8]), 0u);
  std::string kind;
  // A reader that does not know section 9 fails clearly: it is required.
  Bytes unknown = bundle;
  store_le32(&unknown[at], 10);
  EXPECT_EQ(error_of([&] { decode_bundle(unknown, "b"); }, &kind), EBADMSG);
  EXPECT_EQ(kind, "bundle_format");
  // Not a multiple of 4.
  Bytes odd = bundle;
  store_le32(&odd[at + 4], 3);
  EXPECT_EQ(error_of([&] { decode_bundle(odd, "b"); }, &kind), EBADMSG);
  // A hash-chain bundle without it, and a loadtime bundle with it.
  SignedLoader none = hc;
  none.signature_maps.clear();
  EXPECT_EQ(error_of([&] { encode_bundle(none); }, &kind), EBADMSG);
  SignedLoader lt = sign_as("execcount", Scheme::kLoadtime);
  lt.signature_maps = {0};
  EXPECT_EQ(error_of([&] { encode_bundle(lt); }, &kind), EBADMSG);
  SignedLoader many = hc;
  many.signature_maps.assign(65, 0);
  EXPECT_EQ(error_of([&] { encode_bundle(many); }, &kind), E2BIG);
  EXPECT_EQ(kind, "limit_signature_maps");
}

TEST(SkelSchemes, UnknownSchemeNumbersAreRefused) {
  Bytes bundle = encode_bundle(sign_as("execcount", Scheme::kLoadtime));
  for (uint16_t scheme : {0, 5, 0xffff}) {
    Bytes b = bundle;
    store_le16(&b[10], scheme);
    std::string kind;
    EXPECT_EQ(error_of([&] { decode_bundle(b, "b"); }, &kind), EINVAL) << scheme;
    EXPECT_EQ(kind, "unknown_scheme");
  }
}

TEST(SkelSchemes, HeaderRoundTrips) {
  for (Scheme s : {Scheme::kLoadtime, Scheme::kHashChain}) {
    SCOPED_TRACE(scheme_name(s));
    SignedLoader l = sign_as("xdpfilter", s);
    std::string text = render_header(l);
    if (s == Scheme::kHashChain) {
      EXPECT_NE(text.find("static const int opts_signature_maps[1] __attribute__((__aligned__(8))) = {0};"),
                std::string::npos);
      EXPECT_NE(text.find("opts.signature_maps_sz = 1;"), std::string::npos);
      EXPECT_EQ(text.find("fd_array_cnt"), std::string::npos);
    } else {
      EXPECT_NE(text.find("opts.fd_array_cnt = 1;"), std::string::npos);
      EXPECT_EQ(text.find("signature_maps"), std::string::npos);
    }
    SignedLoader back = parse_header(text, "h");
    back.signer_cert = l.signer_cert;
    expect_same(back, l);
  }
}

TEST(SkelSchemes, HeaderSchemeAndSignatureMapsMustAgree) {
  SignedLoader hc = sign_as("execcount", Scheme::kHashChain);
  std::string text = render_header(hc);
  // A header naming loadtime but carrying opts_signature_maps.
  std::string lied = text;
  size_t at = lied.find("scheme hash-chain");
  lied.replace(at, 17, "scheme loadtime");
  EXPECT_EQ(error_of([&] { parse_header(lied, "h"); }), EBADMSG);
  // Without the bpfsig comment (a bpftool -M header), the array decides.
  std::string bare = text;
  bare.replace(bare.find("scheme hash-chain"), 17, "by hand");
  EXPECT_EQ(parse_header(bare, "h").scheme, Scheme::kHashChain);
  std::string garbage = text;
  garbage.replace(garbage.find("= {0};"), 6, "= {x};");
  EXPECT_EQ(error_of([&] { parse_header(garbage, "h"); }), EBADMSG);
}
