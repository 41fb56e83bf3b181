// SPDX-License-Identifier: Apache-2.0
#include "bpfsig/bytes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

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

// MADV_POPULATE_WRITE (Linux 5.14) over the whole pages of [p, p + size):
// best effort, the copy is the same without it.
void populate_for_writing(uint8_t* p, size_t size) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(page - 1);
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
