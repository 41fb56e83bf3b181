// SPDX-License-Identifier: Apache-2.0
// bpfsig sign: BPF object -> signed light-skeleton loader (bundle and/or header).
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/skel.h"
#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/keyopts.h"

namespace bpfsig::cli {

namespace {

struct SignArgs {
  std::string key_path, cert_path, out_path, header_path, pass;
  std::vector<std::string> objects;
  std::string scheme = "loadtime", layout = "6.18", mismatch_target = "cleanup+1";  // skel::SignOptions' defaults
  bool no_embed_cert = false;
  bool ctx_overrides = false;
  bool insecure_key_perms = false;
  std::string hornet_format = "final";
  std::string name;
  TokenOptions token;  // -k pkcs11:... (keyopts.h)
};

// The values were checked while parsing (one_of in add_sign).
skel::MatchLayout parse_layout(const std::string& s) {
  return s == "6.18" || s == "28" ? skel::MatchLayout::k618 : skel::MatchLayout::kExcl;
}

// Options that only some schemes or outputs use are refused elsewhere rather
// than ignored: someone who asked for --layout 6.18 with loadtime would
// otherwise believe they got a 6.18 block.
void refuse_options_that_do_not_apply(const CLI::App& cmd, const SignArgs& a) {
  const bool hornet = a.scheme == "hornet";
  const bool has_match_block = a.scheme != "loadtime" && !hornet;  // docs/signing.md
  const std::string no_block = "does not apply to --scheme " + a.scheme + ": its loader has no hash-match block";
  refuse_unless_applies(cmd, "--hornet-format", hornet, "applies only with --scheme hornet");
  refuse_unless_applies(cmd, "--layout", has_match_block, no_block);
  refuse_unless_applies(cmd, "--mismatch-target", has_match_block, no_block);
  refuse_unless_applies(cmd, "--ctx-overrides", has_match_block,
                        "applies only with --scheme loader-hash or hash-chain (bpftool 7.7's loader)");
  const bool writes_bundle = !a.out_path.empty() || a.header_path.empty();
  refuse_unless_applies(cmd, "--no-embed-cert", writes_bundle,
                        "applies only to a bundle (-o): a header carries no certificate");
}

// "dir/prog.bpf.o" -> "prog.bpfsig" in the current directory.
std::string default_bundle_path(const std::string& object_path) {
  std::string base = object_path.substr(object_path.find_last_of('/') + 1);
  for (const char* suffix : {".bpf.o", ".o"}) {
    std::string s(suffix);
    if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0) {
      base.resize(base.size() - s.size());
      break;
    }
  }
  return base + ".bpfsig";
}

skel::SignOptions sign_options(const SignArgs& a) {
  skel::SignOptions opts;
  opts.scheme = skel::parse_scheme(a.scheme);
  opts.layout = parse_layout(a.layout);
  opts.embed_cert = !a.no_embed_cert;
  opts.hornet_format = crypto::parse_hornet_format(a.hornet_format);
  opts.name = a.name;
  opts.ctx_overrides = a.ctx_overrides;
  opts.mismatch_target =
      a.mismatch_target == "cleanup" ? skel::MismatchTarget::kCleanup : skel::MismatchTarget::kCleanupPlusOne;
  return opts;
}

// What was signed and where it went: the JSON object, or the human report.
Json signed_json(const std::string& object, const skel::SignedLoader& loader, const skel::SignOptions& opts,
                 const std::string& bundle_path, const std::string& header_path) {
  Json j{{"ok", true},
         {"object", object},
         {"scheme", skel::scheme_name(loader.scheme)},
         {"layout", opts.layout == skel::MatchLayout::kExcl ? "excl" : "6.18"},
         {"skeleton", loader.name},
         {"bundle", bundle_path.empty() ? Json(nullptr) : Json(bundle_path)},
         {"header", header_path.empty() ? Json(nullptr) : Json(header_path)},
         {"insn_count", loader.insns.size() / 8},
         {"data_size", loader.data.size()},
         {"signature_size", loader.signature.size()},
         {"metadata_sha256", to_hex(crypto::sha256_padded8(loader.data))},
         {"excl_hash", to_hex(loader.excl_hash)},
         {"programs", loader.prog_names},
         {"maps", loader.map_names},
         {"signature_maps", loader.signature_maps},
         {"ctx_overrides", opts.ctx_overrides}};
  if (loader.scheme == skel::Scheme::kLoadtime || loader.scheme == skel::Scheme::kHornet)
    j["layout"] = nullptr;  // no hash-match block
  if (loader.scheme == skel::Scheme::kHornet) j["hornet_format"] = crypto::hornet_format_name(opts.hornet_format);
  return j;
}

void print_signed(std::ostream& report, const std::string& object, const skel::SignedLoader& loader,
                  const skel::SignOptions& opts, const std::string& bundle_path, const std::string& header_path) {
  std::string block = opts.layout == skel::MatchLayout::kExcl ? "excl/33" : "6.18/28";
  if (loader.scheme == skel::Scheme::kLoadtime) block = "none";  // the loadtime kernel checks the metadata
  if (loader.scheme == skel::Scheme::kHornet) block = "none, Hornet checks the map";
  report << "signed " << object << " (scheme " << skel::scheme_name(loader.scheme) << ", match block " << block << ")\n"
         << "  loader:    " << loader.insns.size() / 8 << " instructions, digest " << to_hex(loader.excl_hash) << "\n"
         << "  metadata:  " << loader.data.size() << " bytes, sha256 " << to_hex(crypto::sha256_padded8(loader.data))
         << "\n"
         << "  signature: " << loader.signature.size() << " bytes ("
         << (loader.scheme == skel::Scheme::kHornet
                 ? "CMS, Hornet gen_sig profile, " + crypto::hornet_format_name(opts.hornet_format) + " attribute"
                 : std::string("PKCS#7, bpftool profile"))
         << ")\n";
  if (!bundle_path.empty()) report << "  bundle:    " << bundle_path << "\n";
  if (!header_path.empty()) report << "  header:    " << header_path << "\n";
}

// Many objects: each one's bundle is DIR/<name>.bpfsig, signed on every core.
void run_sign_many(const SignArgs& a, const skel::SignOptions& opts, const Common& common) {
  if (a.out_path.empty() || !std::filesystem::is_directory(a.out_path))
    throw usage_error("signing " + std::to_string(a.objects.size()) + " objects needs -o DIR, an existing directory");
  if (!a.header_path.empty()) throw usage_error("--header takes one object: with several, each gets only its bundle in -o DIR");
  if (!a.name.empty()) throw usage_error("--name takes one object: with several, each skeleton is named after its file");
  std::vector<CommandFile> inputs{{"-k", key_file(a.key_path)}, {"-i", a.cert_path}, {"--pass file:", passphrase_file(a.pass)},
                                  {"--pin-source", a.token.pin_source}};
  std::vector<CommandFile> outputs;
  std::set<std::string> bundles;
  for (const std::string& object : a.objects) {
    if (is_stdio(object)) throw usage_error("standard input takes one object: with several, name each file");
    const std::string bundle = a.out_path + "/" + default_bundle_path(object);
    if (!bundles.insert(bundle).second)
      throw usage_error("two objects would both be signed into " + bundle + ": sign them into different directories");
    inputs.push_back({"OBJECT", object});
    outputs.push_back({"-o", bundle});
  }
  check_command_files(inputs, outputs);
  crypto::PrivateKey key = load_signing_key(a.key_path, a.pass, a.insecure_key_perms, a.token);
  crypto::Certificate cert = crypto::load_certificate(a.cert_path);
  run_batch("sign", a.objects,
            [&](const std::string& object) {
              const std::string bundle = a.out_path + "/" + default_bundle_path(object);
              skel::SignedLoader loader = skel::sign_object(object, cert.get(), key.get(), opts);
              write_outputs({produced_output(bundle, [&](const auto& put) { skel::write_bundle(loader, put); })});
              std::ostringstream human;
              print_signed(human, object, loader, opts, bundle, "");
              return BatchItem{true, signed_json(object, loader, opts, bundle, ""), human.str(), ""};
            },
            common);
}

void run_sign(SignArgs a, const Common& common, const CLI::App& cmd) {
  refuse_options_that_do_not_apply(cmd, a);
  refuse_mismatched_key_options(cmd, a.key_path);
  const skel::SignOptions opts = sign_options(a);
  if (a.objects.size() > 1) return run_sign_many(a, opts, common);
  const std::string object = a.objects.at(0);
  if (a.out_path.empty() && a.header_path.empty()) {
    if (is_stdio(object))
      throw Error(EINVAL, "bad_argument", "signing standard input needs -o or --header: there is no name for the bundle");
    a.out_path = default_bundle_path(object);
  }
  // Before anything is read: no output may be one of the inputs or the other output.
  check_command_files({{"-k", key_file(a.key_path)}, {"-i", a.cert_path}, {"OBJECT", object}, {"--pass file:", passphrase_file(a.pass)},
                       {"--pin-source", a.token.pin_source}},
                      {{"-o", a.out_path}, {"--header", a.header_path}});
  crypto::PrivateKey key = load_signing_key(a.key_path, a.pass, a.insecure_key_perms, a.token);
  crypto::Certificate cert = crypto::load_certificate(a.cert_path);
  skel::SignedLoader loader = skel::sign_object(object, cert.get(), key.get(), opts);

  // Outputs are written only once everything has been signed, all or nothing.
  std::vector<Output> outputs;
  // Each is written as it is encoded: a large program is never held twice more.
  if (!a.out_path.empty())
    outputs.push_back(produced_output(a.out_path, [&](const auto& put) { skel::write_bundle(loader, put); }));
  if (!a.header_path.empty())
    outputs.push_back(produced_output(a.header_path, [&](const auto& put) { skel::write_header(loader, put); }));
  write_outputs(outputs);
  // With an output on standard output, the report goes to standard error.
  const bool output_on_stdout = writes_stdout(a.out_path) || writes_stdout(a.header_path);
  std::ostream& report = output_on_stdout ? std::cerr : std::cout;
  if (common.json)
    print_json(common, signed_json(object, loader, opts, a.out_path, a.header_path), report);
  else
    print_signed(report, object, loader, opts, a.out_path, a.header_path);
}

void define_sign(CLI::App* sub, Common& common) {
  auto args = std::make_shared<SignArgs>();
  sub->add_option("-k,--key", args->key_path, "Private key (PEM or DER), or a key in a token: pkcs11:token=T;object=O")->required();
  sub->add_option("-i,--cert", args->cert_path, "Signer certificate (with subjectKeyIdentifier)")->required();
  sub->add_option("--pass", args->pass, "Key passphrase: pass:TEXT, env:VAR, fd:N or file:PATH (default: $BPFSIG_KEY_PASS)");
  sub->add_flag("--insecure-key-perms", args->insecure_key_perms, "Read a private key file that group or others may read");
  add_token_options(*sub, args->token);
  sub->add_option("--scheme", args->scheme, "Signing scheme: loadtime (default; what bpftool 7.8 signs and Linux 7.3 checks), loader-hash (Linux 6.18 LTS to 7.2, bpftool 7.7), hornet, hash-chain")
      ->check(one_of({"loader-hash", "loadtime", "hornet", "hash-chain"}));
  sub->add_option("--hornet-format", args->hornet_format, "Scheme hornet: the attribute format, final (default) or v7")
      ->check(one_of({"final", "v7"}));
  sub->add_option("--layout", args->layout, "Hash-match block: 6.18 (28 insns, default, bpftool 7.7's) or excl (33 insns; also reads map->excl, a kernel-internal struct bpf_map offset that Linux 7.3's verifier refuses)")
      ->check(one_of({"excl", "6.18", "33", "28"}));
  sub->add_option("--mismatch-target", args->mismatch_target,
                  "Where the block's mismatch jumps land: cleanup+1 (default; libbpf 1.7's, byte for byte) or cleanup")
      ->check(one_of({"cleanup", "cleanup+1"}));
  sub->add_flag("--ctx-overrides", args->ctx_overrides,
                "loader-hash, hash-chain: bpftool 7.7's loader byte for byte, which takes max_entries and initial values "
                "from its unsigned ctx: the host can resize maps and replace initial values after signing");
  sub->add_option("-o,--out", args->out_path,
                  "Bundle output (default: <name>.bpfsig; - for standard output); with several objects, the directory "
                  "of their <name>.bpfsig");
  sub->add_option("--header", args->header_path, "Also write a bpftool-style signed light-skeleton header (- for standard output)");
  sub->add_option("--name", args->name, "Skeleton name, a C identifier (default: from the object's file name, as bpftool)");
  sub->add_flag("--no-embed-cert", args->no_embed_cert, "Do not store the signer certificate in the bundle");
  sub->add_option("object", args->objects,
                  "BPF object files (clang -target bpf; - for standard input); several are signed on every core into "
                  "-o DIR, with a summary")
      ->required();
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_sign(*args, common, *sub); });
}

}  // namespace

const Command kCommandSign{"sign", "Generate, hash-chain and sign the light-skeleton loader of a BPF object", define_sign};

}  // namespace bpfsig::cli
