// SPDX-License-Identifier: Apache-2.0
// bpfsig keygen and sign with -k pkcs11:..., end to end against a SoftHSM2
// token made for the test: keygen in the token, sign in every scheme (the
// bundle sealed by the token key), verify with the exported certificate,
// openssl cms -verify agrees; the wrong PIN, a missing object and a missing
// module each give one error line; the PIN appears in no output.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "bpfsig/files.h"
#include "bpfsig/skel.h"
#include "crypto/softhsm_token.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

using test::bpfsig_cmd;

const char* const kSchemes[] = {"loader-hash", "loadtime", "hornet", "hash-chain"};

std::string example_object() { return test::examples_dir() + "/execcount.bpf.o"; }

// Every output of every command a test ran, to search for the PIN.
struct Transcript {
  std::string all;
  test::CommandResult run(const std::vector<std::string>& args) {
    test::CommandResult r = bpfsig_cmd(args);
    all += r.out + r.err;
    return r;
  }
};

// Made once: a key pair in the shared token and its certificate.
struct TokenKey {
  test::TempDir dir;
  std::string uri, cert;
  Json keygen_json;
};

// A static, not a leak: its directory is removed when the executable ends.
TokenKey& token_key(Transcript& t) {
  static std::unique_ptr<TokenKey> key = [&t] {
    auto k = std::make_unique<TokenKey>();
    k->uri = test::softhsm_token().uri("cli-signer");
    k->cert = k->dir.file("signer.der");
    auto r = t.run({"keygen", "-j", "-k", k->uri, "--algo", "p256", "--cert", k->cert, "--pin-source",
                    test::softhsm_token().pin_file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    k->keygen_json = Json::parse(r.out, nullptr, false);
    return k;
  }();
  return *key;
}

bool openssl_verifies(const test::TempDir& dir, const std::string& bundle, const std::string& cert) {
  skel::SignedLoader l = skel::read_signed_file(bundle);
  write_file_atomic(dir.file("content.bin"), skel::signed_content(l));
  write_file_atomic(dir.file("sig.p7s"), l.signature);
  auto o = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", dir.file("sig.p7s"),
                              "-content", dir.file("content.bin"), "-certfile", cert, "-noverify", "-out", "/dev/null"});
  return o.exit_code == 0;
}

// One line on stderr naming the URI and the error kind.
void expect_one_error_line(const test::CommandResult& r, const std::string& uri, const std::string& tag) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_NE(r.err.find(uri), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(tag), std::string::npos) << r.err;
}

}  // namespace

TEST(CliPkcs11, KeygenInTokenSignEverySchemeVerifyAndOpensslAgrees) {
  SKIP_UNLESS(test::missing_token());
  Transcript t;
  TokenKey& key = token_key(t);
  EXPECT_EQ(key.keygen_json["in_token"], true);
  EXPECT_EQ(key.keygen_json["algo"], "p256");
  EXPECT_NE(key.keygen_json["key"].get<std::string>().find("object=cli-signer"), std::string::npos);
  test::TempDir dir;
  for (const char* scheme : kSchemes) {
    SCOPED_TRACE(scheme);
    const std::string bundle = dir.file(std::string(scheme) + ".bpfsig");
    auto s = t.run({"sign", "-j", "--scheme", scheme, "-k", key.uri, "--pin-source", test::softhsm_token().pin_file,
                    "-i", key.cert, "-o", bundle, example_object()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    auto v = t.run({"verify", "-j", "-i", key.cert, bundle});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    Json j = Json::parse(v.out, nullptr, false);
    EXPECT_EQ(j["seal"]["ok"], true) << v.out;  // the bundle's seal, made by the token key
    EXPECT_TRUE(openssl_verifies(dir, bundle, key.cert));
  }
}

TEST(CliPkcs11, PinFromTheEnvironmentAndTheUrisPinSource) {
  SKIP_UNLESS(test::missing_token());
  Transcript t;
  TokenKey& key = token_key(t);
  test::TempDir dir;
  ::setenv("BPFSIG_PIN", test::softhsm_token().pin.c_str(), 1);
  auto env = t.run({"sign", "-k", key.uri, "-i", key.cert, "-o", dir.file("a.bpfsig"), example_object()});
  ::unsetenv("BPFSIG_PIN");
  EXPECT_EQ(env.exit_code, 0) << env.err;
  auto uri = t.run({"sign", "-k", key.uri + "?pin-source=" + test::softhsm_token().pin_file, "-i", key.cert, "-o",
                    dir.file("b.bpfsig"), example_object()});
  EXPECT_EQ(uri.exit_code, 0) << uri.err;
}

TEST(CliPkcs11, WrongPinMissingObjectMissingModuleOneLineEach) {
  SKIP_UNLESS(test::missing_token());
  Transcript t;
  TokenKey& key = token_key(t);
  test::TempDir dir;
  test::write_text(dir.file("wrong"), "wrong-pin-31337\n");
  auto sign = [&](const std::string& uri, const std::string& pin_file) {
    return t.run({"sign", "-k", uri, "--pin-source", pin_file, "-i", key.cert, "-o", dir.file("x.bpfsig"), example_object()});
  };
  expect_one_error_line(sign(key.uri, dir.file("wrong")), key.uri, "[EACCES, pkcs11_pin]");
  const std::string absent = test::softhsm_token().uri("absent");
  expect_one_error_line(sign(absent, test::softhsm_token().pin_file), absent, "[ENOENT, pkcs11_object]");
  const std::string no_module = key.uri + "?module-path=/nonexistent/libnone.so";
  expect_one_error_line(sign(no_module, test::softhsm_token().pin_file), no_module, "[ENOENT, pkcs11_module]");
  EXPECT_FALSE(test::file_exists(dir.file("x.bpfsig")));
  EXPECT_EQ(t.all.find("wrong-pin-31337"), std::string::npos) << t.all;
}

TEST(CliPkcs11, OptionsThatDoNotGoWithTheKeyAreRefused) {
  SKIP_UNLESS(test::missing_token());
  Transcript t;
  TokenKey& key = token_key(t);
  test::TempDir dir;
  auto pass = t.run({"sign", "-k", key.uri, "--pass", "pass:x", "-i", key.cert, "-o", dir.file("x"), example_object()});
  EXPECT_EQ(pass.exit_code, 2) << pass.err;
  auto pin_for_file = t.run({"sign", "-k", dir.file("k.pem"), "--pin-source", test::softhsm_token().pin_file, "-i",
                             key.cert, "-o", dir.file("x"), example_object()});
  EXPECT_EQ(pin_for_file.exit_code, 2) << pin_for_file.err;
  auto pin_value = t.run({"sign", "-j", "-k", key.uri + ";pin-value=" + test::softhsm_token().pin, "-i", key.cert, "-o",
                          dir.file("x"), example_object()});
  EXPECT_EQ(pin_value.exit_code, 1);
  EXPECT_EQ(Json::parse(pin_value.out, nullptr, false)["error"]["kind"], "pkcs11_uri") << pin_value.out;
  auto again = t.run({"keygen", "-k", key.uri, "--cert", dir.file("c.der"), "--pin-source", test::softhsm_token().pin_file});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("[EEXIST, pkcs11_object_exists]"), std::string::npos) << again.err;
  // A PIN given in the URI is refused without being echoed anywhere.
  EXPECT_EQ(t.all.find(test::softhsm_token().pin), std::string::npos) << t.all;
}

TEST(CliPkcs11, NoEngineIsOneErrorLine) {
  SKIP_UNLESS(test::missing_token());
  Transcript t;
  TokenKey& key = token_key(t);
  test::TempDir dir;  // an engines directory without pkcs11.so
  const char* old = std::getenv("OPENSSL_ENGINES");
  const bool had = old != nullptr;
  const std::string saved = had ? old : "";
  ::setenv("OPENSSL_ENGINES", dir.path().c_str(), 1);
  auto r = t.run({"sign", "-k", key.uri, "--pin-source", test::softhsm_token().pin_file, "-i", key.cert, "-o",
                  dir.file("x.bpfsig"), example_object()});
  had ? ::setenv("OPENSSL_ENGINES", saved.c_str(), 1) : ::unsetenv("OPENSSL_ENGINES");
  expect_one_error_line(r, key.uri, "[ENOENT, pkcs11_engine]");
}

// Every command this file runs, in text and JSON, successes and failures:
// the PIN is in none of their outputs.
TEST(CliPkcs11, ThePinAppearsInNoOutput) {
  SKIP_UNLESS(test::missing_token());
  Transcript t;
  TokenKey& key = token_key(t);
  test::TempDir dir;
  const std::string& pin_file = test::softhsm_token().pin_file;
  const std::string bundle = dir.file("p.bpfsig");
  t.run({"keygen", "-k", test::softhsm_token().uri("pin-text"), "--cert", dir.file("t.der"), "--pin-source", pin_file});
  for (const char* json : {"-j", "-p"}) {
    t.run({"sign", json, "-k", key.uri, "--pin-source", pin_file, "-i", key.cert, "-o", bundle, example_object()});
    t.run({"verify", json, "-i", key.cert, bundle});
    t.run({"inspect", json, bundle});
    t.run({"sign", json, "-k", test::softhsm_token().uri("absent"), "--pin-source", pin_file, "-i", key.cert, "-o",
           dir.file("y"), example_object()});
  }
  t.run({"sign", "-k", key.uri, "--pin-source", pin_file, "-i", key.cert, "-o", bundle, example_object()});
  t.run({"sign", "-k", key.uri, "--pin-source", pin_file, "-i", key.cert, "--header", "-", example_object()});
  ::setenv("BPFSIG_PIN", test::softhsm_token().pin.c_str(), 1);
  t.run({"sign", "-j", "-k", key.uri + "?module-path=/nonexistent.so", "-i", key.cert, "-o", dir.file("z"), example_object()});
  t.run({"sign", "-k", key.uri, "-i", key.cert, "-o", bundle, example_object()});
  ::unsetenv("BPFSIG_PIN");
  ASSERT_FALSE(t.all.empty());
  EXPECT_NE(t.all.find("pkcs11:"), std::string::npos);  // the outputs were captured
  EXPECT_EQ(t.all.find(test::softhsm_token().pin), std::string::npos) << t.all;
}
