// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the Hornet attribute decoder (hornet_attribute), the
// kernel's PKCS#7 parser rules (parse_kernel_rules), the kernel-rules
// verifier and Hornet's whole signature check on arbitrary DER. None may
// crash, throw anything but bpfsig::Error (hornet_attribute) or throw at all
// (the checks), leave OpenSSL errors queued, or give a verdict Hornet never
// reports. Seeds: fuzz/corpus/fuzz_hornet/ (signatures bpfsig made: final
// and v7 Hornet attributes, and a bpftool-profile one without attribute).
#include <openssl/err.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/hornet.h"

namespace {

// The instructions the seeds were not necessarily made over: verification
// fails at the digest for most inputs, which still walks the parse phase.
const bpfsig::Bytes kContent(64, 0x95);

void check_errno(int err) {
  switch (err) {
    case 0: case EBADMSG: case EKEYREJECTED: case ENOKEY: case ENOPKG: case EINVAL: case ENOMEM: return;
    default: std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bpfsig::ByteView input(data, size);
  try {
    auto attr = bpfsig::crypto::hornet_attribute(input);
    if (attr && attr->format == bpfsig::crypto::HornetFormat::kV7)
      for (const auto& m : attr->maps)
        if (m.index > 255) std::abort();  // v7 reads one content byte
  } catch (const bpfsig::Error&) {
  }
  if (ERR_peek_error() != 0) std::abort();
  check_errno(bpfsig::crypto::parse_kernel_rules(input).err);
  check_errno(bpfsig::crypto::verify_kernel_rules(input, kContent, {}).err);
  const bpfsig::Bytes sig(data, data + size);
  for (auto design : {bpfsig::lsm::HornetDesign::kFinal, bpfsig::lsm::HornetDesign::kV7}) {
    auto c = bpfsig::lsm::hornet_check_signature(kContent, sig, std::vector<bpfsig::Bytes>{}, design);
    if (c.verdict == bpfsig::lsm::IntegrityVerdict::kNone || c.verdict == bpfsig::lsm::IntegrityVerdict::kUnsigned)
      std::abort();  // a present signature is never "none" or "unsigned"
  }
  if (ERR_peek_error() != 0) std::abort();
  return 0;
}
