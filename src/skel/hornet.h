// SPDX-License-Identifier: Apache-2.0
// Private to src/skel: the Hornet scheme (docs/hornet.md).
#pragma once

#include "bpfsig/skel.h"

namespace bpfsig::skel {

// The light-skeleton loader as libbpf generates it (no hash-match block:
// Hornet checks the maps itself), signed with sign_hornet over its
// instructions and one map hash, the kernel's hash of the metadata map
// (SHA-256 of the blob zero-padded to 8; v7: fd_array slot 0).
SignedLoader sign_object_hornet(const std::string& path, const X509* cert, EVP_PKEY* key, const SignOptions& opts);

// Sets l.scheme to kHornet when its signature carries a Hornet attribute
// (a malformed one too); leaves it otherwise.
void mark_hornet_scheme(SignedLoader& l);

}  // namespace bpfsig::skel
