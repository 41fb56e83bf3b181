// SPDX-License-Identifier: Apache-2.0
// IPE's evaluation (security/ipe/eval.c), its AUDIT_IPE_ACCESS record
// (audit.c), its policy store (policy.c, fs.c, policy_fs.c) and the LSM that
// evaluates BPF_PROG_LOAD (the Hornet series' security/ipe/hooks.c).
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/ipe.h"

namespace bpfsig::ipe {

namespace {

using lsm::IntegrityVerdict;

constexpr std::array<std::string_view, 7> kHookNames = {
    "BPRM_CHECK", "BPRM_CREDS_FOR_EXEC", "MMAP", "MPROTECT", "KERNEL_READ", "KERNEL_LOAD", "BPF_PROG_LOAD",
};

// VERIFY_USE_SECONDARY_KEYRING and VERIFY_USE_PLATFORM_KEYRING as s32; the
// builtin keyring is NULL, i.e. 0 (eval.c evaluate_bpf_keyring()).
constexpr int32_t kKeyringBuiltin = 0, kKeyringSecondary = 1, kKeyringPlatform = 2;

bool digest_matches(const Digest& expected, const std::optional<Digest>& actual) {
  return actual && expected.value.size() == actual->value.size() && expected.alg == actual->alg &&
         expected.value == actual->value;
}

// eval.c's evaluate_*(), with every IPE_PROP_* config enabled.
bool property_holds(const Property& p, const Event& e) {
  const FileInfo* f = e.file ? &*e.file : nullptr;
  const bool initramfs = f && f->from_initramfs;
  const bool dmv_signed = f && f->dmverity_signed;
  const bool fsv_signed = f && f->fsverity_digest && f->fsverity_signed;  // IS_VERITY() && the blob's flag
  auto sig = [&](IntegrityVerdict v) { return e.bpf_verdict == v; };
  switch (p.type) {
    case PropType::kBootVerifiedFalse: return !initramfs;
    case PropType::kBootVerifiedTrue: return initramfs;
    case PropType::kDmverityRoothash: return f && digest_matches(*p.digest, f->dmverity_roothash);
    case PropType::kDmveritySignatureFalse: return !dmv_signed;
    case PropType::kDmveritySignatureTrue: return dmv_signed;
    case PropType::kFsverityDigest: return f && digest_matches(*p.digest, f->fsverity_digest);
    case PropType::kFsveritySignatureFalse: return !fsv_signed;
    case PropType::kFsveritySignatureTrue: return fsv_signed;
    case PropType::kBpfSigNone: return sig(IntegrityVerdict::kNone);
    case PropType::kBpfSigOk: return sig(IntegrityVerdict::kOk);
    case PropType::kBpfSigUnsigned: return sig(IntegrityVerdict::kUnsigned);
    case PropType::kBpfSigPartialSig: return sig(IntegrityVerdict::kPartialSig);
    case PropType::kBpfSigUnknownKey: return sig(IntegrityVerdict::kUnknownKey);
    case PropType::kBpfSigUnexpected: return sig(IntegrityVerdict::kUnexpected);
    case PropType::kBpfSigFault: return sig(IntegrityVerdict::kFault);
    case PropType::kBpfSigBadSig: return sig(IntegrityVerdict::kBadSig);
    case PropType::kBpfKeyringBuiltin: return e.bpf_keyring_id == kKeyringBuiltin;
    case PropType::kBpfKeyringSecondary: return e.bpf_keyring_id == kKeyringSecondary;
    case PropType::kBpfKeyringPlatform: return e.bpf_keyring_id == kKeyringPlatform;
    case PropType::kBpfKernelFalse: return !e.bpf_kernel;
    case PropType::kBpfKernelTrue: return e.bpf_kernel;
    // Linux 7.3's bpf_classify_keyring(): any keyring id but the three system ones.
    case PropType::kBpfKeyringUser:
      return e.bpf_keyring_id != kKeyringBuiltin && e.bpf_keyring_id != kKeyringSecondary &&
             e.bpf_keyring_id != kKeyringPlatform;
    case PropType::kBpfProgType: return p.number && e.bpf_prog_type == *p.number;
    case PropType::kBpfUid: return p.number && e.uid == *p.number;
  }
  return false;
}


std::string hex_upper(const Bytes& bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s;
  for (uint8_t b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 0xf];
  }
  return s;
}

// audit_rule(): `op=X ` then each property and a space, then `action=Y`.
// Digests go through ipe_digest_audit(): untrusted ALG, ':', upper-case hex.
std::string audit_rule_text(const Rule& r) {
  std::string s = "op=" + std::string(op_name(r.op)) + " ";
  for (const auto& p : r.props) {
    if (p.digest) {
      std::string key = p.type == PropType::kDmverityRoothash ? "dmverity_roothash=" : "fsverity_digest=";
      s += key + lsm::audit_untrusted_string(p.digest->alg) + ":" + hex_upper(p.digest->value);
    } else {
      s += p.to_text();
    }
    s += " ";
  }
  return s + "action=" + std::string(action_name(r.action));
}

std::string default_text(MatchType match, Op op, Action action) {
  if (match == MatchType::kOpDefault) {
    return "DEFAULT op=" + std::string(op_name(op)) + " action=" + std::string(action_name(action));
  }
  return "DEFAULT action=" + std::string(action_name(action));
}

// lookup_one_common()'s refusals for the securityfs directory named after the policy.
bool valid_dir_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos;
}

}  // namespace

std::string_view eval_hook_name(EvalHook hook) {
  auto i = static_cast<size_t>(hook);
  return i < kHookNames.size() ? kHookNames[i] : "?";
}

std::optional<EvalHook> eval_hook_from_name(std::string_view name) {
  for (size_t i = 0; i < kHookNames.size(); ++i) {
    if (kHookNames[i] == name) return static_cast<EvalHook>(i);
  }
  return std::nullopt;
}

std::string Decision::rule_text(Op op) const {
  if (match == MatchType::kRule && rule) return rule->to_text();
  return default_text(match, op, action);
}

Decision evaluate(const Policy& policy, const Event& event) {
  Decision d;
  for (const auto& rule : policy.rules_for(event.op)) {
    bool match = true;
    for (const auto& p : rule.props) {
      if (!property_holds(p, event)) {
        match = false;
        break;
      }
    }
    if (match) {
      d.action = rule.action;
      d.match = MatchType::kRule;
      d.rule = rule;
      return d;
    }
  }
  if (auto op_default = policy.op_defaults[static_cast<size_t>(event.op)]) {
    d.action = *op_default;
    d.match = MatchType::kOpDefault;
  } else {
    // A parsed policy has one or the other (validate_policy()).
    d.action = policy.global_default.value_or(Action::kAllow);
    d.match = MatchType::kGlobalDefault;
  }
  return d;
}

std::string audit_fields(const Event& event, const Decision& decision, bool enforcing) {
  std::string s = "ipe_op=" + std::string(op_name(event.op)) + " ipe_hook=" + std::string(eval_hook_name(event.hook)) +
                  " enforcing=" + (enforcing ? "1" : "0") + " pid=" + std::to_string(event.pid) +
                  " comm=" + lsm::audit_untrusted_string(event.comm);
  if (event.file) {
    // audit_log_d_path() quotes the path the same way untrusted strings are.
    s += " path=" + lsm::audit_untrusted_string(event.file->path) + " dev=" + lsm::audit_untrusted_string(event.file->dev) +
         " ino=" + std::to_string(event.file->ino);
  } else {
    s += " path=? dev=? ino=?";
  }
  if (decision.match == MatchType::kRule && decision.rule) {
    s += " rule=\"" + audit_rule_text(*decision.rule) + "\"";
  } else {
    s += " rule=\"" + default_text(decision.match, event.op, decision.action) + "\"";
  }
  return s;
}

// ---- PolicyStore ------------------------------------------------------------------------

const Policy& PolicyStore::load(std::string_view text, const ParseOptions& options) {
  auto policy = std::make_shared<const Policy>(parse_policy(text, options));
  if (!valid_dir_name(policy->name)) {
    throw Error(EACCES, "ipe_policy_name",
                options.source + ": policy_name '" + policy->name + "' cannot name a securityfs directory");
  }
  if (policies_.contains(policy->name)) {
    throw Error(EEXIST, "ipe_policy_exists", options.source + ": a policy named '" + policy->name + "' is loaded");
  }
  const Policy& ref = *policy;
  policies_.emplace(policy->name, std::move(policy));
  return ref;
}

void PolicyStore::activate(std::string_view name) {
  auto it = policies_.find(name);
  if (it == policies_.end()) {
    throw Error(ENOENT, "ipe_policy_not_found", "no policy named '" + std::string(name) + "'");
  }
  if (active_ == it->second) return;
  if (active_ && active_->version.to_u64() > it->second->version.to_u64()) {
    throw Error(EINVAL, "ipe_policy_rollback",
                "policy '" + std::string(name) + "' version " + it->second->version.to_string() +
                    " is below the active policy '" + active_->name + "' version " + active_->version.to_string());
  }
  active_ = it->second;
}

const Policy& PolicyStore::update(std::string_view name, std::string_view text, const ParseOptions& options) {
  auto it = policies_.find(name);
  if (it == policies_.end()) {
    throw Error(ENOENT, "ipe_policy_not_found", "no policy named '" + std::string(name) + "'");
  }
  auto fresh = std::make_shared<const Policy>(parse_policy(text, options));
  if (fresh->name != it->second->name) {
    throw Error(EINVAL, "ipe_policy_name_mismatch",
                options.source + ": policy_name '" + fresh->name + "' does not match '" + it->second->name + "'");
  }
  if (it->second->version.to_u64() >= fresh->version.to_u64()) {
    throw Error(ESTALE, "ipe_policy_stale",
                options.source + ": version " + fresh->version.to_string() + " is not above the loaded " +
                    it->second->version.to_string());
  }
  if (active_ == it->second) active_ = fresh;
  it->second = std::move(fresh);
  return *it->second;
}

void PolicyStore::remove(std::string_view name) {
  auto it = policies_.find(name);
  if (it == policies_.end()) {
    throw Error(ENOENT, "ipe_policy_not_found", "no policy named '" + std::string(name) + "'");
  }
  if (active_ == it->second) {
    throw Error(EPERM, "ipe_policy_active", "policy '" + std::string(name) + "' is active and cannot be deleted");
  }
  policies_.erase(it);
}

const Policy* PolicyStore::find(std::string_view name) const {
  auto it = policies_.find(name);
  return it == policies_.end() ? nullptr : it->second.get();
}

std::vector<std::string> PolicyStore::names() const {
  std::vector<std::string> out;
  for (const auto& [name, policy] : policies_) out.push_back(name);
  return out;
}

StoreResult PolicyStore::evaluate(const Event& event) const {
  StoreResult r;
  if (!active_) return r;
  r.decision = ipe::evaluate(*active_, event);
  r.audit = audit_fields(event, *r.decision, enforce);
  r.audited = r.decision->action == Action::kDeny || success_audit;
  if (r.decision->action == Action::kDeny && enforce) r.err = -EACCES;
  return r;
}

// ---- IpeLsm -----------------------------------------------------------------------------------

IpeLsm::IpeLsm(std::shared_ptr<PolicyStore> store)
    : Lsm({"ipe", lsm::LsmId::kIpe},
          lsm::hook_bit(lsm::Hook::kBpfProgLoadPostIntegrity) | lsm::hook_bit(lsm::Hook::kBpfProgLoad)),
      store_(std::move(store)) {}

std::unique_ptr<lsm::ProgBlob> IpeLsm::new_prog_blob() const { return std::make_unique<Blob>(); }

// ipe_bpf_prog_load_post_integrity(): keep the verdict, decide later.
int IpeLsm::bpf_prog_load_post_integrity(lsm::ProgView& prog, const lsm::ProgLoadAttr&, const lsm::Token*, bool,
                                         const lsm::LsmIdent&, lsm::IntegrityVerdict verdict) {
  if (Blob* b = blob<Blob>(prog)) b->verdict = verdict;
  return 0;
}

int IpeLsm::bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr& attr, const lsm::Token*, bool kernel) {
  Event e;
  e.op = Op::kBpfProgLoad;
  e.hook = EvalHook::kBpfProgLoad;
  const Blob* b = blob<Blob>(prog);
  e.bpf_verdict = b ? b->verdict : lsm::IntegrityVerdict::kNone;
  e.bpf_keyring_id = attr.keyring_id;
  e.bpf_kernel = kernel;
  e.bpf_prog_type = prog.prog_type;
  e.uid = stack().current().uid;
  e.pid = stack().current().pid;
  e.comm = stack().current().comm;
  StoreResult r = store_->evaluate(e);
  if (r.audited) {
    lsm::AuditRecord rec;
    rec.pid = e.pid;
    rec.comm = e.comm;
    rec.hook = lsm::Hook::kBpfProgLoad;
    rec.lsm = name();
    rec.verdict = e.bpf_verdict;
    rec.err = r.err;
    rec.lsm_text = r.audit;
    stack().emit_audit(std::move(rec));
  }
  return r.err;
}

lsm::LsmFactory ipe_factory(std::shared_ptr<PolicyStore> store) {
  return [store] { return std::make_unique<IpeLsm>(store); };
}

}  // namespace bpfsig::ipe
