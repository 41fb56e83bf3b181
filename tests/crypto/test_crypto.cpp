// SPDX-License-Identifier: Apache-2.0
// Tests of src/crypto: keys and certificates, bpftool's CMS profile checked by
// the openssl command as an independent verifier, the real Hornet sample, and
// the kernel's PKCS#7 rules with their exact errno values.
#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "support/support.h"

using namespace bpfsig;
using crypto::KeyAlgo;

namespace {

// ---- shared material ---------------------------------------------------------

const KeyAlgo kAllAlgos[] = {KeyAlgo::kRsa2048, KeyAlgo::kRsa3072, KeyAlgo::kRsa4096, KeyAlgo::kP256, KeyAlgo::kP384};

test::TempDir& scratch() {
  static test::TempDir dir;
  return dir;
}

struct Material {
  std::string key_path;
  std::string cert_path;
  crypto::PrivateKey key;
  crypto::Certificate cert;
};

// One key pair per (algorithm, name), generated once per test run: RSA-4096
// generation is slow, and most tests only need some valid signer.
const Material& material(KeyAlgo algo, const std::string& name = "signer") {
  static std::map<std::pair<KeyAlgo, std::string>, Material> cache;
  auto it = cache.find({algo, name});
  if (it != cache.end()) return it->second;
  Material m;
  std::string base = scratch().file(name + "-" + crypto::key_algo_name(algo));
  m.key_path = base + ".key";
  m.cert_path = base + ".der";
  crypto::KeygenOptions opts;
  opts.algo = algo;
  opts.subject = "CN=" + name + ",O=bpfsig tests";
  crypto::keygen(opts, m.key_path, m.cert_path);
  m.key = crypto::load_private_key(m.key_path);
  m.cert = crypto::load_certificate(m.cert_path);
  return cache.emplace(std::make_pair(algo, name), std::move(m)).first->second;
}

Bytes loader_like_content() {
  Bytes content(2288);
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<uint8_t>(i * 131 + 7);
  return content;
}

std::vector<crypto::Certificate> trust(const X509* cert) {
  std::vector<crypto::Certificate> out;
  out.push_back(crypto::parse_certificate(crypto::certificate_der(cert), "trusted"));
  return out;
}

std::string shared(const std::string& rel) { return test::shared_testdata() + "/" + rel; }

std::string write_bytes(const std::string& name, ByteView data) {
  std::string path = scratch().file(name);
  write_file_atomic(path, data);
  return path;
}

std::string errno_str(int err) { return errno_name(err); }

#define EXPECT_VERDICT(check, want_err, want_kind)                                                   \
  do {                                                                                               \
    crypto::SigCheck c_ = (check);                                                                   \
    EXPECT_EQ(errno_str(c_.err), errno_str(want_err)) << c_.kind << ": " << c_.detail;               \
    EXPECT_EQ(c_.kind, std::string(want_kind)) << c_.detail;                                         \
    EXPECT_EQ(ERR_peek_error(), 0ul) << "verify_kernel_rules left an OpenSSL error queued";         \
  } while (0)

// ---- building CMS messages with OpenSSL directly -----------------------------

struct CmsDeleter {
  void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); }
};
using CmsPtr = std::unique_ptr<CMS_ContentInfo, CmsDeleter>;
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr bio_over(ByteView data) { return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size()))); }

Bytes der_of(CMS_ContentInfo* cms) {
  unsigned char* out = nullptr;
  int len = i2d_CMS_ContentInfo(cms, &out);
  EXPECT_GT(len, 0);
  Bytes der(out, out + std::max(len, 0));
  OPENSSL_free(out);
  return der;
}

// CMS_sign with the given flags, as any OpenSSL-based signer would.
Bytes cms_sign(const Material& m, ByteView content, unsigned flags) {
  BioPtr in = bio_over(content);
  CmsPtr cms(CMS_sign(m.cert.get(), m.key.get(), nullptr, in.get(), flags));
  EXPECT_TRUE(cms) << "CMS_sign failed";
  return cms ? der_of(cms.get()) : Bytes{};
}

// An empty detached SignedData to which signers are added one by one.
CmsPtr partial_cms() { return CmsPtr(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY | CMS_NOCERTS)); }

Bytes finish(CMS_ContentInfo* cms, ByteView content, unsigned flags = CMS_BINARY | CMS_NOCERTS) {
  BioPtr in = bio_over(content);
  EXPECT_EQ(CMS_final(cms, in.get(), nullptr, flags), 1);
  return der_of(cms);
}

constexpr unsigned kBpftoolSigner = CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_USE_KEYID | CMS_NOATTR;
constexpr unsigned kWithAttrs = CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_USE_KEYID;

// ---- a tiny DER walker, to find regions of a signature -------------------------

struct Span {
  size_t start, header, end;  // tag offset, content offset, end offset
};

Span der_at(ByteView der, size_t pos) {
  size_t p = pos + 1, len = der[p++];
  if (len & 0x80) {
    size_t n = len & 0x7f;
    len = 0;
    while (n--) len = len << 8 | der[p++];
  }
  return {pos, p, p + len};
}

std::vector<Span> der_children(ByteView der, const Span& s) {
  std::vector<Span> out;
  for (size_t p = s.header; p < s.end; p = out.back().end) out.push_back(der_at(der, p));
  return out;
}

// The parts of a bpftool-profile SignedData that no signature covers and the
// kernel does not hold to one value: the SignedData's digestAlgorithms set
// (never read) and the signer's signatureAlgorithm (only the key type it
// names is read: ecdsa-with-SHA256 and ecdsa-with-SHA384 are both "ecdsa").
std::vector<Span> unauthenticated_regions(ByteView der) {
  Span top = der_at(der, 0);
  Span explicit0 = der_children(der, top)[1];
  Span signed_data = der_children(der, explicit0)[0];
  auto fields = der_children(der, signed_data);
  Span digest_algorithms = fields[1];
  Span signer = der_children(der, fields.back())[0];
  auto signer_fields = der_children(der, signer);
  Span signature_alg = signer_fields[signer_fields.size() - 2];
  return {digest_algorithms, signature_alg};
}

// Offsets of the identifier octets of every constructed element.
void constructed_tags(ByteView der, const Span& s, std::set<size_t>& out) {
  if (!(der[s.start] & 0x20)) return;
  out.insert(s.start);
  for (const Span& child : der_children(der, s)) constructed_tags(der, child, out);
}

bool inside(const std::vector<Span>& regions, size_t pos) {
  for (const Span& s : regions)
    if (pos >= s.start && pos < s.end) return true;
  return false;
}

test::CommandResult openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv);
}

}  // namespace

// ---- digests ---------------------------------------------------------------------

TEST(Digest, Sha256KnownVectors) {
  const std::string abc = "abc";
  EXPECT_EQ(to_hex(crypto::sha256(ByteView(reinterpret_cast<const uint8_t*>(abc.data()), abc.size()))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(crypto::sha256(ByteView())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, Padded8HashesTheZeroPaddedValue) {
  Bytes three = {'a', 'b', 'c'};
  Bytes padded = {'a', 'b', 'c', 0, 0, 0, 0, 0};
  EXPECT_EQ(crypto::sha256_padded8(three), crypto::sha256(padded));
  EXPECT_EQ(crypto::sha256_padded8(padded), crypto::sha256(padded));  // already a multiple of 8
  EXPECT_EQ(crypto::sha256_padded8(ByteView()), crypto::sha256(ByteView()));
  Bytes nine(9, 0x11), sixteen(16, 0);
  std::copy(nine.begin(), nine.end(), sixteen.begin());
  EXPECT_EQ(crypto::sha256_padded8(nine), crypto::sha256(sixteen));
}

// ---- key algorithms and keygen --------------------------------------------------

TEST(KeyAlgo, NamesRoundTrip) {
  for (KeyAlgo a : kAllAlgos) EXPECT_EQ(crypto::parse_key_algo(crypto::key_algo_name(a)), a);
  EXPECT_EQ(crypto::parse_key_algo("P256"), KeyAlgo::kP256);
  try {
    crypto::parse_key_algo("ed25519");
    FAIL() << "ed25519 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "bad_argument");
  }
}

class KeygenEachAlgo : public ::testing::TestWithParam<KeyAlgo> {};

TEST_P(KeygenEachAlgo, CertificateHasTheKernelProfile) {
  const Material& m = material(GetParam());
  // Independent view: the openssl command.
  test::CommandResult text = openssl({"x509", "-inform", "DER", "-in", m.cert_path, "-text", "-noout"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Version: 3 (0x2)"), std::string::npos);
  EXPECT_NE(text.out.find("X509v3 Subject Key Identifier"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 Authority Key Identifier"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 Basic Constraints: critical"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("CA:FALSE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("X509v3 Key Usage: critical"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Digital Signature"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Signature Algorithm: " + std::string(GetParam() >= KeyAlgo::kP256 ? "ecdsa-with-SHA256" : "sha256WithRSAEncryption")),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("Subject: CN = signer, O = bpfsig tests"), std::string::npos) << text.out;

  // The same facts through the OpenSSL API.
  X509* cert = m.cert.get();
  ASSERT_NE(X509_get0_subject_key_id(cert), nullptr);
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(cert);
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(cert)), 0);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_TRUE(X509_get_extension_flags(cert) & EXFLAG_BCONS);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(cert)), 1);
  EXPECT_EQ(X509_check_private_key(cert, m.key.get()), 1);

  crypto::CertInfo info = crypto::describe(cert);
  EXPECT_EQ(info.key_algo, crypto::key_algo_name(GetParam()));
  EXPECT_EQ(info.subject, "O=bpfsig tests,CN=signer");
  EXPECT_EQ(info.subject, info.issuer);
  EXPECT_EQ(info.serial_hex.size(), 32u) << "16-byte positive serial";
  EXPECT_GE(info.serial_hex[0], '4');
  EXPECT_EQ(info.skid_hex.size(), 40u);
  EXPECT_EQ(info.sha256_hex, to_hex(crypto::sha256(read_file(m.cert_path))));

  struct stat st {};
  ASSERT_EQ(::stat(m.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(test::read_text(m.key_path).rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << "unencrypted PKCS#8 PEM";
}

INSTANTIATE_TEST_SUITE_P(Algos, KeygenEachAlgo, ::testing::ValuesIn(kAllAlgos),
                         [](const auto& info) { return crypto::key_algo_name(info.param); });

TEST(Keygen, PemWhenThePathSaysPemAndDatesFollowDays) {
  test::TempDir dir;
  crypto::KeygenOptions opts;
  opts.algo = KeyAlgo::kP256;
  opts.subject = "/CN=slash form/O=Example\\/Org";
  opts.days = 10;
  keygen(opts, dir.file("k.pem"), dir.file("c.pem"));
  EXPECT_EQ(test::read_text(dir.file("c.pem")).rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  crypto::CertInfo info = crypto::describe(crypto::load_certificate(dir.file("c.pem")).get());
  EXPECT_EQ(info.subject, "O=Example/Org,CN=slash form");
  std::tm from{}, to{};
  ASSERT_NE(strptime(info.not_before.c_str(), "%Y-%m-%dT%H:%M:%SZ", &from), nullptr) << info.not_before;
  ASSERT_NE(strptime(info.not_after.c_str(), "%Y-%m-%dT%H:%M:%SZ", &to), nullptr) << info.not_after;
  EXPECT_EQ(timegm(&to) - timegm(&from), 10 * 86400);
  EXPECT_LE(std::abs(static_cast<long>(timegm(&from) - std::time(nullptr))), 60l);
}

// describe() keeps a certificate's description with it: the kept one is the
// one computed fresh, for any thread asking at once, and goes with the X509.
TEST(Describe, KeptWithTheCertificateTheSameForEveryThread) {
  test::TempDir dir;
  crypto::KeygenOptions opts;
  opts.algo = KeyAlgo::kP256;
  keygen(opts, dir.file("k.pem"), dir.file("c.der"));
  crypto::Certificate cert = crypto::load_certificate(dir.file("c.der"));
  std::vector<crypto::CertInfo> seen(4);
  std::vector<std::thread> threads;
  for (crypto::CertInfo& out : seen) threads.emplace_back([&] { out = crypto::describe(cert.get()); });
  for (std::thread& t : threads) t.join();
  const crypto::CertInfo fresh = crypto::describe(crypto::load_certificate(dir.file("c.der")).get());
  for (const crypto::CertInfo& info : seen) {
    EXPECT_EQ(info.subject, fresh.subject);
    EXPECT_EQ(info.serial_hex, fresh.serial_hex);
    EXPECT_EQ(info.not_after, fresh.not_after);
    EXPECT_EQ(info.sha256_hex, fresh.sha256_hex);
  }
  EXPECT_EQ(fresh.sha256_hex, to_hex(crypto::sha256(read_file(dir.file("c.der")))));
  // Another certificate in the same process is described as itself.
  keygen(opts, dir.file("k2.pem"), dir.file("c2.der"));
  crypto::Certificate other = crypto::load_certificate(dir.file("c2.der"));
  EXPECT_EQ(crypto::describe(other.get()).sha256_hex, to_hex(crypto::sha256(read_file(dir.file("c2.der")))));
  EXPECT_EQ(crypto::describe(cert.get()).sha256_hex, fresh.sha256_hex);
}

TEST(Keygen, RefusesBadSubjectsDaysAndPaths) {
  test::TempDir dir;
  crypto::KeygenOptions opts;
  opts.algo = KeyAlgo::kP256;
  for (const char* bad : {"", "CN", "=x", "CN=a,,O=b", "NOSUCHFIELD=x"}) {
    opts.subject = bad;
    try {
      keygen(opts, dir.file("k.pem"), dir.file("c.der"));
      ADD_FAILURE() << "accepted subject \"" << bad << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EINVAL) << bad;
      EXPECT_EQ(e.kind(), "bad_subject") << bad;
    }
  }
  opts.subject = "CN=x";
  opts.days = 0;
  EXPECT_THROW(keygen(opts, dir.file("k.pem"), dir.file("c.der")), Error);
  opts.days = 30;
  try {
    keygen(opts, dir.file("no/such/dir/k.pem"), dir.file("c.der"));
    FAIL() << "wrote into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("no/such/dir/k.pem"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

// ---- loading keys and certificates ------------------------------------------------

TEST(Keys, PassphraseProtectedPem) {
  test::TempDir dir;
  std::string enc = dir.file("enc.pem");
  auto r = openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:x", "-out", enc});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(crypto::load_private_key(enc, "x"));
  for (const char* pass : {"", "wrong"}) {
    try {
      crypto::load_private_key(enc, pass);
      ADD_FAILURE() << "loaded with passphrase \"" << pass << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EACCES);
      EXPECT_EQ(e.kind(), "key_passphrase");
      EXPECT_NE(std::string(e.what()).find(enc), std::string::npos);
    }
    EXPECT_EQ(ERR_peek_error(), 0ul);
  }
  // The same key as encrypted PKCS#8 DER.
  std::string der = dir.file("enc.der");
  r = openssl({"pkcs8", "-topk8", "-in", enc, "-passin", "pass:x", "-outform", "DER", "-v2", "aes256", "-passout", "pass:y", "-out", der});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(crypto::load_private_key(der, "y"));
  EXPECT_THROW(crypto::load_private_key(der), Error);
}

TEST(Keys, DerKeyLoadsAndNonKeysAreRefused) {
  const Material& m = material(KeyAlgo::kRsa2048);
  test::TempDir dir;
  std::string der = dir.file("k.der");
  auto r = openssl({"pkey", "-in", m.key_path, "-outform", "DER", "-out", der});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  crypto::PrivateKey key = crypto::load_private_key(der);
  EXPECT_EQ(X509_check_private_key(m.cert.get(), key.get()), 1);

  std::string pub = dir.file("pub.pem");
  ASSERT_EQ(openssl({"pkey", "-in", m.key_path, "-pubout", "-out", pub}).exit_code, 0);
  for (const std::string& path : {pub, m.cert_path}) {
    try {
      crypto::load_private_key(path);
      ADD_FAILURE() << path << " loaded as a private key";
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EBADMSG) << path;
      EXPECT_EQ(e.kind(), "key_parse") << path;
    }
  }
  try {
    crypto::load_private_key(dir.file("missing.pem"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOENT);
  }
}

TEST(Certs, PemAndDerAreDetectedByContent) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const std::string der_path = shared("bpftool-7.7/cert.der"), pem_path = shared("bpftool-7.7/cert.pem");
  crypto::Certificate from_der = crypto::load_certificate(der_path);
  crypto::Certificate from_pem = crypto::load_certificate(pem_path);
  EXPECT_EQ(crypto::certificate_der(from_der.get()), read_file(der_path));
  EXPECT_EQ(crypto::certificate_der(from_pem.get()), read_file(der_path));
  // Misleading file names do not matter.
  std::string swapped = write_bytes("actually-der.pem", read_file(der_path));
  EXPECT_EQ(crypto::certificate_der(crypto::load_certificate(swapped).get()), read_file(der_path));

  Bytes junk = read_file(der_path);
  junk.push_back(0);
  for (const Bytes& bad : {junk, Bytes{1, 2, 3}, Bytes{}}) {
    try {
      crypto::parse_certificate(bad, "input.bin");
      ADD_FAILURE() << "parsed " << bad.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EBADMSG);
      EXPECT_EQ(e.kind(), "cert_parse");
      EXPECT_NE(std::string(e.what()).find("input.bin"), std::string::npos);
    }
  }
}

TEST(Certs, DescribeTheReferenceCertificate) {
  SKIP_UNLESS(test::missing_shared_testdata());
  crypto::CertInfo info = crypto::describe(crypto::load_certificate(shared("bpftool-7.7/cert.der")).get());
  EXPECT_EQ(info.subject, "CN=anchor");
  EXPECT_EQ(info.issuer, "CN=anchor");
  EXPECT_EQ(info.serial_hex, "593465b634ea832d1b0fea6d721fe2a69bdcae99");
  EXPECT_EQ(info.key_algo, "rsa2048");
  EXPECT_EQ(info.not_before, "2026-11-28T05:22:40Z");
  EXPECT_EQ(info.not_after, "2027-11-28T05:22:40Z");
  auto fp = openssl({"x509", "-inform", "DER", "-in", shared("bpftool-7.7/cert.der"), "-noout", "-fingerprint", "-sha256"});
  ASSERT_EQ(fp.exit_code, 0);
  std::string hex;
  for (char c : fp.out.substr(fp.out.find('=') + 1))
    if (std::isxdigit(static_cast<unsigned char>(c))) hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  EXPECT_EQ(info.sha256_hex, hex);
  auto skid = openssl({"x509", "-inform", "DER", "-in", shared("bpftool-7.7/cert.der"), "-noout", "-ext", "subjectKeyIdentifier"});
  std::string skid_hex;
  for (char c : skid.out.substr(skid.out.find('\n') + 1))
    if (std::isxdigit(static_cast<unsigned char>(c))) skid_hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  EXPECT_EQ(info.skid_hex, skid_hex);
}

TEST(Certs, DirectoriesAreReadInNameOrder) {
  SKIP_UNLESS(test::missing_shared_testdata());
  test::TempDir dir;
  const Material& a = material(KeyAlgo::kP256, "alpha");
  const Material& b = material(KeyAlgo::kP384, "beta");
  std::filesystem::copy_file(b.cert_path, dir.file("1-beta.cer"));
  std::filesystem::copy_file(a.cert_path, dir.file("2-alpha.der"));
  test::write_text(dir.file("notes.txt"), "not a certificate");
  auto certs = crypto::load_certificates(dir.path());
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(crypto::describe(certs[0].get()).subject, "O=bpfsig tests,CN=beta");
  EXPECT_EQ(crypto::describe(certs[1].get()).subject, "O=bpfsig tests,CN=alpha");

  // A PEM bundle yields every certificate in it.
  std::string bundle = test::read_text(shared("bpftool-7.7/cert.pem")) + test::read_text(shared("bpftool-7.7/cert.pem"));
  test::write_text(dir.file("0-bundle.pem"), bundle);
  EXPECT_EQ(crypto::load_certificates(dir.path()).size(), 4u);
  EXPECT_EQ(crypto::load_certificates(dir.file("0-bundle.pem")).size(), 2u);

  test::TempDir empty;
  test::write_text(empty.file("readme.md"), "x");
  try {
    crypto::load_certificates(empty.path());
    FAIL() << "an empty directory gave certificates";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_EQ(e.kind(), "no_certificates");
  }
}

// ---- bpftool's signing profile ----------------------------------------------------

class SignEachAlgo : public ::testing::TestWithParam<KeyAlgo> {};

TEST_P(SignEachAlgo, OpensslVerifiesAndInspectSeesTheProfile) {
  const Material& m = material(GetParam());
  Bytes content = loader_like_content();
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  ASSERT_LE(sig.size(), 4096u) << "bpftool's buffer";
  std::string sig_path = write_bytes("sig-" + crypto::key_algo_name(GetParam()) + ".p7s", sig);
  std::string data_path = write_bytes("data.bin", content);

  auto r = openssl({"cms", "-verify", "-binary", "-inform", "DER", "-in", sig_path, "-content", data_path, "-certfile", m.cert_path,
                    "-noverify", "-out", "/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  crypto::CmsSummary s = crypto::inspect_cms(sig);
  EXPECT_EQ(s.content_type, "1.2.840.113549.1.7.1");
  EXPECT_TRUE(s.detached);
  EXPECT_EQ(s.certificate_count, 0u);
  ASSERT_EQ(s.signers.size(), 1u);
  EXPECT_TRUE(s.signers[0].by_skid);
  EXPECT_EQ(s.signers[0].skid_hex, crypto::describe(m.cert.get()).skid_hex);
  EXPECT_EQ(s.signers[0].digest_alg, "sha256");
  EXPECT_EQ(s.signers[0].signature_alg, GetParam() >= KeyAlgo::kP256 ? "ecdsa-with-SHA256" : "rsaEncryption");
  EXPECT_TRUE(s.signers[0].signed_attr_oids.empty());

  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(m.cert.get())), 0, "ok");
  crypto::SigCheck ok = crypto::verify_kernel_rules(sig, content, trust(m.cert.get()));
  ASSERT_TRUE(ok.signer.has_value());
  EXPECT_EQ(ok.signer->sha256_hex, crypto::describe(m.cert.get()).sha256_hex);
}

INSTANTIATE_TEST_SUITE_P(Algos, SignEachAlgo, ::testing::ValuesIn(kAllAlgos),
                         [](const auto& info) { return crypto::key_algo_name(info.param); });

TEST(Sign, RsaSignatureHasTheReferenceLayout) {
  // PKCS#1 v1.5 is deterministic, so with a 2048-bit key our DER has exactly
  // the size and layout of the bpftool 7.7 sample (README: opts_sig is 375 bytes).
  const Material& m = material(KeyAlgo::kRsa2048);
  Bytes sig = crypto::sign_bpftool(loader_like_content(), m.cert.get(), m.key.get());
  EXPECT_EQ(sig.size(), 375u);
  EXPECT_EQ(sig, crypto::sign_bpftool(loader_like_content(), m.cert.get(), m.key.get()));
}

TEST(Sign, ContentInPartsIsSignedAsItsConcatenation) {
  // The load-time scheme signs insns || metadata without joining them: the
  // signature over the parts is the one over the joined bytes (PKCS#1 v1.5 is
  // deterministic), for any split, an empty part included.
  const Material& m = material(KeyAlgo::kRsa2048);
  const Bytes whole = loader_like_content();
  const Bytes expected = crypto::sign_bpftool(whole, m.cert.get(), m.key.get());
  for (size_t cut : {size_t{0}, size_t{1}, whole.size() / 2, whole.size()}) {
    const ByteView parts[] = {ByteView(whole).first(cut), ByteView(), ByteView(whole).subspan(cut)};
    EXPECT_EQ(crypto::sign_bpftool(std::span<const ByteView>(parts), m.cert.get(), m.key.get()), expected) << cut;
  }
}

TEST(Sign, RefusesCertWithoutSkidAndMismatchedKey) {
  const Material& m = material(KeyAlgo::kP256);
  const Material& other = material(KeyAlgo::kP256, "other");
  try {
    crypto::sign_bpftool(loader_like_content(), m.cert.get(), other.key.get());
    FAIL() << "signed with the wrong key";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "key_mismatch");
  }
  // A certificate made without any extension.
  X509* bare = X509_new();
  X509_set_version(bare, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(bare), 1);
  X509_NAME* name = X509_get_subject_name(bare);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bare"), -1, -1, 0);
  X509_set_issuer_name(bare, name);
  X509_gmtime_adj(X509_getm_notBefore(bare), 0);
  X509_gmtime_adj(X509_getm_notAfter(bare), 3600);
  X509_set_pubkey(bare, m.key.get());
  ASSERT_GT(X509_sign(bare, m.key.get(), EVP_sha256()), 0);
  crypto::Certificate no_skid(bare);
  try {
    crypto::sign_bpftool(loader_like_content(), no_skid.get(), m.key.get());
    FAIL() << "signed with a certificate that has no SKID";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "cert_no_skid");
  }
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

// ---- keys the kernel cannot use (issue 14, item 8) ---------------------------------

// A key and certificate openssl makes but the kernel's key parser refuses.
struct ForeignKey {
  const char* label;
  const char* newkey;
  const char* pkeyopt;
  const char* algo;  // what classify_kernel_key calls it
};
const ForeignKey kForeignKeys[] = {
    {"secp256k1", "ec", "ec_paramgen_curve:secp256k1", "secp256k1"},
    {"p521", "ec", "ec_paramgen_curve:P-521", "secp521r1"},
    {"ed25519", "ed25519", "", "ED25519"},
};

struct LoadedForeignKey {
  std::string base;
  crypto::PrivateKey key;
  crypto::Certificate cert;
};

LoadedForeignKey foreign(const ForeignKey& f) {
  LoadedForeignKey out;
  out.base = test::openssl_key_and_cert(scratch(), f.label, f.newkey, f.pkeyopt);
  EXPECT_FALSE(out.base.empty()) << "openssl could not make a " << f.label << " key";
  if (out.base.empty()) return out;
  out.key = crypto::load_private_key(out.base + ".pem");
  out.cert = crypto::load_certificate(out.base + ".der");
  return out;
}

TEST(KernelKeys, RsaP256AndP384AreTheKeysTheKernelCanUse) {
  for (KeyAlgo a : kAllAlgos) {
    crypto::KernelKeyClass c = crypto::classify_kernel_key(material(a).key.get());
    EXPECT_TRUE(c.usable) << crypto::key_algo_name(a);
    EXPECT_EQ(c.algo, crypto::key_algo_name(a));
  }
  for (const ForeignKey& f : kForeignKeys) {
    LoadedForeignKey k = foreign(f);
    crypto::KernelKeyClass c = crypto::classify_kernel_key(X509_get0_pubkey(k.cert.get()));
    EXPECT_FALSE(c.usable) << f.label;
    EXPECT_NE(c.algo.find(f.algo), std::string::npos) << c.algo;
  }
  EXPECT_FALSE(crypto::classify_kernel_key(nullptr).usable);
}

TEST(KernelKeys, SigningWithAKeyTheKernelCannotUseIsRefusedWithTheAcceptedList) {
  for (const ForeignKey& f : kForeignKeys) {
    LoadedForeignKey k = foreign(f);
    for (bool hornet : {false, true}) {
      try {
        if (hornet)
          crypto::sign_hornet(loader_like_content(), {}, crypto::HornetFormat::kFinal, k.cert.get(), k.key.get());
        else
          crypto::sign_bpftool(loader_like_content(), k.cert.get(), k.key.get());
        ADD_FAILURE() << f.label << " key accepted (hornet " << hornet << ")";
      } catch (const Error& e) {
        EXPECT_EQ(e.err(), EINVAL);
        EXPECT_EQ(e.kind(), "key_unsupported");
        EXPECT_NE(std::string(e.what()).find("RSA, ECDSA P-256, ECDSA P-384"), std::string::npos) << e.what();
      }
    }
  }
}

TEST(KernelKeys, TrustedCertificatesTheKernelCannotAddAreRefusedNamingTheFile) {
  LoadedForeignKey k = foreign(kForeignKeys[0]);
  try {
    crypto::load_certificates(k.base + ".der");
    FAIL() << "a secp256k1 certificate was trusted";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "cert_key_unsupported");
    EXPECT_NE(std::string(e.what()).find(k.base + ".der"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("secp256k1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(crypto::load_certificates(material(KeyAlgo::kP384).cert_path).size(), 1u);
}

TEST(KernelKeys, AMessageCarryingSuchACertificateIsEnopkgAsInTheKernelsParser) {
  LoadedForeignKey k = foreign(kForeignKeys[0]);
  Material m;
  m.key = std::move(k.key);
  m.cert = std::move(k.cert);
  Bytes content = loader_like_content();
  Bytes sig = cms_sign(m, content, CMS_DETACHED | CMS_BINARY | CMS_NOSMIMECAP);
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(m.cert.get())), ENOPKG, "unsupported_algo");
}

// ---- the Hornet sample (gen_sig's profile) -------------------------------------------

TEST(Interop, HornetSampleVerifies) {
  SKIP_UNLESS(test::missing_shared_testdata());
  Bytes sig = read_file(shared("hornet/prog.hornet.p7b"));
  Bytes insns = read_file(shared("hornet/insn.bin"));
  auto trusted = trust(crypto::load_certificate(shared("bpftool-7.7/cert.der")).get());
  crypto::SigCheck c = crypto::verify_kernel_rules(sig, insns, trusted);
  EXPECT_VERDICT(c, 0, "ok");
  ASSERT_TRUE(c.signer.has_value());
  EXPECT_EQ(c.signer->subject, "CN=anchor");

  crypto::CmsSummary s = crypto::inspect_cms(sig);
  EXPECT_TRUE(s.detached);
  EXPECT_EQ(s.certificate_count, 0u);
  ASSERT_EQ(s.signers.size(), 1u);
  EXPECT_FALSE(s.signers[0].by_skid);
  EXPECT_EQ(s.signers[0].issuer, "CN=anchor");
  EXPECT_EQ(s.signers[0].serial_hex, "593465b634ea832d1b0fea6d721fe2a69bdcae99");
  EXPECT_EQ(s.signers[0].digest_alg, "sha256");
  EXPECT_EQ(s.signers[0].signature_alg, "rsaEncryption");
  EXPECT_EQ(s.signers[0].signed_attr_oids,
            (std::vector<std::string>{"1.2.840.113549.1.9.3", "1.2.840.113549.1.9.5", "1.2.840.113549.1.9.4",
                                      "2.25.316487325684022475439036912669789383960"}));

  // Its messageDigest covers insn.bin only.
  Bytes other = insns;
  other[100] ^= 1;
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, other, trusted), EKEYREJECTED, "bad_digest");
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, insns, trust(material(KeyAlgo::kRsa2048).cert.get())), ENOKEY, "no_key");
  for (const char* name : {"hornet/prog.hornet0.p7b", "hornet/prog.hornet2.p7b"})
    EXPECT_VERDICT(crypto::verify_kernel_rules(read_file(shared(name)), insns, trusted), 0, "ok");
}

// ---- rejections, with the kernel's errno -------------------------------------------

TEST(KernelRules, FlippedContentBitIsRejected) {
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  for (size_t pos : {size_t{0}, content.size() / 2, content.size() - 1}) {
    Bytes changed = content;
    changed[pos] ^= 0x10;
    EXPECT_VERDICT(crypto::verify_kernel_rules(sig, changed, trust(m.cert.get())), EKEYREJECTED, "bad_signature");
  }
  Bytes longer = content;
  longer.push_back(0);
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, longer, trust(m.cert.get())), EKEYREJECTED, "bad_signature");
}

// Every single-bit change of a signature. The kernel does not authenticate
// every bit: changes in the unauthenticated fields above may still verify, in
// the kernel too, and so may clearing the "constructed" bit of a SEQUENCE or
// SET tag (lib/asn1_decoder.c masks that bit off when it expects a
// constructed element). Everywhere else the result must be an error, and only
// one of the errors the kernel can give.
class BitFlips : public ::testing::TestWithParam<KeyAlgo> {};

TEST_P(BitFlips, EveryBitOutsideTheUnauthenticatedFieldsIsCaught) {
  const Material& m = material(GetParam());
  Bytes content = loader_like_content();
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  auto trusted = trust(m.cert.get());
  auto regions = unauthenticated_regions(sig);
  std::set<size_t> tags;
  constructed_tags(sig, der_at(sig, 0), tags);
  const std::set<int> kernel_errors = {EBADMSG, EKEYREJECTED, ENOKEY, ENOPKG, EINVAL};
  std::map<std::string, int> histogram;
  size_t accepted_in_regions = 0;
  for (size_t pos = 0; pos < sig.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes flipped = sig;
      flipped[pos] ^= static_cast<uint8_t>(1u << bit);
      crypto::SigCheck c = crypto::verify_kernel_rules(flipped, content, trusted);
      histogram[errno_name(c.err) + "/" + c.kind]++;
      if (c.err == 0) {
        EXPECT_TRUE(inside(regions, pos) || (bit == 5 && tags.count(pos))) << "byte " << pos << " bit " << bit << " accepted";
        ++accepted_in_regions;
        continue;
      }
      EXPECT_TRUE(kernel_errors.count(c.err)) << "byte " << pos << " bit " << bit << ": " << c.err << " " << c.kind;
    }
  }
  EXPECT_EQ(ERR_peek_error(), 0ul);
  std::string summary;
  for (const auto& [k, n] : histogram) summary += k + "=" + std::to_string(n) + " ";
  RecordProperty("results", summary);
  std::cout << "[ bit flips ] " << crypto::key_algo_name(GetParam()) << ": " << summary << "\n";
  EXPECT_LT(accepted_in_regions, sig.size());  // a handful, never a wide hole
}

INSTANTIATE_TEST_SUITE_P(Algos, BitFlips, ::testing::Values(KeyAlgo::kRsa2048, KeyAlgo::kP256),
                         [](const auto& info) { return crypto::key_algo_name(info.param); });

TEST(KernelRules, SizeTruncationAndGarbage) {
  const Material& m = material(KeyAlgo::kRsa2048);
  Bytes content = loader_like_content();
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  auto trusted = trust(m.cert.get());
  for (size_t len = 1; len < sig.size(); ++len) {
    crypto::SigCheck c = crypto::verify_kernel_rules(ByteView(sig).first(len), content, trusted);
    ASSERT_EQ(errno_name(c.err), "EBADMSG") << "prefix of " << len << " bytes: " << c.kind;
  }
  EXPECT_VERDICT(crypto::verify_kernel_rules(ByteView(), content, trusted), EBADMSG, "cms_parse");
  Bytes big(crypto::kMaxKernelSignatureSize + 1, 0x30);
  EXPECT_VERDICT(crypto::verify_kernel_rules(big, content, trusted), EINVAL, "sig_too_large");
  Bytes padded = sig;
  padded.resize(crypto::kMaxKernelSignatureSize + 1, 0);
  EXPECT_VERDICT(crypto::verify_kernel_rules(padded, content, trusted), EINVAL, "sig_too_large");
  EXPECT_VERDICT(crypto::verify_kernel_rules(Bytes(64, 0xa5), content, trusted), EBADMSG, "cms_parse");
  std::string text = "-----BEGIN PKCS7-----";
  EXPECT_VERDICT(crypto::verify_kernel_rules(Bytes(text.begin(), text.end()), content, trusted), EBADMSG, "cms_parse");
}

TEST(KernelRules, TrailingBytesAreIgnoredLikeTheKernelDecoder) {
  // lib/asn1_decoder.c stops after the ContentInfo and never looks at what
  // follows, so the kernel accepts trailing bytes; inspect_cms does not.
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  Bytes trailing = sig;
  trailing.insert(trailing.end(), {0xde, 0xad, 0xbe, 0xef});
  EXPECT_VERDICT(crypto::verify_kernel_rules(trailing, content, trust(m.cert.get())), 0, "ok");
  try {
    crypto::inspect_cms(trailing);
    FAIL() << "inspect_cms accepted trailing bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EBADMSG);
    EXPECT_EQ(e.kind(), "cms_parse");
  }
}

TEST(KernelRules, WrongCertIsNoKey) {
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(material(KeyAlgo::kP256, "other").cert.get())), ENOKEY, "no_key");
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, {}), ENOKEY, "no_key");
  // The right certificate among others is found.
  std::vector<crypto::Certificate> many = trust(material(KeyAlgo::kRsa2048).cert.get());
  many.push_back(crypto::parse_certificate(crypto::certificate_der(m.cert.get()), "m"));
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, many), 0, "ok");
}

TEST(KernelRules, EmbeddedContentIsBadMessage) {
  const Material& m = material(KeyAlgo::kRsa2048);
  Bytes content = loader_like_content();
  Bytes sig = cms_sign(m, content, CMS_BINARY | CMS_NOCERTS | CMS_NOATTR | CMS_USE_KEYID);
  EXPECT_FALSE(crypto::inspect_cms(sig).detached);
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(m.cert.get())), EBADMSG, "cms_embedded");
}

TEST(KernelRules, SignedAttributesMustMatchTheContent) {
  const Material& m = material(KeyAlgo::kP384);
  Bytes content = loader_like_content();
  Bytes sig = cms_sign(m, content, CMS_DETACHED | kWithAttrs);
  crypto::CmsSummary s = crypto::inspect_cms(sig);
  ASSERT_EQ(s.signers.size(), 1u);
  EXPECT_EQ(s.signers[0].signed_attr_oids.size(), 3u);  // contentType, signingTime, messageDigest
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(m.cert.get())), 0, "ok");
  Bytes other = content;
  other.back() ^= 1;
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, other, trust(m.cert.get())), EKEYREJECTED, "bad_digest");
}

TEST(KernelRules, ContentTypeMustBeData) {
  const Material& m = material(KeyAlgo::kRsa2048);
  Bytes content = loader_like_content();
  auto signed_with_type = [&](const char* oid, unsigned signer_flags) {
    CmsPtr cms = partial_cms();
    ASN1_OBJECT* type = OBJ_txt2obj(oid, 1);
    EXPECT_EQ(CMS_set1_eContentType(cms.get(), type), 1);
    ASN1_OBJECT_free(type);
    EXPECT_NE(CMS_add1_signer(cms.get(), m.cert.get(), m.key.get(), EVP_sha256(), signer_flags), nullptr);
    return finish(cms.get(), content);
  };
  // id-ct-TSTInfo: pkcs7_note_content() refuses anything but data and
  // Authenticode while parsing, with EINVAL.
  Bytes tst = signed_with_type("1.2.840.113549.1.9.16.1.4", kWithAttrs);
  EXPECT_EQ(crypto::inspect_cms(tst).content_type, "1.2.840.113549.1.9.16.1.4");
  EXPECT_VERDICT(crypto::verify_kernel_rules(tst, content, trust(m.cert.get())), EINVAL, "content_type");
  // Authenticode parses, and pkcs7_verify()'s usage check refuses it: "not pkcs7-data".
  Bytes authenticode = signed_with_type("1.3.6.1.4.1.311.2.1.4", kWithAttrs);
  EXPECT_VERDICT(crypto::verify_kernel_rules(authenticode, content, trust(m.cert.get())), EKEYREJECTED, "content_type");
  // ... unless it lacks the signed attributes Authenticode requires.
  Bytes bare = signed_with_type("1.3.6.1.4.1.311.2.1.4", kBpftoolSigner);
  EXPECT_VERDICT(crypto::verify_kernel_rules(bare, content, trust(m.cert.get())), EBADMSG, "cms_attrs");
}

TEST(KernelRules, SmimeCapabilitiesAttributeIsRejected) {
  // openssl cms -sign adds S/MIME capabilities unless -nosmimecap; the kernel
  // allows that attribute only with Authenticode.
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  Bytes sig = cms_sign(m, content, CMS_DETACHED | CMS_BINARY | CMS_NOCERTS | CMS_USE_KEYID);
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(m.cert.get())), EKEYREJECTED, "cms_attrs");
}

TEST(KernelRules, SignedAttributesByIdentifier) {
  // pkcs7_sig_note_authenticated_attr() acts on the attributes it knows by
  // their OID and ignores the rest; each known one may appear once.
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  // Signed with each attribute added `times` times (an OCTET STRING value),
  // over eContentType content_type when one is given.
  auto signed_with = [&](const std::vector<std::pair<const char*, int>>& attrs, const char* content_type = nullptr) {
    CmsPtr cms = partial_cms();
    if (content_type != nullptr) {
      ASN1_OBJECT* type = OBJ_txt2obj(content_type, 1);
      EXPECT_EQ(CMS_set1_eContentType(cms.get(), type), 1);
      ASN1_OBJECT_free(type);
    }
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), m.cert.get(), m.key.get(), EVP_sha256(), kWithAttrs);
    EXPECT_NE(si, nullptr);
    for (const auto& [oid, times] : attrs)
      for (int i = 0; i < times; ++i) {
        ASN1_OBJECT* type = OBJ_txt2obj(oid, 1);
        EXPECT_EQ(CMS_signed_add1_attr_by_OBJ(si, type, V_ASN1_OCTET_STRING, "x", 1), 1);
        ASN1_OBJECT_free(type);
      }
    return finish(cms.get(), content);
  };
  // An attribute the kernel does not know, under the same arcs as the known
  // ones (PKCS#9 and Microsoft's SPC), is ignored, however often it appears.
  EXPECT_VERDICT(crypto::verify_kernel_rules(signed_with({{"1.2.840.113549.1.9.7", 2}, {"1.3.6.1.4.1.311.2.1.13", 2}}),
                                             content, trust(m.cert.get())),
                 0, "ok");
  // Microsoft's statement type and opus info are for Authenticode only.
  EXPECT_VERDICT(crypto::verify_kernel_rules(signed_with({{"1.3.6.1.4.1.311.2.1.11", 1}}), content, trust(m.cert.get())),
                 EKEYREJECTED, "cms_attrs");
  EXPECT_VERDICT(crypto::verify_kernel_rules(signed_with({{"1.3.6.1.4.1.311.2.1.12", 1}}), content, trust(m.cert.get())),
                 EKEYREJECTED, "cms_attrs");
  // In Authenticode, where they are allowed, a known attribute twice: the
  // kernel's "repeated" check, which names it (OpenSSL itself refuses to sign
  // a repeated attribute it knows, such as signingTime).
  crypto::SigCheck twice = crypto::verify_kernel_rules(signed_with({{"1.3.6.1.4.1.311.2.1.11", 2}}, "1.3.6.1.4.1.311.2.1.4"),
                                                       content, trust(m.cert.get()));
  EXPECT_VERDICT(twice, EKEYREJECTED, "cms_attrs");
  EXPECT_NE(twice.detail.find("signed attribute 1.3.6.1.4.1.311.2.1.11 is repeated"), std::string::npos) << twice.detail;
}

TEST(KernelRules, CarriedSignerCertificate) {
  // CMS_sign's defaults (without S/MIME capabilities): the certificate travels
  // in the message and the signer is named by issuer and serial.
  const Material& m = material(KeyAlgo::kRsa2048);
  Bytes content = loader_like_content();
  Bytes sig = cms_sign(m, content, CMS_DETACHED | CMS_BINARY | CMS_NOSMIMECAP);
  EXPECT_EQ(crypto::inspect_cms(sig).certificate_count, 1u);
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(m.cert.get())), 0, "ok");
  // A self-signed certificate in the message is no trust anchor.
  EXPECT_VERDICT(crypto::verify_kernel_rules(sig, content, trust(material(KeyAlgo::kP256).cert.get())), ENOKEY, "no_key");
}

TEST(KernelRules, SigningTimeOutsideTheCarriedCertificate) {
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  auto signed_at = [&](const char* utc, unsigned flags) {
    CmsPtr cms = partial_cms();
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), m.cert.get(), m.key.get(), EVP_sha256(), flags);
    EXPECT_NE(si, nullptr);
    ASN1_UTCTIME* when = ASN1_UTCTIME_new();
    EXPECT_EQ(ASN1_UTCTIME_set_string(when, utc), 1);
    EXPECT_EQ(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, V_ASN1_UTCTIME, when, -1), 1);
    ASN1_UTCTIME_free(when);
    return finish(cms.get(), content, CMS_BINARY);
  };
  // The certificate in the message says "not before now": a 2020 signature is
  // outside its validity.
  Bytes carried = signed_at("200101000000Z", CMS_BINARY | CMS_NOSMIMECAP);
  EXPECT_EQ(crypto::inspect_cms(carried).certificate_count, 1u);
  EXPECT_VERDICT(crypto::verify_kernel_rules(carried, content, trust(m.cert.get())), EKEYREJECTED, "signing_time");
  // Without a certificate in the message the kernel has nothing to compare with.
  Bytes bare = signed_at("200101000000Z", kWithAttrs);
  EXPECT_VERDICT(crypto::verify_kernel_rules(bare, content, trust(m.cert.get())), 0, "ok");
  // A UTCTime year the kernel's x509_decode_time() refuses (before 1970).
  Bytes too_old = signed_at("600101000000Z", kWithAttrs);
  EXPECT_VERDICT(crypto::verify_kernel_rules(too_old, content, trust(m.cert.get())), EBADMSG, "cms_attrs");
  // A signingTime that is not a time at all (found by fuzz_cms).
  CmsPtr cms = partial_cms();
  CMS_SignerInfo* si = CMS_add1_signer(cms.get(), m.cert.get(), m.key.get(), EVP_sha256(), kWithAttrs);
  ASSERT_NE(si, nullptr);
  ASSERT_EQ(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, V_ASN1_OBJECT, OBJ_nid2obj(NID_sha256), -1), 1);
  EXPECT_VERDICT(crypto::verify_kernel_rules(finish(cms.get(), content), content, trust(m.cert.get())), EBADMSG, "cms_attrs");
}

TEST(KernelRules, CertificateChainThroughTheMessage) {
  test::TempDir dir;
  auto run = [](const std::vector<std::string>& args) {
    auto r = openssl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.file("ca.key"), "-out",
       dir.file("ca.pem"), "-subj", "/CN=test ca", "-days", "30"});
  run({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.file("leaf.key"), "-out",
       dir.file("leaf.csr"), "-subj", "/CN=test leaf"});
  test::write_text(dir.file("ext.cnf"),
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\n");
  run({"x509", "-req", "-in", dir.file("leaf.csr"), "-CA", dir.file("ca.pem"), "-CAkey", dir.file("ca.key"), "-set_serial", "7",
       "-days", "10", "-extfile", dir.file("ext.cnf"), "-out", dir.file("leaf.pem")});
  Material leaf;
  leaf.key = crypto::load_private_key(dir.file("leaf.key"));
  leaf.cert = crypto::load_certificate(dir.file("leaf.pem"));
  crypto::Certificate ca = crypto::load_certificate(dir.file("ca.pem"));
  Bytes content = loader_like_content();

  // Leaf certificate in the message, CA in the keyring: the kernel follows the
  // leaf's authorityKeyIdentifier to the trusted CA.
  Bytes carried = cms_sign(leaf, content, CMS_DETACHED | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR);
  crypto::SigCheck c = crypto::verify_kernel_rules(carried, content, trust(ca.get()));
  EXPECT_VERDICT(c, 0, "ok");
  ASSERT_TRUE(c.signer.has_value());
  EXPECT_EQ(c.signer->subject, "CN=test ca");
  // bpftool's profile carries no certificate, so only the leaf itself can vouch.
  Bytes bpftool = crypto::sign_bpftool(content, leaf.cert.get(), leaf.key.get());
  EXPECT_VERDICT(crypto::verify_kernel_rules(bpftool, content, trust(ca.get())), ENOKEY, "no_key");
  EXPECT_VERDICT(crypto::verify_kernel_rules(bpftool, content, trust(leaf.cert.get())), 0, "ok");
}

TEST(KernelRules, DigestAndSignatureAlgorithms) {
  const Material& m = material(KeyAlgo::kRsa2048);
  Bytes content = loader_like_content();
  auto signed_with = [&](const EVP_MD* md, bool pss) {
    CmsPtr cms = partial_cms();
    CMS_SignerInfo* si = CMS_add1_signer(cms.get(), m.cert.get(), m.key.get(), md, kBpftoolSigner | (pss ? CMS_KEY_PARAM : 0));
    EXPECT_NE(si, nullptr);
    if (pss) {
      EXPECT_GT(EVP_PKEY_CTX_set_rsa_padding(CMS_SignerInfo_get0_pkey_ctx(si), RSA_PKCS1_PSS_PADDING), 0);
    }
    return finish(cms.get(), content);
  };
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha224(), EVP_sha384(), EVP_sha512(), EVP_sha3_256()}) {
    SCOPED_TRACE(EVP_MD_get0_name(md));
    EXPECT_VERDICT(crypto::verify_kernel_rules(signed_with(md, false), content, trust(m.cert.get())), 0, "ok");
  }
  // md5 is unknown to pkcs7_sig_note_digest_algo(); RSASSA-PSS to pkcs7_sig_note_pkey_algo().
  EXPECT_VERDICT(crypto::verify_kernel_rules(signed_with(EVP_md5(), false), content, trust(m.cert.get())), ENOPKG, "unsupported_algo");
  Bytes pss = signed_with(EVP_sha256(), true);
  EXPECT_EQ(crypto::inspect_cms(pss).signers.at(0).signature_alg, "RSASSA-PSS");
  EXPECT_VERDICT(crypto::verify_kernel_rules(pss, content, trust(m.cert.get())), ENOPKG, "unsupported_algo");
}

TEST(KernelRules, SeveralSigners) {
  const Material& a = material(KeyAlgo::kRsa2048);
  const Material& b = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  CmsPtr cms = partial_cms();
  ASSERT_NE(CMS_add1_signer(cms.get(), a.cert.get(), a.key.get(), EVP_sha256(), kBpftoolSigner), nullptr);
  ASSERT_NE(CMS_add1_signer(cms.get(), b.cert.get(), b.key.get(), EVP_sha256(), kBpftoolSigner), nullptr);
  Bytes two = finish(cms.get(), content);
  EXPECT_EQ(crypto::inspect_cms(two).signers.size(), 2u);
  // One trusted signer is enough; the other is skipped as "no key".
  EXPECT_VERDICT(crypto::verify_kernel_rules(two, content, trust(a.cert.get())), 0, "ok");
  crypto::SigCheck by_b = crypto::verify_kernel_rules(two, content, trust(b.cert.get()));
  EXPECT_VERDICT(by_b, 0, "ok");
  ASSERT_TRUE(by_b.signer);
  EXPECT_EQ(by_b.signer->key_algo, "p256");
  // The last signer's signature is the last field of the message: break it.
  // (DER sorts the SET of SignerInfos, so look up which signer that is.)
  // A trusted signer with a bad signature fails the whole message, even
  // though the other one verifies.
  const bool a_is_last = crypto::inspect_cms(two).signers.at(1).skid_hex == crypto::describe(a.cert.get()).skid_hex;
  const Material& last = a_is_last ? a : b;
  const Material& first = a_is_last ? b : a;
  Bytes broken = two;
  broken.back() ^= 0x01;
  std::vector<crypto::Certificate> both = trust(a.cert.get());
  both.push_back(crypto::parse_certificate(crypto::certificate_der(b.cert.get()), "b"));
  EXPECT_VERDICT(crypto::verify_kernel_rules(broken, content, both), EKEYREJECTED, "bad_signature");
  EXPECT_VERDICT(crypto::verify_kernel_rules(broken, content, trust(last.cert.get())), EKEYREJECTED, "bad_signature");
  EXPECT_VERDICT(crypto::verify_kernel_rules(broken, content, trust(first.cert.get())), 0, "ok");

  // Signed attributes on one signer but not the other: pkcs7_check_authattrs().
  CmsPtr mixed = partial_cms();
  ASSERT_NE(CMS_add1_signer(mixed.get(), a.cert.get(), a.key.get(), EVP_sha256(), kBpftoolSigner), nullptr);
  ASSERT_NE(CMS_add1_signer(mixed.get(), b.cert.get(), b.key.get(), EVP_sha256(), kWithAttrs), nullptr);
  EXPECT_VERDICT(crypto::verify_kernel_rules(finish(mixed.get(), content), content, both), EINVAL, "cms_attrs");

  // No signer at all (CMS_final refuses that, so encode the partial message).
  CmsPtr none = partial_cms();
  Bytes empty = der_of(none.get());
  EXPECT_TRUE(crypto::inspect_cms(empty).signers.empty());
  EXPECT_VERDICT(crypto::verify_kernel_rules(empty, content, both), EINVAL, "no_signers");
}

TEST(KernelRules, OuterTypeAndVersions) {
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  // A ContentInfo of type id-data: pkcs7_check_content_type() says EINVAL.
  BioPtr in = bio_over(content);
  CmsPtr data(CMS_data_create(in.get(), CMS_BINARY));
  ASSERT_TRUE(data);
  Bytes plain = der_of(data.get());
  EXPECT_VERDICT(crypto::verify_kernel_rules(plain, content, trust(m.cert.get())), EINVAL, "cms_type");
  EXPECT_THROW(crypto::inspect_cms(plain), Error);

  // The version INTEGERs, which OpenSSL ignores and no signature covers.
  Bytes sig = crypto::sign_bpftool(content, m.cert.get(), m.key.get());
  Span signed_data = der_children(sig, der_children(sig, der_at(sig, 0))[1])[0];
  auto fields = der_children(sig, signed_data);
  const size_t sd_version = fields[0].header;
  const size_t si_version = der_children(sig, der_children(sig, fields.back())[0])[0].header;
  ASSERT_EQ(sig[sd_version], 3);
  ASSERT_EQ(sig[si_version], 3);
  auto with = [&](size_t at, uint8_t value) {
    Bytes changed = sig;
    changed[at] = value;
    return crypto::verify_kernel_rules(changed, content, trust(m.cert.get()));
  };
  EXPECT_VERDICT(with(sd_version, 2), EINVAL, "cms_version");
  EXPECT_VERDICT(with(sd_version, 1), EBADMSG, "cms_version");  // a v3 SignerInfo in a v1 SignedData
  EXPECT_VERDICT(with(si_version, 1), EBADMSG, "cms_version");
  EXPECT_VERDICT(with(si_version, 4), EINVAL, "cms_version");
}

TEST(KernelRules, CarriedCrlIsBadMessage) {
  const Material& m = material(KeyAlgo::kP256);
  Bytes content = loader_like_content();
  X509_CRL* crl = X509_CRL_new();
  ASSERT_NE(crl, nullptr);
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(m.cert.get()));
  ASN1_TIME* now = X509_gmtime_adj(nullptr, 0);
  X509_CRL_set1_lastUpdate(crl, now);
  ASN1_TIME_free(now);
  ASSERT_GT(X509_CRL_sign(crl, m.key.get(), EVP_sha256()), 0);
  CmsPtr cms = partial_cms();
  ASSERT_EQ(CMS_add1_crl(cms.get(), crl), 1);
  X509_CRL_free(crl);
  ASSERT_NE(CMS_add1_signer(cms.get(), m.cert.get(), m.key.get(), EVP_sha256(), kBpftoolSigner), nullptr);
  EXPECT_VERDICT(crypto::verify_kernel_rules(finish(cms.get(), content), content, trust(m.cert.get())), EBADMSG, "cms_parse");
}

TEST(KernelRules, ErrorQueueIsCleanAfterEveryFailure) {
  ERR_put_error(ERR_LIB_USER, 0, 1, __FILE__, __LINE__);  // stale state from somebody else
  crypto::SigCheck c = crypto::verify_kernel_rules(Bytes(10, 0x30), Bytes{}, {});
  EXPECT_EQ(c.err, EBADMSG);
  EXPECT_EQ(ERR_peek_error(), 0ul);
  EXPECT_THROW(crypto::inspect_cms(Bytes(10, 0x30)), Error);
  EXPECT_EQ(ERR_peek_error(), 0ul);
  EXPECT_THROW(crypto::parse_certificate(Bytes(10, 0x30), "x"), Error);
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

// A certificate is parsed once per process: the same DER bytes give the same
// parsed X509 (shared), and bytes that differ anywhere are parsed afresh, so
// a certificate that does not parse is still refused every time.
TEST(ParseCertificate, SameBytesShareOneParse) {
  Bytes der = crypto::certificate_der(material(KeyAlgo::kP256, "parse-once").cert.get());
  crypto::Certificate first = crypto::parse_certificate(der, "first");
  crypto::Certificate second = crypto::parse_certificate(Bytes(der), "second");
  EXPECT_EQ(first.get(), second.get());
  first.reset();
  EXPECT_EQ(crypto::certificate_der(second.get()), der);  // still alive: each holder has a reference
}

TEST(ParseCertificate, ChangedBytesAreParsedAgain) {
  Bytes der = crypto::certificate_der(material(KeyAlgo::kP256, "parse-once").cert.get());
  crypto::Certificate good = crypto::parse_certificate(der, "good");
  Bytes truncated(der.begin(), der.end() - 1);
  EXPECT_THROW(crypto::parse_certificate(truncated, "truncated"), Error);
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_THROW(crypto::parse_certificate(trailing, "trailing"), Error);
  Bytes flipped = der;
  flipped[der.size() - 1] ^= 1;  // inside the signature value: still parses, as a different certificate
  crypto::Certificate other = crypto::parse_certificate(flipped, "flipped");
  EXPECT_NE(other.get(), good.get());
  EXPECT_EQ(crypto::certificate_der(other.get()), flipped);
}
