// SPDX-License-Identifier: Apache-2.0
#include "skel/matchblock.h"

#include <cerrno>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"

namespace bpfsig::skel {

using namespace isa;

namespace {

constexpr int32_t kEinvalReturn = -22;  // what the block leaves in r7: -EINVAL
constexpr int16_t kExclFlagOffset = 32; // offsetof(struct bpf_map, excl)
constexpr size_t kDigestWords = 4;      // 32 bytes compared as 4 u64 loads
constexpr size_t kFrameSearchLimit = 16;

bool is_ja(const Insn& i) { return i.code == (kClassJmp | kJmpJa); }

int16_t jump_offset(size_t from_pc, size_t to_pc) {
  int64_t off = static_cast<int64_t>(to_pc) - static_cast<int64_t>(from_pc) - 1;
  if (off < INT16_MIN || off > INT16_MAX) throw Error(ERANGE, "insn_rewrite", "match block jump out of range");
  return static_cast<int16_t>(off);
}

// The map pointer of the loader's metadata map (fd_array slot 0) into r1.
std::vector<Insn> load_metadata_map_ptr() { return ld_imm64(1, kPseudoMapIdx, 0); }

}  // namespace

std::string mismatch_target_name(MismatchTarget t) {
  return t == MismatchTarget::kCleanup ? "cleanup" : "cleanup+1";
}

LoaderFrame find_loader_frame(const std::vector<Insn>& prog) {
  for (size_t pc = 0; pc < prog.size() && pc < kFrameSearchLimit; ++pc) {
    if (!is_ja(prog[pc])) continue;
    LoaderFrame f;
    f.ja_pc = pc;
    f.cleanup_pc = pc + 1;
    int64_t target = static_cast<int64_t>(pc) + 1 + prog[pc].off;
    if (prog[pc].off <= 0 || target >= static_cast<int64_t>(prog.size()))
      throw Error(EBADMSG, "loader_shape", "insn " + std::to_string(pc) + ": the jump over the cleanup block does not go forward inside the program");
    f.body_pc = static_cast<size_t>(target);
    return f;
  }
  throw Error(EBADMSG, "loader_shape", "no jump over a cleanup block in the first " + std::to_string(kFrameSearchLimit) +
                                           " instructions: not a light-skeleton loader");
}

std::vector<Insn> build_match_block(MatchLayout layout, const crypto::Digest& digest, size_t block_pc,
                                    size_t cleanup_pc, MismatchTarget target) {
  const size_t land = cleanup_pc + (target == MismatchTarget::kCleanupPlusOne ? 1 : 0);
  std::vector<Insn> block;
  auto append = [&](const std::vector<Insn>& v) { block.insert(block.end(), v.begin(), v.end()); };
  auto pc = [&] { return block_pc + block.size(); };
  if (layout == MatchLayout::kExcl) {
    // Refuse to trust map->sha unless the map is exclusive to this loader.
    append(load_metadata_map_ptr());
    block.push_back(ldx_mem(kSizeW, 2, 1, kExclFlagOffset));
    block.push_back(mov64_imm(7, kEinvalReturn));
    block.push_back(jmp_imm(kJmpJne, 2, 1, jump_offset(pc(), land)));
  }
  for (size_t i = 0; i < kDigestWords; ++i) {
    append(load_metadata_map_ptr());
    block.push_back(ldx_mem(kSizeDW, 2, 1, static_cast<int16_t>(8 * i)));
    append(ld_imm64(3, 0, load_le64(digest.data() + 8 * i)));
    block.push_back(mov64_imm(7, kEinvalReturn));
    block.push_back(jmp_reg(kJmpJne, 2, 3, jump_offset(pc(), land)));
  }
  return block;
}

size_t insert_match_block(std::vector<Insn>& prog, MatchLayout layout, const crypto::Digest& digest,
                          MismatchTarget target) {
  LoaderFrame frame = find_loader_frame(prog);
  // The cleanup block lies before the insertion point, so its position holds.
  insert(prog, frame.body_pc, build_match_block(layout, digest, frame.body_pc, frame.cleanup_pc, target));
  return frame.body_pc;
}

namespace {

// Reads a match block instruction by instruction. Each expect_* call checks
// one slot and records the first deviation.
class BlockReader {
 public:
  BlockReader(const std::vector<Insn>& prog, size_t pc, MatchBlockInfo& info) : prog_(prog), pc_(pc), info_(info) {}

  bool ok() const { return info_.shape_error.empty(); }
  size_t pc() const { return pc_; }

  bool at_map_ptr_load() const {
    return pc_ + 1 < prog_.size() && prog_[pc_] == ld_imm64(1, kPseudoMapIdx, 0)[0] &&
           prog_[pc_ + 1] == ld_imm64(1, kPseudoMapIdx, 0)[1];
  }

  void expect_slots(const std::vector<Insn>& want, const char* what) {
    for (const Insn& w : want) {
      if (!ok()) return;
      if (pc_ >= prog_.size() || !(prog_[pc_] == w)) return fail(what);
      ++pc_;
    }
  }

  // r3 = imm64 (any value): returns it.
  uint64_t expect_imm64_into_r3() {
    if (!ok()) return 0;
    if (pc_ + 1 >= prog_.size() || prog_[pc_].code != (kClassLd | kSizeDW | kModeImm) || prog_[pc_].dst != 3 ||
        prog_[pc_].src != 0 || prog_[pc_].off != 0 || !(prog_[pc_ + 1] == Insn{0, 0, 0, 0, prog_[pc_ + 1].imm})) {
      fail("r3 = <digest word> ll");
      return 0;
    }
    uint64_t v = static_cast<uint32_t>(prog_[pc_].imm) | uint64_t(static_cast<uint32_t>(prog_[pc_ + 1].imm)) << 32;
    pc_ += 2;
    return v;
  }

  // A conditional jump with the given fixed fields; returns its target.
  std::optional<size_t> expect_jump(const Insn& want_without_off, const char* what) {
    if (!ok()) return std::nullopt;
    if (pc_ >= prog_.size()) {
      fail(what);
      return std::nullopt;
    }
    Insn got = prog_[pc_];
    Insn cmp = got;
    cmp.off = 0;
    if (!(cmp == want_without_off)) {
      fail(what);
      return std::nullopt;
    }
    int64_t target = static_cast<int64_t>(pc_) + 1 + got.off;
    ++pc_;
    if (target < 0) {
      fail(what);
      return std::nullopt;
    }
    return static_cast<size_t>(target);
  }

  void fail(const char* what) {
    if (ok()) info_.shape_error = "insn " + std::to_string(pc_) + ": expected `" + what + "`";
  }

 private:
  const std::vector<Insn>& prog_;
  size_t pc_;
  MatchBlockInfo& info_;
};

// Every mismatch jump of one block must land on the same place: the cleanup
// label, or the libbpf 1.7 off-by-one target.
void classify_targets(const std::vector<size_t>& targets, MatchBlockInfo& info) {
  if (!info.shape_error.empty()) return;
  for (size_t t : targets) {
    if (t != targets.front()) {
      info.shape_error = "mismatch jumps land on different instructions (" + std::to_string(targets.front()) + " and " +
                         std::to_string(t) + ")";
      return;
    }
  }
  if (targets.front() == info.cleanup_pc) {
    info.target = MismatchTarget::kCleanup;
  } else if (targets.front() == info.cleanup_pc + 1) {
    info.target = MismatchTarget::kCleanupPlusOne;
  } else {
    info.shape_error = "mismatch jumps land on insn " + std::to_string(targets.front()) + ", not on the cleanup block at " +
                       std::to_string(info.cleanup_pc);
  }
}

}  // namespace

MatchBlockInfo read_match_block(const std::vector<Insn>& prog) {
  MatchBlockInfo info;
  LoaderFrame frame = find_loader_frame(prog);
  info.start_pc = frame.body_pc;
  info.cleanup_pc = frame.cleanup_pc;
  BlockReader r(prog, frame.body_pc, info);
  if (!r.at_map_ptr_load()) return info;  // no block at all
  info.found = true;

  std::vector<size_t> targets;
  const std::vector<Insn> map_ptr = load_metadata_map_ptr();
  // The excl prefix reads a u32 at offset 32; the first digest word reads a u64 at 0.
  bool has_excl_prefix = r.pc() + 2 < prog.size() && prog[r.pc() + 2] == ldx_mem(kSizeW, 2, 1, kExclFlagOffset);
  info.layout = has_excl_prefix ? MatchLayout::kExcl : MatchLayout::k618;
  if (has_excl_prefix) {
    r.expect_slots(map_ptr, "r1 = map[idx:0]");
    r.expect_slots({ldx_mem(kSizeW, 2, 1, kExclFlagOffset)}, "r2 = *(u32 *)(r1 +32)");
    r.expect_slots({mov64_imm(7, kEinvalReturn)}, "r7 = -22");
    if (auto t = r.expect_jump(jmp_imm(kJmpJne, 2, 1, 0), "if r2 != 0x1 goto cleanup")) targets.push_back(*t);
  }
  for (size_t i = 0; i < kDigestWords && r.ok(); ++i) {
    r.expect_slots(map_ptr, "r1 = map[idx:0]");
    std::string load = "r2 = *(u64 *)(r1 +" + std::to_string(8 * i) + ")";
    r.expect_slots({ldx_mem(kSizeDW, 2, 1, static_cast<int16_t>(8 * i))}, load.c_str());
    uint64_t word = r.expect_imm64_into_r3();
    store_le64(info.digest.data() + 8 * i, word);
    r.expect_slots({mov64_imm(7, kEinvalReturn)}, "r7 = -22");
    if (auto t = r.expect_jump(jmp_reg(kJmpJne, 2, 3, 0), "if r2 != r3 goto cleanup")) targets.push_back(*t);
  }
  info.length = r.pc() - info.start_pc;
  if (info.shape_error.empty()) classify_targets(targets, info);
  return info;
}

bool loader_reads_map_hash(const SignedLoader& loader) {
  try {
    return read_match_block(isa::decode(loader.insns, "loader")).found;
  } catch (const Error&) {
    return true;
  }
}

}  // namespace bpfsig::skel
