// SPDX-License-Identifier: Apache-2.0
// Tests of the kernel model's object layer: unit tests of each rule with its
// errno, then differential tests that run the same map script through the
// running kernel (sys::, root needed) and through the model and compare the
// transcripts line by line.
#include <gtest/gtest.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "kmodel/kmodel_test_util.h"
#include "support/kernel_features.h"
#include "support/support.h"
#include "sys/internal.h"
#include "common/uapi.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

Bytes u32_key(uint32_t v) {
  Bytes b(4);
  store_le32(b.data(), v);
  return b;
}

Bytes pattern(size_t size, uint8_t seed) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

// The errno fn throws as a bpfsig::Error, 0 when it does not throw.
using test::errno_of;

MapCreateAttr array_attr(uint32_t value_size, uint32_t max_entries, uint32_t flags = 0) {
  return MapCreateAttr{kMapArray, 4, value_size, max_entries, flags, "arr", {}};
}

// The SHA-256 array_map_get_hash computes: every element padded to 8 bytes.
crypto::Digest expected_array_hash(const std::vector<Bytes>& values, uint32_t value_size) {
  size_t elem = (value_size + 7u) & ~7u;
  Bytes all(elem * values.size(), 0);
  for (size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), all.begin() + i * elem);
  return crypto::sha256(all);
}

class KmodelTest : public ::testing::Test {
 protected:
  Kernel kernel;
  Process& proc = kernel.spawn("test");
};

// ---- fds, ids, refcounts ------------------------------------------------------

TEST_F(KmodelTest, FdsStartAtThreeAndReuseTheLowestFree) {
  int a = kernel.map_create(proc, array_attr(4, 1));
  int b = kernel.map_create(proc, array_attr(4, 1));
  int c = kernel.map_create(proc, array_attr(4, 1));
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 4);
  EXPECT_EQ(c, 5);
  kernel.close(proc, b);
  EXPECT_EQ(kernel.dup(proc, a), 4);
  EXPECT_EQ(proc.open_fds(), (std::vector<int>{3, 4, 5}));
}

TEST_F(KmodelTest, FdTablesArePerProcess) {
  Process& other = kernel.spawn("other");
  EXPECT_NE(other.pid(), proc.pid());
  EXPECT_EQ(other.comm(), "other");
  int fd = kernel.map_create(proc, array_attr(4, 1));
  EXPECT_EQ(errno_of([&] { kernel.map_info(other, fd); }), EBADF);
  EXPECT_EQ(kernel.map_create(other, array_attr(4, 1)), 3);
}

TEST_F(KmodelTest, IdsIncreaseFromOneAndFailedCreatesTakeNone) {
  EXPECT_EQ(kernel.map_info(proc, kernel.map_create(proc, array_attr(4, 1))).id, 1u);
  EXPECT_EQ(errno_of([&] { kernel.map_create(proc, array_attr(0, 1)); }), EINVAL);
  EXPECT_EQ(kernel.map_info(proc, kernel.map_create(proc, array_attr(4, 1))).id, 2u);
}

TEST_F(KmodelTest, AnObjectLivesWhileAnFdOrMappingHoldsIt) {
  int fd = kernel.map_create(proc, array_attr(4, 1, kFMmapable));
  uint32_t id = kernel.map_info(proc, fd).id;
  int copy = kernel.dup(proc, fd);
  kernel.close(proc, fd);
  EXPECT_TRUE(kernel.map_alive(id));
  MmapHandle mapping = kernel.map_mmap(proc, copy, false);
  kernel.close(proc, copy);
  EXPECT_TRUE(kernel.map_alive(id));
  kernel.munmap(mapping);
  EXPECT_FALSE(kernel.map_alive(id));
}

TEST_F(KmodelTest, ClosedOrWrongKindOfFd) {
  EXPECT_EQ(errno_of([&] { kernel.close(proc, 3); }), EBADF);
  EXPECT_EQ(errno_of([&] { kernel.map_freeze(proc, 42); }), EBADF);
}

// ---- MAP_CREATE validation ----------------------------------------------------

struct CreateCase {
  const char* what;
  MapCreateAttr attr;
  int err;
};

std::vector<CreateCase> create_cases() {
  return {
      {"array", {kMapArray, 4, 8, 3, 0, "a", {}}, 0},
      {"array key_size 8", {kMapArray, 8, 8, 3, 0, "a", {}}, EINVAL},
      {"array value_size 0", {kMapArray, 4, 0, 3, 0, "a", {}}, EINVAL},
      {"array max_entries 0", {kMapArray, 4, 8, 0, 0, "a", {}}, EINVAL},
      {"array mmapable", {kMapArray, 4, 8, 3, kFMmapable, "a", {}}, 0},
      {"array unknown flag", {kMapArray, 4, 8, 3, 1u << 13, "a", {}}, EINVAL},
      {"array rdonly+wronly", {kMapArray, 4, 8, 3, kFRdonly | kFWronly, "a", {}}, EINVAL},
      {"array rdonly_prog+wronly_prog", {kMapArray, 4, 8, 3, kFRdonlyProg | kFWronlyProg, "a", {}}, EINVAL},
      {"array rdonly_prog", {kMapArray, 4, 8, 3, kFRdonlyProg, "a", {}}, 0},
      {"array bad name", {kMapArray, 4, 8, 3, 0, "bad-name", {}}, EINVAL},
      {"array dotted name", {kMapArray, 4, 8, 3, 0, "__loader.map", {}}, 0},
      {"hash", {kMapHash, 4, 8, 2, 0, "h", {}}, 0},
      {"hash no_prealloc", {kMapHash, 4, 8, 2, kFNoPrealloc, "h", {}}, 0},
      {"hash key_size 0", {kMapHash, 0, 8, 2, 0, "h", {}}, EINVAL},
      {"hash value_size 0", {kMapHash, 4, 0, 2, 0, "h", {}}, EINVAL},
      {"hash max_entries 0", {kMapHash, 4, 8, 0, 0, "h", {}}, EINVAL},
      {"hash mmapable", {kMapHash, 4, 8, 2, kFMmapable, "h", {}}, EINVAL},
      {"hash value 4 MiB", {kMapHash, 4, 4u << 20, 2, 0, "h", {}}, E2BIG},
      {"percpu array", {kMapPercpuArray, 4, 8, 2, 0, "p", {}}, 0},
      {"percpu array 32 KiB", {kMapPercpuArray, 4, 32768, 1, 0, "p", {}}, 0},
      {"percpu array over 32 KiB", {kMapPercpuArray, 4, 32769, 1, 0, "p", {}}, E2BIG},
      {"percpu array mmapable", {kMapPercpuArray, 4, 8, 2, kFMmapable, "p", {}}, EINVAL},
      {"percpu array key_size 8", {kMapPercpuArray, 8, 8, 2, 0, "p", {}}, EINVAL},
      {"ringbuf one page", {kMapRingbuf, 0, 0, 4096, 0, "r", {}}, 0},
      {"ringbuf two pages", {kMapRingbuf, 0, 0, 8192, 0, "r", {}}, 0},
      {"ringbuf three pages", {kMapRingbuf, 0, 0, 3 * 4096, 0, "r", {}}, EINVAL},
      {"ringbuf not page aligned", {kMapRingbuf, 0, 0, 1024, 0, "r", {}}, EINVAL},
      {"ringbuf size 0", {kMapRingbuf, 0, 0, 0, 0, "r", {}}, EINVAL},
      {"ringbuf key_size 4", {kMapRingbuf, 4, 0, 4096, 0, "r", {}}, EINVAL},
      {"ringbuf mmapable", {kMapRingbuf, 0, 0, 4096, kFMmapable, "r", {}}, EINVAL},
      {"prog array", {kMapProgArray, 4, 4, 4, 0, "pa", {}}, 0},
      {"prog array value_size 8", {kMapProgArray, 4, 8, 4, 0, "pa", {}}, EINVAL},
      {"prog array rdonly_prog", {kMapProgArray, 4, 4, 4, kFRdonlyProg, "pa", {}}, EINVAL},
      {"prog array max_entries 0", {kMapProgArray, 4, 4, 0, 0, "pa", {}}, EINVAL},
      {"prog array mmapable", {kMapProgArray, 4, 4, 4, kFMmapable, "pa", {}}, EINVAL},
      {"map type 0", {0, 4, 4, 1, 0, "x", {}}, EINVAL},
      {"map type 200", {200, 4, 4, 1, 0, "x", {}}, EINVAL},
  };
}

std::vector<CreateCase> exclusive_create_cases() {
  return {
      {"excl hash 32 bytes", {kMapArray, 4, 8, 1, 0, "e", Bytes(32, 1)}, 0},
      {"excl hash 31 bytes", {kMapArray, 4, 8, 1, 0, "e", Bytes(31, 1)}, EINVAL},
      {"excl hash 33 bytes", {kMapArray, 4, 8, 1, 0, "e", Bytes(33, 1)}, EINVAL},
  };
}

TEST_F(KmodelTest, MapCreateRulesAndErrnos) {
  auto cases = create_cases();
  auto excl = exclusive_create_cases();
  cases.insert(cases.end(), excl.begin(), excl.end());
  for (const auto& c : cases)
    EXPECT_EQ(errno_name(errno_of([&] { kernel.map_create(proc, c.attr); })), errno_name(c.err)) << c.what;
}

TEST_F(KmodelTest, MapNamesUpToFifteenCharacters) {
  auto named = [](const std::string& name) { return MapCreateAttr{kMapArray, 4, 4, 1, 0, name, {}}; };
  EXPECT_EQ(errno_of([&] { kernel.map_create(proc, named(std::string(15, 'n'))); }), 0);
  EXPECT_EQ(errno_of([&] { kernel.map_create(proc, named(std::string(16, 'n'))); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_create(proc, named("sp ace")); }), EINVAL);
}

TEST_F(KmodelTest, UnmodelledMapTypeSaysSo) {
  Error e(0, "", "");
  try {
    MapCreateAttr attr{kMapStructOps, 4, 8, 1, 0, "ops", {}};
    attr.btf_vmlinux_value_type_id = 1234;  // past the kernel's checks: a struct_ops value type
    kernel.map_create(proc, attr);
  } catch (const Error& caught) {
    e = caught;
  }
  EXPECT_EQ(e.err(), EOPNOTSUPP);
  EXPECT_EQ(std::string(e.what()),
            "BPF_MAP_CREATE: not modelled: STRUCT_OPS needs the struct_ops value types of vmlinux BTF");
}

// ---- element operations -----------------------------------------------------

TEST_F(KmodelTest, ArrayUpdateLookupDelete) {
  int fd = kernel.map_create(proc, array_attr(13, 3));
  Bytes v = pattern(13, 1);
  kernel.map_update(proc, fd, u32_key(2), v);
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(2)), v);
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(0)), Bytes(13, 0));
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(3), v); }), E2BIG);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), v, kNoExist); }), EEXIST);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), v, kExist); }), 0);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), v, 3); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), v, kFLock); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, fd, u32_key(3)); }), ENOENT);
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, fd, u32_key(0), kFLock); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, fd, u32_key(0), 8); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, u32_key(0)); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), Bytes(12)); }), EFAULT);
}

TEST_F(KmodelTest, HashMapFullThenReplaceAndDelete) {
  int fd = kernel.map_create(proc, MapCreateAttr{kMapHash, 4, 8, 2, 0, "h", {}});
  kernel.map_update(proc, fd, u32_key(1), pattern(8, 1));
  kernel.map_update(proc, fd, u32_key(2), pattern(8, 2));
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(3), pattern(8, 3)); }), E2BIG);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(1), pattern(8, 4)); }), 0);
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(1)), pattern(8, 4));
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(1), pattern(8, 4), kNoExist); }), EEXIST);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(9), pattern(8, 4), kExist); }), ENOENT);
  kernel.map_delete(proc, fd, u32_key(2));
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, u32_key(2)); }), ENOENT);
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, fd, u32_key(2)); }), ENOENT);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(3), pattern(8, 3)); }), 0);
}

TEST_F(KmodelTest, PercpuArrayHasOnePaddedSlotPerCpu) {
  int fd = kernel.map_create(proc, MapCreateAttr{kMapPercpuArray, 4, 5, 2, 0, "p", {}});
  ASSERT_EQ(kernel.profile().nr_cpus, 2u);
  Bytes value = pattern(16, 9);  // two 8-byte slots, stored whole (padding too)
  kernel.map_update(proc, fd, u32_key(1), value);
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(1)), value);
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(0)), Bytes(16, 0));
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(1), Bytes(8)); }), EFAULT);
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, u32_key(1)); }), EINVAL);
}

TEST_F(KmodelTest, ProgArrayHoldsOnlyPrograms) {
  int fd = kernel.map_create(proc, MapCreateAttr{kMapProgArray, 4, 4, 4, 0, "pa", {}});
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, fd, u32_key(0)); }), ENOENT);
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, u32_key(0)); }), ENOENT);
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, u32_key(4)); }), E2BIG);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), u32_key(fd), kNoExist); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(4), u32_key(fd)); }), E2BIG);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), u32_key(99)); }), EBADF);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(0), u32_key(fd)); }), EINVAL);
}

TEST_F(KmodelTest, ProgArraySlotsHoldProgramsUntilTheLastUserReference) {
  int pa = kernel.map_create(proc, MapCreateAttr{kMapProgArray, 4, 4, 2, 0, "pa", {}});
  ProgLoadAttr attr;
  attr.prog_type = kProgXdp;
  attr.insns = isa::encode({isa::mov64_imm(0, 0), isa::exit_insn()});
  attr.license = "GPL";
  int prog = kernel.prog_load(proc, attr);
  uint32_t prog_id = kernel.prog_info(proc, prog).id;
  kernel.map_update(proc, pa, u32_key(0), u32_key(static_cast<uint32_t>(prog)));
  EXPECT_EQ(load_le32(kernel.map_lookup(proc, pa, u32_key(0)).data()), prog_id);
  kernel.close(proc, prog);
  EXPECT_TRUE(kernel.prog_alive(prog_id));  // the slot holds it
  int pa_dup = kernel.dup(proc, pa);
  kernel.close(proc, pa);
  EXPECT_TRUE(kernel.prog_alive(prog_id));  // another fd still refers to the array
  kernel.close(proc, pa_dup);
  EXPECT_FALSE(kernel.prog_alive(prog_id));  // map_release_uref cleared the slots
}

TEST_F(KmodelTest, RingbufHasNoSyscallElements) {
  int fd = kernel.map_create(proc, MapCreateAttr{kMapRingbuf, 0, 0, 4096, 0, "r", {}});
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, fd, {}); }), kENOTSUPP);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, {}, {}); }), kENOTSUPP);
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, {}); }), kENOTSUPP);
}

// ---- freeze, access flags, mmap ---------------------------------------------------

TEST_F(KmodelTest, FreezeMakesTheSyscallSideReadOnly) {
  int fd = kernel.map_create(proc, MapCreateAttr{kMapHash, 4, 4, 2, 0, "h", {}});
  kernel.map_update(proc, fd, u32_key(1), u32_key(7));
  kernel.map_freeze(proc, fd);
  EXPECT_TRUE(kernel.map_info(proc, fd).frozen);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, fd, u32_key(1), u32_key(8)); }), EPERM);
  EXPECT_EQ(errno_of([&] { kernel.map_delete(proc, fd, u32_key(1)); }), EPERM);
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(1)), u32_key(7));
  // map_get_sys_perms() drops write access before the "already frozen" check.
  EXPECT_EQ(errno_of([&] { kernel.map_freeze(proc, fd); }), EPERM);
}

TEST_F(KmodelTest, SyscallAccessFlags) {
  int ro = kernel.map_create(proc, array_attr(4, 1, kFRdonly));
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, ro, u32_key(0), u32_key(1)); }), EPERM);
  EXPECT_EQ(errno_of([&] { kernel.map_freeze(proc, ro); }), EPERM);
  int wo = kernel.map_create(proc, array_attr(4, 1, kFWronly));
  EXPECT_EQ(errno_of([&] { kernel.map_lookup(proc, wo, u32_key(0)); }), EPERM);
  EXPECT_EQ(errno_of([&] { kernel.map_update(proc, wo, u32_key(0), u32_key(1)); }), 0);
}

TEST_F(KmodelTest, WritableMmapAndFreezeExcludeEachOther) {
  int fd = kernel.map_create(proc, array_attr(8, 2, kFMmapable));
  MmapHandle rw = kernel.map_mmap(proc, fd, true);
  EXPECT_EQ(errno_of([&] { kernel.map_freeze(proc, fd); }), EBUSY);
  kernel.mmap_write(rw, 8, pattern(8, 3));
  EXPECT_EQ(kernel.map_lookup(proc, fd, u32_key(1)), pattern(8, 3));
  EXPECT_EQ(errno_of([&] { kernel.mmap_write(rw, 12, pattern(8, 3)); }), EFAULT);
  kernel.munmap(rw);
  kernel.map_freeze(proc, fd);
  EXPECT_EQ(errno_of([&] { kernel.map_mmap(proc, fd, true); }), EPERM);
  MmapHandle ro = kernel.map_mmap(proc, fd, false);
  EXPECT_EQ(errno_of([&] { kernel.mmap_write(ro, 0, pattern(1, 1)); }), EFAULT);
}

TEST_F(KmodelTest, MmapRefusals) {
  int plain = kernel.map_create(proc, array_attr(8, 1));
  EXPECT_EQ(errno_of([&] { kernel.map_mmap(proc, plain, false); }), EINVAL);
  int hash = kernel.map_create(proc, MapCreateAttr{kMapHash, 4, 4, 1, 0, "h", {}});
  EXPECT_EQ(errno_of([&] { kernel.map_mmap(proc, hash, false); }), kENOTSUPP);
  int rdonly_prog = kernel.map_create(proc, array_attr(8, 1, kFMmapable | kFRdonlyProg));
  EXPECT_EQ(errno_of([&] { kernel.map_mmap(proc, rdonly_prog, true); }), EACCES);
  EXPECT_EQ(errno_of([&] { kernel.map_mmap(proc, rdonly_prog, false); }), 0);
  int rdonly = kernel.map_create(proc, array_attr(8, 1, kFMmapable | kFRdonly));
  EXPECT_EQ(errno_of([&] { kernel.map_mmap(proc, rdonly, true); }), EACCES);
}

// ---- map hashes -----------------------------------------------------------------

TEST_F(KmodelTest, ArrayHashIsOverPaddedElements) {
  for (uint32_t value_size : {4u, 8u, 13u, 4096u}) {
    for (uint32_t max_entries : {1u, 3u}) {
      int fd = kernel.map_create(proc, array_attr(value_size, max_entries));
      std::vector<Bytes> values;
      for (uint32_t i = 0; i < max_entries; ++i) {
        values.push_back(pattern(value_size, static_cast<uint8_t>(i + 1)));
        kernel.map_update(proc, fd, u32_key(i), values.back());
      }
      kernel.map_freeze(proc, fd);
      EXPECT_EQ(kernel.map_get_hash(proc, fd), expected_array_hash(values, value_size))
          << value_size << " x " << max_entries;
      if (max_entries == 1) {
        EXPECT_EQ(kernel.map_get_hash(proc, fd), crypto::sha256_padded8(values[0]));
      }
    }
  }
}

TEST_F(KmodelTest, HashRequestErrnos) {
  int array = kernel.map_create(proc, array_attr(8, 1));
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(proc, array); }), EPERM);  // not frozen
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(proc, array, 31); }), EINVAL);  // size is checked first
  kernel.map_freeze(proc, array);
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(proc, array, 64); }), EINVAL);
  int hash = kernel.map_create(proc, MapCreateAttr{kMapHash, 4, 4, 1, 0, "h", {}});
  kernel.map_freeze(proc, hash);
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(proc, hash); }), EINVAL);
  int percpu = kernel.map_create(proc, MapCreateAttr{kMapPercpuArray, 4, 4, 1, 0, "p", {}});
  kernel.map_freeze(proc, percpu);
  EXPECT_EQ(errno_of([&] { kernel.map_get_hash(proc, percpu); }), EINVAL);
}

TEST_F(KmodelTest, MapStructPrefixHoldsShaOnlyAfterGetInfoAndExcl) {
  Bytes excl(32, 0xab);
  int fd = kernel.map_create(proc, MapCreateAttr{kMapArray, 4, 8, 1, 0, "m", excl});
  kernel.map_update(proc, fd, u32_key(0), pattern(8, 5));
  kernel.map_freeze(proc, fd);
  auto before = kernel.map_struct_prefix(proc, fd);
  EXPECT_TRUE(std::all_of(before.begin(), before.begin() + 32, [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(load_le32(before.data() + 32), 1u);
  crypto::Digest hash = kernel.map_get_hash(proc, fd);
  auto after = kernel.map_struct_prefix(proc, fd);
  EXPECT_TRUE(std::equal(hash.begin(), hash.end(), after.begin()));
  EXPECT_TRUE(kernel.map_info(proc, fd).exclusive);

  int plain = kernel.map_create(proc, array_attr(8, 1));
  EXPECT_EQ(load_le32(kernel.map_struct_prefix(proc, plain).data() + 32), 0u);
}

TEST(KmodelToctou, StaleHashSurvivesUpdateAndFreezeOnOldKernels) {
  Kernel old_kernel(KernelProfile::pre_2026_toctou());
  Process& proc = old_kernel.spawn("loader");
  int fd = old_kernel.map_create(proc, array_attr(8, 1));
  Bytes signed_value = pattern(8, 1), attacker_value = pattern(8, 99);
  old_kernel.map_update(proc, fd, u32_key(0), signed_value);
  crypto::Digest fetched = old_kernel.map_get_hash(proc, fd);  // unfrozen: allowed here
  old_kernel.map_update(proc, fd, u32_key(0), attacker_value);
  old_kernel.map_freeze(proc, fd);
  auto prefix = old_kernel.map_struct_prefix(proc, fd);
  // The loader compares map->sha: it still holds the hash of the signed value.
  EXPECT_TRUE(std::equal(fetched.begin(), fetched.end(), prefix.begin()));
  EXPECT_EQ(fetched, crypto::sha256_padded8(signed_value));
  EXPECT_EQ(old_kernel.map_lookup(proc, fd, u32_key(0)), attacker_value);
}

TEST(KmodelToctou, FixedKernelRefusesTheEarlyFetch) {
  Kernel fixed(KernelProfile::linux_6_18());
  Process& proc = fixed.spawn("loader");
  int fd = fixed.map_create(proc, array_attr(8, 1));
  fixed.map_update(proc, fd, u32_key(0), pattern(8, 1));
  EXPECT_EQ(errno_of([&] { fixed.map_get_hash(proc, fd); }), EPERM);
  fixed.map_update(proc, fd, u32_key(0), pattern(8, 99));
  fixed.map_freeze(proc, fd);
  EXPECT_EQ(fixed.map_get_hash(proc, fd), crypto::sha256_padded8(pattern(8, 99)));
}

// ---- exclusive maps and digests -------------------------------------------------

TEST_F(KmodelTest, ExclusiveMapAdmitsOnlyItsProgram) {
  Bytes insns = pattern(8 * 4, 3);
  crypto::Digest digest = Kernel::prog_digest(insns);
  EXPECT_EQ(digest, skel::prog_digest(insns));
  int excl = kernel.map_create(proc, MapCreateAttr{kMapArray, 4, 8, 1, 0, "e", Bytes(digest.begin(), digest.end())});
  EXPECT_EQ(kernel.check_exclusive(proc, excl, digest), 0);
  crypto::Digest other = Kernel::prog_digest(pattern(8 * 4, 4));
  EXPECT_EQ(kernel.check_exclusive(proc, excl, other), -EACCES);
  int plain = kernel.map_create(proc, array_attr(8, 1));
  EXPECT_EQ(kernel.check_exclusive(proc, plain, other), 0);
}

// ---- BTF ----------------------------------------------------------------------------

using test::minimal_btf;

struct BtfCase {
  const char* what;
  std::function<void(Bytes&)> corrupt;
  int err;
};

std::vector<BtfCase> btf_cases() {
  return {
      {"valid", [](Bytes&) {}, 0},
      {"bad magic", [](Bytes& b) { store_le16(&b[0], 0x9FeB); }, EINVAL},
      {"version 2", [](Bytes& b) { b[2] = 2; }, kENOTSUPP},
      {"flags 1", [](Bytes& b) { b[3] = 1; }, kENOTSUPP},
      {"truncated header", [](Bytes& b) { b.resize(6); }, EINVAL},
      {"hdr_len past blob", [](Bytes& b) { store_le32(&b[4], 100); }, EINVAL},
      {"no data", [](Bytes& b) { b.resize(24); }, EINVAL},
      {"sections overlap", [](Bytes& b) { store_le32(&b[16], 12); store_le32(&b[20], 9); }, EINVAL},
      {"gap before strings", [](Bytes& b) { store_le32(&b[12], 12); }, EINVAL},
      {"strings past the end", [](Bytes& b) { store_le32(&b[20], 6); }, EINVAL},
      {"strings not starting with NUL", [](Bytes& b) { b[40] = 'x'; }, EINVAL},
      {"strings not NUL-terminated", [](Bytes& b) { b[44] = 'x'; }, EINVAL},
      {"longer header with non-zero tail", [](Bytes& b) {
         b.insert(b.begin() + 24, {1, 0, 0, 0});
         store_le32(&b[4], 28);
       }, E2BIG},
  };
}

TEST_F(KmodelTest, BtfHeaderChecks) {
  for (const auto& c : btf_cases()) {
    Bytes blob = minimal_btf();
    c.corrupt(blob);
    EXPECT_EQ(errno_name(errno_of([&] { kernel.btf_load(proc, blob); })), errno_name(c.err)) << c.what;
  }
}

TEST_F(KmodelTest, BtfObjectsHaveIdsAndRefcounts) {
  int fd = kernel.btf_load(proc, minimal_btf());
  BtfInfo info = kernel.btf_info(proc, fd);
  EXPECT_EQ(info.id, 1u);
  EXPECT_EQ(info.size, minimal_btf().size());
  EXPECT_EQ(errno_of([&] { kernel.map_info(proc, fd); }), EINVAL);  // not a map
  kernel.close(proc, fd);
  EXPECT_FALSE(kernel.btf_alive(1));
}

// ---- differential: the running kernel against the model ----------------------------

// The operations a script may run, on either kernel. Errors are thrown as
// bpfsig::Error with the kernel's errno.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual int create(const MapCreateAttr& attr) = 0;
  virtual void update(int fd, ByteView key, ByteView value, uint64_t flags) = 0;
  virtual Bytes lookup(int fd, ByteView key) = 0;
  virtual void remove(int fd, ByteView key) = 0;
  virtual void freeze(int fd) = 0;
  virtual crypto::Digest hash(int fd, uint32_t hash_size) = 0;
  virtual uintptr_t mmap(int fd, bool writable, size_t length) = 0;
  virtual void mmap_write(uintptr_t mapping, size_t offset, ByteView bytes) = 0;
  virtual void munmap(uintptr_t mapping) = 0;
  virtual int btf_load(ByteView blob) = 0;
  virtual void close(int fd) = 0;
  // A GPL program of prog_type: "r0 = 0; exit".
  virtual int prog_load(uint32_t prog_type) = 0;
  virtual uint32_t prog_id(int fd) = 0;
  virtual int link_create(int prog_fd, uint32_t attach_type, uint32_t ifindex, uint32_t flags) = 0;
};

Bytes return_zero_insns() { return isa::encode({isa::mov64_imm(0, 0), isa::exit_insn()}); }

class ModelBackend : public Backend {
 public:
  explicit ModelBackend(uint32_t nr_cpus) : kernel_(profile(nr_cpus)), proc_(kernel_.spawn("diff")) {}
  int create(const MapCreateAttr& attr) override { return kernel_.map_create(proc_, attr); }
  void update(int fd, ByteView key, ByteView value, uint64_t flags) override {
    kernel_.map_update(proc_, fd, key, value, flags);
  }
  Bytes lookup(int fd, ByteView key) override { return kernel_.map_lookup(proc_, fd, key); }
  void remove(int fd, ByteView key) override { kernel_.map_delete(proc_, fd, key); }
  void freeze(int fd) override { kernel_.map_freeze(proc_, fd); }
  crypto::Digest hash(int fd, uint32_t hash_size) override { return kernel_.map_get_hash(proc_, fd, hash_size); }
  uintptr_t mmap(int fd, bool writable, size_t) override { return kernel_.map_mmap(proc_, fd, writable); }
  void mmap_write(uintptr_t mapping, size_t offset, ByteView bytes) override {
    kernel_.mmap_write(static_cast<MmapHandle>(mapping), offset, bytes);
  }
  void munmap(uintptr_t mapping) override { kernel_.munmap(static_cast<MmapHandle>(mapping)); }
  int btf_load(ByteView blob) override { return kernel_.btf_load(proc_, blob); }
  void close(int fd) override { kernel_.close(proc_, fd); }
  int prog_load(uint32_t prog_type) override {
    ProgLoadAttr attr;
    attr.prog_type = prog_type;
    attr.insns = return_zero_insns();
    attr.license = "GPL";
    attr.name = "p";
    return kernel_.prog_load(proc_, attr);
  }
  uint32_t prog_id(int fd) override { return kernel_.prog_info(proc_, fd).id; }
  int link_create(int prog_fd, uint32_t attach_type, uint32_t ifindex, uint32_t flags) override {
    return kernel_.link_create(proc_, prog_fd, attach_type, ifindex, flags);
  }

 private:
  static KernelProfile profile(uint32_t nr_cpus) {
    KernelProfile p = KernelProfile::linux_6_18();
    p.nr_cpus = nr_cpus;
    return p;
  }
  Kernel kernel_;
  Process& proc_;
};

// The running kernel through sys:: (and raw bpf(2) for what sys:: does not
// wrap: DELETE_ELEM, a hash_size other than 32, BTF_LOAD).
class RealBackend : public Backend {
 public:
  ~RealBackend() override {
    for (auto& [addr, length] : mappings_) ::munmap(reinterpret_cast<void*>(addr), length);
    for (int fd : fds_) ::close(fd);
  }
  int create(const MapCreateAttr& a) override {
    int fd = sys::map_create(sys::MapCreate{a.type, a.name, a.key_size, a.value_size, a.max_entries, a.flags,
                                            a.excl_prog_hash});
    fds_.push_back(fd);
    return fd;
  }
  void update(int fd, ByteView key, ByteView value, uint64_t flags) override { sys::map_update(fd, key, value, flags); }
  Bytes lookup(int fd, ByteView key) override {
    Bytes value;
    sys::map_lookup(fd, key, value);
    return value;
  }
  void remove(int fd, ByteView key) override {
    uapi::MapElemAttr attr{};
    attr.map_fd = static_cast<uint32_t>(fd);
    attr.key = reinterpret_cast<uintptr_t>(key.data());
    sys::detail::bpf_call(kBpfMapDeleteElem, &attr, sizeof attr);
  }
  void freeze(int fd) override { sys::map_freeze(fd); }
  crypto::Digest hash(int fd, uint32_t hash_size) override {
    if (hash_size == kSha256Size) return sys::map_get_hash(fd);
    Bytes buf(hash_size + 64);
    uapi::MapInfo info{};
    info.hash = reinterpret_cast<uintptr_t>(buf.data());
    info.hash_size = hash_size;
    uapi::GetInfoAttr attr{};
    attr.bpf_fd = static_cast<uint32_t>(fd);
    attr.info_len = sizeof info;
    attr.info = reinterpret_cast<uintptr_t>(&info);
    sys::detail::bpf_call(uapi::kObjGetInfoByFd, &attr, sizeof attr);
    ADD_FAILURE() << "the kernel returned a hash of size " << hash_size;
    return {};
  }
  uintptr_t mmap(int fd, bool writable, size_t length) override {
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* addr = ::mmap(nullptr, length, prot, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) throw Error(errno, "mmap", "mmap of a map fd failed");
    mappings_[reinterpret_cast<uintptr_t>(addr)] = length;
    return reinterpret_cast<uintptr_t>(addr);
  }
  void mmap_write(uintptr_t mapping, size_t offset, ByteView bytes) override {
    std::memcpy(reinterpret_cast<uint8_t*>(mapping) + offset, bytes.data(), bytes.size());
  }
  void munmap(uintptr_t mapping) override {
    ::munmap(reinterpret_cast<void*>(mapping), mappings_.at(mapping));
    mappings_.erase(mapping);
  }
  int btf_load(ByteView blob) override {
    BtfLoadAttr attr{};
    attr.btf = reinterpret_cast<uintptr_t>(blob.data());
    attr.btf_size = static_cast<uint32_t>(blob.size());
    int fd = static_cast<int>(sys::detail::bpf_call(kBpfBtfLoad, &attr, sizeof attr));
    fds_.push_back(fd);
    return fd;
  }
  void close(int fd) override {
    ::close(fd);
    fds_.erase(std::find(fds_.begin(), fds_.end(), fd));
  }
  int prog_load(uint32_t prog_type) override {
    sys::ProgLoad req;
    req.prog_type = prog_type;
    req.name = "p";
    req.insns = return_zero_insns();
    req.license = "GPL";
    req.prog_flags = 0;
    int fd = sys::prog_load(req);
    fds_.push_back(fd);
    return fd;
  }
  uint32_t prog_id(int fd) override { return sys::prog_info(fd).id; }
  int link_create(int prog_fd, uint32_t attach_type, uint32_t ifindex, uint32_t flags) override {
    struct {  // the BPF_LINK_CREATE prefix of union bpf_attr
      uint32_t prog_fd, target_ifindex, attach_type, flags;
    } attr{static_cast<uint32_t>(prog_fd), ifindex, attach_type, flags};
    constexpr int kBpfLinkCreate = 28;
    int fd = static_cast<int>(sys::detail::bpf_call(kBpfLinkCreate, &attr, sizeof attr));
    fds_.push_back(fd);
    return fd;
  }

 private:
  static constexpr int kBpfMapDeleteElem = 3;
  static constexpr int kBpfBtfLoad = 18;
  struct BtfLoadAttr {  // the BPF_BTF_LOAD prefix of union bpf_attr
    uint64_t btf;
    uint64_t btf_log_buf;
    uint32_t btf_size;
    uint32_t btf_log_size;
    uint32_t btf_log_level;
  };
  std::vector<int> fds_;
  std::map<uintptr_t, size_t> mappings_;
};

// Runs steps against one backend and writes down what each one answered:
// "ok", "ok <hex>" or the errno name.
class Transcript {
 public:
  explicit Transcript(Backend& backend) : backend_(backend) {}
  Backend& backend() { return backend_; }
  void step(const std::string& label, const std::function<std::string(Backend&)>& fn) {
    std::string outcome;
    try {
      outcome = fn(backend_);
    } catch (const Error& e) {
      outcome = e.err_name();
    }
    lines_.push_back(label + ": " + outcome);
  }
  // A step whose result (an fd) the script needs later; -1 when it failed.
  int create(const std::string& label, const MapCreateAttr& attr) {
    int fd = -1;
    step(label, [&](Backend& b) {
      fd = b.create(attr);
      return std::string("ok");
    });
    return fd;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  Backend& backend_;
  std::vector<std::string> lines_;
};

using Script = std::function<void(Transcript&)>;

std::string ok() { return "ok"; }
std::string ok(ByteView bytes) { return "ok " + to_hex(bytes); }

uint32_t possible_cpus() {
  int cpus = libbpf_num_possible_cpus();
  return cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
}


// Runs script on the running kernel and on the model; the transcripts must
// match line for line.
void expect_same_as_kernel(const Script& script) {
  RealBackend real;
  ModelBackend model(possible_cpus());
  Transcript real_run(real), model_run(model);
  script(real_run);
  script(model_run);
  if (std::getenv("BPFSIG_KMODEL_TRANSCRIPT"))  // to see what the kernel answered
    for (const auto& line : real_run.lines()) std::cout << "kernel " << line << "\n";
  ASSERT_EQ(real_run.lines().size(), model_run.lines().size());
  for (size_t i = 0; i < real_run.lines().size(); ++i)
    EXPECT_EQ(model_run.lines()[i], real_run.lines()[i]) << "step " << i << " (model vs kernel)";
}

void create_script(Transcript& t, const std::vector<CreateCase>& cases) {
  for (const auto& c : cases) {
    int fd = t.create(c.what, c.attr);
    if (fd >= 0) t.backend().close(fd);
  }
}

TEST(KmodelDifferential, MapCreate) {
  SKIP_UNLESS(test::missing_bpf());
  expect_same_as_kernel([](Transcript& t) { create_script(t, create_cases()); });
}

TEST(KmodelDifferential, MapCreateExclusive) {
  SKIP_UNLESS(test::missing_excl_maps());
  expect_same_as_kernel([](Transcript& t) { create_script(t, exclusive_create_cases()); });
}

TEST(KmodelDifferential, ArrayElements) {
  SKIP_UNLESS(test::missing_bpf());
  expect_same_as_kernel([](Transcript& t) {
    int fd = t.create("create", array_attr(13, 3));
    Bytes v = pattern(13, 1);
    t.step("update 2", [&](Backend& b) { b.update(fd, u32_key(2), v, kAny); return ok(); });
    t.step("lookup 2", [&](Backend& b) { return ok(b.lookup(fd, u32_key(2))); });
    t.step("lookup 0", [&](Backend& b) { return ok(b.lookup(fd, u32_key(0))); });
    t.step("update 3", [&](Backend& b) { b.update(fd, u32_key(3), v, kAny); return ok(); });
    t.step("update noexist", [&](Backend& b) { b.update(fd, u32_key(0), v, kNoExist); return ok(); });
    t.step("update exist", [&](Backend& b) { b.update(fd, u32_key(0), v, kExist); return ok(); });
    t.step("update flags 3", [&](Backend& b) { b.update(fd, u32_key(0), v, 3); return ok(); });
    t.step("update f_lock", [&](Backend& b) { b.update(fd, u32_key(0), v, kFLock); return ok(); });
    t.step("lookup 3", [&](Backend& b) { return ok(b.lookup(fd, u32_key(3))); });
    t.step("delete 0", [&](Backend& b) { b.remove(fd, u32_key(0)); return ok(); });
  });
}

TEST(KmodelDifferential, HashElementsUntilFull) {
  SKIP_UNLESS(test::missing_bpf());
  for (uint32_t flags : {0u, kFNoPrealloc}) {
    expect_same_as_kernel([flags](Transcript& t) {
      int fd = t.create("create", MapCreateAttr{kMapHash, 4, 8, 2, flags, "h", {}});
      auto update = [&](uint32_t key, uint8_t seed, uint64_t f) {
        t.step("update " + std::to_string(key) + " flags " + std::to_string(f),
               [&](Backend& b) { b.update(fd, u32_key(key), pattern(8, seed), f); return ok(); });
      };
      update(1, 1, kAny);
      update(2, 2, kAny);
      update(3, 3, kAny);  // full
      update(1, 4, kAny);  // replacing is fine when full
      update(1, 4, kNoExist);
      update(9, 4, kExist);
      t.step("lookup 1", [&](Backend& b) { return ok(b.lookup(fd, u32_key(1))); });
      t.step("delete 2", [&](Backend& b) { b.remove(fd, u32_key(2)); return ok(); });
      t.step("delete 2 again", [&](Backend& b) { b.remove(fd, u32_key(2)); return ok(); });
      t.step("lookup 2", [&](Backend& b) { return ok(b.lookup(fd, u32_key(2))); });
      update(3, 3, kAny);
      t.step("lookup 3", [&](Backend& b) { return ok(b.lookup(fd, u32_key(3))); });
    });
  }
}

TEST(KmodelDifferential, PercpuArrayElements) {
  SKIP_UNLESS(test::missing_bpf());
  expect_same_as_kernel([](Transcript& t) {
    int fd = t.create("create", MapCreateAttr{kMapPercpuArray, 4, 5, 2, 0, "p", {}});
    Bytes value = pattern(8 * possible_cpus(), 9);
    t.step("update 1", [&](Backend& b) { b.update(fd, u32_key(1), value, kAny); return ok(); });
    t.step("lookup 1", [&](Backend& b) { return ok(b.lookup(fd, u32_key(1))); });
    t.step("update noexist", [&](Backend& b) { b.update(fd, u32_key(1), value, kNoExist); return ok(); });
    t.step("update 2", [&](Backend& b) { b.update(fd, u32_key(2), value, kAny); return ok(); });
    t.step("delete 1", [&](Backend& b) { b.remove(fd, u32_key(1)); return ok(); });
  });
}

TEST(KmodelDifferential, RingbufAndProgArrayElements) {
  SKIP_UNLESS(test::missing_bpf());
  expect_same_as_kernel([](Transcript& t) {
    int rb = t.create("ringbuf", MapCreateAttr{kMapRingbuf, 0, 0, 4096, 0, "r", {}});
    t.step("ringbuf lookup", [&](Backend& b) { return ok(b.lookup(rb, {})); });
    t.step("ringbuf update", [&](Backend& b) { b.update(rb, {}, {}, kAny); return ok(); });
    t.step("ringbuf delete", [&](Backend& b) { b.remove(rb, {}); return ok(); });
    int pa = t.create("prog array", MapCreateAttr{kMapProgArray, 4, 4, 4, 0, "pa", {}});
    t.step("prog array lookup", [&](Backend& b) { return ok(b.lookup(pa, u32_key(0))); });
    t.step("prog array delete", [&](Backend& b) { b.remove(pa, u32_key(0)); return ok(); });
    t.step("prog array delete 4", [&](Backend& b) { b.remove(pa, u32_key(4)); return ok(); });
    auto fd_value = [&](int fd) { return u32_key(static_cast<uint32_t>(fd)); };
    t.step("prog array update noexist", [&](Backend& b) { b.update(pa, u32_key(0), fd_value(pa), kNoExist); return ok(); });
    t.step("prog array update 4", [&](Backend& b) { b.update(pa, u32_key(4), fd_value(pa), kAny); return ok(); });
    t.step("prog array update bad fd", [&](Backend& b) { b.update(pa, u32_key(0), fd_value(999), kAny); return ok(); });
    t.step("prog array update map fd", [&](Backend& b) { b.update(pa, u32_key(0), fd_value(pa), kAny); return ok(); });
  });
}

// Program slots: the first program fixes the owner type, a slot's lookup
// gives the program's id, and a slot keeps its program after the fd closes.
TEST(KmodelDifferential, ProgArrayHoldsPrograms) {
  SKIP_UNLESS(test::missing_bpf());
  constexpr uint32_t kSocketFilter = 1;
  expect_same_as_kernel([](Transcript& t) {
    int pa = t.create("prog array", MapCreateAttr{kMapProgArray, 4, 4, 4, 0, "pa", {}});
    int first = -1, second = -1, xdp = -1;
    t.step("load filter 1", [&](Backend& b) { first = b.prog_load(kSocketFilter); return ok(); });
    t.step("load filter 2", [&](Backend& b) { second = b.prog_load(kSocketFilter); return ok(); });
    t.step("load xdp", [&](Backend& b) { xdp = b.prog_load(kProgXdp); return ok(); });
    auto fd_value = [](int fd) { return u32_key(static_cast<uint32_t>(fd)); };
    auto slot_holds = [&](Backend& b, uint32_t slot, uint32_t id) {
      return load_le32(b.lookup(pa, u32_key(slot)).data()) == id ? std::string("ok holds it") : std::string("other id");
    };
    t.step("store filter 1 noexist", [&](Backend& b) { b.update(pa, u32_key(0), fd_value(first), kNoExist); return ok(); });
    t.step("store filter 1", [&](Backend& b) { b.update(pa, u32_key(0), fd_value(first), kAny); return ok(); });
    t.step("lookup 0", [&](Backend& b) { return slot_holds(b, 0, b.prog_id(first)); });
    t.step("store xdp", [&](Backend& b) { b.update(pa, u32_key(1), fd_value(xdp), kAny); return ok(); });
    t.step("lookup 1 after xdp", [&](Backend& b) { return ok(b.lookup(pa, u32_key(1))); });
    t.step("store filter 2", [&](Backend& b) { b.update(pa, u32_key(1), fd_value(second), kAny); return ok(); });
    uint32_t second_id = 0;
    t.step("id of filter 2", [&](Backend& b) { second_id = b.prog_id(second); return ok(); });
    t.step("close filter 2", [&](Backend& b) { b.close(second); return ok(); });
    t.step("lookup 1 after close", [&](Backend& b) { return slot_holds(b, 1, second_id); });
    t.step("replace 1 with filter 1", [&](Backend& b) { b.update(pa, u32_key(1), fd_value(first), kAny); return ok(); });
    t.step("lookup 1 replaced", [&](Backend& b) { return slot_holds(b, 1, b.prog_id(first)); });
    t.step("delete 0", [&](Backend& b) { b.remove(pa, u32_key(0)); return ok(); });
    t.step("lookup 0 deleted", [&](Backend& b) { return ok(b.lookup(pa, u32_key(0))); });
    t.step("freeze", [&](Backend& b) { b.freeze(pa); return ok(); });
    t.step("store after freeze", [&](Backend& b) { b.update(pa, u32_key(2), fd_value(first), kAny); return ok(); });
  });
}

// XDP links on loopback (generic mode only): the checks of link_create and
// dev_xdp_attach, and the slot freed when the link's fd closes. Native and
// offload attaches come before, while and after a generic link, so the
// model's answer is checked against the kernel's in every state lo can be in.
TEST(KmodelDifferential, XdpLinksOnLoopback) {
  SKIP_UNLESS(test::missing_bpf());
  constexpr uint32_t kSocketFilter = 1;
  expect_same_as_kernel([](Transcript& t) {
    int xdp = -1, other = -1, filter = -1, link = -1;
    t.step("load xdp", [&](Backend& b) { xdp = b.prog_load(kProgXdp); return ok(); });
    t.step("load xdp 2", [&](Backend& b) { other = b.prog_load(kProgXdp); return ok(); });
    t.step("load filter", [&](Backend& b) { filter = b.prog_load(kSocketFilter); return ok(); });
    auto attach = [&](const std::string& label, int* prog, uint32_t ifindex, uint32_t flags, int* out = nullptr) {
      t.step(label, [&, prog, ifindex, flags, out](Backend& b) {
        int fd = b.link_create(*prog, kAttachXdp, ifindex, flags);
        if (out) *out = fd;
        return ok();
      });
    };
    attach("socket filter as xdp", &filter, kLoopbackIfindex, 0);
    attach("no such device", &xdp, 99999, 0);
    attach("unknown flag", &xdp, kLoopbackIfindex, 1u << 20);
    attach("replace flag", &xdp, kLoopbackIfindex, kXdpFlagsReplace);
    attach("update-if-noexist flag", &xdp, kLoopbackIfindex, kXdpFlagsUpdateIfNoexist);
    attach("two modes", &xdp, kLoopbackIfindex, kXdpFlagsSkbMode | kXdpFlagsDrvMode);
    attach("native mode", &xdp, kLoopbackIfindex, kXdpFlagsDrvMode);
    attach("offload mode", &xdp, kLoopbackIfindex, kXdpFlagsHwMode);
    attach("generic", &xdp, kLoopbackIfindex, kXdpFlagsSkbMode, &link);
    attach("second generic", &other, kLoopbackIfindex, 0);
    attach("second generic, skb flag", &other, kLoopbackIfindex, kXdpFlagsSkbMode);
    attach("second native", &other, kLoopbackIfindex, kXdpFlagsDrvMode);
    attach("native, the linked program", &xdp, kLoopbackIfindex, kXdpFlagsDrvMode);
    attach("offload while generic", &other, kLoopbackIfindex, kXdpFlagsHwMode);
    t.step("close link", [&](Backend& b) { b.close(link); return ok(); });
    attach("native after close", &other, kLoopbackIfindex, kXdpFlagsDrvMode);
    attach("generic after close", &other, kLoopbackIfindex, 0, &link);
    attach("native while the new link", &xdp, kLoopbackIfindex, kXdpFlagsDrvMode);
    t.step("close new link", [&](Backend& b) { b.close(link); return ok(); });
  });
}

TEST(KmodelDifferential, FreezeThenWrite) {
  SKIP_UNLESS(test::missing_bpf());
  expect_same_as_kernel([](Transcript& t) {
    for (uint32_t type : {kMapArray, kMapHash, kMapRingbuf, kMapProgArray}) {
      std::string name = "type " + std::to_string(type);
      MapCreateAttr attr{type, 4, 4, 2, 0, "f", {}};
      if (type == kMapRingbuf) attr = MapCreateAttr{type, 0, 0, 4096, 0, "f", {}};
      int fd = t.create(name, attr);
      if (type == kMapArray || type == kMapHash)
        t.step(name + " update", [&](Backend& b) { b.update(fd, u32_key(1), u32_key(7), kAny); return ok(); });
      t.step(name + " freeze", [&](Backend& b) { b.freeze(fd); return ok(); });
      if (type == kMapArray || type == kMapHash) {
        t.step(name + " update frozen", [&](Backend& b) { b.update(fd, u32_key(1), u32_key(8), kAny); return ok(); });
        t.step(name + " delete frozen", [&](Backend& b) { b.remove(fd, u32_key(1)); return ok(); });
        t.step(name + " lookup frozen", [&](Backend& b) { return ok(b.lookup(fd, u32_key(1))); });
      }
      t.step(name + " freeze again", [&](Backend& b) { b.freeze(fd); return ok(); });
    }
    int ro = t.create("rdonly", array_attr(4, 1, kFRdonly));
    t.step("rdonly update", [&](Backend& b) { b.update(ro, u32_key(0), u32_key(1), kAny); return ok(); });
    t.step("rdonly freeze", [&](Backend& b) { b.freeze(ro); return ok(); });
    int wo = t.create("wronly", array_attr(4, 1, kFWronly));
    t.step("wronly lookup", [&](Backend& b) { return ok(b.lookup(wo, u32_key(0))); });
  });
}

TEST(KmodelDifferential, ArrayHashes) {
  SKIP_UNLESS(test::missing_map_hash());
  expect_same_as_kernel([](Transcript& t) {
    for (uint32_t value_size : {4u, 8u, 13u, 4096u}) {
      for (uint32_t max_entries : {1u, 3u}) {
        std::string name = std::to_string(value_size) + "x" + std::to_string(max_entries);
        int fd = t.create(name, array_attr(value_size, max_entries));
        for (uint32_t i = 0; i < max_entries; ++i)
          t.step(name + " update", [&](Backend& b) {
            b.update(fd, u32_key(i), pattern(value_size, static_cast<uint8_t>(i + 1)), kAny);
            return ok();
          });
        t.step(name + " hash unfrozen", [&](Backend& b) { return ok(b.hash(fd, 32)); });
        t.step(name + " freeze", [&](Backend& b) { b.freeze(fd); return ok(); });
        t.step(name + " hash", [&](Backend& b) { return ok(b.hash(fd, 32)); });
        t.step(name + " hash_size 31", [&](Backend& b) { return ok(b.hash(fd, 31)); });
        t.backend().close(fd);
      }
    }
    for (uint32_t type : {kMapHash, kMapPercpuArray}) {
      int fd = t.create("type " + std::to_string(type), MapCreateAttr{type, 4, 8, 1, 0, "h", {}});
      t.step("freeze", [&](Backend& b) { b.freeze(fd); return ok(); });
      t.step("hash of type " + std::to_string(type), [&](Backend& b) { return ok(b.hash(fd, 32)); });
    }
  });
}

TEST(KmodelDifferential, MmapAndFreeze) {
  SKIP_UNLESS(test::missing_map_hash());
  expect_same_as_kernel([](Transcript& t) {
    const size_t page = 4096;
    int fd = t.create("mmapable", array_attr(8, 2, kFMmapable));
    uintptr_t rw = 0;
    t.step("mmap rw", [&](Backend& b) { rw = b.mmap(fd, true, page); return ok(); });
    t.step("freeze while mapped", [&](Backend& b) { b.freeze(fd); return ok(); });
    t.step("write through mapping", [&](Backend& b) { b.mmap_write(rw, 8, pattern(8, 3)); return ok(); });
    t.step("lookup 1", [&](Backend& b) { return ok(b.lookup(fd, u32_key(1))); });
    t.step("munmap", [&](Backend& b) { b.munmap(rw); return ok(); });
    t.step("freeze", [&](Backend& b) { b.freeze(fd); return ok(); });
    t.step("hash", [&](Backend& b) { return ok(b.hash(fd, 32)); });
    t.step("mmap rw frozen", [&](Backend& b) { b.mmap(fd, true, page); return ok(); });
    t.step("mmap ro frozen", [&](Backend& b) { b.mmap(fd, false, page); return ok(); });
    int plain = t.create("plain", array_attr(8, 1));
    t.step("mmap plain", [&](Backend& b) { b.mmap(plain, false, page); return ok(); });
    int hash = t.create("hash", MapCreateAttr{kMapHash, 4, 4, 1, 0, "h", {}});
    t.step("mmap hash", [&](Backend& b) { b.mmap(hash, false, page); return ok(); });
    int rdonly_prog = t.create("rdonly_prog", array_attr(8, 1, kFMmapable | kFRdonlyProg));
    t.step("mmap rdonly_prog rw", [&](Backend& b) { b.mmap(rdonly_prog, true, page); return ok(); });
    t.step("mmap rdonly_prog ro", [&](Backend& b) { b.mmap(rdonly_prog, false, page); return ok(); });
  });
}

TEST(KmodelDifferential, BtfHeaders) {
  SKIP_UNLESS(test::missing_bpf());
  expect_same_as_kernel([](Transcript& t) {
    for (const auto& c : btf_cases()) {
      Bytes blob = minimal_btf();
      c.corrupt(blob);
      int fd = -1;
      t.step(c.what, [&](Backend& b) { fd = b.btf_load(blob); return ok(); });
      if (fd >= 0) t.backend().close(fd);
    }
  });
}

}  // namespace
