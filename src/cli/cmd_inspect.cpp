// SPDX-License-Identifier: Apache-2.0
// bpfsig inspect: everything in a bundle or a signed header.
#include <algorithm>
#include <iostream>
#include <optional>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "cli/cli.h"

namespace bpfsig::cli {

namespace {

struct InspectArgs {
  std::string file;
  bool no_disasm = false;
};

struct DisasmLine {
  size_t pc;
  uint8_t code;
  std::string text;
  bool in_block;
};

std::vector<DisasmLine> disassembly(const skel::SignedLoader& l, const verify::ChainCheck& c) {
  std::vector<isa::Insn> prog = isa::decode(l.insns, "loader");
  std::vector<DisasmLine> out;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    bool in_block = c.block_found && pc >= c.block_start && pc < c.block_start + c.block_length;
    out.push_back({pc, prog[pc].code, isa::disasm_insn(prog, pc), in_block});
    if (isa::is_ld_imm64(prog[pc])) ++pc;  // the second slot has no line of its own
  }
  return out;
}

Json cms_json(const skel::SignedLoader& l) {
  Json j{{"size", l.signature.size()}};
  try {
    crypto::CmsSummary s = crypto::inspect_cms(l.signature);
    j["content_type"] = s.content_type;
    j["detached"] = s.detached;
    j["certificates"] = s.certificate_count;
    Json signers = Json::array();
    for (const auto& si : s.signers)
      signers.push_back(Json{{"by_skid", si.by_skid},
                             {"skid", si.skid_hex},
                             {"issuer", si.issuer},
                             {"serial", si.serial_hex},
                             {"digest", si.digest_alg},
                             {"signature_algo", si.signature_alg},
                             {"signed_attributes", si.signed_attr_oids}});
    j["signers"] = signers;
    j["hornet"] = Json(nullptr);
    try {
      if (auto attr = crypto::hornet_attribute(l.signature)) j["hornet"] = hornet_json(*attr);
    } catch (const Error& e) {
      j["hornet"] = Json{{"parse_error", e.what()}};
    }
  } catch (const Error& e) {
    j["parse_error"] = e.what();
  }
  return j;
}

// What the scheme's signature covers, recomputed from the file alone.
Json signed_content_json(const skel::SignedLoader& l) {
  Json j{{"signed", !l.signature.empty()}, {"signature_maps", l.signature_maps}};
  switch (l.scheme) {
    case skel::Scheme::kLoaderHash: j["covers"] = "insns"; break;
    case skel::Scheme::kLoadtime: j["covers"] = "insns || metadata"; break;
    case skel::Scheme::kHashChain: j["covers"] = l.signature_maps.empty() ? "insns" : "hash chain"; break;
    // The CMS content is the instructions; the map hashes are in a signed attribute.
    case skel::Scheme::kHornet: j["covers"] = "insns + hornet map hashes"; break;
  }
  j["value"] = Json(nullptr);
  try {
    // Views of the loader: a large metadata is hashed where it is, not copied.
    crypto::Digest chain_value{};
    const std::vector<ByteView> content = skel::signed_content_parts(l, &chain_value);
    size_t size = 0;
    for (ByteView part : content) size += part.size();
    j["size"] = size;
    j["sha256"] = to_hex(crypto::sha256(content));
    if (j["covers"] == "hash chain") j["value"] = to_hex(chain_value);
  } catch (const Error& e) {
    j["error"] = e.what();
  }
  return j;
}

Json inspect_json(const std::string& file, const skel::SignedLoader& l, const verify::ChainCheck& c, bool disasm) {
  Json j{{"file", file},
         {"scheme", skel::scheme_name(l.scheme)},
         {"skeleton", l.name},
         {"programs", l.prog_names},
         {"maps", l.map_names},
         {"insn_count", l.insns.size() / 8},
         {"data_size", l.data.size()},
         {"ctx_size", skel::loader_ctx_size(l)},
         {"signature", cms_json(l)},
         {"chain", chain_json(c)},
         {"signed_content", signed_content_json(l)},
         {"sealed", !l.seal.empty()}};
  j["signer_cert"] = Json(nullptr);
  if (!l.signer_cert.empty()) j["signer_cert"] = cert_json(crypto::describe(crypto::parse_certificate(l.signer_cert, file).get()));
  if (disasm) {
    Json lines = Json::array();
    for (const auto& d : disassembly(l, c))
      lines.push_back(Json{{"pc", d.pc}, {"code", d.code}, {"text", d.text}, {"match_block", d.in_block}});
    j["disassembly"] = lines;
  }
  return j;
}

void print_signature(const Json& sig) {
  std::cout << "signature:    " << sig["size"].get<size_t>() << " bytes";
  if (sig.contains("parse_error")) {
    std::cout << ", unparsable: " << sig["parse_error"].get<std::string>() << "\n";
    return;
  }
  std::cout << ", CMS " << (sig["detached"].get<bool>() ? "detached" : "with embedded content") << ", "
            << sig["certificates"].get<size_t>() << " certificates, content type " << sig["content_type"].get<std::string>()
            << "\n";
  for (const auto& s : sig["signers"]) {
    std::cout << "  signer:     ";
    if (s["by_skid"].get<bool>())
      std::cout << "skid " << s["skid"].get<std::string>();
    else
      std::cout << "issuer " << s["issuer"].get<std::string>() << ", serial " << s["serial"].get<std::string>();
    std::cout << ", " << s["digest"].get<std::string>() << ", " << s["signature_algo"].get<std::string>() << ", "
              << (s["signed_attributes"].empty() ? std::string("no signed attributes")
                                                 : std::to_string(s["signed_attributes"].size()) + " signed attributes")
              << "\n";
  }
}

std::optional<crypto::HornetAttribute> hornet_of(const skel::SignedLoader& l) {
  try {
    return crypto::hornet_attribute(l.signature);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Whether one of the Hornet attribute's hashes is the metadata map's.
bool hornet_covers_metadata(const std::optional<crypto::HornetAttribute>& attr, const crypto::Digest& metadata_sha256) {
  if (!attr) return false;
  for (const auto& m : attr->maps)
    if (std::equal(m.sha.begin(), m.sha.end(), metadata_sha256.begin(), metadata_sha256.end())) return true;
  return false;
}

void print_signed_content(const Json& content, const std::optional<crypto::HornetAttribute>& attr) {
  std::cout << "signed:       yes, over the " << content["covers"].get<std::string>();
  if (content.contains("size")) std::cout << ", " << content["size"].get<size_t>() << " bytes";
  if (!content["value"].is_null())
    std::cout << ", value " << content["value"].get<std::string>() << " (signature_maps "
              << json_text(content["signature_maps"]) << ")";
  if (content.contains("error")) std::cout << ", cannot be computed: " << content["error"].get<std::string>();
  if (content["covers"] == "insns + hornet map hashes")
    std::cout << (attr ? " (" + std::to_string(attr->maps.size()) + " map hash(es) in the Hornet attribute)"
                       : " (but the signature has no Hornet attribute)");
  std::cout << "\n";
}

// Where the metadata is checked: the loader's hash-match block, the kernel
// through the signature (loadtime, hash chain), or Hornet through its attribute.
void print_match_block(const verify::ChainCheck& c, bool signature_covers_metadata,
                       const std::optional<crypto::HornetAttribute>& attr) {
  if (!c.block_found && attr) {
    std::cout << "match block:  none (not needed: the metadata is covered by the Hornet attribute's map hash, "
              << (hornet_covers_metadata(attr, c.metadata_sha256) ? "which matches it" : "which does NOT match it")
              << "; the Hornet LSM checks the frozen map)\n";
  } else if (!c.block_found && signature_covers_metadata) {
    std::cout << "match block:  none (not needed: the signature covers the metadata, the kernel checks it)\n";
  } else if (!c.block_found) {
    std::cout << "match block:  none (the metadata is not covered by the signature)\n";
  } else if (!c.shape_error.empty()) {
    std::cout << "match block:  malformed at insn " << c.block_start << ": " << c.shape_error << "\n";
  } else {
    std::cout << "match block:  insns " << c.block_start << "-" << c.block_start + c.block_length - 1 << ", layout "
              << describe_layout(c) << "\n"
              << "              mismatch jumps land on " << describe_target(c) << "\n"
              << "              signed metadata sha256 " << to_hex(*c.signed_metadata_sha256)
              << (c.metadata_ok ? " (matches)" : " (does NOT match)") << "\n";
  }
}

void print_human(const std::string& file, const skel::SignedLoader& l, const verify::ChainCheck& c, const Json& j) {
  std::cout << "file:         " << file << "\n"
            << "scheme:       " << skel::scheme_name(l.scheme) << "\n"
            << "skeleton:     " << l.name << "\n"
            << "programs:     " << json_text(l.prog_names) << "\n"
            << "maps:         " << json_text(l.map_names) << "\n"
            << "loader:       " << l.insns.size() / 8 << " instructions (" << l.insns.size() << " bytes), digest "
            << to_hex(c.loader_digest) << "\n"
            << "metadata:     " << l.data.size() << " bytes, sha256 " << to_hex(c.metadata_sha256) << "\n"
            << "excl hash:    " << to_hex(c.excl_hash) << (c.excl_ok ? " (= loader digest)" : " (!= loader digest)") << "\n";
  print_signature(j["signature"]);
  const std::optional<crypto::HornetAttribute> attr = hornet_of(l);
  if (attr) print_hornet_attribute(*attr, "", to_hex(c.metadata_sha256));
  if (!j["signer_cert"].is_null()) {
    const Json& s = j["signer_cert"];
    std::cout << "signer cert:  " << s["subject"].get<std::string>() << ", serial " << s["serial"].get<std::string>()
              << ", skid " << s["skid"].get<std::string>() << ", " << s["key_algo"].get<std::string>() << "\n";
  }
  if (!l.seal.empty())
    std::cout << "seal:         " << l.seal.size() << " bytes over the rest of the bundle (checked by verify)\n";
  const Json& content = j["signed_content"];
  if (!content["signed"].get<bool>()) {
    std::cout << "signed:       no (the file carries no signature)\n";
  } else {
    print_signed_content(content, attr);
  }
  print_match_block(c, content["covers"] != "insns", attr);
  if (!j.contains("disassembly")) return;
  std::cout << "disassembly:\n";
  char prefix[32];
  for (const auto& d : j["disassembly"]) {
    std::snprintf(prefix, sizeof prefix, "%5zu: (%02x) ", d["pc"].get<size_t>(), d["code"].get<unsigned>());
    std::cout << (d["match_block"].get<bool>() ? "M" : " ") << prefix << d["text"].get<std::string>() << "\n";
  }
  std::cout << "(M: hash-match block)\n";
}

void run_inspect(const InspectArgs& a, const Common& common) {
  skel::SignedLoader l = skel::read_signed_file(a.file);
  verify::ChainCheck c = verify::check_chain(l);
  Json j = inspect_json(a.file, l, c, !a.no_disasm);
  if (common.json)
    print_json(common, j);
  else
    print_human(a.file, l, c, j);
}

void define_inspect(CLI::App* sub, Common& common) {
  auto args = std::make_shared<InspectArgs>();
  sub->add_option("file", args->file, "Bundle or signed light-skeleton header (- for standard input)")->required();
  sub->add_flag("--no-disasm", args->no_disasm, "Leave out the disassembly");
  add_output_flags(*sub, common);
  sub->callback([args, &common] { run_inspect(*args, common); });
}

}  // namespace

const Command kCommandInspect{"inspect", "Show everything in a bundle or signed header", define_inspect};

}  // namespace bpfsig::cli
