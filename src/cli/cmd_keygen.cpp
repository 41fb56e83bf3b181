// SPDX-License-Identifier: Apache-2.0
// bpfsig keygen: a signing key and a certificate the kernel accepts.
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "bpfsig/error.h"
#include "bpfsig/files.h"

#include "cli/cli.h"
#include "cli/keyopts.h"

namespace bpfsig::cli {

namespace {

struct KeygenArgs {
  std::string key_path, cert_path, algo = "rsa2048", subject = "CN=bpfsig signer", pass;
  int days = 365;
  bool force = false;
  TokenOptions token;  // --key pkcs11:... (keyopts.h)
};

// "an RSA-4096 key", "a P-256 key".
std::string key_description(crypto::KeyAlgo algo) {
  switch (algo) {
    case crypto::KeyAlgo::kRsa2048: return "an RSA-2048 key";
    case crypto::KeyAlgo::kRsa3072: return "an RSA-3072 key";
    case crypto::KeyAlgo::kRsa4096: return "an RSA-4096 key";
    case crypto::KeyAlgo::kP256: return "a P-256 key";
    case crypto::KeyAlgo::kP384: return "a P-384 key";
  }
  return "a key";
}

// RSA key generation takes seconds (rsa4096: about 3): someone at a terminal
// is told why nothing happens. Scripts (no terminal, or -j) see nothing.
void announce_generation(crypto::KeyAlgo algo, const Common& common) {
  if (common.json || !::isatty(STDERR_FILENO)) return;
  std::cerr << "generating " << key_description(algo) << "...\n";
}

// The certificate's lines of the human report, for a key file and a token key alike.
void print_certificate(const std::string& cert_path, const std::string& note, const crypto::CertInfo& info) {
  std::cout << "cert: " << cert_path << note << "\n"
            << "      subject " << info.subject << ", serial " << info.serial_hex << "\n"
            << "      skid " << info.skid_hex << ", valid until " << info.not_after << "\n";
}

// keygen in a PKCS#11 token: the key pair is made by the token; the
// certificate is written to --cert and stored beside the key.
void run_token_keygen(const KeygenArgs& a, const crypto::KeygenOptions& opts, const Common& common, const CLI::App& cmd) {
  refuse_unless_applies(cmd, "--force", false, "does not apply to a key in a token: bpfsig never replaces a token's objects");
  if (is_stdio(a.cert_path)) throw Error(EINVAL, "bad_argument", "keygen writes files: --cert takes a file name, not -");
  check_command_files({{"--pin-source", a.token.pin_source}}, {{"--cert", a.cert_path}});
  announce_generation(opts.algo, common);
  crypto::Pkcs11KeygenResult made = crypto::keygen_pkcs11(opts, a.key_path, a.cert_path, a.token.access());
  crypto::CertInfo info = crypto::describe(crypto::load_certificate(a.cert_path).get());
  if (common.json) {
    print_json(common, Json{{"ok", true}, {"key", made.uri}, {"cert", a.cert_path}, {"algo", crypto::key_algo_name(opts.algo)},
                            {"encrypted", false}, {"in_token", true}, {"key_id", to_hex(made.id)}, {"certificate", cert_json(info)}});
    return;
  }
  std::cout << "key:  " << made.uri << " (" << crypto::key_algo_name(opts.algo) << ", made in the token)\n";
  print_certificate(a.cert_path, " (also stored in the token)", info);
}

void run_file_keygen(const KeygenArgs& a, const crypto::KeygenOptions& opts, const Common& common) {
  if (is_stdio(a.key_path) || is_stdio(a.cert_path))
    throw Error(EINVAL, "bad_argument", "keygen writes files: --key and --cert take file names, not -");
  check_command_files({{"--pass file:", passphrase_file(a.pass)}}, {{"--key", a.key_path}, {"--cert", a.cert_path}});
  // An explicit --pass only: keygen does not encrypt because BPFSIG_KEY_PASS is set.
  const std::string passphrase = a.pass.empty() ? "" : crypto::resolve_passphrase(a.pass);
  if (!a.pass.empty() && passphrase.empty()) throw Error(EINVAL, "bad_argument", "--pass gives an empty passphrase");
  announce_generation(opts.algo, common);
  crypto::keygen(opts, a.key_path, a.cert_path, passphrase);
  crypto::CertInfo info = crypto::describe(crypto::load_certificate(a.cert_path).get());
  if (common.json) {
    print_json(common, Json{{"ok", true}, {"key", a.key_path}, {"cert", a.cert_path}, {"algo", crypto::key_algo_name(opts.algo)},
                            {"encrypted", !passphrase.empty()}, {"in_token", false}, {"certificate", cert_json(info)}});
    return;
  }
  std::cout << "key:  " << a.key_path << " (" << crypto::key_algo_name(opts.algo) << ", mode 0600"
            << (passphrase.empty() ? "" : ", encrypted PKCS#8") << ")\n";
  print_certificate(a.cert_path, "", info);
}

void run_keygen(const KeygenArgs& a, const Common& common, const CLI::App& cmd) {
  refuse_mismatched_key_options(cmd, a.key_path);
  crypto::KeygenOptions opts;
  opts.replace_existing_key = a.force;
  opts.algo = crypto::parse_key_algo(a.algo);
  opts.subject = a.subject;
  opts.days = a.days;
  if (crypto::is_pkcs11_uri(a.key_path))
    run_token_keygen(a, opts, common, cmd);
  else
    run_file_keygen(a, opts, common);
}

void define_keygen(CLI::App* sub, Common& common) {
  auto args = std::make_shared<KeygenArgs>();
  sub->add_option("-k,--key", args->key_path, "Private key output (PEM, mode 0600), or a key made in a token: pkcs11:token=T;object=O")->required();
  sub->add_option("--cert", args->cert_path, "Certificate output (DER; PEM when the name ends in .pem)")->required();
  sub->add_option("--algo", args->algo, "rsa2048 (default), rsa3072, rsa4096, p256 or p384")
      ->check(one_of({"rsa2048", "rsa3072", "rsa4096", "p256", "p384"}, /*ignore_case=*/true));
  sub->add_option("--subject", args->subject, "Subject, e.g. CN=signer,O=example (default: CN=bpfsig signer)");
  sub->add_option("--pass", args->pass, "Encrypt the key (PKCS#8, AES-256): pass:TEXT, env:VAR, fd:N or file:PATH");
  sub->add_option("--days", args->days, "Validity in days, 1 to 36500 (default: 365)")->check(CLI::Range(1, 36500));
  sub->add_flag("--force", args->force, "Replace an existing key file (without it, an existing --key is an error)");
  add_token_options(*sub, args->token);
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_keygen(*args, common, *sub); });
}

}  // namespace

const Command kCommandKeygen{"keygen", "Generate a signing key and a self-signed X.509 certificate", define_keygen};

}  // namespace bpfsig::cli
