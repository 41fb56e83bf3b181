// SPDX-License-Identifier: Apache-2.0
#include "bench/vm/enforcer_overhead.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "bpfsig/sys.h"
#include "sys/internal.h"

namespace bpfsig::bench {

namespace {

uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Median time of one PROG_LOAD (and close) of `r0 = 0; exit`.
uint64_t median_load_ns(int loads) {
  std::vector<uint64_t> t;
  sys::ProgLoad req;
  req.name = "enf_bench";
  req.insns = sys::detail::kReturnZero;
  for (int i = 0; i < loads; ++i) {
    uint64_t begin = now_ns();
    ::close(sys::prog_load(req));
    t.push_back(now_ns() - begin);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

uint64_t median(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

// All rounds without the enforcer, then all with it: a stop between rounds
// would leave the kernel freeing the detached programs during the next one.
nlohmann::json measure_enforcer_overhead(const std::function<void()>& start, const std::function<void()>& stop) {
  constexpr int kRounds = 7, kLoads = 60;
  median_load_ns(kLoads);  // warm up
  std::vector<uint64_t> without, with;
  for (int round = 0; round < kRounds; ++round) without.push_back(median_load_ns(kLoads));
  start();
  for (int round = 0; round < kRounds; ++round) with.push_back(median_load_ns(kLoads));
  stop();
  const uint64_t a = median(without), b = median(with);
  return {{"case", "enforce/overhead"},
          {"loads", kRounds * kLoads},
          {"median_ns_without", a},
          {"median_ns_with", b},
          {"ratio", a ? static_cast<double>(b) / static_cast<double>(a) : 0.0}};
}

}  // namespace bpfsig::bench
