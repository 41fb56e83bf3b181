// SPDX-License-Identifier: Apache-2.0
// The keyrings BPF_PROG_LOAD verifies signatures against
// (bpf_prog_verify_signature: bpf_lookup_system_key / bpf_lookup_user_key):
// the builtin, secondary and platform system keyrings, user keyrings by
// serial, and the session (-3) and user (-4) keyrings of the calling process,
// each a list of X.509 certificates.
#include <openssl/x509.h>

#include <cerrno>
#include <string>

#include "bpfsig/crypto.h"
#include "kmodel/objects.h"

namespace bpfsig::kmodel {
namespace {

bool is_system_keyring(int32_t keyring_id) {
  return keyring_id == kBuiltinKeyring || keyring_id == kSecondaryKeyring || keyring_id == kPlatformKeyring;
}

}  // namespace

int32_t Kernel::keyring_create(const std::string& description) {
  if (description.empty()) fail(EINVAL, "add_key", "a keyring needs a description");
  int32_t serial = next_key_serial_++;
  keyrings_[serial];
  return serial;
}

void Kernel::keyring_add_cert(int32_t keyring_id, ByteView cert_der) {
  bool bpf_keyring = keyring_id == kBpfKeyring && profile_.loadtime_signature;
  if (!is_system_keyring(keyring_id) && !bpf_keyring && !keyrings_.count(keyring_id))
    fail(ENOKEY, "add_key", "no keyring with serial " + std::to_string(keyring_id));
  crypto::Certificate cert = crypto::parse_certificate(cert_der, "keyring certificate");  // the parser refuses garbage
  // ... and a key it cannot use (x509_extract_key_data: ENOPKG).
  if (crypto::KernelKeyClass key = crypto::classify_kernel_key(X509_get0_pubkey(cert.get())); !key.usable)
    fail(ENOPKG, "add_key", "a " + key.algo + " key: the kernel accepts " + crypto::kKernelKeyAlgorithms);
  keyrings_[keyring_id].emplace_back(cert_der.begin(), cert_der.end());
}

// The certificates a signature may chain to. The secondary keyring is
// searched together with the builtin one (VERIFY_USE_SECONDARY_KEYRING links
// them); the system keyrings always exist, user keyrings only once created.
// The `.bpf` keyring (loadtime profile) is provisioned with keyring_add_cert
// (the model does not distinguish "restricted" from "unrestricted": a
// non-empty one counts as provisioned); empty, it answers ENOKEY.
// KEY_SPEC_SESSION_KEYRING (-3) and KEY_SPEC_USER_KEYRING (-4), as
// lookup_user_key() resolves them for `current`: -3 is the calling process's
// own session keyring, -4 the keyring of its uid (shared by every process
// with that uid). Both are made on first use (empty) and get a serial like
// keyring_create's; any other id is returned unchanged.
int32_t Kernel::resolve_keyring(const Process& proc, int32_t keyring_id, bool create) {
  int32_t* slot = nullptr;
  if (keyring_id == kSessionKeyring)
    slot = &session_keyrings_[proc.pid()];
  else if (keyring_id == kUserKeyring)
    slot = &user_keyrings_[proc.uid()];
  else
    return keyring_id;
  if (*slot == 0 && create) {
    *slot = next_key_serial_++;
    keyrings_[*slot];
  }
  return *slot;
}

void Kernel::keyring_add_cert(Process& proc, int32_t keyring_id, ByteView cert_der) {
  keyring_add_cert(resolve_keyring(proc, keyring_id, true), cert_der);
}

std::vector<crypto::Certificate> Kernel::trusted_certs(const Process& proc, int32_t keyring_id) {
  return trusted_certs(resolve_keyring(proc, keyring_id, true));
}

std::vector<crypto::Certificate> Kernel::trusted_certs(int32_t keyring_id) const {
  if (keyring_id == kBpfKeyring && profile_.loadtime_signature) {
    auto it = keyrings_.find(kBpfKeyring);
    if (it == keyrings_.end() || it->second.empty())
      fail(ENOKEY, "BPF_PROG_LOAD", "the .bpf keyring is empty (sealed or not provisioned)");
  } else if (!is_system_keyring(keyring_id) && !keyrings_.count(keyring_id))
    fail(EINVAL, "BPF_PROG_LOAD", "keyring_id " + std::to_string(keyring_id) + " names no keyring");
  std::vector<int32_t> searched{keyring_id};
  if (keyring_id == kSecondaryKeyring) searched.push_back(kBuiltinKeyring);
  std::vector<crypto::Certificate> certs;
  for (int32_t id : searched) {
    auto it = keyrings_.find(id);
    if (it == keyrings_.end()) continue;
    for (const Bytes& der : it->second) certs.push_back(crypto::parse_certificate(der, "keyring certificate"));
  }
  return certs;
}

}  // namespace bpfsig::kmodel
