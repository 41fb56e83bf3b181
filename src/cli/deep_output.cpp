// SPDX-License-Identifier: Apache-2.0
// verify --deep: the manifest's human summary, --expect, and the verdict.
#include <iostream>
#include <sstream>

#include "bpfsig/error.h"
#include "cli/deep_output.h"

namespace bpfsig::cli {

namespace {

// "metadata+120:4", "insns@88", "kernel@1496", "ctx+28:4", "computed@40 (metadata, kernel)".
std::string short_provenance(const Json& p) {
  const std::string source = p.value("source", "");
  const std::string offset = std::to_string(p.value("offset", 0ull));
  const std::string length = std::to_string(p.value("length", 0ull));
  if (source == "metadata" || source == "ctx" || source == "user") return source + "+" + offset + ":" + length;
  std::string text = source + "@" + offset;
  if (p.contains("sources")) {
    std::string names;
    for (const auto& s : p["sources"]) names += (names.empty() ? "" : ", ") + s.get<std::string>();
    text += " (" + names + ")";
  }
  return text;
}

void print_provenance(std::ostream& out, const Json& entry) {
  std::string line;
  for (const auto& [field, p] : entry["provenance"].items())
    line += (line.empty() ? "" : ", ") + field + " " + short_provenance(p);
  if (!line.empty()) out << "        from: " << line << "\n";
}

// expected_attach_type 0 is BPF_CGROUP_INET_INGRESS by name, and "none" for
// the many program types that do not read it: the number says both.
std::string attach_type_text(const Json& prog) {
  const std::string name = prog["expected_attach_type"].get<std::string>();
  if (name == "CGROUP_INET_INGRESS" && prog["type"] != "CGROUP_SKB") return "expected_attach_type 0";
  return name;
}

std::string list_text(const Json& list) {
  std::string text;
  for (const auto& item : list) text += (text.empty() ? "" : " ") + (item.is_string() ? item.get<std::string>() : item.dump());
  return text.empty() ? "-" : text;
}

void print_summary(std::ostream& out, const std::string& file, const deep::Result& r) {
  const Json& m = r.manifest;
  const Json& loader = m["loader"];
  out << file << ": deep verify (" << m["input"]["format"].get<std::string>() << ", scheme "
      << m["input"]["scheme"].get<std::string>() << ", model kernel " << m["kernel"].get<std::string>() << ")\n";
  out << "  signature:  " << m["signature"]["verdict"].get<std::string>() << ", keyring "
      << m["signature"]["keyring"].get<std::string>() << "\n";
  out << "  loader:     " << loader["insn_count"] << " insns, tag " << loader["tag"].get<std::string>() << ", returned "
      << (loader["retval"].is_null() ? "nothing (it did not complete)" : loader["retval"].dump()) << "\n";
  for (const auto& b : m["btf"]) {
    out << "  btf[" << b["index"] << "]:     " << b["size"] << " bytes, sha256 " << b["sha256"].get<std::string>() << "\n";
    print_provenance(out, b);
  }
  for (const auto& map : m["maps"]) {
    out << "  map[" << map["index"] << "]:     " << map["name"].get<std::string>() << " " << map["type"].get<std::string>()
        << ", key " << map["key_size"] << ", value " << map["value_size"] << ", max_entries " << map["max_entries"]
        << ", flags " << map["flags"] << (map["frozen"].get<bool>() ? ", frozen" : "");
    if (!map["initial_sha256"].is_null()) out << ", initial sha256 " << map["initial_sha256"].get<std::string>();
    out << "\n";
    print_provenance(out, map);
  }
  for (const auto& p : m["programs"]) {
    out << "  prog[" << p["index"] << "]:    " << p["name"].get<std::string>() << " " << p["type"].get<std::string>()
        << " (" << attach_type_text(p) << "), " << p["insn_count"] << " insns, tag "
        << (p["tag"].is_null() ? "-" : p["tag"].get<std::string>()) << ", license "
        << p["license"].get<std::string>() << "\n";
    if (!p["attach_target"].is_null())
      out << "        attach: " << p["attach_target"]["name"].get<std::string>() << " (btf_id "
          << p["attach_target"]["btf_id"] << ")\n";
    out << "        maps: " << list_text(p["maps"]) << "; helpers: " << list_text(p["helpers"])
        << "; kfuncs: " << list_text(p["kfuncs"]) << "; core_relos: " << p["core_relos"].size() << "\n";
    print_provenance(out, p);
  }
  if (m["unsigned_inputs"].empty()) {
    out << "  unsigned inputs: none (every field comes from the signed metadata, the signed instructions or the "
           "kernel)\n";
    return;
  }
  out << "  unsigned inputs:\n";
  for (const auto& u : m["unsigned_inputs"])
    out << "    " << u["path"].get<std::string>() << ": " << u["source"].get<std::string>() << "+" << u["offset"] << ":"
        << u["length"] << "\n";
}

deep::Manifest read_expected(const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return deep::Manifest::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(EINVAL, "bad_manifest", path + ": not a JSON manifest: " + e.what());
  }
}

void fail_line(const std::string& file, const std::string& message, int err, const std::string& kind) {
  std::cerr << "bpfsig verify: " << file << ": " << message << " [" << errno_name(err) << ", " << kind << "]\n";
  g_exit_code = 1;
}

}  // namespace

void add_deep_options(CLI::App& verify, DeepArgs& args) {
  verify.add_flag("--deep", args.enabled,
                  "After the signature checks, run the loader in the kernel model and print the manifest of what it "
                  "creates, every field with the bytes it came from (docs/deep-verify.md)");
  verify.add_flag("--allow-unsigned-input", args.allow_unsigned_input,
                  "With --deep: do not fail when a field comes from the loader's ctx or user memory");
  verify.add_option("--expect", args.expect,
                    "With --deep: compare with this reviewed manifest (input.file aside); fail with the differences");
  verify.add_option("--btf", args.vmlinux_btf,
                    "With --deep: vmlinux BTF of the target kernel for CO-RE relocations; default: the host's");
}

void report_deep(const DeepArgs& args, const std::string& file, const deep::Result& r, const Common& common) {
  if (common.json)
    print_json(common, r.manifest);
  else
    print_summary(std::cout, file, r);
  std::vector<std::string> differences;
  if (!args.expect.empty()) {
    differences = deep::manifest_diff(read_expected(args.expect), r.manifest);
    for (const auto& line : differences) std::cerr << line << "\n";
  }
  if (r.err != 0) return fail_line(file, "the loader failed in the model: " + r.message, r.err, r.kind);
  const Json& unsigned_inputs = r.manifest["unsigned_inputs"];
  if (!unsigned_inputs.empty() && !args.allow_unsigned_input) {
    const Json& first = unsigned_inputs[0];
    return fail_line(file,
                     std::to_string(unsigned_inputs.size()) + " field(s) come from unsigned input (first: " +
                         first["path"].get<std::string>() + " from " + first["source"].get<std::string>() +
                         "); --allow-unsigned-input accepts them",
                     EPERM, "unsigned_input");
  }
  if (!differences.empty())
    fail_line(file, std::to_string(differences.size()) + " difference(s) from the expected manifest " + args.expect,
              EINVAL, "manifest_mismatch");
}

}  // namespace bpfsig::cli
