// SPDX-License-Identifier: Apache-2.0
// Private to src/crypto: the signer certificate keygen writes, for a key in a
// file (keys.cpp) and for a key in a PKCS#11 token (pkcs11.cpp).
#pragma once

#include <string>

#include "crypto/ossl.h"

namespace bpfsig::crypto {

// A self-signed X.509 v3 certificate the kernel accepts (crypto.h, keygen)
// for public_key, signed by signer: the same key, whose private half may be
// in a file or in a token (then public_key is read from the token).
ossl::X509Ptr self_signed_certificate(EVP_PKEY* public_key, EVP_PKEY* signer, const std::string& subject, int days);

// The certificate file's bytes: DER, or PEM when path ends in ".pem".
Bytes certificate_file_bytes(X509* cert, const std::string& path);

}  // namespace bpfsig::crypto
