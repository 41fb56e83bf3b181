// SPDX-License-Identifier: Apache-2.0
// The Hornet signature format: interoperability with gen_sig's samples
// (testdata/hornet), openssl's view of bpfsig's own signatures, and the
// kernel-rules verifier on signed attributes.
#include <gtest/gtest.h>

#include <sstream>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "crypto/ber.h"
#include "support/signer.h"
#include "support/support.h"

namespace bpfsig {
namespace {

std::string hornet_dir() { return test::shared_testdata() + "/hornet"; }
Bytes sample(const std::string& name) { return read_file(hornet_dir() + "/" + name); }
Bytes digest_bytes(ByteView data) {
  crypto::Digest d = crypto::sha256(data);
  return Bytes(d.begin(), d.end());
}

std::vector<crypto::Certificate> sample_trust() {
  std::vector<crypto::Certificate> v;
  v.push_back(crypto::load_certificate(test::shared_testdata() + "/bpftool-7.7/cert.der"));
  return v;
}

// A signer shaped like the samples' one (RSA-2048, subject CN=anchor), so
// only its serial number differs in size.
test::TestSigner& anchor_signer() {
  static test::TestSigner signer([] {
    crypto::KeygenOptions o;
    o.subject = "CN=anchor";
    return o;
  }());
  return signer;
}

TEST(HornetSamples, AttributeHoldsTheMapHashes) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const Bytes h0 = digest_bytes(sample("map0.bin")), h1 = digest_bytes(sample("map1.bin"));
  auto one = crypto::hornet_attribute(sample("prog.hornet.p7b"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->format, crypto::HornetFormat::kFinal);
  ASSERT_EQ(one->maps.size(), 1u);
  EXPECT_EQ(one->maps[0].sha, h0);

  auto two = crypto::hornet_attribute(sample("prog.hornet2.p7b"));
  ASSERT_TRUE(two);
  ASSERT_EQ(two->maps.size(), 2u);
  EXPECT_EQ(two->maps[0].sha, h0);
  EXPECT_EQ(two->maps[1].sha, h1);

  auto none = crypto::hornet_attribute(sample("prog.hornet0.p7b"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->maps.empty());
}

TEST(HornetSamples, KernelRulesAcceptThemOverTheLoader) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const Bytes insns = sample("insn.bin");
  for (const char* name : {"prog.hornet.p7b", "prog.hornet0.p7b", "prog.hornet2.p7b"}) {
    crypto::SigCheck c = crypto::verify_kernel_rules(sample(name), insns, sample_trust());
    EXPECT_EQ(c.err, 0) << name << ": " << c.kind << ": " << c.detail;
    EXPECT_EQ(crypto::parse_kernel_rules(sample(name)).err, 0) << name;
  }
  // One flipped instruction byte: messageDigest no longer matches.
  Bytes tampered = insns;
  tampered[100] ^= 1;
  crypto::SigCheck c = crypto::verify_kernel_rules(sample("prog.hornet.p7b"), tampered, sample_trust());
  EXPECT_EQ(c.err, EKEYREJECTED);
  EXPECT_EQ(c.kind, "bad_digest");
}

TEST(HornetSamples, BpftoolSignatureHasNoHornetAttribute) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const test::TestSigner& s = test::default_signer();
  Bytes sig = crypto::sign_bpftool(sample("insn.bin"), s.cert.get(), s.key.get());
  EXPECT_FALSE(crypto::hornet_attribute(sig));
}

TEST(HornetSign, BothFormatsRoundTripAndVerify) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const test::TestSigner& s = anchor_signer();
  const Bytes insns = sample("insn.bin");
  std::vector<crypto::HornetMapHash> maps = {{0, digest_bytes(sample("map0.bin"))}, {3, {}}, {1, digest_bytes(sample("map1.bin"))}};
  for (auto format : {crypto::HornetFormat::kFinal, crypto::HornetFormat::kV7}) {
    Bytes sig = crypto::sign_hornet(insns, maps, format, s.cert.get(), s.key.get());
    auto attr = crypto::hornet_attribute(sig);
    ASSERT_TRUE(attr);
    EXPECT_EQ(attr->format, format);
    ASSERT_EQ(attr->maps.size(), 3u);
    // DER sorts the SET: find each map whatever its position.
    for (const auto& m : maps) {
      bool found = false;
      for (const auto& got : attr->maps)
        found |= got.sha == m.sha && (format == crypto::HornetFormat::kFinal || got.index == m.index);
      EXPECT_TRUE(found);
    }
    crypto::SigCheck c = crypto::verify_kernel_rules(sig, insns, s.trust());
    EXPECT_EQ(c.err, 0) << c.kind << ": " << c.detail;
    crypto::CmsSummary summary = crypto::inspect_cms(sig);
    EXPECT_EQ(summary.certificate_count, 0u);
    EXPECT_TRUE(summary.detached);
    ASSERT_EQ(summary.signers.size(), 1u);
    EXPECT_FALSE(summary.signers[0].by_skid);
    EXPECT_EQ(summary.signers[0].signed_attr_oids.size(), 4u);
  }
}

TEST(HornetSign, RefusesMoreThan64Maps) {
  const test::TestSigner& s = test::default_signer();
  std::vector<crypto::HornetMapHash> maps(64, crypto::HornetMapHash{0, Bytes(32, 7)});
  EXPECT_NO_THROW(crypto::sign_hornet(Bytes(8, 1), maps, crypto::HornetFormat::kFinal, s.cert.get(), s.key.get()));
  maps.push_back(maps.back());
  try {
    crypto::sign_hornet(Bytes(8, 1), maps, crypto::HornetFormat::kFinal, s.cert.get(), s.key.get());
    FAIL() << "65 maps signed";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), E2BIG);
    EXPECT_EQ(e.kind(), "hornet_too_many_maps");
  }
  std::vector<crypto::HornetMapHash> wide = {{200, Bytes(32, 1)}};
  EXPECT_THROW(crypto::sign_hornet(Bytes(8, 1), wide, crypto::HornetFormat::kV7, s.cert.get(), s.key.get()), Error);
}

TEST(HornetAttribute, MalformedInputs) {
  EXPECT_THROW(crypto::hornet_attribute(Bytes{}), Error);
  EXPECT_THROW(crypto::hornet_attribute(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}), Error);
  try {
    crypto::hornet_attribute(Bytes{0x30, 0x80});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EBADMSG);
    EXPECT_EQ(e.kind(), "cms_parse");
  }
}

// ---- openssl's view ----------------------------------------------------------------------

struct Asn1Node {
  size_t offset = 0;
  int depth = 0, hl = 0, len = 0;
  std::string kind, tag, value;
};

// `openssl asn1parse` lines: "  OFF:d=D  hl=H l=  L cons: TAG  :VALUE".
std::vector<Asn1Node> asn1parse(const std::string& path) {
  auto r = test::run_command({"openssl", "asn1parse", "-inform", "DER", "-in", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<Asn1Node> nodes;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    Asn1Node n;
    char kind[8] = {};
    int used = 0;
    if (std::sscanf(line.c_str(), " %zu:d=%d hl=%d l=%d %7[^:]:%n", &n.offset, &n.depth, &n.hl, &n.len, kind, &used) < 5)
      continue;
    n.kind = kind;
    std::string rest = line.substr(static_cast<size_t>(used));
    size_t colon = rest.find(':');
    n.tag = rest.substr(0, colon);
    n.tag = n.tag.substr(0, n.tag.find("  "));  // drop "[HEX DUMP]" and padding
    n.tag.erase(n.tag.find_last_not_of(' ') + 1);
    n.tag.erase(0, n.tag.find_first_not_of(' '));
    if (colon != std::string::npos) n.value = rest.substr(colon + 1);
    nodes.push_back(n);
  }
  return nodes;
}

std::string write_temp(const test::TempDir& d, const std::string& name, ByteView bytes) {
  write_file_atomic(d.file(name), bytes);
  return d.file(name);
}

TEST(HornetOpenssl, CmsVerifyAcceptsBothFormats) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const test::TestSigner& s = anchor_signer();
  test::TempDir d;
  const Bytes insns = sample("insn.bin");
  write_temp(d, "insn.bin", insns);
  auto pem = test::run_command({"openssl", "x509", "-inform", "DER", "-in", s.cert_path(), "-out", d.file("cert.pem")});
  ASSERT_EQ(pem.exit_code, 0) << pem.err;
  for (auto format : {crypto::HornetFormat::kFinal, crypto::HornetFormat::kV7}) {
    Bytes sig = crypto::sign_hornet(insns, {{0, digest_bytes(sample("map0.bin"))}}, format, s.cert.get(), s.key.get());
    std::string path = write_temp(d, "sig.p7b", sig);
    auto r = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", path, "-content",
                                d.file("insn.bin"), "-certfile", d.file("cert.pem"), "-noverify", "-out", "/dev/null"});
    EXPECT_EQ(r.exit_code, 0) << crypto::hornet_format_name(format) << ": " << r.err;
    // And fails over other content.
    Bytes other = insns;
    other[0] ^= 0xff;
    write_temp(d, "other.bin", other);
    auto bad = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", path, "-content",
                                  d.file("other.bin"), "-certfile", d.file("cert.pem"), "-noverify", "-out", "/dev/null"});
    EXPECT_NE(bad.exit_code, 0);
  }
}

TEST(HornetOpenssl, Asn1parseOfTheAttributeAgrees) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const test::TestSigner& s = anchor_signer();
  test::TempDir d;
  std::vector<crypto::HornetMapHash> maps = {{2, digest_bytes(sample("map1.bin"))}, {0, digest_bytes(sample("map0.bin"))}};
  for (auto format : {crypto::HornetFormat::kFinal, crypto::HornetFormat::kV7}) {
    Bytes sig = crypto::sign_hornet(sample("insn.bin"), maps, format, s.cert.get(), s.key.get());
    auto attr = crypto::hornet_attribute(sig);
    ASSERT_TRUE(attr);
    auto nodes = asn1parse(write_temp(d, "value.der", attr->value_der));
    std::vector<std::string> shas, indexes;
    for (const auto& n : nodes) {
      if (n.tag == "OCTET STRING") shas.push_back(n.value);
      if (n.tag == "INTEGER") indexes.push_back(n.value);
    }
    ASSERT_EQ(shas.size(), attr->maps.size());
    ASSERT_EQ(nodes.size(), 2 + attr->maps.size() * (format == crypto::HornetFormat::kFinal ? 2 : 3));
    EXPECT_EQ(nodes[0].tag, "SEQUENCE");
    EXPECT_EQ(nodes[1].tag, "SET");
    for (size_t i = 0; i < shas.size(); ++i) {
      std::string want = to_hex(attr->maps[i].sha);
      for (auto& c : want) c = static_cast<char>(std::toupper(c));
      EXPECT_EQ(shas[i], want);
      if (format == crypto::HornetFormat::kV7) {
        EXPECT_EQ(std::stoul(indexes[i], nullptr, 16), attr->maps[i].index);
      }
    }
    EXPECT_EQ(indexes.size(), format == crypto::HornetFormat::kV7 ? 2u : 0u);
  }
}

// The same inputs through bpfsig and gen_sig give the same DER tree: same
// tags, nesting and lengths, except the signer's serial number (16 bytes
// here, 20 in the sample), the lengths that contain it, signingTime and the
// signature value.
TEST(HornetOpenssl, StructureEqualsGenSigSample) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const test::TestSigner& s = anchor_signer();
  test::TempDir d;
  Bytes sig = crypto::sign_hornet(sample("insn.bin"),
                                  {{0, digest_bytes(sample("map0.bin"))}, {0, digest_bytes(sample("map1.bin"))}},
                                  crypto::HornetFormat::kFinal, s.cert.get(), s.key.get());
  auto ours = asn1parse(write_temp(d, "ours.p7b", sig));
  auto theirs = asn1parse(hornet_dir() + "/prog.hornet2.p7b");
  ASSERT_EQ(ours.size(), theirs.size());
  // The serial: the INTEGER right after the issuer name in the SignerInfo.
  size_t serial = 0;
  for (size_t i = 0; i < theirs.size(); ++i)
    if (theirs[i].tag == "INTEGER" && theirs[i].depth == 6) serial = i;
  ASSERT_NE(serial, 0u);
  const int delta = theirs[serial].len - ours[serial].len;
  for (size_t i = 0; i < ours.size(); ++i) {
    SCOPED_TRACE("node " + std::to_string(i) + " " + theirs[i].tag);
    EXPECT_EQ(ours[i].depth, theirs[i].depth);
    EXPECT_EQ(ours[i].kind, theirs[i].kind);
    EXPECT_EQ(ours[i].tag, theirs[i].tag);
    const bool contains_serial = theirs[i].offset < theirs[serial].offset &&
                                 theirs[i].offset + theirs[i].hl + theirs[i].len > theirs[serial].offset;
    if (i == serial) continue;
    if (contains_serial) {
      EXPECT_EQ(theirs[i].len - ours[i].len, delta);
      continue;
    }
    EXPECT_EQ(ours[i].len, theirs[i].len);
    const bool variable = theirs[i].tag == "UTCTIME" || (theirs[i].tag == "OCTET STRING" && theirs[i].len == 256);
    if (!variable) {
      EXPECT_EQ(ours[i].value, theirs[i].value);
    }
  }
}

// ---- the kernel's rules for signed attributes --------------------------------------------

// Signs with OpenSSL directly so the attributes can be chosen.
Bytes sign_with_attrs(ByteView content, bool with_time) {
  const test::TestSigner& s = test::default_signer();
  test::TempDir d;
  write_file_atomic(d.file("data"), content);
  auto pem = test::run_command({"openssl", "x509", "-inform", "DER", "-in", s.cert_path(), "-out", d.file("cert.pem")});
  std::vector<std::string> argv = {"openssl", "cms", "-sign", "-binary", "-nocerts", "-nosmimecap", "-outform", "DER",
                                   "-in", d.file("data"), "-signer", d.file("cert.pem"), "-inkey",
                                   s.dir.file("key.pem"), "-out", d.file("sig"), "-md", "sha256"};
  if (!with_time) argv.push_back("-noattr");
  auto r = test::run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_file(d.file("sig"));
}

TEST(KernelRulesAttrs, SignedAttributesVerifyAndBindTheContent) {
  const Bytes content(64, 0x5a);
  Bytes with = sign_with_attrs(content, true);
  EXPECT_EQ(crypto::verify_kernel_rules(with, content, test::default_signer().trust()).err, 0);
  Bytes other = content;
  other[3] ^= 1;
  crypto::SigCheck c = crypto::verify_kernel_rules(with, other, test::default_signer().trust());
  EXPECT_EQ(c.err, EKEYREJECTED);
  EXPECT_EQ(c.kind, "bad_digest");
  // Flip a byte inside the signed attributes (the signingTime's last digit):
  // the digest still matches, the signature over the attribute SET does not.
  Bytes tampered = with;
  bool flipped = false;
  for (size_t i = 0; i + 15 < tampered.size() && !flipped; ++i)
    if (tampered[i] == 0x17 && tampered[i + 1] == 0x0d && tampered[i + 14] == 'Z') {
      tampered[i + 13] = tampered[i + 13] == '0' ? '1' : '0';
      flipped = true;
    }
  ASSERT_TRUE(flipped);
  c = crypto::verify_kernel_rules(tampered, content, test::default_signer().trust());
  EXPECT_EQ(c.err, EKEYREJECTED) << c.kind;
  EXPECT_EQ(c.kind, "bad_signature");
}

// The kernel hashes the signed attributes as received; OpenSSL's own CMS
// verification re-encodes them first. An attribute written with a
// non-minimal length (BER, not DER) tells the two apart: the signature was
// made over the DER bytes, so the kernel rejects it.
void grow_length(Bytes& der, const crypto::ber::Tlv& t) {
  uint8_t& first = der[t.offset + 1];
  if (first < 0x7f) {
    ++first;
  } else if (first == 0x81) {
    ASSERT_LT(der[t.offset + 2], 0xff);
    ++der[t.offset + 2];
  } else {
    ASSERT_EQ(first, 0x82);
    uint16_t len = static_cast<uint16_t>(der[t.offset + 2] << 8 | der[t.offset + 3]);
    ++len;
    der[t.offset + 2] = static_cast<uint8_t>(len >> 8);
    der[t.offset + 3] = static_cast<uint8_t>(len);
  }
}

TEST(KernelRulesAttrs, SignatureCoversTheAttributesAsReceived) {
  const Bytes content(64, 0x5a);
  Bytes der = sign_with_attrs(content, true);
  namespace ber = crypto::ber;
  // ContentInfo > [0] > SignedData > SignerInfos > SignerInfo > [0] signedAttrs > first Attribute.
  std::vector<ber::Tlv> path;
  auto top = ber::read(der, 0, der.size());
  ASSERT_TRUE(top);
  path.push_back(*top);
  auto step = [&](size_t index_from_end, bool from_end) {
    auto kids = ber::children(der, path.back());
    ASSERT_TRUE(kids);
    ASSERT_FALSE(kids->empty());
    path.push_back(from_end ? (*kids)[kids->size() - 1 - index_from_end] : (*kids)[index_from_end]);
  };
  step(1, false);  // [0]
  step(0, false);  // SignedData
  step(0, true);   // SignerInfos (last field)
  step(0, false);  // SignerInfo
  step(3, false);  // [0] signedAttrs
  ASSERT_EQ(path.back().tag, 0xa0);
  step(0, false);  // the first Attribute
  const ber::Tlv attr = path.back();
  ASSERT_LT(der[attr.offset + 1], 0x80);
  // Ancestors first (their headers come before the insertion point), then the attribute's own length.
  for (size_t i = 0; i + 1 < path.size(); ++i) grow_length(der, path[i]);
  der.insert(der.begin() + static_cast<std::ptrdiff_t>(attr.offset + 1), 0x81);

  EXPECT_EQ(crypto::parse_kernel_rules(der).err, 0);
  crypto::SigCheck c = crypto::verify_kernel_rules(der, content, test::default_signer().trust());
  EXPECT_EQ(c.err, EKEYREJECTED) << c.kind << ": " << c.detail;
  EXPECT_EQ(c.kind, "bad_signature");
  // OpenSSL's own verification re-encodes the attributes and accepts the message.
  test::TempDir d;
  write_file_atomic(d.file("sig"), der);
  write_file_atomic(d.file("data"), content);
  auto pem = test::run_command({"openssl", "x509", "-inform", "DER", "-in", test::default_signer().cert_path(), "-out", d.file("c.pem")});
  ASSERT_EQ(pem.exit_code, 0);
  auto r = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", d.file("sig"), "-content",
                              d.file("data"), "-certfile", d.file("c.pem"), "-noverify", "-out", "/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace bpfsig

namespace bpfsig {
namespace {

// KernelMessage decodes once and answers as the functions on the bytes do.
void expect_same_answers(const Bytes& sig, ByteView content, const std::vector<crypto::Certificate>& trust) {
  const crypto::KernelMessage message(sig);
  EXPECT_EQ(message.size(), sig.size());
  const crypto::SigCheck parsed = crypto::parse_kernel_rules(sig);
  EXPECT_EQ(message.parse_check().err, parsed.err);
  EXPECT_EQ(message.parse_check().kind, parsed.kind);
  EXPECT_EQ(message.parse_check().detail, parsed.detail);
  const crypto::SigCheck verified = crypto::verify_kernel_rules(sig, content, trust);
  const crypto::SigCheck mine = message.verify(content, trust);
  EXPECT_EQ(mine.err, verified.err);
  EXPECT_EQ(mine.kind, verified.kind);
  EXPECT_EQ(mine.detail, verified.detail);
  EXPECT_EQ(mine.signer_index, verified.signer_index);
  std::optional<crypto::HornetAttribute> attr;
  std::string error;
  try {
    attr = crypto::hornet_attribute(sig);
  } catch (const Error& e) {
    error = e.kind() + ": " + e.what();
  }
  for (int ask = 0; ask < 2; ++ask) {  // the second answer comes from what the first decoded
    try {
      const std::optional<crypto::HornetAttribute>& a = message.hornet_attribute();
      EXPECT_EQ(error, "");
      ASSERT_EQ(a.has_value(), attr.has_value());
      if (!a) continue;
      EXPECT_EQ(a->format, attr->format);
      EXPECT_EQ(a->value_der, attr->value_der);
      ASSERT_EQ(a->maps.size(), attr->maps.size());
      for (size_t i = 0; i < a->maps.size(); ++i) {
        EXPECT_EQ(a->maps[i].index, attr->maps[i].index);
        EXPECT_EQ(a->maps[i].sha, attr->maps[i].sha);
      }
    } catch (const Error& e) {
      EXPECT_EQ(error, e.kind() + ": " + e.what());
    }
  }
}

TEST(KernelMessage, AnswersAsTheFunctionsOnTheBytesDo) {
  const test::TestSigner& s = test::default_signer();
  const Bytes insns(64, 0x11);
  const std::vector<crypto::HornetMapHash> maps = {{0, Bytes(32, 0xaa)}, {2, {}}};
  std::vector<Bytes> signatures;
  for (auto format : {crypto::HornetFormat::kFinal, crypto::HornetFormat::kV7})
    signatures.push_back(crypto::sign_hornet(insns, maps, format, s.cert.get(), s.key.get()));
  signatures.push_back(crypto::sign_hornet(insns, {}, crypto::HornetFormat::kFinal, s.cert.get(), s.key.get()));
  signatures.push_back(crypto::sign_bpftool(insns, s.cert.get(), s.key.get()));
  signatures.push_back({});
  signatures.push_back(Bytes{0x30, 0x03, 0x02, 0x01, 0x01});
  Bytes truncated = signatures.front();
  truncated.resize(truncated.size() / 2);
  signatures.push_back(truncated);
  Bytes flipped = signatures.front();
  flipped[flipped.size() - 10] ^= 0x01;  // inside the signature value
  signatures.push_back(flipped);
  signatures.push_back(Bytes(crypto::kMaxKernelSignatureSize + 1, 0x30));
  for (const Bytes& sig : signatures) {
    SCOPED_TRACE("signature of " + std::to_string(sig.size()) + " bytes");
    expect_same_answers(sig, insns, s.trust());
    expect_same_answers(sig, Bytes(64, 0x12), s.trust());
    expect_same_answers(sig, insns, {});
  }
}

TEST(KernelMessage, ContentInPartsVerifiesAsTheJoinedContent) {
  const test::TestSigner& s = test::default_signer();
  const Bytes a(40, 0x01), b(24, 0x02);
  Bytes joined = a;
  joined.insert(joined.end(), b.begin(), b.end());
  const Bytes sig = crypto::sign_bpftool(joined, s.cert.get(), s.key.get());
  EXPECT_EQ(crypto::verify_kernel_rules(sig, std::vector<ByteView>{a, b}, s.trust()).err, 0);
  EXPECT_EQ(crypto::verify_kernel_rules(sig, std::vector<ByteView>{b, a}, s.trust()).err, EKEYREJECTED);
  EXPECT_EQ(crypto::verify_kernel_rules(sig, std::vector<ByteView>{a}, s.trust()).err, EKEYREJECTED);
  const crypto::SigCheck ok = crypto::verify_kernel_rules(sig, joined, s.trust());
  EXPECT_EQ(ok.signer_index, 0);
}

}  // namespace
}  // namespace bpfsig
