// SPDX-License-Identifier: Apache-2.0
// The hash-match block of a Linux 6.18 light-skeleton loader: where libbpf puts
// it, how it is built, and how to read it back and check its shape.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"

namespace bpfsig::skel {

// A loader starts "r6 = r1; <zero the stack>; goto over_cleanup; cleanup: ...".
// The cleanup block begins right after that first JA, and the first code the
// JA lands on is where libbpf 1.7 emits the hash-match block.
struct LoaderFrame {
  size_t ja_pc = 0;       // the jump over the cleanup block
  size_t cleanup_pc = 0;  // ja_pc + 1
  size_t body_pc = 0;     // the JA's target
};
// Throws Error(EBADMSG, "loader_shape") when the program does not start like a
// gen_loader loader.
LoaderFrame find_loader_frame(const std::vector<isa::Insn>& prog);

std::string mismatch_target_name(MismatchTarget t);

// The block for a loader whose cleanup label is at cleanup_pc, to be placed at
// block_pc, checking for `digest` (the SHA-256 of the metadata map's value).
std::vector<isa::Insn> build_match_block(MatchLayout layout, const crypto::Digest& digest, size_t block_pc,
                                         size_t cleanup_pc, MismatchTarget target = MismatchTarget::kCleanup);

// Inserts the block at the loader's body and returns where it went.
size_t insert_match_block(std::vector<isa::Insn>& prog, MatchLayout layout, const crypto::Digest& digest,
                          MismatchTarget target = MismatchTarget::kCleanup);

// What a shape check found. `found` is false when the code at the body does
// not begin like a match block (no block at all); when it begins like one but
// deviates, `shape_error` says at which instruction and how.
struct MatchBlockInfo {
  bool found = false;
  std::string shape_error;  // empty when the shape is exact
  MatchLayout layout = MatchLayout::k618;
  size_t start_pc = 0;
  size_t length = 0;
  size_t cleanup_pc = 0;
  MismatchTarget target = MismatchTarget::kCleanup;
  crypto::Digest digest{};  // the four immediates, in memory order
};
MatchBlockInfo read_match_block(const std::vector<isa::Insn>& prog);

}  // namespace bpfsig::skel
