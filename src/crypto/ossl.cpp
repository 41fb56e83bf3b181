// SPDX-License-Identifier: Apache-2.0
#include "crypto/ossl.h"

#include <openssl/objects.h>

#include <cctype>
#include <climits>

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

std::string oid_dotted(const ASN1_OBJECT* oid) {
  if (oid == nullptr) return "";
  char buf[256];
  int len = OBJ_obj2txt(buf, sizeof buf, oid, 1);
  if (len <= 0) return "";
  if (static_cast<size_t>(len) < sizeof buf) return std::string(buf, static_cast<size_t>(len));
  std::string big(static_cast<size_t>(len) + 1, '\0');
  OBJ_obj2txt(big.data(), static_cast<int>(big.size()), oid, 1);
  big.resize(static_cast<size_t>(len));
  return big;
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
