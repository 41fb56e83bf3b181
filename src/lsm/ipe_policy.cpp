// SPDX-License-Identifier: Apache-2.0
// IPE's policy language: the parser of security/ipe/policy_parser.c (with the
// BPF properties of the Hornet series' IPE patch) and the canonical renderer.
//
// The parser accepts exactly what the kernel accepts and fails with the errno
// the kernel returns, checking in the kernel's order so the first error is the
// kernel's first error. Only the messages are bpfsig's: they name the line and
// the token.
#include <cctype>
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/ipe.h"
#include "common/bpf_names.h"

namespace bpfsig::ipe {

namespace {

constexpr std::array<std::string_view, kOpCount> kOpNames = {
    "EXECUTE", "FIRMWARE", "KMODULE", "KEXEC_IMAGE", "KEXEC_INITRAMFS", "POLICY", "X509_CERT", "BPF_PROG_LOAD",
};

// property_tokens[] of policy_parser.c; the two digest properties are
// prefixes ("%s" follows), the others whole tokens.
constexpr std::array<std::string_view, kPropTypeCount> kPropTokens = {
    "boot_verified=FALSE",      "boot_verified=TRUE",      "dmverity_roothash=",     "dmverity_signature=FALSE",
    "dmverity_signature=TRUE",  "fsverity_digest=",        "fsverity_signature=FALSE", "fsverity_signature=TRUE",
    "bpf_signature=NONE",       "bpf_signature=OK",        "bpf_signature=UNSIGNED", "bpf_signature=PARTIALSIG",
    "bpf_signature=UNKNOWNKEY", "bpf_signature=UNEXPECTED", "bpf_signature=FAULT",   "bpf_signature=BADSIG",
    "bpf_keyring=BUILTIN",      "bpf_keyring=SECONDARY",   "bpf_keyring=PLATFORM",   "bpf_kernel=FALSE",
    "bpf_kernel=TRUE",          "bpf_keyring=USER",        "bpf_prog_type=",         "bpf_uid=",
};

// The values each known key takes, for the "bad value" message.
struct KeyValues {
  std::string_view key;
  std::string_view values;
};
constexpr std::array<KeyValues, 10> kKnownKeys = {{
    {"boot_verified", "TRUE|FALSE"},
    {"dmverity_roothash", "ALG:HEX"},
    {"dmverity_signature", "TRUE|FALSE"},
    {"fsverity_digest", "ALG:HEX"},
    {"fsverity_signature", "TRUE|FALSE"},
    {"bpf_signature", "NONE|OK|UNSIGNED|PARTIALSIG|UNKNOWNKEY|UNEXPECTED|FAULT|BADSIG"},
    {"bpf_keyring", "BUILTIN|SECONDARY|PLATFORM|USER"},
    {"bpf_kernel", "TRUE|FALSE"},
    {"bpf_prog_type", "a program type as libbpf names it, in upper case (SYSCALL, KPROBE, LSM, ...)"},
    {"bpf_uid", "a decimal uid"},
}};

bool is_digest_prop(PropType type) { return type == PropType::kDmverityRoothash || type == PropType::kFsverityDigest; }

bool is_number_prop(PropType type) { return type == PropType::kBpfProgType || type == PropType::kBpfUid; }

// A decimal u32 with no sign, no leading '+' and no spaces; nullopt otherwise.
std::optional<uint32_t> parse_uid(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xfffffffeu) return std::nullopt;  // (uid_t)-1 is "no uid"
  return static_cast<uint32_t>(v);
}

bool is_bpf_prop(PropType type) { return type >= PropType::kBpfSigNone; }

// isspace() of the kernel's ctype (and C's): what remove_trailing_spaces() strips.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string quoted(std::string_view token) { return "'" + std::string(token) + "'"; }

// One "line" as the kernel sees it (split at '\n' and '\r'), with the
// physical line number a person would look for.
struct Line {
  std::string_view text;
  unsigned number = 0;
};

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options) : text_(text), options_(options) {}

  Policy run() {
    Policy policy;
    policy.text = std::string(text_);
    // kmemdup_nul() + strsep(): the policy is a C string.
    std::string_view text = text_.substr(0, text_.find('\0'));
    bool header_parsed = false;
    for (Line line : split_lines(text)) {
      line.text = strip_comment_and_trailing_space(line.text);
      if (line.text.empty()) continue;
      line_ = line.number;
      if (!header_parsed) {
        parse_header(line.text, policy);
        header_parsed = true;
      } else {
        parse_rule(line.text, policy);
      }
    }
    line_ = 0;
    if (!header_parsed) fail(EBADMSG, "no header line: a policy starts with 'policy_name=NAME policy_version=X.Y.Z'");
    validate(policy);
    return policy;
  }

 private:
  [[noreturn]] void fail(int err, const std::string& what) const {
    std::string where = options_.source;
    if (line_ != 0) where += ":" + std::to_string(line_);
    throw Error(err, "ipe_policy", where + ": " + what);
  }

  static std::vector<Line> split_lines(std::string_view text) {
    std::vector<Line> lines;
    unsigned number = 1;
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size() && text[i] != '\n' && text[i] != '\r') continue;
      lines.push_back({text.substr(start, i - start), number});
      if (i < text.size() && text[i] == '\n') ++number;
      start = i + 1;
    }
    return lines;
  }

  // remove_comment() then remove_trailing_spaces().
  static std::string_view strip_comment_and_trailing_space(std::string_view line) {
    line = line.substr(0, line.find('#'));
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    return line;
  }

  // strsep() over " \t", skipping the empty tokens.
  static std::vector<std::string_view> tokens(std::string_view line) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i) {
      if (i < line.size() && line[i] != ' ' && line[i] != '\t') continue;
      if (i > start) out.push_back(line.substr(start, i - start));
      start = i + 1;
    }
    return out;
  }

  // parse_header(): exactly "policy_name=%s policy_version=%s", in that order.
  void parse_header(std::string_view line, Policy& policy) {
    constexpr std::string_view kName = "policy_name=", kVersion = "policy_version=";
    auto toks = tokens(line);
    for (size_t idx = 0; idx < toks.size(); ++idx) {
      std::string_view t = toks[idx];
      if (idx >= 2) fail(EBADMSG, "unexpected token " + quoted(t) + " after the policy header");
      std::string_view want = idx == 0 ? kName : kVersion;
      // match_token()'s %s needs at least one character.
      if (!t.starts_with(want) || t.size() == want.size()) {
        fail(EBADMSG, "expected '" + std::string(want) + (idx == 0 ? "NAME" : "X.Y.Z") + "' in the header, got " +
                          quoted(t));
      }
      if (idx == 0) {
        policy.name = std::string(t.substr(want.size()));
      } else {
        policy.version = parse_version(t.substr(want.size()), t);
      }
    }
    if (toks.size() < 2) fail(EBADMSG, "the header needs 'policy_name=NAME policy_version=X.Y.Z'");
  }

  // kstrtou16(token, 10): an optional '+', decimal digits, nothing else;
  // EINVAL for no digits or a stray character, ERANGE above 65535 (checked first).
  uint16_t parse_u16(std::string_view part, std::string_view token) const {
    std::string_view digits = part;
    if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
    size_t n = 0;
    uint64_t value = 0;
    bool overflow = false;
    while (n < digits.size() && digits[n] >= '0' && digits[n] <= '9') {
      auto digit = static_cast<uint64_t>(digits[n] - '0');
      if (value > (UINT64_MAX - digit) / 10) overflow = true;  // _parse_integer()'s exact test
      if (!overflow) value = value * 10 + digit;
      ++n;
    }
    if (n == 0) fail(EINVAL, "version part " + quoted(part) + " of " + quoted(token) + " is not a number");
    if (overflow) fail(ERANGE, "version part " + quoted(part) + " of " + quoted(token) + " is above 65535");
    if (n != digits.size()) fail(EINVAL, "version part " + quoted(part) + " of " + quoted(token) + " is not a number");
    if (value > UINT16_MAX) fail(ERANGE, "version part " + quoted(part) + " of " + quoted(token) + " is above 65535");
    return static_cast<uint16_t>(value);
  }

  // parse_version(): strsep() at '.', three u16s; a fourth part is EBADMSG
  // before it is read, fewer than three is EBADMSG after.
  Version parse_version(std::string_view ver, std::string_view token) const {
    std::array<uint16_t, 3> parts{};
    size_t count = 0;
    size_t start = 0;
    while (true) {
      size_t dot = ver.find('.', start);
      std::string_view part = ver.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (count >= 3) fail(EBADMSG, "policy_version " + quoted(token) + " has more than three parts (X.Y.Z)");
      parts[count++] = parse_u16(part, token);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    if (count != 3) fail(EBADMSG, "policy_version " + quoted(token) + " needs three parts (X.Y.Z)");
    return Version{parts[0], parts[1], parts[2]};
  }

  // parse_rule(): every token but the last is DEFAULT (first only), then op=,
  // then properties; the last token is the action.
  void parse_rule(std::string_view line, Policy& policy) {
    auto toks = tokens(line);
    Rule rule;
    rule.line = line_;
    bool is_default = false;
    std::optional<Op> op;
    for (size_t i = 0; i + 1 < toks.size(); ++i) {
      std::string_view t = toks[i];
      if (i == 0 && t == "DEFAULT") {
        is_default = true;
      } else if (!op) {
        op = parse_op(t);
      } else {
        rule.props.push_back(parse_property(t));
      }
    }
    std::string_view last = toks.back();
    Action action;
    if (last == "action=ALLOW") {
      action = Action::kAllow;
    } else if (last == "action=DENY") {
      action = Action::kDeny;
    } else {
      fail(EBADMSG, "expected 'action=ALLOW' or 'action=DENY' as the last token, got " + quoted(last));
    }

    if (is_default) {
      if (!rule.props.empty()) fail(EBADMSG, "a DEFAULT takes no property, got " + quoted(rule.props[0].to_text()));
      std::optional<Action>& slot = op ? policy.op_defaults[static_cast<size_t>(*op)] : policy.global_default;
      if (slot) {
        fail(EBADMSG, "duplicate " + std::string(op ? "DEFAULT op=" + std::string(op_name(*op)) : "global DEFAULT") +
                          " (the first one says action=" + std::string(action_name(*slot)) + ")");
      }
      slot = action;
      return;
    }
    if (!op) fail(EBADMSG, "a rule starts with 'op=OP', got " + quoted(toks[0]));
    if (options_.strict) {
      for (const auto& p : rule.props) {
        if (!property_applies(p.type, *op)) {
          fail(EBADMSG, "property " + quoted(p.to_text()) + " does not apply to op=" + std::string(op_name(*op)) +
                            " (the kernel accepts it; strict mode refuses it)");
        }
      }
    }
    rule.op = *op;
    rule.action = action;
    policy.rules[static_cast<size_t>(*op)].push_back(std::move(rule));
  }

  Op parse_op(std::string_view t) const {
    if (t.starts_with("op=")) {
      if (auto op = op_from_name(t.substr(3))) return *op;
      fail(EBADMSG, "unknown operation " + quoted(t));
    }
    fail(EBADMSG, "expected 'op=OP' or 'DEFAULT' first, got " + quoted(t));
  }

  Property parse_property(std::string_view t) const {
    for (size_t i = 0; i < kPropTypeCount; ++i) {
      auto type = static_cast<PropType>(i);
      std::string_view pattern = kPropTokens[i];
      if (is_digest_prop(type)) {
        if (t.starts_with(pattern) && t.size() > pattern.size()) {
          return Property{type, parse_digest(t.substr(pattern.size()), t), std::nullopt};
        }
      } else if (is_number_prop(type)) {
        if (t.starts_with(pattern)) return Property{type, std::nullopt, parse_number(type, t.substr(pattern.size()), t)};
      } else if (t == pattern) {
        return Property{type, std::nullopt, std::nullopt};
      }
    }
    size_t eq = t.find('=');
    std::string_view key = t.substr(0, eq);
    for (const auto& k : kKnownKeys) {
      if (eq != std::string_view::npos && key == k.key) {
        fail(EBADMSG, "bad value in " + quoted(t) + ": " + std::string(k.key) + " takes " + std::string(k.values));
      }
    }
    if (key == "op" || key == "action") fail(EBADMSG, "misplaced " + quoted(t) + " (op= comes first, action= last)");
    fail(EBADMSG, "unknown property " + quoted(t));
  }

  uint32_t parse_number(PropType type, std::string_view value, std::string_view t) const {
    std::optional<uint32_t> n = type == PropType::kBpfUid ? parse_uid(value) : prog_type_from_name(value);
    if (!n) {
      fail(EBADMSG, "bad value in " + quoted(t) + ": " +
                        (type == PropType::kBpfUid ? "bpf_uid takes a decimal uid below 4294967295"
                                                   : "bpf_prog_type takes a program type as libbpf names it, in upper "
                                                     "case (SYSCALL, KPROBE, TRACEPOINT, LSM, ...)"));
    }
    return *n;
  }

  // ipe_digest_parse(): ALG:HEX; no ':' is EBADMSG, HEX that hex2bin()
  // refuses (odd length, non-hex) is EINVAL. An empty ALG or HEX is accepted.
  Digest parse_digest(std::string_view value, std::string_view token) const {
    size_t colon = value.find(':');
    if (colon == std::string_view::npos) fail(EBADMSG, "digest in " + quoted(token) + " is not ALG:HEX");
    Digest d;
    d.alg = std::string(value.substr(0, colon));
    std::string_view hex = value.substr(colon + 1);
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (hex.size() % 2 != 0) fail(EINVAL, "digest in " + quoted(token) + " has an odd number of hex digits");
    for (size_t i = 0; i < hex.size(); i += 2) {
      int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
      if (hi < 0 || lo < 0) fail(EINVAL, "digest in " + quoted(token) + " is not hex");
      d.value.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    return d;
  }

  // validate_policy(): a global DEFAULT, or a DEFAULT for every op.
  void validate(const Policy& policy) const {
    if (policy.global_default) return;
    for (size_t i = 0; i < kOpCount; ++i) {
      if (!policy.op_defaults[i]) {
        fail(EBADMSG, "no global 'DEFAULT action=...' and no 'DEFAULT op=" + std::string(kOpNames[i]) +
                          " action=...': every op needs a default");
      }
    }
  }

  std::string_view text_;
  const ParseOptions& options_;
  unsigned line_ = 0;
};

std::string hex_lower(const Bytes& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 0xf];
  }
  return s;
}

}  // namespace

std::string_view op_name(Op op) {
  auto i = static_cast<size_t>(op);
  return i < kOpCount ? kOpNames[i] : "UNKNOWN";
}

std::optional<Op> op_from_name(std::string_view name) {
  for (size_t i = 0; i < kOpCount; ++i) {
    if (kOpNames[i] == name) return static_cast<Op>(i);
  }
  return std::nullopt;
}

std::string_view action_name(Action action) { return action == Action::kAllow ? "ALLOW" : "DENY"; }

std::optional<uint32_t> prog_type_from_name(std::string_view name) {
  for (uint32_t type = 1;; ++type) {
    std::optional<std::string_view> known = bpf_prog_type_str(type);
    if (!known) return std::nullopt;
    if (prog_type_name(type) == name) return type;
  }
}

std::string prog_type_name(uint32_t type) {
  std::string name(bpf_prog_type_str(type).value_or("?"));
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

bool property_applies(PropType type, Op op) { return is_bpf_prop(type) == (op == Op::kBpfProgLoad); }

std::string Property::to_text() const {
  std::string s(kPropTokens[static_cast<size_t>(type)]);
  if (digest) s += digest->alg + ":" + hex_lower(digest->value);
  if (number && type == PropType::kBpfUid) s += std::to_string(*number);
  if (number && type == PropType::kBpfProgType) s += prog_type_name(*number);
  return s;
}

std::string Rule::to_text() const {
  std::string s = "op=" + std::string(op_name(op));
  for (const auto& p : props) s += " " + p.to_text();
  return s + " action=" + std::string(action_name(action));
}

std::string Version::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(rev);
}

size_t Policy::rule_count() const {
  size_t n = 0;
  for (const auto& r : rules) n += r.size();
  return n;
}

std::string Policy::render() const {
  std::string s = "policy_name=" + name + " policy_version=" + version.to_string() + "\n";
  if (global_default) s += "DEFAULT action=" + std::string(action_name(*global_default)) + "\n";
  for (size_t i = 0; i < kOpCount; ++i) {
    if (op_defaults[i]) {
      s += "DEFAULT op=" + std::string(kOpNames[i]) + " action=" + std::string(action_name(*op_defaults[i])) + "\n";
    }
  }
  for (const auto& op_rules : rules) {
    for (const auto& r : op_rules) s += r.to_text() + "\n";
  }
  return s;
}

bool Policy::same_as(const Policy& o) const {
  return name == o.name && version == o.version && global_default == o.global_default &&
         op_defaults == o.op_defaults && rules == o.rules;
}

Policy parse_policy(std::string_view text, const ParseOptions& options) {
  if (text.size() > kMaxPolicySize) {
    throw Error(ENOMEM, "ipe_policy_too_large",
                options.source + ": " + std::to_string(text.size()) + " bytes, over the kernel's " +
                    std::to_string(kMaxPolicySize) + " (kmalloc cannot hold it)");
  }
  // ipe_parse_policy(): an empty write is EBADMSG before anything else.
  if (text.empty()) throw Error(EBADMSG, "ipe_policy", options.source + ": empty policy");
  return Parser(text, options).run();
}

std::vector<std::string> policy_warnings(const Policy& policy) {
  std::vector<std::string> out;
  for (const auto& op_rules : policy.rules) {
    for (const auto& r : op_rules) {
      for (const auto& p : r.props) {
        if (!property_applies(p.type, r.op)) {
          out.push_back("line " + std::to_string(r.line) + ": " + quoted(p.to_text()) + " never describes op=" +
                        std::string(op_name(r.op)) + " (evaluated against empty fields: " +
                        (is_bpf_prop(p.type) ? "verdict NONE, keyring 0, not kernel" : "no file") + ")");
        }
      }
    }
  }
  return out;
}

}  // namespace bpfsig::ipe
