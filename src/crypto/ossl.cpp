// SPDX-License-Identifier: Apache-2.0
#include "crypto/ossl.h"

#include <openssl/objects.h>

#include <cctype>
#include <climits>
#include <cstdint>
#include <optional>

namespace bpfsig::crypto::ossl {

std::string drain_errors() {
  std::string out;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Error failure(int err, const std::string& kind, const std::string& what) {
  std::string reasons = drain_errors();
  return Error(err, kind, reasons.empty() ? what : what + ": " + reasons);
}

Bytes bio_bytes(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return Bytes(reinterpret_cast<uint8_t*>(data), reinterpret_cast<uint8_t*>(data) + len);
}

Bio memory_bio(ByteView data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) throw Error(EFBIG, "input_too_large", "input over 2 GiB");
  // BIO_new_mem_buf wants a non-null pointer even for an empty buffer.
  static const uint8_t kEmpty = 0;
  const void* base = data.empty() ? &kEmpty : data.data();
  Bio bio(BIO_new_mem_buf(base, static_cast<int>(data.size())));
  if (!bio) throw failure(ENOMEM, "crypto", "cannot allocate a memory BIO");
  return bio;
}

namespace {

// Decimal text of an arc. std::to_string stops at 64 bits; a longer arc is
// split into 19-digit chunks, each a 64-bit division (a 128-bit division per
// digit was 1% of a Hornet verify).
std::string arc_text(unsigned __int128 arc) {
  if (arc <= UINT64_MAX) return std::to_string(static_cast<uint64_t>(arc));
  constexpr uint64_t kChunk = 10000000000000000000ull;  // 10^19
  std::string low = std::to_string(static_cast<uint64_t>(arc % kChunk));
  return arc_text(arc / kChunk) + std::string(19 - low.size(), '0') + low;
}

// The dotted text of an OID's content octets (X.690 8.19): every
// subidentifier base 128, the first one holding the first two arcs. Arcs up
// to 128 bits (a UUID under 2.25, as the Hornet attribute's OID is). nullopt
// for a longer arc or an encoding that is not minimal or ends inside a
// subidentifier; OpenSSL's text is taken then.
std::optional<std::string> dotted_from_content(ByteView content) {
  if (content.empty() || (content.back() & 0x80) != 0) return std::nullopt;
  using Arc = unsigned __int128;
  constexpr Arc kMaxBeforeShift = ~Arc{0} >> 7;
  std::string out;
  Arc arc = 0;
  bool starting = true, first = true;
  for (uint8_t b : content) {
    if (starting && b == 0x80) return std::nullopt;  // a leading zero septet
    if (arc > kMaxBeforeShift) return std::nullopt;
    arc = arc << 7 | (b & 0x7f);
    starting = (b & 0x80) == 0;
    if (!starting) continue;
    if (first) {
      const Arc top = arc < 40 ? 0 : arc < 80 ? 1 : 2;
      out = arc_text(top) + '.' + arc_text(arc - 40 * top);
      first = false;
    } else {
      out += '.';
      out += arc_text(arc);
    }
    arc = 0;
  }
  return out;
}

std::string openssl_dotted(const ASN1_OBJECT* oid) {
  char buf[256];
  int len = OBJ_obj2txt(buf, sizeof buf, oid, 1);
  if (len <= 0) return "";
  if (static_cast<size_t>(len) < sizeof buf) return std::string(buf, static_cast<size_t>(len));
  std::string big(static_cast<size_t>(len) + 1, '\0');
  OBJ_obj2txt(big.data(), static_cast<int>(big.size()), oid, 1);
  big.resize(static_cast<size_t>(len));
  return big;
}

}  // namespace

// Formatted here rather than by OBJ_obj2txt, which goes through BIGNUMs and
// a BIO for every arc: a verify names a dozen OIDs, and that was 2% of it.
std::string oid_dotted(const ASN1_OBJECT* oid) {
  if (oid == nullptr) return "";
  const unsigned char* data = OBJ_get0_data(oid);
  const size_t len = OBJ_length(oid);
  if (data != nullptr && len != 0)
    if (std::optional<std::string> text = dotted_from_content(ByteView(data, len))) return *text;
  return openssl_dotted(oid);
}

const EVP_MD* sha256_md() {
  // Fetched once: EVP_sha256() makes EVP_DigestInit_ex fetch the provider's
  // implementation on every call, under the library's locks. Freed at exit,
  // before OpenSSL's own cleanup (registered earlier, so run later).
  static const Md fetched = [] {
    Md md(EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
    ERR_clear_error();
    return md;
  }();
  return fetched ? fetched.get() : EVP_sha256();
}

Bytes der_content(ByteView tlv) {
  // Tag (single byte: everything bpfsig strips is a universal type), then a
  // short or long definite length.
  if (tlv.size() < 2) return {};
  size_t pos = 1;
  size_t len = tlv[pos++];
  if (len & 0x80) {
    size_t n = len & 0x7f;
    if (n == 0 || n > sizeof(size_t) || pos + n > tlv.size()) return {};
    len = 0;
    for (size_t i = 0; i < n; ++i) len = len << 8 | tlv[pos++];
  }
  if (len != tlv.size() - pos) return {};
  return Bytes(tlv.begin() + static_cast<std::ptrdiff_t>(pos), tlv.end());
}

std::string name_rfc2253(const X509_NAME* name) {
  if (name == nullptr) return "";
  Bio out(BIO_new(BIO_s_mem()));
  if (!out) throw failure(ENOMEM, "crypto", "cannot allocate a memory BIO");
  if (X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) < 0) throw failure(EBADMSG, "cert_parse", "cannot print a name");
  Bytes text = bio_bytes(out.get());
  return std::string(text.begin(), text.end());
}

std::string integer_hex(const ASN1_INTEGER* value) {
  if (value == nullptr) return "";
  Bignum bn(ASN1_INTEGER_to_BN(value, nullptr));
  if (!bn) throw failure(EBADMSG, "cms_parse", "cannot read an INTEGER");
  OsslString hex(BN_bn2hex(bn.get()));
  if (!hex) throw failure(ENOMEM, "crypto", "cannot format an INTEGER");
  std::string out(hex.get());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out[0] == '-') out.erase(0, 1);  // serials are positive; show the magnitude
  return out;
}

}  // namespace bpfsig::crypto::ossl
