// SPDX-License-Identifier: Apache-2.0
// Keyrings through the raw add_key(2)/keyctl(2) syscalls, so bpfsig needs no
// libkeyutils.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"

namespace bpfsig::sys {
namespace {

// From <linux/keyctl.h>.
constexpr long kKeyctlUnlink = 9;
constexpr long kKeyctlInvalidate = 21;
constexpr int32_t kProcessKeyring = -2;  // KEY_SPEC_PROCESS_KEYRING

Error keyring_error(int err, const std::string& what) {
  return Error(err, "keyring", what + ": " + std::strerror(err));
}

int32_t add_key(const char* type, const char* description, ByteView payload, int32_t keyring) {
  long serial = ::syscall(SYS_add_key, type, description, payload.empty() ? nullptr : payload.data(),
                          payload.size(), keyring);
  if (serial < 0) {
    int err = errno;
    std::string what = std::string("add_key(\"") + type + "\"" +
                       (description ? std::string(", \"") + description + "\"" : std::string()) +
                       ") into keyring " + std::to_string(keyring);
    throw keyring_error(err, what);
  }
  return static_cast<int32_t>(serial);
}

}  // namespace

int32_t keyring_create(const std::string& description, int32_t parent) {
  return add_key("keyring", description.c_str(), {}, parent);
}

int32_t key_add_x509(ByteView cert_der, int32_t keyring) {
  // A NULL description lets the asymmetric key parser name the key after the
  // certificate's subject and key id, as bpftool and keyctl padd do.
  return add_key("asymmetric", nullptr, cert_der, keyring);
}

void key_unlink(int32_t key, int32_t keyring) {
  if (::syscall(SYS_keyctl, kKeyctlUnlink, key, keyring) < 0)
    throw keyring_error(errno, "keyctl(KEYCTL_UNLINK, " + std::to_string(key) + ", " + std::to_string(keyring) + ")");
}

void key_invalidate(int32_t key) {
  if (::syscall(SYS_keyctl, kKeyctlInvalidate, key) < 0)
    throw keyring_error(errno, "keyctl(KEYCTL_INVALIDATE, " + std::to_string(key) + ")");
}

namespace detail {

OwnKeyring::OwnKeyring(const std::vector<Bytes>& certs_der) {
  const std::string description = "bpfsig:" + std::to_string(::getpid());
  try {
    id_ = keyring_create(description, kSessionKeyring);
    parent_ = kSessionKeyring;
  } catch (const Error& session_error) {
    try {
      id_ = keyring_create(description, kProcessKeyring);
      parent_ = kProcessKeyring;
    } catch (const Error& process_error) {
      throw Error(process_error.err(), "keyring", std::string(session_error.what()) + "; " + process_error.what());
    }
  }
  try {
    for (const Bytes& der : certs_der) keys_.push_back(key_add_x509(der, id_));
  } catch (...) {
    remove();
    throw;
  }
}

OwnKeyring::~OwnKeyring() { remove(); }

// Best effort, never throws. Invalidation removes a key at once for lookups
// and the kernel's garbage collector unlinks it everywhere; it must happen
// while this process still possesses the keys (through the parent keyring),
// since the keys grant nothing to non-possessors. Unlinking is the fallback:
// the keyring dies with its last link.
void OwnKeyring::remove() noexcept {
  if (id_ == 0) return;
  for (int32_t key : keys_) {
    try {
      key_invalidate(key);
    } catch (const Error&) {
    }
  }
  try {
    key_invalidate(id_);
  } catch (const Error&) {
    try {
      key_unlink(id_, parent_);
    } catch (const Error&) {
    }
  }
  keys_.clear();
  id_ = 0;
}

}  // namespace detail

}  // namespace bpfsig::sys
