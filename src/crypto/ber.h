// SPDX-License-Identifier: Apache-2.0
// Private to src/crypto: a small BER reader for the few things about a PKCS#7
// message that the kernel checks but OpenSSL neither checks nor exposes (the
// limits of lib/asn1_decoder.c and the SignedData/SignerInfo version fields).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig::crypto::ber {

struct Tlv {
  size_t offset = 0;   // of the identifier octet
  uint8_t tag = 0;     // identifier octet (the kernel only knows single-octet tags)
  size_t content = 0;  // offset of the first content octet
  size_t length = 0;   // content length; for an indefinite form, up to the end-of-contents
  size_t end = 0;      // offset just past the element, end-of-contents included
  bool constructed() const { return (tag & 0x20) != 0; }
};

// Reads the element at pos, which must end by limit, with the kernel decoder's
// header rules: no multi-octet tags, at most two length octets, no
// indefinite-length primitive. nullopt when the header breaks one of them or
// the element overruns limit.
std::optional<Tlv> read(ByteView der, size_t pos, size_t limit);

// The elements directly inside a constructed element; nullopt if they do not
// exactly fill it.
std::optional<std::vector<Tlv>> children(ByteView der, const Tlv& parent);

// True when the first element of der and everything nested in it pass the
// kernel decoder's header rules. Bytes after that element are not looked at:
// the kernel ignores them too.
bool within_kernel_limits(ByteView der);

// What the kernel's grammar (pkcs7.asn1) sees of a SignedData beyond what
// OpenSSL reports: the content octets of the version INTEGERs of the
// SignedData and of each SignerInfo, in order, and the shape of the optional
// certificates and crls fields.
struct SignedDataLayout {
  Bytes signed_data_version;
  std::vector<Bytes> signer_versions;
  bool only_plain_certificates = true;  // every certificates entry is a SEQUENCE (an X.509 certificate)
  size_t crl_count = 0;                 // entries in the crls field
  // Per SignerInfo: its signedAttrs element as received, with the [0] IMPLICIT
  // tag replaced by SET (0x31): what the kernel hashes (pkcs7_digest()).
  // Empty when the signer has no signed attributes.
  std::vector<Bytes> signed_attrs_as_set;
};
// nullopt when der is not shaped like ContentInfo { OID, [0] SignedData {...} }.
std::optional<SignedDataLayout> signed_data_layout(ByteView der);

}  // namespace bpfsig::crypto::ber
