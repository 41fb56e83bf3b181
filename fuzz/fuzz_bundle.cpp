// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the bundle reader, and verify's chain check on whatever it accepts.
#include <cstddef>
#include <cstdint>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    bpfsig::skel::SignedLoader l = bpfsig::skel::decode_bundle(bpfsig::ByteView(data, size), "fuzz");
    // What decodes must survive encoding and decoding again unchanged
    // (optional extension sections are skipped, so bytes may differ).
    bpfsig::Bytes again = bpfsig::skel::encode_bundle(l);
    bpfsig::skel::SignedLoader back = bpfsig::skel::decode_bundle(again, "again");
    if (back.insns != l.insns || back.data != l.data || back.signature != l.signature ||
        back.map_names != l.map_names || back.prog_names != l.prog_names || back.signer_cert != l.signer_cert)
      __builtin_trap();
    (void)bpfsig::verify::check_chain(l);
  } catch (const bpfsig::Error&) {
  }
  return 0;
}
