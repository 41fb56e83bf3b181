// SPDX-License-Identifier: Apache-2.0
// Private to src/skel: the Hornet scheme (docs/hornet.md).
#pragma once

#include "bpfsig/skel.h"

namespace bpfsig::skel {

// The Hornet signature of a loader (libbpf's, without a hash-match block:
// Hornet checks the maps itself): sign_hornet over its instructions with one
// map hash, the kernel's hash of the metadata map (SHA-256 of the blob
// zero-padded to 8; v7: fd_array slot 0).
Bytes hornet_signature(const SignedLoader& loader, crypto::HornetFormat format, const X509* cert, EVP_PKEY* key);

// Sets l.scheme to kHornet when its signature carries a Hornet attribute
// (a malformed one too); leaves it otherwise.
void mark_hornet_scheme(SignedLoader& l);

}  // namespace bpfsig::skel
