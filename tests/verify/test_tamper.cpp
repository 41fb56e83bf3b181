// SPDX-License-Identifier: Apache-2.0
// Exhaustive tamper test: every bit of every byte of each example bundle is
// flipped (for bundles over 64 KiB, every byte is set to a few values
// instead), and the result is decoded and verified as `bpfsig verify` does.
// Each change must be rejected with the errno class of the region it hit.
// The only changes that may pass are in regions no signature covers (the
// skeleton and map/program names, the informational signer certificate):
// they are listed per scheme, counted, and allowed only when the signed
// material (instructions, metadata, signature, exclusive-map hash) decoded
// unchanged. Table-driven over schemes: a new scheme is a new row.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "crypto/ber.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

constexpr size_t kExhaustiveLimit = 64 * 1024;

// The bundle's section types (docs/formats.md section 1).
const std::map<uint32_t, std::string> kSectionRegion = {
    {1, "insns"}, {2, "metadata"}, {3, "signature"}, {4, "excl_hash"}, {5, "name"},
    {6, "map_names"}, {7, "prog_names"}, {8, "signer_cert"},
};

struct SchemeRow {
  std::string name;
  std::function<skel::SignedLoader(const std::string& object)> sign;
  // region -> the errnos a change there may be rejected with
  std::map<std::string, std::set<int>> expected;
  // regions no signature covers: a change there may be accepted (and is counted)
  std::set<std::string> unsigned_regions;
  // regions the kernel does not look at: a change there may be accepted (and is counted)
  std::set<std::string> kernel_ignored_regions;
};

const std::set<int> kFraming = {EBADMSG, EINVAL};
// What crypto::verify_kernel_rules may answer (the kernel's PKCS#7 errnos).
const std::set<int> kKernelSig = {EBADMSG, EKEYREJECTED, ENOKEY, ENOPKG, EINVAL};

std::vector<SchemeRow> schemes() {
  std::vector<SchemeRow> rows;
  rows.push_back(SchemeRow{
      "loader-hash",
      [](const std::string& object) {
        test::TestSigner& s = test::default_signer();
        return skel::sign_object(object, s.cert.get(), s.key.get(), skel::SignOptions{});
      },
      {{"header", kFraming},
       // The scheme field: another known scheme makes verify apply that
       // scheme's rules, which this signature fails (loadtime/hash-chain:
       // EKEYREJECTED or a missing section; hornet: no attribute, PARTIALSIG EPERM).
       {"scheme", {EBADMSG, EINVAL, EKEYREJECTED, EPERM}},
       {"framing", kFraming},
       {"padding", {EBADMSG}},
       {"insns", {EKEYREJECTED, EBADMSG}},
       {"metadata", {EINVAL}},
       {"signature", kKernelSig},
       {"excl_hash", {EACCES}},
       {"name", {EBADMSG}},
       {"map_names", {EBADMSG}},
       {"prog_names", {EBADMSG}},
       {"signer_cert", {EBADMSG}}},
      // Names are the skeleton's identifiers and the certificate is never a
      // trust anchor (formats.md); "framing:signer_cert" is its section
      // header: setting bit 31 of its type turns it into a skipped extension.
      {"name", "map_names", "prog_names", "signer_cert", "framing:signer_cert"},
      // SignedData.digestAlgorithms: the kernel's pkcs7.asn1 only notes these
      // OIDs (pkcs7_note_OID) and checks the SignerInfo's digestAlgorithm, so a
      // changed OID there that still parses is accepted by the kernel too.
      // AlgorithmIdentifier parameters (`parameters ANY OPTIONAL` in
      // pkcs7.asn1): the kernel never reads them, so e.g. the NULL after
      // rsaEncryption may carry another tag.
      {"signature:digest_algorithms", "signature:algorithm_parameters"},
  });
  // loadtime / hornet / hash-chain: add their rows here when they can sign.
  return rows;
}

// ContentInfo { OID, [0] { SignedData { version, digestAlgorithms SET, ... } } }:
// marks the content octets of the digestAlgorithms SET.
void mark_digest_algorithms(ByteView sig, size_t base, std::vector<std::string>& r) {
  using namespace bpfsig::crypto;
  auto top = ber::read(sig, 0, sig.size());
  auto outer = top ? ber::children(sig, *top) : std::nullopt;
  if (!outer || outer->size() < 2) return;
  auto explicit0 = ber::children(sig, (*outer)[1]);
  if (!explicit0 || explicit0->empty()) return;
  auto signed_data = ber::children(sig, (*explicit0)[0]);
  if (!signed_data || signed_data->size() < 2) return;
  const ber::Tlv& set = (*signed_data)[1];
  for (size_t k = set.content; k < set.content + set.length; ++k) r[base + k] = "signature:digest_algorithms";
  // SignerInfos: the parameters of each AlgorithmIdentifier { OID, parameters } in each SignerInfo.
  auto signer_infos = ber::children(sig, signed_data->back());
  for (const ber::Tlv& si : signer_infos ? *signer_infos : std::vector<ber::Tlv>{}) {
    auto fields = ber::children(sig, si);
    for (const ber::Tlv& f : fields ? *fields : std::vector<ber::Tlv>{}) {
      if (f.tag != 0x30) continue;
      auto parts = ber::children(sig, f);
      if (!parts || parts->size() < 2 || (*parts)[0].tag != 0x06) continue;
      for (size_t i = 1; i < parts->size(); ++i)
        for (size_t k = (*parts)[i].offset; k < (*parts)[i].end; ++k) r[base + k] = "signature:algorithm_parameters";
    }
  }
}

// Which region each byte of an encoded bundle belongs to.
std::vector<std::string> regions_of(const Bytes& b) {
  std::vector<std::string> r(b.size(), "header");
  r[10] = r[11] = "scheme";  // u16 at offset 10 (formats.md)
  uint32_t count = load_le32(&b[12]);
  size_t off = 24;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t type = load_le32(&b[off]), len = load_le32(&b[off + 4]);
    const std::string name = kSectionRegion.at(type);
    for (size_t k = 0; k < 8; ++k) r[off + k] = "framing:" + name;
    size_t body = off + 8, padded = (len + 7) & ~size_t{7};
    for (size_t k = 0; k < padded; ++k) r[body + k] = k < len ? name : "padding";
    if (type == 3) mark_digest_algorithms(ByteView(b).subspan(body, len), body, r);
    off = body + padded;
  }
  return r;
}

std::string base_region(const std::string& r) {
  if (r.rfind("framing:", 0) == 0) return "framing";
  if (r.rfind("signature:", 0) == 0) return "signature";
  return r;
}

struct Outcome {
  bool accepted = false;
  int err = 0;
  bool signed_material_same = false;
};

Outcome try_bundle(const Bytes& bytes, const skel::SignedLoader& original, const std::vector<crypto::Certificate>& trust) {
  Outcome o;
  try {
    skel::SignedLoader l = skel::decode_bundle(bytes, "tampered");
    verify::Report r = verify::verify_loader(l, trust);
    o.err = r.err;
    o.accepted = r.err == 0;
    o.signed_material_same = l.insns == original.insns && l.data == original.data &&
                             l.signature == original.signature && l.excl_hash == original.excl_hash;
  } catch (const Error& e) {
    o.err = e.err();
  }
  return o;
}

struct Tally {
  size_t tried = 0, rejected = 0, accepted_unsigned = 0, accepted_ignored = 0;
};

struct Failure {
  size_t offset;
  int value;
  std::string region;
  Outcome outcome;
};

// One mutation: byte at `offset` becomes `value`.
struct Mutation {
  size_t offset;
  uint8_t value;
};

std::vector<Mutation> mutations_for(const Bytes& b) {
  std::vector<Mutation> m;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b.size() <= kExhaustiveLimit) {
      for (int bit = 0; bit < 8; ++bit) m.push_back({i, static_cast<uint8_t>(b[i] ^ (1u << bit))});
    } else {
      std::set<uint8_t> values = {0x00, 0xff, static_cast<uint8_t>(b[i] ^ 0x80), static_cast<uint8_t>(b[i] + 1)};
      values.erase(b[i]);
      for (uint8_t v : values) m.push_back({i, v});
    }
  }
  return m;
}

void tamper_one(const SchemeRow& row, const std::string& example) {
  const std::string object = test::examples_dir() + "/" + example + ".bpf.o";
  skel::SignedLoader original = row.sign(object);
  const Bytes bundle = skel::encode_bundle(original);
  const std::vector<crypto::Certificate> trust = test::default_signer().trust();
  ASSERT_EQ(try_bundle(bundle, original, trust).err, 0) << "the untouched bundle must verify";

  const std::vector<std::string> region = regions_of(bundle);
  const std::vector<Mutation> all = mutations_for(bundle);
  std::map<std::string, Tally> tally;
  std::vector<Failure> failures;
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    Bytes work = bundle;
    std::map<std::string, Tally> local;
    std::vector<Failure> bad;
    for (size_t i; (i = next.fetch_add(1)) < all.size();) {
      const Mutation m = all[i];
      work[m.offset] = m.value;
      Outcome o = try_bundle(work, original, trust);
      work[m.offset] = bundle[m.offset];
      const std::string& r = region[m.offset];
      Tally& t = local[r];
      ++t.tried;
      if (o.accepted) {
        if (row.unsigned_regions.count(r) && o.signed_material_same)
          ++t.accepted_unsigned;
        else if (row.kernel_ignored_regions.count(r))
          ++t.accepted_ignored;
        else
          bad.push_back({m.offset, m.value, r, o});
      } else if (row.expected.at(base_region(r)).count(o.err)) {
        ++t.rejected;
      } else {
        bad.push_back({m.offset, m.value, r, o});
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [r, t] : local) {
      tally[r].tried += t.tried;
      tally[r].rejected += t.rejected;
      tally[r].accepted_unsigned += t.accepted_unsigned;
      tally[r].accepted_ignored += t.accepted_ignored;
    }
    failures.insert(failures.end(), bad.begin(), bad.end());
  };
  const auto start = std::chrono::steady_clock::now();
  unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  size_t tried = 0, rejected = 0, unsigned_ok = 0, ignored = 0;
  std::printf("[tamper] %s %s: %zu bytes, %zu mutations (%s), %.1f s on %u threads\n", row.name.c_str(),
              example.c_str(), bundle.size(), all.size(),
              bundle.size() <= kExhaustiveLimit ? "every bit" : "4 values per byte", secs, n);
  std::printf("[tamper]   %-28s %8s %8s %19s %24s\n", "region", "tried", "rejected", "accepted(unsigned)",
              "accepted(kernel-ignored)");
  for (const auto& [r, t] : tally) {
    std::printf("[tamper]   %-28s %8zu %8zu %19zu %24zu\n", r.c_str(), t.tried, t.rejected, t.accepted_unsigned,
                t.accepted_ignored);
    tried += t.tried;
    rejected += t.rejected;
    unsigned_ok += t.accepted_unsigned;
    ignored += t.accepted_ignored;
  }
  std::printf("[tamper]   %-28s %8zu %8zu %19zu %24zu\n", "total", tried, rejected, unsigned_ok, ignored);
  EXPECT_EQ(tried, all.size());
  std::map<std::string, int> shown;
  for (const Failure& f : failures) {
    if (++shown[f.region] > 5) continue;
    ADD_FAILURE() << row.name << " " << example << ": byte " << f.offset << " (" << f.region << ") set to 0x" << std::hex
                  << f.value << std::dec << ": " << (f.outcome.accepted ? "ACCEPTED" : "rejected with ")
                  << (f.outcome.accepted ? "" : errno_name(f.outcome.err))
                  << (f.outcome.accepted && !f.outcome.signed_material_same ? " with changed signed material" : "");
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " mutations were accepted or got the wrong errno";
  // Every signed region saw every one of its mutations rejected.
  for (const auto& [r, t] : tally)
    if (!row.unsigned_regions.count(r) && !row.kernel_ignored_regions.count(r)) {
      EXPECT_EQ(t.rejected, t.tried) << r;
    }
}

class Tamper : public ::testing::TestWithParam<std::tuple<size_t, std::string>> {};

TEST_P(Tamper, EveryChangeIsRejectedWithItsRegionsErrno) {
  const auto& [scheme_index, example] = GetParam();
  tamper_one(schemes()[scheme_index], example);
}

std::vector<size_t> scheme_indexes() {
  std::vector<size_t> v;
  for (size_t i = 0; i < schemes().size(); ++i) v.push_back(i);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Bundles, Tamper,
                         ::testing::Combine(::testing::ValuesIn(scheme_indexes()),
                                            ::testing::Values(std::string("execcount"), std::string("multimap"),
                                                              std::string("xdpfilter"))),
                         [](const auto& info) {
                           return schemes()[std::get<0>(info.param)].name.substr(0, 6) + "_" + std::get<1>(info.param);
                         });

}  // namespace

// Regressions of what the tamper test found, as single cases.
TEST(TamperRegression, PrimitiveSetInTheSignatureIsRefusedAsTheKernelDoes) {
  test::TestSigner& s = test::default_signer();
  skel::SignedLoader l =
      skel::sign_object(test::examples_dir() + "/execcount.bpf.o", s.cert.get(), s.key.get(), skel::SignOptions{});
  // ContentInfo SEQ(4-byte header) OID(11) [0](4) SignedData SEQ(4) version(3): digestAlgorithms SET at 26.
  ASSERT_EQ(l.signature[26], 0x31);
  l.signature[26] = 0x11;
  verify::Report r = verify::verify_loader(l, s.trust());
  EXPECT_EQ(r.err, EBADMSG) << r.kind << ": " << r.message;
}

TEST(TamperRegression, SkeletonNameWithANulIsRefused) {
  test::TestSigner& s = test::default_signer();
  skel::SignedLoader l =
      skel::sign_object(test::examples_dir() + "/execcount.bpf.o", s.cert.get(), s.key.get(), skel::SignOptions{});
  l.name.push_back('\0');
  try {
    skel::decode_bundle(skel::encode_bundle(l), "nul-name");
    FAIL() << "a NUL in the name was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EBADMSG);
    EXPECT_EQ(e.kind(), "bundle_format");
  }
}
