// SPDX-License-Identifier: Apache-2.0
// insert() and remove(): splice slots in or out and re-aim every pc-relative
// offset (jumps, gotol, bpf-to-bpf calls, ld_imm64 func pointers) so each
// instruction keeps its meaning.
#include <cerrno>
#include <limits>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"

namespace bpfsig::isa {

namespace {

[[noreturn]] void refuse(int err, const std::string& message) { throw Error(err, "insn_rewrite", message); }

// True when slot `boundary` is the second half of an ld_imm64: a cut or an
// insertion there would tear the 16-byte instruction apart.
bool splits_ld_imm64(const std::vector<Insn>& prog, size_t boundary) {
  for (size_t pc = 0; pc < boundary && pc < prog.size(); pc += is_ld_imm64(prog[pc]) ? 2 : 1)
    if (is_ld_imm64(prog[pc]) && pc + 1 == boundary) return true;
  return false;
}

void check_boundary(const std::vector<Insn>& prog, size_t boundary, const char* what) {
  if (splits_ld_imm64(prog, boundary))
    refuse(EINVAL, std::string(what) + " " + std::to_string(boundary) + " splits the ld_imm64 at slot " +
                       std::to_string(boundary - 1));
}

template <typename Int>
bool fits(int64_t v) {
  return v >= std::numeric_limits<Int>::min() && v <= std::numeric_limits<Int>::max();
}

// Stores delta in whichever field holds the offset of insn (old slot pc).
void set_offset(Insn& insn, int64_t delta, size_t pc) {
  bool in_imm = target_offset_in_imm(insn);
  if (in_imm ? !fits<int32_t>(delta) : !fits<int16_t>(delta))
    refuse(ERANGE, "insn " + std::to_string(pc) + ": new offset " + std::to_string(delta) + " does not fit in " +
                       (in_imm ? "imm (32 bits)" : "off (16 bits)"));
  if (in_imm)
    insn.imm = static_cast<int32_t>(delta);
  else
    insn.off = static_cast<int16_t>(delta);
}

// Returns a copy of prog, still in the old numbering, whose pc-relative
// offsets are right for the new layout. new_slot(s) is where the instruction
// at old slot s will sit (nullopt: it is being dropped, leave it);
// new_target(t, s) is where the old target t of that instruction will be.
// Working on a copy leaves prog untouched when a fixup throws.
template <typename SlotMap, typename TargetMap>
std::vector<Insn> retarget(const std::vector<Insn>& prog, SlotMap new_slot, TargetMap new_target) {
  std::vector<Insn> out = prog;
  for (size_t pc = 0; pc < prog.size(); pc += is_ld_imm64(prog[pc]) ? 2 : 1) {
    std::optional<int64_t> target = relative_target(prog, pc);
    std::optional<int64_t> source = new_slot(pc);
    if (!target || !source) continue;
    set_offset(out[pc], new_target(*target, pc) - *source - 1, pc);
  }
  return out;
}

}  // namespace

void insert(std::vector<Insn>& prog, size_t pos, const std::vector<Insn>& block) {
  if (pos > prog.size())
    refuse(EINVAL, "insert position " + std::to_string(pos) + " is past the end (" + std::to_string(prog.size()) +
                       " slots)");
  check_boundary(prog, pos, "insert position");
  if (block.empty()) return;
  const int64_t at = static_cast<int64_t>(pos);
  const int64_t k = static_cast<int64_t>(block.size());
  auto new_slot = [&](size_t s) -> std::optional<int64_t> {
    int64_t slot = static_cast<int64_t>(s);
    return slot < at ? slot : slot + k;
  };
  // One rule for every source, before or after pos: a target at pos now
  // means the first inserted instruction, so a jump to the insertion point
  // runs the new code.
  auto new_target = [&](int64_t t, size_t) { return t <= at ? t : t + k; };
  std::vector<Insn> out = retarget(prog, new_slot, new_target);
  out.insert(out.begin() + at, block.begin(), block.end());
  prog = std::move(out);
}

void remove(std::vector<Insn>& prog, size_t pos, size_t count) {
  if (pos > prog.size() || count > prog.size() - pos)
    refuse(EINVAL, "removing " + std::to_string(count) + " slots at " + std::to_string(pos) + " runs past the end (" +
                       std::to_string(prog.size()) + " slots)");
  check_boundary(prog, pos, "remove start");
  check_boundary(prog, pos + count, "remove end");
  if (count == 0) return;
  const int64_t at = static_cast<int64_t>(pos);
  const int64_t end = at + static_cast<int64_t>(count);
  auto new_slot = [&](size_t s) -> std::optional<int64_t> {
    int64_t slot = static_cast<int64_t>(s);
    if (slot < at) return slot;
    if (slot >= end) return slot - static_cast<int64_t>(count);
    return std::nullopt;  // removed with the range
  };
  // The inverse of insert(): a target at pos moves on to what follows the
  // range (which then sits at pos), a target past the range shifts down, and
  // a target strictly inside it has nothing left to land on.
  auto new_target = [&](int64_t t, size_t source) {
    if (t <= at) return t;
    if (t >= end) return t - static_cast<int64_t>(count);
    refuse(EINVAL, "insn " + std::to_string(source) + ": target " + std::to_string(t) + " is inside the removed range [" +
                       std::to_string(at) + ", " + std::to_string(end) + ")");
  };
  std::vector<Insn> out = retarget(prog, new_slot, new_target);
  out.erase(out.begin() + at, out.begin() + end);
  prog = std::move(out);
}

}  // namespace bpfsig::isa
