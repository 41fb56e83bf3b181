// SPDX-License-Identifier: Apache-2.0
// How every bpfsig command that reads a private key reads it: the passphrase
// in openssl's forms (pass:, env:, fd:, file:, default BPFSIG_KEY_PASS) and a
// refusal of key files others may read unless --insecure-key-perms; or a key
// in a PKCS#11 token, with its PIN from a file or BPFSIG_PIN.
#include "cli/keyopts.h"

#include <cerrno>

#include "bpfsig/crypto.h"
#include "cli/cli.h"

namespace bpfsig::cli {

crypto::PrivateKey load_signing_key(const std::string& key_path, const std::string& pass_spec, bool insecure_key_perms) {
  return load_signing_key(key_path, pass_spec, insecure_key_perms, TokenOptions{});
}

crypto::PrivateKey load_signing_key(const std::string& key, const std::string& pass_spec, bool insecure_key_perms,
                                    const TokenOptions& token) {
  crypto::PrivateKey loaded;
  if (crypto::is_pkcs11_uri(key)) {
    loaded = crypto::load_pkcs11_private_key(key, token.access());
  } else {
    crypto::KeyFileOptions opts;
    opts.require_private_mode = !insecure_key_perms;
    loaded = crypto::load_private_key(key, crypto::resolve_passphrase(pass_spec), opts);
  }
  // Refused before any work is done: the kernel could never check its signatures.
  // (A URI that loaded holds no PIN: pin-value is refused when it is parsed.)
  crypto::require_kernel_key(loaded.get(), key, EINVAL, "key_unsupported");
  return loaded;
}

void add_token_options(CLI::App& cmd, TokenOptions& token) {
  cmd.add_option("--pin-source", token.pin_source,
                 "With -k pkcs11:...: a file whose first line is the token PIN (default: the URI's pin-source, "
                 "then $BPFSIG_PIN)");
  cmd.add_option("--pkcs11-module", token.module,
                 "With -k pkcs11:...: the PKCS#11 module (default: the URI's module-path, $BPFSIG_PKCS11_MODULE, "
                 "then SoftHSM2 or p11-kit's proxy)");
}

void refuse_mismatched_key_options(const CLI::App& cmd, const std::string& key) {
  const bool token = crypto::is_pkcs11_uri(key);
  refuse_unless_applies(cmd, "--pass", !token,
                        "does not apply to a pkcs11: key: its PIN comes from --pin-source, the URI's pin-source or BPFSIG_PIN");
  refuse_unless_applies(cmd, "--pin-source", token, "applies only to a key in a token (-k pkcs11:...)");
  refuse_unless_applies(cmd, "--pkcs11-module", token, "applies only to a key in a token (-k pkcs11:...)");
}

std::string key_file(const std::string& key) { return crypto::is_pkcs11_uri(key) ? std::string() : key; }

std::string passphrase_file(const std::string& pass_spec) {
  return pass_spec.rfind("file:", 0) == 0 ? pass_spec.substr(5) : std::string();
}

}  // namespace bpfsig::cli
