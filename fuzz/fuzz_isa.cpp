// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the instruction layer. Any byte string must decode,
// validate (or be refused with an Error) and disassemble without crashing.
// Every program then goes through an insert and a remove at positions taken
// from the input: inserting keeps a valid program valid, removing the block
// again restores the original exactly, a refused rewrite changes nothing, and
// every result encodes and decodes back to itself. Only bpfsig::Error may
// leave the library; any other exception or a broken property is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"

using namespace bpfsig;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void require_round_trip(const std::vector<isa::Insn>& prog) { require(isa::decode(isa::encode(prog)) == prog); }

// True when f threw an Error; any other exception escapes to libFuzzer.
bool throws_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error&) {
    return true;
  }
  return false;
}

// Offsets are re-aimed the same way whether or not the program is valid, so
// the round trip through insert and remove holds for every input.
void check_insert_then_remove(const std::vector<isa::Insn>& original, bool valid, size_t pos, size_t k) {
  std::vector<isa::Insn> prog = original;
  const std::vector<isa::Insn> block(k, isa::mov64_imm(0, 0));
  if (throws_error([&] { isa::insert(prog, pos, block); })) {
    require(prog == original);
    return;
  }
  if (valid) require(!throws_error([&] { isa::validate(prog); }));
  require_round_trip(prog);
  for (size_t pc = 0; pc < prog.size(); ++pc) (void)isa::disasm_insn(prog, pc);
  require(!throws_error([&] { isa::remove(prog, pos, k); }));
  require(prog == original);
}

// An arbitrary removal may be refused (a jump into the range), but never
// half-done.
void check_remove(const std::vector<isa::Insn>& original, size_t pos, size_t count) {
  std::vector<isa::Insn> prog = original;
  if (throws_error([&] { isa::remove(prog, pos, count); }))
    require(prog == original);
  else
    require(prog.size() == original.size() - count);
  require_round_trip(prog);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first two bytes steer the rewriter; the rest are instructions.
  if (size < 2) return 0;
  uint8_t pos_seed = data[0], len_seed = data[1];
  std::vector<isa::Insn> prog;
  try {
    prog = isa::decode(ByteView(data + 2, size - 2));
  } catch (const Error&) {
    return 0;
  }
  require_round_trip(prog);
  (void)isa::disassemble(prog);
  bool valid = !throws_error([&] { isa::validate(prog); });
  size_t pos = pos_seed % (prog.size() + 1);
  check_insert_then_remove(prog, valid, pos, 1 + len_seed % 4);
  check_remove(prog, pos, len_seed % (prog.size() - pos + 1));
  return 0;
}
