// SPDX-License-Identifier: Apache-2.0
// A throwaway signing key and certificate for tests that sign, made once per
// test executable. Header-only, so executables that do not link the crypto
// module (test_isa, test_common) are unaffected.
#pragma once

#include <vector>

#include "bpfsig/crypto.h"
#include "support/support.h"

namespace bpfsig::test {

struct TestSigner {
  TempDir dir;
  crypto::PrivateKey key;
  crypto::Certificate cert;

  explicit TestSigner(const crypto::KeygenOptions& opts = {}) {
    crypto::keygen(opts, dir.file("key.pem"), dir.file("cert.der"));
    key = crypto::load_private_key(dir.file("key.pem"));
    cert = crypto::load_certificate(dir.file("cert.der"));
  }
  std::string cert_path() const { return dir.file("cert.der"); }
  // The certificate as a one-entry trust list, as verify takes it.
  std::vector<crypto::Certificate> trust() const {
    std::vector<crypto::Certificate> v;
    v.push_back(crypto::parse_certificate(crypto::certificate_der(cert.get()), "test cert"));
    return v;
  }
};

// The default RSA-2048 signer shared by the tests of one executable.
inline TestSigner& default_signer() {
  static TestSigner signer;
  return signer;
}

}  // namespace bpfsig::test
