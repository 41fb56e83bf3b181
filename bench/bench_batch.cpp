// SPDX-License-Identifier: Apache-2.0
// Batch verify (issue "Real-world signing and packaging"): one `bpfsig verify`
// of 200 bundles, which spreads them over every core, against the baseline
// measured in the same run, 200 `bpfsig verify` processes one after another.
// The figure is BM_VerifyMany/loop's time over BM_VerifyMany/batch's.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/files.h"
#include "bpfsig/skel.h"
#include "spawn.h"

using namespace bpfsig;

namespace {

constexpr int kBundles = 200;

struct ManyBundles {
  std::string dir;
  std::vector<std::string> bundles;
  ManyBundles() {
    char templ[] = "/tmp/bpfsig-bench-batch.XXXXXX";
    dir = ::mkdtemp(templ);
    crypto::keygen({}, dir + "/k.pem", dir + "/c.der");
    crypto::PrivateKey key = crypto::load_private_key(dir + "/k.pem");
    crypto::Certificate cert = crypto::load_certificate(dir + "/c.der");
    skel::SignOptions opts;
    opts.scheme = skel::Scheme::kLoadtime;
    const Bytes bundle = skel::encode_bundle(
        skel::sign_object(std::string(BPFSIG_EXAMPLES_DIR) + "/multimap.bpf.o", cert.get(), key.get(), opts));
    for (int i = 0; i < kBundles; ++i) {
      bundles.push_back(dir + "/b" + std::to_string(i) + ".bpfsig");
      write_file_atomic(bundles.back(), bundle);
    }
  }
  ~ManyBundles() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

ManyBundles& many() {
  static ManyBundles m;
  return m;
}

void BM_VerifyMany(benchmark::State& state) {
  const bool batch = state.range(0) == 1;
  const std::string cli = bench::bpfsig_command(), cert = many().dir + "/c.der";
  for (auto _ : state) {
    if (batch) {
      std::vector<std::string> argv = {cli, "verify", "-i", cert};
      argv.insert(argv.end(), many().bundles.begin(), many().bundles.end());
      if (bench::run_quiet(argv) != 0) state.SkipWithError("bpfsig verify of the batch failed");
    } else {
      for (const std::string& b : many().bundles)
        if (bench::run_quiet({cli, "verify", "-i", cert, b}) != 0) state.SkipWithError("bpfsig verify failed");
    }
  }
  state.SetLabel(batch ? "one process, every core" : "one process per bundle");
  state.counters["bundles_per_s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBundles),
                                                       benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyMany)->ArgName("batch")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
