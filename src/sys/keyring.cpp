// SPDX-License-Identifier: Apache-2.0
// Keyrings through the raw add_key(2)/keyctl(2) syscalls, so bpfsig needs no
// libkeyutils.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"

namespace bpfsig::sys {
namespace {

// From <linux/keyctl.h>.
constexpr long kKeyctlUnlink = 9;
constexpr long kKeyctlInvalidate = 21;

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

}  // namespace bpfsig::sys
