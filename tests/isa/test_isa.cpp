// SPDX-License-Identifier: Apache-2.0
// Tests of the instruction layer: encoding, validation, disassembly (against
// the kernel's text) and the rewriter's offset fixups.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::isa;

namespace {

// ---- helpers ----------------------------------------------------------------

Insn make(uint8_t code, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
  return Insn{.code = code, .dst = dst, .src = src, .off = off, .imm = imm};
}

std::vector<Insn> concat(std::initializer_list<std::vector<Insn>> parts) {
  std::vector<Insn> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Runs f, expecting an Error of the given errno and kind; returns its message.
template <typename F>
std::string expect_error(F&& f, int err, const std::string& kind) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), err) << e.what();
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no Error thrown (expected " << kind << ")";
  return "";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// One instance of every instruction family, for the round trip.
std::vector<Insn> every_class_sample() {
  return concat({
      {make(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -8), make(BPF_ALU | BPF_MOV | BPF_X, 2, 3),
       make(BPF_ALU64 | BPF_DIV | BPF_X, 1, 2, 1), make(BPF_ALU64 | BPF_END | BPF_TO_LE, 1, 0, 0, 64),
       make(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 4), make(BPF_LDX | kModeMemSx | BPF_H, 0, 1, -2),
       make(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 0x7fffffff), make(BPF_STX | BPF_MEM | BPF_B, 10, 9, -32768),
       make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_CMPXCHG), make(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 12),
       make(BPF_LD | BPF_IND | BPF_B, 0, 6, 0, 4), make(BPF_JMP | BPF_JNE | BPF_X, 2, 3, -56),
       make(BPF_JMP32 | BPF_JA, 0, 0, 0, -100000), make(BPF_JMP | BPF_CALL, 0, kPseudoKfuncCall, 3, 12345)},
      ld_imm64(15, 0, 0xfedcba9876543210ull),
      {exit_insn()},
  });
}

// ---- encode / decode ----------------------------------------------------------

TEST(Encoding, RoundTripsEveryClass) {
  std::vector<Insn> prog = every_class_sample();
  Bytes raw = encode(prog);
  ASSERT_EQ(raw.size(), prog.size() * 8);
  EXPECT_EQ(decode(raw), prog);
  std::set<uint8_t> classes;
  for (const Insn& i : prog) classes.insert(insn_class(i));
  EXPECT_EQ(classes.size(), 8u) << "the sample must cover all eight classes";
}

TEST(Encoding, LaysOutFieldsLittleEndian) {
  // code, src<<4|dst, off (le16), imm (le32): the kernel's struct bpf_insn.
  Bytes raw = encode({make(BPF_JMP | BPF_JNE | BPF_X, 2, 3, -56, 0x01020304)});
  EXPECT_EQ(to_hex(raw), "5d32c8ff04030201");
  Bytes wide = encode(ld_imm64(1, kPseudoMapIdxValue, 0x1122334455667788ull));
  EXPECT_EQ(to_hex(wide), "1861000088776655" "0000000044332211");
}

TEST(Encoding, DecodeRejectsPartialSlotsNamingTheInput) {
  Bytes raw(12, 0);
  std::string msg = expect_error([&] { decode(raw, "prog.o:.text"); }, EINVAL, "insn_size");
  EXPECT_NE(msg.find("prog.o:.text"), std::string::npos) << msg;
  EXPECT_NE(msg.find("12"), std::string::npos) << msg;
  EXPECT_TRUE(decode(Bytes{}).empty());
}

TEST(Encoding, EncodeRefusesRegisterFieldsWiderThanANibble) {
  std::string msg = expect_error([] { encode({exit_insn(), make(BPF_ALU64 | BPF_MOV | BPF_X, 16, 1)}); }, EINVAL,
                                 "insn_invalid");
  EXPECT_TRUE(starts_with(msg, "insn 1: ")) << msg;
}

TEST(Encoding, ConstantsMatchTheKernelUapi) {
  static_assert(kClassJmp32 == BPF_JMP32 && kModeAtomic == BPF_ATOMIC && kJmpJsle == BPF_JSLE);
  static_assert(kAtomicFetch == BPF_FETCH && kAtomicXchg == BPF_XCHG && kAtomicCmpxchg == BPF_CMPXCHG);
  static_assert(kPseudoFunc == BPF_PSEUDO_FUNC && kPseudoMapIdxValue == BPF_PSEUDO_MAP_IDX_VALUE);
  static_assert(kPseudoBtfId == BPF_PSEUDO_BTF_ID && kPseudoKfuncCall == BPF_PSEUDO_KFUNC_CALL);
  SUCCEED();
}

// ---- builders and target helpers ------------------------------------------------

TEST(Builders, ProduceTheKernelEncodings) {
  std::vector<Insn> wide = ld_imm64(2, kPseudoMapFd, 0xffffffff00000007ull);
  ASSERT_EQ(wide.size(), 2u);
  EXPECT_EQ(wide[0], make(0x18, 2, kPseudoMapFd, 0, 7));
  EXPECT_EQ(wide[1], make(0, 0, 0, 0, -1));
  EXPECT_EQ(ldx_mem(kSizeDW, 0, 1, 8), make(0x79, 0, 1, 8));
  EXPECT_EQ(mov64_imm(3, -1), make(0xb7, 3, 0, 0, -1));
  EXPECT_EQ(mov64_reg(1, 10), make(0xbf, 1, 10));
  EXPECT_EQ(jmp_reg(kJmpJgt, 1, 2, 5), make(0x2d, 1, 2, 5));
  EXPECT_EQ(jmp_imm(kJmpJeq, 1, 0, -3), make(0x15, 1, 0, -3));
  EXPECT_EQ(ja(7), make(0x05, 0, 0, 7));
  EXPECT_EQ(call_helper(BPF_FUNC_map_lookup_elem), make(0x85, 0, 0, 0, 1));
  EXPECT_EQ(exit_insn(), make(0x95));
}

TEST(Targets, KnowWhichInstructionsArePcRelative) {
  EXPECT_TRUE(has_relative_target(ja(1)));
  EXPECT_TRUE(has_relative_target(jmp_reg(kJmpJsle, 1, 2, 0)));
  EXPECT_TRUE(has_relative_target(make(BPF_JMP32 | BPF_JA, 0, 0, 0, 4)));
  EXPECT_TRUE(has_relative_target(make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, 2)));
  EXPECT_TRUE(has_relative_target(ld_imm64(1, kPseudoFunc, 3)[0]));
  EXPECT_FALSE(has_relative_target(call_helper(1)));
  EXPECT_FALSE(has_relative_target(make(BPF_JMP | BPF_CALL, 0, kPseudoKfuncCall, 0, 2)));
  EXPECT_FALSE(has_relative_target(exit_insn()));
  EXPECT_FALSE(has_relative_target(ld_imm64(1, kPseudoMapFd, 3)[0]));
  EXPECT_FALSE(has_relative_target(mov64_imm(1, 1)));

  std::vector<Insn> prog = concat({{ja(2), make(BPF_JMP32 | BPF_JA, 0, 0, 0, -2)}, ld_imm64(1, kPseudoFunc, -3),
                                   {make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, -5), exit_insn()}});
  EXPECT_EQ(relative_target(prog, 0), 3);
  EXPECT_EQ(relative_target(prog, 1), 0);
  EXPECT_EQ(relative_target(prog, 2), 0);
  EXPECT_EQ(relative_target(prog, 4), 0);
  EXPECT_EQ(relative_target(prog, 5), std::nullopt);
  EXPECT_EQ(relative_target(prog, 99), std::nullopt);
  EXPECT_TRUE(target_offset_in_imm(prog[1]));
  EXPECT_FALSE(target_offset_in_imm(prog[0]));
}

TEST(HelperNames, MatchTheKernelMapperExactly) {
  // Generated here from linux/bpf.h the same way kernel/bpf/disasm.c does.
#define BPFSIG_HELPER_NAME(x) "bpf_" #x
  const char* const expected[] = {__BPF_FUNC_MAPPER(BPFSIG_HELPER_NAME)};
#undef BPFSIG_HELPER_NAME
  for (size_t id = 0; id < std::size(expected); ++id)
    EXPECT_EQ(helper_name(static_cast<int32_t>(id)), expected[id]) << "helper id " << id;
  EXPECT_EQ(helper_name(166), "bpf_sys_bpf");
  EXPECT_EQ(helper_name(211), "bpf_cgrp_storage_delete");
  EXPECT_EQ(helper_name(212), "");
  EXPECT_EQ(helper_name(-1), "");
}

// ---- validate --------------------------------------------------------------------

// A program that validates iff `i` is a valid instruction on its own.
std::vector<Insn> alone(const Insn& i) {
  if (is_ld_imm64(i)) return {i, Insn{}, exit_insn()};
  return {i, exit_insn()};
}

bool some_encoding_validates(uint8_t code) {
  for (uint8_t dst : {0, 1})
    for (uint8_t src : {0, 1})
      for (int32_t imm : {0, 1, 16}) {
        try {
          validate(alone(make(code, dst, src, 0, imm)));
          return true;
        } catch (const Error&) {
        }
      }
  return false;
}

// The opcode table of the ISA (instruction-set.rst), written out by hand.
std::set<uint8_t> expected_valid_opcodes() {
  std::set<uint8_t> codes;
  for (uint8_t cls : {BPF_ALU, BPF_ALU64})
    for (uint8_t op = 0x00; op <= 0xc0; op += 0x10) {
      codes.insert(cls | op | BPF_K);
      if (op != BPF_NEG) codes.insert(cls | op | BPF_X);
    }
  codes.insert({BPF_ALU | BPF_END | BPF_TO_LE, BPF_ALU | BPF_END | BPF_TO_BE, BPF_ALU64 | BPF_END | BPF_TO_LE});
  for (uint8_t size : {BPF_W, BPF_H, BPF_B, BPF_DW})
    codes.insert({uint8_t(BPF_LDX | BPF_MEM | size), uint8_t(BPF_ST | BPF_MEM | size), uint8_t(BPF_STX | BPF_MEM | size)});
  for (uint8_t size : {BPF_W, BPF_H, BPF_B})
    codes.insert({uint8_t(BPF_LDX | kModeMemSx | size), uint8_t(BPF_LD | BPF_ABS | size), uint8_t(BPF_LD | BPF_IND | size)});
  codes.insert({BPF_STX | BPF_ATOMIC | BPF_W, BPF_STX | BPF_ATOMIC | BPF_DW, BPF_LD | BPF_IMM | BPF_DW});
  for (uint8_t cls : {BPF_JMP, BPF_JMP32}) {
    codes.insert(cls | BPF_JA);
    for (uint8_t op : {BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT,
                       BPF_JSLE})
      codes.insert({uint8_t(cls | op | BPF_K), uint8_t(cls | op | BPF_X)});
  }
  codes.insert({BPF_JMP | BPF_CALL, BPF_JMP | BPF_EXIT});
  return codes;
}

TEST(Validate, AcceptsExactlyTheOpcodesOfTheIsa) {
  std::set<uint8_t> accepted;
  for (int code = 0; code < 256; ++code)
    if (some_encoding_validates(static_cast<uint8_t>(code))) accepted.insert(static_cast<uint8_t>(code));
  std::set<uint8_t> expected = expected_valid_opcodes();
  EXPECT_EQ(accepted.size(), expected.size());
  for (uint8_t c : expected) EXPECT_TRUE(accepted.count(c)) << "refused opcode 0x" << std::hex << int(c);
  for (uint8_t c : accepted) EXPECT_TRUE(expected.count(c)) << "accepted opcode 0x" << std::hex << int(c);
}

TEST(Validate, AcceptsEveryOperandVariant) {
  std::vector<Insn> variants = {
      make(BPF_ALU64 | BPF_DIV | BPF_X, 1, 2, 1),            make(BPF_ALU | BPF_MOD | BPF_K, 1, 0, 1, -7),
      make(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 8),            make(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 16),
      make(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 32),           make(BPF_ALU | BPF_MOV | BPF_X, 1, 2, 16),
      make(BPF_ALU | BPF_END | BPF_TO_BE, 1, 0, 0, 16),       make(BPF_ALU | BPF_END | BPF_TO_LE, 1, 0, 0, 64),
      make(BPF_ALU64 | BPF_END | BPF_TO_LE, 1, 0, 0, 32),     make(BPF_ALU64 | BPF_LSH | BPF_K, 1, 0, 0, 63),
      make(BPF_ALU | BPF_ARSH | BPF_K, 1, 0, 0, 31),          make(BPF_LDX | kModeMemSx | BPF_B, 1, 10, -1),
      make(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, BPF_OR | BPF_FETCH),
      make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_XCHG), make(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, BPF_AND),
      make(BPF_JMP | BPF_CALL, 0, kPseudoKfuncCall, 1, 77),  make(BPF_JMP | BPF_JSET | BPF_K, 10, 0, 0, -1),
  };
  for (const Insn& i : variants) EXPECT_NO_THROW(validate(alone(i))) << disasm_insn(alone(i), 0);
  for (uint8_t src = 0; src <= kPseudoMapIdxValue; ++src) {
    std::vector<Insn> prog = concat({ld_imm64(1, src, src == kPseudoFunc ? 1 : 0), {exit_insn()}});
    EXPECT_NO_THROW(validate(prog)) << "ld_imm64 src " << int(src);
  }
}

struct Rejection {
  const char* name;
  std::vector<Insn> bad;  // placed at slot 2 of a valid program
  const char* reason;     // a fragment of the message
};

std::vector<Rejection> rejections() {
  return {
      {"unknown opcode", {make(0xff)}, "unknown opcode 0xff"},
      {"jmp op 0xe0", {make(BPF_JMP | 0xe0 | BPF_K)}, "unknown opcode 0xe5"},
      {"dst register 11", {make(BPF_ALU64 | BPF_MOV | BPF_K, 11)}, "invalid register r11"},
      {"src register 12", {make(BPF_ALU64 | BPF_ADD | BPF_X, 1, 12)}, "invalid register r12"},
      {"ldx from r15", {make(BPF_LDX | BPF_MEM | BPF_W, 0, 15)}, "invalid register r15"},
      {"K op with src set", {make(BPF_ALU64 | BPF_ADD | BPF_K, 1, 1)}, "reserved"},
      {"X op with imm set", {make(BPF_ALU64 | BPF_ADD | BPF_X, 1, 2, 0, 5)}, "reserved"},
      {"signed add", {make(BPF_ALU64 | BPF_ADD | BPF_X, 1, 2, 1)}, "reserved"},
      {"sdiv off 2", {make(BPF_ALU64 | BPF_DIV | BPF_X, 1, 2, 2)}, "reserved"},
      {"32-bit movsx from s32", {make(BPF_ALU | BPF_MOV | BPF_X, 1, 2, 32)}, "reserved"},
      {"movsx with K", {make(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 8)}, "reserved"},
      {"neg with X", {make(BPF_ALU64 | BPF_NEG | BPF_X, 1, 2)}, "reserved"},
      {"end width 8", {make(BPF_ALU | BPF_END | BPF_TO_BE, 1, 0, 0, 8)}, "BPF_END"},
      {"alu64 bswap with TO_BE", {make(BPF_ALU64 | BPF_END | BPF_TO_BE, 1, 0, 0, 16)}, "BPF_END"},
      {"division by constant 0", {make(BPF_ALU64 | BPF_DIV | BPF_K, 1)}, "division by zero"},
      {"32-bit shift by 32", {make(BPF_ALU | BPF_LSH | BPF_K, 1, 0, 0, 32)}, "invalid shift 32"},
      {"memsx of a u64", {make(BPF_LDX | kModeMemSx | BPF_DW, 0, 1)}, "unknown opcode 0x99"},
      {"ldx with imm", {make(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 0, 1)}, "reserved"},
      {"st with src", {make(BPF_ST | BPF_MEM | BPF_W, 10, 1, -4, 1)}, "reserved"},
      {"atomic on a u16", {make(BPF_STX | BPF_ATOMIC | BPF_H, 1, 2)}, "unknown opcode"},
      {"atomic sub", {make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_SUB)}, "invalid atomic operation 16"},
      {"ld abs of a u64", {make(BPF_LD | BPF_ABS | BPF_DW, 0, 0, 0, 1)}, "unknown opcode 0x38"},
      {"ld abs into r1", {make(BPF_LD | BPF_ABS | BPF_W, 1, 0, 0, 1)}, "reserved"},
      {"lone second slot", {make(0)}, "unknown opcode 0x00"},
      {"ld_imm64 bad second slot", {make(0x18, 1), make(0x07)}, "second slot"},
      {"ld_imm64 with off", {make(0x18, 1, 0, 1), make(0)}, "reserved"},
      {"ld_imm64 source 7", {make(0x18, 1, 7), make(0)}, "unknown ld_imm64 source 7"},
      {"map fd with an offset", {make(0x18, 1, kPseudoMapFd, 0, 3), make(0, 0, 0, 0, 8)}, "reserved"},
      {"call from JMP32", {make(BPF_JMP32 | BPF_CALL, 0, 0, 0, 1)}, "BPF_CALL"},
      {"call with src 3", {make(BPF_JMP | BPF_CALL, 0, 3, 0, 1)}, "BPF_CALL"},
      {"helper call with off", {make(BPF_JMP | BPF_CALL, 0, 0, 1, 1)}, "BPF_CALL"},
      {"exit with a register", {make(BPF_JMP | BPF_EXIT, 1)}, "BPF_EXIT"},
      {"goto with imm", {make(BPF_JMP | BPF_JA, 0, 0, 0, 1)}, "BPF_JA"},
      {"gotol with off", {make(BPF_JMP32 | BPF_JA, 0, 0, 1, 0)}, "BPF_JA"},
      {"jump X with imm", {make(BPF_JMP | BPF_JEQ | BPF_X, 1, 2, 0, 1)}, "reserved"},
      {"jump past the end", {ja(2)}, "target 5 is outside the program"},
      {"jump before the start", {jmp_imm(kJmpJeq, 1, 0, -4)}, "target -1 is outside the program"},
      {"gotol past the end", {make(BPF_JMP32 | BPF_JA, 0, 0, 0, 1000)}, "outside the program"},
      {"call past the end", {make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, 7)}, "outside the program"},
      {"func pointer past the end", concat({ld_imm64(1, kPseudoFunc, 9)}), "outside the program"},
      {"jump into an ld_imm64", {ja(-2)}, "target 1 is the second slot of an ld_imm64"},
  };
}

TEST(Validate, RejectsWithTheInstructionIndex) {
  for (const Rejection& r : rejections()) {
    SCOPED_TRACE(r.name);
    // Slots 0-1 hold an ld_imm64 so that "jump into an ld_imm64" has a target.
    std::vector<Insn> prog = concat({ld_imm64(1, 0, 1), r.bad, {mov64_imm(0, 0), exit_insn()}});
    std::string msg = expect_error([&] { validate(prog); }, EINVAL, "insn_invalid");
    EXPECT_TRUE(starts_with(msg, "insn 2: ")) << msg;
    EXPECT_NE(msg.find(r.reason), std::string::npos) << msg;
  }
}

TEST(Validate, RejectsTruncatedLdImm64AndEmptyPrograms) {
  std::string msg = expect_error([] { validate({mov64_imm(0, 0), ld_imm64(1, 0, 5)[0]}); }, EINVAL, "insn_invalid");
  EXPECT_EQ(msg, "insn 1: ld_imm64 is truncated (no second slot)");
  expect_error([] { validate({}); }, EINVAL, "insn_invalid");
}

// ---- disassembly ---------------------------------------------------------------------

struct Listing {
  std::vector<Insn> insn;  // one instruction (two slots for an ld_imm64)
  const char* text;
};

// Expected strings are the kernel's kernel/bpf/disasm.c formats, except for
// ld_imm64 operands, whose forms this project defines (docs/isa.md).
std::vector<Listing> listings() {
  return {
      {{mov64_reg(1, 10)}, "r1 = r10"},
      {{make(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -8)}, "r1 += -8"},
      {{make(BPF_ALU | BPF_MOV | BPF_X, 2, 3)}, "w2 = w3"},
      {{make(BPF_ALU | BPF_LSH | BPF_K, 4, 0, 0, 3)}, "w4 <<= 3"},
      {{make(BPF_ALU64 | BPF_ARSH | BPF_X, 1, 2)}, "r1 s>>= r2"},
      {{make(BPF_ALU64 | BPF_XOR | BPF_X, 1, 2)}, "r1 ^= r2"},
      {{make(BPF_ALU64 | BPF_NEG, 1)}, "r1 = -r1"},
      {{make(BPF_ALU | BPF_NEG, 3)}, "w3 = -w3"},
      {{make(BPF_ALU64 | BPF_DIV | BPF_X, 1, 2, 1)}, "r1 s/= r2"},
      {{make(BPF_ALU64 | BPF_MOD | BPF_X, 1, 2, 1)}, "r1 s%= r2"},
      {{make(BPF_ALU | BPF_DIV | BPF_K, 1, 0, 1, -3)}, "w1 s/= -3"},
      {{make(BPF_ALU64 | BPF_MOD | BPF_K, 1, 0, 0, 10)}, "r1 %= 10"},
      {{make(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 8)}, "r1 = (s8)r2"},
      {{make(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 32)}, "r1 = (s32)r2"},
      {{make(BPF_ALU | BPF_MOV | BPF_X, 1, 2, 16)}, "w1 = (s16)w2"},
      {{make(BPF_ALU64 | BPF_END | BPF_TO_LE, 1, 0, 0, 16)}, "r1 = bswap16 r1"},
      {{make(BPF_ALU | BPF_END | BPF_TO_BE, 1, 0, 0, 16)}, "r1 = be16 r1"},
      {{make(BPF_ALU | BPF_END | BPF_TO_LE, 1, 0, 0, 32)}, "r1 = le32 r1"},
      {{make(BPF_LDX | BPF_MEM | BPF_W, 0, 1, 4)}, "r0 = *(u32 *)(r1 +4)"},
      {{make(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, -8)}, "r1 = *(u64 *)(r10 -8)"},
      {{make(BPF_LDX | kModeMemSx | BPF_B, 0, 1, 3)}, "r0 = *(s8 *)(r1 +3)"},
      {{make(BPF_LDX | kModeMemSx | BPF_W, 0, 1, 0)}, "r0 = *(s32 *)(r1 +0)"},
      {{make(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8)}, "*(u64 *)(r10 -8) = r1"},
      {{make(BPF_STX | BPF_MEM | BPF_H, 2, 3, 6)}, "*(u16 *)(r2 +6) = r3"},
      {{make(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 7)}, "*(u32 *)(r10 -4) = 7"},
      {{make(BPF_ST | BPF_MEM | BPF_B, 10, 0, -1, -1)}, "*(u8 *)(r10 -1) = -1"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_ADD)}, "lock *(u64 *)(r1 +0) += r2"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 8, BPF_OR)}, "lock *(u32 *)(r1 +8) |= r2"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, BPF_AND)}, "lock *(u32 *)(r1 +0) &= r2"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_XOR)}, "lock *(u64 *)(r1 +0) ^= r2"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 0, 0, BPF_ADD | BPF_FETCH)},
       "r0 = atomic64_fetch_add((u64 *)(r1 +0), r0)"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_W, 1, 3, -8, BPF_XOR | BPF_FETCH)},
       "r3 = atomic_fetch_xor((u32 *)(r1 -8), r3)"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_XCHG)}, "r2 = atomic64_xchg((u64 *)(r1 +0), r2)"},
      {{make(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, -4, BPF_CMPXCHG)}, "r0 = atomic_cmpxchg((u32 *)(r1 -4), r0, r2)"},
      {{make(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 12)}, "r0 = *(u32 *)skb[12]"},
      {{make(BPF_LD | BPF_IND | BPF_B, 0, 6, 0, 4)}, "r0 = *(u8 *)skb[r6 + 4]"},
      {{make(BPF_JMP | BPF_JNE | BPF_X, 2, 3, -56)}, "if r2 != r3 goto pc-56"},
      {{make(BPF_JMP32 | BPF_JGT | BPF_K, 1, 0, 2, 5)}, "if w1 > 0x5 goto pc+2"},
      {{make(BPF_JMP32 | BPF_JSLT | BPF_K, 1, 0, 0, -1)}, "if w1 s< 0xffffffff goto pc+0"},
      {{make(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1, 1)}, "if r1 & 0x1 goto pc+1"},
      {{make(BPF_JMP | BPF_JSLE | BPF_X, 1, 2, -1)}, "if r1 s<= r2 goto pc-1"},
      {{make(BPF_JMP32 | BPF_JLE | BPF_X, 4, 5, 3)}, "if w4 <= w5 goto pc+3"},
      {{ja(29)}, "goto pc+29"},
      {{make(BPF_JMP32 | BPF_JA, 0, 0, 0, 100)}, "gotol pc+100"},
      {{call_helper(166)}, "call bpf_sys_bpf#166"},
      {{call_helper(1)}, "call bpf_map_lookup_elem#1"},
      {{call_helper(212)}, "call #212"},
      {{make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, 5)}, "call pc+5"},
      {{make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, -9)}, "call pc-9"},
      {{make(BPF_JMP | BPF_CALL, 0, kPseudoKfuncCall, 0, 12345)}, "call kernel-function#12345"},
      {{exit_insn()}, "exit"},
      {ld_imm64(1, 0, 0x1122334455667788ull), "r1 = 0x1122334455667788 ll"},
      {ld_imm64(0, 0, 0), "r0 = 0x0 ll"},
      {ld_imm64(1, kPseudoMapFd, 5), "r1 = map[fd:5]"},
      {concat({{make(0x18, 1, kPseudoMapValue, 0, 5), make(0, 0, 0, 0, 16)}}), "r1 = map[fd:5][0]+16"},
      {ld_imm64(2, kPseudoBtfId, 42), "r2 = btf_id[42]"},
      {ld_imm64(3, kPseudoFunc, 3), "r3 = func[pc+3]"},
      {ld_imm64(3, kPseudoFunc, static_cast<uint32_t>(-2)), "r3 = func[pc-2]"},
      {ld_imm64(1, kPseudoMapIdx, 0), "r1 = map[idx:0]"},
      {concat({{make(0x18, 1, kPseudoMapIdxValue, 0, 2), make(0, 0, 0, 0, 8)}}), "r1 = map[idx:2][0]+8"},
      {{make(0xff)}, "invalid"},
      {{make(0x18, 1)}, "invalid (truncated ld_imm64)"},
  };
}

TEST(Disasm, MatchesTheKernelText) {
  for (const Listing& l : listings()) EXPECT_EQ(disasm_insn(l.insn, 0), l.text);
}

TEST(Disasm, ProgramListingNumbersSlots) {
  std::vector<Insn> prog = concat({{mov64_imm(0, 0)}, ld_imm64(1, kPseudoMapIdx, 3), {call_helper(1), exit_insn()}});
  std::vector<std::string> expected = {
      "   0: (b7) r0 = 0",
      "   1: (18) r1 = map[idx:3]",
      "   3: (85) call bpf_map_lookup_elem#1",
      "   4: (95) exit",
  };
  EXPECT_EQ(disassemble(prog), expected);
  expect_error([&] { disasm_insn(prog, 5); }, EINVAL, "insn_invalid");
}

// ---- real clang output ------------------------------------------------------------

constexpr const char* kSampleProgram = R"(
typedef unsigned long long u64;
typedef unsigned int u32;
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
u64 table[4];

static __attribute__((noinline)) u64 mix(u64 a, u64 b) {
  for (u64 i = 0; i < (b & 15); i++) {
    a = a * 31 + (b >> i);
    if (a & 1) b ^= a;
  }
  return a;
}

int prog(u64 *ctx) {
  u64 key = ctx[0];
  u64 *v = bpf_map_lookup_elem(&table, &key);
  if (!v) return 0;
  __sync_fetch_and_add(v, 1);
  u64 x = mix(*v, 0x1122334455667788ULL);
  return (int)(x >> 3) + __builtin_bswap32((u32)x);
}
)";

// The slot indices llvm-objdump prints, one per instruction.
std::set<size_t> objdump_slots(const std::string& listing) {
  std::set<size_t> slots;
  static const std::regex kLine(R"(^\s*([0-9]+):\t)");
  std::istringstream in(listing);
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, kLine)) slots.insert(std::stoul(m[1]));
  return slots;
}

// Slot of a symbol in .text, from llvm-nm ("0000000000000098 t mix").
std::optional<size_t> symbol_slot(const std::string& nm_output, const std::string& name) {
  std::istringstream in(nm_output);
  std::string addr, type, sym;
  while (in >> addr >> type >> sym)
    if (sym == name) return std::stoul(addr, nullptr, 16) / 8;
  return std::nullopt;
}

TEST(RealProgram, ClangOutputValidatesAndDisassembles) {
  if (!test::file_exists("/usr/bin/clang") || !test::file_exists("/usr/bin/llvm-objcopy"))
    GTEST_SKIP() << "clang or llvm-objcopy not installed";
  test::TempDir dir;
  test::write_text(dir.file("p.c"), kSampleProgram);
  test::CommandResult cc = test::run_command(
      {"clang", "-O2", "-target", "bpf", "-mcpu=v3", "-c", dir.file("p.c"), "-o", dir.file("p.o")});
  ASSERT_EQ(cc.exit_code, 0) << cc.err;
  test::CommandResult cp = test::run_command(
      {"llvm-objcopy", "-O", "binary", "--only-section=.text", dir.file("p.o"), dir.file("p.bin")});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;

  std::vector<Insn> prog = decode(read_file(dir.file("p.bin")), "p.bin");
  ASSERT_GT(prog.size(), 10u);
  ASSERT_NO_THROW(validate(prog));

  std::vector<std::string> lines = disassemble(prog);
  static const std::regex kSane(R"(^ {0,3}[0-9]+: \([0-9a-f]{2}\) \S.*$)");
  std::set<size_t> our_slots;
  std::string all;
  for (const std::string& line : lines) {
    EXPECT_TRUE(std::regex_match(line, kSane)) << line;
    EXPECT_EQ(line.find("invalid"), std::string::npos) << line;
    our_slots.insert(std::stoul(line));
    all += line + "\n";
  }
  for (const char* expected : {"call bpf_map_lookup_elem#1", "lock *(u64 *)(r1 +0) += r2",
                               "r3 = 0x1122334455667788 ll", "r0 = be32 r0", "r1 = -r1", " exit"})
    EXPECT_NE(all.find(expected), std::string::npos) << expected << " not in\n" << all;

  // llvm-objdump must see an instruction at exactly the slots we list.
  test::CommandResult od = test::run_command({"llvm-objdump", "-d", dir.file("p.o")});
  ASSERT_EQ(od.exit_code, 0) << od.err;
  EXPECT_EQ(our_slots, objdump_slots(od.out)) << all << od.out;

  // The bpf-to-bpf call must land on mix().
  test::CommandResult nm = test::run_command({"llvm-nm", dir.file("p.o")});
  ASSERT_EQ(nm.exit_code, 0) << nm.err;
  std::optional<size_t> mix = symbol_slot(nm.out, "mix");
  ASSERT_TRUE(mix.has_value()) << nm.out;
  auto call = std::find_if(prog.begin(), prog.end(), [](const Insn& i) { return i.code == 0x85 && i.src == 1; });
  ASSERT_NE(call, prog.end());
  EXPECT_EQ(relative_target(prog, static_cast<size_t>(call - prog.begin())), static_cast<int64_t>(*mix));
}

// ---- against the running kernel -----------------------------------------------------

// A socket filter the verifier accepts that uses every instruction family
// whose text the kernel prints itself (all but ld_imm64 operands and kfuncs).
std::vector<Insn> kernel_sample() {
  std::vector<Insn> prog = {
      mov64_reg(6, 1),  // ld abs/ind need the skb in r6
      make(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 12), make(BPF_LD | BPF_IND | BPF_B, 0, 6, 0, 4),
      mov64_imm(1, 5), mov64_reg(2, 1), make(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8),
      make(BPF_ALU | BPF_MOV | BPF_X, 3, 1), make(BPF_ALU | BPF_LSH | BPF_K, 3, 0, 0, 3),
      make(BPF_ALU64 | BPF_ARSH | BPF_X, 2, 1), make(BPF_ALU64 | BPF_XOR | BPF_X, 2, 1), make(BPF_ALU64 | BPF_NEG, 2),
      make(BPF_ALU | BPF_NEG, 3), make(BPF_ALU64 | BPF_DIV | BPF_X, 2, 1, 1), make(BPF_ALU64 | BPF_MOD | BPF_X, 2, 1, 1),
      make(BPF_ALU | BPF_DIV | BPF_K, 3, 0, 1, -3), make(BPF_ALU64 | BPF_MOD | BPF_K, 2, 0, 0, 10),
      make(BPF_ALU64 | BPF_MUL | BPF_K, 2, 0, 0, 3), make(BPF_ALU64 | BPF_OR | BPF_K, 2, 0, 0, 0x100),
      make(BPF_ALU64 | BPF_MOV | BPF_X, 2, 1, 8), make(BPF_ALU64 | BPF_MOV | BPF_X, 2, 1, 32),
      make(BPF_ALU | BPF_MOV | BPF_X, 3, 1, 16), make(BPF_ALU64 | BPF_END | BPF_TO_LE, 2, 0, 0, 16),
      make(BPF_ALU | BPF_END | BPF_TO_BE, 2, 0, 0, 16), make(BPF_ALU | BPF_END | BPF_TO_LE, 2, 0, 0, 32),
      make(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8), make(BPF_ST | BPF_MEM | BPF_W, 10, 0, -16, 7),
      make(BPF_ST | BPF_MEM | BPF_B, 10, 0, -1, -1), make(BPF_LDX | BPF_MEM | BPF_W, 0, 10, -16),
      make(BPF_LDX | kModeMemSx | BPF_B, 0, 10, -1), mov64_reg(4, 10), make(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, -8),
      make(BPF_STX | BPF_ATOMIC | BPF_DW, 4, 1, 0, BPF_ADD), make(BPF_STX | BPF_ATOMIC | BPF_W, 10, 1, -16, BPF_OR),
      make(BPF_STX | BPF_ATOMIC | BPF_DW, 4, 1, 0, BPF_ADD | BPF_FETCH),
      make(BPF_STX | BPF_ATOMIC | BPF_W, 10, 1, -16, BPF_XOR | BPF_FETCH),
      make(BPF_STX | BPF_ATOMIC | BPF_DW, 4, 2, 0, BPF_XCHG), make(BPF_STX | BPF_ATOMIC | BPF_DW, 4, 2, 0, BPF_CMPXCHG),
      make(BPF_JMP | BPF_JNE | BPF_X, 2, 3, 0), make(BPF_JMP32 | BPF_JGT | BPF_K, 1, 0, 0, 5),
      make(BPF_JMP32 | BPF_JSLT | BPF_K, 1, 0, 0, -1), make(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 0, 1),
      make(BPF_JMP | BPF_JSLE | BPF_X, 1, 2, 0), make(BPF_JMP32 | BPF_JLE | BPF_X, 1, 2, 0), ja(0),
      make(BPF_JMP32 | BPF_JA, 0, 0, 0, 0), call_helper(BPF_FUNC_ktime_get_ns),
      make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, 2), mov64_imm(0, 0), exit_insn(),
      mov64_imm(0, 1), exit_insn(),  // the called subprogram
  };
  return prog;
}

// The text the verifier printed for each slot ("12: (bf) r1 = r2 ; R1=..."),
// first occurrence wins.
std::map<size_t, std::string> verifier_listing(const std::string& log) {
  std::map<size_t, std::string> out;
  static const std::regex kLine(R"(^([0-9]+): (\([0-9a-f]{2}\) .*?)\s*(;.*)?$)");
  std::istringstream in(log);
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_match(line, m, kLine)) out.emplace(std::stoul(m[1]), m[2]);
  return out;
}

// sdiv, movsx, memsx and gotol arrived in Linux 6.6.
bool kernel_has_cpu_v4() {
  struct utsname u {};
  int major = 0, minor = 0;
  return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
         (major > 6 || (major == 6 && minor >= 6));
}

TEST(Kernel, DisassemblyMatchesTheVerifierLog) {
  if (!kernel_has_cpu_v4()) GTEST_SKIP() << "kernel older than 6.6";
  std::vector<Insn> prog = kernel_sample();
  ASSERT_NO_THROW(validate(prog));
  std::string log(1 << 20, '\0');
  union bpf_attr attr {};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  Bytes raw = encode(prog);
  attr.insns = reinterpret_cast<uintptr_t>(raw.data());
  attr.insn_cnt = static_cast<uint32_t>(prog.size());
  attr.license = reinterpret_cast<uintptr_t>("GPL");
  attr.log_level = 2;  // every instruction, as the kernel's disassembler prints it
  attr.log_buf = reinterpret_cast<uintptr_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  int fd = static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
  // No log at all: the verifier never ran (no privilege, no bpf()).
  if (fd < 0 && log[0] == '\0') GTEST_SKIP() << "cannot load BPF programs here: " << std::strerror(errno);
  ASSERT_GE(fd, 0) << "the verifier refused the sample: " << log.c_str();
  ::close(fd);

  std::map<size_t, std::string> kernel = verifier_listing(log.c_str());
  for (const std::string& line : disassemble(prog)) {
    size_t slot = std::stoul(line);
    ASSERT_TRUE(kernel.count(slot)) << "the verifier did not print slot " << slot << "\n" << log.c_str();
    EXPECT_EQ(line.substr(line.find('(')), kernel[slot]);
  }
}

// ---- rewriter ----------------------------------------------------------------------

std::vector<Insn> movs(size_t n, int32_t first_value = 100) {
  std::vector<Insn> out;
  for (size_t k = 0; k < n; ++k) out.push_back(mov64_imm(5, first_value + static_cast<int32_t>(k)));
  return out;
}

TEST(Insert, ForwardJumpAcrossThePointGrows) {
  std::vector<Insn> prog = {jmp_imm(kJmpJeq, 1, 0, 2), mov64_imm(0, 1), mov64_imm(0, 2), exit_insn()};
  insert(prog, 2, movs(3));
  ASSERT_EQ(prog.size(), 7u);
  EXPECT_EQ(prog[0].off, 5);
  EXPECT_EQ(prog[*relative_target(prog, 0)], exit_insn());
}

TEST(Insert, JumpsOnOneSideAreUntouched) {
  std::vector<Insn> prog = {mov64_imm(0, 0), ja(1), mov64_imm(0, 1), jmp_imm(kJmpJeq, 0, 0, -2), exit_insn()};
  // Before both source and target of the first jump: both shift.
  std::vector<Insn> shifted = prog;
  insert(shifted, 0, movs(2));
  EXPECT_EQ(shifted[3].off, 1);
  EXPECT_EQ(shifted[5].off, -2);
  // After the last target: nothing moves.
  std::vector<Insn> tail = prog;
  insert(tail, 5, movs(2));
  EXPECT_EQ(std::vector<Insn>(tail.begin(), tail.begin() + 5), prog);
}

TEST(Insert, BackwardJumpAcrossThePointGrows) {
  std::vector<Insn> prog = {mov64_imm(0, 7), mov64_imm(1, 1), jmp_imm(kJmpJne, 1, 0, -3), exit_insn()};
  insert(prog, 1, movs(4));
  ASSERT_EQ(prog.size(), 8u);
  EXPECT_EQ(prog[6].off, -7);
  EXPECT_EQ(prog[*relative_target(prog, 6)], mov64_imm(0, 7));
}

TEST(Insert, TargetAtThePointRunsTheNewCode) {
  // 0: forward jump to 2; 3: backward jump to 2; 2 is where the block goes.
  std::vector<Insn> prog = {ja(1), mov64_imm(0, 1), mov64_imm(0, 2), jmp_imm(kJmpJeq, 0, 2, -2), exit_insn()};
  std::vector<Insn> block = movs(2);
  insert(prog, 2, block);
  EXPECT_EQ(relative_target(prog, 0), 2);
  EXPECT_EQ(relative_target(prog, 5), 2);
  EXPECT_EQ(prog[2], block[0]);
  EXPECT_EQ(prog[4], mov64_imm(0, 2));
}

TEST(Insert, FixesCallsGotolAndFunctionPointers) {
  std::vector<Insn> prog = concat({
      {make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, 4)},  // 0 -> 5
      ld_imm64(2, kPseudoFunc, 2),                       // 1 -> 4
      {make(BPF_JMP32 | BPF_JA, 0, 0, 0, 1)},            // 3 -> 5
      {exit_insn()},                                     // 4
      {mov64_imm(0, 0), exit_insn()},                    // 5, 6
  });
  ASSERT_NO_THROW(validate(prog));
  insert(prog, 4, movs(3));
  EXPECT_EQ(prog[0].imm, 7);
  EXPECT_EQ(prog[1].imm, 2);  // target 4 is the point: it now names the block
  EXPECT_EQ(prog[3].imm, 4);
  EXPECT_EQ(prog[8], mov64_imm(0, 0));
  EXPECT_NO_THROW(validate(prog));
}

TEST(Insert, OverflowingOffsetIsErangeAndLeavesTheProgram) {
  std::vector<Insn> prog = {ja(32767)};
  for (int n = 0; n < 32767; ++n) prog.push_back(mov64_imm(0, n));
  prog.push_back(exit_insn());
  ASSERT_NO_THROW(validate(prog));
  std::vector<Insn> before = prog;
  std::string msg = expect_error([&] { insert(prog, 1, movs(1)); }, ERANGE, "insn_rewrite");
  EXPECT_TRUE(starts_with(msg, "insn 0: ")) << msg;
  EXPECT_EQ(prog, before);
  // gotol has room where goto had none.
  prog[0] = make(BPF_JMP32 | BPF_JA, 0, 0, 0, 32767);
  insert(prog, 1, movs(1));
  EXPECT_EQ(prog[0].imm, 32768);
}

TEST(Insert, RefusesBadPositions) {
  std::vector<Insn> prog = concat({ld_imm64(1, 0, 5), {exit_insn()}});
  expect_error([&] { insert(prog, 1, movs(1)); }, EINVAL, "insn_rewrite");
  expect_error([&] { insert(prog, 4, movs(1)); }, EINVAL, "insn_rewrite");
  insert(prog, 3, movs(1));  // appending is fine
  EXPECT_EQ(prog.size(), 4u);
}

TEST(Remove, ShrinksJumpsAcrossTheRange) {
  // 0 jumps to 3, just after the removed [1, 3); 5 jumps back over it to 0.
  std::vector<Insn> prog = {jmp_imm(kJmpJeq, 1, 0, 2), mov64_imm(0, 1), mov64_imm(0, 2), mov64_imm(0, 3),
                            mov64_imm(0, 4), jmp_imm(kJmpJne, 1, 0, -6), exit_insn()};
  remove(prog, 1, 2);
  ASSERT_EQ(prog.size(), 5u);
  EXPECT_EQ(prog[0].off, 0);
  EXPECT_EQ(prog[*relative_target(prog, 0)], mov64_imm(0, 3));
  EXPECT_EQ(prog[3].off, -4);
}

TEST(Remove, TargetAtTheStartMovesToWhatFollows) {
  std::vector<Insn> prog = {ja(0), mov64_imm(0, 1), mov64_imm(0, 2), exit_insn()};
  remove(prog, 1, 2);
  EXPECT_EQ(prog, (std::vector<Insn>{ja(0), exit_insn()}));
}

TEST(Remove, RefusesAJumpIntoTheRange) {
  std::vector<Insn> prog = {ja(1), mov64_imm(0, 1), mov64_imm(0, 2), mov64_imm(0, 3), exit_insn()};
  std::vector<Insn> before = prog;
  std::string msg = expect_error([&] { remove(prog, 1, 3); }, EINVAL, "insn_rewrite");
  EXPECT_NE(msg.find("insn 0: target 2 is inside the removed range [1, 4)"), std::string::npos) << msg;
  EXPECT_EQ(prog, before);
  // A jump that is itself removed may point anywhere.
  std::vector<Insn> inner = {mov64_imm(0, 0), ja(1), mov64_imm(0, 1), mov64_imm(0, 2), exit_insn()};
  remove(inner, 1, 2);
  EXPECT_EQ(inner, (std::vector<Insn>{mov64_imm(0, 0), mov64_imm(0, 2), exit_insn()}));
}

TEST(Remove, FixesCallsAndFunctionPointers) {
  std::vector<Insn> prog = concat({
      {make(BPF_JMP | BPF_CALL, 0, kPseudoCall, 0, 4)},  // 0 -> 5
      ld_imm64(2, kPseudoFunc, 2),                       // 1 -> 4
      {mov64_imm(0, 9), exit_insn()},                    // 3, 4
      {mov64_imm(0, 0), exit_insn()},                    // 5, 6
  });
  remove(prog, 3, 1);
  EXPECT_EQ(prog[0].imm, 3);
  EXPECT_EQ(prog[1].imm, 1);
  EXPECT_EQ(prog[*relative_target(prog, 0)], mov64_imm(0, 0));
  EXPECT_EQ(prog[*relative_target(prog, 1)], exit_insn());
}

TEST(Remove, RefusesBadRanges) {
  std::vector<Insn> prog = concat({{mov64_imm(0, 0)}, ld_imm64(1, 0, 5), {exit_insn()}});
  expect_error([&] { remove(prog, 2, 1); }, EINVAL, "insn_rewrite");  // starts mid ld_imm64
  expect_error([&] { remove(prog, 0, 2); }, EINVAL, "insn_rewrite");  // ends mid ld_imm64
  expect_error([&] { remove(prog, 3, 2); }, EINVAL, "insn_rewrite");
  expect_error([&] { remove(prog, 5, 0); }, EINVAL, "insn_rewrite");
  remove(prog, 1, 2);
  EXPECT_EQ(prog, (std::vector<Insn>{mov64_imm(0, 0), exit_insn()}));
}

// ---- property: insert then remove is the identity ----------------------------------

// A random valid program: straight-line code, ld_imm64s, and jumps, gotols,
// calls and function pointers aimed at random instruction starts.
std::vector<Insn> random_program(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  size_t n = std::uniform_int_distribution<size_t>(2, 40)(rng);
  std::vector<Insn> prog;
  std::vector<size_t> starts;
  while (prog.size() < n) {
    starts.push_back(prog.size());
    int k = kind(rng);
    if (k == 0)
      for (const Insn& i : ld_imm64(1, rng() % 2 ? kPseudoFunc : 0, rng())) prog.push_back(i);
    else if (k <= 5)
      prog.push_back(jmp_imm(kJmpJeq, 1, 0, 0));  // aimed below
    else if (k == 6)
      prog.push_back(make(BPF_JMP32 | BPF_JA));
    else if (k == 7)
      prog.push_back(make(BPF_JMP | BPF_CALL, 0, kPseudoCall));
    else
      prog.push_back(make(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, static_cast<int32_t>(rng())));
  }
  starts.push_back(prog.size());
  prog.push_back(exit_insn());
  for (size_t pc : starts) {
    Insn& i = prog[pc];
    if (!has_relative_target(i)) continue;
    int64_t delta = static_cast<int64_t>(starts[rng() % starts.size()]) - static_cast<int64_t>(pc) - 1;
    if (target_offset_in_imm(i))
      i.imm = static_cast<int32_t>(delta);
    else
      i.off = static_cast<int16_t>(delta);
  }
  return prog;
}

TEST(Property, InsertThenRemoveIsIdentity) {
  for (uint32_t seed = 1; seed <= 500; ++seed) {
    std::mt19937 rng(seed);
    std::vector<Insn> original = random_program(rng);
    ASSERT_NO_THROW(validate(original)) << "seed " << seed;
    std::vector<size_t> boundaries;
    for (size_t pc = 0; pc <= original.size(); pc += pc < original.size() && is_ld_imm64(original[pc]) ? 2 : 1)
      boundaries.push_back(pc);
    size_t pos = boundaries[rng() % boundaries.size()];
    size_t k = 1 + rng() % 5;

    std::vector<Insn> prog = original;
    insert(prog, pos, movs(k));
    ASSERT_NO_THROW(validate(prog)) << "seed " << seed;
    // Every old instruction still reaches the same instruction, except that a
    // target at pos now reaches the block.
    auto moved = [&](size_t old_slot) { return old_slot < pos ? old_slot : old_slot + k; };
    for (size_t pc : boundaries) {
      std::optional<int64_t> old_target = relative_target(original, pc);
      if (!old_target) continue;
      size_t t = static_cast<size_t>(*old_target);
      EXPECT_EQ(relative_target(prog, moved(pc)), static_cast<int64_t>(t == pos ? pos : moved(t)))
          << "seed " << seed << " insn " << pc;
    }
    remove(prog, pos, k);
    ASSERT_EQ(prog, original) << "seed " << seed;
  }
}

}  // namespace
