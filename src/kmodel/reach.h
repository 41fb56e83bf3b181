// SPDX-License-Identifier: Apache-2.0
// Which instructions the verifier's path walk reaches (reach.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/isa.h"

namespace bpfsig::kmodel {

// A call the kernel refuses only when its path walk reaches it:
// - a CO-RE relocation that could not be satisfied poisons its instruction
//   into `call 0xbad2310` (relo_core.c); do_check's check_helper_call then
//   says "invalid func unknown#195896080", EINVAL;
// - a weak kfunc the loader did not find is a kfunc call with imm 0;
//   check_kfunc_call lets it pass, dead-code removal drops it when it is not
//   reached, and fixup_kfunc_call refuses what is left ("invalid kernel
//   function call not eliminated in verifier pass", EINVAL).
struct ReachedCall {
  size_t pc = 0;
  std::string message;  // the verifier's words
};

inline constexpr int32_t kCorePoisonHelper = 0xbad2310;

// The first such call, in instruction order, that the walk reaches; none when
// every one of them is dead. The walk knows what the verifier knows of
// constants: registers set from immediates (mov, ld_imm64, ALU on known
// values), map and BTF pseudo-pointers (never NULL), and a conditional jump
// whose outcome those decide takes one edge only. It is a data-flow
// approximation of the verifier's path-sensitive walk: at a join point a
// register keeps its value only if every path agrees. Programs without such a
// call are not walked.
std::optional<ReachedCall> first_reached_refused_call(const std::vector<isa::Insn>& insns);

// check_cfg(): the first instruction no edge leads to from the entry (every
// branch of a conditional jump counts, values aside; calls lead into their
// subprogram, ld_imm64 of a function into the callback), which the kernel
// refuses with "unreachable insn N", EINVAL. The second slot of an ld_imm64
// is part of the first.
std::optional<size_t> first_unreachable_insn(const std::vector<isa::Insn>& insns);

}  // namespace bpfsig::kmodel
