// SPDX-License-Identifier: Apache-2.0
// Running a scenario: one kernel model, one LSM stack and one scratch
// directory per run; every step is carried out on the model, and what the
// LSM stack audited while it ran is kept with its result.
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <sstream>

#include "bpfsig/error.h"
#include "bpfsig/sim.h"
#include "common/uapi.h"

namespace bpfsig::sim {

bool RunResult::passed() const {
  return std::all_of(steps.begin(), steps.end(), [](const StepResult& s) { return s.failures.empty(); });
}

const StepResult* RunResult::detection() const {
  for (const auto& s : steps)
    if (!s.ok) return &s;
  return nullptr;
}

namespace {

[[noreturn]] void bad(const Where& where, const std::string& why, int err = EINVAL) {
  throw Error(err, "scenario", to_string(where) + ": " + why);
}

// A scratch directory for the keys of one run, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bpfsig-sim-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw Error(errno, "io", "cannot create a scratch directory under " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Key {
  crypto::PrivateKey key;
  crypto::Certificate cert;
};

struct MapRef {
  std::string process;
  int fd = -1;
};

struct ProgRef {
  std::string process;
  int fd = -1;
  std::string artifact;
};

// A step that cannot go on because an earlier step failed to make what it needs.
struct Skip {
  std::string why;
};

std::string map_name_for(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (out.size() == kmodel::kObjNameLen - 1) break;
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') ? c : '_';
  }
  return out;
}

Bytes from_hex_arg(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Deterministic "garbage": the same bytes for the same length on every run.
Bytes garbage(size_t n) {
  Bytes out(n);
  uint32_t x = 0x9e3779b9u ^ static_cast<uint32_t>(n);
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

std::string verdict_of(const lsm::AuditRecord& r) {
  return r.verdict ? std::string(lsm::verdict_name(*r.verdict)) : std::string();
}

// Where a refused step was refused, in one short string the matrix shows.
std::string classify(const Error& e, const std::vector<lsm::AuditRecord>& records) {
  for (const auto& r : records)
    if (r.err != 0)
      return std::string(lsm::hook_name(r.hook)) + "/" + r.lsm + ": " +
             (r.verdict ? verdict_of(r) : errno_name(-r.err));
  std::string msg = e.what();
  std::string name = errno_name(e.err());
  if (msg.find("loader returned") != std::string::npos) return "loader: -" + name;
  if (msg.find("excl_prog_hash") != std::string::npos) return "exclusive map: " + name;
  if (msg.find("keyring") != std::string::npos) return "keyring: " + name;
  if (msg.find("signature") != std::string::npos) return "signature: " + name;
  size_t colon = msg.find(':');
  if (msg.rfind("BPF_", 0) == 0 && colon != std::string::npos) return msg.substr(0, colon) + ": " + name;
  return e.kind() + ": " + name;
}

class Engine {
 public:
  Engine(const Scenario& sc, const std::string& scheme, const SimOptions& options)
      : sc_(sc), scheme_(scheme), options_(options) {}

  RunResult run() {
    RunResult out;
    out.scenario = sc_.name;
    out.file = sc_.file;
    out.scheme = scheme_;
    const SchemeSpec* spec = find_scheme(scheme_);
    if (!spec) bad(Where{sc_.file, 0, 0, ""}, "unknown scheme '" + scheme_ + "'");
    out.kernel = sc_.kernel.empty() ? spec->profile : sc_.kernel;
    out.lsm = sc_.lsm.empty() ? spec->lsm : sc_.lsm;
    // A scenario that brings IPE policies but names no LSM order gets the
    // scheme's order with IPE last, so the same file asks IPE under every scheme.
    if (sc_.lsm.empty() && !sc_.policies.empty()) out.lsm += ",ipe";
    const ProfileSpec* profile = find_profile(out.kernel);
    if (!profile || !profile->make)
      bad(Where{sc_.file, 0, 0, "kernel"}, "kernel profile '" + out.kernel + "' is not built in yet", EOPNOTSUPP);
    kernel_ = std::make_unique<kmodel::Kernel>(profile->make());
    stack_ = make_stack(out.lsm);
    kernel_->set_lsm_stack(stack_);
    make_keyrings();
    for (size_t i = 0; i < sc_.steps.size(); ++i) out.steps.push_back(run_step(i));
    return out;
  }

 private:
  // ---- setup

  std::shared_ptr<lsm::LsmStack> make_stack(const std::string& lsm_list) {
    lsm::LsmRegistry registry;
    for (const auto& entry : lsm_table()) {
      if (!entry.make) continue;
      LsmContext ctx;
      if (auto it = sc_.lsm_options.find(entry.name); it != sc_.lsm_options.end()) ctx.options = it->second;
      if (auto it = sc_.policies.find(sc_.ipe_policy); it != sc_.policies.end()) ctx.ipe_policy_text = it->second;
      auto make = entry.make;
      registry[entry.name] = [make, ctx] { return make(ctx); };
    }
    std::stringstream ss(lsm_list);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty() && !registry.count(item))
        bad(Where{sc_.file, 0, 0, "lsm"}, "LSM '" + item + "' is not built in yet", EOPNOTSUPP);
    auto stack = std::make_shared<lsm::LsmStack>(lsm_list, registry);
    stack->make_replayable("sim");
    return stack;
  }

  kmodel::Process& process(const std::string& name) {
    auto it = procs_.find(name);
    if (it != procs_.end()) return *it->second;
    return *(procs_[name] = &kernel_->spawn(name));
  }

  void make_keyrings() {
    for (const auto& [name, ring] : sc_.keyrings) {
      const std::string& id = ring.id;
      int32_t value;
      if (id == "builtin") value = kmodel::kBuiltinKeyring;
      else if (id == "secondary") value = kmodel::kSecondaryKeyring;
      else if (id == "platform") value = kmodel::kPlatformKeyring;
      else if (id == "session") value = kmodel::kSessionKeyring;
      else if (id == "user") value = kmodel::kUserKeyring;
      else if (id == "bpf") value = kmodel::kBpfKeyring;
      else if (id == "own") value = kernel_->keyring_create(name);
      else {
        try {
          value = static_cast<int32_t>(std::stoll(id));
        } catch (const std::exception&) {
          bad(ring.where, "id '" + id + "' is not a number");
        }
      }
      keyring_ids_[name] = value;
    }
  }

  // Puts a new key's certificate into every keyring that lists it. A keyring
  // the profile lacks (`.bpf` outside loadtime, a made-up id) stays empty: the
  // load naming it then fails as the kernel would.
  void add_to_keyrings(const std::string& key_name, const Key& key) {
    Bytes der = crypto::certificate_der(key.cert.get());
    for (const auto& [name, ring] : sc_.keyrings) {
      if (std::find(ring.keys.begin(), ring.keys.end(), key_name) == ring.keys.end()) continue;
      int32_t id = keyring_ids_.at(name);
      // The secondary keyring falls back to the builtin one: keys given for it go there.
      if (id == kmodel::kSecondaryKeyring) id = kmodel::kBuiltinKeyring;
      try {
        kernel_->keyring_add_cert(process("main"), id, der);
      } catch (const Error&) {
      }
    }
  }

  // ---- argument access

  const Step* step_ = nullptr;

  const Arg* arg(const char* key) const {
    auto it = step_->args.find(key);
    return it == step_->args.end() ? nullptr : &it->second;
  }
  std::string str(const char* key, const std::string& fallback = "") const {
    const Arg* a = arg(key);
    return a ? std::get<std::string>(a->value) : fallback;
  }
  int64_t num(const char* key, int64_t fallback = 0) const {
    const Arg* a = arg(key);
    return a ? std::get<int64_t>(a->value) : fallback;
  }
  bool flag(const char* key, bool fallback) const {
    const Arg* a = arg(key);
    return a ? std::get<bool>(a->value) : fallback;
  }
  Where where(const char* key) const {
    const Arg* a = arg(key);
    return a ? a->where : step_->where;
  }

  template <class T>
  T& need(std::map<std::string, T>& table, const char* key, const std::string& what) {
    std::string name = str(key);
    auto it = table.find(name);
    if (it == table.end()) throw Skip{what + " '" + name + "' was not made (an earlier step failed)"};
    return it->second;
  }

  std::string relative_to_scenario(const std::string& path, const char* key) const {
    if (!options_.allow_files) bad(where(key), "file paths are not allowed here");
    if (!path.empty() && path[0] == '/') return path;
    size_t slash = sc_.file.rfind('/');
    return slash == std::string::npos ? path : sc_.file.substr(0, slash + 1) + path;
  }

  // ---- steps

  StepResult run_step(size_t index) {
    const Step& step = sc_.steps[index];
    step_ = &step;
    StepResult r;
    r.index = index + 1;
    r.kind = step.kind;
    r.label = step.label;
    for (const char* key : {"artifact", "map", "prog", "key"})
      if (const Arg* a = arg(key); a && r.target.empty()) r.target = std::get<std::string>(a->value);
    size_t before = stack_->audit_log().records().size();
    try {
      dispatch(r);
    } catch (const Skip& s) {
      r.ok = false;
      r.skipped = true;
      r.check = "skipped";
      r.message = s.why;
    } catch (const Error& e) {
      if (e.kind() == "scenario") throw;
      if (!model_step(step.kind)) bad(step.where, e.what(), e.err());
      r.ok = false;
      r.err = e.err();
      r.error_kind = e.kind();
      r.message = e.what();
      std::vector<lsm::AuditRecord> recs(stack_->audit_log().records().begin() + static_cast<long>(before),
                                         stack_->audit_log().records().end());
      r.check = classify(e, recs);
    }
    const auto& all = stack_->audit_log().records();
    for (size_t i = before; i < all.size(); ++i) {
      const auto& rec = all[i];
      // An LSM's own record (IPE's 1420 text) is audit, not a hook call: the
      // stack records that callback itself.
      if (!rec.lsm_text)
        r.hooks.push_back(HookCall{std::string(lsm::hook_name(rec.hook)), rec.lsm, verdict_of(rec),
                                   rec.allowed() ? "allow" : "deny", rec.err});
      r.audit.push_back(rec.to_audit_line());
      std::string v = verdict_of(rec);
      if (!v.empty() && std::find(r.verdicts.begin(), r.verdicts.end(), v) == r.verdicts.end()) r.verdicts.push_back(v);
    }
    if (r.ok) r.check = "none";
    auto by_scheme = step.expect_by_scheme.find(scheme_);
    if (by_scheme != step.expect_by_scheme.end()) r.expect = by_scheme->second;
    else r.expect = step.expect;
    check_expect(r);
    return r;
  }

  static bool model_step(const std::string& kind) {
    return kind != "keygen" && kind != "sign" && kind != "tamper" && kind != "ctx_rewrite";
  }

  void dispatch(StepResult& r) {
    const std::string& kind = step_->kind;
    if (kind == "keygen") return keygen();
    if (kind == "sign") return sign();
    if (kind == "tamper") return tamper();
    if (kind == "ctx_rewrite") return ctx_rewrite();
    if (kind == "map_create") return map_create();
    if (kind == "map_update") return map_update();
    if (kind == "map_freeze") {
      MapRef& m = need(maps_, "map", "map");
      return kernel_->map_freeze(process(m.process), m.fd);
    }
    if (kind == "map_hash") {
      MapRef& m = need(maps_, "map", "map");
      kernel_->map_get_hash(process(m.process), m.fd, static_cast<uint32_t>(num("hash_size", kmodel::kSha256Size)));
      return;
    }
    if (kind == "load") return load(r);
    if (kind == "run") return run(r);
    if (kind == "attach") return attach();
    if (kind == "swap") {
      MapRef& with = need(maps_, "with", "map");
      need(maps_, "map", "map") = with;
      return;
    }
    bad(step_->where, "unknown step kind " + kind);
  }

  void keygen() {
    std::string name = str("key");
    std::string algo = str("algo", "rsa");
    if (algo == "rsa") algo = "rsa2048";
    if (algo == "ec") algo = "p256";
    crypto::KeygenOptions opts;
    opts.algo = crypto::parse_key_algo(algo);
    opts.subject = str("subject", "CN=" + name);
    std::string base = "key" + std::to_string(keys_.size());
    crypto::keygen(opts, scratch_.file(base + ".pem"), scratch_.file(base + ".der"));
    Key key{crypto::load_private_key(scratch_.file(base + ".pem")), crypto::load_certificate(scratch_.file(base + ".der"))};
    add_to_keyrings(name, key);
    keys_[name] = std::move(key);
  }

  void sign() {
    std::string scheme = str("scheme", scheme_);
    const SchemeSpec* spec = find_scheme(scheme);
    if (!spec || !spec->sign) bad(where("scheme"), "scheme '" + scheme + "' is not built in yet", EOPNOTSUPP);
    SignRequest req;
    if (const Arg* a = arg("key")) {
      Key& key = keys_.at(std::get<std::string>(a->value));
      req.cert = key.cert.get();
      req.key = key.key.get();
    }
    req.layout = str("layout", "excl") == "6.18" ? skel::MatchLayout::k618 : skel::MatchLayout::kExcl;
    req.mismatch = str("mismatch", "cleanup") == "cleanup+1" ? skel::MismatchTarget::kCleanupPlusOne
                                                             : skel::MismatchTarget::kCleanup;
    req.ctx_overrides = flag("ctx_overrides", false);
    if (arg("bundle")) {
      req.base = skel::read_signed_file(relative_to_scenario(str("bundle"), "bundle"));
    } else {
      std::string object = str("object");
      bool is_path = object.find('/') != std::string::npos || object.ends_with(".o");
      req.object_path = is_path ? relative_to_scenario(object, "object")
                                : options_.examples_dir + "/" + object + ".bpf.o";
      if (!is_path && object.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
        bad(where("object"), "an example name is lower-case letters, digits, _ and -");
    }
    artifacts_[str("artifact")] = spec->sign(req);
  }

  Bytes& part_of(skel::SignedLoader& loader, const std::string& part) {
    if (part == "insns") return loader.insns;
    if (part == "data") return loader.data;
    if (part == "signature") return loader.signature;
    if (part == "excl_hash") return loader.excl_hash;
    return loader.signer_cert;  // "signer"
  }

  void tamper() {
    std::string part = str("part");
    Bytes& bytes = part_of(artifacts_.at(str("artifact")), part);
    if (arg("xor")) {
      size_t offset = static_cast<size_t>(num("offset"));
      if (offset >= bytes.size())
        bad(where("offset"), "offset " + std::to_string(offset) + " is past the " + part + " (" +
                                 std::to_string(bytes.size()) + " bytes)");
      bytes[offset] ^= static_cast<uint8_t>(num("xor"));
    } else if (arg("set")) {
      bytes = from_hex_arg(str("set"));
    } else if (arg("truncate")) {
      bytes.resize(std::min(bytes.size(), static_cast<size_t>(num("truncate"))));
    } else if (arg("append")) {
      bytes.resize(bytes.size() + static_cast<size_t>(num("append")), 0);
    } else if (arg("garbage")) {
      bytes = garbage(static_cast<size_t>(num("garbage")));
    } else {
      bytes = part_of(artifacts_.at(str("from")), part);
    }
  }

  // The host edits the light skeleton's ctx before the load: a map
  // descriptor's max_entries, or its initial_value pointer (to a value of
  // its own in the process's memory).
  void ctx_rewrite() {
    const std::string artifact = str("artifact"), map = str("map");
    const skel::SignedLoader& loader = artifacts_.at(artifact);
    auto it = std::find(loader.map_names.begin(), loader.map_names.end(), map);
    if (it == loader.map_names.end()) {
      std::string names;
      for (const auto& n : loader.map_names) names += (names.empty() ? "" : ", ") + n;
      bad(where("map"), "artifact '" + artifact + "' has no map '" + map + "' (its maps: " + names + ")");
    }
    const size_t index = static_cast<size_t>(it - loader.map_names.begin());
    CtxRewrite& c = ctx_rewrites_[artifact];
    if (arg("max_entries")) c.max_entries[index] = static_cast<uint32_t>(num("max_entries"));
    if (arg("value")) c.values[index] = from_hex_arg(str("value"));
  }

  // The ctx a load or run of artifact gets: its ctx_rewrite steps, each
  // rewritten value at an address of its own in the model's user memory.
  kmodel::SkeletonOptions ctx_options(const std::string& artifact) {
    static constexpr uint64_t kUserValues = 0x7f0000000000, kUserValueStride = 0x100000;
    kmodel::SkeletonOptions opts;
    auto it = ctx_rewrites_.find(artifact);
    if (it == ctx_rewrites_.end()) return opts;
    opts.max_entries = it->second.max_entries;
    for (const auto& [index, value] : it->second.values) {
      const uint64_t address = kUserValues + index * kUserValueStride;
      user_memory_.regions[address] = value;
      opts.initial_values[index] = address;
    }
    opts.user_memory = &user_memory_;
    return opts;
  }

  // Whether the maps a skeleton load created are what the signed metadata
  // says: max_entries, and the value at key 0 of every map it fills.
  void compare_with_signed(const skel::SignedLoader& loader, kmodel::Process& proc, const kmodel::SkeletonResult& res,
                           StepResult& r) {
    r.maps_as_signed = false;
    std::vector<skel::SignedMap> maps;
    try {
      maps = skel::signed_maps(loader);
    } catch (const Error& e) {
      r.maps_difference = e.what();
      return;
    }
    const uint8_t key[4] = {};
    for (size_t i = 0; i < maps.size() && i < res.maps.size(); ++i) {
      const skel::SignedMap& m = maps[i];
      if (res.maps[i].max_entries != m.max_entries) {
        r.maps_difference = "map '" + m.name + "': max_entries " + std::to_string(res.maps[i].max_entries) +
                            ", signed " + std::to_string(m.max_entries);
        return;
      }
      if (!m.has_initial_value) continue;
      Bytes value = kernel_->map_lookup(proc, res.map_fds[i], ByteView(key, 4));
      auto diff = std::mismatch(value.begin(), value.end(), m.initial_value.begin(), m.initial_value.end());
      if (diff.first != value.end() || diff.second != m.initial_value.end()) {
        r.maps_difference = "map '" + m.name + "': value differs from the signed one at offset " +
                            std::to_string(diff.first - value.begin());
        return;
      }
    }
    r.maps_as_signed = true;
  }

  void map_create() {
    kmodel::MapCreateAttr attr;
    if (arg("like")) {
      const skel::SignedLoader& loader = artifacts_.at(str("like"));
      attr.value_size = static_cast<uint32_t>(loader.data.size());
      attr.name = "__loader.map";
      if (flag("exclusive", true)) {
        attr.excl_prog_hash = loader.excl_hash;
        if (attr.excl_prog_hash.empty()) {
          crypto::Digest d = crypto::sha256(loader.insns);
          attr.excl_prog_hash.assign(d.begin(), d.end());
        }
      }
    } else {
      attr.name = map_name_for(str("map"));
    }
    if (arg("excl")) attr.excl_prog_hash = artifacts_.at(str("excl")).excl_hash;
    if (str("type", "array") == "hash") attr.type = kmodel::kMapHash;
    attr.key_size = static_cast<uint32_t>(num("key_size", attr.key_size));
    attr.value_size = static_cast<uint32_t>(num("value_size", attr.value_size));
    attr.max_entries = static_cast<uint32_t>(num("max_entries", attr.max_entries));
    std::string proc = str("process", "main");
    int fd = kernel_->map_create(process(proc), attr);
    maps_[str("map")] = MapRef{proc, fd};
  }

  void map_update() {
    MapRef& m = need(maps_, "map", "map");
    Bytes value = arg("from") ? artifacts_.at(str("from")).data : from_hex_arg(str("value"));
    if (arg("xor")) {
      size_t offset = static_cast<size_t>(num("offset"));
      if (offset >= value.size()) bad(where("offset"), "offset is past the value");
      value[offset] ^= static_cast<uint8_t>(num("xor"));
    }
    const uint8_t key[4] = {};
    kernel_->map_update(process(m.process), m.fd, ByteView(key, 4), value);
  }

  int32_t keyring_id() {
    if (!arg("keyring")) return kmodel::kBuiltinKeyring;
    return keyring_ids_.at(str("keyring"));
  }

  void load(StepResult& r) {
    const skel::SignedLoader& loader = artifacts_.at(str("artifact"));
    std::string proc = str("process", "main");
    if (!arg("map") && !arg("maps")) {
      kmodel::SkeletonOptions opts = ctx_options(str("artifact"));
      opts.send_signature = flag("signature", true);
      opts.keyring_id = keyring_id();
      kmodel::SkeletonResult res;
      try {
        res = kmodel::load_skeleton(*kernel_, process(proc), loader, opts);
      } catch (const Error& e) {
        // The loader ran and refused: keep its return value for `retval`.
        if (std::string(e.what()).find("loader returned") != std::string::npos) r.retval = -e.err();
        throw;
      }
      r.retval = res.loader_retval;
      r.maps = static_cast<int64_t>(res.maps.size());
      r.progs = static_cast<int64_t>(res.progs.size());
      compare_with_signed(loader, process(proc), res, r);
      for (size_t i = 0; i < res.prog_fds.size() && i < loader.prog_names.size(); ++i)
        created_[loader.prog_names[i]] = ProgRef{proc, res.prog_fds[i], str("artifact")};
      return;
    }
    std::vector<std::string> names =
        arg("map") ? std::vector<std::string>{str("map")} : std::get<std::vector<std::string>>(arg("maps")->value);
    kmodel::ProgLoadAttr attr;
    attr.prog_type = kmodel::kProgSyscall;
    attr.insns = loader.insns;
    attr.license = "Dual BSD/GPL";
    attr.prog_flags = kmodel::kFSleepable;
    attr.name = "__loader.prog";
    for (const auto& name : names) {
      auto it = maps_.find(name);
      if (it == maps_.end()) throw Skip{"map '" + name + "' was not made (an earlier step failed)"};
      attr.fd_array.push_back(it->second.fd);
    }
    bool folds = kernel_->profile().loadtime_signature;
    attr.fd_array_cnt = static_cast<uint32_t>(num("fd_array_cnt", folds ? static_cast<int64_t>(names.size()) : 0));
    if (flag("signature", true)) {
      attr.signature = loader.signature;
      attr.keyring_id = keyring_id();
      attr.signature_maps = loader.signature_maps;  // hash-chain: the maps its signature chains
    }
    int fd = kernel_->prog_load(process(proc), attr, flag("kernel", false));
    progs_[str("prog", "loader")] = ProgRef{proc, fd, str("artifact")};
  }

  void run(StepResult& r) {
    std::string name = str("prog", "loader");
    auto it = progs_.find(name);
    if (it == progs_.end()) throw Skip{"prog '" + name + "' was not loaded (an earlier step failed)"};
    const ProgRef& prog = it->second;
    const skel::SignedLoader& loader = artifacts_.at(arg("artifact") ? str("artifact") : prog.artifact);
    const kmodel::SkeletonOptions host = ctx_options(arg("artifact") ? str("artifact") : prog.artifact);
    Bytes ctx = kmodel::loader_ctx(loader, host);
    kmodel::Process& proc = process(prog.process);
    kmodel::ProgRunOptions run_options;
    run_options.user_memory = host.user_memory;
    int32_t retval = static_cast<int32_t>(kernel_->prog_run(proc, prog.fd, ctx, run_options).retval);
    r.retval = retval;
    if (retval < 0)
      throw Error(-retval, "load_skeleton", "loader returned " + std::to_string(retval) + " (" + errno_name(-retval) + ")");
    int64_t maps = 0, progs = 0;
    size_t offset = uapi::kLoaderCtxHeaderSize;
    for (size_t i = 0; i < loader.map_names.size(); ++i, offset += uapi::kMapDescSize)
      if (static_cast<int32_t>(load_le32(ctx.data() + offset)) > 0) ++maps;
    for (size_t i = 0; i < loader.prog_names.size(); ++i, offset += uapi::kProgDescSize) {
      int32_t fd = static_cast<int32_t>(load_le32(ctx.data() + offset));
      if (fd <= 0) continue;
      ++progs;
      created_[loader.prog_names[i]] = ProgRef{prog.process, fd, prog.artifact};
    }
    r.maps = maps;
    r.progs = progs;
  }

  // BPF_LINK_CREATE of a program a loader created (by its name in the
  // object), as an XDP link on the model's loopback device.
  void attach() {
    std::string name = str("prog");
    auto it = created_.find(name);
    if (it == created_.end()) throw Skip{"no program named '" + name + "' was created by an earlier load"};
    std::string mode = str("mode", "");
    uint32_t flags = 0;
    if (mode == "generic") flags = kmodel::kXdpFlagsSkbMode;
    else if (mode == "native") flags = kmodel::kXdpFlagsDrvMode;
    else if (!mode.empty()) bad(where("mode"), "mode must be generic or native, not '" + mode + "'");
    uint32_t ifindex = static_cast<uint32_t>(num("ifindex", kmodel::kLoopbackIfindex));
    kernel_->link_create(process(it->second.process), it->second.fd, kmodel::kAttachXdp, ifindex, flags);
  }

  // ---- expectations

  void check_expect(StepResult& r) const {
    std::string who = "step " + std::to_string(r.index) + " (" + r.kind + (r.target.empty() ? "" : " " + r.target) +
                      (r.label.empty() ? "" : " '" + r.label + "'") + ")";
    auto fail = [&](const std::string& what, const std::string& want, const std::string& got) {
      r.failures.push_back(who + ": expected " + what + " " + want + ", got " + got);
    };
    Expect e;
    if (r.expect) e = *r.expect;
    else e.ok = true;  // a step with no expectation must succeed
    std::string got_ok = r.ok ? "ok" : (r.skipped ? "skipped: " + r.message : "refused: " + r.message);
    if (e.ok && *e.ok != r.ok) fail("", *e.ok ? "ok" : "a refusal", got_ok);
    if (e.errno_name && *e.errno_name != errno_name(r.err)) fail("errno", *e.errno_name, errno_name(r.err) + " (" + got_ok + ")");
    if (e.check && *e.check != r.check) fail("check", "'" + *e.check + "'", "'" + r.check + "'");
    if (e.verdict) {
      bool none = *e.verdict == "NONE";
      bool seen = std::find(r.verdicts.begin(), r.verdicts.end(), *e.verdict) != r.verdicts.end();
      bool only_none = std::all_of(r.verdicts.begin(), r.verdicts.end(), [](const std::string& v) { return v == "NONE"; });
      if (!(seen || (none && only_none))) {
        std::string got;
        for (const auto& v : r.verdicts) got += (got.empty() ? "" : ",") + v;
        fail("verdict", *e.verdict, got.empty() ? "no program hook record" : got);
      }
    }
    if (e.denied_by) {
      std::string got = "none";
      for (const auto& h : r.hooks)
        if (h.err != 0) {
          got = e.denied_by->find('/') == std::string::npos ? h.hook : h.hook + "/" + h.lsm;
          break;
        }
      if (got != *e.denied_by) fail("denied_by", *e.denied_by, got);
    }
    for (const auto& needle : e.audit)
      if (std::none_of(r.audit.begin(), r.audit.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; }))
        fail("an audit record containing", "'" + needle + "'", std::to_string(r.audit.size()) + " records without it");
    if (e.audit_count && *e.audit_count != static_cast<int64_t>(r.audit.size()))
      fail("audit_count", std::to_string(*e.audit_count), std::to_string(r.audit.size()));
    auto count = [&](const char* what, const std::optional<int64_t>& want, const std::optional<int64_t>& got) {
      if (want && (!got || *got != *want)) fail(what, std::to_string(*want), got ? std::to_string(*got) : "none");
    };
    count("maps", e.maps, r.maps);
    count("progs", e.progs, r.progs);
    std::optional<int64_t> retval;
    if (r.retval) retval = *r.retval;
    count("retval", e.retval, retval);
    if (e.maps_as_signed && (!r.maps_as_signed || *r.maps_as_signed != *e.maps_as_signed))
      fail("maps_as_signed", *e.maps_as_signed ? "true" : "false",
           !r.maps_as_signed ? "none (not a skeleton load that succeeded)"
                             : std::string(*r.maps_as_signed ? "true" : "false") +
                                   (r.maps_difference.empty() ? "" : " (" + r.maps_difference + ")"));
  }

  const Scenario& sc_;
  std::string scheme_;
  SimOptions options_;
  ScratchDir scratch_;
  std::unique_ptr<kmodel::Kernel> kernel_;
  std::shared_ptr<lsm::LsmStack> stack_;
  std::map<std::string, kmodel::Process*> procs_;
  std::map<std::string, int32_t> keyring_ids_;
  std::map<std::string, Key> keys_;
  std::map<std::string, skel::SignedLoader> artifacts_;
  std::map<std::string, MapRef> maps_;
  std::map<std::string, ProgRef> progs_;
  std::map<std::string, ProgRef> created_;  // programs the loaders created, by their name in the object
  struct CtxRewrite {
    std::map<size_t, uint32_t> max_entries;  // map index -> max_entries in its descriptor
    std::map<size_t, Bytes> values;          // map index -> the value its initial_value points to
  };
  std::map<std::string, CtxRewrite> ctx_rewrites_;  // by artifact
  kmodel::UserMemory user_memory_;                  // the rewritten values, for bpf_copy_from_user
};

}  // namespace

RunResult run_scenario(const Scenario& scenario, const std::string& scheme, const SimOptions& options) {
  return Engine(scenario, scheme.empty() ? "loader-hash" : scheme, options).run();
}

std::vector<RunResult> run_all(const Scenario& scenario, const SimOptions& options) {
  std::vector<RunResult> runs;
  if (scenario.schemes.empty()) {
    runs.push_back(run_scenario(scenario, "loader-hash", options));
  } else {
    for (const auto& scheme : scenario.schemes) runs.push_back(run_scenario(scenario, scheme, options));
  }
  return runs;
}

}  // namespace bpfsig::sim
