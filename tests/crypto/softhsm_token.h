// SPDX-License-Identifier: Apache-2.0
// A SoftHSM2 token of its own for the PKCS#11 tests (tests/crypto and
// tests/cli): a config and a token directory in a temporary directory,
// SOFTHSM2_CONF pointing at it (for this process and the bpfsig processes it
// starts), the token initialized with softhsm2-util, and all of it removed
// when the test executable ends. Header-only, like support/signer.h.
#pragma once

#include <openssl/crypto.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "support/support.h"

namespace bpfsig::test {

inline constexpr const char* kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";

// Where OpenSSL looks for engines ("ENGINESDIR: \"/usr/lib/...\"").
inline std::string openssl_engines_dir() {
  std::string s = OpenSSL_version(OPENSSL_ENGINES_DIR);
  size_t a = s.find('"'), b = s.rfind('"');
  return a == std::string::npos || b <= a ? "" : s.substr(a + 1, b - a - 1);
}

// "" when SoftHSM2 and OpenSSL's pkcs11 engine are installed, else why not.
inline std::string missing_softhsm() {
  if (!file_exists(kSoftHsmModule)) return std::string("no SoftHSM2 module (") + kSoftHsmModule + "; Debian: softhsm2)";
  if (run_command({"softhsm2-util", "--version"}).exit_code != 0) return "no softhsm2-util (Debian: softhsm2)";
  if (!file_exists(openssl_engines_dir() + "/pkcs11.so"))
    return "no pkcs11 engine in " + openssl_engines_dir() + " (Debian: libengine-pkcs11-openssl)";
  return "";
}

struct SoftHsmToken {
  TempDir dir;
  std::string label = "bpfsig-test";
  // Distinctive, so that a test can search every output for it.
  std::string pin = "pin-Q7x3-never-shown";
  std::string pin_file;
  std::string error;  // why the token could not be made ("" when it was)

  SoftHsmToken() {
    write_text(dir.file("softhsm2.conf"), "directories.tokendir = " + dir.file("tokens") +
                                              "\nobjectstore.backend = file\nlog.level = ERROR\n");
    run_command({"mkdir", dir.file("tokens")});
    // Before the module is first loaded in this process: SoftHSM2 reads it once.
    ::setenv("SOFTHSM2_CONF", dir.file("softhsm2.conf").c_str(), 1);
    pin_file = dir.file("pin");
    write_text(pin_file, pin + "\n");
    CommandResult r = run_command({"softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin",
                                   "so-pin-5678", "--pin", pin});
    if (r.exit_code != 0) error = "softhsm2-util --init-token failed: " + r.err;
  }
  // A URI naming an object of this token.
  std::string uri(const std::string& object) const { return "pkcs11:token=" + label + ";object=" + object; }
};

// The token shared by the tests of one executable (nullptr-free: check
// missing_token() first).
inline SoftHsmToken& softhsm_token() {
  static SoftHsmToken token;
  return token;
}

// "" when the shared token is ready, else why a test skips.
inline std::string missing_token() {
  if (std::string why = missing_softhsm(); !why.empty()) return why;
  return softhsm_token().error;
}

}  // namespace bpfsig::test
