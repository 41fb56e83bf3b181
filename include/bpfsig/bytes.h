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
// in one call before it is written instead of faulted in one at a time:
// fresh memory is most of what copying a multi-MiB artifact costs.
Bytes copy_of(ByteView bytes);

// Reads a whole input once (InputFile in files.h): "-" is standard input; only
// regular files otherwise. Refuses (EFBIG, "input_too_large") a file larger
// than max_size before reading it. Errors name the path.
Bytes read_file(const std::string& path, size_t max_size = 64u << 20);

// Little-endian accessors used by the binary formats.
uint16_t load_le16(const uint8_t* p);
uint32_t load_le32(const uint8_t* p);
uint64_t load_le64(const uint8_t* p);
void store_le16(uint8_t* p, uint16_t v);
void store_le32(uint8_t* p, uint32_t v);
void store_le64(uint8_t* p, uint64_t v);

}  // namespace bpfsig

// write_file_atomic and the rest of the file I/O.
#include "bpfsig/files.h"  // IWYU pragma: export
