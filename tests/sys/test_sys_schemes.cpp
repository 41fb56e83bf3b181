// SPDX-License-Identifier: Apache-2.0
// The loadtime and hash-chain schemes against the running kernel (6.18.44
// here): neither is checked in-kernel, so a signed load is refused up front,
// and --userspace-verify (verify offline, then load unsigned) works. Needs
// root for the loads; reports "skipped: <why>" otherwise.
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <filesystem>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

skel::SignedLoader sign_as(skel::Scheme scheme) {
  skel::SignOptions o;
  o.scheme = scheme;
  test::TestSigner& s = test::default_signer();
  return skel::sign_object(test::examples_dir() + "/multimap.bpf.o", s.cert.get(), s.key.get(), o);
}

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// BPF_PROG_LOAD of `r0 = 0; exit` (SOCKET_FILTER) with a 180-byte attr whose
// bytes 168..179 are the series' signature_maps / signature_maps_size.
int raw_load_with_tail(uint64_t signature_maps, uint32_t signature_maps_size) {
  static const uint8_t insns[16] = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
  static const char license[] = "GPL";
  uint8_t attr[184] = {};
  store_le32(attr + 0, 1);  // BPF_PROG_TYPE_SOCKET_FILTER
  store_le32(attr + 4, 2);  // insn_cnt
  store_le64(attr + 8, reinterpret_cast<uintptr_t>(insns));
  store_le64(attr + 16, reinterpret_cast<uintptr_t>(license));
  store_le64(attr + 168, signature_maps);
  store_le32(attr + 176, signature_maps_size);
  return static_cast<int>(syscall(__NR_bpf, 5 /* BPF_PROG_LOAD */, attr, 180));
}

}  // namespace

// What load refuses before it creates anything, for every scheme against
// every kind of kernel: the kernel's check is given, so no kernel is needed.
TEST(SysSchemes, ASchemeTheKernelDoesNotCheckIsRefusedBeforeTheKernel) {
  struct Row {
    skel::Scheme scheme;
    sys::SignatureCheck kernel;
    std::string kind, words;
  };
  const std::vector<Row> rows = {
      {skel::Scheme::kLoadtime, sys::SignatureCheck::kInsns, "scheme_not_in_kernel", "--scheme loader-hash"},
      {skel::Scheme::kHashChain, sys::SignatureCheck::kInsns, "scheme_not_in_kernel", "bpfsig run --kernel hash-chain"},
      {skel::Scheme::kLoaderHash, sys::SignatureCheck::kInsnsAndMetadata, "scheme_not_in_kernel", "--scheme loadtime"},
      {skel::Scheme::kHashChain, sys::SignatureCheck::kInsnsAndMetadata, "scheme_not_in_kernel", "--scheme loadtime"},
      {skel::Scheme::kLoadtime, sys::SignatureCheck::kNone, "kernel_no_sig", "--userspace-verify"},
      {skel::Scheme::kLoaderHash, sys::SignatureCheck::kNone, "kernel_no_sig", "--userspace-verify"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(skel::scheme_name(row.scheme) + " on " + sys::signature_check_name(row.kernel));
    skel::SignedLoader loader = sign_as(row.scheme);
    sys::LoadOptions opts;
    opts.trusted_certs_der = {loader.signer_cert};
    opts.kernel_check = row.kernel;
    int fds_before = open_fd_count();
    try {
      sys::load(loader, opts);
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EOPNOTSUPP);
      EXPECT_EQ(e.kind(), row.kind);
      EXPECT_NE(std::string(e.what()).find(row.words), std::string::npos) << e.what();
    }
    EXPECT_EQ(open_fd_count(), fds_before);
  }
}

// The trust anchor comes from the user: the certificate embedded in the
// bundle is never put into a keyring.
TEST(SysSchemes, AnOwnKeyringNeedsTheUsersCertificate) {
  skel::SignedLoader loader = sign_as(skel::Scheme::kLoaderHash);
  ASSERT_FALSE(loader.signer_cert.empty());
  sys::LoadOptions opts;
  opts.kernel_check = sys::SignatureCheck::kInsns;
  int fds_before = open_fd_count();
  try {
    sys::load(loader, opts);
    ADD_FAILURE() << "loaded with the bundle's own certificate as the anchor";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "no_trust_anchor");
    EXPECT_NE(std::string(e.what()).find("-i CERT"), std::string::npos) << e.what();
  }
  opts.keyring = sys::KeyringMode::kBuiltin;
  opts.trusted_certs_der = {loader.signer_cert};
  try {
    sys::load(loader, opts);
    ADD_FAILURE() << "a certificate was accepted for the builtin keyring";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "bad_argument") << e.what();
  }
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(SysSchemes, UnsignedLoadsWorkOnThisKernel) {
  SKIP_UNLESS(test::missing_excl_maps());
  for (skel::Scheme s : {skel::Scheme::kLoadtime, skel::Scheme::kHashChain}) {
    SCOPED_TRACE(skel::scheme_name(s));
    skel::SignedLoader loader = sign_as(s);
    sys::LoadOptions opts;
    opts.send_signature = false;
    int fds_before = open_fd_count();
    sys::LoadResult r = sys::load(loader, opts);
    EXPECT_FALSE(r.signature_sent);
    EXPECT_EQ(r.loader_retval, 0);
    EXPECT_EQ(r.progs.size(), loader.prog_names.size());
    EXPECT_EQ(r.maps.size(), loader.map_names.size());
    sys::close_fds(r);
    EXPECT_EQ(open_fd_count(), fds_before);
  }
}

TEST(SysSchemes, UnsignedTamperedMetadataOnlyTheHashChainLoaderCatches) {
  SKIP_UNLESS(test::missing_excl_maps());
  sys::LoadOptions opts;
  opts.send_signature = false;
  // The hash-chain loader keeps the hash-match block: -22 from the loader.
  skel::SignedLoader hc = sign_as(skel::Scheme::kHashChain);
  hc.data[hc.data.size() - 8] ^= 0x01;
  try {
    sys::load(hc, opts);
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL) << e.what();
    EXPECT_EQ(e.kind(), "loader_failed");
  }
  // The loadtime loader has no block: on 6.18 (no loadtime check) nothing
  // in the kernel notices. Only the offline verification of
  // --userspace-verify stands between such a bundle and the kernel.
  skel::SignedLoader lt = sign_as(skel::Scheme::kLoadtime);
  lt.data[lt.data.size() - 8] ^= 0x01;
  sys::LoadResult r = sys::load(lt, opts);
  EXPECT_EQ(r.loader_retval, 0);
  sys::close_fds(r);
}

TEST(SysSchemes, ThisKernelRefusesSignatureMapsAsAnUnknownAttrTail) {
  SKIP_UNLESS(test::missing_bpf());
  static const uint32_t index0 = 0;
  // Control: the same 180-byte attr with a zero tail loads.
  int fd = raw_load_with_tail(0, 0);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ::close(fd);
  errno = 0;
  EXPECT_EQ(raw_load_with_tail(reinterpret_cast<uintptr_t>(&index0), 1), -1);
  EXPECT_EQ(errno, E2BIG) << "what kmodel's 6.18 and loadtime profiles answer";
}

TEST(SysSchemes, FdArrayCntOverAnExclusiveMapOnThisKernel) {
  SKIP_UNLESS(test::missing_excl_maps());
  skel::SignedLoader loader = sign_as(skel::Scheme::kLoadtime);
  sys::MapCreate mc;
  mc.name = "__loader.map";
  mc.value_size = static_cast<uint32_t>(loader.data.size());
  mc.excl_prog_hash = loader.excl_hash;
  int map_fd = sys::map_create(mc);
  static const uint8_t key[4] = {};
  sys::map_update(map_fd, key, loader.data);
  sys::map_freeze(map_fd);
  std::string log;
  auto load = [&](uint32_t cnt) {
    sys::ProgLoad req;
    req.name = "__loader.prog";
    req.insns = loader.insns;
    req.fd_array = {map_fd};
    req.fd_array_cnt = cnt;
    req.log_level = 1;
    try {
      ::close(sys::prog_load(req));
      return 0;
    } catch (const Error& e) {
      log = e.what();
      return e.err();
    }
  };
  EXPECT_EQ(load(0), 0);
  // 6.18 binds fd_array_cnt maps before computing the digest the exclusive
  // map is checked against; kmodel's 6.18 profile answers the same.
  EXPECT_EQ(load(1), EACCES);
  EXPECT_NE(log.find("excl_prog_hash"), std::string::npos) << log;
  ::close(map_fd);
}
