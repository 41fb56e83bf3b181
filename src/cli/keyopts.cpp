// SPDX-License-Identifier: Apache-2.0
// How every bpfsig command that reads a private key reads it: the passphrase
// in openssl's forms (pass:, env:, fd:, file:, default BPFSIG_KEY_PASS) and a
// refusal of key files others may read unless --insecure-key-perms.
#include <cerrno>

#include "bpfsig/crypto.h"
#include "cli/cli.h"

namespace bpfsig::cli {

crypto::PrivateKey load_signing_key(const std::string& key_path, const std::string& pass_spec, bool insecure_key_perms) {
  crypto::KeyFileOptions opts;
  opts.require_private_mode = !insecure_key_perms;
  crypto::PrivateKey key = crypto::load_private_key(key_path, crypto::resolve_passphrase(pass_spec), opts);
  // Refused before any work is done: the kernel could never check its signatures.
  crypto::require_kernel_key(key.get(), key_path, EINVAL, "key_unsupported");
  return key;
}

std::string passphrase_file(const std::string& pass_spec) {
  return pass_spec.rfind("file:", 0) == 0 ? pass_spec.substr(5) : std::string();
}

}  // namespace bpfsig::cli
