// SPDX-License-Identifier: Apache-2.0
#include "bpfsig/bytes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "bpfsig/error.h"

namespace bpfsig {

std::string to_hex(ByteView bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace {

constexpr size_t kPopulateThreshold = size_t{1} << 20;
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;  // x86-64's and arm64's (4K pages) PMD size

// [p, p + size) shrunk to whole units of `unit` (a power of two), empty when none fits.
std::pair<uintptr_t, uintptr_t> whole_units(const uint8_t* p, size_t size, uintptr_t unit) {
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + unit - 1) & ~(unit - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(unit - 1);
  return {begin, end > begin ? end : begin};
}

// MADV_POPULATE_WRITE (Linux 5.14) over the whole pages of [p, p + size),
// after MADV_HUGEPAGE over its whole 2 MiB blocks: a transparent huge page is
// one fault where 4 KiB pages are 512, and under a hypervisor the first
// write to each fresh 4 KiB page is what a large buffer costs most (3 MiB:
// 8.5-9 ms in 4 KiB pages, populated or not; docs/performance.md). Only
// blocks wholly inside the buffer are advised, so no memory outside it is
// touched. Best effort: the copy is the same without either.
void populate_for_writing(uint8_t* p, size_t size) {
  const auto [huge_begin, huge_end] = whole_units(p, size, kHugePage);
  if (huge_end > huge_begin) ::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  const auto [begin, end] = whole_units(p, size, static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE)));
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

}  // namespace

Bytes copy_of(ByteView bytes) {
  Bytes out;
  if (bytes.size() >= kPopulateThreshold) {
    out.reserve(bytes.size());
    populate_for_writing(out.data(), bytes.size());
  }
  out.assign(bytes.begin(), bytes.end());
  return out;
}

Bytes populated_bytes(size_t size) {
  Bytes out;
  if (size >= kPopulateThreshold) {
    out.reserve(size);
    populate_for_writing(out.data(), size);
  }
  out.resize(size);
  return out;
}

Bytes from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) throw Error(EINVAL, "hex", "hex string has an odd length (" + std::to_string(hex.size()) + ")");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit_value(hex[2 * i]), lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw Error(EINVAL, "hex", "not a hex digit at offset " + std::to_string(2 * i));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace bpfsig
