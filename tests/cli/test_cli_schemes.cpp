// SPDX-License-Identifier: Apache-2.0
// bpfsig sign/verify/inspect/run/load with --scheme loadtime and hash-chain,
// end to end, with openssl as the independent verifier of what is signed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bpfsig/crypto.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "skel/matchblock.h"
#include "support/kernel_features.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

using test::bpfsig_cmd;

struct Signed {
  test::TempDir dir;
  std::string bundle, header, cert, key;
  Json sign_json;
};

std::unique_ptr<Signed> sign(const std::string& scheme, const std::string& example = "execcount") {
  auto s = std::make_unique<Signed>();
  s->key = s->dir.file("k.pem");
  s->cert = s->dir.file("c.der");
  auto k = bpfsig_cmd({"keygen", "--key", s->key, "--cert", s->cert});
  EXPECT_EQ(k.exit_code, 0) << k.err;
  s->bundle = s->dir.file("b.bpfsig");
  s->header = s->dir.file("b.skel.h");
  auto r = bpfsig_cmd({"sign", "-j", "--scheme", scheme, "-k", s->key, "-i", s->cert, "-o", s->bundle, "--header",
                       s->header, test::examples_dir() + "/" + example + ".bpf.o"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  s->sign_json = Json::parse(r.out);
  return s;
}

// openssl cms -verify of the bundle's signature over the given content.
bool openssl_verifies(const Signed& s, ByteView content) {
  skel::SignedLoader l = skel::read_signed_file(s.bundle);
  write_file_atomic(s.dir.file("content.bin"), content);
  write_file_atomic(s.dir.file("sig.p7s"), l.signature);
  auto o = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", s.dir.file("sig.p7s"),
                              "-content", s.dir.file("content.bin"), "-certfile", s.cert, "-noverify", "-out",
                              "/dev/null"});
  return o.exit_code == 0;
}

Bytes tampered_bundle(const std::string& path, const std::function<void(skel::SignedLoader&)>& change) {
  skel::SignedLoader l = skel::read_signed_file(path);
  change(l);
  return skel::encode_bundle(l);
}

}  // namespace

TEST(CliSchemes, HelpListsTheSchemes) {
  auto r = bpfsig_cmd({"sign", "--help"});
  for (const char* name : {"loader-hash", "loadtime", "hash-chain"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name << "\n" << r.out;
  auto bad = bpfsig_cmd({"sign", "--scheme", "nope", "-k", "x", "-i", "y", "z.o"});
  EXPECT_EQ(bad.exit_code, 2);  // bad usage
  EXPECT_NE(bad.err.find("[EINVAL, usage]"), std::string::npos) << bad.err;
}

TEST(CliSchemes, LoadtimeSignVerifyInspectAndOpensslAgrees) {
  auto s = sign("loadtime");
  EXPECT_EQ(s->sign_json["scheme"], "loadtime");
  EXPECT_TRUE(s->sign_json["layout"].is_null());
  skel::SignedLoader l = skel::read_signed_file(s->bundle);
  Bytes content = l.insns;
  content.insert(content.end(), l.data.begin(), l.data.end());
  EXPECT_TRUE(openssl_verifies(*s, content));
  EXPECT_FALSE(openssl_verifies(*s, l.insns));
  for (const std::string& file : {s->bundle, s->header}) {
    auto v = bpfsig_cmd({"verify", "-j", "-i", s->cert, file});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    Json j = Json::parse(v.out);
    EXPECT_EQ(j["verdict"], "OK");
    EXPECT_EQ(j["scheme"], "loadtime");
    EXPECT_EQ(j["signed_content"]["covers"], "insns || metadata");
  }
  auto human = bpfsig_cmd({"verify", "-i", s->cert, s->bundle});
  EXPECT_NE(human.out.find("match block: none (not needed"), std::string::npos) << human.out;
  auto i = bpfsig_cmd({"inspect", "-j", "--no-disasm", s->bundle});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  Json j = Json::parse(i.out);
  EXPECT_EQ(j["signed_content"]["covers"], "insns || metadata");
  EXPECT_EQ(j["signed_content"]["size"], content.size());
  EXPECT_FALSE(j["chain"]["match_block"].get<bool>());
}

TEST(CliSchemes, HashChainSignVerifyInspectAndOpensslAgrees) {
  auto s = sign("hash-chain");
  EXPECT_EQ(s->sign_json["signature_maps"], Json::array({0}));
  skel::SignedLoader l = skel::read_signed_file(s->bundle);
  Bytes chain = skel::signed_content(l);
  ASSERT_EQ(chain.size(), 32u);
  EXPECT_TRUE(openssl_verifies(*s, chain));
  for (const std::string& file : {s->bundle, s->header}) {
    auto v = bpfsig_cmd({"verify", "-j", "-i", s->cert, file});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    Json j = Json::parse(v.out);
    EXPECT_EQ(j["verdict"], "OK");
    EXPECT_EQ(j["signed_content"]["covers"], "hash chain");
    EXPECT_EQ(j["signed_content"]["value"], to_hex(chain));
    EXPECT_EQ(j["signature_maps"], Json::array({0}));
  }
  auto i = bpfsig_cmd({"inspect", "-j", "--no-disasm", s->header});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(Json::parse(i.out)["signed_content"]["value"], to_hex(chain));
}

TEST(CliSchemes, TamperIsReportedWithTheKernelsErrno) {
  for (const char* scheme : {"loadtime", "hash-chain"}) {
    SCOPED_TRACE(scheme);
    auto s = sign(scheme);
    std::string bad = s->dir.file("bad.bpfsig");
    write_file_atomic(bad, tampered_bundle(s->bundle, [](skel::SignedLoader& l) { l.data[l.data.size() / 2] ^= 1; }));
    auto v = bpfsig_cmd({"verify", "-j", "-i", s->cert, bad});
    EXPECT_EQ(v.exit_code, 1);
    Json j = Json::parse(v.out);
    EXPECT_EQ(j["verdict"], "BADSIG");
    EXPECT_EQ(j["errno_name"], "EKEYREJECTED");
    EXPECT_NE(v.err.find("EKEYREJECTED"), std::string::npos) << v.err;
    auto r = bpfsig_cmd({"run", "-j", "--kernel", scheme, "-i", s->cert, bad});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(Json::parse(r.out)["errno_name"], "EKEYREJECTED");
  }
}

TEST(CliSchemes, RunUnderEachKernelProfile) {
  auto lt = sign("loadtime");
  auto hc = sign("hash-chain");
  struct Case {
    const Signed* s;
    const char* kernel;
    const char* errno_name;
  };
  for (const Case& c : {Case{lt.get(), "loadtime", "OK"}, Case{lt.get(), "6.18", "EKEYREJECTED"},
                        Case{lt.get(), "hash-chain", "EKEYREJECTED"}, Case{hc.get(), "hash-chain", "OK"},
                        Case{hc.get(), "6.18", "E2BIG"}, Case{hc.get(), "loadtime", "E2BIG"}}) {
    SCOPED_TRACE(std::string(c.kernel) + " " + c.s->bundle);
    auto r = bpfsig_cmd({"run", "-j", "--kernel", c.kernel, "-i", c.s->cert, c.s->bundle});
    Json j = Json::parse(r.out);
    if (std::string(c.errno_name) == "OK") {
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_TRUE(j["ok"].get<bool>());
    } else {
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_EQ(j["errno_name"], c.errno_name);
    }
  }
}

TEST(CliSchemes, LoadRefusesSignedAndLoadsWithUserspaceVerify) {
  auto s = sign("loadtime");
  // No anchor: refused whatever the kernel, before it is asked anything.
  auto no_anchor = bpfsig_cmd({"load", s->bundle});
  EXPECT_EQ(no_anchor.exit_code, 1);
  EXPECT_NE(no_anchor.err.find("no_trust_anchor"), std::string::npos) << no_anchor.err;
  // With one, the answer depends on what this kernel checks (tests/qemu
  // covers the kernels that check signatures).
  const sys::KernelFeatures& f = test::kernel_features();
  auto refused = bpfsig_cmd({"load", "-i", s->cert, s->bundle});
  if (!f.bpf) {
    EXPECT_NE(refused.err.find("kernel_probe"), std::string::npos) << refused.err;
  } else if (!f.signed_load) {
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("kernel_no_sig"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("--userspace-verify"), std::string::npos) << refused.err;
  }
  SKIP_UNLESS(test::missing_excl_maps());
  for (const char* scheme : {"loadtime", "hash-chain"}) {
    SCOPED_TRACE(scheme);
    auto t = sign(scheme, "multimap");
    auto r = bpfsig_cmd({"load", "-j", "--userspace-verify", "-i", t->cert, t->bundle});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    // A tampered one stops at the offline check, before the kernel.
    std::string bad = t->dir.file("bad.bpfsig");
    write_file_atomic(bad, tampered_bundle(t->bundle, [](skel::SignedLoader& l) { l.data[l.data.size() - 8] ^= 1; }));
    auto b = bpfsig_cmd({"load", "--userspace-verify", "-i", t->cert, bad});
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_NE(b.err.find("EKEYREJECTED"), std::string::npos) << b.err;
  }
}

TEST(CliSchemes, RawVerifyTakesAScheme) {
  for (const char* scheme : {"loadtime", "hash-chain"}) {
    SCOPED_TRACE(scheme);
    auto s = sign(scheme);
    skel::SignedLoader l = skel::read_signed_file(s->bundle);
    write_file_atomic(s->dir.file("insns.bin"), l.insns);
    write_file_atomic(s->dir.file("data.bin"), l.data);
    write_file_atomic(s->dir.file("sig.p7s"), l.signature);
    std::vector<std::string> raw = {"verify", "-j", "-i", s->cert, "--insns", s->dir.file("insns.bin"), "--data",
                                    s->dir.file("data.bin"), "--sig", s->dir.file("sig.p7s")};
    auto as_loader_hash = bpfsig_cmd(raw);
    EXPECT_EQ(as_loader_hash.exit_code, 1);
    EXPECT_EQ(Json::parse(as_loader_hash.out)["errno_name"], "EKEYREJECTED");
    raw.insert(raw.end(), {"--scheme", scheme});
    auto right = bpfsig_cmd(raw);
    EXPECT_EQ(right.exit_code, 0) << right.out << right.err;
  }
}

// ---- the defaults (issue 12, part 3) ----------------------------------------------

namespace {

// bpfsig sign -j with the given options before the object, from a fresh key.
struct SignRun {
  test::TempDir dir;
  test::CommandResult result;
  Json json;
  std::string bundle;
};
std::unique_ptr<SignRun> sign_with(const std::vector<std::string>& options, const std::string& object,
                                   const std::string& key, const std::string& cert) {
  auto s = std::make_unique<SignRun>();
  s->bundle = s->dir.file("out.bpfsig");
  std::vector<std::string> args = {"sign", "-j", "-k", key, "-i", cert, "-o", s->bundle};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back(object);
  s->result = bpfsig_cmd(args);
  EXPECT_EQ(s->result.exit_code, 0) << s->result.err;
  if (s->result.exit_code == 0) s->json = Json::parse(s->result.out);
  return s;
}

}  // namespace

// Without --scheme, sign writes what bpftool 7.8 signs: the loadtime scheme,
// byte for byte what --scheme loadtime writes (RSA signs deterministically).
TEST(CliSchemes, DefaultSchemeIsLoadtime) {
  test::TempDir d;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der")}).exit_code, 0);
  const std::string object = test::examples_dir() + "/execcount.bpf.o";
  auto by_default = sign_with({}, object, d.file("k.pem"), d.file("c.der"));
  auto named = sign_with({"--scheme", "loadtime"}, object, d.file("k.pem"), d.file("c.der"));
  EXPECT_EQ(by_default->json.at("scheme"), "loadtime") << by_default->result.out;
  EXPECT_TRUE(by_default->json.at("layout").is_null()) << "a loadtime loader has no hash-match block";
  const skel::SignedLoader a = skel::read_signed_file(by_default->bundle), b = skel::read_signed_file(named->bundle);
  EXPECT_EQ(a.scheme, skel::Scheme::kLoadtime);
  EXPECT_TRUE(a.insns == b.insns && a.data == b.data && a.signature == b.signature && a.excl_hash == b.excl_hash);
  // The human report says so too.
  auto text = bpfsig_cmd({"sign", "-k", d.file("k.pem"), "-i", d.file("c.der"), "-o", d.file("t.bpfsig"), object});
  EXPECT_NE(text.out.find("scheme loadtime, match block none"), std::string::npos) << text.out;
}

// --scheme loader-hash alone is bpftool 7.7's loader, byte for byte: the
// 28-instruction block with the mismatch jumps at cleanup+1.
TEST(CliSchemes, LoaderHashDefaultIsBpftool77s) {
  SKIP_UNLESS(test::missing_shared_testdata());
  test::TempDir d;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der")}).exit_code, 0);
  const std::string dir = test::shared_testdata() + "/bpftool-7.7";
  auto s = sign_with({"--scheme", "loader-hash"}, dir + "/prog.bpf.o", d.file("k.pem"), d.file("c.der"));
  EXPECT_EQ(s->json.at("scheme"), "loader-hash");
  EXPECT_EQ(s->json.at("layout"), "6.18");
  const skel::SignedLoader theirs = skel::parse_header(test::read_text(dir + "/prog.lskel.h"), "prog.lskel.h");
  const skel::MatchBlockInfo their_block = skel::read_match_block(isa::decode(theirs.insns));
  // The default loader takes nothing from its ctx, so only its block is bpftool 7.7's ...
  const skel::SignedLoader ours = skel::read_signed_file(s->bundle);
  const skel::MatchBlockInfo our_block = skel::read_match_block(isa::decode(ours.insns));
  EXPECT_TRUE(ours.data == theirs.data) << "opts_data differs from bpftool 7.7's";
  EXPECT_EQ(our_block.layout, their_block.layout);
  EXPECT_EQ(our_block.length, 28u);
  EXPECT_EQ(our_block.target, skel::MismatchTarget::kCleanupPlusOne);
  EXPECT_EQ(our_block.target, their_block.target);
  EXPECT_EQ(our_block.digest, their_block.digest);
  // ... and with the ctx reads asked for, the whole loader is.
  auto whole = sign_with({"--scheme", "loader-hash", "--ctx-overrides"}, dir + "/prog.bpf.o", d.file("k.pem"), d.file("c.der"));
  const skel::SignedLoader ours_whole = skel::read_signed_file(whole->bundle);
  EXPECT_TRUE(ours_whole.insns == theirs.insns) << "opts_insn differs from bpftool 7.7's";
  EXPECT_TRUE(ours_whole.excl_hash == theirs.excl_hash);
  // hash-chain has the same block, with the same default.
  auto chain = sign_with({"--scheme", "hash-chain", "--ctx-overrides"}, dir + "/prog.bpf.o", d.file("k.pem"),
                         d.file("c.der"));
  EXPECT_EQ(chain->json.at("layout"), "6.18");
  EXPECT_TRUE(skel::read_signed_file(chain->bundle).insns == theirs.insns);
}

// The other block choices remain, and each changes the loader.
TEST(CliSchemes, LayoutExclAndMismatchCleanupRemainOptions) {
  test::TempDir d;
  ASSERT_EQ(bpfsig_cmd({"keygen", "--key", d.file("k.pem"), "--cert", d.file("c.der")}).exit_code, 0);
  const std::string object = test::examples_dir() + "/execcount.bpf.o";
  auto by_default = sign_with({"--scheme", "loader-hash"}, object, d.file("k.pem"), d.file("c.der"));
  auto excl = sign_with({"--scheme", "loader-hash", "--layout", "excl"}, object, d.file("k.pem"), d.file("c.der"));
  auto cleanup = sign_with({"--scheme", "loader-hash", "--mismatch-target", "cleanup"}, object, d.file("k.pem"),
                           d.file("c.der"));
  EXPECT_EQ(excl->json.at("layout"), "excl");
  EXPECT_EQ(excl->json.at("insn_count").get<size_t>(), by_default->json.at("insn_count").get<size_t>() + 5);
  EXPECT_EQ(cleanup->json.at("layout"), "6.18");
  EXPECT_EQ(cleanup->json.at("insn_count"), by_default->json.at("insn_count"));
  EXPECT_NE(cleanup->json.at("excl_hash"), by_default->json.at("excl_hash")) << "the mismatch jumps moved";
  // Each verifies offline (the block's shape is checked).
  for (const SignRun* s : {by_default.get(), excl.get(), cleanup.get()}) {
    auto v = bpfsig_cmd({"verify", "-j", "-i", d.file("c.der"), s->bundle});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
}

// The help says what each default is, and that excl reads a kernel-internal
// offset that 7.3 refuses.
TEST(CliSchemes, HelpNamesTheDefaultsAndWhatExclReads) {
  auto r = bpfsig_cmd({"sign", "--help"});
  EXPECT_NE(r.out.find("loadtime (default"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6.18 (28 insns, default"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cleanup+1 (default"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("map->excl, a kernel-internal struct bpf_map offset that Linux 7.3's verifier refuses"),
            std::string::npos)
      << r.out;
}
