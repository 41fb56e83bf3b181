// SPDX-License-Identifier: Apache-2.0
// Tests of the BPF VM: a conformance table with hand-computed results, the
// arithmetic edge cases, the same programs run by the live kernel as SYSCALL
// programs (differential, root only), the sandbox's refusals, helpers, and a
// real gen_loader loader.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/vm.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::isa;
using bpfsig::vm::RunOptions;
using bpfsig::vm::RunResult;

namespace {

using Prog = std::vector<Insn>;

// ---- program builders ------------------------------------------------------------

Insn make(uint8_t code, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
  return Insn{.code = code, .dst = dst, .src = src, .off = off, .imm = imm};
}
Insn alu64(uint8_t op, uint8_t dst, int32_t imm, int16_t off = 0) { return make(kClassAlu64 | op | kSrcK, dst, 0, off, imm); }
Insn alu64r(uint8_t op, uint8_t dst, uint8_t src, int16_t off = 0) { return make(kClassAlu64 | op | kSrcX, dst, src, off); }
Insn alu32(uint8_t op, uint8_t dst, int32_t imm, int16_t off = 0) { return make(kClassAlu | op | kSrcK, dst, 0, off, imm); }
Insn alu32r(uint8_t op, uint8_t dst, uint8_t src, int16_t off = 0) { return make(kClassAlu | op | kSrcX, dst, src, off); }
Insn ldx(uint8_t size, uint8_t dst, uint8_t src, int16_t off) { return make(kClassLdx | kModeMem | size, dst, src, off); }
Insn ldxs(uint8_t size, uint8_t dst, uint8_t src, int16_t off) { return make(kClassLdx | kModeMemSx | size, dst, src, off); }
Insn st(uint8_t size, uint8_t dst, int16_t off, int32_t imm) { return make(kClassSt | kModeMem | size, dst, 0, off, imm); }
Insn stx(uint8_t size, uint8_t dst, uint8_t src, int16_t off) { return make(kClassStx | kModeMem | size, dst, src, off); }
Insn atomic(uint8_t size, int32_t op, uint8_t dst, uint8_t src, int16_t off) {
  return make(kClassStx | kModeAtomic | size, dst, src, off, op);
}
Insn jmp32(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return make(kClassJmp32 | op | kSrcK, dst, 0, off, imm); }
Insn jmp32r(uint8_t op, uint8_t dst, uint8_t src, int16_t off) { return make(kClassJmp32 | op | kSrcX, dst, src, off); }
Insn gotol(int32_t off) { return make(kClassJmp32 | kJmpJa, 0, 0, 0, off); }
Insn call_local(int32_t off) { return make(kClassJmp | kJmpCall, 0, kPseudoCall, 0, off); }
Insn end(uint8_t cls, uint8_t to_be, int32_t width) { return make(cls | kAluEnd | to_be, 0, 0, 0, width); }
Prog ld64(uint8_t dst, uint64_t value) { return isa::ld_imm64(dst, 0, value); }

Prog concat(std::initializer_list<Prog> parts) {
  Prog out;
  for (const Prog& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// r0 = a; r1 = b; <ops on r0, r1>; exit.
Prog with_operands(uint64_t a, uint64_t b, Prog body) { return concat({ld64(0, a), ld64(1, b), body, {exit_insn()}}); }

// ---- running ------------------------------------------------------------------

RunOptions lenient() { return RunOptions{.strict_arith = false}; }

RunResult run_vm(const Prog& prog, RunOptions options = {}, const vm::HelperTable& helpers = {},
                 std::span<uint8_t> ctx = {}) {
  vm::AddressSpace memory;
  return vm::run(vm::prepare(prog), memory, ctx, helpers, options);
}

std::string fault_text(const RunResult& r) { return r.fault ? r.fault->message : "no fault"; }

// ---- the conformance table (results computed by hand) ------------------------------

struct Case {
  std::string name;
  Prog prog;
  uint64_t r0;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

constexpr uint64_t kMin64 = 0x8000000000000000;
constexpr uint64_t kPattern = 0x1122334455667788;

std::vector<Case> alu64_cases() {
  return {
      {"add64_k", with_operands(5, 0, {alu64(kAluAdd, 0, -8)}), 0xfffffffffffffffd},
      {"add64_x_wraps", with_operands(~0ull, 2, {alu64r(kAluAdd, 0, 1)}), 1},
      {"sub64_k", with_operands(3, 0, {alu64(kAluSub, 0, 5)}), 0xfffffffffffffffe},
      {"mul64_x", with_operands(0x123456789, 16, {alu64r(kAluMul, 0, 1)}), 0x1234567890},
      {"mul64_x_wraps", with_operands(0x100000000, 0x100000000, {alu64r(kAluMul, 0, 1)}), 0},
      {"div64_x", with_operands(100, 7, {alu64r(kAluDiv, 0, 1)}), 14},
      {"div64_k_negative_imm_is_unsigned", with_operands(100, 0, {alu64(kAluDiv, 0, -1)}), 0},
      {"mod64_x", with_operands(100, 7, {alu64r(kAluMod, 0, 1)}), 2},
      {"or64_k", with_operands(0xf0, 0, {alu64(kAluOr, 0, 0x0f)}), 0xff},
      {"and64_k_sign_extends", with_operands(0x1234567887654321, 0, {alu64(kAluAnd, 0, -16)}), 0x1234567887654320},
      {"xor64_x", with_operands(0xff00, 0x0ff0, {alu64r(kAluXor, 0, 1)}), 0xf0f0},
      {"lsh64_k", with_operands(1, 0, {alu64(kAluLsh, 0, 63)}), kMin64},
      {"rsh64_k", with_operands(kMin64, 0, {alu64(kAluRsh, 0, 63)}), 1},
      {"arsh64_k", with_operands(kMin64, 0, {alu64(kAluArsh, 0, 63)}), ~0ull},
      {"arsh64_x", with_operands(0xfffffffffffff000, 4, {alu64r(kAluArsh, 0, 1)}), 0xffffffffffffff00},
      {"neg64", with_operands(5, 0, {alu64(kAluNeg, 0, 0)}), 0xfffffffffffffffb},
      {"mov64_k_sign_extends", with_operands(0, 0, {alu64(kAluMov, 0, -1)}), ~0ull},
      {"mov64_x", with_operands(0, kPattern, {alu64r(kAluMov, 0, 1)}), kPattern},
      {"sdiv64_x", with_operands(static_cast<uint64_t>(-7), 2, {alu64r(kAluDiv, 0, 1, 1)}), static_cast<uint64_t>(-3)},
      {"sdiv64_k", with_operands(static_cast<uint64_t>(-100), 0, {alu64(kAluDiv, 0, 7, 1)}), static_cast<uint64_t>(-14)},
      {"smod64_x_dividend_sign", with_operands(static_cast<uint64_t>(-7), 2, {alu64r(kAluMod, 0, 1, 1)}), ~0ull},
      {"smod64_k_positive", with_operands(7, 0, {alu64(kAluMod, 0, -2, 1)}), 1},
  };
}

std::vector<Case> alu32_cases() {
  return {
      {"add32_wraps_and_zero_extends", with_operands(~0ull, 0, {alu32(kAluAdd, 0, 1)}), 0},
      {"add32_clears_upper_half", with_operands(0x1234567800000005, 0, {alu32(kAluAdd, 0, 0)}), 5},
      {"sub32", with_operands(1, 0, {alu32(kAluSub, 0, 2)}), 0xffffffff},
      {"mul32_x", with_operands(0x10000, 0x10000, {alu32r(kAluMul, 0, 1)}), 0},
      {"div32_x_ignores_upper_half", with_operands(0x100000064, 10, {alu32r(kAluDiv, 0, 1)}), 10},
      {"mod32_k", with_operands(100, 0, {alu32(kAluMod, 0, 7)}), 2},
      {"and32_k", with_operands(0xfffffffff0f0f0f0, 0, {alu32(kAluAnd, 0, static_cast<int32_t>(0xff00ff00))}), 0xf000f000},
      {"or32_x", with_operands(0xaaaaaaaa00000001, 0x10, {alu32r(kAluOr, 0, 1)}), 0x11},
      {"xor32_k", with_operands(0xff, 0, {alu32(kAluXor, 0, 0x0f)}), 0xf0},
      {"lsh32_k", with_operands(1, 0, {alu32(kAluLsh, 0, 31)}), 0x80000000},
      {"rsh32_x", with_operands(~0ull, 28, {alu32r(kAluRsh, 0, 1)}), 0xf},
      {"arsh32_k", with_operands(0x80000000, 0, {alu32(kAluArsh, 0, 4)}), 0xf8000000},
      {"neg32", with_operands(5, 0, {alu32(kAluNeg, 0, 0)}), 0xfffffffb},
      {"mov32_k_zero_extends", with_operands(0, 0, {alu32(kAluMov, 0, -1)}), 0xffffffff},
      {"mov32_x_zero_extends", with_operands(0, 0xaaaaaaaabbbbbbbb, {alu32r(kAluMov, 0, 1)}), 0xbbbbbbbb},
      {"sdiv32_k", with_operands(static_cast<uint32_t>(-7), 0, {alu32(kAluDiv, 0, 2, 1)}), 0xfffffffd},
      {"smod32_x", with_operands(static_cast<uint32_t>(-7), 2, {alu32r(kAluMod, 0, 1, 1)}), 0xffffffff},
  };
}

std::vector<Case> move_and_byte_order_cases() {
  return {
      {"movsx64_s8", with_operands(0, 0x180, {alu64r(kAluMov, 0, 1, 8)}), 0xffffffffffffff80},
      {"movsx64_s16", with_operands(0, 0x8001, {alu64r(kAluMov, 0, 1, 16)}), 0xffffffffffff8001},
      {"movsx64_s32", with_operands(0, 0x80000000, {alu64r(kAluMov, 0, 1, 32)}), 0xffffffff80000000},
      {"movsx32_s8_zero_extends", with_operands(0, 0xff, {alu32r(kAluMov, 0, 1, 8)}), 0xffffffff},
      {"movsx32_s16_positive", with_operands(0, 0x7fff, {alu32r(kAluMov, 0, 1, 16)}), 0x7fff},
      {"le16", with_operands(kPattern, 0, {end(kClassAlu, kSrcK, 16)}), 0x7788},
      {"le32", with_operands(kPattern, 0, {end(kClassAlu, kSrcK, 32)}), 0x55667788},
      {"le64", with_operands(kPattern, 0, {end(kClassAlu, kSrcK, 64)}), kPattern},
      {"be16", with_operands(kPattern, 0, {end(kClassAlu, kSrcX, 16)}), 0x8877},
      {"be32", with_operands(kPattern, 0, {end(kClassAlu, kSrcX, 32)}), 0x88776655},
      {"be64", with_operands(kPattern, 0, {end(kClassAlu, kSrcX, 64)}), 0x8877665544332211},
      {"bswap16", with_operands(kPattern, 0, {end(kClassAlu64, kSrcK, 16)}), 0x8877},
      {"bswap32", with_operands(kPattern, 0, {end(kClassAlu64, kSrcK, 32)}), 0x88776655},
      {"bswap64", with_operands(kPattern, 0, {end(kClassAlu64, kSrcK, 64)}), 0x8877665544332211},
  };
}

// The stack slot at r10-8 holds kPattern before the body runs.
Prog on_stack_pattern(Prog body) {
  return concat({ld64(1, kPattern), {stx(kSizeDW, 10, 1, -8)}, body, {exit_insn()}});
}

std::vector<Case> memory_cases() {
  return {
      {"stx64_ldx64", on_stack_pattern({ldx(kSizeDW, 0, 10, -8)}), kPattern},
      {"ldx8_little_endian", on_stack_pattern({ldx(kSizeB, 0, 10, -8)}), 0x88},
      {"ldx16", on_stack_pattern({ldx(kSizeH, 0, 10, -6)}), 0x5566},
      {"ldx32", on_stack_pattern({ldx(kSizeW, 0, 10, -4)}), 0x11223344},
      {"st32_keeps_neighbours", on_stack_pattern({st(kSizeW, 10, -4, -1), ldx(kSizeDW, 0, 10, -8)}), 0xffffffff55667788},
      {"st64_sign_extends", on_stack_pattern({st(kSizeDW, 10, -8, -2), ldx(kSizeDW, 0, 10, -8)}), 0xfffffffffffffffe},
      {"st16_st8", on_stack_pattern({st(kSizeH, 10, -8, 0x1234), st(kSizeB, 10, -6, 0x56), ldx(kSizeDW, 0, 10, -8)}),
       0x1122334455561234},
      {"stx8_stx16_stx32", on_stack_pattern({alu64(kAluMov, 2, 0x0a0b0c0d), stx(kSizeB, 10, 2, -8), stx(kSizeH, 10, 2, -6),
                                              stx(kSizeW, 10, 2, -4), ldx(kSizeDW, 0, 10, -8)}),
       0x0a0b0c0d0c0d770d},
      {"ldxs8", on_stack_pattern({st(kSizeB, 10, -1, 0x80), ldxs(kSizeB, 0, 10, -1)}), 0xffffffffffffff80},
      {"ldxs16", on_stack_pattern({st(kSizeH, 10, -2, 0x8000), ldxs(kSizeH, 0, 10, -2)}), 0xffffffffffff8000},
      {"ldxs32", on_stack_pattern({ldxs(kSizeW, 0, 10, -8)}), 0x55667788},
      {"ldxs32_negative", on_stack_pattern({ldxs(kSizeW, 0, 10, -4)}), 0x11223344},
  };
}

// *(u64 *)(r10-8) = mem; r1 = operand; <atomic op on r10-8 with src r1>;
// r0 = (r1 << 16) | (the u64 at r10-8 & 0xffff), so one value shows both the
// fetched old value and the stored result.
Prog atomic_program(uint64_t mem, uint64_t operand, uint8_t size, int32_t op, uint64_t r0_before = 0) {
  return concat({ld64(2, mem), {stx(kSizeDW, 10, 2, -8)}, ld64(1, operand), ld64(0, r0_before),
                 {atomic(size, op, 10, 1, -8), alu64r(kAluMov, 3, 0), alu64r(kAluMov, 0, 1), alu64(kAluLsh, 0, 16),
                  ldx(kSizeDW, 2, 10, -8), alu64(kAluAnd, 2, 0xffff), alu64r(kAluOr, 0, 2), exit_insn()}});
}

// The same, returning r0 after a cmpxchg (the old value) and the memory.
Prog cmpxchg_program(uint8_t size, uint64_t mem, uint64_t expected, uint64_t replacement) {
  return concat({ld64(2, mem), {stx(kSizeDW, 10, 2, -8)}, ld64(1, replacement), ld64(0, expected),
                 {atomic(size, kAtomicCmpxchg, 10, 1, -8), alu64(kAluLsh, 0, 16), ldx(kSizeDW, 2, 10, -8),
                  alu64(kAluAnd, 2, 0xffff), alu64r(kAluOr, 0, 2), exit_insn()}});
}

std::vector<Case> atomic_cases() {
  constexpr int32_t kFetch = kAtomicFetch;
  return {
      {"atomic64_add", atomic_program(10, 5, kSizeDW, kAtomicAdd), (5ull << 16) | 15},
      {"atomic64_fetch_add", atomic_program(10, 5, kSizeDW, kAtomicAdd | kFetch), (10ull << 16) | 15},
      {"atomic64_fetch_or", atomic_program(0x0f, 0xf0, kSizeDW, kAtomicOr | kFetch), (0x0full << 16) | 0xff},
      {"atomic64_fetch_and", atomic_program(0x3c, 0x0f, kSizeDW, kAtomicAnd | kFetch), (0x3cull << 16) | 0x0c},
      {"atomic64_fetch_xor", atomic_program(0xff, 0x0f, kSizeDW, kAtomicXor | kFetch), (0xffull << 16) | 0xf0},
      {"atomic64_or", atomic_program(0x0f, 0xf0, kSizeDW, kAtomicOr), (0xf0ull << 16) | 0xff},
      {"atomic64_xchg", atomic_program(10, 7, kSizeDW, kAtomicXchg), (10ull << 16) | 7},
      {"atomic64_cmpxchg_equal", cmpxchg_program(kSizeDW, 10, 10, 7), (10ull << 16) | 7},
      {"atomic64_cmpxchg_different", cmpxchg_program(kSizeDW, 10, 9, 7), (10ull << 16) | 10},
      // 32-bit: the upper half of memory is untouched; fetched values are zero-extended.
      {"atomic32_add_wraps", atomic_program(0x22222222ffffffff, 1, kSizeW, kAtomicAdd), (1ull << 16) | 0},
      {"atomic32_fetch_add_zero_extends", atomic_program(0x22222222fffffff0, 0xaaaaaaaa00000001, kSizeW,
                                                         kAtomicAdd | kFetch),
       (0xfffffff0ull << 16) | 0xfff1},
      {"atomic32_xchg", atomic_program(0x2222222200001234, 0x5678, kSizeW, kAtomicXchg), (0x1234ull << 16) | 0x5678},
      {"atomic32_cmpxchg_compares_low_half", cmpxchg_program(kSizeW, 0x2222222200000005, 0xffffffff00000005, 9),
       (5ull << 16) | 9},
      {"atomic32_fetch_xor", atomic_program(0x33330000000000ff, 0x0f, kSizeW, kAtomicXor | kFetch), (0xffull << 16) | 0xf0},
  };
}

// r0 = 1; if <a op b> goto +1; r0 = 0; exit: r0 says whether the jump was taken.
Prog branch(Insn jump, uint64_t a, uint64_t b) {
  return concat({ld64(1, a), ld64(2, b), {alu64(kAluMov, 0, 1), jump, alu64(kAluMov, 0, 0), exit_insn()}});
}

const uint8_t kConditions[] = {kJmpJeq, kJmpJne, kJmpJgt, kJmpJge, kJmpJlt, kJmpJle,
                               kJmpJset, kJmpJsgt, kJmpJsge, kJmpJslt, kJmpJsle};
const char* const kConditionNames[] = {"jeq", "jne", "jgt", "jge", "jlt", "jle", "jset", "jsgt", "jsge", "jslt", "jsle"};

struct Comparison {
  const char* name;
  uint64_t a;
  int32_t b;           // as an immediate; the register form loads it sign-extended
  const char* taken64;  // one T/F per condition, in kConditions order
  const char* taken32;
};

// Worked out by hand from the operand values.
const Comparison kComparisons[] = {
    {"minus1_vs_1", ~0ull, 1, "FTTTFFTFFTT", "FTTTFFTFFTT"},
    {"upper_half_differs", 0x100000001, 2, "FTTTFFFTTFF", "FTFFTTFFFTT"},
    {"equal", 7, 7, "TFFTFTTFTFT", "TFFTFTTFTFT"},
    {"imm_sign_extended", 0xffffffff, -1, "FTFFTTTTTFF", "TFFTFTTFTFT"},
};

std::vector<Case> jump_cases() {
  std::vector<Case> cases;
  for (const Comparison& c : kComparisons) {
    auto b = static_cast<uint64_t>(static_cast<int64_t>(c.b));
    for (size_t k = 0; k < std::size(kConditions); ++k) {
      std::string name = std::string(kConditionNames[k]) + "_" + c.name;
      uint64_t t64 = c.taken64[k] == 'T', t32 = c.taken32[k] == 'T';
      cases.push_back({name + "_64k", branch(jmp_imm(kConditions[k], 1, c.b, 1), c.a, b), t64});
      cases.push_back({name + "_64x", branch(jmp_reg(kConditions[k], 1, 2, 1), c.a, b), t64});
      cases.push_back({name + "_32k", branch(jmp32(kConditions[k], 1, c.b, 1), c.a, b), t32});
      cases.push_back({name + "_32x", branch(jmp32r(kConditions[k], 1, 2, 1), c.a, b), t32});
    }
  }
  return cases;
}

std::vector<Case> control_cases() {
  return {
      // Forward over two instructions, then back: 1 + 10 + 100 (the kernel
      // refuses unreachable instructions, so every one is reached).
      {"ja_forward_and_back", {alu64(kAluMov, 0, 1), ja(2), alu64(kAluAdd, 0, 100), exit_insn(),
                               alu64(kAluAdd, 0, 10), ja(-4)},
       111},
      {"gotol_forward_and_back", {alu64(kAluMov, 0, 1), gotol(2), alu64(kAluAdd, 0, 100), exit_insn(),
                                  alu64(kAluAdd, 0, 10), gotol(-4)},
       111},
      // r0 = sum of 1..10 with a backward jump.
      {"loop_sum", {alu64(kAluMov, 0, 0), alu64(kAluMov, 1, 10), alu64r(kAluAdd, 0, 1), alu64(kAluSub, 1, 1),
                    jmp_imm(kJmpJne, 1, 0, -3), exit_insn()},
       55},
      // main: r6 = 100; r1 = 3; call sub; r0 += r6. sub clobbers its own r6
      // and returns r1 * 2: callee-saved r6 survives, so 106.
      {"call_keeps_callee_saved", {alu64(kAluMov, 6, 100), alu64(kAluMov, 1, 3), call_local(2), alu64r(kAluAdd, 0, 6),
                                   exit_insn(), alu64(kAluMov, 6, 7), alu64r(kAluMov, 0, 1), alu64(kAluMul, 0, 2),
                                   exit_insn()},
       106},
      // Each frame has its own stack: main's slot at r10-8 keeps 1 while the
      // callee writes 2 to its own r10-8; the callee reads main's slot
      // through the pointer in r1. r0 = main slot * 10 + callee's result.
      {"call_has_own_stack", {st(kSizeDW, 10, -8, 1), alu64r(kAluMov, 1, 10), alu64(kAluAdd, 1, -8), call_local(4),
                              ldx(kSizeDW, 1, 10, -8), alu64(kAluMul, 1, 10), alu64r(kAluAdd, 0, 1), exit_insn(),
                              st(kSizeDW, 10, -8, 2), ldx(kSizeDW, 0, 10, -8), ldx(kSizeDW, 2, 1, 0),
                              alu64(kAluMul, 2, 100), alu64r(kAluAdd, 0, 2), exit_insn()},
       10 + 102},
      {"ld_imm64", concat({ld64(0, 0xdeadbeefcafef00d), {exit_insn()}}), 0xdeadbeefcafef00d},
  };
}

// x / 0 = 0, x % 0 = x (32-bit: zero-extended), as the kernel defines them.
std::vector<Case> division_by_zero_cases() {
  return {
      {"div64_by_zero", with_operands(100, 0, {alu64r(kAluDiv, 0, 1)}), 0},
      {"mod64_by_zero", with_operands(100, 0, {alu64r(kAluMod, 0, 1)}), 100},
      {"div32_by_zero", with_operands(0xffffffff00000064, 0, {alu32r(kAluDiv, 0, 1)}), 0},
      {"mod32_by_zero_zero_extends", with_operands(0xffffffff00000064, 0, {alu32r(kAluMod, 0, 1)}), 0x64},
      {"mod32_by_low_half_zero", with_operands(0x64, 0x100000000, {alu32r(kAluMod, 0, 1)}), 0x64},
      {"sdiv64_by_zero", with_operands(static_cast<uint64_t>(-5), 0, {alu64r(kAluDiv, 0, 1, 1)}), 0},
      {"smod64_by_zero", with_operands(static_cast<uint64_t>(-5), 0, {alu64r(kAluMod, 0, 1, 1)}), static_cast<uint64_t>(-5)},
      {"sdiv32_by_zero", with_operands(static_cast<uint64_t>(-5), 0, {alu32r(kAluDiv, 0, 1, 1)}), 0},
      {"smod32_by_zero_zero_extends", with_operands(static_cast<uint64_t>(-5), 0, {alu32r(kAluMod, 0, 1, 1)}),
       0xfffffffb},
  };
}

// Register shifts of the width or more, and MIN / -1: the kernel's results,
// which the VM gives with strict_arith = false.
std::vector<Case> lenient_edge_cases() {
  return {
      {"lsh64_by_64_masked", with_operands(1, 64, {alu64r(kAluLsh, 0, 1)}), 1},
      {"lsh64_by_65_masked", with_operands(1, 65, {alu64r(kAluLsh, 0, 1)}), 2},
      {"rsh64_by_127_masked", with_operands(kMin64, 127, {alu64r(kAluRsh, 0, 1)}), 1},
      {"arsh64_by_64_masked", with_operands(kMin64, 64, {alu64r(kAluArsh, 0, 1)}), kMin64},
      {"lsh32_by_32_masked", with_operands(1, 32, {alu32r(kAluLsh, 0, 1)}), 1},
      {"lsh32_by_33_masked", with_operands(1, 33, {alu32r(kAluLsh, 0, 1)}), 2},
      {"rsh32_by_63_masked", with_operands(0x80000000, 63, {alu32r(kAluRsh, 0, 1)}), 1},
      {"arsh32_by_36_masked", with_operands(0x80000000, 36, {alu32r(kAluArsh, 0, 1)}), 0xf8000000},
      {"sdiv64_min_by_minus1_x", with_operands(kMin64, ~0ull, {alu64r(kAluDiv, 0, 1, 1)}), kMin64},
      {"sdiv64_min_by_minus1_k", with_operands(kMin64, 0, {alu64(kAluDiv, 0, -1, 1)}), kMin64},
      {"smod64_min_by_minus1", with_operands(kMin64, ~0ull, {alu64r(kAluMod, 0, 1, 1)}), 0},
      {"sdiv32_min_by_minus1", with_operands(0x80000000, 0xffffffff, {alu32r(kAluDiv, 0, 1, 1)}), 0x80000000},
      {"sdiv32_min_by_minus1_k", with_operands(0x80000000, 0, {alu32(kAluDiv, 0, -1, 1)}), 0x80000000},
      {"smod32_min_by_minus1_k", with_operands(0x80000000, 0, {alu32(kAluMod, 0, -1, 1)}), 0},
  };
}

std::vector<Case> conformance_table() {
  std::vector<Case> all;
  for (auto part : {alu64_cases(), alu32_cases(), move_and_byte_order_cases(), memory_cases(), atomic_cases(),
                    jump_cases(), control_cases(), division_by_zero_cases()})
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

std::string case_name(const testing::TestParamInfo<Case>& info) { return info.param.name; }

class Conformance : public testing::TestWithParam<Case> {};

TEST_P(Conformance, GivesTheHandComputedResult) {
  const Case& c = GetParam();
  for (bool strict : {true, false}) {
    RunResult r = run_vm(c.prog, RunOptions{.strict_arith = strict});
    ASSERT_TRUE(r.ok()) << fault_text(r);
    EXPECT_EQ(r.r0, c.r0) << std::hex << "got 0x" << r.r0 << ", want 0x" << c.r0;
  }
}
INSTANTIATE_TEST_SUITE_P(Table, Conformance, testing::ValuesIn(conformance_table()), case_name);

class LenientEdges : public testing::TestWithParam<Case> {};

TEST_P(LenientEdges, MatchTheKernelWhenNotStrict) {
  RunResult r = run_vm(GetParam().prog, lenient());
  ASSERT_TRUE(r.ok()) << fault_text(r);
  EXPECT_EQ(r.r0, GetParam().r0) << std::hex << "got 0x" << r.r0;
}

TEST_P(LenientEdges, EndTheRunWhenStrict) {
  RunResult r = run_vm(GetParam().prog);
  ASSERT_FALSE(r.ok());
  bool is_shift = GetParam().name.find("sh") != std::string::npos;
  EXPECT_EQ(r.fault->kind, is_shift ? "arith_shift" : "arith_sdiv_overflow") << r.fault->message;
  EXPECT_EQ(r.fault->pc, 4u);  // after the two ld_imm64
  EXPECT_TRUE(r.fault->message.starts_with("pc 4: ")) << r.fault->message;
}
INSTANTIATE_TEST_SUITE_P(Table, LenientEdges, testing::ValuesIn(lenient_edge_cases()), case_name);

// ---- differential: the same programs in the live kernel -----------------------------

constexpr int kBpfProgLoad = 5;
constexpr int kBpfProgRun = 10;
constexpr uint32_t kProgTypeSyscall = 31;

struct KernelRun {
  std::optional<uint32_t> retval;  // empty: the verifier refused the program
  std::string log;
};

long bpf(int cmd, void* attr) { return ::syscall(__NR_bpf, cmd, attr, 168u); }

template <typename T>
void put(uint8_t* attr, size_t offset, T value) {
  std::memcpy(attr + offset, &value, sizeof value);
}

// Loads prog as a BPF_PROG_TYPE_SYSCALL program and runs it once, no ctx.
KernelRun run_in_kernel(const Prog& prog) {
  Bytes insns = isa::encode(prog);
  static const char kLicense[] = "GPL";
  std::string log(64 * 1024, '\0');
  uint8_t load[168] = {};
  put<uint32_t>(load, 0, kProgTypeSyscall);
  put<uint32_t>(load, 4, static_cast<uint32_t>(prog.size()));
  put<uint64_t>(load, 8, reinterpret_cast<uintptr_t>(insns.data()));
  put<uint64_t>(load, 16, reinterpret_cast<uintptr_t>(kLicense));
  put<uint32_t>(load, 24, 1);  // log_level
  put<uint32_t>(load, 28, static_cast<uint32_t>(log.size()));
  put<uint64_t>(load, 32, reinterpret_cast<uintptr_t>(log.data()));
  put<uint32_t>(load, 44, 0x10);  // BPF_F_SLEEPABLE: the only kind of SYSCALL program 6.18 loads
  std::memcpy(load + 48, "bpfsig_vm_diff", 15);
  int fd = static_cast<int>(bpf(kBpfProgLoad, load));
  KernelRun out{std::nullopt, log.c_str()};
  if (fd < 0) return out;
  uint8_t test[168] = {};
  put<uint32_t>(test, 0, static_cast<uint32_t>(fd));  // test.prog_fd; retval comes back at offset 4
  long rc = bpf(kBpfProgRun, test);
  ::close(fd);
  if (rc != 0) throw std::runtime_error(std::string("BPF_PROG_RUN failed: ") + std::strerror(errno));
  uint32_t retval;
  std::memcpy(&retval, test + 4, sizeof retval);
  out.retval = retval;
  return out;
}

// What the VM gives for a program: empty when prepare() refuses it.
std::optional<uint32_t> run_in_vm(const Prog& prog) {
  vm::Program p;
  try {
    p = vm::prepare(prog);
  } catch (const Error&) {
    return std::nullopt;
  }
  vm::AddressSpace memory;
  RunResult r = vm::run(p, memory, {}, {}, lenient());
  if (!r.ok()) throw std::runtime_error("VM fault: " + r.fault->message);
  return static_cast<uint32_t>(r.r0);
}

std::optional<std::string> differential_skip_reason() {
  if (!test::is_root()) return "needs root to load BPF programs";
  Prog probe = {alu64(kAluMov, 0, 0), exit_insn()};
  KernelRun k = run_in_kernel(probe);
  if (!k.retval) return "the kernel refuses SYSCALL programs: " + k.log;
  return std::nullopt;
}

void expect_same_as_kernel(const Prog& prog) {
  if (auto reason = differential_skip_reason()) {
    GTEST_SKIP() << "skipped: " << *reason;
  }
  KernelRun kernel = run_in_kernel(prog);
  std::optional<uint32_t> vm_result = run_in_vm(prog);
  ASSERT_EQ(kernel.retval.has_value(), vm_result.has_value())
      << (kernel.retval ? "VM refused what the kernel ran" : "kernel refused what the VM ran: " + kernel.log);
  if (kernel.retval) {
    EXPECT_EQ(*vm_result, *kernel.retval) << std::hex << "VM 0x" << *vm_result << ", kernel 0x" << *kernel.retval;
  }
}

class Differential : public testing::TestWithParam<Case> {};
TEST_P(Differential, KernelGivesTheSameResult) { expect_same_as_kernel(GetParam().prog); }

std::vector<Case> differential_table() {
  std::vector<Case> all = conformance_table();
  for (const Case& c : lenient_edge_cases()) all.push_back(c);
  // Refused by both: a constant shift of the width, a constant division by
  // zero, a write to r10, a truncated ld_imm64, an unknown opcode.
  all.push_back({"refused_lsh64_k_64", with_operands(1, 0, {alu64(kAluLsh, 0, 64)}), 0});
  all.push_back({"refused_lsh32_k_32", with_operands(1, 0, {alu32(kAluLsh, 0, 32)}), 0});
  all.push_back({"refused_div_k_zero", with_operands(1, 0, {alu64(kAluDiv, 0, 0)}), 0});
  all.push_back({"refused_write_r10", {alu64(kAluMov, 10, 0), alu64(kAluMov, 0, 0), exit_insn()}, 0});
  all.push_back({"refused_truncated_ld_imm64", {alu64(kAluMov, 0, 0), exit_insn(), make(0x18)}, 0});
  all.push_back({"refused_unknown_opcode", {make(0xff), exit_insn()}, 0});
  return all;
}
INSTANTIATE_TEST_SUITE_P(Table, Differential, testing::ValuesIn(differential_table()), case_name);

// ---- sandbox ----------------------------------------------------------------------

void expect_fault(const RunResult& r, const std::string& kind, size_t pc, const std::string& mentions = "") {
  ASSERT_FALSE(r.ok()) << "ran to the end, r0 = " << r.r0;
  EXPECT_EQ(r.fault->kind, kind) << r.fault->message;
  EXPECT_EQ(r.fault->pc, pc) << r.fault->message;
  EXPECT_TRUE(r.fault->message.starts_with("pc " + std::to_string(pc) + ": ")) << r.fault->message;
  EXPECT_NE(r.fault->message.find(mentions), std::string::npos) << r.fault->message;
}

TEST(Sandbox, StackBelowTheFrameIsOutOfBounds) {
  expect_fault(run_vm({ldx(kSizeDW, 0, 10, -520), exit_insn()}), "oob_access", 0, "stack0-8,");
  expect_fault(run_vm({ldx(kSizeB, 0, 10, -513), exit_insn()}), "oob_access", 0);
  RunResult lowest = run_vm({ldx(kSizeB, 0, 10, -512), exit_insn()});
  EXPECT_TRUE(lowest.ok()) << fault_text(lowest);
}

TEST(Sandbox, StackAboveTheFramePointerIsOutOfBounds) {
  expect_fault(run_vm({alu64(kAluMov, 0, 0), stx(kSizeDW, 10, 0, 0), exit_insn()}), "oob_access", 1, "stack0+512");
  expect_fault(run_vm({alu64(kAluMov, 0, 0), ldx(kSizeDW, 0, 10, -4), exit_insn()}), "oob_access", 1);
}

TEST(Sandbox, CtxAccessesStayInsideTheCtx) {
  uint8_t ctx[16] = {1};
  RunResult inside = run_vm({ldx(kSizeDW, 0, 1, 8), ldx(kSizeB, 0, 1, 0), exit_insn()}, {}, {}, ctx);
  ASSERT_TRUE(inside.ok()) << fault_text(inside);
  EXPECT_EQ(inside.r0, 1u);
  expect_fault(run_vm({ldx(kSizeDW, 0, 1, 9), exit_insn()}, {}, {}, ctx), "oob_access", 0, "ctx+9");
  expect_fault(run_vm({st(kSizeW, 1, -4, 0), exit_insn()}, {}, {}, ctx), "oob_access", 0);
}

TEST(Sandbox, MapValuesAreBoundedAndReadOnlyDataStaysReadOnly) {
  vm::AddressSpace memory;
  uint8_t value[8] = {};
  const uint8_t rodata[8] = {42};
  uint64_t value_addr = memory.add("map_value:0", value, true);
  uint64_t rodata_addr = memory.add_read_only("rodata", rodata);
  auto resolver = [&](const vm::PseudoLoad& p) { return p.imm == 0 ? value_addr : rodata_addr; };
  auto pointer_to = [](int32_t map) { return isa::ld_imm64(1, kPseudoMapIdxValue, static_cast<uint32_t>(map)); };
  auto run_prog = [&](const Prog& p) { return vm::run(vm::prepare(p, resolver), memory, {}, {}); };

  RunResult in_bounds = run_prog(concat({pointer_to(0), {st(kSizeDW, 1, 0, 7), ldx(kSizeDW, 0, 1, 0), exit_insn()}}));
  ASSERT_TRUE(in_bounds.ok()) << fault_text(in_bounds);
  EXPECT_EQ(in_bounds.r0, 7u);
  EXPECT_EQ(value[0], 7);
  expect_fault(run_prog(concat({pointer_to(0), {ldx(kSizeDW, 0, 1, 1), exit_insn()}})), "oob_access", 2, "map_value:0");
  expect_fault(run_prog(concat({pointer_to(1), {st(kSizeB, 1, 0, 1), exit_insn()}})), "readonly_write", 2, "read-only");
  RunResult read = run_prog(concat({pointer_to(1), {ldx(kSizeB, 0, 1, 0), exit_insn()}}));
  EXPECT_EQ(read.r0, 42u) << fault_text(read);
}

TEST(Sandbox, ForgedAndNullPointersAreRefused) {
  expect_fault(run_vm(concat({ld64(1, 0x12345678), {ldx(kSizeB, 0, 1, 0), exit_insn()}})), "bad_pointer", 2,
               "0x12345678 (no region)");
  expect_fault(run_vm({alu64(kAluMov, 1, 0), ldx(kSizeDW, 0, 1, 0), exit_insn()}), "bad_pointer", 1);
  // A stack address moved into the tag of a region that does not exist.
  expect_fault(run_vm(concat({ld64(2, uint64_t{1} << 40), {alu64r(kAluMov, 1, 10), alu64r(kAluAdd, 1, 2),
                                                           ldx(kSizeB, 0, 1, -8), exit_insn()}})),
               "bad_pointer", 4);
  // A pseudo function address is code, not data.
  Prog func = concat({isa::ld_imm64(1, kPseudoFunc, 2), {ldx(kSizeB, 0, 1, 0), exit_insn()}});
  expect_fault(run_vm(func), "bad_pointer", 2);
}

TEST(Sandbox, EndlessLoopExhaustsTheBudget) {
  RunResult r = run_vm({alu64(kAluMov, 0, 0), ja(-1), exit_insn()}, RunOptions{.budget = 1000});
  expect_fault(r, "budget_exhausted", 1, "1000");
  EXPECT_EQ(r.instructions, 1000u);
}

TEST(Sandbox, DeepRecursionHitsTheCallDepth) {
  // main calls f; f calls itself forever.
  Prog recursion = {call_local(1), exit_insn(), call_local(-1), exit_insn()};
  expect_fault(run_vm(recursion), "call_depth", 2, "8 frames");
  expect_fault(run_vm(recursion, RunOptions{.max_call_depth = 3}), "call_depth", 2, "3 frames");
}

TEST(Sandbox, CalleeCannotReachAboveItsFrame) {
  // The callee's r10+8 would be the caller's frame if frames were contiguous.
  Prog p = {st(kSizeDW, 10, -8, 1), call_local(1), exit_insn(), ldx(kSizeDW, 0, 10, 8), exit_insn()};
  expect_fault(run_vm(p), "oob_access", 3, "stack1");
}

TEST(Sandbox, UnknownHelperIsRefused) {
  expect_fault(run_vm({call_helper(9999), exit_insn()}), "unknown_helper", 0, "#9999");
  expect_fault(run_vm({call_helper(1), exit_insn()}), "unknown_helper", 0, "bpf_map_lookup_elem#1");
}

TEST(Sandbox, UnsupportedInstructionsEndTheRunCleanly) {
  expect_fault(run_vm({call_helper(12), exit_insn()}), "unsupported", 0, "tail call");
  expect_fault(run_vm({make(0x20, 0, 0, 0, 0), exit_insn()}), "unsupported", 0, "LD_ABS");  // ld_abs w
  expect_fault(run_vm({make(kClassJmp | kJmpCall, 0, kPseudoKfuncCall, 0, 5), exit_insn()}), "unsupported", 0, "kfunc");
  expect_fault(run_vm({alu64(kAluMov, 0, 0)}), "unsupported", 1, "fell off the end");
}

TEST(Sandbox, PrepareRefusesWhatValidateRefuses) {
  try {
    vm::prepare(Prog{alu64(kAluMov, 10, 1), exit_insn()});
    ADD_FAILURE() << "write to r10 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "insn_invalid");
    EXPECT_STREQ(e.what(), "insn 0: frame pointer r10 is read-only");
  }
  EXPECT_THROW(vm::prepare(Prog{}), Error);
  EXPECT_THROW(vm::prepare(Prog{ja(5), exit_insn()}), Error);
  try {
    vm::prepare(isa::ld_imm64(1, kPseudoMapFd, 3));
    ADD_FAILURE() << "pseudo source without a resolver accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "vm_unresolved");
  }
}

TEST(Sandbox, BadRunOptionsAreRefused) {
  vm::AddressSpace memory;
  vm::Program p = vm::prepare(Prog{alu64(kAluMov, 0, 0), exit_insn()});
  EXPECT_THROW(vm::run(p, memory, {}, {}, RunOptions{.max_call_depth = 9}), Error);
  EXPECT_THROW(vm::run(p, memory, {}, {}, RunOptions{.stack_size = 1024}), Error);
}

// ---- helpers ------------------------------------------------------------------------

constexpr int32_t kMapLookupElem = 1;
constexpr int32_t kProbeReadKernel = 113;
constexpr uint64_t kMapHandle = 0xabcd0000;

// bpf_probe_read_kernel(dst, size, src) over VM memory: both ranges checked.
uint64_t fake_probe_read(vm::HelperContext& ctx, const uint64_t args[5]) {
  std::span<const uint8_t> src = ctx.read(args[2], args[1]);
  ctx.write(args[0], src);
  return 0;
}

struct FakeMap {
  uint8_t value[16] = {};
  uint64_t value_address = 0;
};

// bpf_map_lookup_elem(map, key): one array map with one entry at key 0.
vm::Helper fake_map_lookup(FakeMap& map) {
  return [&map](vm::HelperContext& ctx, const uint64_t args[5]) -> uint64_t {
    if (args[0] != kMapHandle) ctx.fail("bad_helper_arg", "r1 is not a map");
    std::span<const uint8_t> key = ctx.read(args[1], 4);
    return load_le32(key.data()) == 0 ? map.value_address : 0;
  };
}

vm::HelperTable test_helpers(FakeMap& map) {
  vm::HelperTable helpers;
  helpers.set(kProbeReadKernel, fake_probe_read);
  helpers.set(kMapLookupElem, fake_map_lookup(map));
  return helpers;
}

TEST(Helpers, ProbeReadCopiesBetweenRegions) {
  FakeMap map;
  uint8_t ctx[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  // probe_read(r10-8, 8, ctx); r0 = *(u64 *)(r10-8)
  Prog p = {alu64r(kAluMov, 3, 1), alu64r(kAluMov, 1, 10), alu64(kAluAdd, 1, -8), alu64(kAluMov, 2, 8),
            call_helper(kProbeReadKernel), ldx(kSizeDW, 0, 10, -8), exit_insn()};
  RunResult r = run_vm(p, {}, test_helpers(map), ctx);
  ASSERT_TRUE(r.ok()) << fault_text(r);
  EXPECT_EQ(r.r0, 0x8877665544332211u);
}

TEST(Helpers, BadPointerArgumentsEndTheRun) {
  FakeMap map;
  uint8_t ctx[8] = {};
  // src is a forged address
  Prog forged = concat({ld64(3, 0x1234), {alu64r(kAluMov, 1, 10), alu64(kAluAdd, 1, -8), alu64(kAluMov, 2, 8),
                                          call_helper(kProbeReadKernel), exit_insn()}});
  expect_fault(run_vm(forged, {}, test_helpers(map), ctx), "bad_helper_arg", 5, "bpf_probe_read_kernel#113: read");
  // dst runs past the stack's top
  Prog overflow = {alu64r(kAluMov, 3, 1), alu64r(kAluMov, 1, 10), alu64(kAluAdd, 1, -4), alu64(kAluMov, 2, 8),
                   call_helper(kProbeReadKernel), exit_insn()};
  expect_fault(run_vm(overflow, {}, test_helpers(map), ctx), "bad_helper_arg", 4, "write of 8 bytes");
  // a non-map r1
  expect_fault(run_vm({alu64(kAluMov, 1, 0), call_helper(kMapLookupElem), exit_insn()}, {}, test_helpers(map)),
               "bad_helper_arg", 1, "not a map");
}

TEST(Helpers, MapLookupReturnsAValueTheProgramCanWrite) {
  FakeMap map;
  vm::AddressSpace memory;
  map.value_address = memory.add("map_value:0", map.value, true);
  auto resolver = [](const vm::PseudoLoad& p) {
    EXPECT_EQ(p.src, kPseudoMapIdx);
    return kMapHandle + static_cast<uint64_t>(p.imm);
  };
  // key 0 at r10-4; r0 = lookup; if r0 == 0 exit; *(u64 *)(r0+8) = 42; r0 = that
  Prog p = concat({isa::ld_imm64(1, kPseudoMapIdx, 0),
                   {st(kSizeW, 10, -4, 0), alu64r(kAluMov, 2, 10), alu64(kAluAdd, 2, -4), call_helper(kMapLookupElem),
                    jmp_imm(kJmpJeq, 0, 0, 3), st(kSizeDW, 0, 8, 42), ldx(kSizeDW, 0, 0, 8), exit_insn(),
                    alu64(kAluMov, 0, -1), exit_insn()}});
  RunResult r = vm::run(vm::prepare(p, resolver), memory, {}, test_helpers(map));
  ASSERT_TRUE(r.ok()) << fault_text(r);
  EXPECT_EQ(r.r0, 42u);
  EXPECT_EQ(map.value[8], 42);
}

TEST(Helpers, MappedRegionsEndWithTheRun) {
  uint8_t buffer[8] = {9};
  vm::HelperTable helpers;
  helpers.set(200, [&](vm::HelperContext& ctx, const uint64_t*) { return ctx.map_region("scratch", buffer, true); });
  uint8_t ctx[8] = {};
  vm::AddressSpace memory;
  // First run: get the region's address, read through it, leave it in ctx.
  Prog first = {alu64r(kAluMov, 6, 1), call_helper(200), stx(kSizeDW, 6, 0, 0), ldx(kSizeB, 0, 0, 0), exit_insn()};
  RunResult r1 = vm::run(vm::prepare(first), memory, ctx, helpers);
  ASSERT_TRUE(r1.ok()) << fault_text(r1);
  EXPECT_EQ(r1.r0, 9u);
  // Second run: the same address no longer maps anything.
  Prog second = {ldx(kSizeDW, 1, 1, 0), ldx(kSizeB, 0, 1, 0), exit_insn()};
  expect_fault(vm::run(vm::prepare(second), memory, ctx, helpers), "bad_pointer", 1);
}

// ---- a real light-skeleton loader ------------------------------------------------

struct Loader {
  Prog insns;
  Bytes data;
};

// libbpf's gen_loader on a compiled example: no kernel involved.
std::optional<Loader> generate_loader(const std::string& object) {
  std::unique_ptr<bpf_object, void (*)(bpf_object*)> obj(bpf_object__open_file(object.c_str(), nullptr),
                                                           bpf_object__close);
  if (!obj) return std::nullopt;
  gen_loader_opts opts{};
  opts.sz = sizeof opts;
  if (bpf_object__gen_loader(obj.get(), &opts) || bpf_object__load(obj.get())) return std::nullopt;
  const auto* insns = reinterpret_cast<const uint8_t*>(opts.insns);
  const auto* data = reinterpret_cast<const uint8_t*>(opts.data);
  return Loader{isa::decode(ByteView(insns, opts.insns_sz), "loader"), Bytes(data, data + opts.data_sz)};
}

TEST(RealLoader, PreparesAndFailsCleanlyWithoutAKernelModel) {
  std::string object = test::examples_dir() + "/execcount.bpf.o";
  if (!test::file_exists(object)) GTEST_SKIP() << "skipped: " << object << " not built";
  std::optional<Loader> loader = generate_loader(object);
  ASSERT_TRUE(loader) << "gen_loader failed on " << object;

  // The loader reads its metadata blob through map index 0's value.
  vm::AddressSpace memory;
  uint64_t blob = memory.add("map_value:0", loader->data, true);
  std::vector<uint8_t> sources;
  auto resolver = [&](const vm::PseudoLoad& p) -> uint64_t {
    sources.push_back(p.src);
    if (p.src == kPseudoMapIdxValue) return blob + static_cast<uint32_t>(p.next_imm);
    return kMapHandle + static_cast<uint32_t>(p.imm);
  };
  vm::Program program = vm::prepare(loader->insns, resolver);
  EXPECT_EQ(program.size(), loader->insns.size());
  EXPECT_FALSE(sources.empty());

  // Every helper fails with -EPERM: the loader must give up on its own.
  vm::HelperTable failing;
  for (int32_t id = 1; id <= 211; ++id) failing.set(id, [](vm::HelperContext&, const uint64_t*) {
    return static_cast<uint64_t>(-EPERM);
  });
  std::vector<uint8_t> ctx(4096, 0);
  RunResult r = vm::run(program, memory, ctx, failing);
  ASSERT_TRUE(r.ok()) << fault_text(r);
  EXPECT_LT(static_cast<int32_t>(r.r0), 0) << "the loader succeeded without a kernel";
  EXPECT_GT(r.instructions, 10u);
}

}  // namespace

// ---- provenance (vm::OriginTracker, deep verify) -----------------------------------

// A map value written from an immediate, from the ctx (plus an immediate),
// and left alone; a jump on the ctx value is recorded; the same program
// without a tracker gives the same result.
TEST(Origins, EveryByteKnowsWhereItCameFrom) {
  vm::AddressSpace memory;
  uint8_t value[16] = {};
  uint64_t value_addr = memory.add("map_value:1", value, true);
  auto resolver = [&](const vm::PseudoLoad&) { return value_addr; };
  uint8_t ctx[8] = {5, 0, 0, 0, 9, 0, 0, 0};
  Prog p = concat({isa::ld_imm64(2, kPseudoMapIdxValue, 0),
                   {st(kSizeW, 2, 0, 7),          // insn 2: value[0..4) = 7
                    ldx(kSizeW, 3, 1, 4),          // insn 3: r3 = ctx[4..8)
                    alu64(kAluAdd, 3, 1),          // insn 4: r3 += 1 (ctx + insns)
                    stx(kSizeW, 2, 3, 4),          // insn 5: value[4..8) = r3
                    make(kClassJmp | kJmpJeq | kSrcK, 3, 0, 0, 0),  // insn 6: branch on r3
                    alu64(kAluMov, 0, 0), exit_insn()}});
  vm::Program prog = vm::prepare(p, resolver);
  vm::OriginTracker origins;
  RunOptions options;
  options.origins = &origins;
  RunResult r = vm::run(prog, memory, ctx, {}, options);
  ASSERT_TRUE(r.ok()) << fault_text(r);
  const auto& shadow = origins.shadow(vm::OriginTracker::region_of(value_addr));
  EXPECT_EQ(shadow[0].writer, 3u);  // insn 2, + 1
  EXPECT_EQ(shadow[0].sources, vm::kFromInsns);
  EXPECT_EQ(shadow[4].writer, 6u);
  EXPECT_EQ(shadow[4].sources, vm::kFromCtx | vm::kFromInsns);
  EXPECT_EQ(shadow[4].from, 4u);  // ctx offset of the value
  EXPECT_EQ(shadow[8].writer, 0u);
  EXPECT_EQ(shadow[8].sources, vm::kFromOriginal);
  ASSERT_EQ(origins.tainted_branches().size(), 1u);
  EXPECT_EQ(origins.tainted_branches()[0].pc, 6u);
  EXPECT_EQ(origins.tainted_branches()[0].from, 4u);
  EXPECT_EQ(load_le32(value + 4), 10u);
  uint8_t untracked_value[16] = {};
  vm::AddressSpace plain;
  uint64_t plain_addr = plain.add("map_value:1", untracked_value, true);
  RunResult untracked = vm::run(vm::prepare(p, [&](const vm::PseudoLoad&) { return plain_addr; }), plain, ctx, {});
  EXPECT_EQ(untracked.r0, r.r0);
  EXPECT_EQ(untracked.instructions, r.instructions);
  EXPECT_EQ(0, std::memcmp(untracked_value, value, sizeof value));
}

// What a helper writes and returns is the kernel's unless the helper says
// otherwise (HelperContext::mark): here the test's probe_read copies ctx
// bytes, and neither the copy nor the result counts as unsigned input.
TEST(Origins, HelperWritesAndResultsAreTheKernels) {
  FakeMap map;
  uint8_t ctx[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  vm::OriginTracker origins;
  RunOptions options;
  options.origins = &origins;
  Prog p = {alu64r(kAluMov, 3, 1), alu64r(kAluMov, 1, 10), alu64(kAluAdd, 1, -8), alu64(kAluMov, 2, 8),
            call_helper(kProbeReadKernel), ldx(kSizeDW, 4, 10, -8),
            make(kClassJmp | kJmpJeq | kSrcK, 4, 0, 0, 0),  // tests the written bytes
            make(kClassJmp | kJmpJeq | kSrcK, 0, 0, 0, 0),  // tests the helper's result
            ldx(kSizeB, 5, 3, 0),                             // r5 = ctx[0]
            make(kClassJmp | kJmpJeq | kSrcK, 5, 0, 0, 0),  // insn 9: tests the ctx
            exit_insn()};
  RunResult r = run_vm(p, options, test_helpers(map), ctx);
  ASSERT_TRUE(r.ok()) << fault_text(r);
  EXPECT_EQ(origins.shadow(0)[vm::kStackSize - 8].sources, vm::kFromKernel);
  EXPECT_EQ(origins.shadow(0)[vm::kStackSize - 8].writer, 5u);  // the call, insn 4
  ASSERT_EQ(origins.tainted_branches().size(), 1u);
  EXPECT_EQ(origins.tainted_branches()[0].pc, 9u);
}
