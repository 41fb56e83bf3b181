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

// X(name) for every other operation, in Code order. Byte order on a
// little-endian host: "le" only truncates (Trunc*, Nop), "be" and bswap swap.
// Atomic*: the operation is in imm, as in BPF. LdImm64: imm holds the full
// (resolved) value. Unsupported is reached only to fail (see
// UnsupportedReason) and stays last: kCodeCount depends on it.
#define BPFSIG_VM_OTHER_CODES(X)                                                                  \
  X(Neg64) X(Neg32)                                                                               \
  X(Movsx64From8) X(Movsx64From16) X(Movsx64From32) X(Movsx32From8) X(Movsx32From16)              \
  X(Trunc16) X(Trunc32) X(Nop) X(Bswap16) X(Bswap32) X(Bswap64)                                   \
  X(Ldx8) X(Ldx16) X(Ldx32) X(Ldx64) X(Ldxs8) X(Ldxs16) X(Ldxs32)                                 \
  X(St8) X(St16) X(St32) X(St64) X(Stx8) X(Stx16) X(Stx32) X(Stx64)                               \
  X(Atomic32) X(Atomic64)                                                                         \
  X(LdImm64)                                                                                      \
  X(Ja) X(CallHelper) X(CallLocal) X(Exit)                                                        \
  X(Unsupported)

// The interpreter builds its handler table from the same three lists, so the
// table's order is the enum's by construction.
#define BPFSIG_VM_FOUR_FORMS(name) name##64K, name##64X, name##32K, name##32X,
#define BPFSIG_VM_ONE_FORM(name) name,

enum Code : uint8_t {
  BPFSIG_VM_BINARY_ALU(BPFSIG_VM_FOUR_FORMS)
  BPFSIG_VM_CONDITIONS(BPFSIG_VM_FOUR_FORMS)
  BPFSIG_VM_OTHER_CODES(BPFSIG_VM_ONE_FORM)
};

#undef BPFSIG_VM_FOUR_FORMS
#undef BPFSIG_VM_ONE_FORM

inline constexpr unsigned kCodeCount = Unsupported + 1;

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
