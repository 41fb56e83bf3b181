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

// A baseline's figure over every run of it so far: Google Benchmark calls a
// benchmark several times (its short estimation runs, then once per
// repetition), and each call records its figure with its iteration count.
struct Figure {
  double weighted_sum = 0;  // figure x iterations, summed over the runs
  double iterations = 0;
  double value() const { return iterations > 0 ? weighted_sum / iterations : -1; }
};

inline std::map<std::string, Figure>& recorded() {
  static std::map<std::string, Figure> figures;
  return figures;
}

// Records a run of the baseline name: its figure (CPU seconds per iteration,
// or per byte) and how many iterations it took. The baseline is then the mean
// of all its runs weighted by their iterations, i.e. its CPU time over its
// iterations: every repetition counts, not only the last one, which on a
// shared machine is as likely as any other to be the one that was disturbed,
// and the estimation runs count for their few iterations.
inline void record(const std::string& name, double figure, const benchmark::State& state) {
  if (state.iterations() <= 0) return;
  Figure& f = recorded()[name];
  f.weighted_sum += figure * static_cast<double>(state.iterations());
  f.iterations += static_cast<double>(state.iterations());
}

// The recorded figure, or a negative number when that benchmark did not run.
inline double recorded_seconds(const std::string& name) {
  auto it = recorded().find(name);
  return it == recorded().end() ? -1 : it->second.value();
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
