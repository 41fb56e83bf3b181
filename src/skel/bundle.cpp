// SPDX-License-Identifier: Apache-2.0
// The bpfsig bundle: a small versioned container of tagged sections
// (docs/formats.md is the specification).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <map>
#include <set>
#include <span>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "skel/internal.h"

namespace bpfsig::skel {

namespace {

constexpr uint8_t kMagic[8] = {0x89, 'B', 'P', 'F', 'S', 'I', 'G', '\n'};
// Version 2 added the seal (section 10) and the one-encoding rule.
constexpr uint16_t kVersion = 2;
constexpr size_t kHeaderSize = 24;
constexpr size_t kSectionHeaderSize = 8;
constexpr uint32_t kOptionalSectionBit = 0x80000000u;  // readers may skip unknown sections with this bit

enum SectionType : uint32_t {
  kSecInsns = 1,
  kSecData = 2,
  kSecSignature = 3,
  kSecExclHash = 4,
  kSecName = 5,
  kSecMapNames = 6,
  kSecProgNames = 7,
  kSecSignerCert = 8,
  kSecSignatureMaps = 9,  // hash-chain: u32 LE fd_array indices (attr.signature_maps)
  kSecSeal = 10,          // DER CMS over everything before it (seal_content)
};

Bytes encode_u32_list(const std::vector<uint32_t>& values) {
  Bytes out(values.size() * 4);
  for (size_t i = 0; i < values.size(); ++i) store_le32(&out[i * 4], values[i]);
  return out;
}

std::vector<uint32_t> decode_u32_list(ByteView payload, const std::string& what, size_t offset);

// Scheme numbers this reader knows (scheme_name has a name for them).
bool known_scheme(uint16_t scheme) {
  return scheme_name(static_cast<Scheme>(scheme)).rfind("unknown(", 0) != 0;
}

size_t padded8(size_t n) { return (n + 7) & ~size_t{7}; }

Bytes join_names(const std::vector<std::string>& names) {
  Bytes out;
  for (const auto& n : names) {
    out.insert(out.end(), n.begin(), n.end());
    out.push_back(0);
  }
  return out;
}

ByteView view(const std::string& s) { return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

Error format_error(const std::string& what, size_t offset, const std::string& why) {
  return Error(EBADMSG, "bundle_format", what + ": offset " + std::to_string(offset) + ": " + why);
}

std::vector<std::string> split_names(ByteView payload, const std::string& what, size_t offset) {
  std::vector<std::string> names;
  if (payload.empty()) return names;
  if (payload.back() != 0) throw format_error(what, offset, "name list is not NUL-terminated");
  std::string cur;
  for (uint8_t c : payload) {
    if (c == 0) {
      if (cur.empty()) throw format_error(what, offset, "empty name in name list");
      names.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(c));
    }
  }
  return names;
}

void check_sizes(const SignedLoader& l, const std::string& what) {
  if (l.insns.empty() || l.insns.size() % 8 != 0)
    throw Error(EBADMSG, "bundle_format", what + ": instruction section is " + std::to_string(l.insns.size()) + " bytes, not a non-zero multiple of 8");
  if (l.insns.size() / 8 > kMaxLoaderInsns)
    throw Error(E2BIG, "limit_insns", what + ": " + std::to_string(l.insns.size() / 8) + " instructions, over the limit of " + std::to_string(kMaxLoaderInsns));
  if (l.data.size() > kMaxMetadataSize)
    throw Error(E2BIG, "limit_metadata", what + ": metadata is " + std::to_string(l.data.size()) + " bytes, over the kernel's array value limit of " + std::to_string(kMaxMetadataSize));
  if (l.excl_hash.size() != 32)
    throw Error(EBADMSG, "bundle_format", what + ": exclusive-map hash is " + std::to_string(l.excl_hash.size()) + " bytes, not 32");
  if (l.prog_names.empty()) throw Error(EBADMSG, "bundle_format", what + ": no program names");
  // signature_maps belongs to the hash-chain scheme, which cannot do without it.
  bool chain = l.scheme == Scheme::kHashChain;
  if (chain && l.signature_maps.empty())
    throw Error(EBADMSG, "bundle_format", what + ": a hash-chain bundle needs a non-empty SIGNATURE_MAPS section (9)");
  if (l.signature_maps.size() > kMaxSignatureMaps)
    throw Error(E2BIG, "limit_signature_maps", what + ": " + std::to_string(l.signature_maps.size()) +
                                                   " signature_maps entries, over the limit of " + std::to_string(kMaxSignatureMaps));
  if (!chain && !l.signature_maps.empty())
    throw Error(EBADMSG, "bundle_format", what + ": SIGNATURE_MAPS (9) in a " + scheme_name(l.scheme) + " bundle");
}

std::vector<uint32_t> decode_u32_list(ByteView payload, const std::string& what, size_t offset) {
  if (payload.size() % 4 != 0) throw format_error(what, offset, "signature_maps is not a multiple of 4 bytes");
  std::vector<uint32_t> out;
  for (size_t i = 0; i + 4 <= payload.size(); i += 4) out.push_back(load_le32(&payload[i]));
  return out;
}

using Put = std::function<void(ByteView)>;

// A bundle's sections in the one order a bundle may have, as views of the
// loader's fields: encoding, the canonical-form check and the seal all walk
// the same list, and only the encoder copies the payloads.
class Sections {
 public:
  Sections(const SignedLoader& l, bool with_seal) : scheme_(l.scheme) {
    add(kSecName, view(l.name));
    add(kSecInsns, l.insns);
    add(kSecData, l.data);
    add(kSecSignature, l.signature);
    add(kSecExclHash, l.excl_hash);
    add(kSecMapNames, own(join_names(l.map_names)));
    add(kSecProgNames, own(join_names(l.prog_names)));
    if (!l.signer_cert.empty()) add(kSecSignerCert, l.signer_cert);
    if (!l.signature_maps.empty()) add(kSecSignatureMaps, own(encode_u32_list(l.signature_maps)));
    for (const SignedLoader::Extension& e : l.extensions) add(e.type, e.payload);
    if (with_seal && !l.seal.empty()) add(kSecSeal, l.seal);
  }
  Sections(const Sections&) = delete;
  Sections& operator=(const Sections&) = delete;

  size_t encoded_size() const {
    size_t total = kHeaderSize;
    for (const Section& s : list_) total += kSectionHeaderSize + padded8(s.payload.size());
    return total;
  }

  // The encoding, piece by piece: header, then each section's header, payload and padding.
  void write(const Put& put) const {
    uint8_t header[kHeaderSize] = {};
    std::copy(std::begin(kMagic), std::end(kMagic), header);
    store_le16(&header[8], kVersion);
    store_le16(&header[10], static_cast<uint16_t>(scheme_));
    store_le32(&header[12], static_cast<uint32_t>(list_.size()));
    store_le32(&header[16], static_cast<uint32_t>(encoded_size()));
    put(ByteView(header, sizeof header));
    static const uint8_t kZeros[8] = {};
    for (const Section& s : list_) {
      uint8_t section_header[kSectionHeaderSize];
      store_le32(&section_header[0], s.type);
      store_le32(&section_header[4], static_cast<uint32_t>(s.payload.size()));
      put(ByteView(section_header, sizeof section_header));
      put(s.payload);
      put(ByteView(kZeros, padded8(s.payload.size()) - s.payload.size()));
    }
  }

 private:
  struct Section {
    uint32_t type;
    ByteView payload;
  };
  void add(uint32_t type, ByteView payload) { list_.push_back({type, payload}); }
  ByteView own(Bytes bytes) {
    owned_.push_back(std::move(bytes));
    return owned_.back();
  }

  Scheme scheme_;
  std::vector<Section> list_;
  std::deque<Bytes> owned_;  // a deque: views of earlier elements stay valid as it grows
};

Bytes encode_sections(const SignedLoader& l, bool with_seal) {
  Sections sections(l, with_seal);
  Bytes out;
  out.reserve(sections.encoded_size());
  sections.write([&](ByteView piece) { out.insert(out.end(), piece.begin(), piece.end()); });
  return out;
}

// Signed bundles carry a seal and unsigned ones do not: there is no key to
// seal with, and nothing in an unsigned bundle is trusted anyway.
void check_seal_presence(const SignedLoader& l, const std::string& what) {
  if (!l.signature.empty() && l.seal.empty())
    throw Error(EBADMSG, "bundle_format",
                what + ": a signed bundle needs its SEAL section (10); sign it again with `bpfsig sign`");
  if (l.signature.empty() && !l.seal.empty())
    throw Error(EBADMSG, "bundle_format", what + ": SEAL section (10) in an unsigned bundle");
}

// What must hold before a loader is encoded as a whole bundle; `what` names
// the input in errors (decode's one-encoding check runs them on the file).
void check_bundle(const SignedLoader& l, const std::string& what) {
  check_seal_presence(l, what);
  check_sizes(l, what);
}

// Where decode_bundle reads a bundle from: bytes in memory, or a large
// regular file, whose sections are read straight into the loader's fields
// (the file is never held whole: each payload byte is copied once, from the
// page cache into its field).
class BundleSource {
 public:
  explicit BundleSource(ByteView bytes) : bytes_(bytes), size_(bytes.size()) {}
  BundleSource(const InputFile& file, size_t size) : file_(&file), size_(size) {}

  size_t size() const { return size_; }

  // [offset, offset + out.size()) into out; the caller has checked the range.
  void read(size_t offset, std::span<uint8_t> out) const {
    if (file_ != nullptr) return file_->read_at(offset, out);
    std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
  }

  // A payload as its own bytes: the loader's field.
  Bytes take(size_t offset, size_t len) const {
    if (file_ == nullptr) return copy_of(bytes_.subspan(offset, len));
    Bytes out = populated_bytes(len);
    read(offset, out);
    return out;
  }

  // The offset of the first byte from offset on that differs from expected
  // (its length when they are equal), reading a file in small pieces.
  size_t matches_up_to(size_t offset, ByteView expected) const {
    if (file_ == nullptr)
      return first_difference(bytes_.subspan(offset, expected.size()), expected);
    uint8_t piece[65536];
    for (size_t done = 0; done < expected.size();) {
      const size_t n = std::min(sizeof piece, expected.size() - done);
      read(offset + done, std::span<uint8_t>(piece, n));
      const size_t same = first_difference(ByteView(piece, n), expected.subspan(done, n));
      if (same != n) return done + same;
      done += n;
    }
    return expected.size();
  }

 private:
  // memcmp first: std::mismatch is a loop of one byte a step, which was 6% of
  // a whole verify of a 3 MiB bundle; the byte search runs only when they differ.
  static size_t first_difference(ByteView a, ByteView b) {
    const size_t n = std::min(a.size(), b.size());
    if (n == 0 || std::memcmp(a.data(), b.data(), n) == 0) return n;
    return static_cast<size_t>(std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first - a.begin());
  }

  ByteView bytes_;
  const InputFile* file_ = nullptr;
  size_t size_ = 0;
};

// The offset of the first byte where the source is not the loader's
// encoding, or nullopt when it is exactly that encoding: encode_bundle
// compared without building a second copy of the bundle.
std::optional<size_t> differs_from_encoding(const SignedLoader& l, const BundleSource& source, const std::string& what) {
  check_bundle(l, what);
  Sections sections(l, true);
  std::optional<size_t> difference;
  size_t at = 0;
  sections.write([&](ByteView piece) {
    if (difference) return;
    const size_t available = at < source.size() ? source.size() - at : 0;
    const size_t same = source.matches_up_to(at, piece.first(std::min(piece.size(), available)));
    if (same != piece.size()) difference = at + same;
    at += piece.size();
  });
  if (!difference && at != source.size()) difference = std::min(at, source.size());
  return difference;
}

SignedLoader decode_from(const BundleSource& source, const std::string& what);

}  // namespace

// Every section but the seal, in the one order a bundle may have.
Bytes seal_content(const SignedLoader& l) {
  check_sizes(l, "bundle");
  return encode_sections(l, false);
}

void write_seal_content(const SignedLoader& l, const std::function<void(ByteView)>& put) {
  check_sizes(l, "bundle");
  Sections(l, false).write(put);
}

void seal_bundle(SignedLoader& l, EVP_PKEY* key) {
  l.seal = crypto::sign_message([&](const Put& put) { write_seal_content(l, put); }, key);
}

Bytes encode_bundle(const SignedLoader& l) {
  check_bundle(l, "bundle");
  return encode_sections(l, true);
}

void write_bundle(const SignedLoader& l, const Put& put) {
  check_bundle(l, "bundle");
  Sections(l, true).write(put);
}

bool looks_like_bundle(ByteView bytes) {
  return bytes.size() >= sizeof kMagic && std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin());
}

SignedLoader decode_bundle(ByteView bytes, const std::string& what) { return decode_from(BundleSource(bytes), what); }

SignedLoader decode_bundle(const InputFile& file, size_t size, const std::string& what) {
  SignedLoader l = decode_from(BundleSource(file, size), what);
  // A byte past the size the file had when it was opened: it grew meanwhile.
  if (!file.ends_by(size)) throw format_error(what, size, "trailing bytes after the last section (the file grew while it was read)");
  return l;
}

namespace {

SignedLoader decode_from(const BundleSource& source, const std::string& what) {
  const size_t size = source.size();
  if (size > kMaxBundleSize)
    throw Error(EFBIG, "input_too_large", what + ": " + std::to_string(size) + " bytes, over the bundle limit of " + std::to_string(kMaxBundleSize));
  uint8_t header[kHeaderSize] = {};
  source.read(0, std::span<uint8_t>(header, std::min(size, kHeaderSize)));
  if (!looks_like_bundle(ByteView(header, std::min(size, kHeaderSize)))) throw format_error(what, 0, "not a bpfsig bundle (bad magic)");
  if (size < kHeaderSize) throw format_error(what, 0, "truncated header");
  uint16_t version = load_le16(&header[8]);
  if (version != kVersion)
    throw Error(EINVAL, "bundle_version", what + ": offset 8: bundle version " + std::to_string(version) + " is not supported (this bpfsig reads version " + std::to_string(kVersion) + ")");
  uint16_t scheme = load_le16(&header[10]);
  if (!known_scheme(scheme))
    throw Error(EINVAL, "unknown_scheme", what + ": offset 10: unknown signing scheme " + std::to_string(scheme));
  uint32_t count = load_le32(&header[12]);
  if (count > limits::kBundleSections)
    throw format_error(what, 12, std::to_string(count) + " sections, over the limit of " + std::to_string(limits::kBundleSections));
  uint32_t total = load_le32(&header[16]);
  if (total != size)
    throw format_error(what, 16, "length field says " + std::to_string(total) + " bytes, the file has " + std::to_string(size));
  if (load_le32(&header[20]) != 0) throw format_error(what, 20, "reserved field is not zero");

  SignedLoader l;
  l.scheme = static_cast<Scheme>(scheme);
  std::set<uint32_t> seen;
  size_t off = kHeaderSize;
  for (uint32_t i = 0; i < count; ++i) {
    if (size - off < kSectionHeaderSize) throw format_error(what, off, "truncated section header");
    uint8_t section_header[kSectionHeaderSize];
    source.read(off, section_header);
    uint32_t type = load_le32(&section_header[0]);
    uint32_t len = load_le32(&section_header[4]);
    size_t body = off + kSectionHeaderSize;
    if (size - body < padded8(len)) throw format_error(what, off, "section " + std::to_string(type) + " runs past the end");
    if (!seen.insert(type).second) throw format_error(what, off, "duplicate section " + std::to_string(type));
    uint8_t padding[8] = {};
    source.read(body + len, std::span<uint8_t>(padding, padded8(len) - len));
    for (size_t p = 0; p < padded8(len) - len; ++p)
      if (padding[p] != 0) throw format_error(what, body + len + p, "non-zero padding");
    Bytes payload = source.take(body, len);
    switch (type) {
      case kSecName:
        // The name becomes C identifiers in generated headers: no NULs.
        if (std::find(payload.begin(), payload.end(), 0) != payload.end())
          throw format_error(what, off, "skeleton name contains a NUL byte");
        l.name.assign(payload.begin(), payload.end());
        break;
      case kSecInsns: l.insns = std::move(payload); break;
      case kSecData: l.data = std::move(payload); break;
      case kSecSignature: l.signature = std::move(payload); break;
      case kSecExclHash: l.excl_hash = std::move(payload); break;
      case kSecMapNames: l.map_names = split_names(payload, what, off); break;
      case kSecProgNames: l.prog_names = split_names(payload, what, off); break;
      case kSecSignerCert: l.signer_cert = std::move(payload); break;
      case kSecSignatureMaps: l.signature_maps = decode_u32_list(payload, what, off); break;
      case kSecSeal: l.seal = std::move(payload); break;
      default:
        if (!(type & kOptionalSectionBit)) throw format_error(what, off, "unknown required section " + std::to_string(type));
        l.extensions.push_back({type, std::move(payload)});
    }
    off = body + padded8(len);
  }
  if (off != size) throw format_error(what, off, "trailing bytes after the last section");
  for (uint32_t required : {kSecName, kSecInsns, kSecData, kSecSignature, kSecExclHash, kSecMapNames, kSecProgNames})
    if (!seen.count(required)) throw format_error(what, kHeaderSize, "missing section " + std::to_string(required));
  // One encoding per bundle: what the seal signs is re-encoded from the
  // decoded fields, so a second spelling of the same fields (another section
  // order, an empty optional section) must not exist. A file is read a
  // second time here, in small pieces, against the fields read from it.
  if (std::optional<size_t> at = differs_from_encoding(l, source, what))
    throw format_error(what, *at, "not in canonical form (sections out of order, or an empty optional section)");
  return l;
}

}  // namespace

}  // namespace bpfsig::skel
