// SPDX-License-Identifier: Apache-2.0
// ipe::manifest_loads: the IPE events of a deep-verify manifest, in load order,
// and the errors that name a malformed manifest's field by its JSON path.
#include <gtest/gtest.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "bpfsig/error.h"
#include "bpfsig/ipe.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::ipe;
using Json = nlohmann::ordered_json;
using lsm::IntegrityVerdict;

namespace {

std::string manifest_path(const std::string& name) { return test::source_dir() + "/tests/testdata/manifests/" + name; }

Json manifest(const std::string& name) { return Json::parse(test::read_text(manifest_path(name))); }

Policy example_policy(const std::string& name) {
  return parse_policy(test::read_text(test::source_dir() + "/examples/" + name), {.source = name});
}

// The one-line message manifest_loads() throws for m, or "" when it accepts it.
std::string manifest_error(const Json& m) {
  try {
    manifest_loads(m, "m.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "bad_manifest");
    return e.what();
  }
  return "";
}

}  // namespace

TEST(IpeManifest, TheLoaderThenEachKernelLoad) {
  std::vector<ManifestLoad> loads = manifest_loads(manifest("execcount.json"), "execcount.json");
  ASSERT_EQ(loads.size(), 2u);

  const ManifestLoad& loader = loads[0];
  EXPECT_EQ(loader.path, "loader");
  EXPECT_EQ(loader.program, "__loader.prog");
  EXPECT_EQ(loader.event.op, Op::kBpfProgLoad);
  EXPECT_EQ(loader.event.hook, EvalHook::kBpfProgLoad);
  EXPECT_EQ(loader.event.bpf_verdict, IntegrityVerdict::kOk);
  EXPECT_EQ(loader.event.bpf_keyring_id, 0);
  EXPECT_FALSE(loader.event.bpf_kernel);
  EXPECT_EQ(prog_type_name(loader.event.bpf_prog_type), "SYSCALL");
  EXPECT_FALSE(loader.event.file.has_value());
  // The caller bpfsig run's hook trace shows.
  EXPECT_EQ(loader.event.pid, 1);
  EXPECT_EQ(loader.event.comm, "bpfsig");
  EXPECT_EQ(loader.event.uid, 0u);

  const ManifestLoad& prog = loads[1];
  EXPECT_EQ(prog.path, "programs[0]");
  EXPECT_EQ(prog.program, "count_execve");
  EXPECT_EQ(prog.event.bpf_verdict, IntegrityVerdict::kUnsigned);  // Hornet's report for a load without a signature
  EXPECT_EQ(prog.event.bpf_keyring_id, 0);                         // gen_loader's attr leaves keyring_id 0
  EXPECT_TRUE(prog.event.bpf_kernel);
  EXPECT_EQ(prog_type_name(prog.event.bpf_prog_type), "TRACEPOINT");
}

TEST(IpeManifest, KernelLoadsComeInIndexOrderNotArrayOrder) {
  Json m = manifest("multimap.json");
  ASSERT_EQ(m["programs"][0]["name"], "on_exit");  // listed first, index 1
  std::vector<ManifestLoad> loads = manifest_loads(m, "multimap.json");
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(loads[1].program, "on_enter");
  EXPECT_EQ(loads[1].path, "programs[1]");
  EXPECT_EQ(loads[2].program, "on_exit");
  EXPECT_EQ(loads[2].path, "programs[0]");
}

TEST(IpeManifest, AProgramTheLoaderDoesNotLoadMakesNoEvent) {
  Json m = manifest("multimap.json");
  m["programs"][0]["kernel"] = false;
  std::vector<ManifestLoad> loads = manifest_loads(m, "m.json");
  ASSERT_EQ(loads.size(), 2u);
  EXPECT_EQ(loads[1].program, "on_enter");
}

TEST(IpeManifest, SignatureVerdictAndKeyringReachTheLoadersEvent) {
  Json m = manifest("unsigned-loader.json");
  EXPECT_EQ(manifest_loads(m, "m.json")[0].event.bpf_verdict, IntegrityVerdict::kUnsigned);
  for (const auto& [name, id] : std::vector<std::pair<std::string, int32_t>>{
           {"builtin", 0}, {"secondary", 1}, {"platform", 2}, {"session", -3}, {"user", -4}}) {
    m["signature"]["keyring"] = name;
    std::vector<ManifestLoad> loads = manifest_loads(m, "m.json");
    EXPECT_EQ(loads[0].event.bpf_keyring_id, id) << name;
    EXPECT_EQ(loads[1].event.bpf_keyring_id, 0) << name;  // the loader's own loads name no keyring
  }
  EXPECT_EQ(keyring_property_name(0), "BUILTIN");
  EXPECT_EQ(keyring_property_name(2), "PLATFORM");
  EXPECT_EQ(keyring_property_name(-4), "USER");
}

TEST(IpeManifest, SignedOnlyPolicyAllowsEveryLoadOfASignedSkeleton) {
  Policy p = example_policy("signed-only.pol");
  std::vector<ManifestLoad> loads = manifest_loads(manifest("multimap.json"), "multimap.json");
  ASSERT_EQ(loads.size(), 3u);
  EXPECT_EQ(evaluate(p, loads[0].event).rule_text(Op::kBpfProgLoad), "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW");
  for (size_t i = 1; i < loads.size(); ++i) {
    Decision d = evaluate(p, loads[i].event);
    EXPECT_EQ(d.action, Action::kAllow);
    EXPECT_EQ(d.rule_text(Op::kBpfProgLoad), "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW");
  }
  Decision unsigned_loader = evaluate(p, manifest_loads(manifest("unsigned-loader.json"), "u.json")[0].event);
  EXPECT_EQ(unsigned_loader.action, Action::kDeny);
  EXPECT_EQ(unsigned_loader.rule_text(Op::kBpfProgLoad), "DEFAULT op=BPF_PROG_LOAD action=DENY");
}

TEST(IpeManifest, AMalformedManifestNamesTheFieldByItsPath) {
  const Json good = manifest("multimap.json");
  ASSERT_EQ(manifest_error(good), "");
  struct Case {
    std::string name;
    std::function<void(Json&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"not an object", [](Json& m) { m = Json::array(); }, "m.json: expected a JSON object (a bpfsig manifest)"},
      {"no schema", [](Json& m) { m.erase("schema"); }, "m.json: schema: missing"},
      {"other schema", [](Json& m) { m["schema"] = "bpfsig-manifest/2"; },
       "m.json: schema: \"bpfsig-manifest/2\" is not \"bpfsig-manifest/1\""},
      {"no signature", [](Json& m) { m.erase("signature"); }, "m.json: signature: missing"},
      {"verdict a number", [](Json& m) { m["signature"]["verdict"] = 1; }, "m.json: signature.verdict: expected a string"},
      {"verdict unknown", [](Json& m) { m["signature"]["verdict"] = "GOOD"; },
       "m.json: signature.verdict: unknown verdict \"GOOD\" (OK, UNSIGNED, PARTIALSIG, UNKNOWNKEY, UNEXPECTED, FAULT or "
       "BADSIG)"},
      {"verdict NONE", [](Json& m) { m["signature"]["verdict"] = "NONE"; },
       "m.json: signature.verdict: unknown verdict \"NONE\" (OK, UNSIGNED, PARTIALSIG, UNKNOWNKEY, UNEXPECTED, FAULT or "
       "BADSIG)"},
      {"no keyring", [](Json& m) { m["signature"].erase("keyring"); }, "m.json: signature.keyring: missing"},
      {"keyring unknown", [](Json& m) { m["signature"]["keyring"] = "own"; },
       "m.json: signature.keyring: unknown keyring \"own\" (builtin, secondary, platform, session or user)"},
      {"loader null", [](Json& m) { m["loader"] = nullptr; }, "m.json: loader: expected an object"},
      {"loader type", [](Json& m) { m["loader"]["type"] = "syscall"; },
       "m.json: loader.type: unknown program type \"syscall\" (libbpf's names in upper case)"},
      {"no programs", [](Json& m) { m.erase("programs"); }, "m.json: programs: missing"},
      {"programs object", [](Json& m) { m["programs"] = Json::object(); }, "m.json: programs: expected an array"},
      {"program a string", [](Json& m) { m["programs"][1] = "on_enter"; }, "m.json: programs[1]: expected an object"},
      {"kernel missing", [](Json& m) { m["programs"][1].erase("kernel"); }, "m.json: programs[1].kernel: missing"},
      {"kernel a string", [](Json& m) { m["programs"][1]["kernel"] = "true"; },
       "m.json: programs[1].kernel: expected a boolean"},
      {"index negative", [](Json& m) { m["programs"][0]["index"] = -1; },
       "m.json: programs[0].index: expected a non-negative integer"},
      {"index fraction", [](Json& m) { m["programs"][0]["index"] = 0.5; },
       "m.json: programs[0].index: expected a non-negative integer"},
      {"index twice", [](Json& m) { m["programs"][1]["index"] = 1; }, "m.json: programs[1].index: 1 is also programs[0]'s"},
      {"name missing", [](Json& m) { m["programs"][0].erase("name"); }, "m.json: programs[0].name: missing"},
      {"type unknown", [](Json& m) { m["programs"][0]["type"] = "TRACEPOINTS"; },
       "m.json: programs[0].type: unknown program type \"TRACEPOINTS\" (libbpf's names in upper case)"},
  };
  for (const Case& c : cases) {
    Json m = good;
    c.change(m);
    EXPECT_EQ(manifest_error(m), c.message) << c.name;
  }
}
