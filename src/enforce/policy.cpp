// SPDX-License-Identifier: Apache-2.0
// An IPE policy compiled for the enforcer, and the decision its BPF program
// takes (the same loop, in C++).
#include <cerrno>
#include <cstring>
#include <cstddef>

#include "bpfsig/enforce.h"
#include "bpfsig/error.h"
#include "bpfsig/crypto.h"

namespace bpfsig::enforce {

// The BPF program and this file read the same bytes: pin the layout.
static_assert(sizeof(bpfsig_enforcer_rule) == 24);
static_assert(offsetof(bpfsig_enforcer_rule, prog_type_mask) == 16);
static_assert(offsetof(bpfsig_enforcer_policy, owner_exe_dev) == 24);
static_assert(offsetof(bpfsig_enforcer_policy, policy_sha256) == 56);
static_assert(offsetof(bpfsig_enforcer_policy, rules) == 88);
static_assert(sizeof(bpfsig_enforcer_policy) == 88 + 24 * BPFSIG_ENFORCER_MAX_RULES);
static_assert(sizeof(bpfsig_enforcer_record) == 80);

namespace {

constexpr uint8_t kSigNone = 1u << 0;  // BPF_SIG_UNSIGNED
constexpr uint8_t kSigOk = 1u << 1;    // BPF_SIG_VERIFIED
constexpr uint8_t kAllKeyrings = 0x1f;  // NONE, BUILTIN, SECONDARY, PLATFORM, USER
constexpr uint8_t kBothKernel = 0x3;

[[noreturn]] void unsupported(const std::string& source, const ipe::Rule& rule, const std::string& what,
                              const std::string& why) {
  throw Error(EINVAL, "enforce_unsupported_property",
              source + ":" + std::to_string(rule.line) + ": " + what + " cannot be evaluated by the enforcer: " + why);
}

uint8_t keyring_bit(ipe::PropType type) {
  switch (type) {
    case ipe::PropType::kBpfKeyringBuiltin: return 1u << 1;
    case ipe::PropType::kBpfKeyringSecondary: return 1u << 2;
    case ipe::PropType::kBpfKeyringPlatform: return 1u << 3;
    default: return 1u << 4;  // kBpfKeyringUser
  }
}

// Properties of one rule are ANDed: each narrows one mask. A rule whose
// masks end up empty never matches, and keeps its place (and its index).
bpfsig_enforcer_rule compile_rule(const ipe::Rule& rule, const std::string& source) {
  bpfsig_enforcer_rule r{};
  r.line = rule.line;
  r.action = static_cast<uint8_t>(rule.action);
  r.sig_mask = kSigNone | kSigOk;
  r.keyring_mask = kAllKeyrings;
  r.kernel_mask = kBothKernel;
  r.uid = BPFSIG_ENFORCER_ANY_UID;
  r.prog_type_mask = ~uint64_t{0};
  bool uid_conflict = false;
  for (const ipe::Property& p : rule.props) {
    switch (p.type) {
      case ipe::PropType::kBpfSigOk: r.sig_mask &= kSigOk; break;
      case ipe::PropType::kBpfSigNone: r.sig_mask &= kSigNone; break;
      case ipe::PropType::kBpfSigUnsigned:
      case ipe::PropType::kBpfSigPartialSig:
      case ipe::PropType::kBpfSigUnknownKey:
      case ipe::PropType::kBpfSigUnexpected:
      case ipe::PropType::kBpfSigFault:
      case ipe::PropType::kBpfSigBadSig:
        unsupported(source, rule, "'" + p.to_text() + "'",
                    "Linux records only a verified signature (OK) or none (NONE); a bad signature fails the load "
                    "before any LSM runs");
      case ipe::PropType::kBpfKeyringBuiltin:
      case ipe::PropType::kBpfKeyringSecondary:
      case ipe::PropType::kBpfKeyringPlatform:
      case ipe::PropType::kBpfKeyringUser: r.keyring_mask &= keyring_bit(p.type); break;
      case ipe::PropType::kBpfKernelFalse: r.kernel_mask &= 1u; break;
      case ipe::PropType::kBpfKernelTrue: r.kernel_mask &= 2u; break;
      case ipe::PropType::kBpfProgType:
        r.prog_type_mask &= *p.number < 64 ? uint64_t{1} << *p.number : 0;
        break;
      case ipe::PropType::kBpfUid:
        if (r.uid != BPFSIG_ENFORCER_ANY_UID && r.uid != *p.number) uid_conflict = true;
        r.uid = *p.number;
        break;
      default:
        unsupported(source, rule, "'" + p.to_text() + "'", "it is a file property; the enforcer sees BPF loads only");
    }
  }
  if (uid_conflict) r.sig_mask = 0;  // two different uids: never matches
  return r;
}

uint8_t default_match_code(ipe::MatchType m) {
  return m == ipe::MatchType::kOpDefault ? BPFSIG_MATCH_OP_DEFAULT : BPFSIG_MATCH_GLOBAL_DEFAULT;
}

}  // namespace

std::string_view mode_name(Mode mode) { return mode == Mode::kAudit ? "audit" : "enforce"; }

std::optional<Mode> mode_from_name(std::string_view name) {
  if (name == "enforce") return Mode::kEnforce;
  if (name == "audit") return Mode::kAudit;
  return std::nullopt;
}

Bytes CompiledPolicy::map_value() const {
  Bytes out(sizeof(value));
  std::memcpy(out.data(), &value, sizeof(value));
  return out;
}

CompiledPolicy compile_policy(std::string_view text, Mode mode, const std::string& source) {
  ipe::ParseOptions options;
  options.source = source;
  options.strict = true;  // a file property on BPF_PROG_LOAD is an error, as every other one here
  ipe::Policy policy = ipe::parse_policy(text, options);

  CompiledPolicy c;
  c.name = policy.name;
  c.version = policy.version.to_string();
  c.text = std::string(text);
  for (size_t i = 0; i < ipe::kOpCount; ++i) {
    auto op = static_cast<ipe::Op>(i);
    if (op == ipe::Op::kBpfProgLoad || policy.rules[i].empty()) continue;
    const ipe::Rule& first = policy.rules[i].front();
    throw Error(EINVAL, "enforce_unsupported_op",
                source + ":" + std::to_string(first.line) + ": op=" + std::string(ipe::op_name(op)) +
                    " cannot be evaluated by the enforcer: it sees BPF_PROG_LOAD only");
  }
  const auto& rules = policy.rules_for(ipe::Op::kBpfProgLoad);
  if (rules.size() > BPFSIG_ENFORCER_MAX_RULES) {
    throw Error(E2BIG, "enforce_too_many_rules",
                source + ": " + std::to_string(rules.size()) + " BPF_PROG_LOAD rules, the enforcer holds at most " +
                    std::to_string(BPFSIG_ENFORCER_MAX_RULES));
  }
  c.rules = rules;
  bpfsig_enforcer_policy& v = c.value;
  v.magic = BPFSIG_ENFORCER_MAGIC;
  v.version = BPFSIG_ENFORCER_VERSION;
  v.mode = static_cast<uint32_t>(mode);
  v.rule_count = static_cast<uint32_t>(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) v.rules[i] = compile_rule(rules[i], source);
  // IPE: the op's DEFAULT, else the global one (the parser requires one of them).
  if (auto op_default = policy.op_defaults[static_cast<size_t>(ipe::Op::kBpfProgLoad)]) {
    c.default_action = *op_default;
    c.default_match = ipe::MatchType::kOpDefault;
  } else {
    c.default_action = policy.global_default.value_or(ipe::Action::kAllow);
    c.default_match = ipe::MatchType::kGlobalDefault;
  }
  v.default_action = static_cast<uint8_t>(c.default_action);
  v.default_match = default_match_code(c.default_match);
  crypto::Digest d = crypto::sha256(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  std::memcpy(v.policy_sha256, d.data(), sizeof(v.policy_sha256));
  return c;
}

namespace {

bool rule_matches(const bpfsig_enforcer_rule& r, const LoadFacts& f) {
  if (f.verdict > 7 || !((r.sig_mask >> f.verdict) & 1)) return false;
  if (f.keyring_type > 7 || !((r.keyring_mask >> f.keyring_type) & 1)) return false;
  if (!((r.kernel_mask >> (f.kernel ? 1 : 0)) & 1)) return false;
  if (f.prog_type >= 64 || !((r.prog_type_mask >> f.prog_type) & 1)) return false;
  return r.uid == BPFSIG_ENFORCER_ANY_UID || r.uid == f.uid;
}

}  // namespace

Decision decide(const bpfsig_enforcer_policy& p, const LoadFacts& facts) {
  Decision d;
  if (p.magic != BPFSIG_ENFORCER_MAGIC || p.version != BPFSIG_ENFORCER_VERSION) return d;
  const uint32_t n = p.rule_count < BPFSIG_ENFORCER_MAX_RULES ? p.rule_count : BPFSIG_ENFORCER_MAX_RULES;
  bool found = false;
  for (uint32_t i = 0; i < n && !found; ++i) {
    if (!rule_matches(p.rules[i], facts)) continue;
    d.action = static_cast<ipe::Action>(p.rules[i].action != 0);
    d.match = BPFSIG_MATCH_RULE;
    d.rule_index = i;
    d.rule_line = p.rules[i].line;
    found = true;
  }
  if (!found) {
    d.action = static_cast<ipe::Action>(p.default_action != 0);
    d.match = p.default_match;
  }
  d.refused = d.action == ipe::Action::kDeny && p.mode == BPFSIG_MODE_ENFORCE;
  return d;
}

}  // namespace bpfsig::enforce
