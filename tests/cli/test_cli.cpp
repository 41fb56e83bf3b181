// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of the bpfsig command, with openssl as the independent
// verifier of every signature bpfsig writes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "bpfsig/skel.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

using test::bpfsig_cmd;

std::string example(const std::string& name) { return test::examples_dir() + "/" + name + ".bpf.o"; }
std::string bpftool_file(const std::string& f) { return test::shared_testdata() + "/bpftool-7.7/" + f; }

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// keygen + sign, returning the bundle path.
std::string make_signed(const test::TempDir& d, const std::string& algo, const std::string& ex,
                        const std::string& layout = "excl") {
  auto k = bpfsig_cmd({"keygen", "--force", "--key", d.file(algo + ".pem"), "--cert", d.file(algo + ".der"), "--algo", algo});
  EXPECT_EQ(k.exit_code, 0) << k.err;
  std::string out = d.file(ex + "-" + algo + "-" + layout + ".bpfsig");
  auto s = bpfsig_cmd({"sign", "-k", d.file(algo + ".pem"), "-i", d.file(algo + ".der"), "--scheme", "loader-hash",
                       "--layout", layout, "--mismatch-target", "cleanup", "-o", out, example(ex)});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  return out;
}

}  // namespace

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, KeygenSignVerifyAndOpensslAgrees) {
  test::TempDir d;
  const std::string algo = GetParam();
  std::string bundle = make_signed(d, algo, "execcount");
  auto v = bpfsig_cmd({"verify", "-i", d.file(algo + ".der"), bundle});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find(": OK:"), std::string::npos) << v.out;

  // The independent check: openssl cms over the raw instructions.
  skel::SignedLoader l = skel::read_signed_file(bundle);
  write_file_atomic(d.file("insns.bin"), l.insns);
  write_file_atomic(d.file("sig.p7s"), l.signature);
  auto o = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", d.file("sig.p7s"),
                              "-content", d.file("insns.bin"), "-certfile", d.file(algo + ".der"), "-noverify", "-out",
                              "/dev/null"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.err.find("Verification successful"), std::string::npos) << o.err;

  struct stat st {};
  ASSERT_EQ(::stat(d.file(algo + ".pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

INSTANTIATE_TEST_SUITE_P(AllKeyTypes, RoundTrip, ::testing::Values("rsa2048", "rsa3072", "rsa4096", "p256", "p384"));

TEST(Cli, EveryExampleInBothLayoutsVerifiesAndOpensslAgrees) {
  test::TempDir d;
  for (const char* ex : {"execcount", "multimap", "xdpfilter"}) {
    for (const char* layout : {"6.18", "excl"}) {
      std::string bundle = make_signed(d, "rsa2048", ex, layout);
      auto v = bpfsig_cmd({"verify", "-j", "-i", d.file("rsa2048.der"), bundle});
      ASSERT_EQ(v.exit_code, 0) << ex << " " << layout << ": " << v.err;
      Json j = Json::parse(v.out);
      EXPECT_EQ(j["verdict"], "OK");
      EXPECT_EQ(j["chain"]["layout"], layout);
      skel::SignedLoader l = skel::read_signed_file(bundle);
      write_file_atomic(d.file("i.bin"), l.insns);
      write_file_atomic(d.file("s.p7s"), l.signature);
      auto o = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", d.file("s.p7s"),
                                  "-content", d.file("i.bin"), "-certfile", d.file("rsa2048.der"), "-noverify", "-out",
                                  "/dev/null"});
      EXPECT_EQ(o.exit_code, 0) << o.err;
    }
  }
}

TEST(Cli, HeaderOutputVerifiesLikeTheBundle) {
  test::TempDir d;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.pem")}).exit_code, 0);
  // The default scheme (loadtime) writes bpftool 7.8's include; loader-hash
  // needs bpfsig's own load sequence.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "#include <bpf/skel_internal.h>"},
      {{"--scheme", "loader-hash"}, "#include <bpfsig/skel_internal.h>"}};
  for (const auto& [options, include] : cases) {
    SCOPED_TRACE(include);
    std::vector<std::string> args = {"sign", "-k", d.file("k.pem"), "-i", d.file("c.pem"), "--header",
                                     d.file("x.lskel.h"), "-o", d.file("x.bpfsig"), example("multimap")};
    args.insert(args.begin() + 1, options.begin(), options.end());
    auto s = bpfsig_cmd(args);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    auto v = bpfsig_cmd({"verify", "-i", d.file("c.pem"), d.file("x.lskel.h")});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    std::string h = test::read_text(d.file("x.lskel.h"));
    for (const std::string needle : {"opts_data[]", "opts_insn[]", "opts_sig[]", "opts_excl_hash[]",
                                     "__s32 keyring_id;", include.c_str(), "multimap_bpf__open_and_load"})
      EXPECT_NE(h.find(needle), std::string::npos) << needle;
  }
}

TEST(Cli, RawFilesVerify) {
  test::TempDir d;
  std::string bundle = make_signed(d, "p256", "xdpfilter");
  skel::SignedLoader l = skel::read_signed_file(bundle);
  write_file_atomic(d.file("insns"), l.insns);
  write_file_atomic(d.file("data"), l.data);
  write_file_atomic(d.file("sig"), l.signature);
  auto v = bpfsig_cmd({"verify", "-i", d.file("p256.der"), "--insns", d.file("insns"), "--data", d.file("data"),
                       "--sig", d.file("sig")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  Bytes data = l.data;
  data[3] ^= 1;
  write_file_atomic(d.file("data"), data);
  v = bpfsig_cmd({"verify", "-i", d.file("p256.der"), "--insns", d.file("insns"), "--data", d.file("data"), "--sig",
                  d.file("sig")});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("EINVAL"), std::string::npos) << v.err;
}

TEST(Cli, TrustedCertificatesFromADirectory) {
  test::TempDir d;
  std::string bundle = make_signed(d, "rsa2048", "execcount");
  test::TempDir certs;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", certs.file("other.key"), "--cert", certs.file("other.der")}).exit_code, 0);
  auto v = bpfsig_cmd({"verify", "-i", certs.path(), bundle});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("ENOKEY"), std::string::npos) << v.err;
  ::rename(d.file("rsa2048.der").c_str(), certs.file("signer.der").c_str());
  v = bpfsig_cmd({"verify", "-i", certs.path(), bundle});
  EXPECT_EQ(v.exit_code, 0) << v.err;
}

TEST(Cli, VerifiesBpftool77Header) {
  SKIP_UNLESS(test::missing_shared_testdata());
  auto v = bpfsig_cmd({"verify", "-i", bpftool_file("cert.der"), bpftool_file("prog.lskel.h")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("cleanup+1"), std::string::npos) << v.out;
}

TEST(Cli, BpftoolMasterHeaderFailsClosedAsPartial) {
  SKIP_UNLESS(test::missing_shared_testdata());
  auto v = bpfsig_cmd({"verify", "-j", "-i", bpftool_file("cert.pem"), bpftool_file("prog.master.lskel.h")});
  EXPECT_EQ(v.exit_code, 1);
  Json j = Json::parse(v.out);
  EXPECT_EQ(j["verdict"], "PARTIALSIG");
  EXPECT_EQ(j["signature"]["errno"], 0);
  EXPECT_EQ(j["chain"]["match_block"], false);
  EXPECT_EQ(count_lines(v.err), 1u) << v.err;
  EXPECT_NE(v.err.find("not covered"), std::string::npos);
}

TEST(Cli, InspectShowsBothBpftoolHeaders) {
  SKIP_UNLESS(test::missing_shared_testdata());
  auto a = bpfsig_cmd({"inspect", bpftool_file("prog.lskel.h")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  for (const char* needle : {"handle_execve", "counts", "cleanup+1", "375 bytes", "skid", "M   36: (18) r1 = map[idx:0]",
                             "2288 bytes", "3656 bytes"})
    EXPECT_NE(a.out.find(needle), std::string::npos) << needle << "\n" << a.out.substr(0, 3000);
  auto b = bpfsig_cmd({"inspect", "-j", bpftool_file("prog.master.lskel.h")});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  Json j = Json::parse(b.out);
  EXPECT_EQ(j["insn_count"], 223);
  EXPECT_EQ(j["chain"]["match_block"], false);
  EXPECT_EQ(j["disassembly"].size() > 100, true);
  EXPECT_EQ(j["signature"]["signers"][0]["by_skid"], true);
}

TEST(Cli, GarbageAndMissingInputsGiveOneLineErrors) {
  test::TempDir d;
  test::write_text(d.file("garbage"), std::string(1000, '\x5a'));
  const std::string header = d.file("x.lskel.h");
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der")}).exit_code, 0);
  ASSERT_EQ(bpfsig_cmd({"sign", "-k", d.file("k.pem"), "-i", d.file("c.der"), "--header", header, "-o",
                        d.file("x.bpfsig"), example("execcount")}).exit_code, 0);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"verify", "-i", d.file("c.der"), d.file("garbage")},
           {"inspect", d.file("garbage")},
           {"inspect", d.file("missing")},
           {"sign", "-k", d.file("garbage"), "-i", d.file("c.der"), example("execcount")},
           {"verify", "-i", d.file("garbage"), header}}) {
    auto r = bpfsig_cmd(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << " " << args.back();
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("bpfsig ", 0), 0u) << r.err;
  }
  auto j = bpfsig_cmd({"inspect", "-j", d.file("garbage")});
  Json e = Json::parse(j.out);
  EXPECT_EQ(e["ok"], false);
  EXPECT_EQ(e["error"]["errno_name"], "EBADMSG");
  EXPECT_EQ(e["error"]["kind"], "unknown_format");
  EXPECT_EQ(bpfsig_cmd({"frobnicate"}).exit_code, 2);
}

TEST(Cli, FailedSignLeavesExistingOutputUntouched) {
  test::TempDir d;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("a.pem"), "--cert", d.file("a.der")}).exit_code, 0);
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("b.pem"), "--cert", d.file("b.der")}).exit_code, 0);
  test::write_text(d.file("out.bpfsig"), "previous content");
  // Key and certificate do not belong together.
  auto r = bpfsig_cmd({"sign", "-k", d.file("a.pem"), "-i", d.file("b.der"), "-o", d.file("out.bpfsig"),
                       example("execcount")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(test::read_text(d.file("out.bpfsig")), "previous content");
  r = bpfsig_cmd({"sign", "-k", d.file("a.pem"), "-i", d.file("a.der"), "-o", d.file("out.bpfsig"),
                  d.file("a.der")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(test::read_text(d.file("out.bpfsig")), "previous content");
}

TEST(Cli, UnknownSchemeIsRefused) {
  test::TempDir d;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("a.pem"), "--cert", d.file("a.der")}).exit_code, 0);
  auto r = bpfsig_cmd({"sign", "-k", d.file("a.pem"), "-i", d.file("a.der"), "--scheme", "rot13", example("execcount")});
  EXPECT_EQ(r.exit_code, 2);  // a bad option value is bad usage (docs/cli.md)
  EXPECT_NE(r.err.find("--scheme: must be one of"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[EINVAL, usage]"), std::string::npos) << r.err;
}

// The bundle seal, checked by openssl on its own (formats.md, section 10:
// a plain SHA-256 signature over the bundle without its seal), then a name
// changed on disk, which the kernel would never notice, fails verify.
TEST_P(RoundTrip, SealVerifiesWithOpensslAndCatchesARenamedProgram) {
  test::TempDir d;
  const std::string algo = GetParam();
  std::string bundle = make_signed(d, algo, "execcount");
  skel::SignedLoader l = skel::read_signed_file(bundle);
  ASSERT_FALSE(l.seal.empty());
  write_file_atomic(d.file("sealed.bin"), skel::seal_content(l));
  write_file_atomic(d.file("seal.sig"), l.seal);
  auto pub = test::run_command({"openssl", "x509", "-inform", "DER", "-in", d.file(algo + ".der"), "-pubkey", "-noout",
                                "-out", d.file("pub.pem")});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  auto o = test::run_command({"openssl", "dgst", "-sha256", "-verify", d.file("pub.pem"), "-signature",
                              d.file("seal.sig"), d.file("sealed.bin")});
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Verified OK"), std::string::npos) << o.out;

  // "handle_execve" -> "handle_execvf" in the PROG_NAMES section (the last
  // occurrence: the metadata has the name too).
  Bytes bytes = read_file(bundle);
  const std::string name = l.prog_names.at(0);
  auto at = std::find_end(bytes.begin(), bytes.end(), name.begin(), name.end());
  ASSERT_NE(at, bytes.end());
  at[static_cast<long>(name.size()) - 1] ^= 0x03;
  write_file_atomic(bundle, bytes);
  auto v = bpfsig_cmd({"verify", "-i", d.file(algo + ".der"), bundle});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("BADSIG"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("EKEYREJECTED, bundle_seal]"), std::string::npos) << v.err;
  EXPECT_NE(v.out.find("seal:        rejected"), std::string::npos) << v.out;
}

// ---- issue 14 -----------------------------------------------------------------------

namespace {

// Compiles a file that includes the header with the system cc (-fsyntax-only):
// the header must be valid C with bpfsig's skel_internal.h. Included first,
// it also stands in for the <bpf/skel_internal.h> of a loadtime header (the
// system's libbpf 1.1 has none that fits).
test::CommandResult compile_header(const test::TempDir& d, const std::string& header, const std::string& skel) {
  test::write_text(d.file("use.c"), "#include \"" + header + "\"\nint main(void)\n{\n\tstruct " + skel + " *s = " + skel +
                                        "__open_and_load();\n\t" + skel + "__destroy(s);\n\treturn 0;\n}\n");
  return test::run_command({"cc", "-std=gnu11", "-Wall", "-Werror", "-fsyntax-only", "-include",
                            "bpfsig/skel_internal.h", "-I", test::source_dir() + "/include", "-I", d.path(),
                            d.file("use.c")});
}

void keygen_p256(const test::TempDir& d) {
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der"), "--algo", "p256"}).exit_code, 0);
}

}  // namespace

TEST(CliIssue14, ObjectNamedWithALeadingDigitGivesAHeaderThatCompiles) {
  test::TempDir d;
  keygen_p256(d);
  std::filesystem::copy_file(example("execcount"), d.file("1abc.bpf.o"));
  auto s = bpfsig_cmd({"sign", "-j", "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o", d.file("x.bpfsig"),
                       "--header", d.file("x.lskel.h"), d.file("1abc.bpf.o")});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(Json::parse(s.out)["skeleton"], "_1abc_bpf");
  auto c = compile_header(d, "x.lskel.h", "_1abc_bpf");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  auto v = bpfsig_cmd({"verify", "-i", d.file("c.der"), d.file("x.lskel.h")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST(CliIssue14, SignNameSetsTheSkeletonNameAndMustBeACIdentifier) {
  test::TempDir d;
  keygen_p256(d);
  auto s = bpfsig_cmd({"sign", "-j", "--name", "my_skel", "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o",
                       d.file("x.bpfsig"), "--header", d.file("x.lskel.h"), example("execcount")});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(Json::parse(s.out)["skeleton"], "my_skel");
  EXPECT_NE(test::read_text(d.file("x.lskel.h")).find("my_skel__open_and_load"), std::string::npos);
  auto c = compile_header(d, "x.lskel.h", "my_skel");
  EXPECT_EQ(c.exit_code, 0) << c.err;
  for (const char* bad : {"1abc", "a-b", "int"}) {
    auto r = bpfsig_cmd({"sign", "--name", bad, "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o", d.file("y.bpfsig"),
                         example("execcount")});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("[EINVAL, skeleton_name]"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(test::file_exists(d.file("y.bpfsig")));
}

TEST(CliIssue14, RawVerifyWithoutDataSaysNoMetadataWasGiven) {
  test::TempDir d;
  std::string bundle = make_signed(d, "p256", "xdpfilter");
  skel::SignedLoader l = skel::read_signed_file(bundle);
  write_file_atomic(d.file("insns"), l.insns);
  write_file_atomic(d.file("sig"), l.signature);
  auto v = bpfsig_cmd({"verify", "-i", d.file("p256.der"), "--insns", d.file("insns"), "--sig", d.file("sig")});
  EXPECT_EQ(v.exit_code, 2);  // bad usage, found before any file is read
  EXPECT_NE(v.err.find("no metadata was given"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("--data"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("[EINVAL, usage]"), std::string::npos) << v.err;
  EXPECT_EQ(v.out.find("mismatch"), std::string::npos) << v.out;
}

TEST(CliIssue14, KeysTheKernelCannotUseAreRefusedBySignAndVerify) {
  test::TempDir d;
  const std::string k1 = test::openssl_key_and_cert(d, "k1", "ec", "ec_paramgen_curve:secp256k1");
  ASSERT_FALSE(k1.empty());
  auto s = bpfsig_cmd({"sign", "-k", k1 + ".pem", "-i", k1 + ".der", "-o", d.file("x.bpfsig"), example("execcount")});
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_NE(s.err.find("[EINVAL, key_unsupported]"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("RSA, ECDSA P-256, ECDSA P-384"), std::string::npos) << s.err;
  EXPECT_FALSE(test::file_exists(d.file("x.bpfsig")));

  std::string bundle = make_signed(d, "p256", "execcount");
  auto v = bpfsig_cmd({"verify", "-i", k1 + ".der", bundle});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find("[EINVAL, cert_key_unsupported]"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find(k1 + ".der"), std::string::npos) << v.err;

  auto g = bpfsig_cmd({"keygen", "--key", d.file("g.pem"), "--cert", d.file("g.der"), "--algo", "secp256k1"});
  // keygen's choices are exactly the kernel's (a usage error lists them).
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_NE(g.err.find("rsa2048, rsa3072, rsa4096, p256, p384"), std::string::npos) << g.err;
}

TEST(CliIssue14, InspectDescribesHornetBundles) {
  test::TempDir d;
  keygen_p256(d);
  ASSERT_EQ(bpfsig_cmd({"sign", "--scheme", "hornet", "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o",
                        d.file("h.bpfsig"), example("execcount")}).exit_code, 0);
  auto human = bpfsig_cmd({"inspect", "--no-disasm", d.file("h.bpfsig")});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("signed:       yes, over the insns + hornet map hashes"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("(the metadata map's)"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("covered by the Hornet attribute's map hash, which matches it"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find("unknown"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find("the signature covers the metadata"), std::string::npos) << human.out;

  Json j = Json::parse(bpfsig_cmd({"inspect", "-j", "--no-disasm", d.file("h.bpfsig")}).out);
  EXPECT_EQ(j["signed_content"]["covers"], "insns + hornet map hashes");
  EXPECT_EQ(j["signed_content"]["signed"], true);
  ASSERT_EQ(j["signature"]["hornet"]["maps"].size(), 1u);
  EXPECT_EQ(j["signature"]["hornet"]["maps"][0]["sha256"], j["chain"]["metadata_sha256"]);
}
