// SPDX-License-Identifier: Apache-2.0
// Plain signatures over a message, for the bundle seal (docs/formats.md,
// section 10). Not CMS on purpose: the kernel's PKCS#7 rules ignore parts of
// a SignedData (digestAlgorithms, algorithm parameters), so a CMS seal could
// be changed without breaking it; a bare RSA PKCS#1 v1.5 or DER ECDSA
// signature has no byte that can change and still verify (OpenSSL refuses
// an ECDSA signature that is not exactly DER).
#include <cerrno>

#include "bpfsig/crypto.h"
#include "crypto/ossl.h"

namespace bpfsig::crypto {

namespace {

// RSA keys sign with PKCS#1 v1.5 padding (the kernel's choice for module and
// BPF signatures); EC keys with ECDSA. Both over SHA-256.
bool set_padding(EVP_PKEY_CTX* pctx, EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "RSA")) return true;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
}

}  // namespace

Bytes sign_message(ByteView message, EVP_PKEY* key) {
  return sign_message([&](const std::function<void(ByteView)>& put) { put(message); }, key);
}

Bytes sign_message(const MessageWriter& write, EVP_PKEY* key) {
  ossl::ErrorQueueGuard guard;
  if (key == nullptr) throw Error(EINVAL, "bad_argument", "signing needs a private key");
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1 || !set_padding(pctx, key))
    throw ossl::failure(EIO, "sign_failed", "cannot start a SHA-256 signature with this key");
  write([&](ByteView piece) {
    if (!piece.empty() && EVP_DigestSignUpdate(ctx.get(), piece.data(), piece.size()) != 1)
      throw ossl::failure(EIO, "sign_failed", "cannot hash the message");
  });
  size_t len = 0;
  if (EVP_DigestSignFinal(ctx.get(), nullptr, &len) != 1) throw ossl::failure(EIO, "sign_failed", "cannot size the signature");
  Bytes out(len);
  if (EVP_DigestSignFinal(ctx.get(), out.data(), &len) != 1) throw ossl::failure(EIO, "sign_failed", "signing failed");
  out.resize(len);
  return out;
}

bool message_signature_verifies(ByteView signature, ByteView message, const X509* cert) {
  return message_signature_verifies(signature, [&](const std::function<void(ByteView)>& put) { put(message); }, cert);
}

bool message_signature_verifies(ByteView signature, const MessageWriter& write, const X509* cert) {
  ossl::ErrorQueueGuard guard;
  EVP_PKEY* key = cert ? X509_get0_pubkey(cert) : nullptr;
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, ossl::sha256_md(), nullptr, key) != 1 ||
      !set_padding(pctx, key))
    return false;
  bool hashed = true;
  write([&](ByteView piece) {
    if (hashed && !piece.empty()) hashed = EVP_DigestVerifyUpdate(ctx.get(), piece.data(), piece.size()) == 1;
  });
  return hashed && EVP_DigestVerifyFinal(ctx.get(), signature.data(), signature.size()) == 1;
}

}  // namespace bpfsig::crypto
