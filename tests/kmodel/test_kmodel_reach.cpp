// SPDX-License-Identifier: Apache-2.0
// Reachability of the calls the verifier refuses only when it reaches them
// (src/kmodel/reach.h): a CO-RE-poisoned call and an unresolved weak kfunc.
// The walk on hand-made programs, PROG_LOAD in the model, and the same
// programs against the running kernel's verifier (root).
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/sys.h"
#include "kmodel/reach.h"
#include "kmodel/kmodel_test_util.h"
#include "support/kernel_features.h"
#include "support/support.h"

using namespace bpfsig;
using isa::Insn;

namespace {

const Insn kPoison = isa::call_helper(kmodel::kCorePoisonHelper);
const Insn kUnresolvedKfunc{isa::kClassJmp | isa::kJmpCall, 0, isa::kPseudoKfuncCall, 0, 0};
const Insn kExit = isa::exit_insn();
const Insn kR0Zero = isa::mov64_imm(0, 0);

Insn jmp32_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return {static_cast<uint8_t>(isa::kClassJmp32 | op), dst, 0, off, imm};
}
Insn alu64_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return {static_cast<uint8_t>(isa::kClassAlu64 | op), dst, 0, 0, imm};
}
Insn local_call(int32_t off) { return {isa::kClassJmp | isa::kJmpCall, 0, isa::kPseudoCall, 0, off}; }
// r0 = *(u32 *)(r1 + 0): a value the walk cannot know (r1 is the ctx).
Insn read_ctx(uint8_t dst) { return isa::ldx_mem(isa::kSizeW, dst, 1, 0); }

std::vector<Insn> cat(std::initializer_list<std::vector<Insn>> parts) {
  std::vector<Insn> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::optional<size_t> reached(const std::vector<Insn>& insns) {
  auto r = kmodel::first_reached_refused_call(insns);
  return r ? std::optional<size_t>(r->pc) : std::nullopt;
}

// Each case: a program with a refused call, and whether the verifier reaches it.
struct Case {
  std::string name;
  std::vector<Insn> insns;
  bool reached;
};

std::vector<Case> cases() {
  return {
      {"guard_true_const", {isa::mov64_imm(1, 0), isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison, kR0Zero, kExit}, false},
      {"guard_false_const", {isa::mov64_imm(1, 1), isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison, kR0Zero, kExit}, true},
      {"unguarded", {kPoison, kR0Zero, kExit}, true},
      {"guard_on_ctx", {read_ctx(1), isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison, kR0Zero, kExit}, true},
      {"folded_alu", {isa::mov64_imm(1, 6), alu64_imm(isa::kAluAnd, 1, 1), isa::jmp_imm(isa::kJmpJne, 1, 0, 2),
                      kR0Zero, kExit, kPoison, kR0Zero, kExit}, false},
      // w1 is the low half of 1 << 32: 0, so the 32-bit test jumps over the call.
      {"jmp32_low_half", cat({isa::ld_imm64(1, 0, 0x100000000ull), {jmp32_imm(isa::kJmpJeq, 1, 0, 1), kPoison,
                                                                     kR0Zero, kExit}}), false},
      {"jmp64_whole", cat({isa::ld_imm64(1, 0, 0x100000000ull), {isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison,
                                                                  kR0Zero, kExit}}), true},
      {"ld_imm64_zero", cat({isa::ld_imm64(1, 0, 0), {isa::jmp_imm(isa::kJmpJne, 1, 0, 2), kR0Zero, kExit,
                                                     kUnresolvedKfunc, kR0Zero, kExit}}), false},
      {"weak_kfunc_reached", {kR0Zero, kUnresolvedKfunc, kR0Zero, kExit}, true},
      {"signed_compare", {isa::mov64_imm(1, -1), isa::jmp_imm(isa::kJmpJsgt, 1, 0, 2), kR0Zero, kExit, kPoison,
                          kR0Zero, kExit}, false},
      // The same constant reaches the join from both sides: still known after it.
      {"join_agrees", {read_ctx(2), isa::mov64_imm(1, 0), isa::jmp_imm(isa::kJmpJeq, 2, 0, 1),
                       isa::mov64_imm(1, 0), isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison, kR0Zero, kExit}, false},
      {"join_disagrees", {read_ctx(2), isa::mov64_imm(1, 0), isa::jmp_imm(isa::kJmpJeq, 2, 0, 1),
                          isa::mov64_imm(1, 1), isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison, kR0Zero, kExit}, true},
      // A subprogram called with r1 = 0, which tests it.
      {"subprog_arg", {isa::mov64_imm(1, 0), local_call(2), kR0Zero, kExit, isa::jmp_imm(isa::kJmpJeq, 1, 0, 1), kPoison,
                       kR0Zero, kExit}, false},
      // A helper's result is unknown.
      {"helper_result", {isa::call_helper(7 /* get_prandom_u32 */), isa::jmp_imm(isa::kJmpJeq, 0, 0, 1), kPoison,
                         kR0Zero, kExit}, true},
  };
}

TEST(KmodelReach, TheWalkFollowsWhatTheVerifierKnows) {
  for (const Case& c : cases()) EXPECT_EQ(reached(c.insns).has_value(), c.reached) << c.name;
}

TEST(KmodelReach, TheVerifiersWordsAndTheFirstReachedCall) {
  auto poison = kmodel::first_reached_refused_call({kR0Zero, kPoison, kExit});
  ASSERT_TRUE(poison);
  EXPECT_EQ(poison->pc, 1u);
  EXPECT_EQ(poison->message, "invalid func unknown#195896080");
  auto kfunc = kmodel::first_reached_refused_call({kR0Zero, kUnresolvedKfunc, kExit});
  ASSERT_TRUE(kfunc);
  EXPECT_EQ(kfunc->message, "invalid kernel function call not eliminated in verifier pass");
  EXPECT_FALSE(kmodel::first_reached_refused_call({kR0Zero, isa::call_helper(7), kExit}))
      << "an ordinary helper call is not one of these";
}

// BPF_PROG_LOAD of a SYSCALL program in the model: refused with the
// verifier's message when reached, loaded when dead.
TEST(KmodelReach, ProgLoadRefusesOnlyAReachedCall) {
  kmodel::Kernel kernel;
  kmodel::Process& proc = kernel.spawn("reach");
  for (const Case& c : cases()) {
    if (c.name.find("kfunc") != std::string::npos || c.name == "ld_imm64_zero") continue;  // need vmlinux BTF
    kmodel::ProgLoadAttr attr;
    attr.prog_type = kmodel::kProgSyscall;
    attr.prog_flags = kmodel::kFSleepable;
    attr.license = "GPL";
    attr.insns = isa::encode(c.insns);
    try {
      kernel.prog_load(proc, attr);
      EXPECT_FALSE(c.reached) << c.name << ": loaded";
    } catch (const Error& e) {
      EXPECT_TRUE(c.reached) << c.name << ": " << e.what();
      EXPECT_EQ(e.err(), EINVAL) << c.name;
      EXPECT_NE(std::string(e.what()).find("invalid func unknown#195896080"), std::string::npos) << e.what();
    }
  }
}

// The running kernel's verifier on the same programs (SYSCALL, root): the
// model's answer is the kernel's, case by case.
TEST(KmodelReach, TheRunningKernelsVerifierAgrees) {
  SKIP_UNLESS(test::missing_bpf());
  kmodel::Kernel kernel;
  kmodel::Process& proc = kernel.spawn("reach");
  for (const Case& c : cases()) {
    sys::ProgLoad req;
    req.name = "reach";
    req.insns = isa::encode(c.insns);
    req.license = "GPL";
    req.log_level = 1;
    int real = 0;
    std::string real_message;
    try {
      ::close(sys::prog_load(req));
    } catch (const Error& e) {
      real = e.err();
      real_message = e.what();
    }
    kmodel::ProgLoadAttr attr;
    attr.prog_type = kmodel::kProgSyscall;
    attr.prog_flags = kmodel::kFSleepable;
    attr.license = "GPL";
    attr.insns = req.insns;
    int model = test::errno_of([&] { kernel.prog_load(proc, attr); });
    EXPECT_EQ(model, real) << c.name << ": kernel: " << real_message;
    EXPECT_EQ(real != 0, c.reached) << c.name << ": kernel: " << real_message;
  }
}

// check_cfg: an instruction no edge reaches is refused, values aside.
TEST(KmodelReach, AnInstructionNoEdgeReachesIsRefused) {
  EXPECT_EQ(kmodel::first_unreachable_insn({kR0Zero, kExit, kR0Zero, kExit}), 2u);
  EXPECT_EQ(kmodel::first_unreachable_insn(cat({{kR0Zero, kExit}, isa::ld_imm64(1, 0, 5), {kExit}})), 2u)
      << "an unreached ld_imm64 is named by its first slot";
  EXPECT_FALSE(kmodel::first_unreachable_insn({isa::mov64_imm(1, 0), local_call(2), kR0Zero, kExit, kR0Zero, kExit}))
      << "a subprogram is reached through its call";
  for (const Case& c : cases()) EXPECT_FALSE(kmodel::first_unreachable_insn(c.insns)) << c.name;
  kmodel::Kernel kernel;
  kmodel::Process& proc = kernel.spawn("cfg");
  kmodel::ProgLoadAttr attr;
  attr.prog_type = kmodel::kProgSyscall;
  attr.prog_flags = kmodel::kFSleepable;
  attr.license = "GPL";
  attr.insns = isa::encode({kR0Zero, kExit, kR0Zero, kExit});
  try {
    kernel.prog_load(proc, attr);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(std::string(e.what()), "BPF_PROG_LOAD: unreachable insn 2");
  }
  SKIP_UNLESS(test::missing_bpf());
  sys::ProgLoad req;
  req.name = "cfg";
  req.insns = attr.insns;
  req.license = "GPL";
  req.log_level = 1;
  try {
    ::close(sys::prog_load(req));
    FAIL() << "the running kernel loaded a program with an unreachable instruction";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_NE(std::string(e.what()).find("unreachable insn 2"), std::string::npos) << e.what();
  }
}

}  // namespace
