// SPDX-License-Identifier: Apache-2.0
// The enforcer's audit records: decoding, and the type=1420 and JSON lines
// `bpfsig enforce log` prints, in the form of the model's audit.
#include <cerrno>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "bpfsig/enforce.h"
#include "bpfsig/error.h"
#include "bpfsig/json_text.h"
#include "common/bpf_names.h"

namespace bpfsig::enforce {

namespace {

std::string fixed_string(const char* s, size_t max) { return std::string(s, strnlen(s, max)); }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string prog_type_text(uint32_t type) {
  if (auto name = bpf_prog_type_str(type)) return upper(*name);
  return std::to_string(type);
}

std::string_view signature_text(uint8_t verdict) { return verdict == 1 ? "OK" : verdict == 0 ? "NONE" : "?"; }

std::string keyring_text(uint8_t type) {
  static constexpr std::string_view kNames[] = {"NONE", "BUILTIN", "SECONDARY", "PLATFORM", "USER"};
  return type < 5 ? std::string(kNames[type]) : std::to_string(type);
}

std::string_view guard_op_text(uint8_t op) {
  switch (op) {
    case BPFSIG_GUARD_UNLINK: return "unlink";
    case BPFSIG_GUARD_RENAME: return "rename";
    case BPFSIG_GUARD_UMOUNT: return "umount";
  }
  return "?";
}

std::string_view action_text(uint8_t action) { return action ? "DENY" : "ALLOW"; }

// The matched rule as IPE's audit prints it.
std::string rule_text(const bpfsig_enforcer_record& r, const CompiledPolicy* policy) {
  if (r.match == BPFSIG_MATCH_RULE) {
    if (policy && r.rule_index < policy->rules.size()) return policy->rules[r.rule_index].to_text();
    return "line " + std::to_string(r.rule_line);
  }
  std::string s = "DEFAULT ";
  if (r.match == BPFSIG_MATCH_OP_DEFAULT) s += "op=BPF_PROG_LOAD ";
  return s + "action=" + std::string(action_text(r.action));
}

std::string decision_text(const bpfsig_enforcer_record& r) {
  if (r.refused) return "deny";
  return r.action ? "audit" : "allow";  // audit: DENY in audit mode, let through
}

}  // namespace

bpfsig_enforcer_record decode_record(ByteView bytes) {
  bpfsig_enforcer_record r{};
  if (bytes.size() != sizeof(r)) {
    throw Error(EBADMSG, "enforce_bad_record",
                "enforcer record of " + std::to_string(bytes.size()) + " bytes, expected " + std::to_string(sizeof(r)));
  }
  std::memcpy(&r, bytes.data(), sizeof(r));
  if (r.kind != BPFSIG_RECORD_PROG_LOAD && r.kind != BPFSIG_RECORD_GUARD) {
    throw Error(EBADMSG, "enforce_bad_record", "enforcer record of unknown kind " + std::to_string(r.kind));
  }
  return r;
}

std::string record_text(const bpfsig_enforcer_record& r, const CompiledPolicy* policy) {
  std::string head = "enforcing=" + std::to_string(r.enforcing) + " pid=" + std::to_string(r.pid) +
                     " comm=" + lsm::audit_untrusted_string(fixed_string(r.comm, sizeof(r.comm))) +
                     " uid=" + std::to_string(r.uid);
  if (r.kind == BPFSIG_RECORD_GUARD) {
    return "bpfsig_op=" + std::string(guard_op_text(r.guard_op)) + " " + head +
           " target=enforcer_pins decision=" + decision_text(r);
  }
  return "ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD " + head + " " + decision_key(r, policy);
}

std::string decision_key(const bpfsig_enforcer_record& r, const CompiledPolicy* policy) {
  if (r.kind == BPFSIG_RECORD_GUARD) return "guard=" + std::string(guard_op_text(r.guard_op)) + " decision=" + decision_text(r);
  return "prog_type=" + prog_type_text(r.prog_type) +
         " prog_name=" + lsm::audit_untrusted_string(fixed_string(r.prog_name, sizeof(r.prog_name))) +
         " bpf_signature=" + std::string(signature_text(r.verdict)) + " bpf_keyring=" + keyring_text(r.keyring_type) +
         " bpf_kernel=" + (r.kernel ? "TRUE" : "FALSE") + " rule=\"" + rule_text(r, policy) +
         "\" decision=" + decision_text(r);
}

std::string audit_line(const Record& r, const CompiledPolicy* policy) {
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "type=1420 audit(%llu.%03u:%llu): ",
                static_cast<unsigned long long>(r.time_ms / 1000), static_cast<unsigned>(r.time_ms % 1000),
                static_cast<unsigned long long>(r.serial));
  std::string text = record_text(r.raw, policy);
  if (r.raw.kind == BPFSIG_RECORD_PROG_LOAD) text += " keyring_serial=" + std::to_string(r.raw.keyring_serial);
  return stamp + text;
}

std::string json_line(const Record& r, const CompiledPolicy* policy) {
  const bpfsig_enforcer_record& x = r.raw;
  nlohmann::ordered_json j = {
      {"type", lsm::AuditRecord::kType},
      {"sec", r.time_ms / 1000},
      {"msec", r.time_ms % 1000},
      {"serial", r.serial},
      {"lsm", "enforce"},
      {"hook", x.kind == BPFSIG_RECORD_GUARD ? "guard" : "bpf_prog_load"},
      {"pid", x.pid},
      {"comm", fixed_string(x.comm, sizeof(x.comm))},
      {"uid", x.uid},
      {"enforcing", x.enforcing != 0},
      {"decision", decision_text(x)},
      {"errno", x.refused ? -EPERM : 0},
      {"text", record_text(x, policy)},
  };
  if (x.kind == BPFSIG_RECORD_GUARD) {
    j["guard"] = guard_op_text(x.guard_op);
  } else {
    j["prog_type"] = prog_type_text(x.prog_type);
    j["prog_name"] = fixed_string(x.prog_name, sizeof(x.prog_name));
    j["bpf_signature"] = signature_text(x.verdict);
    j["bpf_keyring"] = keyring_text(x.keyring_type);
    j["keyring_serial"] = x.keyring_serial;
    j["bpf_kernel"] = x.kernel != 0;
    j["action"] = action_text(x.action);
    j["rule"] = rule_text(x, policy);
    j["rule_line"] = x.match == BPFSIG_MATCH_RULE ? nlohmann::ordered_json(x.rule_line) : nlohmann::ordered_json(nullptr);
  }
  return json_text(j);
}

}  // namespace bpfsig::enforce
