// SPDX-License-Identifier: Apache-2.0
// BPF_BTF_LOAD's structural checks (kernel/bpf/btf.c: btf_parse(),
// btf_parse_hdr(), btf_check_sec_info(), btf_parse_str_sec()). The type
// records themselves are not checked: what gen_loader loaders send is BTF
// that libbpf already produced, and no later check of the model reads it.
#include <algorithm>
#include <array>
#include <string>

#include "kmodel/objects.h"

namespace bpfsig::kmodel {
namespace {

constexpr const char* kBtfLoad = "BPF_BTF_LOAD";
constexpr uint16_t kBtfMagic = 0xeB9F;
constexpr uint8_t kBtfVersion = 1;
constexpr size_t kBtfHeaderSize = 24;        // sizeof(struct btf_header)
constexpr size_t kHdrLenEnd = 8;             // offsetofend(struct btf_header, hdr_len)
constexpr size_t kBtfMaxSize = 16u << 20;    // BTF_MAX_SIZE

struct BtfHeader {
  uint16_t magic = 0;
  uint8_t version = 0, flags = 0;
  uint32_t hdr_len = 0, type_off = 0, type_len = 0, str_off = 0, str_len = 0;
};

struct Section {
  uint32_t off, len;
};

// A header shorter than struct btf_header reads as zeros past hdr_len; a
// longer one must be zero past it (bpf_check_uarg_tail_zero: E2BIG).
BtfHeader read_header(ByteView blob) {
  if (blob.size() < kHdrLenEnd) fail(EINVAL, kBtfLoad, "too short for a BTF header");
  uint32_t hdr_len = load_le32(blob.data() + 4);
  if (blob.size() < hdr_len) fail(EINVAL, kBtfLoad, "hdr_len runs past the blob");
  if (hdr_len > kBtfHeaderSize &&
      !std::all_of(blob.begin() + kBtfHeaderSize, blob.begin() + hdr_len, [](uint8_t b) { return b == 0; }))
    fail(E2BIG, kBtfLoad, "unsupported (non-zero) header fields past struct btf_header");
  std::array<uint8_t, kBtfHeaderSize> raw{};
  std::copy_n(blob.begin(), std::min<size_t>(hdr_len, kBtfHeaderSize), raw.begin());
  return BtfHeader{load_le16(&raw[0]), raw[2], raw[3], hdr_len, load_le32(&raw[8]), load_le32(&raw[12]),
                   load_le32(&raw[16]), load_le32(&raw[20])};
}

// btf_check_sec_info(): the sections, in offset order, tile the data after
// the header exactly, without gaps or overlap.
void check_sections(const BtfHeader& hdr, size_t blob_size) {
  uint64_t expected_total = blob_size - hdr.hdr_len;
  std::array<Section, 2> secs{Section{hdr.type_off, hdr.type_len}, Section{hdr.str_off, hdr.str_len}};
  std::sort(secs.begin(), secs.end(), [](const Section& a, const Section& b) { return a.off < b.off; });
  uint64_t total = 0;
  for (const Section& sec : secs) {
    if (expected_total < sec.off) fail(EINVAL, kBtfLoad, "invalid section offset");
    if (total < sec.off) fail(EINVAL, kBtfLoad, "unsupported section found");
    if (total > sec.off) fail(EINVAL, kBtfLoad, "section overlap found");
    if (expected_total - total < sec.len) fail(EINVAL, kBtfLoad, "total section length too long");
    total += sec.len;
  }
  if (expected_total != total) fail(EINVAL, kBtfLoad, "unsupported section found");
}

// btf_parse_str_sec(): non-empty, starts with the empty string, NUL-terminated.
void check_strings(const BtfHeader& hdr, ByteView data) {
  if (hdr.str_len == 0) fail(EINVAL, kBtfLoad, "invalid string section");
  const uint8_t* start = data.data() + hdr.str_off;
  if (start[0] != 0 || start[hdr.str_len - 1] != 0) fail(EINVAL, kBtfLoad, "invalid string section");
}

}  // namespace

void validate_btf(ByteView blob) {
  if (blob.size() > kBtfMaxSize) fail(E2BIG, kBtfLoad, "BTF larger than 16 MiB");
  BtfHeader hdr = read_header(blob);
  if (hdr.magic != kBtfMagic) fail(EINVAL, kBtfLoad, "invalid magic");
  if (hdr.version != kBtfVersion) fail(kENOTSUPP, kBtfLoad, "unsupported version " + std::to_string(hdr.version));
  if (hdr.flags != 0) fail(kENOTSUPP, kBtfLoad, "unsupported flags");
  if (blob.size() == hdr.hdr_len) fail(EINVAL, kBtfLoad, "no data after the header");
  check_sections(hdr, blob.size());
  check_strings(hdr, blob.subspan(hdr.hdr_len));
  if (hdr.type_off % 4 != 0) fail(EINVAL, kBtfLoad, "unaligned type_off");  // btf_parse_type_sec()
}

}  // namespace bpfsig::kmodel
