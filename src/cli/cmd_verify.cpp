// SPDX-License-Identifier: Apache-2.0
// bpfsig verify: offline, unprivileged, with the kernel's rules.
#include <cerrno>
#include <iostream>
#include <optional>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "cli/cli.h"

namespace bpfsig::cli {

namespace {

struct VerifyArgs {
  std::vector<std::string> trusted;
  std::string file, insns, data, sig, excl;
  std::string scheme = "loader-hash";  // raw input only: what the signature covers
  std::string kernel;                  // empty: no kernel prediction
};

// The prediction for a real kernel decides the verdict when that kernel
// would refuse the load; otherwise bpfsig's own checks (the seal) still do.
void apply_kernel_prediction(verify::Report& r, const verify::Report& kernel) {
  if (kernel.err == 0 || r.err == kernel.err) return;
  r.verdict = kernel.verdict;
  r.err = kernel.err;
  r.kind = kernel.kind;
  r.message = kernel.message;
}

Json kernel_json(const std::string& name, const verify::Report& k) {
  return Json{{"name", name},       {"errno", k.err},   {"errno_name", errno_name(k.err)},
              {"kind", k.kind},     {"message", k.message}, {"loads", k.err == 0},
              {"signed_content", k.signed_content}};
}

// --insns/--data/--sig: raw files as the kernel receives them.
skel::SignedLoader loader_from_raw(const VerifyArgs& a) {
  skel::SignedLoader l;
  l.name = "raw";
  l.scheme = skel::parse_scheme(a.scheme);
  if (l.scheme == skel::Scheme::kHashChain) l.signature_maps = {0};  // the light skeleton's one metadata map
  l.insns = read_file(a.insns);
  l.signature = read_file(a.sig);
  l.data = read_file(a.data);
  if (!a.excl.empty()) {
    l.excl_hash = read_file(a.excl);
  } else {
    // Without an exclusive hash there is nothing to compare: use the digest.
    crypto::Digest d = skel::prog_digest(l.insns);
    l.excl_hash.assign(d.begin(), d.end());
  }
  return l;
}

// What a ctx_overrides loader lets the host change, for --json.
Json ctx_overrides_json(const skel::SignedLoader& loader, const verify::Report& r) {
  Json out = Json::array();
  for (const auto& read : r.ctx_overrides)
    out.push_back(Json{{"insn", read.insn},
                       {"map", read.map_index < loader.map_names.size() ? loader.map_names[read.map_index] : ""},
                       {"field", read.field}});
  return out;
}

// One line per map: the loader takes these from the unsigned ctx.
void print_ctx_overrides(const skel::SignedLoader& loader, const verify::Report& r) {
  if (r.ctx_overrides.empty()) return;
  std::cout << "  warning:     the loader takes from its unsigned ctx (bpftool 7.7's loader, sign --ctx-overrides): "
               "the host can change these after signing\n";
  for (const auto& read : r.ctx_overrides)
    std::cout << "               insn " << read.insn << ": " << read.field << " of map '"
              << (read.map_index < loader.map_names.size() ? loader.map_names[read.map_index] : "?") << "'\n";
}

void print_human(const std::string& what, const verify::Report& r) {
  const verify::ChainCheck& c = r.chain;
  std::cout << what << ": " << verify::verdict_name(r.verdict) << ": " << r.message << "\n";
  if (r.signature.err == 0 && r.signature.signer)
    std::cout << "  signature:   good, signer " << r.signature.signer->subject << " (skid "
              << r.signature.signer->skid_hex << ")\n";
  else if (!r.signature.kind.empty())
    std::cout << "  signature:   rejected, " << errno_name(r.signature.err) << " (" << r.signature.kind << ")\n";
  if (r.hornet) print_hornet_attribute(*r.hornet, "  ");
  if (r.seal.checked)
    std::cout << "  seal:        " << (r.seal.ok ? "good, the bundle is as signed"
                                                                           : "rejected, the bundle was changed")
              << "\n";
  else if (r.seal.present)
    std::cout << "  seal:        present, not checked (an earlier check failed)\n";
  std::cout << "  excl hash:   " << c.excl_hash << (c.excl_ok ? " (the loader's digest)" : " (NOT the loader's digest)")
            << "\n";
  std::cout << "  scheme:      " << r.scheme << ", the signature covers the " << r.signed_content;
  if (r.signed_content_size) std::cout << " (" << r.signed_content_size << " bytes)";
  std::cout << "\n";
  if (!r.signed_value.empty()) {
    std::cout << "  hash chain:  " << r.signed_value << " over signature_maps " << json_text(r.signature_maps) << "\n";
  }
  const bool kernel_checks_metadata = r.signed_content != "insns";
  if (!c.block_found && kernel_checks_metadata) {
    std::cout << "  match block: none (not needed: the kernel checks the metadata through the signature)\n";
  } else if (!c.block_found && r.hornet) {
    std::cout << "  match block: none: Hornet checks the map\n";
  } else if (!c.block_found) {
    std::cout << "  match block: none: nothing in the loader checks the metadata\n";
  } else if (!c.shape_error.empty()) {
    std::cout << "  match block: malformed: " << c.shape_error << "\n";
  } else {
    std::cout << "  match block: insns " << c.block_start << "-" << c.block_start + c.block_length - 1 << ", layout "
              << describe_layout(c) << "\n"
              << "               mismatch jumps land on " << describe_target(c) << "\n";
  }
  std::cout << "  metadata:    sha256 " << c.metadata_sha256;
  if (r.hornet)
    std::cout << " (Hornet checks the frozen map against the signed hash)";
  else if (kernel_checks_metadata)
    std::cout << (r.signature.err == 0 ? " (covered by the signature)" : " (signature rejected)");
  else
    std::cout << (c.metadata_ok ? " (matches the signed hash)" : c.block_found ? " (does NOT match)" : " (not covered)");
  std::cout << "\n";
}

// Bad usage: what is missing, what conflicts, and the raw-only options given
// with a FILE (a bundle or header names its own scheme and carries its own
// metadata and exclusive hash: they would be ignored).
void check_usage(const CLI::App& cmd, const VerifyArgs& a, bool raw) {
  if (a.trusted.empty()) throw usage_error("verify needs at least one -i CERT (file or directory)");
  if (raw == !a.file.empty()) throw usage_error("give either FILE or --insns/--data/--sig, not both or neither");
  if (raw && (a.insns.empty() || a.sig.empty())) throw usage_error("raw input needs at least --insns and --sig");
  // Without it there is nothing to hash, and the report would be a mismatch
  // that says nothing about the real metadata.
  if (raw && a.data.empty())
    throw usage_error("no metadata was given: pass --data FILE (the loader's metadata blob) with --insns and --sig");
  const std::string file_names_its_own = "applies only to raw input (--insns/--sig): FILE names its own ";
  refuse_unless_applies(cmd, "--scheme", raw, file_names_its_own + "scheme");
  refuse_unless_applies(cmd, "--data", raw, file_names_its_own + "metadata");
  refuse_unless_applies(cmd, "--excl-hash", raw, file_names_its_own + "exclusive hash");
}

void run_verify(const VerifyArgs& a, const Common& common, const CLI::App& cmd) {
  const bool raw = !a.insns.empty() || !a.sig.empty();
  check_usage(cmd, a, raw);
  std::vector<CommandFile> inputs{{"FILE", a.file}, {"--insns", a.insns}, {"--data", a.data}, {"--sig", a.sig}, {"--excl-hash", a.excl}};
  for (const auto& t : a.trusted) inputs.push_back({"-i", t});
  check_command_files(inputs, {});  // standard input for one of them at most
  std::vector<crypto::Certificate> trusted = load_trusted(a.trusted);
  skel::SignedLoader loader = raw ? loader_from_raw(a) : skel::read_signed_file(a.file);
  verify::Report r = verify::verify_loader(loader, trusted);
  std::optional<verify::Report> kernel;
  if (!a.kernel.empty()) {
    kernel = verify::predict_kernel_load(loader, trusted, verify::parse_kernel_profile(a.kernel));
    apply_kernel_prediction(r, *kernel);
  }
  const std::string what = raw ? a.insns : a.file;
  if (common.json) {
    Json j = report_json(r);
    j["file"] = what;
    if (kernel) j["kernel"] = kernel_json(a.kernel, *kernel);
    if (loader.scheme == skel::Scheme::kHornet) j["hornet"] = r.hornet ? hornet_json(*r.hornet) : Json(nullptr);
    j["ctx_overrides"] = ctx_overrides_json(loader, r);
    print_json(common, j);
  } else {
    print_human(what, r);
    print_ctx_overrides(loader, r);
    if (kernel)
      std::cout << "  Linux " << a.kernel << ":   "
                << (kernel->err == 0 ? "loads it"
                                     : "refuses it: " + errno_name(kernel->err) + " (" + kernel->kind + ")")
                << "\n";
  }
  if (r.err != 0) {
    std::cerr << "bpfsig verify: " << what << ": " << verify::verdict_name(r.verdict) << ": " << r.message << " ["
              << errno_name(r.err) << ", " << r.kind << "]\n";
    g_exit_code = 1;
  }
}

}  // namespace

void add_verify(CLI::App& app, Common& common) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* sub = app.add_subcommand("verify", "Verify a signed loader offline, with the kernel's rules");
  sub->add_option("-i,--cert", args->trusted, "Trusted certificate file or directory (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--insns", args->insns, "Raw loader instructions");
  sub->add_option("--data", args->data, "Raw metadata blob");
  sub->add_option("--sig", args->sig, "Raw DER PKCS#7 signature");
  sub->add_option("--excl-hash", args->excl, "Raw 32-byte exclusive-map hash");
  sub->add_option("--scheme", args->scheme,
                  "With raw input: loader-hash (default), loadtime or hash-chain (signature_maps {0})")
      ->check(one_of({"loader-hash", "loadtime", "hornet", "hash-chain"}));
  sub->add_option("--kernel", args->kernel,
                  "Also predict what this kernel answers to `bpfsig load`, in its order of checks: 7.2 (the 6.18 "
                  "scheme) or 7.3 (the load-time scheme); docs/load.md")
      ->check(one_of(verify::kernel_profile_names()));
  sub->add_option("file", args->file, "Bundle or signed light-skeleton header (- for standard input)");
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_verify(*args, common, *sub); });
}

}  // namespace bpfsig::cli
