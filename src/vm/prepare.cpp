// SPDX-License-Identifier: Apache-2.0
// prepare(): validation and the one-time translation of BPF instructions to
// the interpreter's Ops, so run() never decodes a field.
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/vm.h"
#include "vm/ops.h"

namespace bpfsig::vm {

using detail::Code;
using detail::Op;

namespace {

constexpr uint8_t kFramePointer = 10;
constexpr int32_t kTailCallHelper = 12;  // bpf_tail_call

uint8_t op_of(const isa::Insn& i) { return i.code & 0xf0; }
uint8_t size_of(const isa::Insn& i) { return i.code & 0x18; }
uint8_t mode_of(const isa::Insn& i) { return i.code & 0xe0; }
bool uses_src_reg(const isa::Insn& i) { return (i.code & isa::kSrcX) != 0; }
uint64_t sign_extend(int32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(v)); }

[[noreturn]] void refuse(size_t pc, const std::string& why) {
  throw Error(EINVAL, "insn_invalid", "insn " + std::to_string(pc) + ": " + why);
}

// The four forms of an operation are consecutive: 64K, 64X, 32K, 32X.
Code form_of(Code base64k, const isa::Insn& i, bool narrow) {
  return static_cast<Code>(base64k + (uses_src_reg(i) ? 1 : 0) + (narrow ? 2 : 0));
}

Code alu_base(const isa::Insn& i) {
  bool is_signed = i.off == 1;  // sdiv/smod
  switch (op_of(i)) {
    case isa::kAluAdd: return Code::Add64K;
    case isa::kAluSub: return Code::Sub64K;
    case isa::kAluMul: return Code::Mul64K;
    case isa::kAluDiv: return is_signed ? Code::Sdiv64K : Code::Div64K;
    case isa::kAluOr: return Code::Or64K;
    case isa::kAluAnd: return Code::And64K;
    case isa::kAluLsh: return Code::Lsh64K;
    case isa::kAluRsh: return Code::Rsh64K;
    case isa::kAluMod: return is_signed ? Code::Smod64K : Code::Mod64K;
    case isa::kAluXor: return Code::Xor64K;
    case isa::kAluMov: return Code::Mov64K;
    default: return Code::Arsh64K;  // validate() admits no other binary op
  }
}

Code movsx(const isa::Insn& i, bool narrow) {
  if (narrow) return i.off == 8 ? Code::Movsx32From8 : Code::Movsx32From16;
  return i.off == 8 ? Code::Movsx64From8 : i.off == 16 ? Code::Movsx64From16 : Code::Movsx64From32;
}

Code byte_order(const isa::Insn& i, bool narrow) {
  // ALU's BPF_TO_LE is a no-op swap on a little-endian host: only the
  // truncation to the width remains. BPF_TO_BE and ALU64's bswap swap.
  bool swap = !narrow || uses_src_reg(i);
  switch (i.imm) {
    case 16: return swap ? Code::Bswap16 : Code::Trunc16;
    case 32: return swap ? Code::Bswap32 : Code::Trunc32;
    default: return swap ? Code::Bswap64 : Code::Nop;
  }
}

Op translate_alu(const isa::Insn& i) {
  bool narrow = isa::insn_class(i) == isa::kClassAlu;
  Op op{.dst = i.dst, .src = i.src, .imm = sign_extend(i.imm)};
  switch (op_of(i)) {
    case isa::kAluNeg: op.code = narrow ? Code::Neg32 : Code::Neg64; break;
    case isa::kAluEnd: op.code = byte_order(i, narrow); break;
    case isa::kAluMov:
      op.code = uses_src_reg(i) && i.off != 0 ? movsx(i, narrow) : form_of(Code::Mov64K, i, narrow);
      break;
    default: op.code = form_of(alu_base(i), i, narrow);
  }
  return op;
}

Code condition_base(const isa::Insn& i) {
  switch (op_of(i)) {
    case isa::kJmpJeq: return Code::Jeq64K;
    case isa::kJmpJgt: return Code::Jgt64K;
    case isa::kJmpJge: return Code::Jge64K;
    case isa::kJmpJset: return Code::Jset64K;
    case isa::kJmpJne: return Code::Jne64K;
    case isa::kJmpJsgt: return Code::Jsgt64K;
    case isa::kJmpJsge: return Code::Jsge64K;
    case isa::kJmpJlt: return Code::Jlt64K;
    case isa::kJmpJle: return Code::Jle64K;
    case isa::kJmpJslt: return Code::Jslt64K;
    default: return Code::Jsle64K;
  }
}

Op unsupported(detail::UnsupportedReason why) { return Op{.code = Code::Unsupported, .imm = why}; }

Op translate_call(const isa::Insn& i, uint32_t target) {
  if (i.src == isa::kPseudoCall) return Op{.code = Code::CallLocal, .target = target};
  if (i.src == isa::kPseudoKfuncCall) return unsupported(detail::kKfuncCall);
  if (i.imm == kTailCallHelper) return unsupported(detail::kTailCall);
  return Op{.code = Code::CallHelper, .imm = sign_extend(i.imm)};
}

Op translate_jmp(const isa::Insn& i, uint32_t target) {
  switch (op_of(i)) {
    case isa::kJmpCall: return translate_call(i, target);
    case isa::kJmpExit: return Op{.code = Code::Exit};
    case isa::kJmpJa: return Op{.code = Code::Ja, .target = target};
    default: {
      bool narrow = isa::insn_class(i) == isa::kClassJmp32;
      return Op{.code = form_of(condition_base(i), i, narrow), .dst = i.dst, .src = i.src, .target = target,
                .imm = sign_extend(i.imm)};
    }
  }
}

Code by_size(const isa::Insn& i, Code first) {
  // Sizes in the order B, H, W, DW, as the Codes are.
  switch (size_of(i)) {
    case isa::kSizeB: return first;
    case isa::kSizeH: return static_cast<Code>(first + 1);
    case isa::kSizeW: return static_cast<Code>(first + 2);
    default: return static_cast<Code>(first + 3);
  }
}

Op translate_memory(const isa::Insn& i) {
  Op op{.dst = i.dst, .src = i.src, .off = i.off, .imm = sign_extend(i.imm)};
  switch (isa::insn_class(i)) {
    case isa::kClassLdx: op.code = by_size(i, mode_of(i) == isa::kModeMemSx ? Code::Ldxs8 : Code::Ldx8); break;
    case isa::kClassSt: op.code = by_size(i, Code::St8); break;
    default:
      if (mode_of(i) == isa::kModeAtomic)
        op.code = size_of(i) == isa::kSizeW ? Code::Atomic32 : Code::Atomic64;
      else
        op.code = by_size(i, Code::Stx8);
  }
  return op;
}

uint64_t ld_imm64_value(const std::vector<isa::Insn>& prog, size_t pc, const PseudoResolver& resolver) {
  const isa::Insn& first = prog[pc];
  const isa::Insn& second = prog[pc + 1];
  if (first.src == 0) return static_cast<uint32_t>(first.imm) | uint64_t{static_cast<uint32_t>(second.imm)} << 32;
  if (first.src == isa::kPseudoFunc) return code_address(static_cast<size_t>(*isa::relative_target(prog, pc)));
  if (!resolver)
    throw Error(EINVAL, "vm_unresolved", "insn " + std::to_string(pc) + ": ld_imm64 src " +
                                             std::to_string(first.src) + " needs a pseudo resolver");
  return resolver(PseudoLoad{.pc = pc, .src = first.src, .imm = first.imm, .next_imm = second.imm});
}

// The register an instruction writes, beyond what validate() checks: the
// kernel's verifier refuses any write to the frame pointer.
bool writes_frame_pointer(const isa::Insn& i) {
  switch (isa::insn_class(i)) {
    case isa::kClassAlu: case isa::kClassAlu64: case isa::kClassLdx: return i.dst == kFramePointer;
    case isa::kClassLd: return isa::is_ld_imm64(i) && i.dst == kFramePointer;
    case isa::kClassStx:
      // Fetching atomics (xchg and cmpxchg included) load into src; cmpxchg into r0.
      return mode_of(i) == isa::kModeAtomic && (i.imm & isa::kAtomicFetch) && i.src == kFramePointer;
    default: return false;
  }
}

Op translate(const std::vector<isa::Insn>& prog, size_t pc, const PseudoResolver& resolver) {
  const isa::Insn& i = prog[pc];
  if (writes_frame_pointer(i)) refuse(pc, "frame pointer r10 is read-only");
  std::optional<int64_t> target = isa::relative_target(prog, pc);
  uint32_t absolute = target ? static_cast<uint32_t>(*target) : 0;
  switch (isa::insn_class(i)) {
    case isa::kClassAlu: case isa::kClassAlu64: return translate_alu(i);
    case isa::kClassJmp: case isa::kClassJmp32: return translate_jmp(i, absolute);
    case isa::kClassLd:
      if (!isa::is_ld_imm64(i)) return unsupported(detail::kLegacyPacketLoad);
      return Op{.code = Code::LdImm64, .dst = i.dst, .imm = ld_imm64_value(prog, pc, resolver)};
    default: return translate_memory(i);
  }
}

}  // namespace

Program::Program() = default;
Program::~Program() = default;
Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;
size_t Program::size() const { return ops_.empty() ? 0 : ops_.size() - 1; }  // without the sentinel
const detail::Op* Program::ops() const { return ops_.data(); }

Program prepare(std::span<const isa::Insn> insns, const PseudoResolver& resolver) {
  std::vector<isa::Insn> prog(insns.begin(), insns.end());
  isa::validate(prog);
  Program program;
  program.ops_.reserve(prog.size() + 1);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    program.ops_.push_back(translate(prog, pc, resolver));
    if (isa::is_ld_imm64(prog[pc])) program.ops_.push_back(unsupported(detail::kSecondSlot)), ++pc;
  }
  program.ops_.push_back(unsupported(detail::kFellOffEnd));
  return program;
}

}  // namespace bpfsig::vm
