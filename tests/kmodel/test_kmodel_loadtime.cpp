// SPDX-License-Identifier: Apache-2.0
// The `loadtime` kernel profile (bpf-next 2026, Documentation/bpf/signing.rst):
// the signature covers insns || value of each fd_array map, the maps must be
// exclusive, frozen, plain ARRAY; prog->aux->sig is visible to the LSM hooks;
// the `.bpf` keyring (-9). And the loader-hash bundles of today still load in
// the 6.18 profile, where nothing is recorded for the LSMs.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
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
using test::minimal_btf;


Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// The real loadtime loader from sign_object: no hash-match block, the
// signature over insns || metadata.
skel::SignedLoader loadtime_example(const std::string& name) {
  return test::scheme_example(name, skel::Scheme::kLoadtime);
}

Bytes signer_cert_der() { return crypto::certificate_der(test::default_signer().cert.get()); }

// What a recording LSM saw of prog->aux->sig.
struct SigSeen {
  lsm::Hook hook;
  std::string prog;
  lsm::ProgSig sig;
};

class SigRecorder : public lsm::Lsm {
 public:
  explicit SigRecorder(std::vector<SigSeen>& seen)
      : Lsm({"sigrec", static_cast<lsm::LsmId>(2001)},
            lsm::hook_bit(lsm::Hook::kBpfProgLoad) | lsm::hook_bit(lsm::Hook::kBpfProg)),
        seen_(seen) {}
  int bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr&, const lsm::Token*, bool) override {
    seen_.push_back({lsm::Hook::kBpfProgLoad, prog.name, prog.sig});
    return 0;
  }
  int bpf_prog(lsm::ProgView& prog) override {
    seen_.push_back({lsm::Hook::kBpfProg, prog.name, prog.sig});
    return 0;
  }

 private:
  std::vector<SigSeen>& seen_;
};

std::shared_ptr<lsm::LsmStack> recording_stack(std::vector<SigSeen>& seen) {
  auto stack = std::make_shared<lsm::LsmStack>();
  stack->add(std::make_unique<SigRecorder>(seen));
  return stack;
}

// The metadata map as load_skeleton makes it, with parts left out on request.
int meta_map(Kernel& kernel, Process& proc, const skel::SignedLoader& loader, bool exclusive = true,
             bool freeze = true, uint32_t type = kMapArray) {
  MapCreateAttr attr{type, 4, static_cast<uint32_t>(loader.data.size()), 1, 0, "__loader.map", {}};
  if (exclusive) attr.excl_prog_hash = loader.excl_hash;
  int fd = kernel.map_create(proc, attr);
  const uint8_t key[4] = {};
  kernel.map_update(proc, fd, key, loader.data);
  if (freeze) kernel.map_freeze(proc, fd);
  return fd;
}

ProgLoadAttr loader_attr(const skel::SignedLoader& loader, std::vector<int32_t> fd_array, uint32_t fd_array_cnt,
                         int32_t keyring_id = kBuiltinKeyring) {
  ProgLoadAttr attr;
  attr.prog_type = kProgSyscall;
  attr.insns = loader.insns;
  attr.license = "Dual BSD/GPL";
  attr.prog_flags = kFSleepable;
  attr.name = "__loader.prog";
  attr.fd_array = std::move(fd_array);
  attr.fd_array_cnt = fd_array_cnt;
  attr.signature = loader.signature;
  attr.keyring_id = keyring_id;
  return attr;
}

// One BTF_KIND_INT "int": the smallest BTF the model accepts.

struct LoadtimeKernel {
  Kernel kernel{KernelProfile::loadtime_2026()};
  Process& proc = kernel.spawn("loader");
  explicit LoadtimeKernel(int32_t keyring = kBuiltinKeyring) {
    if (keyring != kNoKeyring) kernel.keyring_add_cert(keyring, signer_cert_der());
  }
  static constexpr int32_t kNoKeyring = 0x7fffffff;
};

}  // namespace

TEST(KmodelLoadtime, ProfileName) {
  EXPECT_EQ(KernelProfile::loadtime_2026().name, "loadtime");
  EXPECT_TRUE(KernelProfile::loadtime_2026().loadtime_signature);
  EXPECT_FALSE(KernelProfile::linux_6_18().loadtime_signature);
}

TEST(KmodelLoadtime, EachExampleSignedOverInsnsAndMetadataLoadsAndRuns) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    LoadtimeKernel k;
    SkeletonResult r = load_skeleton(k.kernel, k.proc, loadtime_example(name));
    EXPECT_EQ(r.loader_retval, 0);
    EXPECT_EQ(r.progs.size(), test::signed_example(name).prog_names.size());
    EXPECT_EQ(r.loader_prog.map_ids, std::vector<uint32_t>{r.loader_map.id});
  }
}

TEST(KmodelLoadtime, VerdictAndKeyringAreVisibleAtBothHooks) {
  std::vector<SigSeen> seen;
  LoadtimeKernel k;
  k.kernel.set_lsm_stack(recording_stack(seen));
  load_skeleton(k.kernel, k.proc, loadtime_example("multimap"));
  ASSERT_FALSE(seen.empty());
  int loader_hooks = 0, inner_hooks = 0;
  for (const auto& s : seen) {
    SCOPED_TRACE(s.prog);
    if (s.prog == "__loader.prog") {
      ++loader_hooks;
      EXPECT_EQ(s.sig.verdict, lsm::SigVerdict::kVerified);
      EXPECT_EQ(s.sig.keyring_type, lsm::SigKeyring::kBuiltin);
      EXPECT_EQ(s.sig.keyring_serial, 0);
    } else {
      ++inner_hooks;  // loaded by the loader, unsigned
      EXPECT_EQ(s.sig.verdict, lsm::SigVerdict::kUnsigned);
      EXPECT_EQ(s.sig.keyring_type, lsm::SigKeyring::kNone);
      EXPECT_EQ(s.sig.keyring_serial, 0);
    }
  }
  EXPECT_EQ(loader_hooks, 2);  // bpf_prog_load and bpf_prog
  EXPECT_EQ(inner_hooks, 4);   // on_enter, on_exit: both hooks each
}

TEST(KmodelLoadtime, UnsignedLoadIsUnsignedNone) {
  std::vector<SigSeen> seen;
  LoadtimeKernel k;
  k.kernel.set_lsm_stack(recording_stack(seen));
  SkeletonOptions options;
  options.send_signature = false;
  SkeletonResult r = load_skeleton(k.kernel, k.proc, loadtime_example("execcount"), options);
  EXPECT_EQ(r.loader_retval, 0);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().prog, "__loader.prog");
  for (const auto& s : seen) {
    EXPECT_EQ(s.sig.verdict, lsm::SigVerdict::kUnsigned);
    EXPECT_EQ(s.sig.keyring_type, lsm::SigKeyring::kNone);
  }
}

TEST(KmodelLoadtime, KeyringTypesAndSerials) {
  struct Case {
    int32_t keyring;
    lsm::SigKeyring type;
  };
  for (const Case& c : {Case{kBuiltinKeyring, lsm::SigKeyring::kBuiltin},
                        Case{kSecondaryKeyring, lsm::SigKeyring::kSecondary},
                        Case{kPlatformKeyring, lsm::SigKeyring::kPlatform}, Case{kBpfKeyring, lsm::SigKeyring::kBpf}}) {
    SCOPED_TRACE(c.keyring);
    std::vector<SigSeen> seen;
    LoadtimeKernel k(c.keyring);
    k.kernel.set_lsm_stack(recording_stack(seen));
    SkeletonOptions options;
    options.keyring_id = c.keyring;
    load_skeleton(k.kernel, k.proc, loadtime_example("execcount"), options);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().sig.verdict, lsm::SigVerdict::kVerified);
    EXPECT_EQ(seen.front().sig.keyring_type, c.type);
    EXPECT_EQ(seen.front().sig.keyring_serial, 0) << "system and .bpf keyrings expose no serial";
  }

  std::vector<SigSeen> seen;
  LoadtimeKernel k(LoadtimeKernel::kNoKeyring);
  int32_t serial = k.kernel.keyring_create("staging");
  k.kernel.keyring_add_cert(serial, signer_cert_der());
  k.kernel.set_lsm_stack(recording_stack(seen));
  SkeletonOptions options;
  options.keyring_id = serial;
  load_skeleton(k.kernel, k.proc, loadtime_example("execcount"), options);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().sig.keyring_type, lsm::SigKeyring::kUser);
  EXPECT_EQ(seen.front().sig.keyring_serial, serial);
}

TEST(KmodelLoadtime, BpfKeyring) {
  SkeletonOptions options;
  options.keyring_id = kBpfKeyring;
  {
    LoadtimeKernel empty(LoadtimeKernel::kNoKeyring);
    EXPECT_EQ(errno_of([&] { load_skeleton(empty.kernel, empty.proc, loadtime_example("execcount"), options); }),
              ENOKEY)
        << "sealed empty";
  }
  {
    LoadtimeKernel provisioned(kBpfKeyring);
    EXPECT_EQ(load_skeleton(provisioned.kernel, provisioned.proc, loadtime_example("execcount"), options).loader_retval,
              0);
  }
  {
    LoadtimeKernel builtin_only;  // the .bpf keyring does not fall back to builtin
    EXPECT_EQ(errno_of([&] { load_skeleton(builtin_only.kernel, builtin_only.proc, loadtime_example("execcount"),
                                           options); }),
              ENOKEY);
  }
  // 6.18 has no .bpf keyring: -9 names nothing.
  Kernel old;
  Process& p = old.spawn("loader");
  EXPECT_EQ(errno_of([&] { old.keyring_add_cert(kBpfKeyring, signer_cert_der()); }), ENOKEY);
  EXPECT_EQ(errno_of([&] { load_skeleton(old, p, test::signed_example("execcount"), options); }), EINVAL);
}

TEST(KmodelLoadtime, SignatureOverInsnsOnlyIsEkeyrejected) {
  // A loader-hash signature (insns only) with the metadata map folded.
  const skel::SignedLoader& loader = test::signed_example("execcount");
  LoadtimeKernel k;
  int map = meta_map(k.kernel, k.proc, loader);
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, loader_attr(loader, {map}, 1)); }), EKEYREJECTED);
}

TEST(KmodelLoadtime, LoaderHashBundleIsRefused) {
  // Its light skeleton folds nothing (fd_array_cnt 0): the signature over the
  // insns is good, but the loader then binds a map the signature does not
  // cover. The loadtime kernel refuses loader-hash bundles either way.
  LoadtimeKernel k;
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, test::signed_example("execcount")); }), EACCES);
  EXPECT_TRUE(k.proc.open_fds().empty());
}

TEST(KmodelLoadtime, TheLoadtimeLoaderHasNoMatchBlockAndIsStillExclusive) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader& lt = loadtime_example(name);
    const skel::SignedLoader& lh = test::signed_example(name);
    EXPECT_EQ(lt.scheme, skel::Scheme::kLoadtime);
    // libbpf 1.8's gen_hash loader (bpftool 7.8's): no block. Both read
    // nothing signed from the ctx, so they differ by the 33-insn block only.
    EXPECT_EQ(lt.insns.size() + 33 * 8, lh.insns.size()) << "the loader-hash loader is this one plus its block";
    EXPECT_EQ(lt.data, lh.data);
    crypto::Digest digest = crypto::sha256(lt.insns);
    EXPECT_EQ(lt.excl_hash, Bytes(digest.begin(), digest.end()));
    auto check = crypto::verify_kernel_rules(lt.signature, concat(lt.insns, lt.data), test::default_signer().trust());
    EXPECT_EQ(check.err, 0) << check.detail;
  }
}

TEST(KmodelLoadtime, TamperedMetadataIsRefusedAtLoad) {
  skel::SignedLoader loader = loadtime_example("execcount");
  loader.data[loader.data.size() / 2] ^= 0x01;
  LoadtimeKernel k;
  EXPECT_EQ(errno_of([&] { load_skeleton(k.kernel, k.proc, loader); }), EKEYREJECTED);
}

TEST(KmodelLoadtime, FoldedMapRules) {
  skel::SignedLoader loader = loadtime_example("execcount");
  LoadtimeKernel k;
  auto load = [&](int map_fd) { return errno_of([&] { k.kernel.prog_load(k.proc, loader_attr(loader, {map_fd}, 1)); }); };
  EXPECT_EQ(load(meta_map(k.kernel, k.proc, loader)), 0);
  EXPECT_EQ(load(meta_map(k.kernel, k.proc, loader, /*exclusive=*/true, /*freeze=*/false)), EPERM) << "not frozen";
  EXPECT_EQ(load(meta_map(k.kernel, k.proc, loader, /*exclusive=*/false)), EPERM) << "not exclusive";
  {
    MapCreateAttr hash{kMapHash, 4, 4, 1, 0, "excl_hash", loader.excl_hash};
    EXPECT_EQ(load(k.kernel.map_create(k.proc, hash)), EINVAL) << "not a plain ARRAY";
  }
  {
    Bytes other_digest(32, 0xaa);
    MapCreateAttr attr{kMapArray, 4, static_cast<uint32_t>(loader.data.size()), 1, 0, "other", other_digest};
    int fd = k.kernel.map_create(k.proc, attr);
    const uint8_t key[4] = {};
    k.kernel.map_update(k.proc, fd, key, loader.data);
    k.kernel.map_freeze(k.proc, fd);
    EXPECT_EQ(load(fd), EACCES) << "exclusive to another program";
  }
  {
    MapCreateAttr two{kMapArray, 4, static_cast<uint32_t>(loader.data.size()), 2, 0, "two", loader.excl_hash};
    int fd = k.kernel.map_create(k.proc, two);
    k.kernel.map_freeze(k.proc, fd);
    EXPECT_EQ(load(fd), kENOTSUPP) << "no map_direct_value_addr for more than one entry";
  }
  // A BTF in a signed fd_array: EACCES.
  int btf = k.kernel.btf_load(k.proc, minimal_btf());
  int map = meta_map(k.kernel, k.proc, loader);
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, loader_attr(loader, {map, btf}, 2)); }), EACCES);
  // The same checks do not apply to an unsigned load.
  ProgLoadAttr unsigned_attr = loader_attr(loader, {meta_map(k.kernel, k.proc, loader, true, false)}, 1);
  unsigned_attr.signature.clear();
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, unsigned_attr); }), 0);
}

TEST(KmodelLoadtime, SignedProgramCannotBindAnUncoveredMap) {
  // Signed over insns only (nothing folded): valid, but the loader's
  // reference to fd_array[0] binds a map the signature does not cover.
  const skel::SignedLoader& loader = test::signed_example("execcount");
  LoadtimeKernel k;
  int map = meta_map(k.kernel, k.proc, loader);
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, loader_attr(loader, {map}, 0)); }), EACCES);
}

TEST(KmodelLoadtime, KeyringAndSizeErrors) {
  skel::SignedLoader loader = loadtime_example("execcount");
  LoadtimeKernel k;
  int map = meta_map(k.kernel, k.proc, loader);
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, loader_attr(loader, {map}, 1, 0x7fffffff)); }), EINVAL);
  ProgLoadAttr big = loader_attr(loader, {map}, 1);
  big.signature = Bytes(crypto::kMaxKernelSignatureSize + 1, 0x30);
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, big); }), EINVAL);
  ProgLoadAttr junk = loader_attr(loader, {map}, 1);
  junk.signature = Bytes{0x30, 0x42, 0x13, 0x37};
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, junk); }), EBADMSG);
}

TEST(KmodelLoadtime, LoaderHashBundlesStillLoadIn618WithNothingRecorded) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    std::vector<SigSeen> seen;
    Kernel kernel;  // 6.18
    kernel.keyring_add_cert(kBuiltinKeyring, signer_cert_der());
    kernel.set_lsm_stack(recording_stack(seen));
    Process& p = kernel.spawn("loader");
    EXPECT_EQ(load_skeleton(kernel, p, test::signed_example(name)).loader_retval, 0);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().prog, "__loader.prog");
    for (const auto& s : seen) {
      EXPECT_EQ(s.sig.verdict, lsm::SigVerdict::kUnsigned) << "6.18 stores nothing for the LSMs";
      EXPECT_EQ(s.sig.keyring_type, lsm::SigKeyring::kNone);
    }
    // And a loadtime signature means nothing to 6.18: it checks insns only.
    Kernel kernel2;
    kernel2.keyring_add_cert(kBuiltinKeyring, signer_cert_der());
    Process& p2 = kernel2.spawn("loader");
    EXPECT_EQ(errno_of([&] { load_skeleton(kernel2, p2, loadtime_example(name)); }), EKEYREJECTED);
  }
}
