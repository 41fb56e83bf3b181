// SPDX-License-Identifier: Apache-2.0
// Scaling (issue 17): sign, verify and run over the same program with 1x to
// 64x the metadata, in one run. Each figure reports "ns_per_byte" (thread
// CPU time per byte of input, the input being the object for sign and the
// bundle's bytes for verify and run) and "over_1x", that cost over the 1x
// size of the same operation: linear work keeps it flat (1.0); a value that
// grows with the size is work that grows faster than the input.
//   BM_Scale_Sign/<k>    skel::sign_object on an object with k x 48 KiB of .data
//   BM_Scale_Verify/<k>  verify::verify_loader of that loader (load-time scheme)
//   BM_Scale_Run/<k>     kmodel::load_skeleton of it, signature checked
// The objects are compiled at the start with clang -target bpf (skipped
// with the reason when that fails).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "ratio.h"
#include "spawn.h"

using namespace bpfsig;

namespace {

constexpr size_t kUnitBytes = size_t{48} << 10;  // 1x; 64x is 3 MiB, the large bundle
const std::vector<int> kFactors = {1, 2, 4, 8, 16, 32, 64};

struct ScaledArtifacts {
  std::string dir;
  std::string why_not;  // set when the objects could not be made
  crypto::PrivateKey key;
  crypto::Certificate cert;
  Bytes cert_der;
  std::map<int, std::string> objects;
  std::map<int, skel::SignedLoader> loaders;

  ScaledArtifacts() {
    char tmpl[] = "/tmp/bpfsig_bench_scaling_XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = made;
    crypto::keygen({}, dir + "/key.pem", dir + "/cert.der");
    key = crypto::load_private_key(dir + "/key.pem");
    cert = crypto::load_certificate(dir + "/cert.der");
    cert_der = crypto::certificate_der(cert.get());
    skel::SignOptions options;
    options.scheme = skel::Scheme::kLoadtime;
    for (int k : kFactors) {
      const std::string object = compile(k);
      if (object.empty()) return;
      objects[k] = object;
      loaders.emplace(k, skel::sign_object(object, cert.get(), key.get(), options));
    }
  }
  ~ScaledArtifacts() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // A program whose .data map is k units: the light skeleton's metadata carries it.
  std::string compile(int k) {
    const std::string stem = dir + "/scale" + std::to_string(k);
    std::ofstream(stem + ".bpf.c") << "#define SEC(name) __attribute__((section(name), used))\n"
                                   << "char LICENSE[] SEC(\"license\") = \"GPL\";\n"
                                   << "unsigned char big[" << kUnitBytes * static_cast<size_t>(k) << "] = {1};\n"
                                   << "SEC(\"tracepoint/syscalls/sys_enter_execve\")\n"
                                   << "int count(void *ctx) { big[1]++; return 0; }\n";
    if (bench::run_quiet({"clang", "-O2", "-g", "-target", "bpf", "-c", stem + ".bpf.c", "-o", stem + ".bpf.o"}) != 0) {
      why_not = "skipped: clang -target bpf failed";
      return "";
    }
    return stem + ".bpf.o";
  }
};

ScaledArtifacts& artifacts() {
  static ScaledArtifacts a;
  return a;
}

size_t object_size(int k) { return static_cast<size_t>(std::filesystem::file_size(artifacts().objects.at(k))); }
size_t bundle_size(int k) { return skel::encode_bundle(artifacts().loaders.at(k)).size(); }

// ns_per_byte, and over_1x against the 1x figure of the same operation.
void report_scaling(benchmark::State& state, const std::string& op, int k, double seconds, size_t bytes) {
  const double per_byte = seconds / static_cast<double>(bytes);
  state.counters["ns_per_byte"] = per_byte * 1e9;
  state.counters["input_kib"] = static_cast<double>(bytes) / 1024;
  const std::string name = "scale/" + op;
  if (k == 1) bench::record(name, per_byte, state);
  bench::report_ratio(state, "over_1x", per_byte, {name});
}

void BM_Scale_Sign(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  if (!artifacts().why_not.empty()) return state.SkipWithError(artifacts().why_not.c_str());
  skel::SignOptions options;
  options.scheme = skel::Scheme::kLoadtime;
  bench::CpuTimer cpu;
  for (auto _ : state)
    benchmark::DoNotOptimize(skel::sign_object(artifacts().objects.at(k), artifacts().cert.get(), artifacts().key.get(), options));
  report_scaling(state, "sign", k, cpu.per_iteration(state), object_size(k));
}

void BM_Scale_Verify(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  if (!artifacts().why_not.empty()) return state.SkipWithError(artifacts().why_not.c_str());
  std::vector<crypto::Certificate> trusted;
  trusted.push_back(crypto::parse_certificate(artifacts().cert_der, "the bench certificate"));
  const skel::SignedLoader& loader = artifacts().loaders.at(k);
  bench::CpuTimer cpu;
  for (auto _ : state) {
    verify::Report r = verify::verify_loader(loader, trusted);
    if (r.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  report_scaling(state, "verify", k, cpu.per_iteration(state), bundle_size(k));
}

void BM_Scale_Run(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  if (!artifacts().why_not.empty()) return state.SkipWithError(artifacts().why_not.c_str());
  const skel::SignedLoader& loader = artifacts().loaders.at(k);
  bench::CpuTimer cpu;
  for (auto _ : state) {
    kmodel::Kernel kernel(kmodel::KernelProfile::loadtime_2026());
    kernel.keyring_add_cert(kmodel::kBuiltinKeyring, artifacts().cert_der);
    kmodel::Process& proc = kernel.spawn("bench");
    kmodel::SkeletonResult result = kmodel::load_skeleton(kernel, proc, loader);
    if (result.loader_retval != 0) state.SkipWithError("the loader failed");
    benchmark::DoNotOptimize(result.loader_retval);
  }
  report_scaling(state, "run", k, cpu.per_iteration(state), bundle_size(k));
}

void factors(benchmark::internal::Benchmark* b) {
  for (int k : kFactors) b->Arg(k);
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Scale_Sign)->Apply(factors);
BENCHMARK(BM_Scale_Verify)->Apply(factors);
BENCHMARK(BM_Scale_Run)->Apply(factors);

}  // namespace
