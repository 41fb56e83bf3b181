// SPDX-License-Identifier: Apache-2.0
// A signing key and its certificate, made once for a bench run: crypto::keygen
// into a temporary directory, read back, and the directory removed.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"

namespace bpfsig::bench {

struct BenchSigner {
  crypto::PrivateKey key;
  crypto::Certificate cert;
  Bytes cert_der;
};

inline BenchSigner make_bench_signer() {
  char tmpl[] = "/tmp/bpfsig_bench_key_XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (!dir) throw std::runtime_error("mkdtemp failed");
  const std::string key_path = std::string(dir) + "/key.pem", cert_path = std::string(dir) + "/cert.der";
  crypto::keygen(crypto::KeygenOptions{}, key_path, cert_path);
  BenchSigner s{crypto::load_private_key(key_path), crypto::load_certificate(cert_path), {}};
  s.cert_der = crypto::certificate_der(s.cert.get());
  std::filesystem::remove_all(dir);
  return s;
}

}  // namespace bpfsig::bench
