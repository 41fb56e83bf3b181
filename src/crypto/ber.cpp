// SPDX-License-Identifier: Apache-2.0
#include "crypto/ber.h"

namespace bpfsig::crypto::ber {

namespace {

// Nesting deeper than this is refused outright: it bounds our recursion on
// hostile input, and no PKCS#7 message the kernel parses comes near it.
constexpr int kMaxDepth = 32;

constexpr uint8_t kTagNumberMask = 0x1f;
constexpr uint8_t kLongFormLength = 0x80;

std::optional<Tlv> read_at(ByteView der, size_t pos, size_t limit, int depth);

// Finds the end-of-contents of an indefinite-length element whose content
// starts at pos.
std::optional<size_t> find_end_of_contents(ByteView der, size_t pos, size_t limit, int depth) {
  while (pos + 2 <= limit) {
    if (der[pos] == 0 && der[pos + 1] == 0) return pos;
    auto child = read_at(der, pos, limit, depth + 1);
    if (!child) return std::nullopt;
    pos = child->end;
  }
  return std::nullopt;
}

std::optional<Tlv> read_at(ByteView der, size_t pos, size_t limit, int depth) {
  if (depth > kMaxDepth || limit > der.size() || pos >= limit || limit - pos < 2) return std::nullopt;
  Tlv t;
  t.offset = pos;
  t.tag = der[pos++];
  // lib/asn1_decoder.c: "Long tag not supported".
  if ((t.tag & kTagNumberMask) == kTagNumberMask) return std::nullopt;
  size_t len = der[pos++];
  if (len == kLongFormLength) {
    // Indefinite length: only for constructed elements ("Indefinite len
    // primitive not permitted").
    if (!t.constructed()) return std::nullopt;
    t.content = pos;
    auto eoc = find_end_of_contents(der, pos, limit, depth);
    if (!eoc) return std::nullopt;
    t.length = *eoc - pos;
    t.end = *eoc + 2;
    return t;
  }
  if (len > kLongFormLength) {
    size_t n = len - kLongFormLength;
    // The kernel reads at most two length octets ("Unsupported length").
    if (n > 2 || limit - pos < n) return std::nullopt;
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | der[pos++];
  }
  if (len > limit - pos) return std::nullopt;
  t.content = pos;
  t.length = len;
  t.end = pos + len;
  return t;
}

// BER allows a constructed OCTET STRING (and other string types) made of
// pieces; the kernel matches such a tag against a primitive one and fails. DER
// never produces one, so refusing it everywhere only errs on the strict side.
bool is_constructed_universal_string(const Tlv& t) {
  constexpr uint8_t kClassMask = 0xc0, kUniversal = 0x00, kSeq = 16, kSet = 17;
  const uint8_t number = t.tag & kTagNumberMask;
  return t.constructed() && (t.tag & kClassMask) == kUniversal && number != kSeq && number != kSet;
}

// X.690 8.9.1/8.11.1: a SEQUENCE or SET is always constructed. The kernel's
// decoder compares the whole identifier octet, so a primitive 0x10/0x11
// never matches where its grammar expects 0x30/0x31.
bool is_primitive_sequence_or_set(const Tlv& t) {
  constexpr uint8_t kClassMask = 0xc0, kUniversal = 0x00, kSeq = 16, kSet = 17;
  const uint8_t number = t.tag & kTagNumberMask;
  return !t.constructed() && (t.tag & kClassMask) == kUniversal && (number == kSeq || number == kSet);
}

bool subtree_within_limits(ByteView der, const Tlv& t, int depth) {
  if (is_constructed_universal_string(t) || is_primitive_sequence_or_set(t)) return false;
  if (!t.constructed()) return true;
  if (depth > kMaxDepth) return false;
  size_t pos = t.content;
  const size_t stop = t.content + t.length;
  while (pos < stop) {
    auto child = read_at(der, pos, stop, depth + 1);
    if (!child || !subtree_within_limits(der, *child, depth + 1)) return false;
    pos = child->end;
  }
  return true;
}

Bytes content_of(ByteView der, const Tlv& t) {
  return Bytes(der.begin() + static_cast<std::ptrdiff_t>(t.content),
               der.begin() + static_cast<std::ptrdiff_t>(t.content + t.length));
}

constexpr uint8_t kSequence = 0x30;
constexpr uint8_t kInteger = 0x02;
constexpr uint8_t kExplicit0 = 0xa0;
constexpr uint8_t kContextClass = 0x80;

}  // namespace

std::optional<Tlv> read(ByteView der, size_t pos, size_t limit) { return read_at(der, pos, limit, 0); }

std::optional<std::vector<Tlv>> children(ByteView der, const Tlv& parent) {
  std::vector<Tlv> out;
  size_t pos = parent.content;
  const size_t stop = parent.content + parent.length;
  while (pos < stop) {
    auto child = read(der, pos, stop);
    if (!child) return std::nullopt;
    out.push_back(*child);
    pos = child->end;
  }
  return out;
}

bool within_kernel_limits(ByteView der) {
  auto top = read(der, 0, der.size());
  return top && subtree_within_limits(der, *top, 0);
}

std::optional<SignedDataLayout> signed_data_layout(ByteView der) {
  // ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
  auto top = read(der, 0, der.size());
  if (!top || top->tag != kSequence) return std::nullopt;
  auto info = children(der, *top);
  if (!info || info->size() != 2 || (*info)[1].tag != kExplicit0) return std::nullopt;
  auto wrapped = children(der, (*info)[1]);
  if (!wrapped || wrapped->size() != 1 || (*wrapped)[0].tag != kSequence) return std::nullopt;

  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
  //                           [0] certificates OPTIONAL, [1] crls OPTIONAL, signerInfos }
  auto fields = children(der, (*wrapped)[0]);
  if (!fields || fields->size() < 4 || (*fields)[0].tag != kInteger) return std::nullopt;
  SignedDataLayout layout;
  layout.signed_data_version = content_of(der, (*fields)[0]);
  size_t next = 3;
  for (; next < fields->size() && ((*fields)[next].tag & kContextClass) != 0; ++next) {
    auto entries = children(der, (*fields)[next]);
    if (!entries) return std::nullopt;
    if (((*fields)[next].tag & kTagNumberMask) == 0) {
      for (const Tlv& cert : *entries) layout.only_plain_certificates &= cert.tag == kSequence;
    } else {
      layout.crl_count += entries->size();
    }
  }
  if (next + 1 != fields->size()) return std::nullopt;
  auto signers = children(der, (*fields)[next]);
  if (!signers) return std::nullopt;
  for (const Tlv& signer : *signers) {
    auto signer_fields = children(der, signer);
    if (!signer_fields || signer_fields->empty() || (*signer_fields)[0].tag != kInteger) return std::nullopt;
    layout.signer_versions.push_back(content_of(der, (*signer_fields)[0]));
    // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] IMPLICIT signedAttrs OPTIONAL, ... }
    Bytes attrs;
    if (signer_fields->size() > 3 && (*signer_fields)[3].tag == kExplicit0) {
      const Tlv& t = (*signer_fields)[3];
      attrs.assign(der.begin() + static_cast<std::ptrdiff_t>(t.offset), der.begin() + static_cast<std::ptrdiff_t>(t.end));
      attrs[0] = 0x31;
    }
    layout.signed_attrs_as_set.push_back(std::move(attrs));
  }
  return layout;
}

}  // namespace bpfsig::crypto::ber
