// SPDX-License-Identifier: Apache-2.0
// The interpreter's internal instruction form. prepare() turns every BPF
// instruction into one Op whose code alone selects the work (no decoding of
// off/imm/src at run time), with immediates already widened and jump targets
// already absolute. Op i is instruction slot i, so a pc means the same thing
// in both forms.
#pragma once

#include <cstdint>

namespace bpfsig::vm::detail {

// X(name) for every ALU operation that has an immediate and a register form
// in both widths.
#define BPFSIG_VM_BINARY_ALU(X) \
  X(Add) X(Sub) X(Mul) X(Div) X(Sdiv) X(Or) X(And) X(Lsh) X(Rsh) X(Mod) X(Smod) X(Xor) X(Mov) X(Arsh)
// X(name) for every conditional jump, likewise.
#define BPFSIG_VM_CONDITIONS(X) \
  X(Jeq) X(Jgt) X(Jge) X(Jset) X(Jne) X(Jsgt) X(Jsge) X(Jlt) X(Jle) X(Jslt) X(Jsle)

#define BPFSIG_VM_FOUR_FORMS(name) name##64K, name##64X, name##32K, name##32X,

enum Code : uint8_t {
  BPFSIG_VM_BINARY_ALU(BPFSIG_VM_FOUR_FORMS)
  BPFSIG_VM_CONDITIONS(BPFSIG_VM_FOUR_FORMS)
  Neg64, Neg32,
  Movsx64From8, Movsx64From16, Movsx64From32, Movsx32From8, Movsx32From16,
  // Byte order on a little-endian host: "le" only truncates, "be" and bswap swap.
  Trunc16, Trunc32, Nop, Bswap16, Bswap32, Bswap64,
  Ldx8, Ldx16, Ldx32, Ldx64, Ldxs8, Ldxs16, Ldxs32,
  St8, St16, St32, St64, Stx8, Stx16, Stx32, Stx64,
  Atomic32, Atomic64,  // the operation is in imm, as in BPF
  LdImm64,             // imm holds the full (resolved) value
  Ja, CallHelper, CallLocal, Exit,
  Unsupported,  // reached only to fail (see UnsupportedReason)
};

#undef BPFSIG_VM_FOUR_FORMS

// Why an Unsupported op fails. kFellOffEnd is the sentinel after the last
// slot, so a program without a final exit or jump stops there.
enum UnsupportedReason : uint8_t { kLegacyPacketLoad, kKfuncCall, kTailCall, kSecondSlot, kFellOffEnd };

struct Op {
  Code code = Unsupported;
  uint8_t dst = 0;
  uint8_t src = 0;
  int16_t off = 0;      // memory offset
  uint32_t target = 0;  // absolute slot of a jump or local call
  // Sign-extended immediate, ld_imm64 value, atomic operation, helper id, or
  // for Unsupported the Unsupported reason.
  uint64_t imm = 0;
};

}  // namespace bpfsig::vm::detail
