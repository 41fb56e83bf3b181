// SPDX-License-Identifier: Apache-2.0
// Names of verdicts and hooks, and the audit records in kernel and JSON form.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bpfsig/json_text.h"
#include "bpfsig/lsm.h"

namespace bpfsig::lsm {

std::string_view verdict_name(IntegrityVerdict verdict) {
  switch (verdict) {
    case IntegrityVerdict::kNone: return "NONE";
    case IntegrityVerdict::kOk: return "OK";
    case IntegrityVerdict::kUnsigned: return "UNSIGNED";
    case IntegrityVerdict::kPartialSig: return "PARTIALSIG";
    case IntegrityVerdict::kUnknownKey: return "UNKNOWNKEY";
    case IntegrityVerdict::kUnexpected: return "UNEXPECTED";
    case IntegrityVerdict::kFault: return "FAULT";
    case IntegrityVerdict::kBadSig: return "BADSIG";
  }
  return "?";
}

std::optional<IntegrityVerdict> verdict_from_name(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(IntegrityVerdict::kBadSig); ++i) {
    auto verdict = static_cast<IntegrityVerdict>(i);
    if (verdict_name(verdict) == name) return verdict;
  }
  return std::nullopt;
}

std::string_view hook_name(Hook hook) {
  switch (hook) {
    case Hook::kBpf: return "bpf";
    case Hook::kBpfMapCreate: return "bpf_map_create";
    case Hook::kBpfProgLoadIntegrity: return "bpf_prog_load_integrity";
    case Hook::kBpfProgLoadPostIntegrity: return "bpf_prog_load_post_integrity";
    case Hook::kBpfProgLoad: return "bpf_prog_load";
    case Hook::kBpfProg: return "bpf_prog";
    case Hook::kBpfProgFree: return "bpf_prog_free";
  }
  return "?";
}

namespace {

std::string_view decision_name(bool allowed) { return allowed ? "allow" : "deny"; }

}  // namespace

// audit_log_untrustedstring(): quoted when every byte is printable and not a
// quote or space, else the bytes in upper-case hex without quotes.
std::string audit_untrusted_string(std::string_view text) {
  bool plain = true;
  for (unsigned char c : text) {
    if (c == '"' || c < 0x21 || c > 0x7e) plain = false;
  }
  if (plain) return "\"" + std::string(text) + "\"";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string hex;
  for (unsigned char c : text) {
    hex += kHex[c >> 4];
    hex += kHex[c & 0xf];
  }
  return hex;
}

std::string AuditRecord::to_audit_line() const {
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "audit(%llu.%03u:%llu)", static_cast<unsigned long long>(time.sec),
                time.msec, static_cast<unsigned long long>(serial));
  std::string line = "type=" + std::to_string(kType) + " " + stamp + ":";
  if (lsm_text) return line + " " + *lsm_text;
  line += " hook=" + std::string(hook_name(hook));
  line += " lsm=" + lsm;
  line += " verdict=" + std::string(verdict ? verdict_name(*verdict) : "?");
  line += " decision=" + std::string(decision_name(allowed()));
  line += " errno=" + std::to_string(err);
  line += " pid=" + std::to_string(pid);
  line += " comm=" + audit_untrusted_string(comm);
  return line;
}

std::string AuditRecord::to_json_line() const {
  nlohmann::ordered_json j;
  j["type"] = kType;
  j["sec"] = time.sec;
  j["msec"] = time.msec;
  j["serial"] = serial;
  j["hook"] = hook_name(hook);
  j["lsm"] = lsm;
  j["verdict"] = verdict ? nlohmann::ordered_json(verdict_name(*verdict)) : nlohmann::ordered_json(nullptr);
  j["decision"] = decision_name(allowed());
  j["errno"] = err;
  j["pid"] = pid;
  j["comm"] = comm;
  if (lsm_text) j["text"] = *lsm_text;
  // comm is untrusted: json_text turns bytes that are not UTF-8 into U+FFFD rather than throwing.
  return json_text(j);
}

const AuditRecord& AuditLog::emit(AuditRecord record) {
  record.serial = ++last_serial_;
  records_.push_back(std::move(record));
  return records_.back();
}

std::string AuditLog::audit_lines() const {
  std::string out;
  for (const auto& r : records_) out += r.to_audit_line() + "\n";
  return out;
}

std::string AuditLog::json_lines() const {
  std::string out;
  for (const auto& r : records_) out += r.to_json_line() + "\n";
  return out;
}

}  // namespace bpfsig::lsm
