// SPDX-License-Identifier: Apache-2.0
// skel::SignOptions spelled out, for tests that mean one scheme and block
// rather than whatever the defaults are (loadtime; for loader-hash, bpftool
// 7.7's 28-instruction block with the mismatch jumps at cleanup+1).
#pragma once

#include "bpfsig/skel.h"

namespace bpfsig::test {

inline skel::SignOptions loader_hash_options(skel::MatchLayout layout, skel::MismatchTarget target) {
  skel::SignOptions o;
  o.scheme = skel::Scheme::kLoaderHash;
  o.layout = layout;
  o.mismatch_target = target;
  return o;
}

// The 33-instruction block with the mismatch jumps at the cleanup label:
// what tests written before issue 12 got from SignOptions{}.
inline skel::SignOptions loader_hash_excl() {
  return loader_hash_options(skel::MatchLayout::kExcl, skel::MismatchTarget::kCleanup);
}

}  // namespace bpfsig::test
