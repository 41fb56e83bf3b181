// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the bundle reader, and verify's chain check on whatever it accepts.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    bpfsig::skel::SignedLoader l = bpfsig::skel::decode_bundle(bpfsig::ByteView(data, size), "fuzz");
    // A bundle has one encoding: what decodes re-encodes to the same bytes,
    // and the seal's content is that encoding without the seal.
    bpfsig::Bytes again = bpfsig::skel::encode_bundle(l);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) __builtin_trap();
    bpfsig::Bytes sealed = bpfsig::skel::seal_content(l);
    if (!l.seal.empty() && sealed.size() >= size) __builtin_trap();
    (void)bpfsig::verify::check_chain(l);
  } catch (const bpfsig::Error&) {
  }
  return 0;
}
