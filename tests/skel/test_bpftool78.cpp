// SPDX-License-Identifier: Apache-2.0
// bpfsig against the real bpftool 7.8 (libbpf 1.8), fetched from Debian's
// trixie-backports by scripts/libbpf/fetch-bpftool.sh and run through
// trixie's own loader: for every example object, `bpfsig sign --scheme
// loadtime` must give exactly the opts_insn, opts_data, opts_excl_hash and
// (RSA, so deterministic) opts_sig bytes of `bpftool gen skeleton -L -S`.
// Where bpftool 7.8 cannot be fetched the tests skip with the reason, except
// under CI (CI=true), where they fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

struct Bpftool78 {
  std::string path;    // the wrapper script; empty when unavailable
  std::string reason;  // why it is unavailable
};

const Bpftool78& bpftool78() {
  static const Bpftool78 tool = [] {
    Bpftool78 t;
    test::CommandResult r =
        test::run_command({test::source_dir() + "/scripts/libbpf/fetch-bpftool.sh", BPFSIG_DEPS_DIR});
    if (r.exit_code != 0) {
      t.reason = "bpftool 7.8 could not be fetched (scripts/libbpf/fetch-bpftool.sh): " + r.err;
      return t;
    }
    t.path = std::string(BPFSIG_DEPS_DIR) + "/bpftool-7.8/bpftool";
    return t;
  }();
  return tool;
}

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

#define REQUIRE_BPFTOOL78()                                                        \
  do {                                                                             \
    if (!bpftool78().reason.empty()) {                                             \
      if (under_ci()) FAIL() << "CI=true: " << bpftool78().reason;                 \
      GTEST_SKIP() << "skipped: " << bpftool78().reason;                           \
    }                                                                              \
  } while (0)

std::vector<std::string> example_objects() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(test::examples_dir())) {
    const std::string p = e.path().string();
    if (p.size() > 6 && p.compare(p.size() - 6, 6, ".bpf.o") == 0) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The first byte where two arrays differ, for a message a human can act on.
std::string first_difference(const Bytes& a, const Bytes& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return "first difference at byte " + std::to_string(i) + " (insn " + std::to_string(i / 8) + ")";
  return a.size() == b.size() ? "equal" : "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
}

// Both tools' headers for one object, from a copy of it under the same file
// name (the skeleton and its internal maps are named after it). bpfsig also
// writes its bundle. Empty headers when a tool failed (the test then says why).
struct BothHeaders {
  test::TempDir dir;
  std::string bpftool, bpfsig, bundle_path;
  std::string failure;
};
std::unique_ptr<BothHeaders> both_headers(const std::string& object) {
  auto h = std::make_unique<BothHeaders>();
  test::TestSigner& signer = test::default_signer();  // RSA-2048: PKCS#1 v1.5 signatures are deterministic
  const std::string copy = h->dir.file(object.substr(object.find_last_of('/') + 1));
  std::filesystem::copy_file(object, copy);
  test::CommandResult bt = test::run_command(
      {bpftool78().path, "gen", "skeleton", "-L", "-S", "-k", signer.dir.file("key.pem"), "-i", signer.cert_path(), copy});
  h->bundle_path = h->dir.file("out.bpfsig");
  test::CommandResult bs = test::bpfsig_cmd({"sign", "--scheme", "loadtime", "-k", signer.dir.file("key.pem"), "-i",
                                             signer.cert_path(), "-o", h->bundle_path, "--header",
                                             h->dir.file("bpfsig.h"), copy});
  if (bt.exit_code != 0) h->failure = "bpftool: " + bt.err;
  if (bs.exit_code != 0) h->failure += "bpfsig: " + bs.err;
  if (!h->failure.empty()) return h;
  h->bpftool = bt.out;
  h->bpfsig = test::read_text(h->dir.file("bpfsig.h"));
  return h;
}

}  // namespace

TEST(Bpftool78, RunsAndIsVersion78) {
  REQUIRE_BPFTOOL78();
  test::CommandResult r = test::run_command({bpftool78().path, "version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bpftool v7.8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libbpf v1.8"), std::string::npos) << r.out;
}

TEST(Bpftool78, LoadtimeIsByteIdenticalForEveryExample) {
  REQUIRE_BPFTOOL78();
  const std::vector<std::string> objects = example_objects();
  ASSERT_FALSE(objects.empty()) << "no *.bpf.o in " << test::examples_dir();
  for (const std::string& object : objects) {
    SCOPED_TRACE(object);
    auto h = both_headers(object);
    ASSERT_EQ(h->failure, "");
    const skel::SignedLoader theirs = skel::parse_header(h->bpftool, "bpftool 7.8 header");
    const skel::SignedLoader ours = skel::parse_header(h->bpfsig, "bpfsig header");
    const skel::SignedLoader bundle = skel::read_signed_file(h->bundle_path);
    EXPECT_EQ(ours.name, theirs.name);
    EXPECT_TRUE(ours.insns == theirs.insns) << "opts_insn: " << first_difference(ours.insns, theirs.insns);
    EXPECT_TRUE(ours.data == theirs.data) << "opts_data: " << first_difference(ours.data, theirs.data);
    EXPECT_TRUE(ours.excl_hash == theirs.excl_hash) << "opts_excl_hash differs";
    EXPECT_TRUE(ours.signature == theirs.signature) << "opts_sig: " << first_difference(ours.signature, theirs.signature);
    EXPECT_EQ(ours.map_names, theirs.map_names);
    EXPECT_EQ(ours.prog_names, theirs.prog_names);
    // The bundle holds the same bytes as the header.
    EXPECT_TRUE(bundle.insns == theirs.insns && bundle.data == theirs.data && bundle.signature == theirs.signature &&
                bundle.excl_hash == theirs.excl_hash);
  }
}

// `bpfsig verify` of bpftool 7.8's own header: it names no scheme, has no
// hash-match block and a signature over insns || metadata, so it verifies as
// the load-time scheme (a header is first read as bpftool 7.7's, loader-hash).
TEST(Bpftool78, VerifyTakesBpftoolsHeaderAsTheLoadtimeScheme) {
  REQUIRE_BPFTOOL78();
  auto h = both_headers(test::examples_dir() + "/execcount.bpf.o");
  ASSERT_EQ(h->failure, "");
  test::write_text(h->dir.file("bpftool.lskel.h"), h->bpftool);
  test::TestSigner& signer = test::default_signer();
  test::CommandResult v =
      test::bpfsig_cmd({"verify", "-j", "-i", signer.cert_path(), h->dir.file("bpftool.lskel.h")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("\"verdict\":\"OK\""), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("\"scheme\":\"loadtime\""), std::string::npos) << v.out;
  // One flipped metadata byte is still refused, as the 7.3 kernel refuses it.
  skel::SignedLoader tampered = skel::parse_header(h->bpftool, "bpftool 7.8 header");
  tampered.data[tampered.data.size() / 2] ^= 1;
  skel::SignedInput input{tampered, "header", {}};
  std::vector<crypto::Certificate> trusted;
  trusted.push_back(crypto::load_certificate(signer.cert_path()));
  EXPECT_NE(verify::verify_signed_input(input, trusted).err, 0);
}

// ---- the header is a drop-in for bpftool 7.8's ------------------------------------

namespace {

// A program written for bpftool 7.8's execcount header, kept in one file for
// this test and the VM suite (which runs it to a full load and attach).
std::string bpftool_header_program() { return test::read_text(test::source_dir() + "/tests/skel/bpftool_header_program.c"); }

// The header with bpftool's first comment line, and without the lines only
// <bpfsig/skel_internal.h> reads: what must equal bpftool's output.
std::string as_bpftool_would_write(std::string header) {
  const std::string bpfsig_banner = "/* THIS FILE IS AUTOGENERATED BY BPFSIG: a signed light skeleton, scheme loadtime */";
  size_t at = header.find(bpfsig_banner);
  if (at != std::string::npos) header.replace(at, bpfsig_banner.size(), "/* THIS FILE IS AUTOGENERATED BY BPFTOOL! */");
  const std::string guarded = "#ifdef BPFSIG_SKEL_INTERNAL_H\n\topts.fd_array_cnt = 1;\n#endif\n";
  at = header.find(guarded);
  if (at != std::string::npos) header.erase(at, guarded.size());
  return header;
}

}  // namespace

TEST(Bpftool78, LoadtimeHeaderEqualsBpftoolsBut2Lines) {
  REQUIRE_BPFTOOL78();
  for (const std::string& object : example_objects()) {
    SCOPED_TRACE(object);
    auto h = both_headers(object);
    ASSERT_EQ(h->failure, "");
    const std::string& ours = h->bpfsig;
    EXPECT_NE(ours, h->bpftool);  // the banner names bpfsig and its scheme
    EXPECT_EQ(as_bpftool_would_write(ours), h->bpftool);
  }
}

TEST(Bpftool78, ProgramForBpftoolsHeaderBuildsWithBpfsigsAndLibbpf18) {
  // Needs no bpftool: libbpf 1.8 is part of every build (scripts/libbpf/fetch-build.sh).
  const std::string libbpf = BPFSIG_LIBBPF_DIR;
  ASSERT_TRUE(test::file_exists(libbpf + "/include/bpf/skel_internal.h"));
  ASSERT_EQ(test::read_text(libbpf + "/include/bpf/skel_internal.h"), test::read_text(libbpf + "/source/skel_internal.h"))
      << "the installed skel_internal.h is libbpf 1.8's own";
  test::TestSigner& signer = test::default_signer();
  test::TempDir dir;
  const std::string copy = dir.file("execcount.bpf.o");
  std::filesystem::copy_file(test::examples_dir() + "/execcount.bpf.o", copy);
  test::CommandResult bs = test::bpfsig_cmd({"sign", "--scheme", "loadtime", "-k", signer.dir.file("key.pem"), "-i", signer.cert_path(), "-o",
                                             dir.file("x.bpfsig"), "--header", dir.file("execcount.lskel.h"), copy});
  ASSERT_EQ(bs.exit_code, 0) << bs.err;
  test::write_text(dir.file("prog.c"), bpftool_header_program());
  // Only libbpf 1.8's headers and its UAPI: <bpf/skel_internal.h> is libbpf's, unmodified.
  test::CommandResult cc = test::run_command({"cc", "-std=gnu11", "-Wall", "-Werror", "-I", libbpf + "/include", "-I",
                                              libbpf + "/include/uapi", "-I", dir.path(), dir.file("prog.c"), "-o",
                                              dir.file("prog")});
  ASSERT_EQ(cc.exit_code, 0) << cc.err;
  test::CommandResult run = test::run_command({dir.file("prog"), "open"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "sample_every=1 total_execs=0\n");  // examples/execcount.bpf.c's initial values
  // The same program also builds with bpfsig's own skel_internal.h included first.
  test::CommandResult cc2 = test::run_command({"cc", "-std=gnu11", "-Wall", "-Werror", "-include",
                                               "bpfsig/skel_internal.h", "-I", test::source_dir() + "/include", "-I",
                                               dir.path(), dir.file("prog.c"), "-o", dir.file("prog2")});
  ASSERT_EQ(cc2.exit_code, 0) << cc2.err;
  test::CommandResult run2 = test::run_command({dir.file("prog2"), "open"});
  EXPECT_EQ(run2.out, "sample_every=1 total_execs=0\n");
}
