// SPDX-License-Identifier: Apache-2.0
// The Hornet signature format: a CMS SignedData over the loader's
// instructions whose signed attributes carry the SHA-256 of each map the
// program may use (security/hornet/ and scripts/hornet/gen_sig.c of the
// Hornet series). Signing follows gen_sig's OpenSSL calls and flags; the
// attribute value is encoded and decoded with OpenSSL ASN.1 templates of the
// same shape as gen_sig's MAP_SET (final) and the v4-v7 indexed variant.
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/objects.h>

#include "bpfsig/crypto.h"
#include "crypto/hornet_internal.h"
#include "crypto/ossl.h"

namespace bpfsig::crypto {

namespace {

// ---- the attribute's ASN.1 types -------------------------------------------------

// Map ::= SEQUENCE { sha OCTET STRING }                       (final)
struct HornetMapFinal {
  ASN1_OCTET_STRING* sha;
};
// Map ::= SEQUENCE { index INTEGER, sha OCTET STRING }        (v4-v7)
struct HornetMapV7 {
  ASN1_INTEGER* index;
  ASN1_OCTET_STRING* sha;
};
// SEQUENCE { SET OF Map }: gen_sig wraps the kernel's HornetData (SET OF Map)
// in a SEQUENCE, whose content octets are what the kernel's decoder reads.
struct HornetSet {
  OPENSSL_STACK* maps;
};

ASN1_SEQUENCE(HornetMapFinal) = {
    ASN1_SIMPLE(HornetMapFinal, sha, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(HornetMapFinal)

ASN1_SEQUENCE(HornetMapV7) = {
    ASN1_SIMPLE(HornetMapV7, index, ASN1_INTEGER),
    ASN1_SIMPLE(HornetMapV7, sha, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(HornetMapV7)

// Two set types sharing one C struct: ASN1_SEQUENCE_END names the item after
// the struct, so the second gets its own name through the _name variant.
ASN1_SEQUENCE(HornetSetFinal) = {
    ASN1_SET_OF(HornetSet, maps, HornetMapFinal),
} ASN1_SEQUENCE_END_name(HornetSet, HornetSetFinal)

ASN1_SEQUENCE(HornetSetV7) = {
    ASN1_SET_OF(HornetSet, maps, HornetMapV7),
} ASN1_SEQUENCE_END_name(HornetSet, HornetSetV7)

const ASN1_ITEM* set_item(HornetFormat format) {
  return format == HornetFormat::kFinal ? ASN1_ITEM_rptr(HornetSetFinal) : ASN1_ITEM_rptr(HornetSetV7);
}
const ASN1_ITEM* map_item(HornetFormat format) {
  return format == HornetFormat::kFinal ? ASN1_ITEM_rptr(HornetMapFinal) : ASN1_ITEM_rptr(HornetMapV7);
}

// An ASN1_item_new() value freed with its item.
class Asn1Value {
 public:
  Asn1Value(ASN1_VALUE* value, const ASN1_ITEM* item) : value_(value), item_(item) {}
  ~Asn1Value() {
    if (value_ != nullptr) ASN1_item_free(value_, item_);
  }
  Asn1Value(const Asn1Value&) = delete;
  Asn1Value& operator=(const Asn1Value&) = delete;
  ASN1_VALUE* get() const { return value_; }
  ASN1_VALUE* release() {
    ASN1_VALUE* v = value_;
    value_ = nullptr;
    return v;
  }
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(value_);
  }

 private:
  ASN1_VALUE* value_;
  const ASN1_ITEM* item_;
};

using Asn1Object = ossl::Owned<ASN1_OBJECT, ASN1_OBJECT_free>;

// Built once per process: OBJ_txt2obj goes through BIGNUMs for the UUID arc,
// and a Hornet verify looks for the attribute on every call.
const ASN1_OBJECT* hornet_oid() {
  static const Asn1Object oid(OBJ_txt2obj(kHornetAttributeOid, 1));
  if (!oid) throw ossl::failure(EIO, "internal", "cannot build the Hornet OID");
  return oid.get();
}

void set_map_fields(ASN1_VALUE* map, const HornetMapHash& hash, HornetFormat format) {
  ASN1_OCTET_STRING* sha = nullptr;
  if (format == HornetFormat::kFinal) {
    sha = reinterpret_cast<HornetMapFinal*>(map)->sha;
  } else {
    auto* m = reinterpret_cast<HornetMapV7*>(map);
    if (ASN1_INTEGER_set(m->index, static_cast<long>(hash.index)) != 1)
      throw ossl::failure(ENOMEM, "internal", "cannot set a Hornet map index");
    sha = m->sha;
  }
  if (ASN1_OCTET_STRING_set(sha, hash.sha.data(), static_cast<int>(hash.sha.size())) != 1)
    throw ossl::failure(ENOMEM, "internal", "cannot set a Hornet map hash");
}

// DER of SEQUENCE { SET OF Map }; the SET OF is sorted, as DER (and gen_sig) has it.
Bytes encode_value(const std::vector<HornetMapHash>& maps, HornetFormat format) {
  Asn1Value set(ASN1_item_new(set_item(format)), set_item(format));
  if (!set.get()) throw ossl::failure(ENOMEM, "internal", "cannot allocate the Hornet map set");
  HornetSet* s = set.as<HornetSet>();
  if (s->maps == nullptr) s->maps = OPENSSL_sk_new_null();
  if (s->maps == nullptr) throw ossl::failure(ENOMEM, "internal", "cannot allocate the Hornet map set");
  for (const HornetMapHash& hash : maps) {
    Asn1Value map(ASN1_item_new(map_item(format)), map_item(format));
    if (!map.get()) throw ossl::failure(ENOMEM, "internal", "cannot allocate a Hornet map");
    set_map_fields(map.get(), hash, format);
    if (OPENSSL_sk_push(s->maps, map.get()) <= 0) throw ossl::failure(ENOMEM, "internal", "cannot add a Hornet map");
    map.release();
  }
  unsigned char* der = nullptr;
  int len = ASN1_item_i2d(set.get(), &der, set_item(format));
  if (len <= 0 || der == nullptr) throw ossl::failure(EIO, "internal", "cannot DER-encode the Hornet map set");
  ossl::OsslBytes owner(der);
  return Bytes(der, der + len);
}

Bytes octets(const ASN1_STRING* s) {
  const unsigned char* p = ASN1_STRING_get0_data(s);
  return Bytes(p, p + ASN1_STRING_length(s));
}

// nullopt when value is not SEQUENCE { SET OF Map } of this format.
std::optional<std::vector<HornetMapHash>> decode_value(ByteView value, HornetFormat format) {
  const unsigned char* p = value.data();
  Asn1Value set(ASN1_item_d2i(nullptr, &p, static_cast<long>(value.size()), set_item(format)), set_item(format));
  ERR_clear_error();
  if (!set.get() || p != value.data() + value.size()) return std::nullopt;
  std::vector<HornetMapHash> maps;
  OPENSSL_STACK* stack = set.as<HornetSet>()->maps;
  for (int i = 0; stack != nullptr && i < OPENSSL_sk_num(stack); ++i) {
    void* map = OPENSSL_sk_value(stack, i);
    HornetMapHash hash;
    if (format == HornetFormat::kFinal) {
      hash.sha = octets(static_cast<HornetMapFinal*>(map)->sha);
    } else {
      auto* m = static_cast<HornetMapV7*>(map);
      // hornet_map_index(): one content octet, read as a u8.
      Bytes content = ossl::der_content(ossl::der_of<ASN1_INTEGER>(m->index, i2d_ASN1_INTEGER));
      if (content.size() != 1)
        throw Error(EBADMSG, "hornet_asn1",
                    "Hornet attribute: map " + std::to_string(i) + " has an index of " + std::to_string(content.size()) +
                        " content bytes; v7 reads exactly one");
      hash.index = content[0];
      hash.sha = octets(m->sha);
    }
    maps.push_back(std::move(hash));
  }
  return maps;
}

// The last value of the last Hornet attribute of the first signer that has
// one, as pkcs7_get_authattr()'s decoder leaves it.
std::optional<Bytes> find_attribute_value(CMS_ContentInfo* cms) {
  const ASN1_OBJECT* oid = hornet_oid();
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms);
  for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, i);
    std::optional<Bytes> found;
    for (int a = 0; a < CMS_signed_get_attr_count(si); ++a) {
      X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, a);
      if (OBJ_cmp(X509_ATTRIBUTE_get0_object(attr), oid) != 0) continue;
      for (int v = 0; v < X509_ATTRIBUTE_count(attr); ++v) {
        ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, v);
        if (value->type != V_ASN1_SEQUENCE)
          throw Error(EBADMSG, "hornet_asn1", "Hornet attribute: the value is not a SEQUENCE");
        found = octets(value->value.sequence);  // a SEQUENCE value is kept as its whole encoding
      }
      if (X509_ATTRIBUTE_count(attr) == 0) throw Error(EBADMSG, "hornet_asn1", "Hornet attribute: no value");
    }
    if (found) return found;
  }
  return std::nullopt;
}

// The format to decode first: the first map's first field is an OCTET STRING
// in the final format and an INTEGER in v7. Looking at that one tag saves
// decoding a v7 value in the wrong grammar first; the other format is still
// tried, so the answer is the one both decoders give.
std::array<HornetFormat, 2> formats_to_try(ByteView value) {
  constexpr uint8_t kInteger = 0x02;
  // SEQUENCE { SET { SEQUENCE { first field: short lengths put it at byte 6.
  const bool v7_first = value.size() > 6 && value[0] == 0x30 && value[2] == 0x31 && value[4] == 0x30 && value[6] == kInteger;
  if (v7_first) return {HornetFormat::kV7, HornetFormat::kFinal};
  return {HornetFormat::kFinal, HornetFormat::kV7};
}

void check_signer(const X509* cert, EVP_PKEY* key) {
  if (cert == nullptr || key == nullptr) throw Error(EINVAL, "bad_argument", "signing needs a certificate and a private key");
  require_kernel_key(key, "signing key", EINVAL, "key_unsupported");
  if (X509_check_private_key(cert, key) != 1) {
    ossl::drain_errors();
    throw Error(EINVAL, "key_mismatch", "the private key does not belong to the signer certificate");
  }
}

void check_maps(const std::vector<HornetMapHash>& maps, HornetFormat format) {
  if (maps.size() > kHornetMaxMaps)
    throw Error(E2BIG, "hornet_too_many_maps",
                std::to_string(maps.size()) + " map hashes; Hornet keeps at most " + std::to_string(kHornetMaxMaps));
  for (size_t i = 0; i < maps.size(); ++i)
    if (format == HornetFormat::kV7 && maps[i].index > 127)
      // DER encodes 128..255 in two content bytes, which v7's one-byte read refuses.
      throw Error(EINVAL, "bad_argument",
                  "map " + std::to_string(i) + ": v7 index " + std::to_string(maps[i].index) + " does not fit one DER content byte");
}

// gen_sig's flags, verbatim: a detached SignedData without certificates, the
// signer by issuer and serial (no CMS_USE_KEYID), default signed attributes
// without S/MIME capabilities, signed at CMS_final.
constexpr unsigned kGenSigSignFlags = CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED;
constexpr unsigned kGenSigSignerFlags = CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_DETACHED;
constexpr unsigned kGenSigFinalFlags = CMS_NOCERTS | CMS_BINARY;

}  // namespace

std::string hornet_format_name(HornetFormat f) { return f == HornetFormat::kFinal ? "final" : "v7"; }

HornetFormat parse_hornet_format(const std::string& name) {
  if (name == "final") return HornetFormat::kFinal;
  if (name == "v7") return HornetFormat::kV7;
  throw Error(EINVAL, "bad_argument", "unknown Hornet format '" + name + "' (final or v7)");
}

Bytes sign_hornet(ByteView data, const std::vector<HornetMapHash>& maps, HornetFormat format, const X509* cert,
                  EVP_PKEY* key) {
  ossl::ErrorQueueGuard guard;
  check_signer(cert, key);
  check_maps(maps, format);
  Bytes value = encode_value(maps, format);

  ossl::Cms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kGenSigSignFlags));
  if (!cms) throw ossl::failure(EIO, "sign_failed", "CMS_sign failed");
  // CMS_add1_signer only reads the certificate; its prototype is not const.
  CMS_SignerInfo* si = CMS_add1_signer(cms.get(), const_cast<X509*>(cert), key, EVP_sha256(), kGenSigSignerFlags);
  if (si == nullptr) throw ossl::failure(EIO, "sign_failed", "CMS_add1_signer failed");
  const ASN1_OBJECT* oid = hornet_oid();
  if (CMS_signed_add1_attr_by_OBJ(si, oid, V_ASN1_SEQUENCE, value.data(), static_cast<int>(value.size())) != 1)
    throw ossl::failure(EIO, "sign_failed", "cannot add the Hornet signed attribute");
  ossl::Bio in = ossl::memory_bio(data);
  if (CMS_final(cms.get(), in.get(), nullptr, kGenSigFinalFlags) != 1) throw ossl::failure(EIO, "sign_failed", "CMS_final failed");
  ossl::Bio out(BIO_new(BIO_s_mem()));
  if (!out || i2d_CMS_bio_stream(out.get(), cms.get(), nullptr, 0) != 1)
    throw ossl::failure(EIO, "sign_failed", "cannot DER-encode the signature");
  return ossl::bio_bytes(out.get());
}

std::optional<HornetAttribute> hornet_attribute(ByteView cms_der) {
  ossl::ErrorQueueGuard guard;
  const unsigned char* p = cms_der.data();
  ossl::Cms cms(cms_der.empty() ? nullptr : d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(cms_der.size())));
  if (!cms) throw ossl::failure(EBADMSG, "cms_parse", "not a DER CMS ContentInfo");
  return detail::hornet_attribute_of(cms.get());
}

namespace detail {

std::optional<HornetAttribute> hornet_attribute_of(CMS_ContentInfo* cms) {
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
    throw Error(EBADMSG, "cms_parse", "the CMS content type is " + ossl::oid_dotted(CMS_get0_type(cms)) + ", not SignedData");
  std::optional<Bytes> value = find_attribute_value(cms);
  if (!value) return std::nullopt;
  HornetAttribute attr;
  attr.value_der = std::move(*value);
  for (HornetFormat format : formats_to_try(attr.value_der)) {
    if (auto maps = decode_value(attr.value_der, format)) {
      attr.format = format;
      attr.maps = std::move(*maps);
      return attr;
    }
  }
  throw Error(EBADMSG, "hornet_asn1", "Hornet attribute: the value is neither SEQUENCE { SET OF Map } format (final or v7)");
}

}  // namespace detail

}  // namespace bpfsig::crypto
