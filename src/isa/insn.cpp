// SPDX-License-Identifier: Apache-2.0
// Instruction fields, the raw 8-byte slot encoding and the builders.
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"

namespace bpfsig::isa {

namespace {

constexpr size_t kSlotSize = 8;
constexpr uint8_t kLdImm64Code = kClassLd | kSizeDW | kModeImm;

uint8_t op_of(const Insn& i) { return i.code & 0xf0; }

bool is_jump_class(const Insn& i) {
  uint8_t cls = insn_class(i);
  return cls == kClassJmp || cls == kClassJmp32;
}

bool is_gotol(const Insn& i) { return i.code == (kClassJmp32 | kJmpJa); }

bool is_pseudo_call(const Insn& i) { return i.code == (kClassJmp | kJmpCall) && i.src == kPseudoCall; }

bool is_func_pointer(const Insn& i) { return is_ld_imm64(i) && i.src == kPseudoFunc; }

}  // namespace

uint8_t insn_class(const Insn& i) { return i.code & 0x07; }

bool is_ld_imm64(const Insn& i) { return i.code == kLdImm64Code; }

bool has_relative_target(const Insn& i) {
  if (is_pseudo_call(i) || is_func_pointer(i)) return true;
  if (!is_jump_class(i)) return false;
  uint8_t op = op_of(i);
  // 0xe0 and 0xf0 are not jumps this layer knows; CALL and EXIT have no offset.
  return op != kJmpCall && op != kJmpExit && op <= kJmpJsle;
}

bool target_offset_in_imm(const Insn& i) { return is_gotol(i) || is_pseudo_call(i) || is_func_pointer(i); }

std::optional<int64_t> relative_target(const std::vector<Insn>& prog, size_t pc) {
  if (pc >= prog.size() || !has_relative_target(prog[pc])) return std::nullopt;
  const Insn& i = prog[pc];
  int64_t delta = target_offset_in_imm(i) ? i.imm : i.off;
  return static_cast<int64_t>(pc) + 1 + delta;
}

std::vector<Insn> decode(ByteView raw, const std::string& what) {
  if (raw.size() % kSlotSize != 0)
    throw Error(EINVAL, "insn_size",
                what + ": size " + std::to_string(raw.size()) + " is not a multiple of " + std::to_string(kSlotSize));
  std::vector<Insn> prog(raw.size() / kSlotSize);
  for (size_t n = 0; n < prog.size(); ++n) {
    const uint8_t* p = raw.data() + n * kSlotSize;
    prog[n] = Insn{.code = p[0],
                   .dst = static_cast<uint8_t>(p[1] & 0x0f),
                   .src = static_cast<uint8_t>(p[1] >> 4),
                   .off = static_cast<int16_t>(load_le16(p + 2)),
                   .imm = static_cast<int32_t>(load_le32(p + 4))};
  }
  return prog;
}

Bytes encode(const std::vector<Insn>& prog) {
  Bytes out(prog.size() * kSlotSize);
  for (size_t n = 0; n < prog.size(); ++n) {
    const Insn& i = prog[n];
    // A register field wider than its nibble would silently become another
    // register once packed; refuse instead.
    if (i.dst > 0x0f || i.src > 0x0f)
      throw Error(EINVAL, "insn_invalid", "insn " + std::to_string(n) + ": register field does not fit in 4 bits");
    uint8_t* p = out.data() + n * kSlotSize;
    p[0] = i.code;
    p[1] = static_cast<uint8_t>(i.src << 4 | i.dst);
    store_le16(p + 2, static_cast<uint16_t>(i.off));
    store_le32(p + 4, static_cast<uint32_t>(i.imm));
  }
  return out;
}

std::vector<Insn> ld_imm64(uint8_t dst, uint8_t src, uint64_t imm) {
  return {Insn{.code = kLdImm64Code, .dst = dst, .src = src, .imm = static_cast<int32_t>(static_cast<uint32_t>(imm))},
          Insn{.imm = static_cast<int32_t>(static_cast<uint32_t>(imm >> 32))}};
}

Insn ldx_mem(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return Insn{.code = static_cast<uint8_t>(kClassLdx | size | kModeMem), .dst = dst, .src = src, .off = off};
}

Insn mov64_imm(uint8_t dst, int32_t imm) {
  return Insn{.code = kClassAlu64 | kAluMov | kSrcK, .dst = dst, .imm = imm};
}

Insn mov64_reg(uint8_t dst, uint8_t src) { return Insn{.code = kClassAlu64 | kAluMov | kSrcX, .dst = dst, .src = src}; }

Insn jmp_reg(uint8_t op, uint8_t dst, uint8_t src, int16_t off) {
  return Insn{.code = static_cast<uint8_t>(kClassJmp | op | kSrcX), .dst = dst, .src = src, .off = off};
}

Insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return Insn{.code = static_cast<uint8_t>(kClassJmp | op | kSrcK), .dst = dst, .off = off, .imm = imm};
}

Insn ja(int16_t off) { return Insn{.code = kClassJmp | kJmpJa, .off = off}; }

Insn call_helper(int32_t id) { return Insn{.code = kClassJmp | kJmpCall, .imm = id}; }

Insn exit_insn() { return Insn{.code = kClassJmp | kJmpExit}; }

}  // namespace bpfsig::isa
