// SPDX-License-Identifier: Apache-2.0
// Signing with bpftool's CMS profile, and a read-only summary of any CMS.
#include <openssl/cms.h>
#include <openssl/objects.h>

#include "bpfsig/crypto.h"
#include "crypto/ossl.h"

namespace bpfsig::crypto {

namespace {

// The flags of tools/bpf/bpftool/sign.c, verbatim: a detached SignedData with
// no certificates and no signed attributes; the signer is named by its SKID.
constexpr unsigned kBpftoolSignFlags = CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED | CMS_STREAM;
constexpr unsigned kBpftoolSignerFlags = CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_USE_KEYID | CMS_NOATTR;

std::string digest_name(const ASN1_OBJECT* oid) {
  int nid = OBJ_obj2nid(oid);
  const char* ln = nid == NID_undef ? nullptr : OBJ_nid2ln(nid);
  return ln != nullptr ? ln : ossl::oid_dotted(oid);
}

std::string algorithm_name(const ASN1_OBJECT* oid) {
  int nid = OBJ_obj2nid(oid);
  const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
  return sn != nullptr ? sn : ossl::oid_dotted(oid);
}

SignerSummary summarize_signer(CMS_SignerInfo* si) {
  SignerSummary s;
  ASN1_OCTET_STRING* keyid = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial) != 1)
    throw ossl::failure(EBADMSG, "cms_parse", "a SignerInfo has no usable signer identifier");
  if (keyid != nullptr) {
    s.by_skid = true;
    s.skid_hex = to_hex(ByteView(ASN1_STRING_get0_data(keyid), static_cast<size_t>(ASN1_STRING_length(keyid))));
  } else {
    s.issuer = ossl::name_rfc2253(issuer);
    s.serial_hex = ossl::integer_hex(serial);
  }
  X509_ALGOR* digest = nullptr;
  X509_ALGOR* signature = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, &signature);
  const ASN1_OBJECT* oid = nullptr;
  if (digest != nullptr) {
    X509_ALGOR_get0(&oid, nullptr, nullptr, digest);
    s.digest_alg = digest_name(oid);
  }
  if (signature != nullptr) {
    X509_ALGOR_get0(&oid, nullptr, nullptr, signature);
    s.signature_alg = algorithm_name(oid);
  }
  for (int i = 0; i < CMS_signed_get_attr_count(si); ++i)
    s.signed_attr_oids.push_back(ossl::oid_dotted(X509_ATTRIBUTE_get0_object(CMS_signed_get_attr(si, i))));
  return s;
}

size_t certificate_count(CMS_ContentInfo* cms) {
  ossl::X509Stack certs(CMS_get1_certs(cms));
  return certs ? static_cast<size_t>(sk_X509_num(certs.get())) : 0;
}

// What CMS_final does with bpftool's final flags (CMS_BINARY: the content is
// digested as it is, no CRLF conversion), over content in parts: the parts
// go through the signer's digest BIO chain (CMS_dataInit) one after the other,
// so content that lies in several buffers is never joined into one.
void digest_detached_content(CMS_ContentInfo* cms, std::span<const ByteView> content) {
  ossl::Bio chain(CMS_dataInit(cms, nullptr));
  if (!chain) throw ossl::failure(EIO, "sign_failed", "CMS_dataInit failed");
  for (ByteView part : content) {
    for (size_t done = 0; done < part.size();) {
      const int n = static_cast<int>(std::min<size_t>(part.size() - done, 1u << 30));
      if (BIO_write(chain.get(), part.data() + done, n) != n) throw ossl::failure(EIO, "sign_failed", "cannot digest the content");
      done += static_cast<size_t>(n);
    }
  }
  (void)BIO_flush(chain.get());
  if (CMS_dataFinal(cms, chain.get()) != 1) throw ossl::failure(EIO, "sign_failed", "CMS_dataFinal failed");
}

}  // namespace

Bytes sign_bpftool(ByteView content, const X509* cert, EVP_PKEY* key) {
  const ByteView parts[] = {content};
  return sign_bpftool(std::span<const ByteView>(parts), cert, key);
}

Bytes sign_bpftool(std::span<const ByteView> content, const X509* cert, EVP_PKEY* key) {
  ossl::ErrorQueueGuard guard;
  if (cert == nullptr || key == nullptr) throw Error(EINVAL, "bad_argument", "signing needs a certificate and a private key");
  // CMS_add1_signer takes a reference to the certificate and reads it; it
  // never modifies it, but its prototype is not const.
  X509* signer = const_cast<X509*>(cert);
  if (X509_get0_subject_key_id(signer) == nullptr)
    throw Error(EINVAL, "cert_no_skid",
                "the signer certificate has no subjectKeyIdentifier; bpftool's profile names the signer by it");
  require_kernel_key(key, "signing key", EINVAL, "key_unsupported");
  if (X509_check_private_key(signer, key) != 1) {
    ossl::drain_errors();
    throw Error(EINVAL, "key_mismatch", "the private key does not belong to the signer certificate");
  }

  ossl::Cms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kBpftoolSignFlags));
  if (!cms) throw ossl::failure(EIO, "sign_failed", "CMS_sign failed");
  if (CMS_add1_signer(cms.get(), signer, key, EVP_sha256(), kBpftoolSignerFlags) == nullptr)
    throw ossl::failure(EIO, "sign_failed", "CMS_add1_signer failed");
  digest_detached_content(cms.get(), content);
  ossl::Bio out(BIO_new(BIO_s_mem()));
  if (!out || i2d_CMS_bio_stream(out.get(), cms.get(), nullptr, 0) != 1)
    throw ossl::failure(EIO, "sign_failed", "cannot DER-encode the signature");
  return ossl::bio_bytes(out.get());
}

CmsSummary inspect_cms(ByteView der) {
  ossl::ErrorQueueGuard guard;
  const unsigned char* p = der.data();
  ossl::Cms cms(der.empty() ? nullptr : d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!cms) throw ossl::failure(EBADMSG, "cms_parse", "not a DER CMS ContentInfo");
  if (p != der.data() + der.size())
    throw Error(EBADMSG, "cms_parse",
                std::to_string(der.data() + der.size() - p) + " bytes of trailing data after the CMS ContentInfo");
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed)
    throw Error(EBADMSG, "cms_parse", "the CMS content type is " + ossl::oid_dotted(CMS_get0_type(cms.get())) + ", not SignedData");

  CmsSummary summary;
  summary.content_type = ossl::oid_dotted(CMS_get0_eContentType(cms.get()));
  summary.detached = CMS_is_detached(cms.get()) == 1;
  summary.certificate_count = certificate_count(cms.get());
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms.get());
  for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i)
    summary.signers.push_back(summarize_signer(sk_CMS_SignerInfo_value(signers, i)));
  return summary;
}

}  // namespace bpfsig::crypto
