// SPDX-License-Identifier: Apache-2.0
// The BPF_PROG_LOAD events IPE evaluates for the loads a deep-verify manifest
// ("bpfsig-manifest/1", docs/formats.md) lists: the light skeleton's loader,
// then the programs it loads through bpf_sys_bpf. docs/ipe.md, "Manifests".
#include <algorithm>
#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

#include "bpfsig/error.h"
#include "bpfsig/ipe.h"

namespace bpfsig::ipe {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kManifestSchema = "bpfsig-manifest/1";

// The JSON types a field may be asked for, with the words an error uses.
enum class Kind { kObject, kArray, kString, kBoolean, kIndex };

bool has_kind(const Json& v, Kind kind) {
  switch (kind) {
    case Kind::kObject: return v.is_object();
    case Kind::kArray: return v.is_array();
    case Kind::kString: return v.is_string();
    case Kind::kBoolean: return v.is_boolean();
    case Kind::kIndex: return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  }
  return false;
}

std::string_view kind_text(Kind kind) {
  switch (kind) {
    case Kind::kObject: return "an object";
    case Kind::kArray: return "an array";
    case Kind::kString: return "a string";
    case Kind::kBoolean: return "a boolean";
    case Kind::kIndex: return "a non-negative integer";
  }
  return "?";
}

// Reads the manifest's fields, naming each by its JSON path in errors.
class ManifestReader {
 public:
  explicit ManifestReader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(EINVAL, "bad_manifest", source_ + ": " + path + ": " + what);
  }

  // parent (an object, at parent_path) must have key, of that kind.
  const Json& field(const Json& parent, const std::string& parent_path, const std::string& key, Kind kind) const {
    const std::string path = parent_path.empty() ? key : parent_path + "." + key;
    auto it = parent.find(key);
    if (it == parent.end()) fail(path, "missing");
    if (!has_kind(*it, kind)) fail(path, "expected " + std::string(kind_text(kind)));
    return *it;
  }

  std::string text(const Json& parent, const std::string& parent_path, const std::string& key) const {
    return field(parent, parent_path, key, Kind::kString).get<std::string>();
  }

  uint32_t prog_type(const Json& parent, const std::string& parent_path) const {
    const std::string name = text(parent, parent_path, "type");
    std::optional<uint32_t> type = prog_type_from_name(name);
    if (!type) fail(parent_path + ".type", "unknown program type \"" + name + "\" (libbpf's names in upper case)");
    return *type;
  }

 private:
  const std::string& source_;
};

Event prog_load_event(lsm::IntegrityVerdict verdict, int32_t keyring_id, bool kernel, uint32_t prog_type,
                      const ManifestCaller& caller) {
  Event e;
  e.op = Op::kBpfProgLoad;
  e.hook = EvalHook::kBpfProgLoad;
  e.bpf_verdict = verdict;
  e.bpf_keyring_id = keyring_id;
  e.bpf_kernel = kernel;
  e.bpf_prog_type = prog_type;
  e.uid = caller.uid;
  e.pid = caller.pid;
  e.comm = caller.comm;
  return e;
}

// The loader's own BPF_PROG_LOAD, from user space. Its verdict is verify's,
// which names the verdicts as the integrity LSMs do (no NONE: verify always
// concludes something).
ManifestLoad loader_load(const ManifestReader& r, const Json& m, const ManifestCaller& caller) {
  const Json& sig = r.field(m, "", "signature", Kind::kObject);
  const std::string verdict_text = r.text(sig, "signature", "verdict");
  std::optional<lsm::IntegrityVerdict> verdict = lsm::verdict_from_name(verdict_text);
  if (!verdict || *verdict == lsm::IntegrityVerdict::kNone)
    r.fail("signature.verdict", "unknown verdict \"" + verdict_text +
                                    "\" (OK, UNSIGNED, PARTIALSIG, UNKNOWNKEY, UNEXPECTED, FAULT or BADSIG)");
  const std::string keyring = r.text(sig, "signature", "keyring");
  std::optional<int32_t> keyring_id = keyring_id_from_name(keyring);
  if (!keyring_id)
    r.fail("signature.keyring", "unknown keyring \"" + keyring + "\" (builtin, secondary, platform, session or user)");

  const Json& loader = r.field(m, "", "loader", Kind::kObject);
  ManifestLoad load;
  load.path = "loader";
  load.program = r.text(loader, "loader", "name");
  load.event = prog_load_event(*verdict, *keyring_id, false, r.prog_type(loader, "loader"), caller);
  return load;
}

// The programs the loader loads with kernel=true, in index order. gen_loader's
// PROG_LOAD attr carries no signature and keyring_id 0; Hornet, the model's
// integrity LSM, checks kernel loads like any other and reports UNSIGNED.
std::vector<ManifestLoad> kernel_loads(const ManifestReader& r, const Json& m, const ManifestCaller& caller) {
  const Json& programs = r.field(m, "", "programs", Kind::kArray);
  std::map<uint64_t, ManifestLoad> by_index;
  std::map<uint64_t, size_t> position_of;  // every program's index, kernel or not, for duplicates
  for (size_t i = 0; i < programs.size(); ++i) {
    const std::string path = "programs[" + std::to_string(i) + "]";
    const Json& p = programs[i];
    if (!p.is_object()) r.fail(path, "expected an object");
    const uint64_t index = r.field(p, path, "index", Kind::kIndex).get<uint64_t>();
    if (auto [it, fresh] = position_of.emplace(index, i); !fresh)
      r.fail(path + ".index", std::to_string(index) + " is also programs[" + std::to_string(it->second) + "]'s");
    ManifestLoad load;
    load.path = path;
    load.program = r.text(p, path, "name");
    const uint32_t type = r.prog_type(p, path);
    if (!r.field(p, path, "kernel", Kind::kBoolean).get<bool>()) continue;  // not loaded by the loader
    load.event = prog_load_event(lsm::IntegrityVerdict::kUnsigned, 0, true, type, caller);
    by_index.emplace(index, std::move(load));
  }
  std::vector<ManifestLoad> out;
  for (auto& [index, load] : by_index) out.push_back(std::move(load));
  return out;
}

}  // namespace

std::optional<int32_t> keyring_id_from_name(std::string_view name) {
  static constexpr std::pair<std::string_view, int32_t> kKeyrings[] = {
      {"builtin", 0}, {"secondary", 1}, {"platform", 2}, {"session", -3}, {"user", -4}};
  for (const auto& [known, id] : kKeyrings) {
    if (known == name) return id;
  }
  return std::nullopt;
}

std::string_view keyring_property_name(int32_t keyring_id) {
  switch (keyring_id) {
    case 0: return "BUILTIN";
    case 1: return "SECONDARY";
    case 2: return "PLATFORM";
    default: return "USER";
  }
}

std::vector<ManifestLoad> manifest_loads(const nlohmann::ordered_json& manifest, const std::string& source,
                                         const ManifestCaller& caller) {
  ManifestReader r(source);
  if (!manifest.is_object()) throw Error(EINVAL, "bad_manifest", source + ": expected a JSON object (a bpfsig manifest)");
  const std::string schema = r.text(manifest, "", "schema");
  if (schema != kManifestSchema)
    r.fail("schema", "\"" + schema + "\" is not \"" + std::string(kManifestSchema) + "\"");
  std::vector<ManifestLoad> loads;
  loads.push_back(loader_load(r, manifest, caller));
  for (ManifestLoad& load : kernel_loads(r, manifest, caller)) loads.push_back(std::move(load));
  return loads;
}

}  // namespace bpfsig::ipe
