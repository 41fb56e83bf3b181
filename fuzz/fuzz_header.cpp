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
  } catch (const bpfsig::Error&) {
  }
  return 0;
}
