// SPDX-License-Identifier: Apache-2.0
// End-to-end figures for the kernel model: the light-skeleton load sequence
// (MAP_CREATE .. PROG_LOAD .. PROG_RUN of the loader, which creates the
// example's maps and programs) of each example, in the model and against the
// running kernel.
//   BM_Kmodel_Real/<example>           sys::load unsigned (send_signature=false),
//                                      fds closed each iteration; root and a
//                                      working bpf() needed, skipped otherwise
//   BM_Kmodel_ModelUnsigned/<example>  a new kmodel::Kernel per iteration, unsigned
//   BM_Kmodel_ModelSigned/<example>    a new Kernel with the signer's cert in the
//                                      builtin keyring, the signature checked
// The model figures carry "model_over_real": their mean time divided by the
// real kernel's mean time for the same example, measured earlier in the same
// run (the Real benchmarks are registered first); absent when Real was skipped.
//   BM_Kmodel_SigVerify/<example>      one signature verify of the loader
//                                      (crypto::verify_kernel_rules)
// BM_Kmodel_ModelSigned carries "over_unsigned_plus_verify": its CPU time over
// ModelUnsigned's plus SigVerify's for the same example (target <= 1.5).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_signer.h"
#include "bpfsig/crypto.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "ratio.h"

using namespace bpfsig;

namespace {

const std::vector<std::string> kKmodelExamples = {"execcount", "multimap", "xdpfilter"};

// A key made by crypto::keygen into a temp dir, and each example signed once.
struct SignedExamples {
  Bytes cert_der;
  std::map<std::string, skel::SignedLoader> loaders;

  SignedExamples() {
    bench::BenchSigner signer = bench::make_bench_signer();
    crypto::PrivateKey& key = signer.key;
    crypto::Certificate& cert = signer.cert;
    cert_der = signer.cert_der;
    // The 6.18 scheme with the excl block, which the model's default profile
    // checks (the figures in docs/ were measured with it).
    skel::SignOptions opts;
    opts.scheme = skel::Scheme::kLoaderHash;
    opts.layout = skel::MatchLayout::kExcl;
    opts.mismatch_target = skel::MismatchTarget::kCleanup;
    for (const auto& name : kKmodelExamples)
      loaders.emplace(name, skel::sign_object(std::string(BPFSIG_EXAMPLES_DIR) + "/" + name + ".bpf.o", cert.get(),
                                              key.get(), opts));
  }
};

const SignedExamples& examples() {
  static const SignedExamples signed_examples;
  return signed_examples;
}

// Mean seconds per load of the real kernel, by example (filled by BM_Kmodel_Real).
std::map<std::string, double>& real_seconds() {
  static std::map<std::string, double> seconds;
  return seconds;
}

bool real_kernel_usable() {
  static const bool usable = geteuid() == 0 && sys::probe_kernel().bpf;
  return usable;
}

void report_ratio(benchmark::State& state, const std::string& name, double seconds, int64_t iterations) {
  auto it = real_seconds().find(name);
  if (it == real_seconds().end() || iterations == 0 || it->second <= 0) return;
  state.counters["model_over_real"] = (seconds / static_cast<double>(iterations)) / it->second;
}

void BM_Kmodel_Real(benchmark::State& state, const std::string& name) {
  if (!real_kernel_usable()) {
    state.SkipWithError("skipped: needs root");
    return;
  }
  const skel::SignedLoader& loader = examples().loaders.at(name);
  sys::LoadOptions options;
  options.send_signature = false;
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    sys::LoadResult result = sys::load(loader, options);
    sys::close_fds(result);
    benchmark::DoNotOptimize(result.loader_retval);
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (state.iterations() > 0) real_seconds()[name] = elapsed.count() / static_cast<double>(state.iterations());
}

void BM_Kmodel_Model(benchmark::State& state, const std::string& name, bool with_signature) {
  const skel::SignedLoader& loader = examples().loaders.at(name);
  const Bytes& cert_der = examples().cert_der;
  kmodel::SkeletonOptions options;
  options.send_signature = with_signature;
  auto start = std::chrono::steady_clock::now();
  bench::CpuTimer cpu;
  for (auto _ : state) {
    kmodel::Kernel kernel;
    if (with_signature) kernel.keyring_add_cert(kmodel::kBuiltinKeyring, cert_der);
    kmodel::Process& proc = kernel.spawn("bench");
    kmodel::SkeletonResult result = kmodel::load_skeleton(kernel, proc, loader, options);
    benchmark::DoNotOptimize(result.loader_retval);
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  report_ratio(state, name, elapsed.count(), state.iterations());
  if (!with_signature) bench::record("unsigned/" + name, cpu.per_iteration(state), state);
  if (with_signature)
    bench::report_ratio(state, "over_unsigned_plus_verify", cpu.per_iteration(state),
                        {"unsigned/" + name, "sigverify/" + name});
}

void BM_Kmodel_SigVerify(benchmark::State& state, const std::string& name) {
  const skel::SignedLoader& loader = examples().loaders.at(name);
  std::vector<crypto::Certificate> trusted;
  trusted.push_back(crypto::parse_certificate(examples().cert_der, "the bench certificate"));
  bench::CpuTimer cpu;
  for (auto _ : state) {
    crypto::SigCheck check = crypto::verify_kernel_rules(loader.signature, loader.insns, trusted);
    if (check.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(check);
  }
  bench::record("sigverify/" + name, cpu.per_iteration(state), state);
}

[[maybe_unused]] const bool kKmodelRegistered = [] {
  for (const auto& name : kKmodelExamples)
    benchmark::RegisterBenchmark(("BM_Kmodel_Real/" + name).c_str(), BM_Kmodel_Real, name)
        ->Unit(benchmark::kMicrosecond);
  for (const auto& name : kKmodelExamples)
    benchmark::RegisterBenchmark(("BM_Kmodel_ModelUnsigned/" + name).c_str(), BM_Kmodel_Model, name, false)
        ->Unit(benchmark::kMicrosecond);
  for (const auto& name : kKmodelExamples)
    benchmark::RegisterBenchmark(("BM_Kmodel_SigVerify/" + name).c_str(), BM_Kmodel_SigVerify, name)
        ->Unit(benchmark::kMicrosecond);
  for (const auto& name : kKmodelExamples)
    benchmark::RegisterBenchmark(("BM_Kmodel_ModelSigned/" + name).c_str(), BM_Kmodel_Model, name, true)
        ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
