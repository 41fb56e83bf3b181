// SPDX-License-Identifier: Apache-2.0
// Exhaustive tamper test: every bit of every byte of each example bundle of
// each signing scheme is flipped (for bundles over 64 KiB, every byte is set
// to a few values instead), and the result is decoded and verified as
// `bpfsig verify` does. Every change must be rejected, with the errno class
// of the region it hit: the kernel's errno where the kernel would notice, and
// the seal's (EKEYREJECTED, kind bundle_seal) where only the seal does (the
// names, the embedded certificate, the parts of the PKCS#7 the kernel never
// reads). Table-driven over schemes: a new scheme is a new row.
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
#include "support/sign_options.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

constexpr size_t kExhaustiveLimit = 64 * 1024;

// The bundle's section types (docs/formats.md section 1).
const std::map<uint32_t, std::string> kSectionRegion = {
    {1, "insns"},       {2, "metadata"},    {3, "signature"},  {4, "excl_hash"},      {5, "name"},
    {6, "map_names"},   {7, "prog_names"},  {8, "signer_cert"}, {9, "signature_maps"}, {10, "seal"},
};

struct SchemeRow {
  skel::Scheme scheme;
  // region -> the errnos a change there may be rejected with
  std::map<std::string, std::set<int>> expected;
};

// Framing: a broken header or section header (EBADMSG, EINVAL), or a section
// turned into a skipped extension by bit 31 of its type, whose bytes the seal
// still covers (EKEYREJECTED).
const std::set<int> kFraming = {EBADMSG, EINVAL, EKEYREJECTED};
// What crypto::verify_kernel_rules may answer (the kernel's PKCS#7 errnos).
const std::set<int> kKernelSig = {EBADMSG, EKEYREJECTED, ENOKEY, ENOPKG, EINVAL};
// Format errors (a NUL in a name, a broken certificate length) or the seal.
const std::set<int> kSealed = {EBADMSG, EKEYREJECTED};

// What every scheme shares: the framing, and the regions only the seal covers.
std::map<std::string, std::set<int>> common_expectations() {
  return {{"header", kFraming},
          // The scheme field: another known scheme makes verify apply that
          // scheme's rules, which this signature fails (another signed
          // content: EKEYREJECTED; SIGNATURE_MAPS present or missing:
          // EBADMSG; hornet's signature read as a plain one: no hash-match
          // block, PARTIALSIG EPERM; the others read as hornet: no attribute,
          // PARTIALSIG EPERM).
          {"scheme", {EBADMSG, EINVAL, EKEYREJECTED, EPERM}},
          {"framing", kFraming},
          {"padding", {EBADMSG}},
          {"excl_hash", {EACCES}},
          {"name", kSealed},
          {"map_names", kSealed},
          {"prog_names", kSealed},
          // A changed key (another curve OID) makes a certificate add_key
          // refuses (ENOPKG), which `load --keyring own` meets first.
          {"signer_cert", {EBADMSG, EKEYREJECTED, ENOPKG}},
          {"seal", {EKEYREJECTED}}};
}

SchemeRow row(skel::Scheme scheme, std::map<std::string, std::set<int>> own) {
  SchemeRow r{scheme, common_expectations()};
  for (auto& [region, errnos] : own) r.expected[region] = errnos;
  return r;
}

std::vector<SchemeRow> schemes() {
  return {
      // The signature covers the instructions; the hash-match block the metadata (the loader returns -EINVAL).
      row(skel::Scheme::kLoaderHash,
          {{"insns", {EKEYREJECTED, EBADMSG}}, {"metadata", {EINVAL}}, {"signature", kKernelSig}}),
      // The signature covers insns || metadata, checked at load.
      row(skel::Scheme::kLoadtime,
          {{"insns", {EKEYREJECTED, EBADMSG}}, {"metadata", {EKEYREJECTED}}, {"signature", kKernelSig}}),
      // Hornet: the signature covers the instructions and, in a signed
      // attribute, the metadata map's hash, which the publish check compares
      // (EPERM). A signature whose attribute no longer parses is PARTIALSIG
      // (EPERM) too.
      row(skel::Scheme::kHornet, {{"insns", {EKEYREJECTED, EBADMSG}},
                                  {"metadata", {EPERM}},
                                  {"signature", {EBADMSG, EKEYREJECTED, ENOKEY, ENOPKG, EINVAL, EPERM}}}),
      // The chained hash over the signature_maps, checked at load; an index
      // past the one-entry fd_array faults (EFAULT), as the kernel's copy does.
      row(skel::Scheme::kHashChain, {{"insns", {EKEYREJECTED, EBADMSG}},
                                     {"metadata", {EKEYREJECTED}},
                                     {"signature", kKernelSig},
                                     {"signature_maps", {EFAULT, EKEYREJECTED, EBADMSG, E2BIG}}}),
  };
}

skel::SignedLoader sign(skel::Scheme scheme, const std::string& object) {
  test::TestSigner& s = test::default_signer();
  skel::SignOptions opts;
  opts.scheme = scheme;
  return skel::sign_object(object, s.cert.get(), s.key.get(), opts);
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
  std::string kind;
};

Outcome try_bundle(const Bytes& bytes, const std::vector<crypto::Certificate>& trust) {
  Outcome o;
  try {
    skel::SignedLoader l = skel::decode_bundle(bytes, "tampered");
    verify::Report r = verify::verify_loader(l, trust);
    o.err = r.err;
    o.kind = r.kind;
    o.accepted = r.err == 0;
  } catch (const Error& e) {
    o.err = e.err();
    o.kind = e.kind();
  }
  return o;
}

struct Tally {
  size_t tried = 0, rejected = 0, by_seal = 0;
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

// Under ASan + UBSan (BPFSIG_SANITIZED_BUILD) each verify is about eight
// times slower, and every bit of every bundle would cost CI some 13 minutes:
// there every byte still changes, by one bit that rotates with the offset.
// The normal build tries every bit.
#ifdef BPFSIG_SANITIZED_BUILD
constexpr bool kEveryBit = false;
#else
constexpr bool kEveryBit = true;
#endif

std::vector<Mutation> mutations_for(const Bytes& b) {
  std::vector<Mutation> m;
  for (size_t i = 0; i < b.size(); ++i) {
    if (b.size() <= kExhaustiveLimit && !kEveryBit) {
      m.push_back({i, static_cast<uint8_t>(b[i] ^ (1u << (i % 8)))});
    } else if (b.size() <= kExhaustiveLimit) {
      for (int bit = 0; bit < 8; ++bit) m.push_back({i, static_cast<uint8_t>(b[i] ^ (1u << bit))});
    } else {
      std::set<uint8_t> values = {0x00, 0xff, static_cast<uint8_t>(b[i] ^ 0x80), static_cast<uint8_t>(b[i] + 1)};
      values.erase(b[i]);
      for (uint8_t v : values) m.push_back({i, v});
    }
  }
  return m;
}

struct Results {
  std::map<std::string, Tally> tally;
  std::vector<Failure> failures;
};

// Applies every mutation on a few threads, each on its own copy.
Results run_mutations(const SchemeRow& row, const Bytes& bundle, const std::vector<Mutation>& all,
                      const std::vector<std::string>& region, const std::vector<crypto::Certificate>& trust) {
  Results out;
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    Bytes work = bundle;
    Results local;
    for (size_t i; (i = next.fetch_add(1)) < all.size();) {
      const Mutation m = all[i];
      work[m.offset] = m.value;
      Outcome o = try_bundle(work, trust);
      work[m.offset] = bundle[m.offset];
      const std::string& r = region[m.offset];
      Tally& t = local.tally[r];
      ++t.tried;
      if (!o.accepted && row.expected.at(base_region(r)).count(o.err)) {
        ++t.rejected;
        t.by_seal += o.kind == "bundle_seal";
      } else {
        local.failures.push_back({m.offset, m.value, r, o});
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [r, t] : local.tally) {
      out.tally[r].tried += t.tried;
      out.tally[r].rejected += t.rejected;
      out.tally[r].by_seal += t.by_seal;
    }
    out.failures.insert(out.failures.end(), local.failures.begin(), local.failures.end());
  };
  unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned k = 0; k < n; ++k) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return out;
}

void tamper_one(const SchemeRow& row, const std::string& example) {
  const std::string name = skel::scheme_name(row.scheme);
  const skel::SignedLoader original = sign(row.scheme, test::examples_dir() + "/" + example + ".bpf.o");
  const Bytes bundle = skel::encode_bundle(original);
  const std::vector<crypto::Certificate> trust = test::default_signer().trust();
  ASSERT_EQ(try_bundle(bundle, trust).err, 0) << "the untouched bundle must verify";

  const std::vector<Mutation> all = mutations_for(bundle);
  const auto start = std::chrono::steady_clock::now();
  Results res = run_mutations(row, bundle, all, regions_of(bundle), trust);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("[tamper] %s %s: %zu bytes, %zu mutations (%s), %.1f s\n", name.c_str(), example.c_str(),
              bundle.size(), all.size(), bundle.size() > kExhaustiveLimit ? "4 values per byte" : kEveryBit ? "every bit" : "one bit per byte", secs);
  std::printf("[tamper]   %-30s %8s %8s %14s\n", "region", "tried", "rejected", "(by the seal)");
  Tally total;
  for (const auto& [r, t] : res.tally) {
    std::printf("[tamper]   %-30s %8zu %8zu %14zu\n", r.c_str(), t.tried, t.rejected, t.by_seal);
    total.tried += t.tried;
    total.rejected += t.rejected;
    total.by_seal += t.by_seal;
  }
  std::printf("[tamper]   %-30s %8zu %8zu %14zu\n", "total", total.tried, total.rejected, total.by_seal);
  EXPECT_EQ(total.tried, all.size());
  EXPECT_EQ(total.rejected, total.tried) << "every change must be rejected with its region's errno";
  std::map<std::string, int> shown;
  for (const Failure& f : res.failures) {
    if (++shown[f.region] > 5) continue;
    ADD_FAILURE() << name << " " << example << ": byte " << f.offset << " (" << f.region << ") set to 0x" << std::hex
                  << f.value << std::dec << ": "
                  << (f.outcome.accepted ? std::string("ACCEPTED")
                                         : "rejected with " + errno_name(f.outcome.err) + " (" + f.outcome.kind + ")");
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
                           std::string scheme = skel::scheme_name(schemes()[std::get<0>(info.param)].scheme);
                           std::replace(scheme.begin(), scheme.end(), '-', '_');
                           return scheme + "_" + std::get<1>(info.param);
                         });

}  // namespace

// Regressions of what the tamper test found, as single cases.
TEST(TamperRegression, PrimitiveSetInTheSignatureIsRefusedAsTheKernelDoes) {
  test::TestSigner& s = test::default_signer();
  skel::SignedLoader l =
      skel::sign_object(test::examples_dir() + "/execcount.bpf.o", s.cert.get(), s.key.get(), test::loader_hash_excl());
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
