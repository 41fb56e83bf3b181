// SPDX-License-Identifier: Apache-2.0
// Rendering shared by several subcommands. The JSON shapes are documented in
// docs/cli.md and kept stable: fields are added, never renamed or removed.
#include <iostream>
#include <sys/stat.h>

#include "bpfsig/error.h"
#include "cli/cli.h"

namespace bpfsig::cli {

void add_output_flags(CLI::App& cmd, Common& common) {
  cmd.add_flag("-j,--json", common.json, "JSON output (one line; see -p)");
  cmd.add_flag_callback(
      "-p,--pretty",
      [&common] {
        common.pretty = true;
        common.json = true;
      },
      "Pretty-printed JSON output (implies -j)");
}

void print_json(const Common& common, const Json& j, std::ostream& os) { os << json_text(j, common.style()) << "\n"; }

void report_error(const std::string& command, const Error& e, const Common& common) {
  std::cerr << "bpfsig" << (command.empty() ? "" : " " + command) << ": " << e.what() << " [" << e.err_name() << ", "
            << e.kind() << "]\n";
  if (!common.json) return;
  print_json(common, Json{{"ok", false},
                          {"error", {{"errno", e.err()}, {"errno_name", e.err_name()}, {"kind", e.kind()},
                                     {"message", e.what()}}}});
}

int exit_code_for(const Error& e) { return e.kind() == "usage" ? kExitUsage : 1; }

Json cert_json(const crypto::CertInfo& c) {
  return Json{{"subject", c.subject},     {"issuer", c.issuer},         {"serial", c.serial_hex},
              {"skid", c.skid_hex},       {"key_algo", c.key_algo},     {"not_before", c.not_before},
              {"not_after", c.not_after}, {"sha256", c.sha256_hex}};
}

Json chain_json(const verify::ChainCheck& c) {
  Json j;
  j["match_block"] = c.block_found;
  if (c.block_found) {
    j["layout"] = c.layout;
    j["block_start"] = c.block_start;
    j["block_length"] = c.block_length;
    j["cleanup_pc"] = c.cleanup_pc;
    j["mismatch_target"] = c.mismatch_target;
    j["shape_error"] = c.shape_error;
    // "" when the block's shape is wrong, as before the digests were bytes.
    j["signed_metadata_sha256"] = c.signed_metadata_sha256 ? to_hex(*c.signed_metadata_sha256) : "";
  }
  j["metadata_sha256"] = to_hex(c.metadata_sha256);
  j["metadata_ok"] = c.metadata_ok;
  j["excl_hash"] = to_hex(c.excl_hash);
  j["loader_digest"] = to_hex(c.loader_digest);
  j["excl_ok"] = c.excl_ok;
  return j;
}

Json sigcheck_json(const crypto::SigCheck& s) {
  Json j{{"errno", s.err}, {"errno_name", errno_name(s.err)}, {"kind", s.kind}, {"detail", s.detail}};
  j["signer"] = s.signer ? cert_json(*s.signer) : Json(nullptr);
  return j;
}

// A bundle's seal; "ok" is null until it was checked.
Json seal_json(const verify::Report::SealCheck& s) {
  return Json{{"present", s.present}, {"checked", s.checked}, {"ok", s.checked ? Json(s.ok) : Json(nullptr)}};
}

Json report_json(const verify::Report& r) {
  return Json{{"verdict", verify::verdict_name(r.verdict)},
              {"ok", r.err == 0},
              {"errno", r.err},
              {"errno_name", errno_name(r.err)},
              {"kind", r.kind},
              {"message", r.message},
              {"signature", sigcheck_json(r.signature)},
              {"chain", chain_json(r.chain)},
              {"scheme", r.scheme},
              {"signed_content", Json{{"covers", r.signed_content},
                                      {"size", r.signed_content_size},
                                      {"value", r.signed_value.empty() ? Json(nullptr) : Json(r.signed_value)}}},
              {"signature_maps", r.signature_maps},
              {"seal", seal_json(r.seal)}};
}

std::string describe_layout(const verify::ChainCheck& c) {
  return c.layout == "excl" ? "excl (33 insns: map->excl check, then the 28-insn hash check)"
                            : "6.18 (28 insns: the Linux 6.18 / libbpf 1.7 hash check)";
}

std::string describe_target(const verify::ChainCheck& c) {
  if (c.mismatch_target == "cleanup+1")
    return "cleanup+1 (insn " + std::to_string(c.cleanup_pc + 1) + ": libbpf 1.7's off-by-one, still fails closed)";
  return "cleanup (insn " + std::to_string(c.cleanup_pc) + ")";
}

std::vector<crypto::Certificate> load_trusted(const std::vector<std::string>& paths) {
  std::vector<crypto::Certificate> out;
  for (const auto& p : paths) {
    auto certs = crypto::load_certificates(p);
    for (auto& c : certs) out.push_back(std::move(c));
  }
  return out;
}

std::string read_text_file(const std::string& path) {
  Bytes b = read_file(path);
  return std::string(b.begin(), b.end());
}

}  // namespace bpfsig::cli
