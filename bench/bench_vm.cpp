// SPDX-License-Identifier: Apache-2.0
// Figures for the BPF VM: three loops, each run as a BPF program by the VM
// and as the same computation compiled natively, measured in the same run.
//   BM_Vm_AluLoop     xorshift64 mixing, registers only
//   BM_Vm_MemoryLoop  a running hash over 512 u64s of the ctx, written back
//   BM_Vm_HelperLoop  one call to a trivial helper per iteration
// Each VM figure reports ns per executed BPF instruction ("ns_per_insn") and
// "vm_over_native": its time divided by the native version's time for the
// same work, timed right after it in the same process. BM_Vm_*_Native show
// the native times on their own.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "bpfsig/isa.h"
#include "bpfsig/vm.h"

using namespace bpfsig;
using namespace bpfsig::isa;

namespace {

using Prog = std::vector<Insn>;

Insn alu(uint8_t op, uint8_t dst, int32_t imm) { return Insn{.code = uint8_t(kClassAlu64 | op | kSrcK), .dst = dst, .imm = imm}; }
Insn alur(uint8_t op, uint8_t dst, uint8_t src) {
  return Insn{.code = uint8_t(kClassAlu64 | op | kSrcX), .dst = dst, .src = src};
}
Insn stx64(uint8_t dst, uint8_t src, int16_t off) {
  return Insn{.code = uint8_t(kClassStx | kModeMem | kSizeDW), .dst = dst, .src = src, .off = off};
}

// ---- the three computations, natively ---------------------------------------------

uint64_t xorshift_native(uint64_t x, uint64_t n) {
  for (; n != 0; --n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

constexpr size_t kWords = 512;

uint64_t running_hash_native(uint64_t* words, uint64_t passes) {
  uint64_t acc = 0;
  for (; passes != 0; --passes)
    for (size_t i = 0; i < kWords; ++i) words[i] = acc = acc * 31 + words[i];
  return acc;
}

[[gnu::noinline]] uint64_t trivial_helper(uint64_t x) {
  benchmark::ClobberMemory();  // keeps the call a real call
  return x * 31 + 7;
}

uint64_t helper_loop_native(uint64_t n) {
  uint64_t acc = 0;
  for (; n != 0; --n) acc += trivial_helper(acc);
  return acc;
}

// ---- the same, as BPF programs (ctx: u64 count, then the loop's data) -----------------

Prog xorshift_program() {
  return {ldx_mem(kSizeDW, 6, 1, 0), ldx_mem(kSizeDW, 0, 1, 8),
          mov64_reg(2, 0), alu(kAluLsh, 2, 13), alur(kAluXor, 0, 2),
          mov64_reg(2, 0), alu(kAluRsh, 2, 7), alur(kAluXor, 0, 2),
          mov64_reg(2, 0), alu(kAluLsh, 2, 17), alur(kAluXor, 0, 2),
          alu(kAluSub, 6, 1), jmp_imm(kJmpJne, 6, 0, -11), exit_insn()};
}

Prog running_hash_program() {
  return {ldx_mem(kSizeDW, 6, 1, 0), mov64_imm(0, 0),
          mov64_reg(2, 1), alu(kAluAdd, 2, 8), mov64_imm(3, kWords),  // each pass
          ldx_mem(kSizeDW, 4, 2, 0), alu(kAluMul, 0, 31), alur(kAluAdd, 0, 4), stx64(2, 0, 0),  // each word
          alu(kAluAdd, 2, 8), alu(kAluSub, 3, 1), jmp_imm(kJmpJne, 3, 0, -7),
          alu(kAluSub, 6, 1), jmp_imm(kJmpJne, 6, 0, -12), exit_insn()};
}

constexpr int32_t kTrivialHelper = 7;  // the id of bpf_get_prandom_u32, reused

Prog helper_loop_program() {
  return {ldx_mem(kSizeDW, 6, 1, 0), mov64_imm(7, 0),
          mov64_reg(1, 7), call_helper(kTrivialHelper), alur(kAluAdd, 7, 0),
          alu(kAluSub, 6, 1), jmp_imm(kJmpJne, 6, 0, -5),
          mov64_reg(0, 7), exit_insn()};
}

// ---- measuring ----------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

// Seconds per call of f, over at least 50 ms.
template <typename F>
double seconds_per_call(F&& f) {
  uint64_t calls = 0;
  Clock::time_point start = Clock::now(), now;
  do {
    f();
    ++calls;
    now = Clock::now();
  } while (now - start < std::chrono::milliseconds(50));
  return std::chrono::duration<double>(now - start).count() / static_cast<double>(calls);
}

struct VmLoop {
  vm::Program program;
  vm::AddressSpace memory;
  vm::HelperTable helpers;
  std::vector<uint8_t> ctx;
};

// Runs the VM in the benchmark loop, then times native() alone, and reports
// ns per BPF instruction and the VM/native ratio.
template <typename Native>
void measure(benchmark::State& state, VmLoop& loop, Native&& native) {
  auto run_once = [&] {
    vm::RunResult r = vm::run(loop.program, loop.memory, loop.ctx, loop.helpers);
    if (!r.ok()) state.SkipWithError(r.fault->message.c_str());
    benchmark::DoNotOptimize(r.r0);
    return r.instructions;
  };
  uint64_t instructions = 0;
  Clock::time_point start = Clock::now();
  for (auto _ : state) instructions += run_once();
  double vm_seconds = std::chrono::duration<double>(Clock::now() - start).count() / static_cast<double>(state.iterations());
  double native_seconds = seconds_per_call([&] { benchmark::DoNotOptimize(native()); });
  state.counters["ns_per_insn"] = benchmark::Counter(static_cast<double>(instructions),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["native_us"] = native_seconds * 1e6;
  state.counters["vm_over_native"] = vm_seconds / native_seconds;
}

std::vector<uint8_t> ctx_with(uint64_t count, size_t extra_bytes) {
  std::vector<uint8_t> ctx(8 + extra_bytes, 0);
  std::memcpy(ctx.data(), &count, 8);
  return ctx;
}

void BM_Vm_AluLoop(benchmark::State& state) {
  auto n = static_cast<uint64_t>(state.range(0));
  VmLoop loop{vm::prepare(xorshift_program()), {}, {}, ctx_with(n, 8)};
  uint64_t seed = 0x9e3779b97f4a7c15 ^ n;
  std::memcpy(loop.ctx.data() + 8, &seed, 8);
  measure(state, loop, [&] { return xorshift_native(seed, n); });
}

void BM_Vm_MemoryLoop(benchmark::State& state) {
  auto passes = static_cast<uint64_t>(state.range(0));
  VmLoop loop{vm::prepare(running_hash_program()), {}, {}, ctx_with(passes, kWords * 8)};
  std::vector<uint64_t> words(kWords, passes);
  measure(state, loop, [&] { return running_hash_native(words.data(), passes); });
}

void BM_Vm_HelperLoop(benchmark::State& state) {
  auto n = static_cast<uint64_t>(state.range(0));
  VmLoop loop{vm::prepare(helper_loop_program()), {}, {}, ctx_with(n, 0)};
  loop.helpers.set(kTrivialHelper, [](vm::HelperContext&, const uint64_t args[5]) { return trivial_helper(args[0]); });
  measure(state, loop, [&] { return helper_loop_native(n); });
}

// The native loops on their own, for the table.
void BM_Vm_AluLoop_Native(benchmark::State& state) {
  auto n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(xorshift_native(0x9e3779b97f4a7c15 ^ n, n));
}
void BM_Vm_MemoryLoop_Native(benchmark::State& state) {
  std::vector<uint64_t> words(kWords, 1);
  for (auto _ : state) benchmark::DoNotOptimize(running_hash_native(words.data(), static_cast<uint64_t>(state.range(0))));
}
void BM_Vm_HelperLoop_Native(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(helper_loop_native(static_cast<uint64_t>(state.range(0))));
}

// 10000 iterations keep each run well inside the default budget of 10^6.
BENCHMARK(BM_Vm_AluLoop)->Arg(10000);
BENCHMARK(BM_Vm_AluLoop_Native)->Arg(10000);
BENCHMARK(BM_Vm_MemoryLoop)->Arg(100);
BENCHMARK(BM_Vm_MemoryLoop_Native)->Arg(100);
BENCHMARK(BM_Vm_HelperLoop)->Arg(10000);
BENCHMARK(BM_Vm_HelperLoop_Native)->Arg(10000);

}  // namespace
