// SPDX-License-Identifier: Apache-2.0
// validate(): the static checks the kernel's verifier makes before analysing
// a program (check_alu_op, the reserved-field checks of do_check,
// check_ld_imm, check_subprogs' jump ranges), so a program refused here would
// be refused by the kernel too.
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"

namespace bpfsig::isa {

namespace {

// Why one instruction is refused; empty when it is fine.
using Problem = std::string;

constexpr uint8_t kMaxReg = 10;

uint8_t op_of(const Insn& i) { return i.code & 0xf0; }
uint8_t size_of(const Insn& i) { return i.code & 0x18; }
uint8_t mode_of(const Insn& i) { return i.code & 0xe0; }
bool uses_src_reg(const Insn& i) { return (i.code & kSrcX) != 0; }

std::string hex_byte(uint8_t v) {
  static const char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[v >> 4] + kDigits[v & 15];
}

Problem unknown_opcode(const Insn& i) { return "unknown opcode " + hex_byte(i.code); }
Problem reserved_fields(const std::string& what) { return what + " uses reserved fields"; }

Problem check_reg(uint8_t reg) {
  if (reg > kMaxReg) return "invalid register r" + std::to_string(reg);
  return {};
}

Problem check_regs(const Insn& i) {
  Problem p = check_reg(i.dst);
  return p.empty() ? check_reg(i.src) : p;
}

// ---- ALU / ALU64 ----------------------------------------------------------

Problem check_end(const Insn& i) {
  bool width_ok = i.imm == 16 || i.imm == 32 || i.imm == 64;
  // ALU64 has only the unconditional bswap, encoded with the BPF_TO_LE bit.
  bool alu64_bswap_ok = insn_class(i) != kClassAlu64 || !uses_src_reg(i);
  if (i.src != 0 || i.off != 0 || !width_ok || !alu64_bswap_ok) return reserved_fields("BPF_END");
  return check_reg(i.dst);
}

Problem check_neg(const Insn& i) {
  if (uses_src_reg(i) || i.src != 0 || i.off != 0 || i.imm != 0) return reserved_fields("BPF_NEG");
  return check_reg(i.dst);
}

bool valid_movsx_width(const Insn& i) {
  // 32-bit movsx would be a plain 32-bit mov, so only ALU64 has it.
  return i.off == 8 || i.off == 16 || (i.off == 32 && insn_class(i) == kClassAlu64);
}

Problem check_mov(const Insn& i) {
  if (uses_src_reg(i)) {
    if (i.imm != 0 || (i.off != 0 && !valid_movsx_width(i))) return reserved_fields("BPF_MOV");
    return check_regs(i);
  }
  if (i.src != 0 || i.off != 0) return reserved_fields("BPF_MOV");
  return check_reg(i.dst);
}

bool is_shift(uint8_t op) { return op == kAluLsh || op == kAluRsh || op == kAluArsh; }

Problem check_alu_immediate(const Insn& i) {
  uint8_t op = op_of(i);
  if ((op == kAluDiv || op == kAluMod) && i.imm == 0) return "division by zero";
  int32_t width = insn_class(i) == kClassAlu64 ? 64 : 32;
  if (is_shift(op) && (i.imm < 0 || i.imm >= width)) return "invalid shift " + std::to_string(i.imm);
  return {};
}

Problem check_binary_alu(const Insn& i) {
  uint8_t op = op_of(i);
  // off=1 selects the signed variant (sdiv, smod); no other op has one.
  bool off_ok = i.off == 0 || (i.off == 1 && (op == kAluDiv || op == kAluMod));
  if (uses_src_reg(i)) {
    if (i.imm != 0 || !off_ok) return reserved_fields("BPF_ALU");
    return check_regs(i);
  }
  if (i.src != 0 || !off_ok) return reserved_fields("BPF_ALU");
  Problem p = check_reg(i.dst);
  return p.empty() ? check_alu_immediate(i) : p;
}

Problem check_alu(const Insn& i) {
  switch (op_of(i)) {
    case kAluEnd: return check_end(i);
    case kAluNeg: return check_neg(i);
    case kAluMov: return check_mov(i);
    case kAluAdd: case kAluSub: case kAluMul: case kAluDiv: case kAluOr: case kAluAnd:
    case kAluLsh: case kAluRsh: case kAluMod: case kAluXor: case kAluArsh:
      return check_binary_alu(i);
    default: return unknown_opcode(i);
  }
}

// ---- loads and stores -----------------------------------------------------

Problem check_ldx(const Insn& i) {
  bool known = mode_of(i) == kModeMem || (mode_of(i) == kModeMemSx && size_of(i) != kSizeDW);
  if (!known) return unknown_opcode(i);
  if (i.imm != 0) return reserved_fields("BPF_LDX");
  return check_regs(i);
}

bool valid_atomic_op(int32_t imm) {
  switch (imm) {
    case kAtomicAdd: case kAtomicOr: case kAtomicAnd: case kAtomicXor:
    case kAtomicAdd | kAtomicFetch: case kAtomicOr | kAtomicFetch:
    case kAtomicAnd | kAtomicFetch: case kAtomicXor | kAtomicFetch:
    case kAtomicXchg: case kAtomicCmpxchg:
      return true;
    default: return false;
  }
}

Problem check_stx(const Insn& i) {
  if (mode_of(i) == kModeMem) {
    if (i.imm != 0) return reserved_fields("BPF_STX");
    return check_regs(i);
  }
  if (mode_of(i) == kModeAtomic && (size_of(i) == kSizeW || size_of(i) == kSizeDW)) {
    if (!valid_atomic_op(i.imm)) return "invalid atomic operation " + std::to_string(i.imm);
    return check_regs(i);
  }
  return unknown_opcode(i);
}

Problem check_st(const Insn& i) {
  if (mode_of(i) != kModeMem) return unknown_opcode(i);
  if (i.src != 0) return reserved_fields("BPF_ST");
  return check_reg(i.dst);
}

// Legacy packet loads: the result always goes to r0; only the indirect form
// reads a register.
Problem check_ld_packet(const Insn& i) {
  if (size_of(i) == kSizeDW) return unknown_opcode(i);
  if (i.dst != 0 || i.off != 0 || (mode_of(i) == kModeAbs && i.src != 0)) return reserved_fields("BPF_LD_[ABS|IND]");
  return check_reg(i.src);
}

Problem check_ld(const Insn& i) {
  if (mode_of(i) == kModeAbs || mode_of(i) == kModeInd) return check_ld_packet(i);
  return unknown_opcode(i);  // a well-formed ld_imm64 never gets here
}

Problem check_ld_imm64(const std::vector<Insn>& prog, size_t pc) {
  const Insn& first = prog[pc];
  if (pc + 1 >= prog.size()) return "ld_imm64 is truncated (no second slot)";
  const Insn& second = prog[pc + 1];
  if (second.code != 0 || second.dst != 0 || second.src != 0 || second.off != 0)
    return "invalid second slot of ld_imm64";
  if (first.off != 0) return reserved_fields("BPF_LD_IMM64");
  if (first.src > kPseudoMapIdxValue) return "unknown ld_imm64 source " + std::to_string(first.src);
  // A map reference by fd or index has no offset: the second imm is reserved.
  if ((first.src == kPseudoMapFd || first.src == kPseudoMapIdx) && second.imm != 0)
    return reserved_fields("ld_imm64 of a map");
  return check_reg(first.dst);
}

// ---- jumps ------------------------------------------------------------------

Problem check_call(const Insn& i) {
  bool src_ok = i.src == 0 || i.src == kPseudoCall || i.src == kPseudoKfuncCall;
  // A kfunc call uses off to name the module BTF that defines the function.
  bool off_ok = i.off == 0 || i.src == kPseudoKfuncCall;
  if (insn_class(i) != kClassJmp || uses_src_reg(i) || !src_ok || !off_ok || i.dst != 0)
    return reserved_fields("BPF_CALL");
  return {};
}

Problem check_exit(const Insn& i) {
  if (insn_class(i) != kClassJmp || uses_src_reg(i) || i.imm != 0 || i.src != 0 || i.dst != 0)
    return reserved_fields("BPF_EXIT");
  return {};
}

Problem check_ja(const Insn& i) {
  // JMP's goto holds its offset in off; JMP32's gotol in imm.
  bool unused_ok = insn_class(i) == kClassJmp ? i.imm == 0 : i.off == 0;
  if (uses_src_reg(i) || i.src != 0 || i.dst != 0 || !unused_ok) return reserved_fields("BPF_JA");
  return {};
}

Problem check_conditional_jump(const Insn& i) {
  if (op_of(i) > kJmpJsle) return unknown_opcode(i);
  if (uses_src_reg(i)) {
    if (i.imm != 0) return reserved_fields("BPF_JMP/JMP32");
    return check_regs(i);
  }
  if (i.src != 0) return reserved_fields("BPF_JMP/JMP32");
  return check_reg(i.dst);
}

Problem check_jmp(const Insn& i) {
  switch (op_of(i)) {
    case kJmpCall: return check_call(i);
    case kJmpExit: return check_exit(i);
    case kJmpJa: return check_ja(i);
    default: return check_conditional_jump(i);
  }
}

Problem check_single(const Insn& i) {
  switch (insn_class(i)) {
    case kClassAlu: case kClassAlu64: return check_alu(i);
    case kClassLdx: return check_ldx(i);
    case kClassStx: return check_stx(i);
    case kClassSt: return check_st(i);
    case kClassLd: return check_ld(i);
    default: return check_jmp(i);
  }
}

[[noreturn]] void refuse(size_t pc, const Problem& problem) {
  throw Error(EINVAL, "insn_invalid", "insn " + std::to_string(pc) + ": " + problem);
}

// Checks every instruction on its own; returns, per slot, whether it is the
// second half of an ld_imm64 (a slot no jump may land on).
std::vector<bool> check_instructions(const std::vector<Insn>& prog) {
  std::vector<bool> second_half(prog.size(), false);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    bool wide = is_ld_imm64(prog[pc]);
    Problem p = wide ? check_ld_imm64(prog, pc) : check_single(prog[pc]);
    if (!p.empty()) refuse(pc, p);
    if (wide) second_half[++pc] = true;
  }
  return second_half;
}

void check_targets(const std::vector<Insn>& prog, const std::vector<bool>& second_half) {
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    if (second_half[pc]) continue;
    std::optional<int64_t> target = relative_target(prog, pc);
    if (!target) continue;
    if (*target < 0 || *target >= static_cast<int64_t>(prog.size()))
      refuse(pc, "target " + std::to_string(*target) + " is outside the program");
    if (second_half[static_cast<size_t>(*target)])
      refuse(pc, "target " + std::to_string(*target) + " is the second slot of an ld_imm64");
  }
}

}  // namespace

void validate(const std::vector<Insn>& prog) {
  if (prog.empty()) throw Error(EINVAL, "insn_invalid", "program has no instructions");
  check_targets(prog, check_instructions(prog));
}

}  // namespace bpfsig::isa
