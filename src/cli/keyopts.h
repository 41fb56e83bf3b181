// SPDX-License-Identifier: Apache-2.0
// Where a command's private key comes from: a key file (keyopts.cpp, cli.h's
// load_signing_key) or a key in a PKCS#11 token, named by an RFC 7512 URI
// (-k 'pkcs11:token=T;object=O'; docs/crypto.md, "Keys in a token").
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "bpfsig/crypto.h"

namespace bpfsig::cli {

// --pin-source and --pkcs11-module, which only a pkcs11: key uses. The PIN is
// never an argument: a file (--pin-source, the URI's pin-source) or BPFSIG_PIN.
struct TokenOptions {
  std::string pin_source;
  std::string module;
  crypto::Pkcs11Access access() const { return crypto::Pkcs11Access{module, pin_source}; }
};
void add_token_options(CLI::App& cmd, TokenOptions& token);

// Refuses the options that do not go with the kind of key given: --pass
// with a token key (its PIN is not a passphrase), --pin-source or
// --pkcs11-module with a key file. bad usage: Error(EINVAL, "usage").
void refuse_mismatched_key_options(const CLI::App& cmd, const std::string& key);

// The key as every command reads it: a token key through the pkcs11 engine,
// else load_signing_key(key, pass_spec, insecure_key_perms) of cli.h. Either
// way a key the kernel cannot use is refused (EINVAL, "key_unsupported").
crypto::PrivateKey load_signing_key(const std::string& key, const std::string& pass_spec, bool insecure_key_perms,
                                    const TokenOptions& token);

// The key file among a command's inputs (check_command_files), "" for a token key.
std::string key_file(const std::string& key);

}  // namespace bpfsig::cli
