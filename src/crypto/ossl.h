// SPDX-License-Identifier: Apache-2.0
// Private to src/crypto: RAII owners for OpenSSL objects and the error-queue
// discipline every public function of the module follows.
#pragma once

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <memory>
#include <string>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"

namespace bpfsig::crypto::ossl {

// One unique_ptr alias per OpenSSL type, so no object can leak on a throw.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

inline void bio_free(BIO* b) { BIO_free_all(b); }
inline void x509_stack_free(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void ossl_string_free(char* s) { OPENSSL_free(s); }
inline void ossl_bytes_free(unsigned char* s) { OPENSSL_free(s); }

using Bio = Owned<BIO, bio_free>;
using Cms = Owned<CMS_ContentInfo, CMS_ContentInfo_free>;
using Pkey = Owned<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtx = Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using Md = Owned<EVP_MD, EVP_MD_free>;
using MdCtx = Owned<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509Ptr = Owned<X509, X509_free>;
using X509Name = Owned<X509_NAME, X509_NAME_free>;
using X509Ext = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using X509Stack = Owned<STACK_OF(X509), x509_stack_free>;
using X509Sig = Owned<X509_SIG, X509_SIG_free>;
using Bignum = Owned<BIGNUM, BN_free>;
using Asn1Integer = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1Time = Owned<ASN1_TIME, ASN1_TIME_free>;
using DecoderCtx = Owned<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;
using OsslString = Owned<char, ossl_string_free>;
using OsslBytes = Owned<unsigned char, ossl_bytes_free>;

// Clears the thread's OpenSSL error queue when a public function starts and
// again when it returns or throws: a failure in one call must never be
// reported by (or confuse) a later one. Always, not only when ERR_peek_error
// reports an error: OpenSSL copies each error's file and function names
// (ERR_set_debug), and without the clear those copies outlived the call that
// raised them, so libFuzzer ran a leak check after nearly every input
// (fuzz_cms fell from ~4,300 to 125 executions a second).
class ErrorQueueGuard {
 public:
  ErrorQueueGuard() { ERR_clear_error(); }
  ~ErrorQueueGuard() { ERR_clear_error(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// Drains the error queue into one line ("...: reason; reason") and clears it.
std::string drain_errors();

// An Error for a failed OpenSSL call: "<what>: <OpenSSL reasons>".
Error failure(int err, const std::string& kind, const std::string& what);

// The bytes written to a memory BIO.
Bytes bio_bytes(BIO* bio);

// A read-only memory BIO over data (OpenSSL does not copy it).
Bio memory_bio(ByteView data);

// Dotted text of an OID, never its name ("1.2.840.113549.1.7.1").
std::string oid_dotted(const ASN1_OBJECT* oid);

// SHA-256 from the default provider, fetched once per process.
const EVP_MD* sha256_md();

// DER encoding of an object through its i2d function.
template <typename T>
Bytes der_of(const T* obj, int (*i2d)(const T*, unsigned char**)) {
  unsigned char* out = nullptr;
  int len = i2d(obj, &out);
  if (len <= 0 || out == nullptr) throw failure(EBADMSG, "der_encode", "cannot DER-encode an object");
  OsslBytes owner(out);
  return Bytes(out, out + len);
}

// The content octets of a DER TLV (its header stripped); empty on a malformed TLV.
Bytes der_content(ByteView tlv);

// RFC 2253 text of a name (X509_NAME_print_ex with XN_FLAG_RFC2253).
std::string name_rfc2253(const X509_NAME* name);

// Lower-case hex of an ASN.1 INTEGER's magnitude (serial numbers).
std::string integer_hex(const ASN1_INTEGER* value);

}  // namespace bpfsig::crypto::ossl
