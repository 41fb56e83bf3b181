// SPDX-License-Identifier: Apache-2.0
// What the running kernel can do, for tests that need it: each missing_*()
// returns why a test cannot run here ("" when it can), for
// SKIP_UNLESS(missing_...()) (support.h), which reports "skipped: <why>". Header-only, so
// executables that do not link the sys module are unaffected.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "bpfsig/sys.h"
#include "support/support.h"

namespace bpfsig::test {

inline const sys::KernelFeatures& kernel_features() {
  static const sys::KernelFeatures f = sys::probe_kernel();
  return f;
}

inline std::string missing_bpf() {
  if (!is_root()) return "needs root for bpf()";
  if (!kernel_features().bpf) return "bpf() does not work here: " + kernel_features().reason;
  return "";
}

inline std::string missing_map_hash() {
  if (auto why = missing_bpf(); !why.empty()) return why;
  if (!kernel_features().map_hash) return "no BPF map hashes: " + kernel_features().reason;
  return "";
}

inline std::string missing_excl_maps() {
  if (auto why = missing_map_hash(); !why.empty()) return why;
  if (!kernel_features().excl_maps) return "no exclusive maps: " + kernel_features().reason;
  return "";
}

}  // namespace bpfsig::test

