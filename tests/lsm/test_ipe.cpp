// SPDX-License-Identifier: Apache-2.0
// IPE: the policy language against the kernel parser's rules, evaluation truth
// tables, the securityfs store's version rules, the 1420 audit text, and IpeLsm
// inside an LsmStack.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/ipe.h"
#include "bpfsig/lsm.h"

using namespace bpfsig;
using namespace bpfsig::ipe;
using lsm::IntegrityVerdict;

namespace {

std::string policies_dir() { return std::string(BPFSIG_SOURCE_DIR) + "/tests/lsm/ipe_policies"; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string example(const std::string& name) { return slurp(policies_dir() + "/" + name + ".pol"); }

// Parses text that must fail; returns the error.
Error parse_error(const std::string& text, ParseOptions options = {}) {
  options.source = "policy.txt";
  try {
    parse_policy(text, options);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "parsed: " << text;
  return Error(0, "none", "");
}

constexpr const char* kHeader = "policy_name=t policy_version=0.0.1\n";

Event bpf_event(IntegrityVerdict v, int32_t keyring = 0, bool kernel = false) {
  Event e;
  e.op = Op::kBpfProgLoad;
  e.hook = EvalHook::kBpfProgLoad;
  e.bpf_verdict = v;
  e.bpf_keyring_id = keyring;
  e.bpf_kernel = kernel;
  e.pid = 42;
  e.comm = "loader";
  return e;
}

constexpr std::array<IntegrityVerdict, 8> kAllVerdicts = {
    IntegrityVerdict::kNone,       IntegrityVerdict::kOk,    IntegrityVerdict::kUnsigned,
    IntegrityVerdict::kPartialSig, IntegrityVerdict::kUnknownKey, IntegrityVerdict::kUnexpected,
    IntegrityVerdict::kFault,      IntegrityVerdict::kBadSig,
};

}  // namespace

// ---- the documentation's examples -----------------------------------------------------------

TEST(IpeParse, AcceptsEveryDocumentedExample) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(policies_dir())) {
    if (entry.path().extension() != ".pol") continue;
    ++n;
    SCOPED_TRACE(entry.path().string());
    Policy p = parse_policy(slurp(entry.path()), {entry.path().filename().string(), false});
    EXPECT_FALSE(p.name.empty());
    EXPECT_EQ(p.version, (Version{0, 0, 0}));
    // Canonical text parses back to the same policy, and is a fixed point.
    Policy again = parse_policy(p.render());
    EXPECT_TRUE(again.same_as(p));
    EXPECT_EQ(again.render(), p.render());
  }
  EXPECT_EQ(n, 10u);  // 7 from mainline ipe.rst, 3 BPF ones from the Hornet series
}

TEST(IpeParse, DocumentedBpfPolicyStructure) {
  Policy p = parse_policy(example("allow_signed_bpf"));
  EXPECT_EQ(p.name, "Allow_Signed_BPF");
  EXPECT_EQ(p.global_default, Action::kAllow);
  EXPECT_EQ(p.op_defaults[static_cast<size_t>(Op::kBpfProgLoad)], Action::kDeny);
  ASSERT_EQ(p.rules_for(Op::kBpfProgLoad).size(), 2u);
  EXPECT_EQ(p.rules_for(Op::kBpfProgLoad)[0].to_text(), "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW");
  EXPECT_EQ(p.rules_for(Op::kBpfProgLoad)[0].line, 5u);
  EXPECT_EQ(p.rules_for(Op::kBpfProgLoad)[1].to_text(), "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW");
  EXPECT_EQ(p.rule_count(), 2u);
  EXPECT_EQ(p.render(),
            "policy_name=Allow_Signed_BPF policy_version=0.0.0\n"
            "DEFAULT action=ALLOW\n"
            "DEFAULT op=BPF_PROG_LOAD action=DENY\n"
            "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
            "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\n");
}

TEST(IpeParse, DigestsKeepAlgorithmAndBytesWithoutLengthCheck) {
  // The documented Allow_DMV_By_Roothash example has a 28-byte "sha256" digest: IPE does not check.
  Policy p = parse_policy(example("allow_dmv_by_roothash"));
  const Rule& r = p.rules_for(Op::kExecute).at(0);
  ASSERT_TRUE(r.props.at(0).digest);
  EXPECT_EQ(r.props[0].digest->alg, "sha256");
  EXPECT_EQ(r.props[0].digest->value.size(), 28u);
  // Upper-case hex is accepted and rendered lower-case; empty ALG and HEX parse.
  Policy q = parse_policy(std::string(kHeader) + "DEFAULT action=DENY\nop=EXECUTE fsverity_digest=:AB01 action=ALLOW\n"
                                                 "op=EXECUTE dmverity_roothash=sha256: action=ALLOW\n");
  EXPECT_EQ(q.rules_for(Op::kExecute)[0].to_text(), "op=EXECUTE fsverity_digest=:ab01 action=ALLOW");
  EXPECT_TRUE(q.rules_for(Op::kExecute)[1].props[0].digest->value.empty());
}

TEST(IpeParse, HeaderCutByCommentIsMissingItsVersion) {
  Error e = parse_error("policy_name=x#c policy_version=1.0.0\nDEFAULT action=ALLOW\n");
  EXPECT_EQ(e.err(), EBADMSG);
  EXPECT_NE(std::string(e.what()).find("policy.txt:1:"), std::string::npos) << e.what();
}

TEST(IpeParse, WhitespaceCommentsAndCarriageReturns) {
  Policy p = parse_policy(
      "# leading comment\r\n\t policy_name=x\tpolicy_version=+1.02.3  # note\r\n"
      "\n   DEFAULT\taction=ALLOW   \n\nop=KMODULE   boot_verified=TRUE action=DENY#x\n");
  EXPECT_EQ(p.name, "x");
  EXPECT_EQ(p.version, (Version{1, 2, 3}));
  ASSERT_EQ(p.rules_for(Op::kKmodule).size(), 1u);
  EXPECT_EQ(p.rules_for(Op::kKmodule)[0].line, 6u);
}

TEST(IpeParse, TextEndsAtTheFirstNul) {
  std::string text = std::string(kHeader) + "DEFAULT action=ALLOW\n";
  text += '\0';
  text += "garbage that the kernel never sees\n";
  Policy p = parse_policy(text);
  EXPECT_EQ(p.rule_count(), 0u);
  EXPECT_EQ(p.text, text);
}

TEST(IpeParse, AnyPropertyOnAnyOpIsAcceptedLikeTheKernelUnlessStrict) {
  std::string text = std::string(kHeader) + "DEFAULT action=ALLOW\nop=EXECUTE bpf_signature=OK action=DENY\n";
  Policy p = parse_policy(text);
  EXPECT_EQ(policy_warnings(p).size(), 1u);
  ParseOptions strict;
  strict.strict = true;
  Error e = parse_error(text, strict);
  EXPECT_EQ(e.err(), EBADMSG);
  EXPECT_NE(std::string(e.what()).find("policy.txt:3: property 'bpf_signature=OK' does not apply to op=EXECUTE"),
            std::string::npos)
      << e.what();
  ParseOptions strict2 = strict;
  EXPECT_NO_THROW(parse_policy(example("allow_signed_bpf"), strict2));
  EXPECT_NO_THROW(parse_policy(example("deny_dmv_by_roothash"), strict2));
}

// ---- malformed policies: errno, line and token ---------------------------------------------

struct BadCase {
  const char* name;
  std::string text;
  int err;
  const char* needle;  // must appear in the message
};

class IpeReject : public ::testing::TestWithParam<BadCase> {};

TEST_P(IpeReject, NamesErrnoLineAndToken) {
  const BadCase& c = GetParam();
  Error e = parse_error(c.text);
  EXPECT_EQ(e.err(), c.err) << e.what();
  EXPECT_EQ(e.kind(), "ipe_policy");
  EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << e.what();
}

const std::string kOk = "DEFAULT action=ALLOW\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, IpeReject,
    ::testing::Values(
        BadCase{"empty", "", EBADMSG, "empty policy"},
        BadCase{"only_comments", "# nothing\n\n", EBADMSG, "no header line"},
        BadCase{"missing_header", "DEFAULT action=ALLOW\n", EBADMSG, "policy.txt:1: expected 'policy_name=NAME' in the header, got 'DEFAULT'"},
        BadCase{"header_order", "policy_version=1.0.0 policy_name=x\n" + kOk, EBADMSG, "got 'policy_version=1.0.0'"},
        BadCase{"header_no_version", "policy_name=x\n" + kOk, EBADMSG, "policy.txt:1: the header needs"},
        BadCase{"header_empty_name", "policy_name= policy_version=1.0.0\n" + kOk, EBADMSG, "got 'policy_name='"},
        BadCase{"header_extra", "policy_name=x policy_version=1.0.0 extra=1\n" + kOk, EBADMSG,
                "unexpected token 'extra=1'"},
        BadCase{"version_two_parts", "policy_name=x policy_version=1.0\n" + kOk, EBADMSG, "needs three parts"},
        BadCase{"version_four_parts", "policy_name=x policy_version=1.0.0.0\n" + kOk, EBADMSG,
                "more than three parts"},
        BadCase{"version_not_number", "policy_name=x policy_version=1.a.0\n" + kOk, EINVAL, "version part 'a'"},
        BadCase{"version_empty_part", "policy_name=x policy_version=1..0\n" + kOk, EINVAL, "version part ''"},
        BadCase{"version_negative", "policy_name=x policy_version=-1.0.0\n" + kOk, EINVAL, "version part '-1'"},
        BadCase{"version_overflow", "policy_name=x policy_version=65536.0.0\n" + kOk, ERANGE, "above 65535"},
        BadCase{"version_huge", "policy_name=x policy_version=1.99999999999999999999999.0\n" + kOk, ERANGE,
                "above 65535"},
        BadCase{"unknown_op", std::string(kHeader) + kOk + "op=EXEC action=ALLOW\n", EBADMSG,
                "policy.txt:3: unknown operation 'op=EXEC'"},
        BadCase{"op_lowercase", std::string(kHeader) + kOk + "op=execute action=ALLOW\n", EBADMSG,
                "unknown operation 'op=execute'"},
        BadCase{"no_op", std::string(kHeader) + kOk + "boot_verified=TRUE action=ALLOW\n", EBADMSG,
                "policy.txt:3: expected 'op=OP' or 'DEFAULT' first, got 'boot_verified=TRUE'"},
        BadCase{"action_only", std::string(kHeader) + kOk + "action=ALLOW\n", EBADMSG,
                "policy.txt:3: a rule starts with 'op=OP', got 'action=ALLOW'"},
        BadCase{"unknown_property", std::string(kHeader) + kOk + "op=EXECUTE foo=bar action=ALLOW\n", EBADMSG,
                "policy.txt:3: unknown property 'foo=bar'"},
        BadCase{"bad_value", std::string(kHeader) + kOk + "op=BPF_PROG_LOAD bpf_signature=GOOD action=ALLOW\n",
                EBADMSG, "bad value in 'bpf_signature=GOOD'"},
        BadCase{"bad_keyring", std::string(kHeader) + kOk + "op=BPF_PROG_LOAD bpf_keyring=OTHER action=ALLOW\n",
                EBADMSG, "bad value in 'bpf_keyring=OTHER'"},
        BadCase{"bool_lowercase", std::string(kHeader) + kOk + "op=BPF_PROG_LOAD bpf_kernel=true action=ALLOW\n",
                EBADMSG, "bad value in 'bpf_kernel=true'"},
        BadCase{"digest_no_colon", std::string(kHeader) + kOk + "op=EXECUTE fsverity_digest=abcd action=ALLOW\n",
                EBADMSG, "is not ALG:HEX"},
        BadCase{"digest_odd_hex", std::string(kHeader) + kOk + "op=EXECUTE fsverity_digest=sha256:abc action=ALLOW\n",
                EINVAL, "odd number of hex digits"},
        BadCase{"digest_not_hex", std::string(kHeader) + kOk + "op=EXECUTE dmverity_roothash=sha256:zz action=ALLOW\n",
                EINVAL, "is not hex"},
        BadCase{"digest_empty", std::string(kHeader) + kOk + "op=EXECUTE dmverity_roothash= action=ALLOW\n", EBADMSG,
                "bad value in 'dmverity_roothash='"},
        BadCase{"missing_action", std::string(kHeader) + kOk + "op=EXECUTE boot_verified=TRUE\n", EBADMSG,
                "policy.txt:3: expected 'action=ALLOW' or 'action=DENY' as the last token, got 'boot_verified=TRUE'"},
        BadCase{"bad_action", std::string(kHeader) + kOk + "op=EXECUTE action=MAYBE\n", EBADMSG, "got 'action=MAYBE'"},
        BadCase{"action_not_last", std::string(kHeader) + kOk + "op=EXECUTE action=ALLOW boot_verified=TRUE\n",
                EBADMSG, "misplaced 'action=ALLOW'"},
        BadCase{"two_ops", std::string(kHeader) + kOk + "op=EXECUTE op=KMODULE action=ALLOW\n", EBADMSG,
                "misplaced 'op=KMODULE'"},
        BadCase{"default_alone", std::string(kHeader) + "DEFAULT\n", EBADMSG, "got 'DEFAULT'"},
        BadCase{"default_with_property",
                std::string(kHeader) + "DEFAULT op=EXECUTE boot_verified=TRUE action=ALLOW\n" + kOk, EBADMSG,
                "policy.txt:2: a DEFAULT takes no property"},
        BadCase{"duplicate_global_default", std::string(kHeader) + kOk + "DEFAULT action=DENY\n", EBADMSG,
                "policy.txt:3: duplicate global DEFAULT"},
        BadCase{"duplicate_op_default",
                std::string(kHeader) + kOk + "DEFAULT op=KMODULE action=DENY\nDEFAULT op=KMODULE action=DENY\n",
                EBADMSG, "policy.txt:4: duplicate DEFAULT op=KMODULE"},
        BadCase{"no_default", std::string(kHeader) + "op=EXECUTE action=ALLOW\n", EBADMSG,
                "no 'DEFAULT op=EXECUTE action=...'"},
        BadCase{"missing_op_defaults",
                std::string(kHeader) +
                    "DEFAULT op=EXECUTE action=ALLOW\nDEFAULT op=FIRMWARE action=ALLOW\nDEFAULT op=KMODULE action=ALLOW\n"
                    "DEFAULT op=KEXEC_IMAGE action=ALLOW\nDEFAULT op=KEXEC_INITRAMFS action=ALLOW\n"
                    "DEFAULT op=POLICY action=ALLOW\nDEFAULT op=X509_CERT action=ALLOW\n",
                EBADMSG, "'DEFAULT op=BPF_PROG_LOAD action=...'"},
        BadCase{"second_header", std::string(kHeader) + kOk + "policy_name=y policy_version=1.0.0\n", EBADMSG,
                "policy.txt:3:"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(IpeParse, EveryOpWithItsOwnDefaultIsComplete) {
  std::string text = kHeader;
  for (size_t i = 0; i < kOpCount; ++i) {
    text += "DEFAULT op=" + std::string(op_name(static_cast<Op>(i))) + " action=DENY\n";
  }
  Policy p = parse_policy(text);
  EXPECT_FALSE(p.global_default);
  for (const auto& d : p.op_defaults) EXPECT_EQ(d, Action::kDeny);
}

TEST(IpeParse, TooLargeIsEnomem) {
  std::string text = std::string(kHeader) + kOk;
  text.resize(kMaxPolicySize, '#');  // comments: still a valid policy at the limit
  EXPECT_NO_THROW(parse_policy(text));
  text += "#";
  try {
    parse_policy(text);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOMEM);
    EXPECT_EQ(e.kind(), "ipe_policy_too_large");
  }
}

TEST(IpeParse, AllPropertiesRoundTrip) {
  std::string text = std::string(kHeader) + kOk;
  const char* props[] = {"boot_verified=FALSE",       "boot_verified=TRUE",       "dmverity_roothash=sha256:00ff",
                         "dmverity_signature=FALSE",  "dmverity_signature=TRUE",  "fsverity_digest=sha512:0102",
                         "fsverity_signature=FALSE",  "fsverity_signature=TRUE",  "bpf_signature=NONE",
                         "bpf_signature=OK",          "bpf_signature=UNSIGNED",   "bpf_signature=PARTIALSIG",
                         "bpf_signature=UNKNOWNKEY",  "bpf_signature=UNEXPECTED", "bpf_signature=FAULT",
                         "bpf_signature=BADSIG",      "bpf_keyring=BUILTIN",      "bpf_keyring=SECONDARY",
                         "bpf_keyring=PLATFORM",      "bpf_kernel=FALSE",         "bpf_kernel=TRUE"};
  for (const char* p : props) {
    for (size_t i = 0; i < kOpCount; ++i) {
      text += "op=" + std::string(op_name(static_cast<Op>(i))) + " " + p + " action=DENY\n";
    }
  }
  Policy pol = parse_policy(text);
  EXPECT_EQ(pol.rule_count(), 21u * kOpCount);
  for (size_t i = 0; i < kOpCount; ++i) {
    for (size_t k = 0; k < 21; ++k) EXPECT_EQ(pol.rules[i][k].props[0].to_text(), props[k]);
  }
  EXPECT_TRUE(parse_policy(pol.render()).same_as(pol));
}

// ---- evaluation ---------------------------------------------------------------------------

TEST(IpeEval, DocumentedBpfPolicyTruthTable) {
  Policy p = parse_policy(example("allow_signed_bpf"));
  for (IntegrityVerdict v : kAllVerdicts) {
    for (bool kernel : {false, true}) {
      for (int32_t keyring : {0, 1, 2}) {
        SCOPED_TRACE(std::string(lsm::verdict_name(v)) + " kernel=" + std::to_string(kernel) +
                     " keyring=" + std::to_string(keyring));
        Decision d = evaluate(p, bpf_event(v, keyring, kernel));
        bool allow = kernel || v == IntegrityVerdict::kOk;
        EXPECT_EQ(d.action, allow ? Action::kAllow : Action::kDeny);
        if (kernel) {
          EXPECT_EQ(d.rule_text(Op::kBpfProgLoad), "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW");
        } else if (allow) {
          EXPECT_EQ(d.rule_text(Op::kBpfProgLoad), "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW");
        } else {
          EXPECT_EQ(d.match, MatchType::kOpDefault);
          EXPECT_TRUE(d.is_default());
          EXPECT_EQ(d.rule_text(Op::kBpfProgLoad), "DEFAULT op=BPF_PROG_LOAD action=DENY");
        }
      }
    }
  }
}

TEST(IpeEval, BuiltinKeyringPolicyTruthTable) {
  Policy p = parse_policy(example("allow_bpf_builtin_keyring"));
  for (IntegrityVerdict v : kAllVerdicts) {
    for (bool kernel : {false, true}) {
      for (int32_t keyring : {0, 1, 2}) {
        Decision d = evaluate(p, bpf_event(v, keyring, kernel));
        bool allow = kernel || (v == IntegrityVerdict::kOk && keyring == 0);
        EXPECT_EQ(d.action, allow ? Action::kAllow : Action::kDeny)
            << lsm::verdict_name(v) << " " << kernel << " " << keyring;
      }
    }
  }
}

TEST(IpeEval, PartialPolicyTruthTable) {
  Policy p = parse_policy(example("allow_bpf_partial"));
  for (IntegrityVerdict v : kAllVerdicts) {
    for (bool kernel : {false, true}) {
      for (int32_t keyring : {0, 1, 2}) {
        Decision d = evaluate(p, bpf_event(v, keyring, kernel));
        bool allow = kernel || v == IntegrityVerdict::kOk || v == IntegrityVerdict::kPartialSig;
        EXPECT_EQ(d.action, allow ? Action::kAllow : Action::kDeny);
      }
    }
  }
}

TEST(IpeEval, EachVerdictAndKeyringPropertyMatchesExactlyItsValue) {
  const char* sig_names[] = {"NONE", "OK", "UNSIGNED", "PARTIALSIG", "UNKNOWNKEY", "UNEXPECTED", "FAULT", "BADSIG"};
  const char* keyrings[] = {"BUILTIN", "SECONDARY", "PLATFORM"};
  for (size_t want = 0; want < 8; ++want) {
    Policy p = parse_policy(std::string(kHeader) + "DEFAULT action=DENY\nop=BPF_PROG_LOAD bpf_signature=" +
                            sig_names[want] + " action=ALLOW\n");
    for (size_t got = 0; got < 8; ++got) {
      EXPECT_EQ(evaluate(p, bpf_event(kAllVerdicts[got])).action, got == want ? Action::kAllow : Action::kDeny);
    }
  }
  for (int32_t want = 0; want < 3; ++want) {
    Policy p = parse_policy(std::string(kHeader) + "DEFAULT action=DENY\nop=BPF_PROG_LOAD bpf_keyring=" +
                            keyrings[want] + " action=ALLOW\n");
    for (int32_t got : {0, 1, 2, 3, -1, 12345}) {
      EXPECT_EQ(evaluate(p, bpf_event(IntegrityVerdict::kOk, got)).action,
                got == want ? Action::kAllow : Action::kDeny);
    }
  }
  Policy k = parse_policy(std::string(kHeader) + "DEFAULT action=ALLOW\nop=BPF_PROG_LOAD bpf_kernel=FALSE action=DENY\n");
  EXPECT_EQ(evaluate(k, bpf_event(IntegrityVerdict::kOk, 0, false)).action, Action::kDeny);
  EXPECT_EQ(evaluate(k, bpf_event(IntegrityVerdict::kOk, 0, true)).action, Action::kAllow);
}

TEST(IpeEval, FirstMatchWinsAndPropertiesAreAnded) {
  Policy p = parse_policy(std::string(kHeader) +
                          "DEFAULT action=ALLOW\n"
                          "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=PLATFORM action=DENY\n"
                          "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\n"
                          "op=BPF_PROG_LOAD action=DENY\n");
  Decision a = evaluate(p, bpf_event(IntegrityVerdict::kOk, 2));
  EXPECT_EQ(a.action, Action::kDeny);
  EXPECT_EQ(a.rule->line, 3u);
  Decision b = evaluate(p, bpf_event(IntegrityVerdict::kOk, 0));
  EXPECT_EQ(b.action, Action::kAllow);
  EXPECT_EQ(b.rule->line, 4u);
  Decision c = evaluate(p, bpf_event(IntegrityVerdict::kUnsigned, 2));
  EXPECT_EQ(c.action, Action::kDeny);  // the property-less rule matches everything
  EXPECT_EQ(c.rule->line, 5u);
  EXPECT_FALSE(c.is_default());
  // Other ops have no rules: the global default.
  Event exec;
  exec.op = Op::kExecute;
  Decision d = evaluate(p, exec);
  EXPECT_EQ(d.match, MatchType::kGlobalDefault);
  EXPECT_EQ(d.rule_text(Op::kExecute), "DEFAULT action=ALLOW");
}

TEST(IpeEval, OpDefaultBeatsGlobalDefault) {
  Policy p = parse_policy(std::string(kHeader) + "DEFAULT action=DENY\nDEFAULT op=KMODULE action=ALLOW\n");
  Event e;
  e.op = Op::kKmodule;
  EXPECT_EQ(evaluate(p, e).action, Action::kAllow);
  EXPECT_EQ(evaluate(p, e).match, MatchType::kOpDefault);
  e.op = Op::kFirmware;
  EXPECT_EQ(evaluate(p, e).action, Action::kDeny);
  EXPECT_EQ(evaluate(p, e).match, MatchType::kGlobalDefault);
}

TEST(IpeEval, FileProperties) {
  Policy p = parse_policy(example("deny_dmv_by_roothash"));
  Event e;
  e.op = Op::kExecute;
  e.hook = EvalHook::kBprmCheck;
  EXPECT_EQ(evaluate(p, e).action, Action::kDeny);  // no file: no property holds but the FALSE ones
  FileInfo f;
  f.from_initramfs = true;
  e.file = f;
  EXPECT_EQ(evaluate(p, e).action, Action::kAllow);
  // The revoked volume is denied even though it is signed and in the initramfs.
  Digest revoked{"sha256", {}};
  for (size_t i = 0; i < 64; i += 2) {
    revoked.value.push_back(static_cast<uint8_t>(
        std::stoi(std::string("cd2c5bae7c6c579edaae4353049d58eb5f2e8be0244bf05345bc8e5ed257baff").substr(i, 2), nullptr,
                  16)));
  }
  e.file->dmverity_roothash = revoked;
  e.file->dmverity_signed = true;
  EXPECT_EQ(evaluate(p, e).action, Action::kDeny);
  EXPECT_EQ(evaluate(p, e).rule->line, 4u);
  // Same bytes under another algorithm name do not match.
  e.file->dmverity_roothash->alg = "sha512";
  EXPECT_EQ(evaluate(p, e).action, Action::kAllow);

  Policy fsv = parse_policy(example("allow_signed_and_validated_fsverity"));
  FileInfo g;
  g.fsverity_signed = true;  // without fs-verity enabled (no digest) the flag means nothing
  e.file = g;
  EXPECT_EQ(evaluate(fsv, e).action, Action::kDeny);
  e.file->fsverity_digest = Digest{"sha256", Bytes(32, 1)};
  EXPECT_EQ(evaluate(fsv, e).action, Action::kAllow);
}

TEST(IpeEval, PropertiesOfOtherOpsSeeEmptyFields) {
  // As in the kernel: a BPF property on EXECUTE sees verdict NONE, keyring 0, not kernel;
  // a file property on BPF_PROG_LOAD sees no file.
  Policy p = parse_policy(std::string(kHeader) +
                          "DEFAULT action=DENY\n"
                          "op=EXECUTE bpf_signature=NONE bpf_keyring=BUILTIN bpf_kernel=FALSE action=ALLOW\n"
                          "op=BPF_PROG_LOAD boot_verified=FALSE dmverity_signature=FALSE fsverity_signature=FALSE "
                          "action=ALLOW\n");
  Event exec;
  exec.op = Op::kExecute;
  EXPECT_EQ(evaluate(p, exec).action, Action::kAllow);
  EXPECT_EQ(evaluate(p, bpf_event(IntegrityVerdict::kBadSig)).action, Action::kAllow);
}

// ---- audit ------------------------------------------------------------------------------------

TEST(IpeAudit, FieldOrderAndRuleTextAsAuditC) {
  Policy p = parse_policy(example("allow_signed_bpf"));
  Event e = bpf_event(IntegrityVerdict::kOk);
  EXPECT_EQ(audit_fields(e, evaluate(p, e), true),
            "ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=1 pid=42 comm=\"loader\" path=? dev=? ino=? "
            "rule=\"op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\"");
  e = bpf_event(IntegrityVerdict::kUnsigned);
  e.comm = "my loader";  // a space: hex, unquoted, like audit_log_untrustedstring()
  EXPECT_EQ(audit_fields(e, evaluate(p, e), false),
            "ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=0 pid=42 comm=6D79206C6F61646572 path=? dev=? ino=? "
            "rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\"");
  Policy all = parse_policy(example("allow_all"));
  EXPECT_NE(audit_fields(e, evaluate(all, e), true).find(" rule=\"DEFAULT action=ALLOW\""), std::string::npos);
}

TEST(IpeAudit, FileEventAndDigestInUpperCase) {
  // The documentation's own example record, rebuilt.
  Policy p = parse_policy(std::string(kHeader) + "DEFAULT action=DENY\n");
  Event e;
  e.op = Op::kExecute;
  e.hook = EvalHook::kMmap;
  e.pid = 2241;
  e.comm = "ld-linux.so";
  e.file = FileInfo{"/deny/lib/libc.so.6", "sda2", 14549020, false, std::nullopt, false, std::nullopt, false};
  EXPECT_EQ(audit_fields(e, evaluate(p, e), true),
            "ipe_op=EXECUTE ipe_hook=MMAP enforcing=1 pid=2241 comm=\"ld-linux.so\" path=\"/deny/lib/libc.so.6\" "
            "dev=\"sda2\" ino=14549020 rule=\"DEFAULT action=DENY\"");
  Policy d = parse_policy(std::string(kHeader) + "DEFAULT action=ALLOW\nop=EXECUTE fsverity_digest=sha256:ab0f action=DENY\n");
  e.file->fsverity_digest = Digest{"sha256", {0xab, 0x0f}};
  EXPECT_NE(audit_fields(e, evaluate(d, e), true).find("rule=\"op=EXECUTE fsverity_digest=\"sha256\":AB0F action=DENY\""),
            std::string::npos)
      << audit_fields(e, evaluate(d, e), true);
}

// ---- the store ----------------------------------------------------------------------------------

std::string versioned(const std::string& name, const std::string& version, const std::string& action = "ALLOW") {
  return "policy_name=" + name + " policy_version=" + version + "\nDEFAULT action=" + action + "\n";
}

template <class F>
Error store_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(0, "none", "");
}

TEST(IpeStore, LoadActivateUpdateDeleteWithTheKernelsErrnos) {
  PolicyStore s;
  EXPECT_EQ(s.active(), nullptr);
  EXPECT_FALSE(s.evaluate(bpf_event(IntegrityVerdict::kUnsigned)).decision);  // no policy: allow, no audit
  s.load(versioned("a", "1.0.0"));
  EXPECT_EQ(s.active(), nullptr);  // loading does not activate
  EXPECT_EQ(store_error([&] { s.load(versioned("a", "2.0.0")); }).err(), EEXIST);
  s.activate("a");
  EXPECT_EQ(s.active()->name, "a");

  s.load(versioned("b", "0.9.9"));
  Error rollback = store_error([&] { s.activate("b"); });
  EXPECT_EQ(rollback.err(), EINVAL);
  EXPECT_EQ(rollback.kind(), "ipe_policy_rollback");
  s.load(versioned("c", "1.0.0"));
  s.activate("c");  // an equal version may be activated
  EXPECT_EQ(s.active()->name, "c");
  s.activate("c");  // activating the active policy is a no-op

  // Update: same name, strictly higher version than the policy it replaces.
  EXPECT_EQ(store_error([&] { s.update("b", versioned("b", "0.9.9")); }).err(), ESTALE);
  EXPECT_EQ(store_error([&] { s.update("b", versioned("b", "0.9.8")); }).err(), ESTALE);
  Error mismatch = store_error([&] { s.update("b", versioned("x", "5.0.0")); });
  EXPECT_EQ(mismatch.err(), EINVAL);
  EXPECT_EQ(mismatch.kind(), "ipe_policy_name_mismatch");
  EXPECT_EQ(store_error([&] { s.update("nope", versioned("nope", "1.0.0")); }).err(), ENOENT);
  EXPECT_EQ(store_error([&] { s.update("b", "junk"); }).err(), EBADMSG);
  s.update("b", versioned("b", "0.10.0"));  // above its own old version, still below the active one: allowed
  EXPECT_EQ(s.find("b")->version, (Version{0, 10, 0}));

  // Updating the active policy keeps it active.
  s.update("c", versioned("c", "1.0.1", "DENY"));
  EXPECT_EQ(s.active()->version, (Version{1, 0, 1}));
  EXPECT_EQ(s.evaluate(bpf_event(IntegrityVerdict::kOk)).err, -EACCES);

  // Versions compare as major, then minor, then revision.
  s.load(versioned("d", "0.65535.65535"));
  EXPECT_EQ(store_error([&] { s.activate("d"); }).err(), EINVAL);

  // Delete: not the active one.
  Error active = store_error([&] { s.remove("c"); });
  EXPECT_EQ(active.err(), EPERM);
  EXPECT_EQ(active.kind(), "ipe_policy_active");
  s.remove("a");
  EXPECT_EQ(s.find("a"), nullptr);
  EXPECT_EQ(store_error([&] { s.remove("a"); }).err(), ENOENT);
  EXPECT_EQ(store_error([&] { s.activate("a"); }).err(), ENOENT);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"b", "c", "d"}));
}

TEST(IpeStore, NamesSecurityfsCannotHoldAreEacces) {
  PolicyStore s;
  EXPECT_EQ(store_error([&] { s.load(versioned("a/b", "1.0.0")); }).err(), EACCES);
  EXPECT_EQ(store_error([&] { s.load(versioned("..", "1.0.0")); }).err(), EACCES);
  EXPECT_EQ(store_error([&] { s.load(versioned(".", "1.0.0")); }).kind(), "ipe_policy_name");
}

TEST(IpeStore, EnforceAndPermissive) {
  PolicyStore s;
  s.activate(s.load(example("allow_signed_bpf")).name);
  StoreResult deny = s.evaluate(bpf_event(IntegrityVerdict::kUnsigned));
  EXPECT_EQ(deny.err, -EACCES);
  EXPECT_TRUE(deny.audited);
  EXPECT_NE(deny.audit.find("enforcing=1"), std::string::npos);
  StoreResult allow = s.evaluate(bpf_event(IntegrityVerdict::kOk));
  EXPECT_EQ(allow.err, 0);
  EXPECT_FALSE(allow.audited);  // success_audit is off by default
  s.enforce = false;
  StoreResult permissive = s.evaluate(bpf_event(IntegrityVerdict::kUnsigned));
  EXPECT_EQ(permissive.err, 0);
  EXPECT_EQ(permissive.decision->action, Action::kDeny);
  EXPECT_TRUE(permissive.audited);
  EXPECT_NE(permissive.audit.find("enforcing=0"), std::string::npos);
  s.success_audit = true;
  EXPECT_TRUE(s.evaluate(bpf_event(IntegrityVerdict::kOk)).audited);
}

// ---- IpeLsm in a stack ----------------------------------------------------------------------------

namespace {

// An integrity LSM that reports a fixed verdict (like Hornet would).
class FixedReporter : public lsm::Lsm {
 public:
  FixedReporter(std::string name, IntegrityVerdict verdict)
      : Lsm({std::move(name), lsm::LsmId::kHornet}, lsm::hook_bit(lsm::Hook::kBpfProgLoadIntegrity)),
        verdict_(verdict) {}
  int bpf_prog_load_integrity(lsm::ProgView& prog, const lsm::ProgLoadAttr& attr, const lsm::Token* token,
                              bool kernel) override {
    return report_integrity(prog, attr, token, kernel, verdict_);
  }

 private:
  IntegrityVerdict verdict_;
};

std::shared_ptr<PolicyStore> store_with(const std::string& policy_name) {
  auto store = std::make_shared<PolicyStore>();
  store->activate(store->load(example(policy_name)).name);
  return store;
}

struct Loaded {
  int rc;
  std::vector<lsm::AuditRecord> records;
};

Loaded load_through(lsm::LsmStack& stack, bool kernel, int32_t keyring = 0) {
  stack.set_current(lsm::Caller{77, "loader", 0, {lsm::Cap::kBpf, lsm::Cap::kPerfmon}});
  lsm::ProgView prog;
  lsm::ProgLoadAttr attr;
  attr.keyring_id = keyring;
  int rc = stack.security_bpf_prog_load(prog, attr, nullptr, kernel);
  return {rc, stack.audit_log().records()};
}

const lsm::AuditRecord* ipe_record(const Loaded& l) {
  for (const auto& r : l.records) {
    if (r.lsm_text) return &r;
  }
  return nullptr;
}

}  // namespace

TEST(IpeLsm, IdentityAndRegistry) {
  IpeLsm ipe;
  EXPECT_EQ(ipe.name(), "ipe");
  EXPECT_EQ(ipe.ident().id, lsm::LsmId::kIpe);
  EXPECT_TRUE(ipe.implements(lsm::Hook::kBpfProgLoadPostIntegrity));
  EXPECT_TRUE(ipe.implements(lsm::Hook::kBpfProgLoad));
  EXPECT_FALSE(ipe.implements(lsm::Hook::kBpfProgLoadIntegrity));
  lsm::LsmStack stack("ipe", lsm::builtin_registry());
  ASSERT_EQ(stack.lsms().size(), 2u);
  EXPECT_EQ(stack.lsms()[1]->name(), "ipe");
  // Without a policy IPE allows everything and writes nothing of its own.
  Loaded l = load_through(stack, false);
  EXPECT_EQ(l.rc, 0);
  EXPECT_EQ(ipe_record(l), nullptr);
}

TEST(IpeLsm, NoIntegrityLsmMeansVerdictNone) {
  lsm::LsmStack stack;
  stack.add(std::make_unique<IpeLsm>(store_with("allow_signed_bpf")));
  Loaded user = load_through(stack, false);
  EXPECT_EQ(user.rc, -EACCES);
  const lsm::AuditRecord* r = ipe_record(user);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->verdict, IntegrityVerdict::kNone);
  EXPECT_EQ(r->to_audit_line(),
            "type=1420 audit(0.000:1): ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=1 pid=77 comm=\"loader\" "
            "path=? dev=? ino=? rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\"");
  EXPECT_NE(r->to_json_line().find("\"text\":\"ipe_op=BPF_PROG_LOAD"), std::string::npos);
  lsm::LsmStack stack2;
  stack2.add(std::make_unique<IpeLsm>(store_with("allow_signed_bpf")));
  EXPECT_EQ(load_through(stack2, true).rc, 0);  // bpf_kernel=TRUE
}

TEST(IpeLsm, VerdictFromAnIntegrityLsmTruthTable) {
  for (IntegrityVerdict v : kAllVerdicts) {
    for (bool kernel : {false, true}) {
      for (int32_t keyring : {0, 1, 2}) {
        lsm::LsmStack stack;
        stack.add(std::make_unique<FixedReporter>("hornet", v));
        auto store = store_with("allow_bpf_builtin_keyring");
        store->success_audit = true;
        stack.add(std::make_unique<IpeLsm>(store));
        Loaded l = load_through(stack, kernel, keyring);
        bool allow = kernel || (v == IntegrityVerdict::kOk && keyring == 0);
        EXPECT_EQ(l.rc, allow ? 0 : -EACCES) << lsm::verdict_name(v) << kernel << keyring;
        const lsm::AuditRecord* r = ipe_record(l);
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->verdict, v);
        EXPECT_EQ(r->err, l.rc);
      }
    }
  }
}

TEST(IpeLsm, LastReportWinsAndSignedOnlyAgreesOnOk) {
  // Two integrity LSMs: IPE keeps the last verdict (hooks.c overwrites its blob).
  lsm::LsmStack stack;
  stack.add(std::make_unique<FixedReporter>("first", IntegrityVerdict::kOk));
  stack.add(std::make_unique<FixedReporter>("second", IntegrityVerdict::kBadSig));
  stack.add(std::make_unique<IpeLsm>(store_with("allow_signed_bpf")));
  EXPECT_EQ(load_through(stack, false).rc, -EACCES);

  // SignedOnly (needs one OK) then IPE: both allow an OK program.
  lsm::LsmStack ok;
  ok.add(std::make_unique<FixedReporter>("hornet", IntegrityVerdict::kOk));
  ok.add(std::make_unique<lsm::SignedOnlyLsm>());
  ok.add(std::make_unique<IpeLsm>(store_with("allow_signed_bpf")));
  Loaded l = load_through(ok, false);
  EXPECT_EQ(l.rc, 0);
  EXPECT_EQ(ipe_record(l), nullptr);  // an ALLOW is audited only with success_audit

  // PARTIALSIG: IPE's Allow_BPF_Partial allows it, but SignedOnly, first in the stack, refuses (-EPERM).
  lsm::LsmStack partial;
  partial.add(std::make_unique<FixedReporter>("hornet", IntegrityVerdict::kPartialSig));
  partial.add(std::make_unique<lsm::SignedOnlyLsm>());
  partial.add(std::make_unique<IpeLsm>(store_with("allow_bpf_partial")));
  EXPECT_EQ(load_through(partial, false).rc, -EPERM);
  lsm::LsmStack partial_ipe_only;
  partial_ipe_only.add(std::make_unique<FixedReporter>("hornet", IntegrityVerdict::kPartialSig));
  partial_ipe_only.add(std::make_unique<IpeLsm>(store_with("allow_bpf_partial")));
  EXPECT_EQ(load_through(partial_ipe_only, false).rc, 0);
}

TEST(IpeLsm, PermissiveLogsButAllows) {
  lsm::LsmStack stack;
  stack.add(std::make_unique<FixedReporter>("hornet", IntegrityVerdict::kUnsigned));
  auto store = store_with("allow_signed_bpf");
  store->enforce = false;
  stack.add(std::make_unique<IpeLsm>(store));
  Loaded l = load_through(stack, false);
  EXPECT_EQ(l.rc, 0);
  const lsm::AuditRecord* r = ipe_record(l);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->to_audit_line().find("enforcing=0"), std::string::npos);
  EXPECT_NE(r->to_audit_line().find("rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\""), std::string::npos);
}
