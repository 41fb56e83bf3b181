// SPDX-License-Identifier: Apache-2.0
// Key generation, the self-signed signer certificate, and private-key loading.
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bpfsig/crypto.h"
#include "crypto/ossl.h"
#include "crypto/selfsigned.h"

namespace bpfsig::crypto {

void PkeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void X509Deleter::operator()(X509* c) const { X509_free(c); }

namespace {

struct AlgoName {
  KeyAlgo algo;
  const char* name;
};
constexpr AlgoName kAlgoNames[] = {
    {KeyAlgo::kRsa2048, "rsa2048"}, {KeyAlgo::kRsa3072, "rsa3072"}, {KeyAlgo::kRsa4096, "rsa4096"},
    {KeyAlgo::kP256, "p256"},       {KeyAlgo::kP384, "p384"},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == suffix;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// ---- key generation -------------------------------------------------------

ossl::Pkey generate_key(KeyAlgo algo) {
  EVP_PKEY* key = nullptr;
  switch (algo) {
    case KeyAlgo::kRsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)); break;
    case KeyAlgo::kRsa3072: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072)); break;
    case KeyAlgo::kRsa4096: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096)); break;
    // OpenSSL 3 writes EC keys with the named-curve form, which the kernel requires.
    case KeyAlgo::kP256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyAlgo::kP384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
  }
  if (key == nullptr) throw ossl::failure(EIO, "keygen", "cannot generate a " + key_algo_name(algo) + " key");
  ossl::Pkey owned(key);
  // The algorithm table and the kernel's list must never drift apart.
  require_kernel_key(owned.get(), "keygen " + key_algo_name(algo), EINVAL, "key_unsupported");
  return owned;
}

// Splits "CN=a,O=b" or "/CN=a/O=b" into (field, value) pairs. A backslash
// escapes the separator (and itself) inside a value.
std::vector<std::pair<std::string, std::string>> split_subject(const std::string& subject) {
  const bool slash_form = !subject.empty() && subject[0] == '/';
  const char sep = slash_form ? '/' : ',';
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = slash_form ? 1 : 0; i < subject.size(); ++i) {
    char c = subject[i];
    if (c == '\\' && i + 1 < subject.size()) {
      cur.push_back(subject[++i]);
    } else if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(cur);
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& part : parts) {
    size_t eq = part.find('=');
    std::string field = trim(eq == std::string::npos ? part : part.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : trim(part.substr(eq + 1));
    if (eq == std::string::npos || field.empty() || value.empty())
      throw Error(EINVAL, "bad_subject", "subject \"" + subject + "\": expected FIELD=value parts, as in \"CN=a,O=b\" or \"/CN=a/O=b\"");
    out.emplace_back(field, value);
  }
  return out;
}

ossl::X509Name parse_subject(const std::string& subject) {
  ossl::X509Name name(X509_NAME_new());
  if (!name) throw ossl::failure(ENOMEM, "keygen", "cannot allocate a name");
  for (const auto& [field, value] : split_subject(subject)) {
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1)
      throw ossl::failure(EINVAL, "bad_subject", "subject \"" + subject + "\": unknown field \"" + field + "\"");
  }
  return name;
}

// A random positive serial of exactly 16 bytes (top bit clear, next bit set).
void set_random_serial(X509* cert) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) throw ossl::failure(EIO, "keygen", "no randomness for the serial number");
  raw[0] = static_cast<unsigned char>((raw[0] & 0x7f) | 0x40);
  ossl::Bignum bn(BN_bin2bn(raw, sizeof raw, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr)
    throw ossl::failure(EIO, "keygen", "cannot set the serial number");
}

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    throw ossl::failure(EIO, "keygen", std::string("cannot add extension ") + OBJ_nid2sn(nid) + "=" + value);
}

}  // namespace

// Declared in crypto/selfsigned.h: shared with the PKCS#11 keygen (pkcs11.cpp).
ossl::X509Ptr self_signed_certificate(EVP_PKEY* public_key, EVP_PKEY* signer, const std::string& subject, int days) {
  ossl::X509Name name = parse_subject(subject);
  ossl::X509Ptr cert(X509_new());
  if (!cert) throw ossl::failure(ENOMEM, "keygen", "cannot allocate a certificate");
  bool ok = X509_set_version(cert.get(), X509_VERSION_3) == 1 && X509_set_subject_name(cert.get(), name.get()) == 1 &&
            X509_set_issuer_name(cert.get(), name.get()) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) != nullptr &&
            X509_set_pubkey(cert.get(), public_key) == 1;
  if (!ok) throw ossl::failure(EIO, "keygen", "cannot fill in the certificate");
  set_random_serial(cert.get());

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  // The SKID must exist before the AKID, which copies it. "always" is needed
  // because OpenSSL 3 leaves the key id out of a self-signed certificate's
  // AKID otherwise.
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");

  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0) throw ossl::failure(EIO, "keygen", "cannot self-sign the certificate");
  return cert;
}

// DER, or PEM when the name ends in ".pem".
Bytes certificate_file_bytes(X509* cert, const std::string& path) {
  if (!ends_with_ci(path, ".pem")) return certificate_der(cert);
  ossl::Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), cert) != 1)
    throw ossl::failure(EIO, "keygen", path + ": cannot encode the certificate");
  return ossl::bio_bytes(out.get());
}

namespace {

// The PEM of the private key: encrypted PKCS#8 (PBES2, AES-256-CBC, OpenSSL 3's
// PBKDF2 defaults) with a passphrase. The caller wipes it.
Bytes private_key_pem(EVP_PKEY* key, const std::string& path, const std::string& passphrase) {
  ossl::Bio out(BIO_new(BIO_s_mem()));
  const EVP_CIPHER* cipher = passphrase.empty() ? nullptr : EVP_aes_256_cbc();
  if (passphrase.size() > INT_MAX) throw Error(EINVAL, "bad_argument", path + ": passphrase too long");
  if (!out || PEM_write_bio_PKCS8PrivateKey(out.get(), key, cipher, passphrase.empty() ? nullptr : passphrase.data(),
                                            static_cast<int>(passphrase.size()), nullptr, nullptr) != 1)
    throw ossl::failure(EIO, "keygen", path + ": cannot encode the private key");
  return ossl::bio_bytes(out.get());
}

// ---- private key loading --------------------------------------------------

// The passphrase OpenSSL asks for while decoding. Without one it fails the
// request instead of prompting on the terminal.
struct PassphraseSource {
  const std::string* passphrase;
};

int provide_passphrase(char* buf, size_t size, size_t* len, const OSSL_PARAM*, void* arg) {
  const std::string& pass = *static_cast<PassphraseSource*>(arg)->passphrase;
  if (pass.empty() || pass.size() > size) return 0;
  std::memcpy(buf, pass.data(), pass.size());
  *len = pass.size();
  return 1;
}

bool looks_encrypted(ByteView bytes) {
  std::string text(bytes.begin(), bytes.end());
  if (text.find("-----BEGIN") != std::string::npos)
    return text.find("ENCRYPTED") != std::string::npos;  // PKCS#8 or legacy Proc-Type
  // DER: an EncryptedPrivateKeyInfo is an X509_SIG that fills the whole file.
  const unsigned char* p = bytes.data();
  ossl::X509Sig sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(bytes.size())));
  return sig && p == bytes.data() + bytes.size();
}

// A public key decodes too; only a key with its private half can sign.
bool has_private_half(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PrivateKey(key, &der);
  ossl::OsslBytes owner(der);
  if (der != nullptr && len > 0) OPENSSL_cleanse(der, static_cast<size_t>(len));
  return len > 0;
}

}  // namespace

KeyAlgo parse_key_algo(const std::string& name) {
  std::string wanted = lower(name);
  for (const AlgoName& a : kAlgoNames)
    if (wanted == a.name) return a.algo;
  throw Error(EINVAL, "bad_argument",
              "key algorithm \"" + name + "\": bpfsig makes only keys the kernel can use for BPF signatures (" +
                  kKernelKeyAlgorithms + "): rsa2048, rsa3072, rsa4096, p256, p384");
}

std::string key_algo_name(KeyAlgo algo) {
  for (const AlgoName& a : kAlgoNames)
    if (a.algo == algo) return a.name;
  return "unknown";
}

void keygen(const KeygenOptions& opts, const std::string& key_path, const std::string& cert_path) {
  keygen(opts, key_path, cert_path, "");
}

void keygen(const KeygenOptions& opts, const std::string& key_path, const std::string& cert_path,
            const std::string& passphrase) {
  ossl::ErrorQueueGuard guard;
  if (opts.days <= 0 || opts.days > 365 * 100)
    throw Error(EINVAL, "bad_argument", "certificate lifetime of " + std::to_string(opts.days) + " days: use 1 to 36500");
  if (key_path.empty() || cert_path.empty()) throw Error(EINVAL, "bad_argument", "keygen needs a key path and a certificate path");
  ossl::Pkey key = generate_key(opts.algo);
  ossl::X509Ptr cert = self_signed_certificate(key.get(), key.get(), opts.subject, opts.days);
  // Both files or neither: a certificate that cannot be written must not
  // leave a new key in place of the old one.
  // (Assigned, not listed in braces: an initializer list would leave a copy of the key unwiped.)
  std::vector<Output> outputs(2);
  outputs[0] = Output{key_path, private_key_pem(key.get(), key_path, passphrase), Access::kPrivate, opts.replace_existing_key};
  outputs[1] = Output{cert_path, certificate_file_bytes(cert.get(), cert_path)};
  try {
    write_outputs(outputs);
  } catch (...) {
    OPENSSL_cleanse(outputs[0].data.data(), outputs[0].data.size());
    throw;
  }
  OPENSSL_cleanse(outputs[0].data.data(), outputs[0].data.size());
}

KeyPair make_key_pair(const KeygenOptions& opts) {
  ossl::ErrorQueueGuard guard;
  ossl::Pkey key = generate_key(opts.algo);
  ossl::X509Ptr cert = self_signed_certificate(key.get(), key.get(), opts.subject, opts.days);
  return KeyPair{PrivateKey(key.release()), Certificate(cert.release())};
}

namespace {

// Decodes key bytes read from path; wipes them whatever happens.
PrivateKey decode_private_key(Bytes& bytes, const std::string& path, const std::string& passphrase) {
  ossl::ErrorQueueGuard guard;
  EVP_PKEY* raw = nullptr;
  ossl::DecoderCtx dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, nullptr, nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!dctx) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    throw ossl::failure(ENOMEM, "key_parse", path + ": cannot set up the key decoder");
  }
  PassphraseSource source{&passphrase};
  if (OSSL_DECODER_CTX_set_passphrase_cb(dctx.get(), provide_passphrase, &source) != 1) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    throw ossl::failure(EIO, "key_parse", path + ": cannot set up the key decoder");
  }
  const unsigned char* p = bytes.data();
  size_t left = bytes.size();
  int decoded = OSSL_DECODER_from_data(dctx.get(), &p, &left);
  PrivateKey key(raw);
  const bool encrypted = looks_encrypted(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  // Messages name the file, never its content or the passphrase.
  if (decoded != 1 || !key) {
    ossl::drain_errors();
    if (encrypted)
      throw Error(EACCES, "key_passphrase",
                  path + (passphrase.empty() ? ": the key is encrypted and no passphrase was given (--pass, BPFSIG_KEY_PASS)"
                                             : ": wrong passphrase"));
    throw Error(EBADMSG, "key_parse", path + ": not a private key in PEM or DER form");
  }
  if (!has_private_half(key.get())) throw Error(EBADMSG, "key_parse", path + ": holds a public key, not a private key");
  return key;
}

constexpr size_t kMaxKeyFile = 1u << 20;

// Reads at most max bytes from fd (EOF or max, whichever first): --pass fd:N,
// whose first line is all that is used.
Bytes read_fd(int fd, size_t max, const std::string& what) {
  Bytes out;
  uint8_t buf[4096];
  while (out.size() < max) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, max - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(errno, "io", what + ": read failed: " + std::strerror(errno));
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

std::string first_line(const Bytes& bytes) {
  std::string s(bytes.begin(), bytes.end());
  size_t nl = s.find_first_of("\r\n");
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

PrivateKey load_private_key(const std::string& path, const std::string& passphrase) {
  Bytes bytes = read_file(path, kMaxKeyFile);
  return decode_private_key(bytes, path, passphrase);
}

PrivateKey load_private_key(const std::string& path, const std::string& passphrase, const KeyFileOptions& opts) {
  // Checked on the open file, before a byte of the key is read.
  auto refuse_readable = [&opts](const struct stat& st, const std::string& name) {
    if (opts.require_private_mode && S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
      throw Error(EACCES, "key_permissions",
                  name + ": private key file has mode " + octal_mode(st.st_mode) +
                      ", readable by group or others: chmod 600 it, or pass --insecure-key-perms");
  };
  Bytes bytes = read_file_checked(path, kMaxKeyFile, refuse_readable);
  return decode_private_key(bytes, path, passphrase);
}

std::string resolve_passphrase(const std::string& spec) {
  constexpr size_t kMaxPass = 4096;
  if (spec.empty()) {
    const char* env = std::getenv("BPFSIG_KEY_PASS");
    return env ? std::string(env) : std::string();
  }
  size_t colon = spec.find(':');
  const std::string form = colon == std::string::npos ? "" : spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (form == "pass") return arg;
  if (form == "env") {
    const char* v = std::getenv(arg.c_str());
    if (v == nullptr) throw Error(EINVAL, "bad_argument", "--pass env:" + arg + ": the variable is not set");
    return v;
  }
  if (form == "fd") {
    char* end = nullptr;
    errno = 0;
    long fd = arg.empty() ? -1 : std::strtol(arg.c_str(), &end, 10);
    if (fd < 0 || fd > INT_MAX || errno != 0 || *end != '\0')
      throw Error(EINVAL, "bad_argument", "--pass fd:" + arg + ": not a file descriptor number");
    if (::fcntl(static_cast<int>(fd), F_GETFD) < 0)
      throw Error(EINVAL, "bad_argument", "--pass fd:" + arg + ": descriptor is not open");
    Bytes b = read_fd(static_cast<int>(fd), kMaxPass, "--pass fd:" + arg);
    std::string line = first_line(b);
    OPENSSL_cleanse(b.data(), b.size());
    return line;
  }
  if (form == "file") {
    Bytes b = read_file(arg, kMaxPass);
    std::string line = first_line(b);
    OPENSSL_cleanse(b.data(), b.size());
    return line;
  }
  throw Error(EINVAL, "bad_argument",
              "--pass must be pass:TEXT, env:VAR, fd:N or file:PATH (the argument itself is not echoed)");
}

}  // namespace bpfsig::crypto
