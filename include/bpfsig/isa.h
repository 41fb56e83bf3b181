// SPDX-License-Identifier: Apache-2.0
// The eBPF instruction layer: one 8-byte slot per Insn (an ld_imm64 takes two
// slots, exactly as in the kernel's struct bpf_insn), encode/decode, a
// disassembler in the style of `bpftool prog dump xlated`, and a rewriter that
// keeps every pc-relative offset right when instructions are inserted or removed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig::isa {

// Instruction classes and fields, as in linux/bpf.h and linux/bpf_common.h
// (plain constants, so they combine with | without enum conversions).
inline constexpr uint8_t kClassLd = 0x00;
inline constexpr uint8_t kClassLdx = 0x01;
inline constexpr uint8_t kClassSt = 0x02;
inline constexpr uint8_t kClassStx = 0x03;
inline constexpr uint8_t kClassAlu = 0x04;
inline constexpr uint8_t kClassJmp = 0x05;
inline constexpr uint8_t kClassJmp32 = 0x06;
inline constexpr uint8_t kClassAlu64 = 0x07;
inline constexpr uint8_t kSizeW = 0x00;
inline constexpr uint8_t kSizeH = 0x08;
inline constexpr uint8_t kSizeB = 0x10;
inline constexpr uint8_t kSizeDW = 0x18;
inline constexpr uint8_t kModeImm = 0x00;
inline constexpr uint8_t kModeAbs = 0x20;
inline constexpr uint8_t kModeInd = 0x40;
inline constexpr uint8_t kModeMem = 0x60;
inline constexpr uint8_t kModeMemSx = 0x80;
inline constexpr uint8_t kModeAtomic = 0xc0;
inline constexpr uint8_t kSrcK = 0x00;
inline constexpr uint8_t kSrcX = 0x08;
inline constexpr uint8_t kAluAdd = 0x00;
inline constexpr uint8_t kAluSub = 0x10;
inline constexpr uint8_t kAluMul = 0x20;
inline constexpr uint8_t kAluDiv = 0x30;
inline constexpr uint8_t kAluOr = 0x40;
inline constexpr uint8_t kAluAnd = 0x50;
inline constexpr uint8_t kAluLsh = 0x60;
inline constexpr uint8_t kAluRsh = 0x70;
inline constexpr uint8_t kAluNeg = 0x80;
inline constexpr uint8_t kAluMod = 0x90;
inline constexpr uint8_t kAluXor = 0xa0;
inline constexpr uint8_t kAluMov = 0xb0;
inline constexpr uint8_t kAluArsh = 0xc0;
inline constexpr uint8_t kAluEnd = 0xd0;
inline constexpr uint8_t kJmpJa = 0x00;
inline constexpr uint8_t kJmpJeq = 0x10;
inline constexpr uint8_t kJmpJgt = 0x20;
inline constexpr uint8_t kJmpJge = 0x30;
inline constexpr uint8_t kJmpJset = 0x40;
inline constexpr uint8_t kJmpJne = 0x50;
inline constexpr uint8_t kJmpJsgt = 0x60;
inline constexpr uint8_t kJmpJsge = 0x70;
inline constexpr uint8_t kJmpCall = 0x80;
inline constexpr uint8_t kJmpExit = 0x90;
inline constexpr uint8_t kJmpJlt = 0xa0;
inline constexpr uint8_t kJmpJle = 0xb0;
inline constexpr uint8_t kJmpJslt = 0xc0;
inline constexpr uint8_t kJmpJsle = 0xd0;
// Atomic operations (imm of a BPF_ATOMIC instruction).
inline constexpr int32_t kAtomicAdd = 0x00;
inline constexpr int32_t kAtomicOr = 0x40;
inline constexpr int32_t kAtomicAnd = 0x50;
inline constexpr int32_t kAtomicXor = 0xa0;
inline constexpr int32_t kAtomicFetch = 0x01;
inline constexpr int32_t kAtomicXchg = 0xe0 | 0x01;
inline constexpr int32_t kAtomicCmpxchg = 0xf0 | 0x01;
// ld_imm64 src values and call src values.
inline constexpr uint8_t kPseudoMapFd = 1;
inline constexpr uint8_t kPseudoMapValue = 2;
inline constexpr uint8_t kPseudoBtfId = 3;
inline constexpr uint8_t kPseudoFunc = 4;
inline constexpr uint8_t kPseudoMapIdx = 5;
inline constexpr uint8_t kPseudoMapIdxValue = 6;
inline constexpr uint8_t kPseudoCall = 1;
inline constexpr uint8_t kPseudoKfuncCall = 2;

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
// A target exactly at pos does not count as inside: as in insert(), it moves
// to the instruction that follows the removed range, so remove() undoes
// insert(). Both refuse, with Error(EINVAL, "insn_rewrite"), a range past the
// end or a boundary that splits an ld_imm64.

// Kernel name of helper id ("bpf_map_lookup_elem" for 1, all of linux/bpf.h's
// __BPF_FUNC_MAPPER up to 211), or "" for an id the table does not know.
std::string_view helper_name(int32_t id);
// True when the pc-relative offset of i lives in imm (gotol, bpf-to-bpf call,
// ld_imm64 func pointer) rather than in off; meaningful when
// has_relative_target(i).
bool target_offset_in_imm(const Insn& i);

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
