// SPDX-License-Identifier: Apache-2.0
// The corpus's measure (issue 10, docs/kmodel.md "Corpus"): the light-skeleton
// load of the corpus's largest tracing tool (execsnoop: two tracepoints,
// ring buffer, CO-RE reads of task_struct and cred) in the model against the
// running kernel, in the same run.
//   BM_Corpus_Real     sys::load unsigned (this kernel checks no signatures),
//                      fds closed each iteration; root needed, skipped otherwise
//   BM_Corpus_Model    a new kmodel::Kernel (host BTF) per iteration, the same
//                      sequence unsigned: MAP_CREATE .. PROG_RUN of the loader,
//                      which creates the tool's maps and programs, CO-RE applied
// BM_Corpus_Model carries "model_over_real": its mean time over the real
// kernel's, measured first (absent when BM_Corpus_Real was skipped).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "bench_signer.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"

using namespace bpfsig;

namespace {

const std::string kLargestTracingTool = "execsnoop";

// The tool signed once (load-time scheme) with a key made for the run.
const skel::SignedLoader& tool_loader() {
  static const skel::SignedLoader loader = [] {
    bench::BenchSigner signer = bench::make_bench_signer();
    skel::SignOptions options;
    options.scheme = skel::Scheme::kLoadtime;
    skel::SignedLoader signed_loader = skel::sign_object(
        std::string(BPFSIG_CORPUS_DIR) + "/" + kLargestTracingTool + ".bpf.o", signer.cert.get(), signer.key.get(),
        options);
    return signed_loader;
  }();
  return loader;
}

double& real_mean_seconds() {
  static double seconds = 0;
  return seconds;
}

void BM_Corpus_Real(benchmark::State& state) {
  if (geteuid() != 0 || !sys::probe_kernel().bpf) {
    state.SkipWithError("skipped: needs root and a working bpf()");
    return;
  }
  sys::LoadOptions options;
  options.send_signature = false;
  try {  // once outside the timing: a kernel that refuses the load skips
    sys::close_fds(sys::load(tool_loader(), options));
  } catch (const Error& e) {
    state.SkipWithError((std::string("skipped: the running kernel refuses the load: ") + e.what()).c_str());
    return;
  }
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    sys::LoadResult result = sys::load(tool_loader(), options);
    sys::close_fds(result);
    benchmark::DoNotOptimize(result.loader_retval);
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (state.iterations() > 0) real_mean_seconds() = elapsed.count() / static_cast<double>(state.iterations());
}

void BM_Corpus_Model(benchmark::State& state) {
  kmodel::SkeletonOptions options;
  options.send_signature = false;
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kmodel::Kernel kernel;
    kmodel::Process& proc = kernel.spawn("bench");
    kmodel::SkeletonResult result = kmodel::load_skeleton(kernel, proc, tool_loader(), options);
    benchmark::DoNotOptimize(result.loader_retval);
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (state.iterations() > 0 && real_mean_seconds() > 0)
    state.counters["model_over_real"] =
        elapsed.count() / static_cast<double>(state.iterations()) / real_mean_seconds();
}

// Real first: the model's ratio needs its mean.
[[maybe_unused]] const bool kCorpusRegistered = [] {
  benchmark::RegisterBenchmark("BM_Corpus_Real", BM_Corpus_Real)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Corpus_Model", BM_Corpus_Model)->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
