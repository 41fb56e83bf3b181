// SPDX-License-Identifier: Apache-2.0
// bpfsig policy check / policy eval, and run --ipe-policy.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

test::CommandResult policy_cmd(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), test::cli_path());
  return test::run_command(args, stdin_text);
}

std::string doc_policy(const std::string& name) {
  return test::source_dir() + "/tests/lsm/ipe_policies/" + name + ".pol";
}

}  // namespace

TEST(CliPolicy, CheckPrintsNameVersionAndCounts) {
  auto r = policy_cmd({"policy", "check", doc_policy("allow_signed_bpf")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("name: Allow_Signed_BPF\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("version: 0.0.0\n"), std::string::npos);
  EXPECT_NE(r.out.find("global default: ALLOW\n"), std::string::npos);
  EXPECT_NE(r.out.find("op defaults: BPF_PROG_LOAD=DENY\n"), std::string::npos);
  EXPECT_NE(r.out.find("rules: 2 (BPF_PROG_LOAD 2)\n"), std::string::npos);

  auto j = policy_cmd({"policy", "check", "--json", doc_policy("allow_signed_bpf")});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  Json doc = Json::parse(j.out);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["name"], "Allow_Signed_BPF");
  EXPECT_EQ(doc["rule_count"], 2);
  EXPECT_EQ(doc["rules_per_op"]["BPF_PROG_LOAD"], 2);
  EXPECT_EQ(doc["op_defaults"]["BPF_PROG_LOAD"], "DENY");
  EXPECT_EQ(doc["rules"][1]["line"], 6);
  EXPECT_EQ(doc["warnings"].size(), 0u);

  auto c = policy_cmd({"policy", "check", "--canonical", doc_policy("allow_signed_bpf")});
  EXPECT_EQ(c.out,
            "policy_name=Allow_Signed_BPF policy_version=0.0.0\nDEFAULT action=ALLOW\n"
            "DEFAULT op=BPF_PROG_LOAD action=DENY\nop=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
            "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\n");
}

TEST(CliPolicy, CheckErrorNamesLineAndToken) {
  test::TempDir d;
  test::write_text(d.file("bad.pol"), "policy_name=x policy_version=1.0.0\nDEFAULT action=ALLOW\nop=EXECUTE foo=bar action=ALLOW\n");
  auto r = policy_cmd({"policy", "check", d.file("bad.pol")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "bpfsig policy: " + d.file("bad.pol") + ":3: unknown property 'foo=bar' [EBADMSG, ipe_policy]\n");
  auto j = policy_cmd({"policy", "check", "--json", d.file("bad.pol")});
  EXPECT_EQ(j.exit_code, 1);
  Json doc = Json::parse(j.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["error"]["errno_name"], "EBADMSG");
  EXPECT_EQ(doc["error"]["kind"], "ipe_policy");
}

TEST(CliPolicy, StrictRefusesWhatTheKernelAccepts) {
  test::TempDir d;
  test::write_text(d.file("p.pol"), "policy_name=x policy_version=1.0.0\nDEFAULT action=ALLOW\nop=EXECUTE bpf_kernel=TRUE action=DENY\n");
  auto lax = policy_cmd({"policy", "check", d.file("p.pol")});
  EXPECT_EQ(lax.exit_code, 0);
  EXPECT_NE(lax.out.find("warning: line 3: 'bpf_kernel=TRUE' never describes op=EXECUTE"), std::string::npos) << lax.out;
  auto strict = policy_cmd({"policy", "check", "--strict", d.file("p.pol")});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_NE(strict.err.find(":3: property 'bpf_kernel=TRUE' does not apply to op=EXECUTE"), std::string::npos);
}

TEST(CliPolicy, EvalAllowDenyPermissiveAndExitCodes) {
  const std::string pol = doc_policy("allow_signed_bpf");
  auto allow = policy_cmd({"policy", "eval", "--policy", pol, "-"},
                          R"({"op":"BPF_PROG_LOAD","bpf_signature":"OK","keyring_id":0,"kernel":false,"pid":1,"comm":"loader"})");
  EXPECT_EQ(allow.exit_code, 0) << allow.err;
  EXPECT_NE(allow.out.find("decision: ALLOW\n"), std::string::npos) << allow.out;
  EXPECT_NE(allow.out.find("matched: op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW (line 6)\n"), std::string::npos);
  EXPECT_NE(allow.out.find("audit: type=1420 audit(0.000:1): ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=1 "
                           "pid=1 comm=\"loader\" path=? dev=? ino=? rule=\"op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW\""),
            std::string::npos)
      << allow.out;

  const std::string unsigned_event = R"({"op":"BPF_PROG_LOAD","bpf_signature":"UNSIGNED","pid":9,"comm":"evil"})";
  auto deny = policy_cmd({"policy", "eval", "--policy", pol, "--json", "-"}, unsigned_event);
  EXPECT_EQ(deny.exit_code, 1);
  Json d = Json::parse(deny.out);
  EXPECT_EQ(d["ok"], false);
  EXPECT_EQ(d["action"], "DENY");
  EXPECT_EQ(d["match"], "op_default");
  EXPECT_EQ(d["default"], true);
  EXPECT_EQ(d["rule"], "DEFAULT op=BPF_PROG_LOAD action=DENY");
  EXPECT_EQ(d["return"], -13);
  EXPECT_EQ(d["errno_name"], "EACCES");
  EXPECT_EQ(d["audited"], true);

  auto permissive = policy_cmd({"policy", "eval", "--policy", pol, "--permissive", "--json", "-"}, unsigned_event);
  EXPECT_EQ(permissive.exit_code, 0);
  Json p = Json::parse(permissive.out);
  EXPECT_EQ(p["action"], "DENY");
  EXPECT_EQ(p["return"], 0);
  EXPECT_NE(p["audit"].get<std::string>().find("enforcing=0"), std::string::npos);
}

TEST(CliPolicy, EvalFileEventAndBadEvents) {
  test::TempDir d;
  test::write_text(d.file("e.json"),
                   R"({"op":"EXECUTE","hook":"MMAP","pid":3,"comm":"sh","file":{"path":"/bin/sh","dev":"vda","ino":5,)"
                   R"("fsverity_digest":"sha256:fd88f2b8824e197f850bf4c5109bea5cf0ee38104f710843bb72da796ba5af9e"}})");
  auto r = policy_cmd({"policy", "eval", "--policy", doc_policy("allow_fsv_by_digest"), d.file("e.json")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("path=\"/bin/sh\" dev=\"vda\" ino=5 rule=\"op=EXECUTE fsverity_digest=\"sha256\":FD88"),
            std::string::npos)
      << r.out;

  auto typo = policy_cmd({"policy", "eval", "--policy", doc_policy("allow_all"), "-"}, R"({"op":"BPF_PROG_LOAD","kernal":true})");
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("unknown field \"kernal\" [EINVAL, ipe_event]"), std::string::npos) << typo.err;
  auto bad_op = policy_cmd({"policy", "eval", "--policy", doc_policy("allow_all"), "-"}, R"({"op":"LOAD"})");
  EXPECT_EQ(bad_op.exit_code, 1);
  EXPECT_NE(bad_op.err.find("unknown op \"LOAD\""), std::string::npos);
  auto not_json = policy_cmd({"policy", "eval", "--policy", doc_policy("allow_all"), "-"}, "{");
  EXPECT_EQ(not_json.exit_code, 1);
  EXPECT_NE(not_json.err.find("ipe_event"), std::string::npos);
  auto usage = policy_cmd({"policy", "eval", "-"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST(CliPolicy, RunWiresThePolicyIntoTheModelStack) {
  test::TempDir d;
  const std::string cert = d.file("c.der"), bundle = d.file("x.bpfsig");
  ASSERT_EQ(policy_cmd({"keygen", "--key", d.file("k.pem"), "--cert", cert}).exit_code, 0);
  // In the scheme of run's default kernel profile (6.18).
  ASSERT_EQ(policy_cmd({"sign", "--scheme", "loader-hash", "-k", d.file("k.pem"), "-i", cert, "-o", bundle,
                        test::examples_dir() + "/execcount.bpf.o"})
                .exit_code,
            0);
  // No integrity LSM reports in the model (no Hornet yet): the loader's verdict is NONE,
  // so the documented policy refuses the user-space load of the loader.
  auto refused = policy_cmd({"run", "-j", "--lsm", "capability,ipe", "--ipe-policy", doc_policy("allow_signed_bpf"),
                             "-i", cert, bundle});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  Json r = Json::parse(refused.out);
  EXPECT_EQ(r["decision"], "refused");
  EXPECT_EQ(r["errno_name"], "EACCES");
  bool saw_rule = false;
  for (const auto& rec : r["audit"]) {
    if (rec.contains("text") &&
        rec["text"].get<std::string>().find("rule=\"DEFAULT op=BPF_PROG_LOAD action=DENY\"") != std::string::npos)
      saw_rule = true;
  }
  EXPECT_TRUE(saw_rule) << refused.out;

  // Allow_All: loads, and IPE's records (success_audit) name the global default.
  auto loaded = policy_cmd({"run", "--lsm", "capability,ipe", "--ipe-policy", doc_policy("allow_all"), "-i", cert, bundle});
  EXPECT_EQ(loaded.exit_code, 0) << loaded.err;
  EXPECT_NE(loaded.out.find("ipe_op=BPF_PROG_LOAD ipe_hook=BPF_PROG_LOAD enforcing=1"), std::string::npos) << loaded.out;
  EXPECT_NE(loaded.out.find("rule=\"DEFAULT action=ALLOW\""), std::string::npos);

  auto no_ipe = policy_cmd({"run", "--ipe-policy", doc_policy("allow_all"), bundle});
  EXPECT_EQ(no_ipe.exit_code, 2);  // bad usage: an option that does not apply
  EXPECT_NE(no_ipe.err.find("--ipe-policy needs ipe in --lsm"), std::string::npos) << no_ipe.err;
}
