// SPDX-License-Identifier: Apache-2.0
// Keys, certificates and PKCS#7/CMS, all through OpenSSL 3. The verifier
// applies the Linux kernel's PKCS#7 rules (crypto/asymmetric_keys/pkcs7_*.c,
// certs/system_keyring.c) and reports the errno the kernel would return.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace bpfsig::crypto {

using Digest = std::array<uint8_t, 32>;
Digest sha256(ByteView data);
// SHA-256 of the parts' concatenation, which is never built.
Digest sha256(const std::vector<ByteView>& parts);
// SHA-256 of data zero-padded to a multiple of 8 bytes: what the kernel's
// array_map_get_hash computes for a one-entry ARRAY map holding data.
Digest sha256_padded8(ByteView data);

// The kernel's limit on attr->signature_size (KMALLOC_MAX_CACHE_SIZE on x86-64).
inline constexpr size_t kMaxKernelSignatureSize = 8192;

enum class KeyAlgo { kRsa2048, kRsa3072, kRsa4096, kP256, kP384 };
// "rsa2048" ... "p384"; parse throws Error(EINVAL, "bad_argument") naming
// kKernelKeyAlgorithms. Every one of them is a key the kernel can use.
KeyAlgo parse_key_algo(const std::string& name);
std::string key_algo_name(KeyAlgo algo);

struct PkeyDeleter { void operator()(EVP_PKEY* k) const; };
struct X509Deleter { void operator()(X509* c) const; };
using PrivateKey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using Certificate = std::unique_ptr<X509, X509Deleter>;

// The public keys the kernel can use for BPF signatures: what its asymmetric
// key parser (crypto/asymmetric_keys/x509_cert_parser.c) takes and its crypto
// can verify on the kernels bpfsig targets. add_key refuses a certificate with
// any other key (ENOPKG, or ENOENT when the parser knows the curve but no
// verifier is built), so bpfsig refuses such keys at keygen, sign and verify.
inline constexpr const char* kKernelKeyAlgorithms = "RSA, ECDSA P-256, ECDSA P-384";
struct KernelKeyClass {
  bool usable = false;
  std::string algo;  // "rsa2048", "p256", "p384", "secp256k1", "secp521r1", "ED25519-256", ...
};
// The one place that decides whether the kernel can use a key.
KernelKeyClass classify_kernel_key(const EVP_PKEY* key);
// Throws Error(err, kind, "WHAT: a ALGO key, which the kernel cannot use for
// BPF signatures (it accepts RSA, ECDSA P-256, ECDSA P-384)") unless usable.
void require_kernel_key(const EVP_PKEY* key, const std::string& what, int err, const std::string& kind);

struct KeygenOptions {
  KeyAlgo algo = KeyAlgo::kRsa2048;
  std::string subject = "CN=bpfsig signer";  // "/CN=x/O=y" or "CN=x,O=y"
  int days = 365;
  // false: an existing key file is refused (EEXIST, "output_exists") instead of
  // replaced (bpfsig keygen without --force).
  bool replace_existing_key = true;
};
// Writes a PKCS#8 PEM private key (mode 0600) and a self-signed X.509 v3
// certificate the kernel accepts: subjectKeyIdentifier, authorityKeyIdentifier,
// basicConstraints CA:FALSE, keyUsage digitalSignature, signed with SHA-256.
// The certificate is DER, or PEM when cert_path ends in ".pem". Both files are
// written atomically, and both or neither (write_outputs).
void keygen(const KeygenOptions& opts, const std::string& key_path, const std::string& cert_path);
// The same, with the key written as encrypted PKCS#8 PEM (PBES2, AES-256-CBC)
// when passphrase is not empty.
void keygen(const KeygenOptions& opts, const std::string& key_path, const std::string& cert_path,
            const std::string& passphrase);

// The same key and certificate, in memory only: for throw-away keys such as
// the one sys::probe_kernel signs its probe programs with.
struct KeyPair {
  PrivateKey key;
  Certificate cert;
};
KeyPair make_key_pair(const KeygenOptions& opts);

// PEM or DER, detected from the content. passphrase may be empty.
PrivateKey load_private_key(const std::string& path, const std::string& passphrase = "");

// How the bpfsig command reads a signing key (docs/keys.md).
struct KeyFileOptions {
  // Refuse a key file that its group or others may read (EACCES,
  // "key_permissions"), checked on the open file before its bytes are read.
  bool require_private_mode = true;
};
PrivateKey load_private_key(const std::string& path, const std::string& passphrase, const KeyFileOptions& opts);

// Resolves a passphrase argument in openssl's forms: "pass:TEXT", "env:VAR",
// "fd:N" (first line), "file:PATH" (first line). An empty spec means the
// BPFSIG_KEY_PASS environment variable (the passphrase itself), or none.
// Errors: EINVAL "bad_argument" (unknown form, unset variable, bad fd), the
// file's errno "io". The result never appears in a message.
std::string resolve_passphrase(const std::string& spec);
// ---- keys in a PKCS#11 token (docs/crypto.md, "Keys in a token") -----------
// A key given as an RFC 7512 URI ("pkcs11:token=T;object=O", as the kernel's
// sign-file takes) is used through OpenSSL's pkcs11 engine (libp11): its
// EVP_PKEY signs in every scheme and the seal like a key from a file.

// True when key names a token key ("pkcs11:..."), not a file.
bool is_pkcs11_uri(const std::string& key);

// An RFC 7512 URI, percent-decoded. Path attributes select the token and the
// object; query attributes say where the module and the PIN are. pin-value is
// refused (a PIN on the command line shows in ps and shell history), and so
// is module-name (it needs p11-kit's registry: give module-path).
struct Pkcs11Uri {
  std::string token, manufacturer, serial, model;  // the token's CK_TOKEN_INFO fields
  std::optional<unsigned long> slot_id;
  std::string object;   // CKA_LABEL
  Bytes id;             // CKA_ID; has_id tells an empty id from none
  bool has_id = false;
  std::string type;     // "private", "public", "cert", ... ("" when absent)
  std::string module_path, pin_source;
  std::string text;     // as given: never holds a PIN, so messages name it
};
// Error(EINVAL, "pkcs11_uri") naming the attribute at fault (never its value).
Pkcs11Uri parse_pkcs11_uri(const std::string& uri);

// Where the module and the PIN come from (bpfsig's --pkcs11-module and
// --pin-source; empty: not given).
struct Pkcs11Access {
  std::string module;      // a module path
  std::string pin_source;  // a file whose first line is the PIN
};
// The module: the URI's module-path, else access.module, else
// $BPFSIG_PKCS11_MODULE, else SoftHSM2's or p11-kit's proxy when installed.
// None: Error(ENOENT, "pkcs11_module").
std::string pkcs11_module_path(const Pkcs11Uri& uri, const Pkcs11Access& access);
// The PIN: access.pin_source, else the URI's pin-source (a file, "file:"
// optional), else $BPFSIG_PIN, else "" (a token that needs none).
std::string pkcs11_pin(const Pkcs11Uri& uri, const Pkcs11Access& access);

// The private key the URI names, through the pkcs11 engine. Exactly one
// initialized token and one private key must match. Errors, each naming the
// URI (never the PIN): no module file ENOENT "pkcs11_module", not a module
// ENOEXEC "pkcs11_module", no engine ENOENT "pkcs11_engine", no token ENOENT
// "pkcs11_token", PIN refused or missing EACCES "pkcs11_pin", no key ENOENT
// "pkcs11_object", several EINVAL "pkcs11_object", other token failures EIO
// "pkcs11".
PrivateKey load_pkcs11_private_key(const std::string& uri, const Pkcs11Access& access);

// keygen in the token: a key pair made by the token (C_GenerateKeyPair, the
// private half never leaves it) with the URI's object label and id (a random
// 16-byte id when the URI has none), the certificate written to cert_path as
// keygen writes it and stored in the token beside the key. An object with the
// label or id already there: Error(EEXIST, "pkcs11_object_exists"). When the
// certificate cannot be written the new objects are destroyed again.
struct Pkcs11KeygenResult {
  std::string uri;  // names the new private key: token serial, label, id
  Bytes id;
};
Pkcs11KeygenResult keygen_pkcs11(const KeygenOptions& opts, const std::string& uri, const std::string& cert_path,
                                 const Pkcs11Access& access);

Certificate load_certificate(const std::string& path);
Certificate parse_certificate(ByteView pem_or_der, const std::string& what);
// Trusted certificates (the keyring): a file, or every *.der, *.pem, *.crt,
// *.cer file in a directory. A certificate whose key the kernel cannot use is
// refused, as add_key refuses it: Error(EINVAL, "cert_key_unsupported").
std::vector<Certificate> load_certificates(const std::string& path_or_dir);
Bytes certificate_der(const X509* cert);

struct CertInfo {
  std::string subject;      // RFC 2253, e.g. "CN=anchor"
  std::string issuer;
  std::string serial_hex;   // lower-case hex, no separators
  std::string skid_hex;     // empty when the certificate has none
  std::string key_algo;     // "rsa2048", "p256", ... or the OpenSSL name
  std::string not_before;   // "2026-01-01T00:00:00Z"
  std::string not_after;
  std::string sha256_hex;   // fingerprint of the DER
};
// The description is computed once per X509 object and kept with it (its
// ex_data): describe a certificate once it is complete, never one still being
// built.
CertInfo describe(const X509* cert);

// bpftool's profile (tools/bpf/bpftool/sign.c): detached, no certificates, no
// signed attributes, signer named by subjectKeyIdentifier, SHA-256, DER.
// Throws Error(EINVAL, "cert_no_skid") when the certificate has no SKID.
Bytes sign_bpftool(ByteView content, const X509* cert, EVP_PKEY* key);
// The same over content in parts (signed as their concatenation, never joined).
Bytes sign_bpftool(std::span<const ByteView> content, const X509* cert, EVP_PKEY* key);

// A plain SHA-256 signature of message (RSA PKCS#1 v1.5 or DER ECDSA, by
// the key's type), and its check under a certificate's public key: the
// bundle seal (docs/formats.md, section 10).
Bytes sign_message(ByteView message, EVP_PKEY* key);
bool message_signature_verifies(ByteView signature, ByteView message, const X509* cert);
// The same for a message that is not one contiguous buffer (a bundle without
// its seal): write(put) hands it over piece by piece, in order, and each piece
// is hashed as it comes, so the message is never assembled in memory.
using MessageWriter = std::function<void(const std::function<void(ByteView)>& put)>;
Bytes sign_message(const MessageWriter& write, EVP_PKEY* key);
bool message_signature_verifies(ByteView signature, const MessageWriter& write, const X509* cert);
// SHA-256 of a message handed over piece by piece, as above.
Digest sha256(const MessageWriter& write);

struct SignerSummary {
  bool by_skid = false;       // signer identified by subjectKeyIdentifier
  std::string skid_hex;       // when by_skid
  std::string issuer;         // when identified by issuer and serial
  std::string serial_hex;
  std::string digest_alg;     // "sha256"
  std::string signature_alg;  // "rsaEncryption", "ecdsa-with-SHA256", ...
  std::vector<std::string> signed_attr_oids;  // dotted OIDs, in order
};
struct CmsSummary {
  std::string content_type;   // dotted OID of the encapsulated content type
  bool detached = true;
  size_t certificate_count = 0;
  std::vector<SignerSummary> signers;
};
// Throws Error(EBADMSG, "cms_parse") when the bytes are not a DER CMS SignedData.
CmsSummary inspect_cms(ByteView der);

// Outcome of a kernel-rules verification. err is 0 on success, else the
// positive errno the kernel returns (EBADMSG, EKEYREJECTED, ENOKEY, ENOPKG,
// EINVAL); kind and detail explain it.
struct SigCheck {
  int err = 0;
  std::string kind;    // "ok", "sig_too_large", "cms_parse", "cms_embedded", "bad_digest", "bad_signature", "no_key", ...
  std::string detail;  // one sentence
  std::optional<CertInfo> signer;  // the trusted certificate that verified
  // Which of the trusted certificates that was (an index into the vector the
  // check was given), -1 when none verified: callers that need the
  // certificate itself (the seal check) take it from there instead of
  // searching the vector by fingerprint.
  int signer_index = -1;
};
// As the kernel: size over kMaxKernelSignatureSize -> EINVAL; unparsable ->
// EBADMSG; embedded content -> EBADMSG; content type not id-data ->
// EKEYREJECTED; signed attributes without contentType/messageDigest ->
// EBADMSG; messageDigest mismatch -> EKEYREJECTED; unsupported digest ->
// ENOPKG; no trusted certificate matches a signer (SKID or issuer+serial) ->
// ENOKEY; signature does not verify -> EKEYREJECTED.
SigCheck verify_kernel_rules(ByteView signature, ByteView content, const std::vector<Certificate>& trusted);
// The same over the concatenation of content_parts, which is never built
// (the load-time scheme signs insns || metadata).
SigCheck verify_kernel_rules(ByteView signature, const std::vector<ByteView>& content_parts,
                             const std::vector<Certificate>& trusted);
// The full table, with the cases where the kernel source refines the summary
// above (EINVAL for a content type other than id-data and Authenticode, for no
// SignerInfo, and for unsupported versions): docs/crypto.md.

}  // namespace bpfsig::crypto

// ---- Hornet (the Hornet LSM's signature format, docs/hornet.md) -------------
namespace bpfsig::crypto {

// The signed attribute Hornet reads: OID 2.25.316487325684022475439036912669789383960.
inline constexpr const char* kHornetAttributeOid = "2.25.316487325684022475439036912669789383960";
// Hornet keeps at most this many signed map hashes (MAX_USED_MAPS).
inline constexpr size_t kHornetMaxMaps = 64;

// kFinal: SEQUENCE { SET OF SEQUENCE { sha OCTET STRING } } (the final gen_sig).
// kV7:    SEQUENCE { SET OF SEQUENCE { index INTEGER, sha OCTET STRING } } (v4-v7).
enum class HornetFormat { kFinal, kV7 };
std::string hornet_format_name(HornetFormat f);             // "final", "v7"
HornetFormat parse_hornet_format(const std::string& name);  // throws Error(EINVAL, "bad_argument")

// One signed map hash. index is the fd_array slot (v7 only); an empty sha
// means "skip" (v7 skips the slot; the final design stores 32 zero bytes).
struct HornetMapHash {
  uint32_t index = 0;
  Bytes sha;
};

// What gen_sig does: a detached DER CMS SignedData over data (id-data), no
// certificates, signer named by issuer and serial, SHA-256, signed attributes
// contentType, signingTime, messageDigest and the Hornet attribute carrying
// maps in the given format. More than kHornetMaxMaps maps: Error(E2BIG,
// "hornet_too_many_maps"); a v7 index over 127 (DER then needs two content
// bytes, and v7 reads exactly one): Error(EINVAL, "bad_argument").
Bytes sign_hornet(ByteView data, const std::vector<HornetMapHash>& maps, HornetFormat format, const X509* cert,
                  EVP_PKEY* key);

struct HornetAttribute {
  HornetFormat format = HornetFormat::kFinal;  // an empty set reads as kFinal
  std::vector<HornetMapHash> maps;             // in encoded order
  Bytes value_der;                             // the attribute value as encoded (SEQUENCE ...)
};
// The Hornet attribute of the first signer that has one; nullopt when none
// has. Error(EBADMSG, "cms_parse") when der is not a CMS SignedData;
// Error(EBADMSG, "hornet_asn1") when the value is not one of the two formats
// (or, v7, an index is not one content byte, which is all the kernel reads).
std::optional<HornetAttribute> hornet_attribute(ByteView cms_der);

// pkcs7_parse_message() alone (no content, no keys): 0 when the kernel's
// parser accepts the message, else the errno it returns (EBADMSG, EINVAL,
// ENOPKG, EKEYREJECTED), with kind and detail. Hornet reports BADSIG for it.
SigCheck parse_kernel_rules(ByteView signature);

// A signature decoded once with the kernel's parser, for a check that asks a
// message several questions (Hornet: does it parse, does it verify, what does
// its attribute say). Each answer equals the function of the same name on the
// bytes; the DER is decoded once, in the constructor, and the Hornet
// attribute on its first use. The message does not keep the bytes.
class KernelMessage {
 public:
  explicit KernelMessage(ByteView signature);
  ~KernelMessage();
  KernelMessage(KernelMessage&&) noexcept;
  KernelMessage& operator=(KernelMessage&&) noexcept;

  size_t size() const;
  // parse_kernel_rules(signature)
  const SigCheck& parse_check() const;
  // verify_kernel_rules(signature, content, trusted)
  SigCheck verify(ByteView content, const std::vector<Certificate>& trusted) const;
  // The same over the concatenation of content_parts, which is never built
  // (the load-time scheme signs insns || metadata).
  SigCheck verify(const std::vector<ByteView>& content_parts, const std::vector<Certificate>& trusted) const;
  // hornet_attribute(signature), with the same errors (thrown on each call).
  const std::optional<HornetAttribute>& hornet_attribute() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bpfsig::crypto
