// SPDX-License-Identifier: Apache-2.0
// bpfsig policy: check an IPE policy, and evaluate an event against one.
#include <cerrno>
#include <iostream>
#include <memory>
#include <optional>

#include "bpfsig/enforce.h"
#include "bpfsig/error.h"
#include "bpfsig/ipe.h"
#include "cli/cli.h"

namespace bpfsig::cli {

namespace {

struct CheckArgs {
  std::string file;
  bool strict = false, canonical = false, enforcer = false;
};

struct EvalArgs {
  std::string policy, event, manifest;
  bool permissive = false, success_audit = false;
};

Json policy_summary(const std::string& file, const ipe::Policy& p) {
  Json op_defaults = Json::object(), per_op = Json::object(), rules = Json::array();
  for (size_t i = 0; i < ipe::kOpCount; ++i) {
    auto op = static_cast<ipe::Op>(i);
    if (p.op_defaults[i]) op_defaults[std::string(ipe::op_name(op))] = ipe::action_name(*p.op_defaults[i]);
    per_op[std::string(ipe::op_name(op))] = p.rules[i].size();
    for (const auto& r : p.rules[i]) rules.push_back(Json{{"line", r.line}, {"op", ipe::op_name(r.op)}, {"text", r.to_text()}});
  }
  Json warnings = Json::array();
  for (const auto& w : ipe::policy_warnings(p)) warnings.push_back(w);
  return Json{{"ok", true},
              {"file", file},
              {"name", p.name},
              {"version", p.version.to_string()},
              {"global_default", p.global_default ? Json(ipe::action_name(*p.global_default)) : Json(nullptr)},
              {"op_defaults", op_defaults},
              {"rule_count", p.rule_count()},
              {"rules_per_op", per_op},
              {"rules", rules},
              {"warnings", warnings},
              {"canonical", p.render()}};
}

void run_check(const CheckArgs& a, const Common& common, const CLI::App& cmd) {
  // The JSON object always has the canonical text ("canonical"); --canonical
  // would be ignored.
  refuse_unless_applies(cmd, "--canonical", !common.json, "and -j are two outputs: the JSON has \"canonical\"");
  ipe::ParseOptions options;
  options.source = a.file;
  options.strict = a.strict;
  const std::string text = read_text_file(a.file);
  ipe::Policy p = ipe::parse_policy(text, options);
  // --enforcer: what `bpfsig enforce start` would refuse is an error here too.
  std::optional<enforce::CompiledPolicy> compiled;
  if (a.enforcer) compiled = enforce::compile_policy(text, enforce::Mode::kEnforce, a.file);
  if (common.json) {
    Json j = policy_summary(a.file, p);
    if (compiled) j["enforcer_rules"] = compiled->rules.size();
    print_json(common, j);
    return;
  }
  if (a.canonical) {
    std::cout << p.render();
    return;
  }
  std::cout << a.file << ": OK\n"
            << "name: " << p.name << "\n"
            << "version: " << p.version.to_string() << "\n"
            << "global default: " << (p.global_default ? std::string(ipe::action_name(*p.global_default)) : "none")
            << "\n";
  std::string defaults;
  for (size_t i = 0; i < ipe::kOpCount; ++i) {
    if (!p.op_defaults[i]) continue;
    defaults += (defaults.empty() ? "" : ", ") + std::string(ipe::op_name(static_cast<ipe::Op>(i))) + "=" +
                std::string(ipe::action_name(*p.op_defaults[i]));
  }
  std::cout << "op defaults: " << (defaults.empty() ? "none" : defaults) << "\n";
  std::string counts;
  for (size_t i = 0; i < ipe::kOpCount; ++i) {
    if (p.rules[i].empty()) continue;
    counts += (counts.empty() ? " (" : ", ") + std::string(ipe::op_name(static_cast<ipe::Op>(i))) + " " +
              std::to_string(p.rules[i].size());
  }
  std::cout << "rules: " << p.rule_count() << (counts.empty() ? "" : counts + ")") << "\n";
  for (const auto& w : ipe::policy_warnings(p)) std::cout << "warning: " << w << "\n";
  if (compiled) std::cout << "enforcer: OK, " << compiled->rules.size() << " BPF_PROG_LOAD rules\n";
}

// ---- events ---------------------------------------------------------------------------------

[[noreturn]] void bad_event(const std::string& source, const std::string& what) {
  throw Error(EINVAL, "ipe_event", source + ": " + what);
}

ipe::EvalHook default_hook(ipe::Op op, bool has_file) {
  switch (op) {
    case ipe::Op::kExecute: return ipe::EvalHook::kBprmCheck;
    case ipe::Op::kBpfProgLoad: return ipe::EvalHook::kBpfProgLoad;
    default: return has_file ? ipe::EvalHook::kKernelRead : ipe::EvalHook::kKernelLoad;
  }
}

const Json& field(const Json& j, const char* key, Json::value_t type, const std::string& source) {
  const Json& v = j.at(key);
  bool ok = v.type() == type || (type == Json::value_t::number_integer && v.is_number_unsigned());
  if (!ok) bad_event(source, std::string("\"") + key + "\" has the wrong type");
  return v;
}

std::optional<ipe::Digest> parse_event_digest(const Json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  std::string text = field(j, key, Json::value_t::string, source).get<std::string>();
  size_t colon = text.find(':');
  if (colon == std::string::npos) bad_event(source, std::string("\"") + key + "\" is not ALG:HEX");
  ipe::Digest d;
  d.alg = text.substr(0, colon);
  try {
    d.value = from_hex(text.substr(colon + 1));
  } catch (const Error&) {
    bad_event(source, std::string("\"") + key + "\" is not ALG:HEX");
  }
  return d;
}

void check_keys(const Json& j, std::initializer_list<std::string_view> known, const std::string& source,
                const std::string& where) {
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (auto k : known) ok = ok || key == k;
    if (!ok) bad_event(source, "unknown field \"" + key + "\"" + where);
  }
}

ipe::FileInfo parse_file(const Json& j, const std::string& source) {
  if (!j.is_object()) bad_event(source, "\"file\" is not an object");
  check_keys(j, {"path", "dev", "ino", "boot_verified", "dmverity_roothash", "dmverity_signature", "fsverity_digest",
                 "fsverity_signature"},
             source, " in \"file\"");
  ipe::FileInfo f;
  if (j.contains("path")) f.path = field(j, "path", Json::value_t::string, source).get<std::string>();
  if (j.contains("dev")) f.dev = field(j, "dev", Json::value_t::string, source).get<std::string>();
  if (j.contains("ino")) {
    if (!j.at("ino").is_number_unsigned()) bad_event(source, "\"ino\" is not a non-negative integer");
    f.ino = j.at("ino").get<uint64_t>();
  }
  if (j.contains("boot_verified")) f.from_initramfs = field(j, "boot_verified", Json::value_t::boolean, source).get<bool>();
  f.dmverity_roothash = parse_event_digest(j, "dmverity_roothash", source);
  if (j.contains("dmverity_signature"))
    f.dmverity_signed = field(j, "dmverity_signature", Json::value_t::boolean, source).get<bool>();
  f.fsverity_digest = parse_event_digest(j, "fsverity_digest", source);
  if (j.contains("fsverity_signature"))
    f.fsverity_signed = field(j, "fsverity_signature", Json::value_t::boolean, source).get<bool>();
  return f;
}

int32_t int32_field(const Json& j, const char* key, const std::string& source) {
  const Json& v = j.at(key);
  if (!v.is_number_integer()) bad_event(source, std::string("\"") + key + "\" is not an integer");
  int64_t n = v.get<int64_t>();
  if (v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX) bad_event(source, std::string("\"") + key + "\" is out of range");
  if (n < INT32_MIN || n > INT32_MAX) bad_event(source, std::string("\"") + key + "\" is out of range");
  return static_cast<int32_t>(n);
}

ipe::Event parse_event(const std::string& text, const std::string& source) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    bad_event(source, std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) bad_event(source, "an event is a JSON object");
  check_keys(j, {"op", "hook", "bpf_signature", "keyring_id", "kernel", "prog_type", "uid", "pid", "comm", "file"},
             source, "");
  if (!j.contains("op")) bad_event(source, "missing \"op\"");
  ipe::Event e;
  std::string op = field(j, "op", Json::value_t::string, source).get<std::string>();
  auto parsed_op = ipe::op_from_name(op);
  if (!parsed_op) bad_event(source, "unknown op \"" + op + "\"");
  e.op = *parsed_op;
  if (j.contains("file") && !j.at("file").is_null()) e.file = parse_file(j.at("file"), source);
  e.hook = default_hook(e.op, e.file.has_value());
  if (j.contains("hook")) {
    std::string hook = field(j, "hook", Json::value_t::string, source).get<std::string>();
    auto h = ipe::eval_hook_from_name(hook);
    if (!h) bad_event(source, "unknown hook \"" + hook + "\"");
    e.hook = *h;
  }
  if (j.contains("bpf_signature")) {
    std::string v = field(j, "bpf_signature", Json::value_t::string, source).get<std::string>();
    auto verdict = lsm::verdict_from_name(v);
    if (!verdict) bad_event(source, "unknown bpf_signature \"" + v + "\"");
    e.bpf_verdict = *verdict;
  }
  if (j.contains("keyring_id")) e.bpf_keyring_id = int32_field(j, "keyring_id", source);
  if (j.contains("kernel")) e.bpf_kernel = field(j, "kernel", Json::value_t::boolean, source).get<bool>();
  if (j.contains("prog_type")) {
    int32_t type = int32_field(j, "prog_type", source);
    if (type < 0) bad_event(source, "\"prog_type\" is out of range");
    e.bpf_prog_type = static_cast<uint32_t>(type);
  }
  if (j.contains("uid")) {
    uint64_t uid = field(j, "uid", Json::value_t::number_unsigned, source).get<uint64_t>();
    if (uid > 0xfffffffeu) bad_event(source, "\"uid\" is out of range");
    e.uid = static_cast<uint32_t>(uid);
  }
  if (j.contains("pid")) e.pid = int32_field(j, "pid", source);
  if (j.contains("comm")) e.comm = field(j, "comm", Json::value_t::string, source).get<std::string>();
  return e;
}

std::string_view match_name(ipe::MatchType m) {
  switch (m) {
    case ipe::MatchType::kRule: return "rule";
    case ipe::MatchType::kOpDefault: return "op_default";
    case ipe::MatchType::kGlobalDefault: return "global_default";
  }
  return "?";
}

// The policy loaded and activated in a model store, with --permissive and --success-audit.
std::shared_ptr<ipe::PolicyStore> prepare_store(const EvalArgs& a) {
  ipe::ParseOptions options;
  options.source = a.policy;
  auto store = std::make_shared<ipe::PolicyStore>();
  const ipe::Policy& policy = store->load(read_text_file(a.policy), options);
  store->activate(policy.name);
  store->enforce = !a.permissive;
  store->success_audit = a.success_audit;
  return store;
}

// The AUDIT_IPE_ACCESS line of an evaluation, stamped audit(0.000:SERIAL).
std::string ipe_audit_line(const ipe::StoreResult& r, uint64_t serial) {
  lsm::AuditRecord rec;
  rec.serial = serial;
  rec.lsm_text = r.audit;
  return rec.to_audit_line();
}

// "ALLOW", "DENY (-EACCES)" or "DENY (permissive: allowed, logged)".
std::string decision_text(const ipe::Decision& d, bool enforcing) {
  if (d.action == ipe::Action::kAllow) return "ALLOW";
  return enforcing ? "DENY (-EACCES)" : "DENY (permissive: allowed, logged)";
}

constexpr const char* kNotEmitted = "  (not emitted: success_audit is off)";

void run_eval(const EvalArgs& a, const Common& common) {
  check_command_files({{"--policy", a.policy}, {"EVENT", a.event}}, {});  // standard input for one of them at most
  std::shared_ptr<ipe::PolicyStore> store = prepare_store(a);
  const ipe::Policy& policy = *store->active();

  const std::string event_text = read_text_file(a.event);  // "-": standard input
  ipe::Event e = parse_event(event_text, a.event == "-" ? "stdin" : a.event);
  ipe::StoreResult r = store->evaluate(e);
  const ipe::Decision& d = *r.decision;
  const std::string audit_line = ipe_audit_line(r, 1);
  const std::string rule_text = d.rule_text(e.op);

  if (common.json) {
    print_json(common, Json{{"ok", r.err == 0},
                    {"policy", a.policy},
                    {"policy_name", policy.name},
                    {"policy_version", policy.version.to_string()},
                    {"enforcing", store->enforce},
                    {"op", ipe::op_name(e.op)},
                    {"hook", ipe::eval_hook_name(e.hook)},
                    {"action", ipe::action_name(d.action)},
                    {"match", match_name(d.match)},
                    {"default", d.is_default()},
                    {"rule", rule_text},
                    {"rule_line", d.rule ? Json(d.rule->line) : Json(nullptr)},
                    {"return", r.err},
                    {"errno_name", errno_name(-r.err)},
                    {"audited", r.audited},
                    {"audit", audit_line}});
  } else {
    std::cout << "decision: " << decision_text(d, store->enforce) << "\n"
              << "matched: " << rule_text;
    if (d.rule) std::cout << " (line " << d.rule->line << ")";
    if (d.is_default()) std::cout << " (default)";
    std::cout << "\n"
              << "audit: " << audit_line << (r.audited ? "" : kNotEmitted) << "\n";
  }
  if (r.err != 0) g_exit_code = 1;
}

// ---- a deep-verify manifest: every load it lists ---------------------------------------------

Json parse_manifest(const std::string& text, const std::string& source) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(EINVAL, "bad_manifest", source + ": not JSON: " + e.what());
  }
}

// The properties IPE evaluated for a load, as a policy spells them.
Json load_properties(const ipe::Event& e) {
  return Json{{"bpf_signature", lsm::verdict_name(e.bpf_verdict)},
              {"bpf_keyring", ipe::keyring_property_name(e.bpf_keyring_id)},
              {"keyring_id", e.bpf_keyring_id},
              {"bpf_kernel", e.bpf_kernel},
              {"bpf_prog_type", ipe::prog_type_name(e.bpf_prog_type)},
              {"bpf_uid", e.uid}};
}

// One load's element of the --json array.
Json load_json(const ipe::ManifestLoad& load, const ipe::StoreResult& r, const std::string& audit_line, bool reached) {
  const ipe::Decision& d = *r.decision;
  return Json{{"load", load.path},
              {"program", load.program},
              {"op", ipe::op_name(load.event.op)},
              {"properties", load_properties(load.event)},
              {"decision", ipe::action_name(d.action)},
              {"match", match_name(d.match)},
              {"rule", d.rule_text(load.event.op)},
              {"rule_line", d.rule ? Json(d.rule->line) : Json(nullptr)},
              {"return", r.err},
              {"errno_name", errno_name(-r.err)},
              {"reached", reached},
              {"audited", r.audited},
              {"audit", audit_line}};
}

// One load's line: LOAD "NAME": DECISION: AUDIT-LINE [notes]. The name is
// written as audit writes untrusted strings, so the line stays one line.
std::string load_line(const ipe::ManifestLoad& load, const ipe::StoreResult& r, const std::string& audit_line,
                      bool enforcing, const std::string& refused) {
  return load.path + " " + lsm::audit_untrusted_string(load.program) + ": " + decision_text(*r.decision, enforcing) +
         ": " + audit_line + (r.audited ? "" : kNotEmitted) +
         (refused.empty() ? "" : "  (not reached: " + refused + " was refused)");
}

void run_eval_manifest(const EvalArgs& a, const Common& common) {
  check_command_files({{"--policy", a.policy}, {"--manifest", a.manifest}}, {});
  std::shared_ptr<ipe::PolicyStore> store = prepare_store(a);
  const std::string source = a.manifest == "-" ? "stdin" : a.manifest;
  const std::vector<ipe::ManifestLoad> loads =
      ipe::manifest_loads(parse_manifest(read_text_file(a.manifest), source), source);

  Json out = Json::array();
  std::string refused;  // the first load the hook refuses: the loader stops there
  for (size_t i = 0; i < loads.size(); ++i) {
    const ipe::StoreResult r = store->evaluate(loads[i].event);
    const std::string audit_line = ipe_audit_line(r, i + 1);
    if (common.json)
      out.push_back(load_json(loads[i], r, audit_line, refused.empty()));
    else
      std::cout << load_line(loads[i], r, audit_line, store->enforce, refused) << "\n";
    if (r.err != 0 && refused.empty()) refused = loads[i].path;
  }
  if (common.json) print_json(common, out);
  if (!refused.empty()) g_exit_code = 1;
}

void define_policy(CLI::App* sub, Common& common) {
  sub->require_subcommand(1);
  add_output_flags(*sub, common);

  auto check = std::make_shared<CheckArgs>();
  CLI::App* c = sub->add_subcommand("check", "Validate an IPE policy as the kernel parser would");
  c->add_flag("--strict", check->strict, "Also refuse properties that cannot apply to their op");
  c->add_flag("--canonical", check->canonical, "Print the policy's canonical text instead of the summary");
  c->add_flag("--enforcer", check->enforcer,
              "Also compile it for bpfsig enforce: a rule or property the enforcer cannot evaluate is an error");
  add_output_flags(*c, common);
  c->add_option("file", check->file, "Policy text file (- for standard input)")->required();
  c->callback([check, &common, c] { run_check(*check, common, *c); });

  auto eval = std::make_shared<EvalArgs>();
  CLI::App* e =
      sub->add_subcommand("eval", "Evaluate an event (JSON), or every load of a manifest, against an IPE policy");
  e->add_option("--policy", eval->policy, "Policy text file (- for standard input)")->required();
  e->add_flag("--permissive", eval->permissive, "ipe.enforce=0: a DENY is logged, not returned");
  e->add_flag("--success-audit", eval->success_audit, "ipe.success_audit=1: ALLOW decisions are audited too");
  add_output_flags(*e, common);
  e->add_option("--manifest", eval->manifest,
                "A deep-verify manifest, JSON (- for standard input): evaluate every load it lists");
  e->add_option("event", eval->event, "Event JSON file, or - for stdin");
  e->callback([eval, &common] {
    if (eval->event.empty() == eval->manifest.empty())
      throw usage_error("policy eval takes an EVENT or --manifest M, " +
                        std::string(eval->event.empty() ? "neither was given" : "not both"));
    if (eval->manifest.empty())
      run_eval(*eval, common);
    else
      run_eval_manifest(*eval, common);
  });
}

}  // namespace

const Command kCommandPolicy{"policy", "Check IPE policies and evaluate events against them (model)", define_policy};

}  // namespace bpfsig::cli
