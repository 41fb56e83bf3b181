// SPDX-License-Identifier: Apache-2.0
// The `hash-chain` kernel profile ("BPF signature hash chains", bpf-next v2,
// Sep 2025, not merged): with signature_maps the signature covers
// sha256(sha256(insns) || h(0)), checked where 6.18 checks signatures, before
// security_bpf_prog_load. And what the other profiles make of each scheme.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "bpfsig/skel.h"
#include "kmodel/kmodel_test_util.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

using test::errno_of;
using test::kExamples;

const skel::SignedLoader& chain_example(const std::string& name) {
  return test::scheme_example(name, skel::Scheme::kHashChain);
}
const skel::SignedLoader& loadtime_example(const std::string& name) {
  return test::scheme_example(name, skel::Scheme::kLoadtime);
}

Bytes signer_cert_der() { return crypto::certificate_der(test::default_signer().cert.get()); }

// The chain written out by hand from the series' comments, without
// skel::hash_chain_value: sha256 over the map value padded to 8 bytes (one
// entry), h(last) = that, h(i) = sha256(h(i+1) || sha256(map i)), then
// sha256(sha256(insns) || h(0)).
Bytes independent_chain(ByteView insns, ByteView data, size_t maps) {
  Bytes padded(data.begin(), data.end());
  padded.resize((padded.size() + 7) / 8 * 8, 0);
  crypto::Digest map_hash = crypto::sha256(padded);
  crypto::Digest h = map_hash;
  for (size_t i = 1; i < maps; ++i) {
    Bytes buf(h.begin(), h.end());
    buf.insert(buf.end(), map_hash.begin(), map_hash.end());
    h = crypto::sha256(buf);
  }
  crypto::Digest insns_hash = crypto::sha256(insns);
  Bytes final_buf(insns_hash.begin(), insns_hash.end());
  final_buf.insert(final_buf.end(), h.begin(), h.end());
  crypto::Digest out = crypto::sha256(final_buf);
  return Bytes(out.begin(), out.end());
}

struct ChainKernel {
  Kernel kernel{KernelProfile::hash_chain()};
  Process& proc = kernel.spawn("loader");
  ChainKernel() { kernel.keyring_add_cert(kBuiltinKeyring, signer_cert_der()); }
};

int meta_map(Kernel& kernel, Process& proc, const skel::SignedLoader& loader, bool freeze = true,
             uint32_t type = kMapArray) {
  MapCreateAttr attr{type, 4, static_cast<uint32_t>(loader.data.size()), 1, 0, "__loader.map", loader.excl_hash};
  int fd = kernel.map_create(proc, attr);
  const uint8_t key[4] = {};
  kernel.map_update(proc, fd, key, loader.data);
  if (freeze) kernel.map_freeze(proc, fd);
  return fd;
}

ProgLoadAttr chain_attr(const skel::SignedLoader& loader, std::vector<int32_t> fd_array,
                        std::vector<uint32_t> signature_maps) {
  ProgLoadAttr attr;
  attr.prog_type = kProgSyscall;
  attr.insns = loader.insns;
  attr.license = "Dual BSD/GPL";
  attr.prog_flags = kFSleepable;
  attr.name = "__loader.prog";
  attr.fd_array = std::move(fd_array);
  attr.signature = loader.signature;
  attr.signature_maps = std::move(signature_maps);
  return attr;
}

// Records every security_bpf_prog_load call and its signature_maps.
class AttrRecorder : public lsm::Lsm {
 public:
  explicit AttrRecorder(std::vector<std::vector<uint32_t>>& seen)
      : Lsm({"attrrec", static_cast<lsm::LsmId>(2002)}, lsm::hook_bit(lsm::Hook::kBpfProgLoad)), seen_(seen) {}
  int bpf_prog_load(lsm::ProgView&, const lsm::ProgLoadAttr& attr, const lsm::Token*, bool) override {
    seen_.push_back(attr.signature_maps);
    return 0;
  }

 private:
  std::vector<std::vector<uint32_t>>& seen_;
};

}  // namespace

TEST(KmodelHashChain, Profile) {
  KernelProfile p = KernelProfile::hash_chain();
  EXPECT_EQ(p.name, "hash-chain");
  EXPECT_TRUE(p.hash_chain_signature);
  EXPECT_FALSE(p.loadtime_signature);
  EXPECT_FALSE(KernelProfile::linux_6_18().hash_chain_signature);
}

TEST(KmodelHashChain, SignOutputMatchesTheSeriesByteForByte) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader& hc = chain_example(name);
    // loader-hash with the same (default) block: bpftool -M keeps gen_hash on.
    const skel::SignedLoader& lh = test::scheme_example(name, skel::Scheme::kLoaderHash);
    EXPECT_EQ(hc.scheme, skel::Scheme::kHashChain);
    EXPECT_EQ(hc.signature_maps, std::vector<uint32_t>{0});
    EXPECT_EQ(hc.insns, lh.insns) << "the series keeps gen_loader's hash-match block";
    EXPECT_EQ(hc.excl_hash, lh.excl_hash);
    Bytes chain = independent_chain(hc.insns, hc.data, 1);
    EXPECT_EQ(skel::signed_content(hc), chain);
    auto check = crypto::verify_kernel_rules(hc.signature, chain, test::default_signer().trust());
    EXPECT_EQ(check.err, 0) << check.detail;
    EXPECT_NE(crypto::verify_kernel_rules(hc.signature, hc.insns, test::default_signer().trust()).err, 0)
        << "the signature does not cover the bare instructions";
  }
}

TEST(KmodelHashChain, LongerChainsFollowTheRecurrence) {
  const skel::SignedLoader& hc = chain_example("execcount");
  for (size_t n : {1u, 2u, 3u}) {
    skel::SignedLoader l = hc;
    l.signature_maps.assign(n, 0);
    EXPECT_EQ(skel::signed_content(l), independent_chain(l.insns, l.data, n)) << n << " maps";
  }
}

TEST(KmodelHashChain, EachExampleLoadsAndRuns) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    ChainKernel k;
    std::vector<std::vector<uint32_t>> seen;
    auto stack = std::make_shared<lsm::LsmStack>();
    stack->add(std::make_unique<AttrRecorder>(seen));
    k.kernel.set_lsm_stack(stack);
    SkeletonResult r = load_skeleton(k.kernel, k.proc, chain_example(name));
    EXPECT_EQ(r.loader_retval, 0);
    EXPECT_EQ(r.progs.size(), chain_example(name).prog_names.size());
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front(), std::vector<uint32_t>{0}) << "the LSM sees attr.signature_maps";
  }
}

TEST(KmodelHashChain, TamperIsRefusedBeforeTheLsmHook) {
  const skel::SignedLoader& good = chain_example("execcount");
  auto refused = [&](skel::SignedLoader l) {
    ChainKernel k;
    std::vector<std::vector<uint32_t>> seen;
    auto stack = std::make_shared<lsm::LsmStack>();
    stack->add(std::make_unique<AttrRecorder>(seen));
    k.kernel.set_lsm_stack(stack);
    int err = errno_of([&] { load_skeleton(k.kernel, k.proc, l); });
    EXPECT_TRUE(seen.empty()) << "security_bpf_prog_load must not have run";
    EXPECT_TRUE(k.proc.open_fds().empty());
    return err;
  };
  skel::SignedLoader insns = good;
  insns.insns[insns.insns.size() - 16 + 4] ^= 0x01;  // an immediate near the end
  // A changed loader no longer matches its exclusive map either: give the
  // map the new digest, so the signature is what refuses it.
  crypto::Digest d = crypto::sha256(insns.insns);
  insns.excl_hash.assign(d.begin(), d.end());
  EXPECT_EQ(refused(insns), EKEYREJECTED) << "insns";
  skel::SignedLoader meta = good;
  meta.data[meta.data.size() / 2] ^= 0x01;
  EXPECT_EQ(refused(meta), EKEYREJECTED) << "metadata";
  skel::SignedLoader sig = good;
  sig.signature[sig.signature.size() - 3] ^= 0x01;  // inside the RSA signature value
  EXPECT_EQ(refused(sig), EKEYREJECTED) << "signature";
  skel::SignedLoader twice = good;
  twice.signature_maps = {0, 0};
  EXPECT_EQ(refused(twice), EKEYREJECTED) << "signature_maps {0, 0}: another chain";
  skel::SignedLoader past = good;
  past.signature_maps = {1};
  EXPECT_EQ(refused(past), EFAULT) << "signature_maps {1}: past the one-entry fd_array";
}

TEST(KmodelHashChain, EmptySignatureMapsMeansInsnsOnly) {
  ChainKernel k;
  int map = meta_map(k.kernel, k.proc, chain_example("execcount"));
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, chain_attr(chain_example("execcount"), {map}, {})); }),
            EKEYREJECTED);
  // ... which is what a loader-hash signature is: those load unchanged.
  EXPECT_EQ(load_skeleton(k.kernel, k.proc, test::signed_example("execcount")).loader_retval, 0);
}

TEST(KmodelHashChain, MapsNamedBySignatureMaps) {
  const skel::SignedLoader& loader = chain_example("execcount");
  ChainKernel k;
  auto load = [&](std::vector<int32_t> fd_array) {
    return errno_of([&] { k.kernel.prog_load(k.proc, chain_attr(loader, std::move(fd_array), {0})); });
  };
  EXPECT_EQ(load({meta_map(k.kernel, k.proc, loader)}), 0);
  EXPECT_EQ(load({}), EFAULT) << "no fd_array";
  EXPECT_EQ(load({999}), EBADF) << "fd not open";
  EXPECT_EQ(load({k.kernel.btf_load(k.proc, test::minimal_btf())}), EINVAL) << "not a map";
  EXPECT_EQ(load({meta_map(k.kernel, k.proc, loader, true, kMapHash)}), EINVAL) << "no map_get_hash";
  // The series neither requires a frozen nor checks an exclusive map here;
  // the kernel's hash computation fills map->sha as GET_INFO would.
  int unfrozen = meta_map(k.kernel, k.proc, loader, /*freeze=*/false);
  EXPECT_EQ(load({unfrozen}), 0);
  auto prefix = k.kernel.map_struct_prefix(k.proc, unfrozen);
  crypto::Digest expected = crypto::sha256_padded8(loader.data);
  EXPECT_EQ(Bytes(prefix.begin(), prefix.begin() + 32), Bytes(expected.begin(), expected.end()));
}

TEST(KmodelHashChain, SignatureMapsIsUnknownToOtherKernels) {
  for (KernelProfile profile : {KernelProfile::linux_6_18(), KernelProfile::loadtime_2026()}) {
    SCOPED_TRACE(profile.name);
    Kernel kernel(profile);
    kernel.keyring_add_cert(kBuiltinKeyring, signer_cert_der());
    Process& p = kernel.spawn("loader");
    EXPECT_EQ(errno_of([&] { load_skeleton(kernel, p, chain_example("execcount")); }), E2BIG);
    // Unsigned (as bpfsig load --userspace-verify does) nothing extra is sent.
    SkeletonOptions unsigned_load;
    unsigned_load.send_signature = false;
    EXPECT_EQ(load_skeleton(kernel, p, chain_example("execcount"), unsigned_load).loader_retval, 0);
  }
}

TEST(KmodelHashChain, EachSchemeUnderEachProfile) {
  struct Case {
    const char* profile;
    skel::Scheme scheme;
    int err;
  };
  // 6.18 and hash-chain check insns-only signatures the same way; loadtime
  // folds the metadata map only for loadtime bundles.
  const Case cases[] = {
      {"6.18", skel::Scheme::kLoaderHash, 0},          {"6.18", skel::Scheme::kLoadtime, EKEYREJECTED},
      {"6.18", skel::Scheme::kHashChain, E2BIG},       {"loadtime", skel::Scheme::kLoaderHash, EACCES},
      {"loadtime", skel::Scheme::kLoadtime, 0},        {"loadtime", skel::Scheme::kHashChain, E2BIG},
      {"hash-chain", skel::Scheme::kLoaderHash, 0},    {"hash-chain", skel::Scheme::kLoadtime, EKEYREJECTED},
      {"hash-chain", skel::Scheme::kHashChain, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.profile) + " / " + skel::scheme_name(c.scheme));
    KernelProfile profile = std::string(c.profile) == "6.18"       ? KernelProfile::linux_6_18()
                            : std::string(c.profile) == "loadtime" ? KernelProfile::loadtime_2026()
                                                                   : KernelProfile::hash_chain();
    Kernel kernel(profile);
    kernel.keyring_add_cert(kBuiltinKeyring, signer_cert_der());
    Process& p = kernel.spawn("loader");
    const skel::SignedLoader& loader = c.scheme == skel::Scheme::kLoaderHash ? test::signed_example("multimap")
                                       : c.scheme == skel::Scheme::kLoadtime ? loadtime_example("multimap")
                                                                             : chain_example("multimap");
    EXPECT_EQ(errno_of([&] { load_skeleton(kernel, p, loader); }), c.err);
  }
}

TEST(KmodelHashChain, FdArrayCntOverAnExclusiveMapIsEaccesOn618) {
  // Measured on 6.18.44 (tests/sys/test_sys_schemes.cpp): fd_array maps are
  // bound before prog->digest exists. The hash-chain profile is 6.18-based.
  for (KernelProfile profile : {KernelProfile::linux_6_18(), KernelProfile::hash_chain()}) {
    SCOPED_TRACE(profile.name);
    Kernel kernel(profile);
    Process& p = kernel.spawn("loader");
    const skel::SignedLoader& loader = loadtime_example("execcount");
    int map = meta_map(kernel, p, loader);
    ProgLoadAttr attr = chain_attr(loader, {map}, {});
    attr.signature.clear();
    attr.fd_array_cnt = 1;
    EXPECT_EQ(errno_of([&] { kernel.prog_load(p, attr); }), EACCES);
    attr.fd_array_cnt = 0;
    EXPECT_EQ(errno_of([&] { kernel.prog_load(p, attr); }), 0);
  }
}
