// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the signed-header reader (C string literals and all).
#include <cstddef>
#include <cstdint>
#include <string>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::string text(reinterpret_cast<const char*>(data), size);
    bpfsig::skel::SignedLoader l = bpfsig::skel::parse_header(text, "fuzz.h");
    // A header we can read must survive being written and read again.
    bpfsig::skel::SignedLoader back = bpfsig::skel::parse_header(bpfsig::skel::render_header(l), "again.h");
    if (back.insns != l.insns || back.data != l.data || back.signature != l.signature) __builtin_trap();
    (void)bpfsig::verify::check_chain(l);
    // The loader's instructions and blob are the input's: following them
    // (signed maps, ctx reads, the initial-value literals) may only refuse.
    (void)bpfsig::skel::loader_ctx_overrides(l);
    bpfsig::skel::check_header_initial_values(l, "fuzz.h");
  } catch (const bpfsig::Error&) {
  }
  return 0;
}
