// SPDX-License-Identifier: Apache-2.0
// Ratios between figures of one run. The machine running the benchmarks is
// often shared, so a figure is its CPU time per iteration (this thread's, or a
// child's from wait4), not the wall clock; a baseline is recorded by name and
// a later benchmark of the same run reports itself divided by it.
#pragma once

#include <benchmark/benchmark.h>
#include <time.h>

#include <map>
#include <string>

namespace bpfsig::bench {

inline double thread_cpu_seconds() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds per iteration of the benchmarks recorded so far, by name.
inline std::map<std::string, double>& recorded() {
  static std::map<std::string, double> seconds;
  return seconds;
}

inline void record(const std::string& name, double seconds_per_iteration) { recorded()[name] = seconds_per_iteration; }

// The recorded figure, or a negative number when that benchmark did not run.
inline double recorded_seconds(const std::string& name) {
  auto it = recorded().find(name);
  return it == recorded().end() ? -1 : it->second;
}

// counters[counter] = mine / (sum of the named baselines); absent unless all ran.
inline void report_ratio(benchmark::State& state, const std::string& counter, double mine,
                         std::initializer_list<std::string> baselines) {
  double sum = 0;
  for (const std::string& b : baselines) {
    double s = recorded_seconds(b);
    if (s <= 0) return;
    sum += s;
  }
  state.counters[counter] = mine / sum;
}

// Times the loop body in thread CPU seconds per iteration.
class CpuTimer {
 public:
  double per_iteration(const benchmark::State& state) const {
    return state.iterations() == 0 ? 0 : (thread_cpu_seconds() - start_) / static_cast<double>(state.iterations());
  }

 private:
  double start_ = thread_cpu_seconds();
};

}  // namespace bpfsig::bench
