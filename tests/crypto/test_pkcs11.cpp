// SPDX-License-Identifier: Apache-2.0
// Keys in a PKCS#11 token (src/crypto/pkcs11*.cpp): RFC 7512 URIs, where the
// module and the PIN come from, and, against a SoftHSM2 token of the test's
// own, keygen in the token, signing (bpftool's CMS profile, Hornet's, the
// seal) checked by the kernel's rules and by openssl cms -verify, and the one
// precise error for a wrong PIN, a missing object and a missing module.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "crypto/softhsm_token.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

// The Error a call throws (a test fails when it throws none).
template <typename F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error thrown";
  return Error(0, "none", "");
}

// An environment variable set for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { old_.empty() ? ::unsetenv(name_) : ::setenv(name_, old_.c_str(), 1); }

 private:
  const char* name_;
  std::string old_;
};

crypto::Pkcs11Access with_pin_file() { return crypto::Pkcs11Access{"", test::softhsm_token().pin_file}; }

Bytes content() {
  Bytes b(4096);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

bool openssl_cms_verifies(const test::TempDir& dir, ByteView sig, ByteView data, const std::string& cert) {
  write_file_atomic(dir.file("sig.der"), sig);
  write_file_atomic(dir.file("data.bin"), data);
  auto r = test::run_command({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", dir.file("sig.der"),
                              "-content", dir.file("data.bin"), "-certfile", cert, "-noverify", "-out", "/dev/null"});
  return r.exit_code == 0;
}

}  // namespace

// ---- URIs, module and PIN (no token needed) ------------------------------------

TEST(Pkcs11Uri, ParsesPathAndQueryAttributes) {
  EXPECT_TRUE(crypto::is_pkcs11_uri("pkcs11:token=a"));
  EXPECT_TRUE(crypto::is_pkcs11_uri("PKCS11:token=a"));
  EXPECT_FALSE(crypto::is_pkcs11_uri("key.pem"));
  crypto::Pkcs11Uri u = crypto::parse_pkcs11_uri(
      "pkcs11:token=My%20Token;object=signer;id=%01%ff;type=private;serial=42;slot-id=7"
      "?module-path=/usr/lib/x.so&pin-source=file:/run/pin");
  EXPECT_EQ(u.token, "My Token");
  EXPECT_EQ(u.object, "signer");
  EXPECT_TRUE(u.has_id);
  EXPECT_EQ(u.id, (Bytes{0x01, 0xff}));
  EXPECT_EQ(u.type, "private");
  EXPECT_EQ(u.serial, "42");
  ASSERT_TRUE(u.slot_id.has_value());
  EXPECT_EQ(*u.slot_id, 7u);
  EXPECT_EQ(u.module_path, "/usr/lib/x.so");
  EXPECT_EQ(u.pin_source, "file:/run/pin");
  EXPECT_FALSE(crypto::parse_pkcs11_uri("pkcs11:object=x").has_id);
}

TEST(Pkcs11Uri, RefusesWhatItWouldNotSelectBy) {
  for (const char* bad : {"pkcs11:token=a;token=b", "pkcs11:library-description=x", "pkcs11:object", "pkcs11:type=bogus",
                          "pkcs11:object=%zz", "pkcs11:slot-id=x", "pkcs11:object=a?module-name=softhsm2",
                          "pkcs11:object=a?x-vendor=1", "file.pem"}) {
    Error e = error_of([&] { crypto::parse_pkcs11_uri(bad); });
    EXPECT_EQ(e.err(), EINVAL) << bad;
    EXPECT_EQ(e.kind(), "pkcs11_uri") << bad;
  }
}

TEST(Pkcs11Uri, PinValueIsRefusedAndNeverEchoed) {
  for (const char* uri : {"pkcs11:token=a;pin-value=sEcReT", "pkcs11:token=a?pin-value=sEcReT"}) {
    Error e = error_of([&] { crypto::parse_pkcs11_uri(uri); });
    EXPECT_EQ(e.kind(), "pkcs11_uri");
    EXPECT_NE(std::string(e.what()).find("pin-value"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("sEcReT"), std::string::npos) << e.what();
  }
}

TEST(Pkcs11Uri, ModulePathPrecedence) {
  ScopedEnv env("BPFSIG_PKCS11_MODULE", "/from/env.so");
  crypto::Pkcs11Uri with = crypto::parse_pkcs11_uri("pkcs11:object=a?module-path=/from/uri.so");
  crypto::Pkcs11Uri without = crypto::parse_pkcs11_uri("pkcs11:object=a");
  EXPECT_EQ(crypto::pkcs11_module_path(with, {"/from/option.so", ""}), "/from/uri.so");
  EXPECT_EQ(crypto::pkcs11_module_path(without, {"/from/option.so", ""}), "/from/option.so");
  EXPECT_EQ(crypto::pkcs11_module_path(without, {}), "/from/env.so");
}

TEST(Pkcs11Uri, PinPrecedenceFileThenUriThenEnvironment) {
  test::TempDir dir;
  test::write_text(dir.file("a"), "from-option\nsecond line\n");
  test::write_text(dir.file("b"), "from-uri\n");
  ScopedEnv env("BPFSIG_PIN", "from-env");
  crypto::Pkcs11Uri with = crypto::parse_pkcs11_uri("pkcs11:object=a?pin-source=file:" + dir.file("b"));
  crypto::Pkcs11Uri without = crypto::parse_pkcs11_uri("pkcs11:object=a");
  EXPECT_EQ(crypto::pkcs11_pin(with, {"", dir.file("a")}), "from-option");
  EXPECT_EQ(crypto::pkcs11_pin(with, {}), "from-uri");
  EXPECT_EQ(crypto::pkcs11_pin(without, {}), "from-env");
  crypto::Pkcs11Uri command = crypto::parse_pkcs11_uri("pkcs11:object=a?pin-source=%7Cecho%201234");
  EXPECT_EQ(error_of([&] { crypto::pkcs11_pin(command, {}); }).kind(), "pkcs11_uri");
}

// ---- against a SoftHSM2 token ---------------------------------------------------

TEST(Pkcs11Token, KeygenThenSignInEveryProfileAndVerify) {
  SKIP_UNLESS(test::missing_token());
  test::TempDir dir;
  for (crypto::KeyAlgo algo : {crypto::KeyAlgo::kRsa2048, crypto::KeyAlgo::kP256, crypto::KeyAlgo::kP384}) {
    SCOPED_TRACE(crypto::key_algo_name(algo));
    const std::string name = "signer-" + crypto::key_algo_name(algo);
    const std::string cert_path = dir.file(name + ".der");
    crypto::KeygenOptions opts;
    opts.algo = algo;
    opts.subject = "CN=token signer";
    crypto::Pkcs11KeygenResult made = crypto::keygen_pkcs11(opts, test::softhsm_token().uri(name), cert_path, with_pin_file());
    EXPECT_EQ(made.id.size(), 16u);
    EXPECT_NE(made.uri.find("object=" + name), std::string::npos) << made.uri;
    crypto::Certificate cert = crypto::load_certificate(cert_path);
    EXPECT_EQ(crypto::describe(cert.get()).key_algo, crypto::key_algo_name(algo));
    EXPECT_EQ(crypto::describe(cert.get()).subject, "CN=token signer");

    // By the label given, and by the URI keygen reports.
    for (const std::string& uri : {test::softhsm_token().uri(name), made.uri}) {
      crypto::PrivateKey key = crypto::load_pkcs11_private_key(uri, with_pin_file());
      ASSERT_TRUE(key);
      EXPECT_TRUE(crypto::classify_kernel_key(key.get()).usable);
      std::vector<crypto::Certificate> trusted;
      trusted.push_back(crypto::load_certificate(cert_path));

      Bytes sig = crypto::sign_bpftool(content(), cert.get(), key.get());
      EXPECT_EQ(crypto::verify_kernel_rules(sig, content(), trusted).err, 0);
      EXPECT_TRUE(openssl_cms_verifies(dir, sig, content(), cert_path));
      Bytes other = content();
      other[0] ^= 1;
      EXPECT_FALSE(openssl_cms_verifies(dir, sig, other, cert_path));

      Bytes hornet = crypto::sign_hornet(content(), {{0, Bytes(32, 0xab)}}, crypto::HornetFormat::kFinal, cert.get(), key.get());
      EXPECT_EQ(crypto::verify_kernel_rules(hornet, content(), trusted).err, 0);
      EXPECT_TRUE(openssl_cms_verifies(dir, hornet, content(), cert_path));

      Bytes seal = crypto::sign_message(content(), key.get());
      EXPECT_TRUE(crypto::message_signature_verifies(seal, content(), cert.get()));
      EXPECT_FALSE(crypto::message_signature_verifies(seal, other, cert.get()));
    }
  }
}

TEST(Pkcs11Token, KeygenWithAGivenIdAndNoReplacement) {
  SKIP_UNLESS(test::missing_token());
  test::TempDir dir;
  const std::string uri = test::softhsm_token().uri("with-id") + ";id=%0a%0b%0c";
  crypto::KeygenOptions opts;
  opts.algo = crypto::KeyAlgo::kP256;
  crypto::Pkcs11KeygenResult made = crypto::keygen_pkcs11(opts, uri, dir.file("c.der"), with_pin_file());
  EXPECT_EQ(made.id, (Bytes{0x0a, 0x0b, 0x0c}));
  EXPECT_TRUE(crypto::load_pkcs11_private_key("pkcs11:token=" + test::softhsm_token().label + ";id=%0A%0B%0C", with_pin_file()));
  Error again = error_of([&] { crypto::keygen_pkcs11(opts, uri, dir.file("d.der"), with_pin_file()); });
  EXPECT_EQ(again.err(), EEXIST);
  EXPECT_EQ(again.kind(), "pkcs11_object_exists");
  EXPECT_FALSE(test::file_exists(dir.file("d.der")));
  EXPECT_EQ(error_of([&] { crypto::keygen_pkcs11(opts, "pkcs11:token=" + test::softhsm_token().label, dir.file("e.der"),
                                                  with_pin_file()); })
                .kind(),
            "pkcs11_uri");  // keygen needs object=
}

TEST(Pkcs11Token, KeygenLeavesNothingInTheTokenWhenTheCertificateCannotBeWritten) {
  SKIP_UNLESS(test::missing_token());
  test::TempDir dir;
  crypto::KeygenOptions opts;
  opts.algo = crypto::KeyAlgo::kP256;
  const std::string uri = test::softhsm_token().uri("undone");
  Error e = error_of([&] { crypto::keygen_pkcs11(opts, uri, dir.file("no/such/dir/c.der"), with_pin_file()); });
  EXPECT_EQ(e.err(), ENOENT);
  EXPECT_EQ(error_of([&] { crypto::load_pkcs11_private_key(uri, with_pin_file()); }).kind(), "pkcs11_object");
  // The label is free again.
  crypto::keygen_pkcs11(opts, uri, dir.file("c.der"), with_pin_file());
  EXPECT_TRUE(crypto::load_pkcs11_private_key(uri, with_pin_file()));
}

TEST(Pkcs11Token, WrongPinMissingObjectMissingModuleEachOnePreciseError) {
  SKIP_UNLESS(test::missing_token());
  test::TempDir dir;
  crypto::KeygenOptions opts;
  opts.algo = crypto::KeyAlgo::kP256;
  const std::string uri = test::softhsm_token().uri("errors");
  crypto::keygen_pkcs11(opts, uri, dir.file("c.der"), with_pin_file());
  test::write_text(dir.file("wrong"), "wrong-pin-9917\n");

  Error pin = error_of([&] { crypto::load_pkcs11_private_key(uri, {"", dir.file("wrong")}); });
  EXPECT_EQ(pin.err(), EACCES);
  EXPECT_EQ(pin.kind(), "pkcs11_pin");
  Error object = error_of([&] { crypto::load_pkcs11_private_key(test::softhsm_token().uri("absent"), with_pin_file()); });
  EXPECT_EQ(object.err(), ENOENT);
  EXPECT_EQ(object.kind(), "pkcs11_object");
  Error module = error_of([&] { crypto::load_pkcs11_private_key(uri + "?module-path=/nonexistent/libnone.so", with_pin_file()); });
  EXPECT_EQ(module.err(), ENOENT);
  EXPECT_EQ(module.kind(), "pkcs11_module");
  Error token = error_of([&] { crypto::load_pkcs11_private_key("pkcs11:token=no-such-token;object=x", with_pin_file()); });
  EXPECT_EQ(token.err(), ENOENT);
  EXPECT_EQ(token.kind(), "pkcs11_token");
  Error no_pin = error_of([&] { crypto::load_pkcs11_private_key(uri, {}); });
  EXPECT_EQ(no_pin.err(), EACCES);
  EXPECT_EQ(no_pin.kind(), "pkcs11_pin");

  for (const Error* e : {&pin, &object, &module, &token, &no_pin}) {
    const std::string msg = e->what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("pkcs11:token="), std::string::npos) << "names the URI: " << msg;
    EXPECT_EQ(msg.find(test::softhsm_token().pin), std::string::npos) << msg;
    EXPECT_EQ(msg.find("wrong-pin-9917"), std::string::npos) << msg;
  }
  // The right PIN still works after a wrong one.
  EXPECT_TRUE(crypto::load_pkcs11_private_key(uri, with_pin_file()));
}
