// SPDX-License-Identifier: Apache-2.0
// bpfsig verify: offline, unprivileged, with the kernel's rules.
#include <cerrno>
#include <iostream>
#include <optional>
#include <sstream>

#include "bpfsig/deep.h"
#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/deep_output.h"

namespace bpfsig::cli {

namespace {

struct VerifyArgs {
  std::vector<std::string> trusted;
  std::vector<std::string> files;
  std::string insns, data, sig, excl;
  std::string scheme = "loader-hash";  // raw input only: what the signature covers
  std::string kernel;                  // empty: no kernel prediction
  DeepArgs deep;                       // --deep and its options
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
Json ctx_overrides_json(const std::vector<std::string>& map_names, const verify::Report& r) {
  Json out = Json::array();
  for (const auto& read : r.ctx_overrides)
    out.push_back(Json{{"insn", read.insn},
                       {"map", read.map_index < map_names.size() ? map_names[read.map_index] : ""},
                       {"field", read.field}});
  return out;
}

// One line per map: the loader takes these from the unsigned ctx.
void print_ctx_overrides(std::ostream& out, const std::vector<std::string>& map_names, const verify::Report& r) {
  if (r.ctx_overrides.empty()) return;
  out << "  warning:     the loader takes from its unsigned ctx (bpftool 7.7's loader, sign --ctx-overrides): "
         "the host can change these after signing\n";
  for (const auto& read : r.ctx_overrides)
    out << "               insn " << read.insn << ": " << read.field << " of map '"
        << (read.map_index < map_names.size() ? map_names[read.map_index] : "?") << "'\n";
}

void print_human(std::ostream& out, const std::string& what, const verify::Report& r) {
  const verify::ChainCheck& c = r.chain;
  out << what << ": " << verify::verdict_name(r.verdict) << ": " << r.message << "\n";
  if (r.signature.err == 0 && r.signature.signer)
    out << "  signature:   good, signer " << r.signature.signer->subject << " (skid "
              << r.signature.signer->skid_hex << ")\n";
  else if (!r.signature.kind.empty())
    out << "  signature:   rejected, " << errno_name(r.signature.err) << " (" << r.signature.kind << ")\n";
  if (r.hornet) print_hornet_attribute(*r.hornet, "  ");
  if (r.seal.checked)
    out << "  seal:        " << (r.seal.ok ? "good, the bundle is as signed"
                                                                           : "rejected, the bundle was changed")
              << "\n";
  else if (r.seal.present)
    out << "  seal:        present, not checked (an earlier check failed)\n";
  out << "  excl hash:   " << to_hex(c.excl_hash) << (c.excl_ok ? " (the loader's digest)" : " (NOT the loader's digest)")
            << "\n";
  out << "  scheme:      " << r.scheme << ", the signature covers the " << r.signed_content;
  if (r.signed_content_size) out << " (" << r.signed_content_size << " bytes)";
  out << "\n";
  if (!r.signed_value.empty()) {
    out << "  hash chain:  " << r.signed_value << " over signature_maps " << json_text(r.signature_maps) << "\n";
  }
  const bool kernel_checks_metadata = r.signed_content != "insns";
  if (!c.block_found && kernel_checks_metadata) {
    out << "  match block: none (not needed: the kernel checks the metadata through the signature)\n";
  } else if (!c.block_found && r.hornet) {
    out << "  match block: none: Hornet checks the map\n";
  } else if (!c.block_found) {
    out << "  match block: none: nothing in the loader checks the metadata\n";
  } else if (!c.shape_error.empty()) {
    out << "  match block: malformed: " << c.shape_error << "\n";
  } else {
    out << "  match block: insns " << c.block_start << "-" << c.block_start + c.block_length - 1 << ", layout "
              << describe_layout(c) << "\n"
              << "               mismatch jumps land on " << describe_target(c) << "\n";
  }
  out << "  metadata:    sha256 " << to_hex(c.metadata_sha256);
  if (r.hornet)
    out << " (Hornet checks the frozen map against the signed hash)";
  else if (kernel_checks_metadata)
    out << (r.signature.err == 0 ? " (covered by the signature)" : " (signature rejected)");
  else
    out << (c.metadata_ok ? " (matches the signed hash)" : c.block_found ? " (does NOT match)" : " (not covered)");
  out << "\n";
}

// Bad usage: what is missing, what conflicts, and the raw-only options given
// with a FILE (a bundle or header names its own scheme and carries its own
// metadata and exclusive hash: they would be ignored).
void check_usage(const CLI::App& cmd, const VerifyArgs& a, bool raw) {
  if (a.trusted.empty()) throw usage_error("verify needs at least one -i CERT (file or directory)");
  if (raw == !a.files.empty()) throw usage_error("give either FILE or --insns/--data/--sig, not both or neither");
  if (raw && (a.insns.empty() || a.sig.empty())) throw usage_error("raw input needs at least --insns and --sig");
  // Without it there is nothing to hash, and the report would be a mismatch
  // that says nothing about the real metadata.
  if (raw && a.data.empty())
    throw usage_error("no metadata was given: pass --data FILE (the loader's metadata blob) with --insns and --sig");
  const std::string file_names_its_own = "applies only to raw input (--insns/--sig): FILE names its own ";
  refuse_unless_applies(cmd, "--scheme", raw, file_names_its_own + "scheme");
  refuse_unless_applies(cmd, "--data", raw, file_names_its_own + "metadata");
  refuse_unless_applies(cmd, "--excl-hash", raw, file_names_its_own + "exclusive hash");
  const std::string needs_deep = "applies only to verify --deep";
  refuse_unless_applies(cmd, "--allow-unsigned-input", a.deep.enabled, needs_deep);
  refuse_unless_applies(cmd, "--expect", a.deep.enabled, needs_deep);
  refuse_unless_applies(cmd, "--btf", a.deep.enabled, needs_deep);
  if (a.deep.enabled && (raw || a.files.size() != 1))
    throw usage_error("--deep needs exactly one FILE (a bundle or a signed header): it runs the loader it describes");
  refuse_unless_applies(cmd, "--kernel", !a.deep.enabled, "does not apply with --deep: the scheme picks the model's profile");
}

// One input's verdict, and the kernel's prediction when --kernel asks.
struct Verified {
  std::string what;
  skel::Scheme scheme;
  std::vector<std::string> map_names;
  verify::Report report;
  std::optional<verify::Report> kernel;
};

Verified verify_input(const VerifyArgs& a, const std::string& file, const std::vector<crypto::Certificate>& trusted) {
  const bool raw = file.empty();
  skel::SignedInput input = raw ? skel::SignedInput{loader_from_raw(a), "raw", {}} : skel::read_signed_input(file, false);
  verify::Report report = verify::verify_signed_input(input, trusted);  // a bpftool 7.8 header: load-time
  const skel::SignedLoader& loader = input.loader;
  Verified v{raw ? a.insns : file, loader.scheme, loader.map_names, std::move(report), std::nullopt};
  if (!a.kernel.empty()) {
    v.kernel = verify::predict_kernel_load(loader, trusted, verify::parse_kernel_profile(a.kernel));
    apply_kernel_prediction(v.report, *v.kernel);
  }
  return v;
}

Json verified_json(const VerifyArgs& a, const Verified& v) {
  Json j = report_json(v.report);
  j["file"] = v.what;
  if (v.kernel) j["kernel"] = kernel_json(a.kernel, *v.kernel);
  if (v.scheme == skel::Scheme::kHornet) j["hornet"] = v.report.hornet ? hornet_json(*v.report.hornet) : Json(nullptr);
  j["ctx_overrides"] = ctx_overrides_json(v.map_names, v.report);
  return j;
}

void print_verified(std::ostream& out, const VerifyArgs& a, const Verified& v) {
  print_human(out, v.what, v.report);
  print_ctx_overrides(out, v.map_names, v.report);
  if (v.kernel)
    out << "  Linux " << a.kernel << ":   "
        << (v.kernel->err == 0 ? "loads it" : "refuses it: " + errno_name(v.kernel->err) + " (" + v.kernel->kind + ")")
        << "\n";
}

std::string failure_line(const Verified& v) {
  const verify::Report& r = v.report;
  return "bpfsig verify: " + v.what + ": " + verify::verdict_name(r.verdict) + ": " + r.message + " [" +
         errno_name(r.err) + ", " + r.kind + "]\n";
}

BatchItem batch_item(const VerifyArgs& a, const Verified& v) {
  std::ostringstream human;
  print_verified(human, a, v);
  return BatchItem{v.report.err == 0, verified_json(a, v), human.str(), v.report.err ? failure_line(v) : ""};
}

// verify --deep: the signature checks first (a failure is reported exactly
// as verify reports it, and nothing runs), then the manifest.
void run_verify_deep(const VerifyArgs& a, const Common& common, const std::vector<crypto::Certificate>& trusted) {
  const std::string& file = a.files[0];
  const skel::SignedInput input = skel::read_signed_input(file);
  deep::Options options;
  options.vmlinux_btf = a.deep.vmlinux_btf;
  const deep::Result r = deep::deep_verify(input, file, trusted, options);
  if (r.report.err == 0) return report_deep(a.deep, file, r, common);
  const Verified v{file, input.loader.scheme, input.loader.map_names, r.report, std::nullopt};
  if (common.json)
    print_json(common, verified_json(a, v));
  else
    print_verified(std::cout, a, v);
  std::cerr << failure_line(v);
  g_exit_code = 1;
}

void run_verify(const VerifyArgs& a, const Common& common, const CLI::App& cmd) {
  const bool raw = !a.insns.empty() || !a.sig.empty();
  check_usage(cmd, a, raw);
  std::vector<CommandFile> inputs{{"--insns", a.insns}, {"--data", a.data}, {"--sig", a.sig}, {"--excl-hash", a.excl}};
  for (const auto& f : a.files) inputs.push_back({"FILE", f});
  for (const auto& t : a.trusted) inputs.push_back({"-i", t});
  inputs.push_back({"--expect", a.deep.expect});
  inputs.push_back({"--btf", a.deep.vmlinux_btf});
  check_command_files(inputs, {});  // standard input for one of them at most
  std::vector<crypto::Certificate> trusted = load_trusted(a.trusted);
  if (a.deep.enabled) return run_verify_deep(a, common, trusted);
  if (a.files.size() > 1) {
    run_batch("verify", a.files, [&](const std::string& f) { return batch_item(a, verify_input(a, f, trusted)); }, common);
    return;
  }
  const Verified v = verify_input(a, raw ? "" : a.files[0], trusted);
  if (common.json)
    print_json(common, verified_json(a, v));
  else
    print_verified(std::cout, a, v);
  if (v.report.err != 0) {
    std::cerr << failure_line(v);
    g_exit_code = 1;
  }
}

void define_verify(CLI::App* sub, Common& common) {
  auto args = std::make_shared<VerifyArgs>();
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
  sub->add_option("file", args->files,
                  "Bundles or signed light-skeleton headers (- for standard input); several are verified on every "
                  "core, with a summary");
  add_deep_options(*sub, args->deep);
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_verify(*args, common, *sub); });
}

}  // namespace

const Command kCommandVerify{"verify", "Verify a signed loader offline, with the kernel's rules", define_verify};

}  // namespace bpfsig::cli
