// SPDX-License-Identifier: Apache-2.0
// The eBPF instruction layer: one 8-byte slot per Insn (an ld_imm64 takes two
// slots, exactly as in the kernel's struct bpf_insn), encode/decode, a
// disassembler in the style of `bpftool prog dump xlated`, and a rewriter that
// keeps every pc-relative offset right when instructions are inserted or removed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig::isa {

// Instruction classes and fields, as in linux/bpf.h and linux/bpf_common.h.
enum : uint8_t {
  kClassLd = 0x00, kClassLdx = 0x01, kClassSt = 0x02, kClassStx = 0x03,
  kClassAlu = 0x04, kClassJmp = 0x05, kClassJmp32 = 0x06, kClassAlu64 = 0x07,
};
enum : uint8_t { kSizeW = 0x00, kSizeH = 0x08, kSizeB = 0x10, kSizeDW = 0x18 };
enum : uint8_t { kModeImm = 0x00, kModeAbs = 0x20, kModeInd = 0x40, kModeMem = 0x60, kModeMemSx = 0x80, kModeAtomic = 0xc0 };
enum : uint8_t { kSrcK = 0x00, kSrcX = 0x08 };
enum : uint8_t {
  kAluAdd = 0x00, kAluSub = 0x10, kAluMul = 0x20, kAluDiv = 0x30, kAluOr = 0x40, kAluAnd = 0x50,
  kAluLsh = 0x60, kAluRsh = 0x70, kAluNeg = 0x80, kAluMod = 0x90, kAluXor = 0xa0, kAluMov = 0xb0,
  kAluArsh = 0xc0, kAluEnd = 0xd0,
};
enum : uint8_t {
  kJmpJa = 0x00, kJmpJeq = 0x10, kJmpJgt = 0x20, kJmpJge = 0x30, kJmpJset = 0x40, kJmpJne = 0x50,
  kJmpJsgt = 0x60, kJmpJsge = 0x70, kJmpCall = 0x80, kJmpExit = 0x90, kJmpJlt = 0xa0, kJmpJle = 0xb0,
  kJmpJslt = 0xc0, kJmpJsle = 0xd0,
};
// Atomic operations (imm of a BPF_ATOMIC instruction).
enum : int32_t {
  kAtomicAdd = 0x00, kAtomicOr = 0x40, kAtomicAnd = 0x50, kAtomicXor = 0xa0, kAtomicFetch = 0x01,
  kAtomicXchg = 0xe0 | 0x01, kAtomicCmpxchg = 0xf0 | 0x01,
};
// ld_imm64 src values and call src values.
enum : uint8_t {
  kPseudoMapFd = 1, kPseudoMapValue = 2, kPseudoBtfId = 3, kPseudoFunc = 4, kPseudoMapIdx = 5,
  kPseudoMapIdxValue = 6,
};
enum : uint8_t { kPseudoCall = 1, kPseudoKfuncCall = 2 };

struct Insn {
  uint8_t code = 0;
  uint8_t dst = 0;  // 4 bits
  uint8_t src = 0;  // 4 bits
  int16_t off = 0;
  int32_t imm = 0;
  bool operator==(const Insn&) const = default;
};

uint8_t insn_class(const Insn& i);
// True for the first slot of a 16-byte ld_imm64 (code 0x18).
bool is_ld_imm64(const Insn& i);
// True when the instruction at pc carries a pc-relative target: jumps (JMP and
// JMP32 classes except CALL/EXIT; gotol uses imm), bpf-to-bpf calls
// (CALL with src=kPseudoCall), and ld_imm64 with src=kPseudoFunc.
bool has_relative_target(const Insn& i);
// Absolute target slot of the instruction at pc, if it has one.
std::optional<int64_t> relative_target(const std::vector<Insn>& prog, size_t pc);

// Decodes/encodes the raw little-endian slots. decode throws
// Error(EINVAL, "insn_size") when the length is not a multiple of 8; `what`
// names the input in the message.
std::vector<Insn> decode(ByteView raw, const std::string& what = "instructions");
Bytes encode(const std::vector<Insn>& prog);

// Checks what the kernel's verifier would refuse before any analysis: unknown
// opcodes, reserved fields set, a truncated or malformed ld_imm64, and
// pc-relative targets outside the program or into the middle of an ld_imm64.
// Throws Error(EINVAL, "insn_invalid", "insn N: ...").
void validate(const std::vector<Insn>& prog);

// One instruction in bpftool's `prog dump xlated` syntax, without the
// "  N: (xx) " prefix, e.g. "r1 = *(u64 *)(r10 -8)", "if r2 != r3 goto pc-56",
// "r1 = map[idx:0]", "call bpf_probe_read_kernel#113". Helper names are the
// kernel's for ids it knows, else "call #N". For an ld_imm64, pc must be its
// first slot.
std::string disasm_insn(const std::vector<Insn>& prog, size_t pc);
// The whole program, one line per instruction: "%4zu: (%02x) text"; the second
// slot of an ld_imm64 gets no line of its own (as bpftool).
std::vector<std::string> disassemble(const std::vector<Insn>& prog);

// Rewriter. insert() puts `block` before slot pos; every pc-relative offset
// whose source and target lie on different sides of pos is adjusted, and a
// target exactly at pos lands on the first inserted instruction (so a jump to
// the insertion point runs the new code). Offsets that no longer fit their
// field throw Error(ERANGE, "insn_rewrite"). pos may equal prog.size().
void insert(std::vector<Insn>& prog, size_t pos, const std::vector<Insn>& block);
// Removes count slots at pos; a target inside the removed range (other than
// from inside it) throws Error(EINVAL, "insn_rewrite"); a target just after it
// keeps pointing at the same instruction.
void remove(std::vector<Insn>& prog, size_t pos, size_t count);

// Builders for the instructions bpfsig emits.
std::vector<Insn> ld_imm64(uint8_t dst, uint8_t src, uint64_t imm);  // two slots
Insn ldx_mem(uint8_t size, uint8_t dst, uint8_t src, int16_t off);
Insn mov64_imm(uint8_t dst, int32_t imm);
Insn mov64_reg(uint8_t dst, uint8_t src);
Insn jmp_reg(uint8_t op, uint8_t dst, uint8_t src, int16_t off);
Insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off);
Insn ja(int16_t off);
Insn call_helper(int32_t id);
Insn exit_insn();

}  // namespace bpfsig::isa
