// SPDX-License-Identifier: Apache-2.0
// verify_kernel_rules: the checks of the kernel's verify_pkcs7_signature() for
// a BPF program signature (VERIFYING_BPF_SIGNATURE), in the kernel's order and
// with the kernel's errno values. Sources mirrored (Linux 6.18):
//   kernel/bpf/syscall.c             size limit
//   lib/asn1_decoder.c               BER header limits, trailing bytes ignored
//   crypto/asymmetric_keys/pkcs7_parser.c   parse-time rules (versions, types,
//                                    algorithms, authenticated attributes)
//   crypto/asymmetric_keys/pkcs7_verify.c   detached data, usage, digests,
//                                    certificates carried in the message
//   crypto/asymmetric_keys/pkcs7_trust.c    lookup of the signer in the keyring
// OpenSSL parses the message and performs the signature arithmetic.
#include <openssl/cms.h>
#include <openssl/rsa.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <iterator>
#include <mutex>
#include <new>

#include "bpfsig/crypto.h"
#include "crypto/ber.h"
#include "crypto/hornet_internal.h"
#include "crypto/ossl.h"

namespace bpfsig::crypto {

namespace {

// ---- the kernel's algorithm tables ------------------------------------------

constexpr const char* kOidSignedData = "1.2.840.113549.1.7.2";
constexpr const char* kOidData = "1.2.840.113549.1.7.1";
constexpr const char* kOidMsIndirectData = "1.3.6.1.4.1.311.2.1.4";

// The signed attributes pkcs7_sig_note_authenticated_attr() acts on. Like the
// kernel's look_up_OID(), they are told apart by their OID's content octets:
// an attribute is put in words only when a message must name it.
enum class AttrId { kOther, kContentType, kMessageDigest, kSigningTime, kSmimeCapabilities, kMsStatementType, kMsSpOpusInfo };

AttrId attribute_id(const ASN1_OBJECT* oid) {
  static constexpr uint8_t kPkcs9[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09};   // 1.2.840.113549.1.9
  static constexpr uint8_t kMsSpc[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01};  // 1.3.6.1.4.1.311.2.1
  const unsigned char* p = OBJ_get0_data(oid);
  const size_t n = p == nullptr ? 0 : static_cast<size_t>(OBJ_length(oid));
  // One more arc under the prefix, below 128: a single content octet.
  auto last_arc_under = [&](ByteView prefix) -> int {
    if (n != prefix.size() + 1 || !std::equal(prefix.begin(), prefix.end(), p)) return -1;
    return p[n - 1];
  };
  switch (last_arc_under(kPkcs9)) {
    case 3: return AttrId::kContentType;
    case 4: return AttrId::kMessageDigest;
    case 5: return AttrId::kSigningTime;
    case 15: return AttrId::kSmimeCapabilities;
  }
  switch (last_arc_under(kMsSpc)) {
    case 11: return AttrId::kMsStatementType;
    case 12: return AttrId::kMsSpOpusInfo;
  }
  return AttrId::kOther;
}

// pkcs7_sig_note_digest_algo(): every digest the parser knows. The OpenSSL
// name is null for the ones OpenSSL cannot compute (Streebog).
struct DigestAlgo {
  const char* oid;
  const char* kernel_name;
  const char* openssl_name;
};
constexpr DigestAlgo kDigests[] = {
    {"1.3.14.3.2.26", "sha1", "SHA1"},
    {"2.16.840.1.101.3.4.2.1", "sha256", "SHA2-256"},
    {"2.16.840.1.101.3.4.2.2", "sha384", "SHA2-384"},
    {"2.16.840.1.101.3.4.2.3", "sha512", "SHA2-512"},
    {"2.16.840.1.101.3.4.2.4", "sha224", "SHA2-224"},
    {"1.2.156.10197.1.401", "sm3", "SM3"},
    {"1.2.643.7.1.1.2.2", "streebog256", nullptr},
    {"1.2.643.7.1.1.2.3", "streebog512", nullptr},
    {"2.16.840.1.101.3.4.2.8", "sha3-256", "SHA3-256"},
    {"2.16.840.1.101.3.4.2.9", "sha3-384", "SHA3-384"},
    {"2.16.840.1.101.3.4.2.10", "sha3-512", "SHA3-512"},
};

// pkcs7_sig_note_pkey_algo(): the signature algorithms of Linux 6.18.
enum class SigKind { kRsa, kEcdsa, kEcrdsa };
struct SigAlgo {
  const char* oid;
  SigKind kind;
};
constexpr SigAlgo kSignatureAlgos[] = {
    {"1.2.840.113549.1.1.1", SigKind::kRsa},      // rsaEncryption (PKCS#1 v1.5)
    {"1.2.840.10045.4.1", SigKind::kEcdsa},       // ecdsa-with-SHA1
    {"1.2.840.10045.4.3.1", SigKind::kEcdsa},     // ecdsa-with-SHA224
    {"1.2.840.10045.4.3.2", SigKind::kEcdsa},     // ecdsa-with-SHA256
    {"1.2.840.10045.4.3.3", SigKind::kEcdsa},     // ecdsa-with-SHA384
    {"1.2.840.10045.4.3.4", SigKind::kEcdsa},     // ecdsa-with-SHA512
    {"2.16.840.1.101.3.4.3.10", SigKind::kEcdsa}, // ecdsa-with-SHA3-256
    {"2.16.840.1.101.3.4.3.11", SigKind::kEcdsa}, // ecdsa-with-SHA3-384
    {"2.16.840.1.101.3.4.3.12", SigKind::kEcdsa}, // ecdsa-with-SHA3-512
    {"1.2.643.7.1.1.1.1", SigKind::kEcrdsa},      // GOST R 34.10-2012 256
    {"1.2.643.7.1.1.1.2", SigKind::kEcrdsa},      // GOST R 34.10-2012 512
};

const DigestAlgo* find_digest(const std::string& oid) {
  for (const DigestAlgo& d : kDigests)
    if (oid == d.oid) return &d;
  return nullptr;
}

const SigAlgo* find_signature_algo(const std::string& oid) {
  for (const SigAlgo& s : kSignatureAlgos)
    if (oid == s.oid) return &s;
  return nullptr;
}

// The hashes the kernel's "pkcs1(rsa,HASH)" and "ecdsa" verifiers accept
// (crypto/rsassa-pkcs1.c, software_key_determine_akcipher()).
bool kernel_verifier_takes_hash(const char* hash) {
  static const char* const kHashes[] = {"sha1", "sha224", "sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"};
  for (const char* h : kHashes)
    if (std::strcmp(h, hash) == 0) return true;
  return false;
}

// public_key_verify_signature() refuses a signature whose algorithm is not
// the key's ("ecdsa" signatures go with any "ecdsa-nist-*" key).
bool key_fits(EVP_PKEY* key, SigKind kind) {
  if (key == nullptr) return false;
  switch (kind) {
    case SigKind::kRsa: return EVP_PKEY_is_a(key, "RSA");
    case SigKind::kEcdsa: return EVP_PKEY_is_a(key, "EC");
    case SigKind::kEcrdsa: return false;
  }
  return false;
}

// ---- small helpers --------------------------------------------------------------

SigCheck reject(int err, const char* kind, std::string detail) {
  SigCheck c;
  c.err = err;
  c.kind = kind;
  c.detail = std::move(detail);
  return c;
}
using Rejection = std::optional<SigCheck>;

std::string nth(int index) { return "signer " + std::to_string(index); }

Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes out(a);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes string_bytes(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  const unsigned char* p = ASN1_STRING_get0_data(s);
  return Bytes(p, p + ASN1_STRING_length(s));
}

Bytes oid_bytes(const ASN1_OBJECT* oid) {
  const unsigned char* p = OBJ_get0_data(oid);
  return p == nullptr ? Bytes{} : Bytes(p, p + OBJ_length(oid));
}

Bytes name_content(const X509_NAME* name) { return ossl::der_content(ossl::der_of(name, i2d_X509_NAME)); }
Bytes integer_content(const ASN1_INTEGER* value) { return ossl::der_content(ossl::der_of(value, i2d_ASN1_INTEGER)); }

// The content octets the kernel's action sees for an attribute value of any type.
Bytes attribute_value_content(const ASN1_TYPE* value) {
  switch (value->type) {
    case V_ASN1_OBJECT: return oid_bytes(value->value.object);
    case V_ASN1_NULL: return {};
    case V_ASN1_BOOLEAN: return {static_cast<uint8_t>(value->value.boolean ? 0xff : 0)};
    default: return string_bytes(value->value.asn1_string);
  }
}

// x509_decode_time(): UTCTime "YYMMDDHHMMSSZ" (years 1970-2049) or
// GeneralizedTime "YYYYMMDDHHMMSSZ" (outside 1950-2049), nothing else.
std::optional<int64_t> kernel_decode_time(int type, ByteView text) {
  auto two = [&](size_t at) -> std::optional<unsigned> {
    unsigned hi = text[at] - '0', lo = text[at + 1] - '0';
    if (hi > 9 || lo > 9) return std::nullopt;
    return hi * 10 + lo;
  };
  size_t pos = 0;
  unsigned year = 0;
  if (type == V_ASN1_UTCTIME) {
    if (text.size() != 13) return std::nullopt;
    auto yy = two(0);
    if (!yy) return std::nullopt;
    year = *yy >= 50 ? 1900 + *yy : 2000 + *yy;
    pos = 2;
  } else if (type == V_ASN1_GENERALIZEDTIME) {
    if (text.size() != 15) return std::nullopt;
    auto cc = two(0), yy = two(2);
    if (!cc || !yy) return std::nullopt;
    year = *cc * 100 + *yy;
    if (year >= 1950 && year <= 2049) return std::nullopt;
    pos = 4;
  } else {
    return std::nullopt;
  }
  unsigned field[5];
  for (unsigned& f : field) {
    auto v = two(pos);
    if (!v) return std::nullopt;
    f = *v;
    pos += 2;
  }
  const unsigned mon = field[0], day = field[1], hour = field[2], min = field[3], sec = field[4];
  if (text[pos] != 'Z' || year < 1970 || mon < 1 || mon > 12) return std::nullopt;
  static const unsigned kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const unsigned month_days = mon == 2 && leap ? 29 : kMonthDays[mon - 1];
  // ISO 8601 allows 24:00:00 and leap seconds; so does the kernel.
  if (day < 1 || day > month_days || hour > 24 || min > 59 || sec > 60) return std::nullopt;
  // Days since the epoch (proleptic Gregorian), as mktime64() computes.
  const int64_t y = static_cast<int64_t>(year) - (mon <= 2 ? 1 : 0);
  const int64_t era = y / 400;
  const int64_t yoe = y - era * 400;
  const int64_t mp = (static_cast<int64_t>(mon) + 9) % 12;
  const int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + hour * 3600 + min * 60 + sec;
}

std::optional<int64_t> kernel_decode_time(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  return kernel_decode_time(ASN1_STRING_type(t), string_bytes(t));
}

// ---- key identifiers, as asymmetric_key_generate_id() builds them ------------

// The ids a certificate's key carries in a keyring (x509_key_preparse()):
// serial || issuer, the subjectKeyIdentifier, and the subject.
struct KeyIds {
  Bytes id;
  std::optional<Bytes> skid;
  Bytes subject;
  bool matches(const Bytes& wanted) const { return id == wanted || (skid && *skid == wanted) || subject == wanted; }
};

KeyIds key_ids(X509* cert) {
  KeyIds ids;
  ids.id = concat(integer_content(X509_get0_serialNumber(cert)), name_content(X509_get_issuer_name(cert)));
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert)) ids.skid = string_bytes(skid);
  ids.subject = name_content(X509_get_subject_name(cert));
  return ids;
}

// A certificate's authorityKeyIdentifier as the kernel reads it: auth_ids[0]
// is serial || directoryName, auth_ids[1] the keyIdentifier.
struct AuthorityIds {
  std::optional<Bytes> id;
  std::optional<Bytes> keyid;
  bool any() const { return id || keyid; }
};

AuthorityIds authority_ids(X509* cert) {
  AuthorityIds a;
  if (const ASN1_OCTET_STRING* keyid = X509_get0_authority_key_id(cert)) a.keyid = string_bytes(keyid);
  const GENERAL_NAMES* issuers = X509_get0_authority_issuer(cert);
  const ASN1_INTEGER* serial = X509_get0_authority_serial(cert);
  if (issuers != nullptr && serial != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(issuers); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(issuers, i);
      if (gn->type == GEN_DIRNAME) {
        a.id = concat(integer_content(serial), name_content(gn->d.directoryName));
        break;
      }
    }
  }
  return a;
}

// find_asymmetric_key(keyring, id_0, id_1): the first key carrying id_0 (or
// id_1 when id_0 is absent); with both, that key's SKID must equal id_1.
X509* find_key(const std::vector<X509*>& keyring, const std::optional<Bytes>& id_0, const std::optional<Bytes>& id_1) {
  const std::optional<Bytes>& lookup = id_0 ? id_0 : id_1;
  if (!lookup) return nullptr;
  for (X509* cert : keyring) {
    KeyIds ids = key_ids(cert);
    if (!ids.matches(*lookup)) continue;
    if (id_0 && id_1 && (!ids.skid || *ids.skid != *id_1)) return nullptr;  // -EKEYREJECTED: "second ID does not match"
    return cert;
  }
  return nullptr;
}

// The first half of x509_check_for_self_signed(): same issuer and subject,
// and an AKID (if any) that points at the certificate itself.
bool claims_self_signed(X509* cert) {
  KeyIds ids = key_ids(cert);
  if (name_content(X509_get_issuer_name(cert)) != ids.subject) return false;
  AuthorityIds auth = authority_ids(cert);
  if (!auth.any()) return true;
  bool by_keyid = auth.keyid && ids.skid && *auth.keyid == *ids.skid;
  bool by_id = auth.id && *auth.id == ids.id;
  return by_keyid || by_id;
}

bool verifies_own_signature(X509* cert) {
  bool ok = X509_verify(cert, X509_get0_pubkey(cert)) == 1;
  ERR_clear_error();
  return ok;
}

bool self_signed(X509* cert) { return claims_self_signed(cert) && verifies_own_signature(cert); }

// ---- the parsed message -------------------------------------------------------

struct Signer {
  CMS_SignerInfo* si = nullptr;
  int index = 0;  // 1-based, like the kernel's sinfo->index
  const DigestAlgo* digest = nullptr;
  SigKind kind = SigKind::kRsa;
  bool has_attrs = false;
  Bytes id;  // sinfo->sig->auth_ids[0]
  std::optional<Bytes> message_digest;
  std::optional<Bytes> content_digest;  // the digest of the content, computed once in verify_one()
  std::optional<int64_t> signing_time;
  bool unsupported_crypto = false;
  X509* carried_cert = nullptr;  // the certificate in the message that names this signer
  Bytes signed_attrs;  // the signedAttrs bytes as received, retagged as a SET: what the signature covers
};

struct Message {
  ossl::Cms cms;
  bool authenticode = false;  // eContentType is Microsoft's SpcIndirectDataContent
  Bytes content_type;         // eContentType, OID content octets
  ossl::X509Stack certs;      // certificates carried in the message
  std::vector<Signer> signers;
};

// Fields the kernel's parser keeps in its context between SignerInfos; a
// signer whose identifier has the other form reuses the previous one's.
struct SignerIdScratch {
  Bytes serial, issuer, skid;
};

// ---- parse phase: pkcs7_parse_message() --------------------------------------

Rejection check_signed_data_version(const Bytes& version) {
  if (version.size() != 1 || (version[0] != 1 && version[0] != 3))
    return reject(EINVAL, "cms_version", "unsupported SignedData version (the kernel takes 1 and 3)");
  return std::nullopt;
}

Rejection check_content_type(Message& msg) {
  const ASN1_OBJECT* type = CMS_get0_eContentType(msg.cms.get());
  std::string dotted = ossl::oid_dotted(type);
  msg.content_type = oid_bytes(type);
  if (dotted == kOidData) return std::nullopt;
  if (dotted == kOidMsIndirectData) {
    msg.authenticode = true;
    return std::nullopt;
  }
  return reject(EINVAL, "content_type", "encapsulated content type " + dotted + " is neither id-data nor Authenticode");
}

// x509_cert_parse() rejects a self-issued certificate whose own signature
// fails; that fails the whole message.
Rejection check_carried_certificates(Message& msg) {
  msg.certs.reset(CMS_get1_certs(msg.cms.get()));
  ERR_clear_error();  // no certificates is not an error
  for (int i = 0; msg.certs && i < sk_X509_num(msg.certs.get()); ++i) {
    X509* cert = sk_X509_value(msg.certs.get(), i);
    // x509_extract_key_data(): a key the kernel cannot use fails the parse.
    if (KernelKeyClass key = classify_kernel_key(X509_get0_pubkey(cert)); !key.usable)
      return reject(ENOPKG, "unsupported_algo",
                    "certificate " + std::to_string(i + 1) + " in the message has a " + key.algo +
                        " key (the kernel accepts " + kKernelKeyAlgorithms + ")");
    if (claims_self_signed(cert) && !verifies_own_signature(cert))
      return reject(EKEYREJECTED, "bad_certificate", "certificate " + std::to_string(i + 1) + " in the message fails its own signature");
  }
  return std::nullopt;
}

// pkcs7_note_signerinfo_version(): v1 names the signer by issuer and serial
// and needs a v1 SignedData; v3 names it by SKID and needs a v3 SignedData.
Rejection check_signer_version(const Bytes& version, uint8_t sd_version, int index, bool& expect_skid) {
  if (version.size() != 1 || (version[0] != 1 && version[0] != 3))
    return reject(EINVAL, "cms_version", nth(index) + ": unsupported SignerInfo version");
  if ((version[0] == 1) != (sd_version == 1))
    return reject(EBADMSG, "cms_version", nth(index) + ": SignerInfo version does not go with the SignedData version");
  expect_skid = version[0] == 3;
  return std::nullopt;
}

void note_signer_id(CMS_SignerInfo* si, SignerIdScratch& scratch) {
  ASN1_OCTET_STRING* keyid = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial);
  if (keyid != nullptr) scratch.skid = string_bytes(keyid);
  if (issuer != nullptr) scratch.issuer = name_content(issuer);
  if (serial != nullptr) scratch.serial = integer_content(serial);
}

// pkcs7_sig_note_authenticated_attr() and pkcs7_sig_note_set_of_authattrs().
class AttributeRules {
 public:
  AttributeRules(const Message& msg, Signer& signer) : msg_(msg), signer_(signer) {}

  Rejection apply() {
    const int count = CMS_signed_get_attr_count(signer_.si);
    for (int i = 0; i < count; ++i) {
      X509_ATTRIBUTE* attr = CMS_signed_get_attr(signer_.si, i);
      const ASN1_OBJECT* oid = X509_ATTRIBUTE_get0_object(attr);
      const AttrId id = attribute_id(oid);
      for (int j = 0; id != AttrId::kOther && j < X509_ATTRIBUTE_count(attr); ++j)
        if (auto r = note(id, oid, X509_ATTRIBUTE_get0_type(attr, j))) return r;
    }
    if (!content_type_ || !message_digest_)
      return reject(EBADMSG, "cms_attrs", where() + "signed attributes lack contentType or messageDigest");
    return std::nullopt;
  }

 private:
  std::string where() const { return nth(signer_.index) + ": "; }

  Rejection once(bool& seen, const ASN1_OBJECT* oid) {
    if (!seen) {
      seen = true;
      return std::nullopt;
    }
    return reject(EKEYREJECTED, "cms_attrs", where() + "signed attribute " + ossl::oid_dotted(oid) + " is repeated or multi-valued");
  }

  Rejection note(AttrId id, const ASN1_OBJECT* oid, const ASN1_TYPE* value) {
    switch (id) {
      case AttrId::kContentType:
        if (auto r = once(content_type_, oid)) return r;
        if (attribute_value_content(value) != msg_.content_type)
          return reject(EBADMSG, "cms_attrs", where() + "the contentType attribute differs from the encapsulated content type");
        break;
      case AttrId::kSigningTime: {
        if (auto r = once(signing_time_, oid)) return r;
        const bool is_time = value->type == V_ASN1_UTCTIME || value->type == V_ASN1_GENERALIZEDTIME;
        if (is_time) signer_.signing_time = kernel_decode_time(value->type, string_bytes(value->value.asn1_string));
        if (!signer_.signing_time) return reject(EBADMSG, "cms_attrs", where() + "the signingTime attribute is not a time the kernel reads");
        break;
      }
      case AttrId::kMessageDigest:
        if (auto r = once(message_digest_, oid)) return r;
        if (value->type != V_ASN1_OCTET_STRING)
          return reject(EBADMSG, "cms_attrs", where() + "the messageDigest attribute is not an OCTET STRING");
        signer_.message_digest = string_bytes(value->value.octet_string);
        break;
      case AttrId::kSmimeCapabilities:
        if (auto r = once(smime_caps_, oid)) return r;
        if (!msg_.authenticode)
          return reject(EKEYREJECTED, "cms_attrs", where() + "an S/MIME capabilities attribute is only allowed with Authenticode");
        break;
      case AttrId::kMsSpOpusInfo:
      case AttrId::kMsStatementType:
        if (auto r = once(id == AttrId::kMsSpOpusInfo ? opus_info_ : statement_type_, oid)) return r;
        if (!msg_.authenticode)
          return reject(EKEYREJECTED, "cms_attrs", where() + "an Authenticode attribute is only allowed with Authenticode");
        break;
      case AttrId::kOther: break;
    }
    return std::nullopt;
  }

  const Message& msg_;
  Signer& signer_;
  bool content_type_ = false, signing_time_ = false, message_digest_ = false;
  bool smime_caps_ = false, opus_info_ = false, statement_type_ = false;
};

Rejection parse_signer(Message& msg, Signer& s, const Bytes& version, uint8_t sd_version, SignerIdScratch& scratch) {
  bool expect_skid = false;
  if (auto r = check_signer_version(version, sd_version, s.index, expect_skid)) return r;
  note_signer_id(s.si, scratch);

  X509_ALGOR* digest_alg = nullptr;
  X509_ALGOR* signature_alg = nullptr;
  CMS_SignerInfo_get0_algs(s.si, nullptr, nullptr, &digest_alg, &signature_alg);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, digest_alg);
  s.digest = find_digest(ossl::oid_dotted(oid));
  if (s.digest == nullptr)
    return reject(ENOPKG, "unsupported_algo", nth(s.index) + ": digest algorithm " + ossl::oid_dotted(oid) + " is not one the kernel knows");

  s.has_attrs = CMS_signed_get_attr_count(s.si) >= 0;
  if (s.has_attrs)
    if (auto r = AttributeRules(msg, s).apply()) return r;

  X509_ALGOR_get0(&oid, nullptr, nullptr, signature_alg);
  const SigAlgo* sig = find_signature_algo(ossl::oid_dotted(oid));
  if (sig == nullptr)
    return reject(ENOPKG, "unsupported_algo", nth(s.index) + ": signature algorithm " + ossl::oid_dotted(oid) + " is not one the kernel knows");
  s.kind = sig->kind;

  if (msg.authenticode && !s.has_attrs)
    return reject(EBADMSG, "cms_attrs", nth(s.index) + ": Authenticode requires signed attributes");
  s.id = expect_skid ? scratch.skid : concat(scratch.serial, scratch.issuer);
  return std::nullopt;
}

Rejection parse_message(ByteView der, Message& msg) {
  if (!ber::within_kernel_limits(der))
    return reject(EBADMSG, "cms_parse", "not a PKCS#7 message the kernel's ASN.1 decoder reads");
  const unsigned char* p = der.data();
  // Bytes after the ContentInfo are ignored: lib/asn1_decoder.c stops there.
  msg.cms.reset(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!msg.cms) return reject(EBADMSG, "cms_parse", "not a DER/BER CMS ContentInfo");
  if (ossl::oid_dotted(CMS_get0_type(msg.cms.get())) != kOidSignedData)
    return reject(EINVAL, "cms_type", "the content type is " + ossl::oid_dotted(CMS_get0_type(msg.cms.get())) + ", not SignedData");
  auto layout = ber::signed_data_layout(der);
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(msg.cms.get());
  const int count = sk_CMS_SignerInfo_num(infos);
  if (!layout || static_cast<int>(layout->signer_versions.size()) != std::max(count, 0))
    return reject(EBADMSG, "cms_parse", "malformed SignedData");

  if (auto r = check_signed_data_version(layout->signed_data_version)) return r;
  if (auto r = check_content_type(msg)) return r;
  // pkcs7_extract_cert() takes X.509 certificates only, and the kernel's
  // grammar reads every CRL entry as certificates too, which a real CRL is not.
  if (!layout->only_plain_certificates)
    return reject(EBADMSG, "cms_parse", "the message carries a certificate that is not an X.509 certificate");
  if (layout->crl_count != 0) return reject(EBADMSG, "cms_parse", "the message carries CRLs, which the kernel cannot parse");
  if (auto r = check_carried_certificates(msg)) return r;

  SignerIdScratch scratch;
  for (int i = 0; i < count; ++i) {
    Signer s;
    s.si = sk_CMS_SignerInfo_value(infos, i);
    s.index = i + 1;
    if (auto r = parse_signer(msg, s, layout->signer_versions[static_cast<size_t>(i)], layout->signed_data_version[0], scratch))
      return r;
    s.signed_attrs = std::move(layout->signed_attrs_as_set[static_cast<size_t>(i)]);
    msg.signers.push_back(std::move(s));
  }
  // pkcs7_check_authattrs(): at least one signer, and signed attributes on all or none.
  if (msg.signers.empty()) return reject(EINVAL, "no_signers", "the SignedData has no SignerInfo");
  for (const Signer& s : msg.signers)
    if (s.has_attrs != msg.signers.front().has_attrs)
      return reject(EINVAL, "cms_attrs", "signed attributes are on some signers but not on others");
  return std::nullopt;
}

// ---- the arithmetic -------------------------------------------------------------

// The signed content: the concatenation of these views, never built.
using Content = std::vector<ByteView>;

// Each digest is fetched once per process, the first time a signature names
// it: EVP_MD_fetch takes the library's locks on every call.
const EVP_MD* fetch_digest(const DigestAlgo& d) {
  if (d.openssl_name == nullptr) return nullptr;
  static std::array<std::once_flag, std::size(kDigests)> once;
  static std::array<ossl::Md, std::size(kDigests)> fetched;
  const size_t i = static_cast<size_t>(&d - kDigests);
  std::call_once(once[i], [&] {
    fetched[i].reset(EVP_MD_fetch(nullptr, d.openssl_name, nullptr));
    ERR_clear_error();
  });
  return fetched[i].get();
}

// The digest of the parts' concatenation, hashed part by part.
std::optional<Bytes> digest_of(const DigestAlgo& d, const Content& content) {
  const EVP_MD* md = fetch_digest(d);
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  for (ByteView part : content) {
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) {
      ERR_clear_error();
      return std::nullopt;
    }
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return Bytes(out, out + len);
}

// The digest the signature signs, as the kernel's pkcs7_digest() gives it to
// public_key_verify_signature(): with signed attributes, theirs exactly as
// they were received, their [0] tag read as SET (not a re-encoding of them,
// which is what CMS_SignerInfo_verify() would check); without, the content's,
// which verify_one() has computed already.
std::optional<Bytes> signed_digest(const Signer& s, const Content& content) {
  if (s.has_attrs) return s.signed_attrs.empty() ? std::nullopt : digest_of(*s.digest, Content{ByteView(s.signed_attrs)});
  return s.content_digest ? s.content_digest : digest_of(*s.digest, content);
}

// The signature checked against that digest, one path with or without
// signed attributes (a signature over a digest is the same check for the
// RSA and ECDSA keys the kernel takes, whichever bytes were hashed).
bool digest_signature_verifies(const Signer& s, EVP_PKEY* key, const Content& content) {
  const ASN1_OCTET_STRING* sig = CMS_SignerInfo_get0_signature(s.si);
  std::optional<Bytes> digest = signed_digest(s, content);
  const EVP_MD* md = fetch_digest(*s.digest);
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!sig || !digest || !md || !ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
  if (s.kind == SigKind::kRsa && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return false;
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) return false;
  return EVP_PKEY_verify(ctx.get(), sig->data, static_cast<size_t>(sig->length), digest->data(), digest->size()) == 1;
}

bool signature_verifies(const Signer& s, X509* cert, const Content& content) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (!key_fits(key, s.kind) || !kernel_verifier_takes_hash(s.digest->kernel_name)) {
    ERR_clear_error();
    return false;
  }
  const bool ok = digest_signature_verifies(s, key, content);
  ERR_clear_error();
  return ok;
}

// ---- verify phase: pkcs7_verify() -------------------------------------------

// pkcs7_find_key(): a certificate in the message whose serial || issuer is
// the signer's identifier (only that form: a SKID never matches here).
X509* carried_signer_cert(const Message& msg, const Signer& s) {
  for (int i = 0; msg.certs && i < sk_X509_num(msg.certs.get()); ++i) {
    X509* cert = sk_X509_value(msg.certs.get(), i);
    if (key_ids(cert).id == s.id) return cert;
  }
  return nullptr;
}

// pkcs7_verify_one(). ENOPKG means "cannot check this signer": the caller
// skips it, as the kernel does.
Rejection verify_one(const Message& msg, Signer& s, const Content& content) {
  std::optional<Bytes>& digest = s.content_digest;
  if (s.kind != SigKind::kEcrdsa) digest = digest_of(*s.digest, content);
  if (!digest) return reject(ENOPKG, "unsupported_algo", nth(s.index) + ": " + s.digest->kernel_name + " cannot be computed here");
  if (s.has_attrs) {
    if (s.message_digest->size() != digest->size())
      return reject(EBADMSG, "cms_attrs", nth(s.index) + ": the messageDigest attribute has the wrong size for " + s.digest->kernel_name);
    if (*s.message_digest != *digest)
      return reject(EKEYREJECTED, "bad_digest", nth(s.index) + ": the messageDigest attribute is not the digest of the content");
  }
  s.carried_cert = carried_signer_cert(msg, s);
  if (s.carried_cert == nullptr) return std::nullopt;
  if (s.signing_time) {
    auto from = kernel_decode_time(X509_get0_notBefore(s.carried_cert));
    auto to = kernel_decode_time(X509_get0_notAfter(s.carried_cert));
    if (!from || !to) return reject(EBADMSG, "cms_parse", nth(s.index) + ": the certificate in the message has a validity the kernel cannot read");
    if (*s.signing_time < *from || *s.signing_time > *to)
      return reject(EKEYREJECTED, "signing_time", nth(s.index) + ": signed outside the validity of the certificate in the message");
  }
  if (!signature_verifies(s, s.carried_cert, content))
    return reject(EKEYREJECTED, "bad_signature", nth(s.index) + ": the signature does not verify with the certificate in the message");
  return std::nullopt;
}

Rejection verify_phase(const Message& msg, std::vector<Signer>& signers, const Content& content) {
  bool any_checked = false;
  for (Signer& s : signers) {
    Rejection r = verify_one(msg, s, content);
    if (r && r->err == ENOPKG) {
      s.unsupported_crypto = true;
      continue;
    }
    if (r) return r;
    any_checked = true;
  }
  if (!any_checked) return reject(ENOPKG, "unsupported_algo", "no signer uses algorithms the kernel can check");
  return std::nullopt;
}

// ---- trust phase: pkcs7_validate_trust() ------------------------------------

struct TrustVerdict {
  int err = ENOKEY;
  X509* key = nullptr;  // the trusted certificate that vouched, when err == 0
  std::string detail;
};

TrustVerdict trusted_by(X509* key) { return TrustVerdict{0, key, ""}; }
TrustVerdict rejected(const std::string& detail) { return TrustVerdict{EKEYREJECTED, nullptr, detail}; }

// The chain step of pkcs7_validate_trust_one() for a signer whose certificate
// travels in the message. nullopt: fall through to the direct lookup.
std::optional<TrustVerdict> trust_via_carried_cert(const Signer& s, const std::vector<X509*>& keyring, const Content& content) {
  X509* cert = s.carried_cert;
  KeyIds ids = key_ids(cert);
  if (X509* key = find_key(keyring, ids.id, ids.skid)) {
    if (!signature_verifies(s, key, content)) return rejected(nth(s.index) + ": the signature does not verify with the trusted certificate");
    return trusted_by(key);
  }
  // An unknown self-signed root ends the search: no direct lookup follows.
  if (self_signed(cert)) return TrustVerdict{ENOKEY, nullptr, nth(s.index) + ": the message's self-signed certificate is not trusted"};
  AuthorityIds auth = authority_ids(cert);
  if (!auth.any()) return std::nullopt;
  X509* issuer = find_key(keyring, auth.id, auth.keyid);
  if (issuer == nullptr) return std::nullopt;
  bool ok = X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
  ERR_clear_error();
  if (!ok) return rejected(nth(s.index) + ": the certificate in the message is not signed by the trusted issuer");
  return trusted_by(issuer);
}

TrustVerdict trust_one(const Signer& s, const std::vector<X509*>& keyring, const Content& content) {
  if (s.carried_cert != nullptr)
    if (auto v = trust_via_carried_cert(s, keyring, content)) return *v;
  // "As a last resort, see if we have a trusted public key that matches the
  // signed info directly."
  X509* key = find_key(keyring, s.id, std::nullopt);
  if (key == nullptr) return TrustVerdict{ENOKEY, nullptr, nth(s.index) + ": no trusted certificate matches the signer"};
  if (!signature_verifies(s, key, content)) return rejected(nth(s.index) + ": the signature does not verify with the trusted certificate");
  return trusted_by(key);
}

// The position of key in trusted (the caller's vector), -1 when absent.
int index_in(const std::vector<Certificate>& trusted, const X509* key) {
  for (size_t i = 0; i < trusted.size(); ++i)
    if (trusted[i].get() == key) return static_cast<int>(i);
  return -1;
}

SigCheck trust_phase(const std::vector<Signer>& signers, const Content& content, const std::vector<Certificate>& trusted) {
  std::vector<X509*> keyring;
  // add_key never lets a certificate with a key the kernel cannot use into a
  // keyring, so such a "trusted" certificate vouches for nothing.
  for (const Certificate& c : trusted)
    if (c && classify_kernel_key(X509_get0_pubkey(c.get())).usable) keyring.push_back(c.get());
  int cached = ENOKEY;
  const Signer* winner = nullptr;
  X509* winner_key = nullptr;
  for (const Signer& s : signers) {
    if (s.unsupported_crypto) {
      if (cached == ENOKEY) cached = ENOPKG;
      continue;
    }
    TrustVerdict v = trust_one(s, keyring, content);
    if (v.err == ENOKEY) continue;
    if (v.err != 0) return reject(v.err, "bad_signature", v.detail);
    cached = 0;
    if (winner == nullptr) {
      winner = &s;
      winner_key = v.key;
    }
  }
  if (cached == ENOPKG) return reject(ENOPKG, "unsupported_algo", "the only signers a trusted key could match use algorithms that cannot be checked");
  if (cached != 0) return reject(ENOKEY, "no_key", "no signer is vouched for by a trusted certificate");
  SigCheck ok;
  ok.err = 0;
  ok.kind = "ok";
  ok.signer = describe(winner_key);
  ok.signer_index = index_in(trusted, winner_key);
  ok.detail = nth(winner->index) + " verified by the trusted certificate " + ok.signer->subject;
  return ok;
}

SigCheck parse_signature(ByteView signature, Message& msg) {
  if (signature.empty()) return reject(EBADMSG, "cms_parse", "the signature is empty");
  if (auto r = parse_message(signature, msg)) return *r;
  SigCheck ok;
  ok.kind = "ok";
  ok.detail = "the kernel's PKCS#7 parser accepts the message";
  return ok;
}

// verify_kernel_rules() on a message parse_signature() has read. The per-signer
// results of the verify phase go into a copy of the signers, so that one
// parsed message can be checked against any content and keyring.
Rejection too_large(size_t signature_size) {
  if (signature_size <= kMaxKernelSignatureSize) return std::nullopt;
  return reject(EINVAL, "sig_too_large",
                std::to_string(signature_size) + " bytes is over the kernel's limit of " + std::to_string(kMaxKernelSignatureSize));
}

SigCheck check(size_t signature_size, const Message& msg, const SigCheck& parsed, const Content& content,
               const std::vector<Certificate>& trusted) {
  if (auto r = too_large(signature_size)) return *r;
  if (parsed.err != 0) return parsed;
  // verify_pkcs7_message_sig(): the data must be supplied, never carried.
  if (CMS_is_detached(msg.cms.get()) != 1) return reject(EBADMSG, "cms_embedded", "the signature carries its content; the kernel wants it detached");
  // pkcs7_verify(), usage VERIFYING_BPF_SIGNATURE.
  if (msg.authenticode) return reject(EKEYREJECTED, "content_type", "an Authenticode signature is not a pkcs7-data one");
  std::vector<Signer> signers = msg.signers;
  if (auto r = verify_phase(msg, signers, content)) return *r;
  return trust_phase(signers, content, trusted);
}

// Runs one of the checks with the module's error discipline: a library error
// or an allocation failure is a rejection, never an exception.
template <class Fn>
SigCheck guarded(Fn&& fn) {
  ossl::ErrorQueueGuard guard;
  try {
    return fn();
  } catch (const Error& e) {
    return reject(e.err(), "internal", e.what());
  } catch (const std::bad_alloc&) {
    return reject(ENOMEM, "internal", "out of memory");
  }
}

}  // namespace

struct KernelMessage::Impl {
  size_t size = 0;
  Message msg;
  SigCheck parsed;
  // Kept only when the kernel's decoder refused the bytes before OpenSSL
  // decoded them: hornet_attribute() still reads such a message as before.
  Bytes undecoded;
  // The attribute is decoded on first use. A mutex, not std::call_once: glibc
  // ends every pthread_once that ran its routine with a futex_wake system
  // call, one per message here, where an uncontended mutex stays in user space.
  std::mutex attribute_mutex;
  bool attribute_decoded = false;
  std::optional<HornetAttribute> attribute;
  std::optional<Error> attribute_error;
};

KernelMessage::KernelMessage(ByteView signature) : impl_(std::make_unique<Impl>()) {
  impl_->size = signature.size();
  impl_->parsed = guarded([&] { return parse_signature(signature, impl_->msg); });
  if (!impl_->msg.cms) impl_->undecoded.assign(signature.begin(), signature.end());
}
KernelMessage::~KernelMessage() = default;
KernelMessage::KernelMessage(KernelMessage&&) noexcept = default;
KernelMessage& KernelMessage::operator=(KernelMessage&&) noexcept = default;

size_t KernelMessage::size() const { return impl_->size; }
const SigCheck& KernelMessage::parse_check() const { return impl_->parsed; }

SigCheck KernelMessage::verify(ByteView content, const std::vector<Certificate>& trusted) const {
  return verify(Content{content}, trusted);
}

SigCheck KernelMessage::verify(const std::vector<ByteView>& content_parts, const std::vector<Certificate>& trusted) const {
  return guarded([&] { return check(impl_->size, impl_->msg, impl_->parsed, content_parts, trusted); });
}

const std::optional<HornetAttribute>& KernelMessage::hornet_attribute() const {
  {
    const std::lock_guard<std::mutex> lock(impl_->attribute_mutex);
    if (!impl_->attribute_decoded) {
      ossl::ErrorQueueGuard guard;
      try {
        impl_->attribute = impl_->msg.cms ? detail::hornet_attribute_of(impl_->msg.cms.get())
                                          : crypto::hornet_attribute(impl_->undecoded);
      } catch (const Error& e) {
        impl_->attribute_error = e;
      }
      impl_->attribute_decoded = true;
    }
  }
  if (impl_->attribute_error) throw *impl_->attribute_error;
  return impl_->attribute;
}

SigCheck verify_kernel_rules(ByteView signature, ByteView content, const std::vector<Certificate>& trusted) {
  return verify_kernel_rules(signature, Content{content}, trusted);
}

SigCheck verify_kernel_rules(ByteView signature, const std::vector<ByteView>& content_parts,
                             const std::vector<Certificate>& trusted) {
  // The size is the kernel's first check: a message over it is not decoded.
  if (auto r = too_large(signature.size())) return *r;
  return KernelMessage(signature).verify(content_parts, trusted);
}

SigCheck parse_kernel_rules(ByteView signature) { return KernelMessage(signature).parse_check(); }

}  // namespace bpfsig::crypto
