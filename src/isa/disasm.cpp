// SPDX-License-Identifier: Apache-2.0
// The disassembler. Formats follow the kernel's kernel/bpf/disasm.c (what
// `bpftool prog dump xlated` prints) character for character; ld_imm64
// operands, which bpftool resolves against live kernel objects, use the
// readable forms documented in docs/isa.md. An encoding that has no text
// (unknown opcode or operand) prints as "invalid" rather than a guess, so any
// input, valid or not, can be disassembled.
#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"

namespace bpfsig::isa {

namespace {

constexpr const char* kInvalid = "invalid";

__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...) {
  char buf[160];  // the longest line (an atomic cmpxchg) is well under this
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

uint8_t op_of(const Insn& i) { return i.code & 0xf0; }
uint8_t size_of(const Insn& i) { return i.code & 0x18; }
uint8_t mode_of(const Insn& i) { return i.code & 0xe0; }
bool uses_src_reg(const Insn& i) { return (i.code & kSrcX) != 0; }

// 32-bit classes name their registers w0..w10.
char reg_prefix(const Insn& i) {
  uint8_t cls = insn_class(i);
  return cls == kClassAlu || cls == kClassJmp32 ? 'w' : 'r';
}

const char* size_name(const Insn& i) {
  switch (size_of(i)) {
    case kSizeW: return "u32";
    case kSizeH: return "u16";
    case kSizeB: return "u8";
    default: return "u64";
  }
}

const char* signed_size_name(const Insn& i) {
  switch (size_of(i)) {
    case kSizeW: return "s32";
    case kSizeH: return "s16";
    case kSizeB: return "s8";
    default: return nullptr;  // there is no sign-extending 64-bit load
  }
}

// ---- ALU / ALU64 ------------------------------------------------------------

const char* alu_operator(uint8_t op, bool is_signed) {
  switch (op) {
    case kAluAdd: return "+=";
    case kAluSub: return "-=";
    case kAluMul: return "*=";
    case kAluDiv: return is_signed ? "s/=" : "/=";
    case kAluOr: return "|=";
    case kAluAnd: return "&=";
    case kAluLsh: return "<<=";
    case kAluRsh: return ">>=";
    case kAluMod: return is_signed ? "s%=" : "%=";
    case kAluXor: return "^=";
    case kAluMov: return "=";
    case kAluArsh: return "s>>=";
    default: return nullptr;
  }
}

// "(s8)" for a sign-extending mov, "" for a plain one.
const char* movsx_cast(const Insn& i) {
  if (op_of(i) != kAluMov) return "";
  switch (i.off) {
    case 8: return "(s8)";
    case 16: return "(s16)";
    case 32: return "(s32)";
    default: return "";
  }
}

std::string disasm_end(const Insn& i) {
  // ALU64 END is the unconditional byte swap; ALU END converts to/from the
  // byte order named by the source bit. Both print r, as the kernel does.
  if (insn_class(i) == kClassAlu64) return format("r%d = bswap%d r%d", i.dst, i.imm, i.dst);
  return format("r%d = %s%d r%d", i.dst, uses_src_reg(i) ? "be" : "le", i.imm, i.dst);
}

std::string disasm_alu(const Insn& i) {
  uint8_t op = op_of(i);
  char w = reg_prefix(i);
  if (op == kAluEnd) return disasm_end(i);
  if (op == kAluNeg) return format("%c%d = -%c%d", w, i.dst, w, i.dst);
  bool is_signed = (op == kAluDiv || op == kAluMod) && i.off == 1;
  const char* opstr = alu_operator(op, is_signed);
  if (!opstr) return kInvalid;
  if (uses_src_reg(i)) return format("%c%d %s %s%c%d", w, i.dst, opstr, movsx_cast(i), w, i.src);
  return format("%c%d %s %d", w, i.dst, opstr, i.imm);
}

// ---- loads and stores -------------------------------------------------------

std::string disasm_ldx(const Insn& i) {
  const char* type = mode_of(i) == kModeMem ? size_name(i) : mode_of(i) == kModeMemSx ? signed_size_name(i) : nullptr;
  if (!type) return kInvalid;
  return format("r%d = *(%s *)(r%d %+d)", i.dst, type, i.src, i.off);
}

const char* atomic_alu_name(int32_t op) {
  switch (op) {
    case kAtomicAdd: return "add";
    case kAtomicOr: return "or";
    case kAtomicAnd: return "and";
    case kAtomicXor: return "xor";
    default: return nullptr;
  }
}

std::string disasm_atomic(const Insn& i) {
  const char* bits = size_of(i) == kSizeDW ? "64" : "";
  const char* type = size_name(i);
  if (i.imm == kAtomicXchg)
    return format("r%d = atomic%s_xchg((%s *)(r%d %+d), r%d)", i.src, bits, type, i.dst, i.off, i.src);
  if (i.imm == kAtomicCmpxchg)
    return format("r0 = atomic%s_cmpxchg((%s *)(r%d %+d), r0, r%d)", bits, type, i.dst, i.off, i.src);
  const char* name = atomic_alu_name(i.imm & ~kAtomicFetch);
  if (!name) return kInvalid;
  if (i.imm & kAtomicFetch)
    return format("r%d = atomic%s_fetch_%s((%s *)(r%d %+d), r%d)", i.src, bits, name, type, i.dst, i.off, i.src);
  return format("lock *(%s *)(r%d %+d) %s r%d", type, i.dst, i.off, alu_operator(static_cast<uint8_t>(i.imm), false),
                i.src);
}

std::string disasm_stx(const Insn& i) {
  if (mode_of(i) == kModeMem) return format("*(%s *)(r%d %+d) = r%d", size_name(i), i.dst, i.off, i.src);
  if (mode_of(i) == kModeAtomic) return disasm_atomic(i);
  return kInvalid;
}

std::string disasm_st(const Insn& i) {
  if (mode_of(i) != kModeMem) return kInvalid;
  return format("*(%s *)(r%d %+d) = %d", size_name(i), i.dst, i.off, i.imm);
}

std::string ld_imm64_operand(const Insn& first, const Insn& second) {
  uint64_t value = static_cast<uint64_t>(static_cast<uint32_t>(second.imm)) << 32 | static_cast<uint32_t>(first.imm);
  switch (first.src) {
    case 0: return format("0x%llx ll", static_cast<unsigned long long>(value));
    case kPseudoMapFd: return format("map[fd:%d]", first.imm);
    case kPseudoMapValue: return format("map[fd:%d][0]+%d", first.imm, second.imm);
    case kPseudoBtfId: return format("btf_id[%d]", first.imm);
    case kPseudoFunc: return format("func[pc%+d]", first.imm);
    case kPseudoMapIdx: return format("map[idx:%d]", first.imm);
    case kPseudoMapIdxValue: return format("map[idx:%d][0]+%d", first.imm, second.imm);
    default: return kInvalid;
  }
}

std::string disasm_ld(const std::vector<Insn>& prog, size_t pc) {
  const Insn& i = prog[pc];
  if (is_ld_imm64(i)) {
    if (pc + 1 >= prog.size()) return "invalid (truncated ld_imm64)";
    return format("r%d = %s", i.dst, ld_imm64_operand(i, prog[pc + 1]).c_str());
  }
  if (size_of(i) == kSizeDW) return kInvalid;
  if (mode_of(i) == kModeAbs) return format("r0 = *(%s *)skb[%d]", size_name(i), i.imm);
  if (mode_of(i) == kModeInd) return format("r0 = *(%s *)skb[r%d + %d]", size_name(i), i.src, i.imm);
  return kInvalid;
}

// ---- jumps ------------------------------------------------------------------

const char* jump_operator(uint8_t op) {
  switch (op) {
    case kJmpJeq: return "==";
    case kJmpJgt: return ">";
    case kJmpJge: return ">=";
    case kJmpJset: return "&";
    case kJmpJne: return "!=";
    case kJmpJsgt: return "s>";
    case kJmpJsge: return "s>=";
    case kJmpJlt: return "<";
    case kJmpJle: return "<=";
    case kJmpJslt: return "s<";
    case kJmpJsle: return "s<=";
    default: return nullptr;
  }
}

std::string disasm_call(const Insn& i) {
  if (i.src == kPseudoCall) return format("call pc%+d", i.imm);
  // The kernel's own text for a kfunc whose BTF name it has not resolved.
  if (i.src == kPseudoKfuncCall) return format("call kernel-function#%d", i.imm);
  std::string name(helper_name(i.imm));
  return format("call %s#%d", name.c_str(), i.imm);
}

std::string disasm_jmp(const Insn& i) {
  uint8_t op = op_of(i);
  bool is_jmp32 = insn_class(i) == kClassJmp32;
  if (op == kJmpCall) return disasm_call(i);
  if (op == kJmpExit) return "exit";
  if (op == kJmpJa) return is_jmp32 ? format("gotol pc%+d", i.imm) : format("goto pc%+d", i.off);
  const char* cond = jump_operator(op);
  if (!cond) return kInvalid;
  char w = reg_prefix(i);
  if (uses_src_reg(i)) return format("if %c%d %s %c%d goto pc%+d", w, i.dst, cond, w, i.src, i.off);
  return format("if %c%d %s 0x%x goto pc%+d", w, i.dst, cond, static_cast<uint32_t>(i.imm), i.off);
}

}  // namespace

std::string disasm_insn(const std::vector<Insn>& prog, size_t pc) {
  if (pc >= prog.size())
    throw Error(EINVAL, "insn_invalid", "insn " + std::to_string(pc) + ": past the end of the program");
  const Insn& i = prog[pc];
  switch (insn_class(i)) {
    case kClassAlu: case kClassAlu64: return disasm_alu(i);
    case kClassLdx: return disasm_ldx(i);
    case kClassStx: return disasm_stx(i);
    case kClassSt: return disasm_st(i);
    case kClassLd: return disasm_ld(prog, pc);
    default: return disasm_jmp(i);
  }
}

std::vector<std::string> disassemble(const std::vector<Insn>& prog) {
  std::vector<std::string> lines;
  for (size_t pc = 0; pc < prog.size(); pc += is_ld_imm64(prog[pc]) ? 2 : 1)
    lines.push_back(format("%4zu: (%02x) %s", pc, prog[pc].code, disasm_insn(prog, pc).c_str()));
  return lines;
}

}  // namespace bpfsig::isa
