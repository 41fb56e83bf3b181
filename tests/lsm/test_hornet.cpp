// SPDX-License-Identifier: Apache-2.0
// The Hornet LSM in the LSM model, driven directly with a fake kernel: every
// verdict, the publish-time map check, kernel loads, the map limit, and the
// differences between the final design and v7.
#include <gtest/gtest.h>

#include <openssl/cms.h>

#include <cerrno>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/hornet.h"
#include "bpfsig/lsm.h"
#include "support/signer.h"

namespace bpfsig::lsm {
namespace {

constexpr int kBpfProgRun = 10;
constexpr int32_t kUserKeyring = 5000;

Sha256 to_sha(const crypto::Digest& d) { return Sha256(d); }
Bytes bytes_of(const Sha256& s) { return Bytes(s.begin(), s.end()); }

struct FakeKernel : KernelServices {
  std::map<int32_t, std::vector<Bytes>> keyrings;
  std::map<int32_t, MapView> fds;           // map fds of the current task
  std::map<uint32_t, Bytes> contents;       // map id -> value bytes (hash = sha256_padded8)
  std::map<int32_t, ProgView*> progs;

  std::optional<std::vector<Bytes>> keyring_certs(int32_t id) override {
    auto it = keyrings.find(id);
    if (it != keyrings.end()) return it->second;
    if (id >= 0 && id <= 2) return std::vector<Bytes>{};
    return std::nullopt;
  }
  std::optional<Sha256> map_hash(uint32_t id) override {
    auto it = contents.find(id);
    if (it == contents.end()) return std::nullopt;
    return to_sha(crypto::sha256_padded8(it->second));
  }
  std::optional<MapView> map_by_fd(int32_t fd) override {
    auto it = fds.find(fd);
    if (it == fds.end()) return std::nullopt;
    MapView v = it->second;
    v.hash = map_hash(v.id);
    return v;
  }
  ProgView* prog_by_fd(int32_t fd, int* err) override {
    auto it = progs.find(fd);
    if (it == progs.end()) {
      *err = EBADF;
      return nullptr;
    }
    return it->second;
  }
  // A frozen one-entry ARRAY map at fd with id and value.
  MapView add_map(int32_t fd, uint32_t id, Bytes value, bool frozen = true) {
    MapView v{id, 2, "m" + std::to_string(id), static_cast<uint32_t>(value.size()), 1, frozen, std::nullopt};
    contents[id] = std::move(value);
    fds[fd] = v;
    return v;
  }
};

// Records every verdict reported through post_integrity.
class Recorder : public Lsm {
 public:
  Recorder() : Lsm({"recorder", LsmId::kUndef}, hook_bit(Hook::kBpfProgLoadPostIntegrity)) {}
  int bpf_prog_load_post_integrity(ProgView&, const ProgLoadAttr&, const Token*, bool, const LsmIdent& reporter,
                                   IntegrityVerdict verdict) override {
    verdicts.push_back(verdict);
    reporters.push_back(reporter.name);
    return 0;
  }
  std::vector<IntegrityVerdict> verdicts;
  std::vector<std::string> reporters;
};

const Bytes kInsns = [] {
  Bytes b(16, 0);
  b[0] = 0xb7;  // r0 = 0
  b[8] = 0x95;  // exit
  return b;
}();
const Bytes kMeta(40, 0x42);
const Bytes kOther(40, 0x43);

Bytes cert_der() { return crypto::certificate_der(test::default_signer().cert.get()); }
Bytes meta_hash() { return bytes_of(to_sha(crypto::sha256_padded8(kMeta))); }

Bytes hornet_sig(std::vector<crypto::HornetMapHash> maps, crypto::HornetFormat format = crypto::HornetFormat::kFinal,
                 ByteView content = kInsns) {
  const auto& s = test::default_signer();
  return crypto::sign_hornet(content, maps, format, s.cert.get(), s.key.get());
}

// A gen_sig-style CMS whose Hornet attribute value is the given DER, for
// values sign_hornet refuses to write (too many maps, bad hash sizes).
Bytes sign_raw_value(const Bytes& value) {
  const auto& s = test::default_signer();
  CMS_ContentInfo* cms = CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED);
  CMS_SignerInfo* si = CMS_add1_signer(cms, s.cert.get(), s.key.get(), EVP_sha256(),
                                       CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_DETACHED);
  EXPECT_EQ(CMS_signed_add1_attr_by_txt(si, crypto::kHornetAttributeOid, V_ASN1_SEQUENCE, value.data(),
                                        static_cast<int>(value.size())), 1);
  BIO* in = BIO_new_mem_buf(kInsns.data(), static_cast<int>(kInsns.size()));
  EXPECT_EQ(CMS_final(cms, in, nullptr, CMS_NOCERTS | CMS_BINARY), 1);
  unsigned char* der = nullptr;
  int len = i2d_CMS_ContentInfo(cms, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  BIO_free(in);
  CMS_ContentInfo_free(cms);
  return out;
}

// DER SEQUENCE { SET { n x SEQUENCE { OCTET STRING (sha_len bytes) } } }, lengths < 65536.
Bytes raw_final_value(size_t n, size_t sha_len) {
  auto tl = [](uint8_t tag, size_t len) {
    Bytes h(len < 128 ? 2 : 4);
    h[0] = tag;
    if (len < 128) {
      h[1] = static_cast<uint8_t>(len);
    } else {
      h[1] = 0x82;
      h[2] = static_cast<uint8_t>(len >> 8);
      h[3] = static_cast<uint8_t>(len);
    }
    return h;
  };
  Bytes map = tl(0x30, 2 + sha_len);
  Bytes os = tl(0x04, sha_len);
  map.insert(map.end(), os.begin(), os.end());
  map.insert(map.end(), sha_len, 0x11);
  Bytes set_content;
  for (size_t i = 0; i < n; ++i) set_content.insert(set_content.end(), map.begin(), map.end());
  Bytes set = tl(0x31, set_content.size());
  set.insert(set.end(), set_content.begin(), set_content.end());
  Bytes seq = tl(0x30, set.size());
  seq.insert(seq.end(), set.begin(), set.end());
  return seq;
}

struct Fixture {
  explicit Fixture(HornetDesign design = HornetDesign::kFinal) {
    hornet = static_cast<HornetLsm*>(&stack.add(std::make_unique<HornetLsm>(HornetOptions{design})));
    recorder = static_cast<Recorder*>(&stack.add(std::make_unique<Recorder>()));
    stack.set_kernel_services(&kernel);
    kernel.keyrings[0] = {cert_der()};
  }
  int load(ProgView& prog, ProgLoadAttr attr, bool kernel_load = false) {
    prog.insns = kInsns;
    attr.insn_cnt = 2;
    return stack.security_bpf_prog_load(prog, attr, nullptr, kernel_load);
  }
  IntegrityVerdict verdict_of(std::optional<Bytes> sig, int32_t keyring = 0) {
    ProgView prog;
    ProgLoadAttr attr;
    attr.signature = std::move(sig);
    attr.keyring_id = keyring;
    EXPECT_EQ(load(prog, attr), 0);
    EXPECT_FALSE(recorder->verdicts.empty());
    IntegrityVerdict v = recorder->verdicts.back();
    stack.security_bpf_prog_free(prog);
    return v;
  }
  FakeKernel kernel;
  LsmStack stack;
  HornetLsm* hornet;
  Recorder* recorder;
};

TEST(Hornet, RegisteredWithItsId) {
  LsmStack stack("hornet", builtin_registry());
  ASSERT_EQ(stack.lsms().size(), 2u);
  EXPECT_EQ(stack.lsms()[1]->name(), "hornet");
  EXPECT_EQ(stack.lsms()[1]->ident().id, LsmId::kHornet);
  EXPECT_EQ(static_cast<int>(stack.lsms()[1]->ident().id), 114);
  EXPECT_TRUE(stack.lsms()[1]->implements(Hook::kBpfProg));
  EXPECT_FALSE(stack.lsms()[1]->implements(Hook::kBpf));
  HornetLsm v7(HornetOptions{HornetDesign::kV7});
  EXPECT_TRUE(v7.implements(Hook::kBpf));
  EXPECT_FALSE(v7.implements(Hook::kBpfProg));
}

TEST(Hornet, EveryFinalVerdictIsReported) {
  Fixture f;
  f.kernel.keyrings[kUserKeyring] = {cert_der()};
  const Bytes good = hornet_sig({{0, meta_hash()}});
  EXPECT_EQ(f.verdict_of(std::nullopt), IntegrityVerdict::kUnsigned);
  EXPECT_EQ(f.verdict_of(Bytes{}), IntegrityVerdict::kBadSig);
  // Unparsable comes before the keyring lookup: BADSIG even with a missing keyring.
  EXPECT_EQ(f.verdict_of(Bytes{1, 2, 3}, 777), IntegrityVerdict::kBadSig);
  EXPECT_EQ(f.verdict_of(good, 777), IntegrityVerdict::kUnknownKey);
  EXPECT_EQ(f.verdict_of(good, 2), IntegrityVerdict::kBadSig);  // platform keyring: exists, lacks the key
  EXPECT_EQ(f.verdict_of(good, kUserKeyring), IntegrityVerdict::kOk);
  EXPECT_EQ(f.verdict_of(good, 0), IntegrityVerdict::kOk);
  const auto& s = test::default_signer();
  EXPECT_EQ(f.verdict_of(crypto::sign_bpftool(kInsns, s.cert.get(), s.key.get())), IntegrityVerdict::kPartialSig);
  EXPECT_EQ(f.verdict_of(hornet_sig({{0, meta_hash()}}, crypto::HornetFormat::kFinal, Bytes(16, 9))),
            IntegrityVerdict::kBadSig);  // signed other instructions
  EXPECT_EQ(f.verdict_of(sign_raw_value(raw_final_value(1, 20))), IntegrityVerdict::kBadSig);  // 20-byte hash
  EXPECT_EQ(f.verdict_of(sign_raw_value(Bytes{0x30, 0x03, 0x02, 0x01, 0x05})), IntegrityVerdict::kBadSig);
  for (const auto& name : f.recorder->reporters) EXPECT_EQ(name, "hornet");
}

TEST(Hornet, MapLimit64) {
  Fixture f;
  EXPECT_EQ(f.verdict_of(sign_raw_value(raw_final_value(64, 32))), IntegrityVerdict::kOk);
  EXPECT_EQ(f.verdict_of(sign_raw_value(raw_final_value(65, 32))), IntegrityVerdict::kBadSig);
  // v7 counts `++hash_count >= 64`: 64 maps are already too many there.
  Fixture v7(HornetDesign::kV7);
  std::vector<crypto::HornetMapHash> maps(63, crypto::HornetMapHash{0, {}});
  EXPECT_EQ(v7.verdict_of(hornet_sig(maps, crypto::HornetFormat::kV7)), IntegrityVerdict::kOk);
  maps.push_back({0, {}});
  EXPECT_EQ(v7.verdict_of(hornet_sig(maps, crypto::HornetFormat::kV7)), IntegrityVerdict::kBadSig);
}

TEST(Hornet, FinalPublishChecksEverySignedHashAgainstFrozenUsedMaps) {
  Fixture f;
  ProgView prog;
  ProgLoadAttr attr;
  attr.signature = hornet_sig({{0, meta_hash()}});
  ASSERT_EQ(f.load(prog, attr), 0);
  ASSERT_NE(f.hornet->hornet_blob(prog), nullptr);
  ASSERT_EQ(f.hornet->hornet_blob(prog)->signed_hashes.size(), 1u);
  EXPECT_EQ(f.hornet->hornet_blob(prog)->verdict, IntegrityVerdict::kOk);

  // The verifier fills used_maps: the signed metadata map, frozen.
  prog.used_maps = {f.kernel.add_map(3, 10, kMeta)};
  EXPECT_EQ(f.stack.security_bpf_prog(prog), 0);
  // Changed after signing (the model's map now holds other bytes): EPERM.
  f.kernel.contents[10] = kOther;
  EXPECT_EQ(f.stack.security_bpf_prog(prog), -EPERM);
  // Swapped for another map with the same contents: Hornet binds contents, not identity.
  prog.used_maps = {f.kernel.add_map(4, 11, kMeta)};
  EXPECT_EQ(f.stack.security_bpf_prog(prog), 0);
  // The right contents but not frozen: EPERM.
  prog.used_maps = {f.kernel.add_map(5, 12, kMeta, /*frozen=*/false)};
  EXPECT_EQ(f.stack.security_bpf_prog(prog), -EPERM);
  // No map at all: EPERM.
  prog.used_maps.clear();
  EXPECT_EQ(f.stack.security_bpf_prog(prog), -EPERM);
  // Extra frozen maps the signature does not name are fine in the final design.
  prog.used_maps = {f.kernel.add_map(6, 13, kOther), f.kernel.add_map(7, 14, kMeta)};
  EXPECT_EQ(f.stack.security_bpf_prog(prog), 0);
  f.stack.security_bpf_prog_free(prog);
}

TEST(Hornet, FinalStoresAnEmptyHashAsZeros) {
  Fixture f;
  ProgView prog;
  ProgLoadAttr attr;
  attr.signature = hornet_sig({{0, {}}});
  ASSERT_EQ(f.load(prog, attr), 0);
  EXPECT_EQ(f.recorder->verdicts.back(), IntegrityVerdict::kOk);
  ASSERT_EQ(f.hornet->hornet_blob(prog)->signed_hashes.size(), 1u);
  EXPECT_EQ(f.hornet->hornet_blob(prog)->signed_hashes[0], Sha256{});
  prog.used_maps = {f.kernel.add_map(3, 10, kMeta)};
  EXPECT_EQ(f.stack.security_bpf_prog(prog), -EPERM);  // no map hashes to zeros
  f.stack.security_bpf_prog_free(prog);
}

TEST(Hornet, KernelLoadsCarryNoSignatureAndPassThePublishCheck) {
  Fixture f;
  ProgView prog;
  ASSERT_EQ(f.load(prog, ProgLoadAttr{}, /*kernel=*/true), 0);
  EXPECT_EQ(f.recorder->verdicts.back(), IntegrityVerdict::kUnsigned);
  prog.used_maps = {f.kernel.add_map(3, 10, kOther, /*frozen=*/false)};
  EXPECT_EQ(f.stack.security_bpf_prog(prog), 0);
  f.stack.security_bpf_prog_free(prog);
}

TEST(Hornet, DesignsDecodeOnlyTheirOwnFormat) {
  Fixture final_design;
  Fixture v7(HornetDesign::kV7);
  v7.kernel.add_map(3, 10, kMeta);
  EXPECT_EQ(final_design.verdict_of(hornet_sig({{0, meta_hash()}}, crypto::HornetFormat::kV7)), IntegrityVerdict::kBadSig);
  EXPECT_EQ(v7.verdict_of(hornet_sig({{0, meta_hash()}}, crypto::HornetFormat::kFinal)), IntegrityVerdict::kBadSig);
  // An empty set reads the same in both.
  EXPECT_EQ(final_design.verdict_of(hornet_sig({})), IntegrityVerdict::kOk);
  EXPECT_EQ(v7.verdict_of(hornet_sig({}, crypto::HornetFormat::kV7)), IntegrityVerdict::kOk);
}

TEST(Hornet, V7ChecksFdArrayAtLoad) {
  Fixture f(HornetDesign::kV7);
  f.kernel.add_map(3, 10, kMeta);
  f.kernel.add_map(4, 11, kOther);
  f.kernel.add_map(5, 12, kMeta, /*frozen=*/false);
  auto verdict = [&](std::vector<int32_t> fd_array, std::vector<crypto::HornetMapHash> maps) {
    ProgView prog;
    ProgLoadAttr attr;
    attr.signature = hornet_sig(maps, crypto::HornetFormat::kV7);
    attr.fd_array = fd_array;
    EXPECT_EQ(f.load(prog, attr), 0);
    auto kind = f.hornet->hornet_blob(prog)->kind;
    f.stack.security_bpf_prog_free(prog);
    return std::make_pair(f.recorder->verdicts.back(), kind);
  };
  EXPECT_EQ(verdict({3}, {{0, meta_hash()}}).first, IntegrityVerdict::kOk);
  EXPECT_EQ(verdict({4, 3}, {{1, meta_hash()}}).first, IntegrityVerdict::kOk);
  auto mismatch = verdict({4}, {{0, meta_hash()}});
  EXPECT_EQ(mismatch.first, IntegrityVerdict::kUnexpected);
  EXPECT_EQ(mismatch.second, "map_hash_mismatch");
  EXPECT_EQ(verdict({5}, {{0, meta_hash()}}).first, IntegrityVerdict::kFault);   // not frozen
  EXPECT_EQ(verdict({3}, {{1, meta_hash()}}).first, IntegrityVerdict::kFault);   // slot past fd_array
  EXPECT_EQ(verdict({99}, {{0, meta_hash()}}).first, IntegrityVerdict::kFault);  // not a map
  EXPECT_EQ(verdict({99}, {{0, {}}}).first, IntegrityVerdict::kOk);              // empty hash: skipped
}

TEST(Hornet, V7RechecksUsedMapsAtProgRun) {
  Fixture f(HornetDesign::kV7);
  MapView meta = f.kernel.add_map(3, 10, kMeta);
  MapView other = f.kernel.add_map(4, 11, kOther);
  ProgView prog;
  ProgLoadAttr attr;
  attr.signature = hornet_sig({{0, meta_hash()}}, crypto::HornetFormat::kV7);
  attr.fd_array = {3};
  ASSERT_EQ(f.load(prog, attr), 0);
  ASSERT_EQ(f.recorder->verdicts.back(), IntegrityVerdict::kOk);
  EXPECT_EQ(f.stack.security_bpf_prog(prog), 0);  // v7 has no publish check
  prog.used_maps = {meta};
  f.kernel.progs[9] = &prog;
  uint8_t run_attr[4];
  store_le32(run_attr, 9);
  EXPECT_EQ(f.stack.security_bpf(kBpfProgRun, ByteView(run_attr, 4), 4, false), 0);
  // An extra frozen map the signature does not cover: v7 refuses the run (the final design would not care).
  prog.used_maps = {meta, other};
  EXPECT_EQ(f.stack.security_bpf(kBpfProgRun, ByteView(run_attr, 4), 4, false), -EPERM);
  EXPECT_EQ(f.stack.security_bpf(kBpfProgRun, ByteView(run_attr, 4), 4, /*kernel=*/true), 0);  // kernel: bypass
  // The signed map changed: not covered any more.
  prog.used_maps = {meta};
  f.kernel.contents[10] = kOther;
  EXPECT_EQ(f.stack.security_bpf(kBpfProgRun, ByteView(run_attr, 4), 4, false), -EPERM);
  uint8_t bad_fd[4];
  store_le32(bad_fd, 77);
  EXPECT_EQ(f.stack.security_bpf(kBpfProgRun, ByteView(bad_fd, 4), 4, false), -EBADF);
  EXPECT_EQ(f.stack.security_bpf(5 /* BPF_PROG_LOAD */, ByteView(bad_fd, 4), 4, false), 0);
  f.stack.security_bpf_prog_free(prog);
}

TEST(Hornet, BlobsAreFreed) {
  Fixture f;
  EXPECT_EQ(f.hornet->live_blobs(), 0u);
  {
    ProgView a, b;
    ProgLoadAttr attr;
    attr.signature = hornet_sig({{0, meta_hash()}});
    ASSERT_EQ(f.load(a, attr), 0);
    ASSERT_EQ(f.load(b, ProgLoadAttr{}), 0);
    EXPECT_EQ(f.hornet->live_blobs(), 2u);
    f.stack.security_bpf_prog_free(a);
    EXPECT_EQ(f.hornet->live_blobs(), 1u);
    EXPECT_EQ(f.hornet->hornet_blob(a), nullptr);
    f.stack.security_bpf_prog_free(b);
  }
  EXPECT_EQ(f.hornet->live_blobs(), 0u);
  // A load an LSM refuses frees the blobs at once.
  f.stack.add(std::make_unique<SignedOnlyLsm>());
  ProgView c;
  EXPECT_EQ(f.load(c, ProgLoadAttr{}), -EPERM);
  EXPECT_EQ(f.hornet->live_blobs(), 0u);
}

TEST(Hornet, OfflineCheckMatchesTheLsm) {
  const Bytes sig = hornet_sig({{0, meta_hash()}});
  HornetSigCheck c = hornet_check_signature(kInsns, sig, std::vector<Bytes>{cert_der()}, HornetDesign::kFinal);
  EXPECT_EQ(c.verdict, IntegrityVerdict::kOk);
  EXPECT_EQ(c.kind, "ok");
  ASSERT_TRUE(c.attribute);
  EXPECT_EQ(c.attribute->maps[0].sha, meta_hash());
  c = hornet_check_signature(kInsns, sig, std::nullopt, HornetDesign::kFinal);
  EXPECT_EQ(c.verdict, IntegrityVerdict::kUnknownKey);
  c = hornet_check_signature(kInsns, sig, std::vector<Bytes>{}, HornetDesign::kFinal);
  EXPECT_EQ(c.verdict, IntegrityVerdict::kBadSig);
  EXPECT_EQ(c.signature.err, ENOKEY);
}

}  // namespace
}  // namespace bpfsig::lsm
