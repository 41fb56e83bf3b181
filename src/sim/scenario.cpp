// SPDX-License-Identifier: Apache-2.0
// Scenario files: TOML through toml++, checked against the step schemas below
// so that every mistake is reported with its file, line, column and key
// before anything runs. Names (keys, artifacts, maps, programs, keyrings) are
// checked here too: a step may only use a name an earlier step made.
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <set>
#include <sstream>

#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/sim.h"

namespace bpfsig::sim {

std::string to_string(const Where& where) {
  std::string out = where.file;
  if (where.line > 0) out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  if (!where.key.empty()) out += ": " + where.key;
  return out;
}

bool Expect::empty() const {
  return !ok && !errno_name && !verdict && !denied_by && !check && audit.empty() && !audit_count && !maps && !progs &&
         !retval && !maps_as_signed;
}

namespace {

[[noreturn]] void bad(const Where& where, const std::string& why, int err = EINVAL) {
  throw Error(err, "scenario", to_string(where) + ": " + why);
}

Where where_of(const std::string& file, const toml::source_region& region, std::string key) {
  return Where{file, static_cast<int64_t>(region.begin.line), static_cast<int64_t>(region.begin.column),
               std::move(key)};
}

enum class Type { kStr, kInt, kBool, kStrList };

struct KeySpec {
  const char* key;
  Type type;
};

// The keys each step kind takes, besides kind, name and expect.
const std::map<std::string, std::vector<KeySpec>>& step_schemas() {
  static const std::map<std::string, std::vector<KeySpec>> schemas = {
      {"keygen", {{"key", Type::kStr}, {"algo", Type::kStr}, {"subject", Type::kStr}}},
      {"sign",
       {{"artifact", Type::kStr}, {"object", Type::kStr}, {"bundle", Type::kStr}, {"scheme", Type::kStr},
        {"key", Type::kStr}, {"layout", Type::kStr}, {"mismatch", Type::kStr}, {"ctx_overrides", Type::kBool}}},
      {"tamper",
       {{"artifact", Type::kStr}, {"part", Type::kStr}, {"offset", Type::kInt}, {"xor", Type::kInt},
        {"set", Type::kStr}, {"truncate", Type::kInt}, {"append", Type::kInt}, {"garbage", Type::kInt},
        {"from", Type::kStr}}},
      {"ctx_rewrite",
       {{"artifact", Type::kStr}, {"map", Type::kStr}, {"max_entries", Type::kInt}, {"value", Type::kStr}}},
      {"map_create",
       {{"map", Type::kStr}, {"process", Type::kStr}, {"like", Type::kStr}, {"exclusive", Type::kBool},
        {"excl", Type::kStr}, {"type", Type::kStr}, {"key_size", Type::kInt}, {"value_size", Type::kInt},
        {"max_entries", Type::kInt}}},
      {"map_update",
       {{"map", Type::kStr}, {"process", Type::kStr}, {"from", Type::kStr}, {"value", Type::kStr},
        {"offset", Type::kInt}, {"xor", Type::kInt}}},
      {"map_freeze", {{"map", Type::kStr}, {"process", Type::kStr}}},
      {"map_hash", {{"map", Type::kStr}, {"process", Type::kStr}, {"hash_size", Type::kInt}}},
      {"load",
       {{"artifact", Type::kStr}, {"process", Type::kStr}, {"keyring", Type::kStr}, {"signature", Type::kBool},
        {"map", Type::kStr}, {"maps", Type::kStrList}, {"prog", Type::kStr}, {"kernel", Type::kBool},
        {"fd_array_cnt", Type::kInt}}},
      {"run", {{"prog", Type::kStr}, {"process", Type::kStr}, {"artifact", Type::kStr}}},
      {"swap", {{"map", Type::kStr}, {"with", Type::kStr}, {"process", Type::kStr}}},
      {"attach", {{"prog", Type::kStr}, {"ifindex", Type::kInt}, {"mode", Type::kStr}}},
  };
  return schemas;
}

const std::map<std::string, std::vector<std::string>>& required_keys() {
  static const std::map<std::string, std::vector<std::string>> required = {
      {"keygen", {"key"}},        {"sign", {"artifact"}},    {"tamper", {"artifact", "part"}},
      {"ctx_rewrite", {"artifact", "map"}},
      {"map_create", {"map"}},    {"map_update", {"map"}},   {"map_freeze", {"map"}},
      {"map_hash", {"map"}},      {"load", {"artifact"}},    {"run", {}},
      {"swap", {"map", "with"}},       {"attach", {"prog"}},
  };
  return required;
}

const std::set<std::string> kVerdicts = {"NONE",       "OK",         "UNSIGNED", "PARTIALSIG",
                                         "UNKNOWNKEY", "UNEXPECTED", "FAULT",    "BADSIG"};

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable() in
// is_non_ascii_horizontal_whitespace() for some non-ASCII code points
// (marzer/tomlplusplus#190, #295; fixed upstream in 2026): undefined behaviour
// on input. Those code points, and malformed UTF-8, are refused before toml++
// sees the text. In a string they can be written as \uXXXX escapes.
bool tomlpp_mishandles(uint32_t c) {
  if (c < 0xA0 || c > 0xFEFF) return false;
  uint64_t child = (static_cast<uint64_t>(c) - 0xA0) / 0x3FA;
  if ((1ull << child) & 0x7FFFFFFFFFFFF75Eull) return false;  // toml++ answers "not whitespace"
  if (c == 0xA0 || c == 0x3000 || c == 0xFEFF) return false;
  return child != 5 && child != 7;  // the switch handles these; 0 and 11 fall to its default
}

void check_utf8(std::string_view text, const std::string& file) {
  int64_t line = 1, column = 1;
  for (size_t i = 0; i < text.size(); ++column) {
    auto byte = static_cast<uint8_t>(text[i]);
    if (byte < 0x80) {
      if (byte == '\n') {
        ++line;
        column = 0;
      }
      ++i;
      continue;
    }
    size_t len = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 0;
    uint32_t c = len == 4 ? byte & 0x07u : len == 3 ? byte & 0x0Fu : byte & 0x1Fu;
    bool ok = len != 0 && byte < 0xF5 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      auto cont = static_cast<uint8_t>(text[i + k]);
      ok = (cont & 0xC0) == 0x80;
      c = (c << 6) | (cont & 0x3Fu);
    }
    Where where{file, line, column, ""};
    if (!ok) bad(where, "invalid UTF-8", EBADMSG);
    if (tomlpp_mishandles(c)) {
      char hex[16];
      snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(c));
      bad(where, std::string("character ") + hex + " is refused (the TOML parser mishandles it); in a string write it as a \\u escape",
          EBADMSG);
    }
    i += len;
  }
}

class Parser {
 public:
  Parser(std::string file, bool allow_files) : file_(std::move(file)), allow_files_(allow_files) {}

  Scenario parse(std::string_view text) {
    if (text.size() > kMaxScenarioBytes)
      bad(Where{file_, 0, 0, ""}, "file is " + std::to_string(text.size()) + " bytes, over the limit of " +
                            std::to_string(kMaxScenarioBytes),
          EFBIG);
    check_utf8(text, file_);
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      bad(where_of(file_, e.source(), ""), "TOML syntax: " + std::string(e.description()), EBADMSG);
    }
    Scenario s;
    s.file = file_;
    parse_top(root, s);
    return s;
  }

 private:
  Where at(const toml::node& node, const std::string& key) const { return where_of(file_, node.source(), key); }

  std::string get_str(const toml::node& node, const std::string& key) const {
    auto v = node.value<std::string>();
    if (!node.is_string() || !v) bad(at(node, key), "must be a string");
    return *v;
  }
  int64_t get_int(const toml::node& node, const std::string& key) const {
    if (!node.is_integer()) bad(at(node, key), "must be an integer");
    return *node.value<int64_t>();
  }
  bool get_bool(const toml::node& node, const std::string& key) const {
    if (!node.is_boolean()) bad(at(node, key), "must be true or false");
    return *node.value<bool>();
  }
  std::vector<std::string> get_str_list(const toml::node& node, const std::string& key) const {
    const toml::array* arr = node.as_array();
    if (!arr) bad(at(node, key), "must be an array of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < arr->size(); ++i) out.push_back(get_str((*arr)[i], key + "[" + std::to_string(i) + "]"));
    return out;
  }
  const toml::table& get_table(const toml::node& node, const std::string& key) const {
    const toml::table* t = node.as_table();
    if (!t) bad(at(node, key), "must be a table");
    return *t;
  }

  void parse_top(const toml::table& root, Scenario& s) {
    const toml::node* steps = nullptr;
    for (const auto& [k, node] : root) {
      std::string key(k.str());
      if (key == "name") {
        s.name = get_str(node, key);
      } else if (key == "description") {
        s.description = get_str(node, key);
      } else if (key == "kernel") {
        s.kernel = get_str(node, key);
        if (!find_profile(s.kernel)) bad(at(node, key), "unknown kernel profile '" + s.kernel + "'");
      } else if (key == "lsm") {
        s.lsm = get_str(node, key);
        check_lsm_list(s.lsm, at(node, key));
      } else if (key == "scheme" || key == "schemes") {
        std::vector<std::string> list =
            node.is_string() ? std::vector<std::string>{get_str(node, key)} : get_str_list(node, key);
        for (const auto& name : list)
          if (!find_scheme(name)) bad(at(node, key), "unknown scheme '" + name + "'");
        if (list.empty()) bad(at(node, key), "lists no scheme");
        s.schemes = list;
      } else if (key == "keyrings") {
        parse_keyrings(get_table(node, key), s);
      } else if (key == "policies") {
        parse_policies(get_table(node, key), s);
      } else if (key == "ipe_policy") {
        s.ipe_policy = get_str(node, key);
      } else if (key == "lsm_options") {
        parse_lsm_options(get_table(node, key), s);
      } else if (key == "steps") {
        steps = &node;
      } else {
        bad(where_of(file_, k.source(), key), "unknown key");
      }
    }
    if (s.name.empty()) bad(Where{file_, 1, 1, "name"}, "missing (every scenario has a name)");
    if (!s.ipe_policy.empty() && !s.policies.count(s.ipe_policy))
      bad(at(*root.get("ipe_policy"), "ipe_policy"), "no policy named '" + s.ipe_policy + "'");
    if (!steps) bad(Where{file_, 1, 1, "steps"}, "missing (a scenario has at least one [[steps]])");
    parse_steps(*steps, s);
  }

  void check_lsm_list(const std::string& list, const Where& where) const {
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty() && !find_lsm(item)) bad(where, "unknown LSM '" + item + "'");
  }

  void parse_keyrings(const toml::table& table, Scenario& s) {
    for (const auto& [k, node] : table) {
      std::string name(k.str());
      std::string base = "keyrings." + name;
      KeyringSpec ring{name, at(node, base), "", {}};
      for (const auto& [fk, field] : get_table(node, base)) {
        std::string key = base + "." + std::string(fk.str());
        if (fk.str() == "id") {
          ring.id = field.is_integer() ? std::to_string(get_int(field, key)) : get_str(field, key);
          static const std::set<std::string> named = {"builtin", "secondary", "platform", "session",
                                                      "user",    "bpf",       "own"};
          bool numeric = !ring.id.empty() && ring.id.find_first_not_of("-0123456789") == std::string::npos;
          if (!named.count(ring.id) && !numeric)
            bad(at(field, key), "must be builtin, secondary, platform, session, user, bpf, own or a number");
        } else if (fk.str() == "keys") {
          ring.keys = get_str_list(field, key);
        } else {
          bad(where_of(file_, fk.source(), key), "unknown key");
        }
      }
      if (ring.id.empty()) bad(ring.where, "missing id");
      s.keyrings[name] = ring;
    }
  }

  void parse_policies(const toml::table& table, Scenario& s) {
    for (const auto& [k, node] : table) {
      std::string name(k.str());
      std::string base = "policies." + name;
      std::optional<std::string> text;
      for (const auto& [fk, field] : get_table(node, base)) {
        std::string key = base + "." + std::string(fk.str());
        if (fk.str() == "text") {
          text = get_str(field, key);
        } else if (fk.str() == "file") {
          text = read_policy_file(get_str(field, key), at(field, key));
        } else {
          bad(where_of(file_, fk.source(), key), "unknown key");
        }
      }
      if (!text) bad(at(node, base), "needs text or file");
      s.policies[name] = *text;
      if (s.ipe_policy.empty()) s.ipe_policy = name;
    }
  }

  std::string read_policy_file(const std::string& path, const Where& where) const {
    if (!allow_files_) bad(where, "policy files are not allowed here");
    std::string full = path;
    if (!path.empty() && path[0] != '/') {
      size_t slash = file_.rfind('/');
      if (slash != std::string::npos) full = file_.substr(0, slash + 1) + path;
    }
    // The one input reader (only regular files: a FIFO or a device could block
    // or never end); its error becomes this line's.
    try {
      return InputFile(full).read_all_text(kMaxScenarioBytes);
    } catch (const Error& e) {
      bad(where, std::string("cannot read policy file: ") + e.what(), e.err());
    }
  }

  void parse_lsm_options(const toml::table& table, Scenario& s) {
    for (const auto& [k, node] : table) {
      std::string name(k.str());
      std::string base = "lsm_options." + name;
      if (!find_lsm(name)) bad(at(node, base), "unknown LSM '" + name + "'");
      auto& options = s.lsm_options[name];
      for (const auto& [fk, field] : get_table(node, base)) {
        std::string key = base + "." + std::string(fk.str());
        if (field.is_boolean()) {
          options[std::string(fk.str())] = get_bool(field, key);
        } else if (field.is_integer()) {
          options[std::string(fk.str())] = get_int(field, key);
        } else if (field.is_string()) {
          options[std::string(fk.str())] = get_str(field, key);
        } else {
          bad(at(field, key), "must be a string, integer or boolean");
        }
      }
    }
  }

  // ---- steps

  // Names made so far, by kind of name, for the "made by an earlier step" checks.
  std::map<std::string, std::set<std::string>> made_;

  void need(const std::string& what, const Arg& arg, const std::string& name) const {
    auto it = made_.find(what);
    if (it == made_.end() || !it->second.count(name))
      bad(arg.where, "no " + what + " named '" + name + "' was made by an earlier step");
  }

  void parse_steps(const toml::node& node, Scenario& s) {
    const toml::array* arr = node.as_array();
    if (!arr) bad(at(node, "steps"), "must be an array of tables ([[steps]])");
    if (arr->size() > kMaxSteps)
      bad(at(node, "steps"), std::to_string(arr->size()) + " steps, over the limit of " + std::to_string(kMaxSteps),
          E2BIG);
    if (arr->empty()) bad(at(node, "steps"), "is empty");
    // keygen names anywhere, for the keyrings' keys lists.
    std::set<std::string> all_keys;
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string base = "steps[" + std::to_string(i + 1) + "]";
      s.steps.push_back(parse_step((*arr)[i], base));
      if (s.steps.back().kind == "keygen") all_keys.insert(std::get<std::string>(s.steps.back().args.at("key").value));
    }
    for (const auto& [name, ring] : s.keyrings)
      for (const auto& key : ring.keys)
        if (!all_keys.count(key)) bad(ring.where, "keys: no keygen step makes '" + key + "'");
    for (auto& step : s.steps) check_names(step, s);
  }

  Step parse_step(const toml::node& node, const std::string& base) {
    const toml::table& table = get_table(node, base);
    Step step;
    step.where = at(node, base);
    const toml::node* kind = table.get("kind");
    if (!kind) bad(step.where, "missing kind");
    step.kind = get_str(*kind, base + ".kind");
    auto schema = step_schemas().find(step.kind);
    if (schema == step_schemas().end())
      bad(at(*kind, base + ".kind"),
          "unknown step kind '" + step.kind +
              "' (keygen, sign, tamper, map_create, map_update, map_freeze, map_hash, load, run, swap)");
    for (const auto& [k, field] : table) {
      std::string name(k.str());
      std::string key = base + "." + name;
      if (name == "kind") continue;
      if (name == "name") {
        step.label = get_str(field, key);
        continue;
      }
      if (name == "expect") {
        parse_expects(field, key, step);
        continue;
      }
      auto spec = std::find_if(schema->second.begin(), schema->second.end(),
                               [&](const KeySpec& ks) { return name == ks.key; });
      if (spec == schema->second.end())
        bad(where_of(file_, k.source(), key), "unknown key for a " + step.kind + " step");
      Arg arg;
      arg.where = at(field, key);
      switch (spec->type) {
        case Type::kStr: arg.value = get_str(field, key); break;
        case Type::kInt: {
          int64_t v = get_int(field, key);
          if (v < 0 || v > kMaxScenarioBlob)
            bad(arg.where, "must be between 0 and " + std::to_string(kMaxScenarioBlob));
          arg.value = v;
          break;
        }
        case Type::kBool: arg.value = get_bool(field, key); break;
        case Type::kStrList: arg.value = get_str_list(field, key); break;
      }
      step.args[name] = arg;
    }
    for (const auto& req : required_keys().at(step.kind))
      if (!step.args.count(req)) bad(step.where, "a " + step.kind + " step needs " + req);
    check_values(step);
    return step;
  }

  const std::string& str(const Step& step, const char* key) const {
    return std::get<std::string>(step.args.at(key).value);
  }

  void one_of(const Step& step, const char* key, const std::set<std::string>& allowed) const {
    auto it = step.args.find(key);
    if (it == step.args.end()) return;
    const std::string& v = std::get<std::string>(it->second.value);
    if (!allowed.count(v)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      bad(it->second.where, "'" + v + "' is not one of " + list);
    }
  }

  // Values that can be checked without running anything.
  void check_values(const Step& step) const {
    one_of(step, "algo", {"rsa", "ec", "rsa2048", "rsa3072", "rsa4096", "p256", "p384"});
    one_of(step, "part", {"insns", "data", "signature", "excl_hash", "signer"});
    one_of(step, "layout", {"excl", "6.18"});
    one_of(step, "mismatch", {"cleanup", "cleanup+1"});
    one_of(step, "type", {"array", "hash"});
    if (auto it = step.args.find("scheme"); it != step.args.end()) {
      const std::string& v = std::get<std::string>(it->second.value);
      if (!find_scheme(v)) bad(it->second.where, "unknown scheme '" + v + "'");
    }
    if (auto it = step.args.find("xor"); it != step.args.end()) {
      int64_t v = std::get<int64_t>(it->second.value);
      if (v < 1 || v > 255) bad(it->second.where, "must be between 1 and 255");
    }
    for (const char* key : {"set", "value"})
      if (auto it = step.args.find(key); it != step.args.end()) {
        const std::string& v = std::get<std::string>(it->second.value);
        if (v.size() % 2 || v.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          bad(it->second.where, "must be hex digits, two per byte");
      }
    if (step.kind == "tamper") {
      int ops = 0;
      for (const char* op : {"xor", "set", "truncate", "append", "garbage", "from"}) ops += step.args.count(op);
      if (ops != 1) bad(step.where, "a tamper step takes exactly one of xor, set, truncate, append, garbage, from");
      if (step.args.count("offset") && !step.args.count("xor")) bad(step.args.at("offset").where, "only with xor");
    }
    if (step.kind == "sign") {
      if (step.args.count("object") == step.args.count("bundle"))
        bad(step.where, "a sign step takes exactly one of object, bundle");
      if (step.args.count("object") && !step.args.count("key")) bad(step.where, "signing an object needs a key");
    }
    if (step.kind == "map_update" && step.args.count("from") == step.args.count("value"))
      bad(step.where, "a map_update step takes exactly one of from, value");
    if (step.kind == "map_update" && step.args.count("offset") && !step.args.count("xor"))
      bad(step.args.at("offset").where, "only with xor");
    if (step.kind == "ctx_rewrite" && !step.args.count("max_entries") && !step.args.count("value"))
      bad(step.where, "a ctx_rewrite step takes max_entries, value or both");
    if (auto it = step.args.find("max_entries"); step.kind == "ctx_rewrite" && it != step.args.end()) {
      int64_t v = std::get<int64_t>(it->second.value);
      if (v < 1 || v > 0xffffffffll) bad(it->second.where, "must be between 1 and 4294967295 (0 leaves the signed one)");
    }
    if (step.kind == "load" && step.args.count("map") && step.args.count("maps"))
      bad(step.where, "a load step takes map or maps, not both");
  }

  void check_names(const Step& step, const Scenario& s) {
    auto arg = [&](const char* key) -> const Arg* {
      auto it = step.args.find(key);
      return it == step.args.end() ? nullptr : &it->second;
    };
    auto name_of = [](const Arg* a) { return std::get<std::string>(a->value); };
    const std::string& kind = step.kind;
    if (kind == "keygen") made_["key"].insert(name_of(arg("key")));
    if (kind == "sign") {
      if (const Arg* a = arg("key")) need("key", *a, name_of(a));
      made_["artifact"].insert(name_of(arg("artifact")));
    }
    if (kind == "tamper" || kind == "load" || kind == "ctx_rewrite" || (kind == "run" && arg("artifact")))
      need("artifact", *arg("artifact"), name_of(arg("artifact")));
    if (kind == "tamper" && arg("from")) need("artifact", *arg("from"), name_of(arg("from")));
    if (kind == "map_create") {
      for (const char* key : {"like", "excl"})
        if (const Arg* a = arg(key)) need("artifact", *a, name_of(a));
      if (!arg("like") && !arg("value_size")) bad(step.where, "a map_create step needs like or value_size");
      made_["map"].insert(name_of(arg("map")));
    }
    if (kind == "map_update" && arg("from")) need("artifact", *arg("from"), name_of(arg("from")));
    if (kind == "map_update" || kind == "map_freeze" || kind == "map_hash" || kind == "swap")
      need("map", *arg("map"), name_of(arg("map")));
    if (kind == "swap") need("map", *arg("with"), name_of(arg("with")));
    if (kind == "load") {
      if (const Arg* a = arg("map")) need("map", *a, name_of(a));
      if (const Arg* a = arg("maps"))
        for (const auto& m : std::get<std::vector<std::string>>(a->value)) need("map", *a, m);
      if (const Arg* a = arg("keyring"); a && !s.keyrings.count(name_of(a)))
        bad(a->where, "no keyring named '" + name_of(a) + "' in [keyrings]");
      made_["prog"].insert(arg("prog") ? name_of(arg("prog")) : std::string("loader"));
    }
    if (kind == "run") {
      std::string prog = arg("prog") ? name_of(arg("prog")) : std::string("loader");
      if (!made_["prog"].count(prog))
        bad(arg("prog") ? arg("prog")->where : step.where, "no prog named '" + prog + "' was made by an earlier load");
    }
  }

  void parse_expects(const toml::node& node, const std::string& key, Step& step) {
    const toml::table& table = get_table(node, key);
    Expect base = parse_expect(table, key, at(node, key), &step);
    if (!base.empty() || step.expect_by_scheme.empty()) step.expect = base;
  }

  Expect parse_expect(const toml::table& table, const std::string& base, const Where& where, Step* step) {
    Expect e;
    e.where = where;
    for (const auto& [k, field] : table) {
      std::string name(k.str());
      std::string key = base + "." + name;
      if (name == "ok") {
        e.ok = get_bool(field, key);
      } else if (name == "errno") {
        e.errno_name = field.is_integer() ? std::to_string(get_int(field, key)) : get_str(field, key);
      } else if (name == "verdict") {
        e.verdict = get_str(field, key);
        if (!kVerdicts.count(*e.verdict)) bad(at(field, key), "unknown verdict '" + *e.verdict + "'");
      } else if (name == "denied_by") {
        e.denied_by = get_str(field, key);
      } else if (name == "check") {
        e.check = get_str(field, key);
      } else if (name == "audit") {
        e.audit = field.is_string() ? std::vector<std::string>{get_str(field, key)} : get_str_list(field, key);
      } else if (name == "maps_as_signed") {
        e.maps_as_signed = get_bool(field, key);
      } else if (name == "audit_count" || name == "maps" || name == "progs" || name == "retval") {
        int64_t v = get_int(field, key);
        if (name == "audit_count") e.audit_count = v;
        if (name == "maps") e.maps = v;
        if (name == "progs") e.progs = v;
        if (name == "retval") e.retval = v;
      } else if (step && field.is_table() && find_scheme(name)) {
        step->expect_by_scheme[name] = parse_expect(*field.as_table(), key, at(field, key), nullptr);
      } else if (step && field.is_table()) {
        bad(where_of(file_, k.source(), key), "unknown scheme '" + name + "'");
      } else {
        bad(where_of(file_, k.source(), key), "unknown expectation");
      }
    }
    return e;
  }

  std::string file_;
  bool allow_files_ = true;
};

}  // namespace

Scenario parse_scenario(std::string_view text, const std::string& file, bool allow_files) {
  return Parser(file, allow_files).parse(text);
}

Scenario load_scenario(const std::string& path) {
  // The one input reader: a missing file is ENOENT, a directory EISDIR, a
  // FIFO or device EINVAL, "-" standard input; an oversized file is refused
  // before it is read.
  InputFile in(path);
  return parse_scenario(in.read_all_text(kMaxScenarioBytes), in.name());
}

}  // namespace bpfsig::sim
