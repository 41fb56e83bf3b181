// SPDX-License-Identifier: Apache-2.0
// verify --deep against plain verify (docs/deep-verify.md, "Cost"), for each
// example and for the largest corpus object, each signed with the load-time
// scheme (a light skeleton holds at most 32 programs: sign refuses more):
//   BM_Deep_Verify/<name>      verify::verify_loader
//   BM_Deep_DeepVerify/<name>  deep::deep_verify: the same checks, the loader run in
//                              the model with provenance tracked, the manifest built
//   BM_Deep_ModelLoad/<name>   the same load in the model, untracked (bpfsig run)
// BM_Deep_DeepVerify carries "deep_over_verify": its CPU time over Verify's for
// the same input, and "deep_over_model_plus_verify": over Verify's plus
// ModelLoad's, both measured earlier in the same run.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_signer.h"
#include "bpfsig/crypto.h"
#include "bpfsig/deep.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "ratio.h"

using namespace bpfsig;

namespace {

namespace fs = std::filesystem;

struct Input {
  std::string name;
  skel::SignedInput signed_input;
};

// The largest corpus object (build/corpus, by file size): the most programs
// and maps of the corpus.
std::string largest_corpus_object() {
  std::string best;
  uintmax_t best_size = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(BPFSIG_CORPUS_DIR, ec)) {
    if (!e.path().string().ends_with(".bpf.o") || e.file_size() <= best_size) continue;
    best_size = e.file_size();
    best = e.path().string();
  }
  return best;
}

struct Inputs {
  std::vector<crypto::Certificate> trusted;
  std::vector<Input> inputs;

  Inputs() {
    bench::BenchSigner signer = bench::make_bench_signer();
    crypto::PrivateKey& key = signer.key;
    crypto::Certificate& cert = signer.cert;
    trusted.push_back(crypto::parse_certificate(signer.cert_der, "bench certificate"));
    skel::SignOptions options;
    options.scheme = skel::Scheme::kLoadtime;
    std::vector<std::pair<std::string, std::string>> objects;
    for (const char* name : {"execcount", "multimap", "xdpfilter"})
      objects.emplace_back(name, std::string(BPFSIG_EXAMPLES_DIR) + "/" + name + ".bpf.o");
    if (std::string corpus = largest_corpus_object(); !corpus.empty())
      objects.emplace_back("corpus-" + fs::path(corpus).stem().stem().string(), corpus);
    for (const auto& [name, path] : objects) {
      skel::SignedLoader loader = skel::sign_object(path, cert.get(), key.get(), options);
      Bytes bundle = skel::encode_bundle(loader);
      inputs.push_back(Input{name, skel::SignedInput{std::move(loader), "bundle", crypto::sha256(bundle)}});
    }
  }
};

const Inputs& inputs() {
  static const Inputs all;
  return all;
}

void BM_Deep_Verify(benchmark::State& state, size_t index) {
  const Input& in = inputs().inputs.at(index);
  bench::CpuTimer cpu;
  for (auto _ : state) {
    verify::Report report = verify::verify_loader(in.signed_input.loader, inputs().trusted);
    if (report.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(report);
  }
  bench::record("verify/" + in.name, cpu.per_iteration(state), state);
}

// The same load in the model without provenance tracking (what `bpfsig run`
// does): separates the cost of the run itself (host BTF for CO-RE included)
// from the tracking and the manifest.
void BM_Deep_ModelLoad(benchmark::State& state, size_t index) {
  const Input& in = inputs().inputs.at(index);
  const skel::SignedLoader& loader = in.signed_input.loader;
  bench::CpuTimer cpu;
  for (auto _ : state) {
    kmodel::Kernel kernel(deep::profile_for(loader.scheme));
    for (const auto& cert : inputs().trusted)
      kernel.keyring_add_cert(kmodel::kBuiltinKeyring, crypto::certificate_der(cert.get()));
    kmodel::Process& proc = kernel.spawn("bench");
    kmodel::SkeletonResult result = kmodel::load_skeleton(kernel, proc, loader);
    benchmark::DoNotOptimize(result.loader_retval);
  }
  bench::record("model/" + in.name, cpu.per_iteration(state), state);
}

void BM_Deep_DeepVerify(benchmark::State& state, size_t index) {
  const Input& in = inputs().inputs.at(index);
  bench::CpuTimer cpu;
  for (auto _ : state) {
    deep::Result r = deep::deep_verify(in.signed_input, in.name, inputs().trusted);
    if (!r.ok()) state.SkipWithError(("deep verify failed: " + r.message).c_str());
    benchmark::DoNotOptimize(r.manifest);
  }
  state.counters["programs"] = static_cast<double>(in.signed_input.loader.prog_names.size());
  bench::report_ratio(state, "deep_over_verify", cpu.per_iteration(state), {"verify/" + in.name});
  bench::report_ratio(state, "deep_over_model_plus_verify", cpu.per_iteration(state),
                      {"verify/" + in.name, "model/" + in.name});
}

[[maybe_unused]] const bool kDeepRegistered = [] {
  const size_t count = inputs().inputs.size();
  for (size_t i = 0; i < count; ++i)
    benchmark::RegisterBenchmark(("BM_Deep_Verify/" + inputs().inputs[i].name).c_str(), BM_Deep_Verify, i)
        ->Unit(benchmark::kMillisecond);
  for (size_t i = 0; i < count; ++i)
    benchmark::RegisterBenchmark(("BM_Deep_ModelLoad/" + inputs().inputs[i].name).c_str(), BM_Deep_ModelLoad, i)
        ->Unit(benchmark::kMillisecond);
  for (size_t i = 0; i < count; ++i)
    benchmark::RegisterBenchmark(("BM_Deep_DeepVerify/" + inputs().inputs[i].name).c_str(), BM_Deep_DeepVerify, i)
        ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
