// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "support/support.h"

using namespace bpfsig;

TEST(Hex, RoundTrip) {
  Bytes b = {0x00, 0x7f, 0xff, 0x10};
  EXPECT_EQ(to_hex(b), "007fff10");
  EXPECT_EQ(from_hex("007FFF10"), b);
}

TEST(Hex, RejectsOddAndNonHex) {
  EXPECT_THROW(from_hex("abc"), Error);
  try {
    from_hex("zz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "hex");
  }
}

TEST(Files, AtomicWriteReplacesAndKeepsMode) {
  test::TempDir dir;
  std::string p = dir.file("out.bin");
  write_file_atomic(p, std::string("first"), Access::kPrivate);
  write_file_atomic(p, std::string("second"), Access::kPrivate);
  EXPECT_EQ(test::read_text(p), "second");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Files, AtomicWriteIntoMissingDirFailsCleanly) {
  test::TempDir dir;
  try {
    write_file_atomic(dir.file("nope/out.bin"), std::string("x"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("nope/out.bin"), std::string::npos);
  }
}

TEST(Files, ReadRefusesOversizedBeforeReading) {
  test::TempDir dir;
  test::write_text(dir.file("big"), std::string(100, 'x'));
  try {
    read_file(dir.file("big"), 10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EFBIG);
    EXPECT_EQ(e.kind(), "input_too_large");
  }
  EXPECT_EQ(read_file(dir.file("big"), 100).size(), 100u);
}

TEST(Files, ReadMissingNamesPath) {
  try {
    read_file("/nonexistent/bpfsig");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/bpfsig"), std::string::npos);
  }
}

TEST(Endian, LittleEndianHelpers) {
  uint8_t buf[8];
  store_le64(buf, 0x0102030405060708ull);
  EXPECT_EQ(buf[0], 0x08);
  EXPECT_EQ(load_le64(buf), 0x0102030405060708ull);
  store_le32(buf, 0xa1b2c3d4);
  EXPECT_EQ(load_le32(buf), 0xa1b2c3d4u);
  store_le16(buf, 0xbeef);
  EXPECT_EQ(load_le16(buf), 0xbeef);
}

TEST(CopyOf, SmallAndLargeCopiesHoldTheirBytes) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, (size_t{1} << 20) - 1, size_t{1} << 20, (size_t{3} << 20) + 5}) {
    const Bytes source = test::patterned(size);
    // An odd start, so the populated range is not page-aligned with the data.
    const ByteView view = size ? ByteView(source).subspan(1) : ByteView(source);
    const Bytes copy = copy_of(view);
    ASSERT_EQ(copy.size(), view.size()) << size;
    EXPECT_TRUE(std::equal(copy.begin(), copy.end(), view.begin())) << size;
  }
}

namespace {

struct Vma {
  uintptr_t begin = 0, end = 0;
  bool huge_advised = false;  // VmFlags "hg": MADV_HUGEPAGE
};

// This process's mappings that overlap [begin, end), from /proc/self/smaps.
std::vector<Vma> vmas_over(uintptr_t begin, uintptr_t end) {
  std::vector<Vma> out;
  std::ifstream smaps("/proc/self/smaps");
  Vma current;
  bool overlaps = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {  // a mapping's line; its fields follow
      current = Vma{lo, hi, false};
      overlaps = lo < end && hi > begin;
      continue;
    }
    if (!overlaps || line.rfind("VmFlags:", 0) != 0) continue;
    std::istringstream flags(line.substr(8));
    for (std::string f; flags >> f;) current.huge_advised |= f == "hg";
    out.push_back(current);
  }
  return out;
}

}  // namespace

// A large copy asks for transparent huge pages over the 2 MiB blocks wholly
// inside it, and over nothing else: a huge page is one fault where 4 KiB
// pages are 512 (docs/performance.md), and memory around the copy, which
// another allocation may own, is left as it was.
TEST(CopyOf, ALargeCopyAsksForHugePagesOverItsWholeBlocksOnly) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage"))
    GTEST_SKIP() << "skipped: this kernel has no transparent huge pages";
  constexpr uintptr_t kBlock = uintptr_t{2} << 20;
  const Bytes source = test::patterned((size_t{6} << 20) + 5);
  const Bytes copy = copy_of(ByteView(source).subspan(1));
  ASSERT_TRUE(std::equal(copy.begin(), copy.end(), source.begin() + 1));
  const auto data = reinterpret_cast<uintptr_t>(copy.data());
  const uintptr_t blocks_begin = (data + kBlock - 1) & ~(kBlock - 1);
  const uintptr_t blocks_end = (data + copy.size()) & ~(kBlock - 1);
  ASSERT_GE(blocks_end - blocks_begin, 2 * kBlock);  // 6 MiB hold at least two whole blocks
  uintptr_t advised = 0;
  for (const Vma& v : vmas_over(data, data + copy.size())) {
    const bool inside_blocks = v.begin >= blocks_begin && v.end <= blocks_end;
    if (v.huge_advised) {
      EXPECT_TRUE(inside_blocks) << std::hex << v.begin << "-" << v.end << " outside " << blocks_begin << "-" << blocks_end;
      advised += std::min(v.end, blocks_end) - std::max(v.begin, blocks_begin);
    }
  }
  EXPECT_EQ(advised, blocks_end - blocks_begin);
}
