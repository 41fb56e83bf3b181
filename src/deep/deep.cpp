// SPDX-License-Identifier: Apache-2.0
// verify --deep: the signature checks, the loader run in the kernel model
// with its provenance tracked, and the manifest built from the run's trace
// of nested bpf() calls (docs/deep-verify.md).
#include "bpfsig/deep.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/json_text.h"
#include "common/bpf_names.h"

namespace bpfsig::deep {
namespace {

using Json = Manifest;
using kmodel::Provenance;
using kmodel::TracedCall;

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

std::string number_or(std::optional<std::string_view> name, uint32_t value) {
  return name ? upper(*name) : std::to_string(value);
}

std::string attach_type_name(uint32_t type) {
  const char* name = libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(type));
  return name ? upper(name) : std::to_string(type);
}

std::string hex_digest(ByteView bytes) {
  crypto::Digest d = crypto::sha256(bytes);
  return to_hex(ByteView(d.data(), d.size()));
}

std::string tag_of(const crypto::Digest& digest) { return to_hex(ByteView(digest.data(), 8)); }

// A char[16] object name: up to the first NUL.
std::string object_name(const Bytes& field) {
  auto end = std::find(field.begin(), field.end(), 0);
  return std::string(field.begin(), end);
}

Json source_names(uint8_t sources) {
  Json names = Json::array();
  const std::pair<uint8_t, const char*> kNames[] = {{vm::kFromOriginal, "metadata"}, {vm::kFromInsns, "insns"},
                                                    {vm::kFromKernel, "kernel"},     {vm::kFromCtx, "ctx"},
                                                    {vm::kFromUser, "user"}};
  for (const auto& [bit, name] : kNames)
    if (sources & bit) names.push_back(name);
  return names;
}

Json provenance_json(const Provenance& p) {
  Json j{{"source", p.source}, {"offset", p.offset}, {"length", p.length}};
  if (p.source == "computed") j["sources"] = source_names(p.sources);
  return j;
}

// core_relo kinds (enum bpf_core_relo_kind), as the manifest spells them.
std::string core_relo_kind_name(uint32_t kind) {
  static const char* const kKinds[] = {"FIELD_BYTE_OFFSET", "FIELD_BYTE_SIZE", "FIELD_EXISTS",   "FIELD_SIGNED",
                                       "FIELD_LSHIFT_U64",  "FIELD_RSHIFT_U64", "TYPE_ID_LOCAL", "TYPE_ID_TARGET",
                                       "TYPE_EXISTS",       "TYPE_SIZE",        "ENUMVAL_EXISTS", "ENUMVAL_VALUE",
                                       "TYPE_MATCHES"};
  return kind < std::size(kKinds) ? kKinds[kind] : std::to_string(kind);
}

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};

// Builds the manifest from a traced run: one entry per object the loader
// created, in the order it created them, every field with its provenance;
// every field with unsigned sources also goes to unsigned_inputs.
class ManifestBuilder {
 public:
  ManifestBuilder(const kmodel::NestedTrace& trace, const std::optional<kmodel::SkeletonResult>& created)
      : trace_(trace), created_(created) {}

  void add(const TracedCall& call) {
    if (call.result < 0) return;  // a failed call created nothing (the run's error says why)
    if (call.command == "BPF_BTF_LOAD") add_btf(call);
    else if (call.command == "BPF_MAP_CREATE") add_map(call);
    else if (call.command == "BPF_MAP_UPDATE_ELEM") add_update(call);
    else if (call.command == "BPF_MAP_FREEZE") add_freeze(call);
    else if (call.command == "BPF_PROG_LOAD") add_prog(call);
  }

  // A jump of the loader on unsigned input: what it creates depends on it.
  // The entry names the instruction and the first byte of the value tested.
  void add_tainted_branches() {
    for (const vm::TaintedBranch& b : trace_.tainted_branches)
      unsigned_.push_back(Json{{"path", "loader.insns[" + std::to_string(b.pc) + "]"},
                               {"source", (b.sources & vm::kFromCtx) ? "ctx" : "user"},
                               {"offset", b.from},
                               {"length", 1}});
  }

  Json btf, maps = Json::array(), programs = Json::array(), unsigned_ = Json::array();

 private:
  // entry["provenance"][field] = P, and an unsigned_inputs entry when P has
  // ctx or user sources.
  void provenance(Json& entry, const std::string& path, const std::string& field, const Provenance& p) {
    entry["provenance"][field] = provenance_json(p);
    if (!p.unsigned_input()) return;
    const bool wholly = p.source == "ctx" || p.source == "user";
    unsigned_.push_back(Json{{"path", path + "." + field},
                             {"source", wholly ? p.source : (p.sources & vm::kFromCtx) ? "ctx" : "user"},
                             {"offset", p.offset},
                             {"length", p.length}});
  }
  uint64_t value(const TracedCall& call, const char* field, const std::string& path, Json& entry,
                 const char* as = nullptr) {
    const kmodel::TracedValue* v = call.field(field);
    if (!v) return 0;
    provenance(entry, path, as ? as : field, v->provenance);
    return v->value;
  }
  Json index_of(const std::map<uint32_t, size_t>& indices, const TracedCall& call, const char* fd_field) const {
    auto id = call.referenced_ids.find(fd_field);
    if (id == call.referenced_ids.end()) return nullptr;
    auto it = indices.find(id->second);
    return it == indices.end() ? Json(nullptr) : Json(it->second);
  }

  void add_btf(const TracedCall& call) {
    if (btf.is_null()) btf = Json::array();
    const size_t index = btf.size();
    const std::string path = "btf[" + std::to_string(index) + "]";
    Json entry{{"index", index}};
    const kmodel::TracedValue* data = call.datum("btf");
    entry["size"] = data ? data->bytes.size() : 0;
    entry["sha256"] = hex_digest(data ? ByteView(data->bytes) : ByteView());
    entry["provenance"] = Json::object();
    if (data) provenance(entry, path, "data", data->provenance);
    value(call, "btf_size", path, entry, "size");
    btf_index_[call.object_id] = index;
    if (data) btf_blobs_[call.object_id] = data->bytes;
    btf.push_back(std::move(entry));
  }

  void add_map(const TracedCall& call) {
    const size_t index = maps.size();
    const std::string path = "maps[" + std::to_string(index) + "]";
    Json entry{{"index", index}};
    entry["provenance"] = Json::object();
    const kmodel::TracedValue* name = call.field("map_name");
    entry["name"] = name ? object_name(name->bytes) : "";
    if (name) provenance(entry, path, "name", name->provenance);
    const auto type = static_cast<uint32_t>(value(call, "map_type", path, entry, "type"));
    entry["type"] = number_or(bpf_map_type_str(type), type);
    entry["key_size"] = value(call, "key_size", path, entry);
    entry["value_size"] = value(call, "value_size", path, entry);
    entry["max_entries"] = value(call, "max_entries", path, entry);
    entry["flags"] = value(call, "map_flags", path, entry, "flags");
    entry["inner_map"] = index_of(map_index_, call, "inner_map_fd");
    if (!entry["inner_map"].is_null()) value(call, "inner_map_fd", path, entry, "inner_map");
    entry["btf"] = index_of(btf_index_, call, "btf_fd");
    if (!entry["btf"].is_null()) value(call, "btf_fd", path, entry, "btf");
    entry["initial_sha256"] = nullptr;
    entry["frozen"] = false;
    map_index_[call.object_id] = index;
    maps.push_back(std::move(entry));
  }

  // The map's initial contents: the values the loader wrote, in call order.
  void add_update(const TracedCall& call) {
    Json index = index_of(map_index_, call, "map_fd");
    if (index.is_null()) return;
    const size_t i = index.get<size_t>();
    const std::string path = "maps[" + std::to_string(i) + "]";
    Json& entry = maps[i];
    const kmodel::TracedValue* key = call.datum("key");
    const kmodel::TracedValue* data = call.datum("value");
    Bytes& contents = initial_values_[i];
    if (data) contents.insert(contents.end(), data->bytes.begin(), data->bytes.end());
    entry["initial_sha256"] = hex_digest(contents);
    // The value's bytes, or the key's when only the key is unsigned; of
    // several updates the first flagged one is kept.
    const kmodel::TracedValue* shown = key && key->provenance.unsigned_input() && !(data && data->provenance.unsigned_input()) ? key : data;
    if (shown && (!entry["provenance"].contains("initial_sha256") || shown->provenance.unsigned_input()))
      provenance(entry, path, "initial_sha256", shown->provenance);
  }

  void add_freeze(const TracedCall& call) {
    Json index = index_of(map_index_, call, "map_fd");
    if (!index.is_null()) maps[index.get<size_t>()]["frozen"] = true;
  }

  std::optional<kmodel::ProgInfo> prog_info(uint32_t id) const {
    if (!created_) return std::nullopt;
    for (const auto& p : created_->progs)
      if (p.id == id) return p;
    return std::nullopt;
  }

  // What the loader resolved a name to with bpf_btf_find_by_name_kind.
  std::optional<std::string> looked_up(uint32_t btf_id, std::optional<uint32_t> kind) const {
    for (const auto& l : trace_.lookups)
      if (l.helper == "bpf_btf_find_by_name_kind" && l.result >= 0 && static_cast<uint32_t>(l.result) == btf_id &&
          (!kind || l.kind == *kind))
        return l.name;
    return std::nullopt;
  }

  void add_calls(Json& entry, ByteView insns) {
    Json helpers = Json::array(), kfuncs = Json::array();
    auto add_once = [](Json& list, const std::string& name) {
      if (std::find(list.begin(), list.end(), Json(name)) == list.end()) list.push_back(name);
    };
    for (size_t off = 0; off + 8 <= insns.size(); off += 8) {
      const uint8_t code = insns[off], src = insns[off + 1] >> 4;
      const auto imm = static_cast<int32_t>(load_le32(insns.data() + off + 4));
      if (code == 0x18) off += 8;  // ld_imm64's second slot
      if (code != 0x85) continue;  // BPF_JMP | BPF_CALL
      if (src == 0) {
        std::string_view name = isa::helper_name(imm);
        add_once(helpers, name.empty() ? "helper#" + std::to_string(imm) : std::string(name));
      } else if (src == isa::kPseudoKfuncCall) {
        constexpr uint32_t kBtfKindFunc = 12;
        add_once(kfuncs, looked_up(static_cast<uint32_t>(imm), kBtfKindFunc).value_or("btf_id:" + std::to_string(imm)));
      }
    }
    entry["helpers"] = helpers;
    entry["kfuncs"] = kfuncs;
  }

  // The relocated value: the offset of a memory access, else the immediate.
  static int64_t relocated_value(ByteView insns, size_t insn) {
    if ((insn + 1) * 8 > insns.size()) return 0;
    const uint8_t* p = insns.data() + insn * 8;
    const uint8_t cls = p[0] & 7;
    if (cls == 1 || cls == 2 || cls == 3) return static_cast<int16_t>(load_le16(p + 2));  // LDX, ST, STX
    return static_cast<int32_t>(load_le32(p + 4));
  }

  Json core_relos(const TracedCall& call, ByteView loaded) const {
    Json out = Json::array();
    const kmodel::TracedValue* relos = call.datum("core_relos");
    const kmodel::TracedValue* rec_size = call.field("core_relo_rec_size");
    if (!relos || !rec_size || rec_size->value < 16) return out;
    std::unique_ptr<struct btf, BtfDeleter> btf;
    auto btf_id = call.referenced_ids.find("prog_btf_fd");
    if (btf_id != call.referenced_ids.end()) {
      auto blob = btf_blobs_.find(btf_id->second);
      if (blob != btf_blobs_.end()) btf.reset(btf__new(blob->second.data(), static_cast<uint32_t>(blob->second.size())));
      if (btf && libbpf_get_error(btf.get())) btf.release();
    }
    for (size_t off = 0; off + rec_size->value <= relos->bytes.size(); off += rec_size->value) {
      const uint8_t* r = relos->bytes.data() + off;
      const uint32_t insn_off = load_le32(r), type_id = load_le32(r + 4), access = load_le32(r + 8);
      const struct btf_type* type = btf ? btf__type_by_id(btf.get(), type_id) : nullptr;
      const char* type_name = type ? btf__name_by_offset(btf.get(), type->name_off) : nullptr;
      const char* access_str = btf ? btf__str_by_offset(btf.get(), access) : nullptr;
      out.push_back(Json{{"insn", insn_off / 8},
                         {"kind", core_relo_kind_name(load_le32(r + 12))},
                         {"type", type_name ? type_name : "type_id:" + std::to_string(type_id)},
                         {"access", access_str ? access_str : ""},
                         {"value", relocated_value(loaded, insn_off / 8)}});
    }
    return out;
  }

  void add_prog(const TracedCall& call) {
    const size_t index = programs.size();
    const std::string path = "programs[" + std::to_string(index) + "]";
    Json entry{{"index", index}};
    entry["provenance"] = Json::object();
    const kmodel::TracedValue* name = call.field("prog_name");
    entry["name"] = name ? object_name(name->bytes) : "";
    if (name) provenance(entry, path, "name", name->provenance);
    const auto type = static_cast<uint32_t>(value(call, "prog_type", path, entry, "type"));
    entry["type"] = number_or(bpf_prog_type_str(type), type);
    entry["expected_attach_type"] =
        attach_type_name(static_cast<uint32_t>(value(call, "expected_attach_type", path, entry)));
    const auto attach_btf_id = static_cast<uint32_t>(call.field("attach_btf_id") ? call.field("attach_btf_id")->value : 0);
    if (attach_btf_id) {
      value(call, "attach_btf_id", path, entry, "attach_target");
      Json obj = index_of(btf_index_, call, "attach_btf_obj_fd");
      entry["attach_target"] = Json{{"btf_id", attach_btf_id},
                                    {"name", looked_up(attach_btf_id, std::nullopt).value_or("")},
                                    {"btf_obj", obj.is_null() ? Json("vmlinux") : obj}};
    } else {
      entry["attach_target"] = nullptr;
    }
    const kmodel::TracedValue* license = call.datum("license");
    entry["license"] = license ? std::string(license->bytes.begin(), std::find(license->bytes.begin(), license->bytes.end(), 0)) : "";
    if (license) provenance(entry, path, "license", license->provenance);
    entry["insn_count"] = value(call, "insn_cnt", path, entry, "insn_count");
    const kmodel::TracedValue* insns = call.datum("insns");
    std::optional<kmodel::ProgInfo> info = prog_info(call.object_id);
    const Bytes& loaded = info ? info->insns : insns ? insns->bytes : Bytes{};
    entry["sha256"] = hex_digest(loaded);
    if (insns) provenance(entry, path, "sha256", insns->provenance);  // the bytes the loader passed
    entry["tag"] = info ? Json(tag_of(info->digest)) : Json(nullptr);
    Json used = Json::array();
    if (info)
      for (uint32_t id : info->map_ids)
        if (auto it = map_index_.find(id); it != map_index_.end()) used.push_back(it->second);
    entry["maps"] = used;
    if (const kmodel::TracedValue* fds = call.datum("fd_array"); fds && !fds->bytes.empty())
      provenance(entry, path, "maps", fds->provenance);
    add_calls(entry, insns ? ByteView(insns->bytes) : ByteView());
    entry["core_relos"] = core_relos(call, loaded);
    if (const kmodel::TracedValue* relos = call.datum("core_relos"); relos && !relos->bytes.empty())
      provenance(entry, path, "core_relos", relos->provenance);
    entry["kernel"] = true;
    programs.push_back(std::move(entry));
  }

  const kmodel::NestedTrace& trace_;
  const std::optional<kmodel::SkeletonResult>& created_;
  std::map<uint32_t, size_t> map_index_, btf_index_;
  std::map<uint32_t, Bytes> btf_blobs_;
  std::map<size_t, Bytes> initial_values_;
};

Json loader_json(const skel::SignedLoader& loader, const std::optional<kmodel::SkeletonResult>& created) {
  return Json{{"name", "__loader.prog"},
              {"type", "SYSCALL"},
              {"insn_count", loader.insns.size() / 8},
              {"sha256", hex_digest(loader.insns)},
              {"tag", tag_of(skel::prog_digest(loader.insns))},
              {"signed", !loader.signature.empty()},
              {"retval", created ? Json(created->loader_retval) : Json(nullptr)}};
}

Manifest build_manifest(const skel::SignedInput& input, const std::string& file, const Result& r,
                        const std::string& kernel, const std::optional<kmodel::SkeletonResult>& created) {
  ManifestBuilder builder(r.trace, created);
  for (const auto& call : r.trace.calls) builder.add(call);
  builder.add_tainted_branches();
  const crypto::Digest& sha = input.sha256;
  return Json{{"schema", kManifestSchema},
              {"input", Json{{"file", file},
                             {"format", input.format},
                             {"scheme", skel::scheme_name(input.loader.scheme)},
                             {"sha256", to_hex(ByteView(sha.data(), sha.size()))}}},
              {"signature", Json{{"verdict", verify::verdict_name(r.report.verdict)},
                                 {"errno", r.report.err},
                                 {"kind", r.report.kind},
                                 {"keyring", "builtin"}}},
              {"kernel", kernel},
              {"loader", loader_json(input.loader, created)},
              {"btf", builder.btf.is_null() ? Json::array() : builder.btf},
              {"maps", builder.maps},
              {"programs", builder.programs},
              // gen_loader loaders create no links: the skeleton attaches from
              // user space, after the load (docs/deep-verify.md).
              {"links", Json::array()},
              {"unsigned_inputs", builder.unsigned_}};
}

// Page-aligned user addresses for the initial values, as a process's heap.
constexpr uint64_t kUserBase = 0x7f00'0000'0000;

}  // namespace

bool Result::has_unsigned_inputs() const {
  return manifest.is_object() && manifest.contains("unsigned_inputs") && !manifest["unsigned_inputs"].empty();
}

kmodel::KernelProfile profile_for(skel::Scheme scheme) {
  switch (scheme) {
    case skel::Scheme::kLoadtime: return kmodel::KernelProfile::loadtime_2026();
    case skel::Scheme::kHashChain: return kmodel::KernelProfile::hash_chain();
    case skel::Scheme::kHornet: return kmodel::KernelProfile::hornet();
    default: return kmodel::KernelProfile::linux_6_18();
  }
}

CtxInput default_ctx(const skel::SignedLoader& loader) {
  CtxInput ctx;
  std::vector<skel::SignedMap> signed_maps;
  try {
    if (!loader.header_initial_values.empty()) signed_maps = skel::signed_maps(loader);
  } catch (const Error&) {
    // Not gen_loader's shape: the literals go as they are.
  }
  for (const auto& literal : loader.header_initial_values) {
    auto it = std::find(loader.map_names.begin(), loader.map_names.end(), literal.map);
    if (it == loader.map_names.end()) continue;
    const auto index = static_cast<size_t>(it - loader.map_names.begin());
    Bytes value = literal.value;
    // The header copies the literal into the map's mmap'ed area, zeroes after it.
    if (index < signed_maps.size() && value.size() < signed_maps[index].value_size)
      value.resize(signed_maps[index].value_size, 0);
    ctx.initial_values[index] = std::move(value);
  }
  return ctx;
}

Result deep_verify(const skel::SignedInput& signed_input, const std::string& file,
                   const std::vector<crypto::Certificate>& trusted, const Options& options) {
  Result r;
  skel::SignedInput input = signed_input;
  r.report = verify::verify_signed_input(input, trusted);  // a bpftool 7.8 header: the load-time scheme
  const skel::SignedLoader& loader = input.loader;
  if (r.report.err != 0) return r;  // a tampered artifact never runs

  kmodel::Kernel kernel(profile_for(loader.scheme));
  if (!options.vmlinux_btf.empty()) kernel.set_vmlinux_btf_file(options.vmlinux_btf);
  for (const auto& cert : trusted) kernel.keyring_add_cert(kmodel::kBuiltinKeyring, crypto::certificate_der(cert.get()));
  kmodel::Process& proc = kernel.spawn("bpfsig");

  const CtxInput ctx = options.ctx ? *options.ctx : default_ctx(loader);
  kmodel::UserMemory user;
  kmodel::SkeletonOptions skeleton;
  skeleton.keyring_id = kmodel::kBuiltinKeyring;
  skeleton.max_entries = ctx.max_entries;
  uint64_t address = kUserBase;
  for (const auto& [index, bytes] : ctx.initial_values) {
    user.regions[address] = bytes;
    skeleton.initial_values[index] = address;
    address += (bytes.size() + 2 * 4096) & ~uint64_t{4095};  // a guard page between them
  }
  skeleton.user_memory = &user;
  skeleton.trace = &r.trace;

  std::optional<kmodel::SkeletonResult> created;
  r.ran = true;
  try {
    created = kmodel::load_skeleton(kernel, proc, loader, skeleton);
  } catch (const Error& e) {
    r.err = e.err();
    r.kind = e.kind();
    r.message = e.what();
  }
  r.manifest = build_manifest(input, file, r, kernel.profile().name, created);
  return r;
}

// ---- --expect -------------------------------------------------------------------

namespace {

std::string shown(const Json* v) { return v ? json_text(*v) : "absent"; }

void diff_into(const Json* expected, const Json* actual, const std::string& path, std::vector<std::string>& out) {
  if (path == "input.file") return;  // the same manifest may describe a copy elsewhere
  if (expected && actual && expected->is_object() && actual->is_object()) {
    for (const auto& [key, value] : expected->items())
      diff_into(&value, actual->contains(key) ? &(*actual)[key] : nullptr, path.empty() ? key : path + "." + key, out);
    for (const auto& [key, value] : actual->items())
      if (!expected->contains(key)) diff_into(nullptr, &value, path.empty() ? key : path + "." + key, out);
    return;
  }
  if (expected && actual && expected->is_array() && actual->is_array()) {
    const size_t n = std::max(expected->size(), actual->size());
    for (size_t i = 0; i < n; ++i)
      diff_into(i < expected->size() ? &(*expected)[i] : nullptr, i < actual->size() ? &(*actual)[i] : nullptr,
                path + "[" + std::to_string(i) + "]", out);
    return;
  }
  if (expected && actual && *expected == *actual) return;
  out.push_back(path + ": " + shown(expected) + " -> " + shown(actual));
}

}  // namespace

std::vector<std::string> manifest_diff(const Manifest& expected, const Manifest& actual) {
  std::vector<std::string> out;
  diff_into(&expected, &actual, "", out);
  return out;
}

}  // namespace bpfsig::deep
