// SPDX-License-Identifier: Apache-2.0
// Signing with a key in a PKCS#11 token (SoftHSM2, through OpenSSL's pkcs11
// engine) against signing with the same kind of key from a file, in the same
// run: what matters is the ratio, which BM_SignObject_Pkcs11Token reports as
// the counter "x_key_file" (its time per sign over the key file's, measured by
// BM_SignObject_KeyFile's loop in the same process).
//   Arg 0: RSA-2048, Arg 1: ECDSA P-256. The whole sign of execcount.bpf.o
//   (gen_loader, hash chain, CMS signature), scheme loader-hash.
// Without SoftHSM2 or the engine the token figure is skipped with the reason.
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "bpfsig/crypto.h"
#include "bpfsig/skel.h"

using namespace bpfsig;

namespace {

constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";
constexpr const char* kPin = "bench-pin-2468";

std::string object_path() { return std::string(BPFSIG_EXAMPLES_DIR) + "/execcount.bpf.o"; }

crypto::KeyAlgo algo_of(int64_t arg) { return arg == 0 ? crypto::KeyAlgo::kRsa2048 : crypto::KeyAlgo::kP256; }

struct TokenBench {
  std::string dir;
  std::string missing;  // why the token figures are skipped
  crypto::PrivateKey file_key[2], token_key[2];
  crypto::Certificate file_cert[2], token_cert[2];
  double file_seconds_per_sign[2] = {0, 0};

  TokenBench() {
    char templ[] = "/tmp/bpfsig-bench-pkcs11.XXXXXX";
    dir = ::mkdtemp(templ);
    for (int i = 0; i < 2; ++i) {
      crypto::KeygenOptions opts;
      opts.algo = algo_of(i);
      const std::string n = std::to_string(i);
      crypto::keygen(opts, dir + "/k" + n + ".pem", dir + "/c" + n + ".der");
      file_key[i] = crypto::load_private_key(dir + "/k" + n + ".pem");
      file_cert[i] = crypto::load_certificate(dir + "/c" + n + ".der");
    }
    missing = make_token();
  }
  ~TokenBench() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string make_token() {
    if (::access(kModule, F_OK) != 0) return std::string("no SoftHSM2 module ") + kModule;
    std::filesystem::create_directories(dir + "/tokens");
    std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << dir << "/tokens\nobjectstore.backend = file\n";
    ::setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
    std::ofstream(dir + "/pin") << kPin << "\n";
    const std::string init = "softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin " +
                             std::string(kPin) + " >/dev/null 2>&1";
    if (std::system(init.c_str()) != 0) return "softhsm2-util --init-token failed";
    try {
      for (int i = 0; i < 2; ++i) {
        crypto::KeygenOptions opts;
        opts.algo = algo_of(i);
        const std::string uri = "pkcs11:token=bench;object=k" + std::to_string(i);
        const std::string cert = dir + "/t" + std::to_string(i) + ".der";
        crypto::keygen_pkcs11(opts, uri, cert, {kModule, dir + "/pin"});
        token_key[i] = crypto::load_pkcs11_private_key(uri, {kModule, dir + "/pin"});
        token_cert[i] = crypto::load_certificate(cert);
      }
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
};

TokenBench& tb() {
  static TokenBench b;
  return b;
}

void BM_SignObject_KeyFile(benchmark::State& state) {
  const int i = static_cast<int>(state.range(0));
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state)
    benchmark::DoNotOptimize(skel::sign_object(object_path(), tb().file_cert[i].get(), tb().file_key[i].get(), {}));
  std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
  tb().file_seconds_per_sign[i] = spent.count() / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SignObject_KeyFile)->Arg(0)->Arg(1);

void BM_SignObject_Pkcs11Token(benchmark::State& state) {
  const int i = static_cast<int>(state.range(0));
  if (!tb().missing.empty()) {
    state.SkipWithError(("skipped: " + tb().missing).c_str());
    return;
  }
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state)
    benchmark::DoNotOptimize(skel::sign_object(object_path(), tb().token_cert[i].get(), tb().token_key[i].get(), {}));
  std::chrono::duration<double> spent = std::chrono::steady_clock::now() - start;
  const double per_sign = spent.count() / static_cast<double>(state.iterations());
  if (tb().file_seconds_per_sign[i] > 0) state.counters["x_key_file"] = per_sign / tb().file_seconds_per_sign[i];
}
// After the key-file figures, whose time per sign the ratio divides by.
BENCHMARK(BM_SignObject_Pkcs11Token)->Arg(0)->Arg(1);

}  // namespace
