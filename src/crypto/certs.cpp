// SPDX-License-Identifier: Apache-2.0
// Certificates: loading (PEM or DER, one file or a directory) and describing.
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "bpfsig/crypto.h"
#include "crypto/ossl.h"

namespace bpfsig::crypto {

namespace {

constexpr size_t kMaxCertFile = 4u << 20;

bool is_pem(ByteView bytes) {
  static const std::string kBegin = "-----BEGIN";
  size_t i = 0;
  while (i < bytes.size() && std::isspace(bytes[i])) ++i;
  return bytes.size() - i >= kBegin.size() && std::equal(kBegin.begin(), kBegin.end(), bytes.begin() + static_cast<std::ptrdiff_t>(i));
}

Error not_a_certificate(const std::string& what) {
  ossl::drain_errors();
  return Error(EBADMSG, "cert_parse", what + ": not an X.509 certificate in PEM or DER form");
}

// Every CERTIFICATE block of a PEM text, in order.
std::vector<Certificate> parse_pem_certificates(ByteView bytes, const std::string& what) {
  ossl::Bio in = ossl::memory_bio(bytes);
  std::vector<Certificate> out;
  while (X509* cert = PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr)) out.emplace_back(cert);
  // The loop ends on "no start line"; that is not an error once one was read.
  ossl::drain_errors();
  if (out.empty()) throw not_a_certificate(what);
  return out;
}

Certificate decode_der_certificate(ByteView bytes, const std::string& what) {
  const unsigned char* p = bytes.data();
  Certificate cert(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  if (!cert || p != bytes.data() + bytes.size()) throw not_a_certificate(what);
  return cert;
}

// The certificates this process has parsed, by their exact DER bytes. d2i_X509
// decodes the public key through OpenSSL's decoder framework, which costs more
// than the signature check it serves (~100 us); verify's signer certificate,
// the Hornet keyring and the model's keyring hand the same bytes over again
// and again. Only certificates that parsed are kept, so bytes that fail still
// fail every time. Entries are shared (X509_up_ref); nothing here modifies a
// parsed certificate, and OpenSSL's lazily cached fields are locked.
class ParsedCertificates {
 public:
  Certificate find(ByteView der) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_der_.find(der);
    if (it == by_der_.end()) return nullptr;
    return shared(it->second.get());
  }

  void keep(ByteView der, X509* cert) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (by_der_.size() >= kMaxEntries) by_der_.clear();  // bounded: a stream of distinct certificates
    by_der_.emplace(Bytes(der.begin(), der.end()), shared(cert));
  }

 private:
  static constexpr size_t kMaxEntries = 256;
  static Certificate shared(X509* cert) {
    X509_up_ref(cert);
    return Certificate(cert);
  }
  struct ByBytes {
    using is_transparent = void;
    bool operator()(ByteView a, ByteView b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    }
  };
  std::mutex mutex_;
  std::map<Bytes, Certificate, ByBytes> by_der_;
};

ParsedCertificates& parsed_certificates() {
  // Never destroyed: OpenSSL's own atexit cleanup may run first.
  static ParsedCertificates* parsed = new ParsedCertificates;
  return *parsed;
}

Certificate parse_der_certificate(ByteView bytes, const std::string& what) {
  if (Certificate cert = parsed_certificates().find(bytes)) return cert;
  Certificate cert = decode_der_certificate(bytes, what);
  parsed_certificates().keep(bytes, cert.get());
  return cert;
}

std::vector<Certificate> parse_all(ByteView bytes, const std::string& what) {
  if (is_pem(bytes)) return parse_pem_certificates(bytes, what);
  std::vector<Certificate> out;
  out.push_back(parse_der_certificate(bytes, what));
  return out;
}

bool has_certificate_extension(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".der" || ext == ".pem" || ext == ".crt" || ext == ".cer";
}

std::vector<std::string> certificate_files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && has_certificate_extension(entry.path())) files.push_back(entry.path().string());
  }
  if (ec) throw Error(ec.value(), "io", dir + ": cannot list the directory: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::string iso8601(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ec_group_name(const EVP_PKEY* key) {
  char group[80] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return "";
  return std::string(group, len);
}

std::string describe_key(const EVP_PKEY* key) {
  if (key == nullptr) return "unknown";
  const int bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_is_a(key, "RSA")) return "rsa" + std::to_string(bits);
  if (EVP_PKEY_is_a(key, "EC")) {
    std::string group = ec_group_name(key);
    if (group == "prime256v1" || group == "P-256") return "p256";
    if (group == "secp384r1" || group == "P-384") return "p384";
    if (!group.empty()) return group;
  }
  const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
  std::string base = name != nullptr && EVP_PKEY_get_base_id(key) != NID_undef ? name : EVP_PKEY_get0_type_name(key);
  return base + "-" + std::to_string(bits);
}

// Each certificate of a file, refused when the kernel could not add it to a keyring.
std::vector<Certificate> parse_trusted(ByteView bytes, const std::string& what) {
  std::vector<Certificate> certs = parse_all(bytes, what);
  for (const Certificate& cert : certs)
    require_kernel_key(X509_get0_pubkey(cert.get()),
                       what + ": certificate " + ossl::name_rfc2253(X509_get_subject_name(cert.get())), EINVAL,
                       "cert_key_unsupported");
  return certs;
}

}  // namespace

KernelKeyClass classify_kernel_key(const EVP_PKEY* key) {
  KernelKeyClass c;
  c.algo = describe_key(key);
  // x509_extract_key_data() maps rsaEncryption to "rsa" and the NIST curves
  // to "ecdsa-nist-pNNN"; any other curve (secp256k1, brainpool) or key type
  // is ENOPKG. Of the NIST curves only P-256 and P-384 get through add_key on
  // the kernels measured (P-521: ENOENT, no verifier is built).
  c.usable = key != nullptr && (EVP_PKEY_is_a(key, "RSA") || c.algo == "p256" || c.algo == "p384");
  return c;
}

void require_kernel_key(const EVP_PKEY* key, const std::string& what, int err, const std::string& kind) {
  KernelKeyClass c = classify_kernel_key(key);
  if (c.usable) return;
  throw Error(err, kind,
              what + ": a " + c.algo + " key, which the kernel cannot use for BPF signatures (it accepts " +
                  kKernelKeyAlgorithms + ")");
}

Certificate parse_certificate(ByteView pem_or_der, const std::string& what) {
  ossl::ErrorQueueGuard guard;
  if (is_pem(pem_or_der)) return std::move(parse_pem_certificates(pem_or_der, what).front());
  return parse_der_certificate(pem_or_der, what);
}

Certificate load_certificate(const std::string& path) {
  ossl::ErrorQueueGuard guard;
  Bytes bytes = read_file(path, kMaxCertFile);
  return parse_certificate(bytes, path);
}

std::vector<Certificate> load_certificates(const std::string& path_or_dir) {
  ossl::ErrorQueueGuard guard;
  std::error_code ec;
  if (!std::filesystem::is_directory(path_or_dir, ec)) return parse_trusted(read_file(path_or_dir, kMaxCertFile), path_or_dir);
  std::vector<Certificate> out;
  for (const std::string& file : certificate_files_in(path_or_dir))
    for (Certificate& cert : parse_trusted(read_file(file, kMaxCertFile), file)) out.push_back(std::move(cert));
  if (out.empty())
    throw Error(ENOENT, "no_certificates", path_or_dir + ": no *.der, *.pem, *.crt or *.cer certificate in the directory");
  return out;
}

Bytes certificate_der(const X509* cert) {
  ossl::ErrorQueueGuard guard;
  if (cert == nullptr) throw Error(EINVAL, "bad_argument", "no certificate");
  return ossl::der_of(cert, i2d_X509);
}

namespace {

CertInfo describe_now(const X509* cert) {
  CertInfo info;
  info.subject = ossl::name_rfc2253(X509_get_subject_name(cert));
  info.issuer = ossl::name_rfc2253(X509_get_issuer_name(cert));
  info.serial_hex = ossl::integer_hex(X509_get0_serialNumber(cert));
  // OpenSSL caches parsed extensions inside the X509 (under its own lock), so
  // the getter takes a non-const pointer; the certificate itself is unchanged.
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(const_cast<X509*>(cert)))
    info.skid_hex = to_hex(ByteView(ASN1_STRING_get0_data(skid), static_cast<size_t>(ASN1_STRING_length(skid))));
  info.key_algo = describe_key(X509_get0_pubkey(cert));
  info.not_before = iso8601(X509_get0_notBefore(cert));
  info.not_after = iso8601(X509_get0_notAfter(cert));
  info.sha256_hex = to_hex(sha256(ossl::der_of(cert, i2d_X509)));
  return info;
}

// A verify describes the trusted certificate that vouched for the signer, the
// same one every time (formatting its names, dates and fingerprint was 5% of
// a verify). The description is kept with the certificate, in its ex_data,
// and freed with it; the mutex makes the first description of a certificate
// shared between threads safe (ex_data itself is not).
void free_description(void*, void* description, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<CertInfo*>(description);
}

int description_slot() {
  static const int slot = X509_get_ex_new_index(0, nullptr, nullptr, nullptr, free_description);
  return slot;
}

std::mutex description_mutex;

const CertInfo* kept_description(const X509* cert, int slot) {
  std::lock_guard<std::mutex> lock(description_mutex);
  return static_cast<const CertInfo*>(X509_get_ex_data(cert, slot));
}

void keep_description(const X509* cert, int slot, const CertInfo& info) {
  std::lock_guard<std::mutex> lock(description_mutex);
  X509* owner = const_cast<X509*>(cert);  // ex_data only: the certificate is unchanged
  if (X509_get_ex_data(owner, slot) != nullptr) return;
  auto kept = std::make_unique<CertInfo>(info);
  if (X509_set_ex_data(owner, slot, kept.get()) == 1) kept.release();
}

}  // namespace

CertInfo describe(const X509* cert) {
  ossl::ErrorQueueGuard guard;
  if (cert == nullptr) throw Error(EINVAL, "bad_argument", "no certificate");
  const int slot = description_slot();
  if (slot < 0) return describe_now(cert);
  if (const CertInfo* kept = kept_description(cert, slot)) return *kept;
  CertInfo info = describe_now(cert);
  keep_description(cert, slot, info);
  return info;
}

}  // namespace bpfsig::crypto
