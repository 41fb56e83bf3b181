// SPDX-License-Identifier: Apache-2.0
// bpfsig run: signed loaders through the kernel model, unprivileged.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bpfsig/skel.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

using test::bpfsig_cmd;

// A key, a certificate and the signed execcount example, made once, in the
// loader-hash scheme (the 6.18 profile is run's default for it).
struct Signed {
  test::TempDir dir;
  std::string cert = dir.file("c.der"), bundle = dir.file("x.bpfsig");
  Signed() {
    EXPECT_EQ(bpfsig_cmd({"keygen", "--key", dir.file("k.pem"), "--cert", cert}).exit_code, 0);
    EXPECT_EQ(bpfsig_cmd({"sign", "--scheme", "loader-hash", "-k", dir.file("k.pem"), "-i", cert, "-o", bundle,
                          test::examples_dir() + "/execcount.bpf.o"})
                  .exit_code,
              0);
  }
};
Signed& signed_example() {
  static Signed s;
  return s;
}

Json run_json(std::vector<std::string> args, int expected_exit) {
  args.insert(args.begin(), {"run", "-j"});
  auto r = bpfsig_cmd(args);
  EXPECT_EQ(r.exit_code, expected_exit) << r.err;
  return Json::parse(r.out);
}

// The audit records of one hook, in order.
Json records_of(const Json& run, const std::string& hook) {
  Json out = Json::array();
  for (const auto& r : run["audit"])
    if (r["hook"] == hook) out.push_back(r);
  return out;
}

}  // namespace

TEST(CliRun, SignedLoaderWithTrustedCertLoadsInTheModel) {
  Json j = run_json({"-i", signed_example().cert, signed_example().bundle}, 0);
  EXPECT_EQ(j["decision"], "loaded");
  EXPECT_EQ(j["loader_retval"], 0);
  ASSERT_EQ(j["programs"].size(), 1u);
  EXPECT_EQ(j["programs"][0]["name"], "count_execve");
  EXPECT_EQ(j["programs"][0]["type"], "tracepoint");
  EXPECT_EQ(j["maps"].size(), 3u);
  EXPECT_EQ(j["maps"][0]["type"], "hash");
  // The loader and the program it loads both pass the capability LSM, and so
  // do the loader's map and the three maps the loader creates.
  Json loads = records_of(j, "bpf_prog_load");
  ASSERT_EQ(loads.size(), 2u);
  EXPECT_EQ(loads[0]["lsm"], "capability");
  EXPECT_EQ(loads[1]["decision"], "allow");
  Json creates = records_of(j, "bpf_map_create");
  ASSERT_EQ(creates.size(), 4u);
  for (const auto& r : creates) EXPECT_EQ(r["decision"], "allow");
  EXPECT_EQ(j["audit"].size(), 6u);
}

TEST(CliRun, UntrustedSignerIsRefusedWithEnokey) {
  Json j = run_json({signed_example().bundle}, 1);
  EXPECT_EQ(j["decision"], "refused");
  EXPECT_EQ(j["errno_name"], "ENOKEY");
  EXPECT_EQ(records_of(j, "bpf_prog_load").size(), 0u) << "the signature is checked before any program hook";
  EXPECT_EQ(records_of(j, "bpf_map_create").size(), 1u) << "only the loader's own map was created";
}

TEST(CliRun, SignedOnlyRefusesWithoutAnIntegrityLsm) {
  Json j = run_json({"--lsm", "capability,signed-only", "-i", signed_example().cert, signed_example().bundle}, 1);
  EXPECT_EQ(j["errno_name"], "EPERM");
  Json loads = records_of(j, "bpf_prog_load");
  ASSERT_EQ(loads.size(), 2u);
  EXPECT_EQ(loads[1]["lsm"], "signed-only");
  EXPECT_EQ(loads[1]["verdict"], "NONE");
  EXPECT_EQ(loads[1]["decision"], "deny");
  EXPECT_EQ(j["audit"].back(), loads[1]) << "the denial is the last record";
}

TEST(CliRun, TamperedMetadataMakesTheModelledLoaderReturnEinval) {
  skel::SignedLoader l = skel::read_signed_file(signed_example().bundle);
  l.data[l.data.size() / 2] ^= 0x04;
  test::TempDir d;
  write_file_atomic(d.file("t.bpfsig"), skel::encode_bundle(l));
  Json j = run_json({"-i", signed_example().cert, d.file("t.bpfsig")}, 1);
  EXPECT_EQ(j["errno_name"], "EINVAL");
  EXPECT_EQ(j["loader_retval"], 0) << "no skeleton result on failure";
  EXPECT_NE(j["message"].get<std::string>().find("-22"), std::string::npos) << j["message"];
}

TEST(CliRun, Bpftool77HeaderLoadsInTheModelWithItsSignatureChecked) {
  SKIP_UNLESS(test::missing_shared_testdata());
  std::string dir = test::shared_testdata() + "/bpftool-7.7";
  Json j = run_json({"-i", dir + "/cert.der", dir + "/prog.lskel.h"}, 0);
  ASSERT_EQ(j["programs"].size(), 1u);
  EXPECT_EQ(j["programs"][0]["name"], "handle_execve");
}

TEST(CliRun, NestedFailureNamesTheLoadersFailingBpfCall) {
  test::TempDir d;
  // stack_map_alloc refuses a STACK_TRACE value that is not a multiple of 8.
  SKIP_UNLESS(test::compile_bpf_c(
      d, "stack",
      "#define SEC(n) __attribute__((section(n), used))\n"
      "#define __uint(name, val) int (*name)[val]\n"
      "struct { __uint(type, 7); __uint(key_size, 4); __uint(value_size, 12); __uint(max_entries, 2); } events SEC(\".maps\");\n"
      "SEC(\"tracepoint/syscalls/sys_enter_execve\") int on_exec(void *ctx) { return 0; }\n"
      "char LICENSE[] SEC(\"license\") = \"GPL\";\n"));
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der")}).exit_code, 0);
  ASSERT_EQ(bpfsig_cmd({"sign", "--scheme", "loader-hash", "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o",
                        d.file("p.bpfsig"), d.file("stack.bpf.o")})
                .exit_code,
            0);
  Json j = run_json({"-i", d.file("c.der"), d.file("p.bpfsig")}, 1);
  EXPECT_EQ(j["errno_name"], "EINVAL");
  const std::string reason = "a stack trace map needs key_size 4 and a value_size that is a non-zero multiple of 8";
  EXPECT_EQ(j["nested_failure"], (Json{{"command", "BPF_MAP_CREATE"}, {"object", "events"},
                                       {"map_type", "STACK_TRACE"}, {"errno", 22},
                                       {"errno_name", "EINVAL"}, {"reason", reason}}));
  auto human = bpfsig_cmd({"run", "-i", d.file("c.der"), d.file("p.bpfsig")});
  EXPECT_NE(human.out.find("  bpf_sys_bpf BPF_MAP_CREATE 'events' (STACK_TRACE) failed: " + reason + " [EINVAL]\n"),
            std::string::npos)
      << human.out;
}

TEST(CliRun, NoNestedFailureIsNull) {
  Json j = run_json({"-i", signed_example().cert, signed_example().bundle}, 0);
  EXPECT_TRUE(j["nested_failure"].is_null());
}

TEST(CliRun, UnknownKernelProfileIsBadUsage) {
  auto r = bpfsig_cmd({"run", "--kernel", "no-such-kernel", signed_example().bundle});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("[EINVAL, usage]"), std::string::npos) << r.err;
}

// Without --kernel, run takes the kernel the file's scheme is for: sign's
// default (loadtime) loads under the loadtime profile, loader-hash under 6.18.
TEST(CliRun, WithoutKernelTheFilesSchemePicksTheProfile) {
  Signed& s = signed_example();
  const std::string loadtime = s.dir.file("lt.bpfsig");
  ASSERT_EQ(bpfsig_cmd({"sign", "-k", s.dir.file("k.pem"), "-i", s.cert, "-o", loadtime,
                        test::examples_dir() + "/execcount.bpf.o"})
                .exit_code,
            0);
  Json lt = run_json({"-i", s.cert, loadtime}, 0);
  EXPECT_EQ(lt["kernel"], "loadtime");
  EXPECT_EQ(lt["decision"], "loaded");
  Json lh = run_json({"-i", s.cert, s.bundle}, 0);
  EXPECT_EQ(lh["kernel"], "6.18");
  // An explicit --kernel still wins: the load-time file under 6.18 is refused.
  Json forced = run_json({"--kernel", "6.18", "-i", s.cert, loadtime}, 1);
  EXPECT_EQ(forced["kernel"], "6.18");
  EXPECT_EQ(forced["decision"], "refused");
}
