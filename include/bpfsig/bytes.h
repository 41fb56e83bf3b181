// SPDX-License-Identifier: Apache-2.0
// Byte buffers and the file I/O every module shares.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bpfsig {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Lower-case hex of the bytes, no separators.
std::string to_hex(ByteView bytes);
// The value of one hex digit (either case), or -1.
int hex_digit_value(char c);
// Parses hex (upper or lower case, no separators); throws Error(EINVAL, "hex").
Bytes from_hex(const std::string& hex);

// A copy of the bytes. A large one (1 MiB or more) has its pages populated
// in one call before it is written instead of faulted in one at a time, and
// the 2 MiB blocks wholly inside it advised as transparent huge pages: fresh
// memory is most of what copying a multi-MiB artifact costs.
Bytes copy_of(ByteView bytes);
// size zero bytes, to be written over: a large buffer's pages are populated
// in one call, as copy_of's are.
Bytes populated_bytes(size_t size);

// Reads a whole input once (InputFile in files.h): "-" is standard input; only
// regular files otherwise. Refuses (EFBIG, "input_too_large") a file larger
// than max_size before reading it. Errors name the path.
Bytes read_file(const std::string& path, size_t max_size = 64u << 20);

// Little-endian accessors used by the binary formats. Inline: the
// instruction decoder and the format readers call them per field, and a call
// across translation units cost more than the load (isa::decode was 4% of a
// verify).
inline uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }
inline void store_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace bpfsig

// write_file_atomic and the rest of the file I/O.
#include "bpfsig/files.h"  // IWYU pragma: export
