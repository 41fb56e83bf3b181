// SPDX-License-Identifier: Apache-2.0
// Signed bundles and headers against the running kernel (root). What the
// kernel cannot do is reported as "skipped: <reason>", never passed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <nlohmann/json.hpp>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "skel/matchblock.h"
#include "support/sign_options.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

const sys::KernelFeatures& features() { return test::kernel_features(); }

#define REQUIRE_BPF() SKIP_UNLESS(test::missing_excl_maps())

test::TestSigner& keys() { return test::default_signer(); }

skel::SignedLoader signed_example(const std::string& name, skel::MatchLayout layout) {
  skel::SignOptions o = test::loader_hash_options(layout, skel::MismatchTarget::kCleanup);
  return skel::sign_object(test::examples_dir() + "/" + name + ".bpf.o", keys().cert.get(), keys().key.get(), o);
}

sys::LoadOptions unsigned_load() {
  sys::LoadOptions o;
  o.send_signature = false;
  return o;
}

struct Expected {
  std::string example;
  std::vector<std::pair<std::string, std::string>> progs;  // kernel name, type
  size_t map_count;
};

int load_error(const skel::SignedLoader& l, const sys::LoadOptions& o, std::string* kind) {
  try {
    sys::LoadResult r = sys::load(l, o);
    sys::close_fds(r);
  } catch (const Error& e) {
    *kind = e.kind();
    return e.err();
  }
  return 0;
}

// bpfsig's own keyring is "bpfsig:<pid>". Once removed it is invalidated: the
// kernel's key garbage collector may still list it for a moment, flagged 'i'
// (or 'D' once dead) in the flags column of /proc/keys.
bool own_keyring_is_gone() {
  const std::string name = "bpfsig:" + std::to_string(::getpid());
  std::istringstream keys(test::read_text("/proc/keys"));
  for (std::string line; std::getline(keys, line);) {
    if (line.find(name) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string serial, flags;
    fields >> serial >> flags;
    if (flags.find('i') == std::string::npos && flags.find('D') == std::string::npos) return false;
  }
  return true;
}

}  // namespace

class KernelLoad : public ::testing::TestWithParam<skel::MatchLayout> {};

TEST_P(KernelLoad, ExamplesLoadAndCreateTheirObjects) {
  REQUIRE_BPF();
  const std::vector<Expected> cases = {
      {"execcount", {{"count_execve", "tracepoint"}}, 3},
      {"multimap", {{"on_enter", "tracepoint"}, {"on_exit", "tracepoint"}}, 5},
      {"xdpfilter", {{"xdp_filter", "xdp"}}, 2},
  };
  for (const auto& c : cases) {
    skel::SignedLoader l = signed_example(c.example, GetParam());
    sys::LoadResult r = sys::load(l, unsigned_load());
    EXPECT_EQ(r.loader_retval, 0);
    ASSERT_EQ(r.progs.size(), c.progs.size()) << c.example;
    for (size_t i = 0; i < c.progs.size(); ++i) {
      EXPECT_EQ(r.progs[i].name, c.progs[i].first);
      EXPECT_EQ(r.progs[i].type_name, c.progs[i].second);
      EXPECT_GT(r.progs[i].id, 0u);
    }
    EXPECT_EQ(r.maps.size(), c.map_count) << c.example;
    for (const auto& m : r.maps) EXPECT_GT(m.id, 0u);
    EXPECT_EQ(r.loader_prog.name, "__loader.prog");
    EXPECT_EQ(r.loader_map.name, "__loader.map");
    sys::close_fds(r);
  }
}

TEST_P(KernelLoad, TamperedMetadataMakesTheLoaderReturnEinval) {
  REQUIRE_BPF();
  skel::SignedLoader l = signed_example("execcount", GetParam());
  l.data[l.data.size() / 3] ^= 0x10;
  std::string kind;
  EXPECT_EQ(load_error(l, unsigned_load(), &kind), EINVAL);
  EXPECT_EQ(kind, "loader_failed");
}

TEST_P(KernelLoad, TamperedInstructionsAreRefusedByTheExclusiveMap) {
  REQUIRE_BPF();
  skel::SignedLoader l = signed_example("execcount", GetParam());
  auto prog = isa::decode(l.insns);
  // Change what the stack-zeroing call is given: a harmless-looking edit.
  prog[3].imm += 8;
  l.insns = isa::encode(prog);
  std::string kind;
  EXPECT_EQ(load_error(l, unsigned_load(), &kind), EACCES);
  EXPECT_EQ(kind, "bpf_syscall");
}

TEST_P(KernelLoad, SignedLoadIsCheckedOrRefusedWithEopnotsupp) {
  REQUIRE_BPF();
  skel::SignedLoader l = signed_example("execcount", GetParam());
  std::string kind;
  sys::LoadOptions opts;
  opts.trusted_certs_der = {l.signer_cert};  // the test's own signer: the anchor comes from the caller
  int err = load_error(l, opts, &kind);
  if (features().signed_load) {
    // A kernel with PKCS#7 support checks the signature against our own keyring.
    EXPECT_EQ(err, 0) << kind;
  } else {
    EXPECT_EQ(err, EOPNOTSUPP);
    EXPECT_EQ(kind, "kernel_no_sig");
    EXPECT_TRUE(own_keyring_is_gone()) << test::read_text("/proc/keys");
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, KernelLoad, ::testing::Values(skel::MatchLayout::k618, skel::MatchLayout::kExcl),
                         [](const auto& info) { return info.param == skel::MatchLayout::k618 ? "L618" : "Excl"; });

TEST(KernelLoadCli, UserspaceVerifyLoadsBpftool77Header) {
  SKIP_UNLESS(test::missing_shared_testdata());
  REQUIRE_BPF();
  std::string dir = test::shared_testdata() + "/bpftool-7.7";
  auto r = test::run_command({test::cli_path(), "load", "-j", "--userspace-verify", "-i", dir + "/cert.der",
                              dir + "/prog.lskel.h"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["signature_sent"], false);
  EXPECT_NE(j["signature"].get<std::string>().find("did not check"), std::string::npos);
  ASSERT_EQ(j["programs"].size(), 1u);
  EXPECT_EQ(j["programs"][0]["name"], "handle_execve");
  EXPECT_EQ(j["programs"][0]["type"], "tracepoint");
  EXPECT_EQ(j["maps"].size(), 3u);
}

TEST(KernelLoadCli, UserspaceVerifyRefusesTheMasterHeader) {
  SKIP_UNLESS(test::missing_shared_testdata());
  REQUIRE_BPF();
  std::string dir = test::shared_testdata() + "/bpftool-7.7";
  auto r = test::run_command({test::cli_path(), "load", "--userspace-verify", "-i", dir + "/cert.der",
                              dir + "/prog.master.lskel.h"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("PARTIALSIG"), std::string::npos) << r.err;
}

TEST(KernelLoadCli, SignedLoadSaysPlainlyWhatTheKernelAnswered) {
  REQUIRE_BPF();
  if (features().signed_load) GTEST_SKIP() << "skipped: this kernel verifies signatures; covered by KernelLoad";
  test::TempDir d;
  auto k = test::run_command({test::cli_path(), "keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der")});
  ASSERT_EQ(k.exit_code, 0);
  auto s = test::run_command({test::cli_path(), "sign", "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o",
                              d.file("x.bpfsig"), test::examples_dir() + "/execcount.bpf.o"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto r = test::run_command({test::cli_path(), "load", "-i", d.file("c.der"), d.file("x.bpfsig")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("EOPNOTSUPP"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot verify BPF program signatures"), std::string::npos) << r.err;
  size_t lines = 0;
  for (char c : r.err) lines += c == '\n';
  EXPECT_EQ(lines, 1u) << r.err;
}

// A header written by `bpfsig sign --header`, compiled against bpfsig's own
// skel_internal.h by a C compiler, loads from a C program.
TEST(KernelLoadHeader, GeneratedHeaderCompilesAndLoads) {
  REQUIRE_BPF();
  test::TempDir d;
  skel::SignedLoader l = signed_example("execcount", skel::MatchLayout::kExcl);
  test::write_text(d.file("execcount.lskel.h"), skel::render_header(l));
  test::write_text(d.file("main.c"), R"(#include <stdio.h>
#include "execcount.lskel.h"
int main(void)
{
	struct execcount_bpf *skel = execcount_bpf__open();
	if (!skel)
		return 10;
	int err = execcount_bpf__load(skel);
	printf("load=%d prog_fd=%d map_fd=%d\n", err, skel->progs.count_execve.prog_fd, skel->maps.exec_counts.map_fd);
	execcount_bpf__destroy(skel);
	return err < 0 ? -err : 0;
}
)");
  for (bool kernel_sig : {true, false}) {
    std::vector<std::string> cc = {"cc", "-std=gnu11", "-Wall", "-Werror", "-I", test::source_dir() + "/include",
                                   d.file("main.c"), "-o", d.file("main")};
    if (!kernel_sig) cc.insert(cc.begin() + 1, "-DBPFSIG_SKEL_NO_KERNEL_SIG");
    auto c = test::run_command(cc);
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto r = test::run_command({d.file("main")});
    if (kernel_sig && !features().signed_load) {
      EXPECT_EQ(r.exit_code, EOPNOTSUPP) << r.out << r.err;
    } else {
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_NE(r.out.find("load=0"), std::string::npos) << r.out;
    }
  }
}

namespace {

// The loader's copy of a program's last instruction (`exit`) in the metadata
// blob, made an opcode no kernel knows: the nested BPF_PROG_LOAD fails.
bool break_last_program_exit(Bytes& data) {
  const uint8_t exit_insn[8] = {0x95, 0, 0, 0, 0, 0, 0, 0};
  // gen_loader keeps every blob entry 8-byte aligned.
  for (size_t end = data.size() / 8 * 8; end >= 8; end -= 8)
    if (std::equal(exit_insn, exit_insn + 8, data.begin() + static_cast<std::ptrdiff_t>(end - 8))) {
      data[end - 8] = 0xff;
      return true;
    }
  return false;
}

}  // namespace

// A loadtime loader has no hash-match block, so an unsigned load of a blob
// changed inside a program reaches the program's own PROG_LOAD: the error
// names that program, and --verifier-log brings the verifier's reason.
TEST(KernelLoadLog, AFailingProgramIsNamedWithItsVerifierLog) {
  REQUIRE_BPF();
  skel::SignOptions o;
  o.scheme = skel::Scheme::kLoadtime;
  skel::SignedLoader l =
      skel::sign_object(test::examples_dir() + "/execcount.bpf.o", keys().cert.get(), keys().key.get(), o);
  ASSERT_TRUE(break_last_program_exit(l.data));
  sys::LoadOptions opts = unsigned_load();
  opts.verifier_log_level = 1;
  try {
    sys::close_fds(sys::load(l, opts));
    ADD_FAILURE() << "a program with an unknown opcode loaded";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_EQ(e.kind(), "loader_failed") << what;
    EXPECT_NE(what.find("creating program '" + l.prog_names.front() + "' failed"), std::string::npos) << what;
    EXPECT_NE(what.find("verifier log"), std::string::npos) << what;
    EXPECT_NE(what.find("last insn is not an exit or jmp"), std::string::npos) << what;
  }
  // Without the log, the message says how to get it.
  opts.verifier_log_level = 0;
  try {
    sys::close_fds(sys::load(l, opts));
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--verifier-log"), std::string::npos) << e.what();
  }
}
