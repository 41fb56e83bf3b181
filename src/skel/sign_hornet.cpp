// SPDX-License-Identifier: Apache-2.0
// Scheme "hornet": the loader unchanged, the metadata covered by a signed
// attribute that the Hornet LSM checks against the frozen metadata map.
#include "skel/hornet.h"

#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "skel/genloader.h"
#include "skel/internal.h"

namespace bpfsig::skel {

Bytes hornet_signature(const SignedLoader& loader, crypto::HornetFormat format, const X509* cert, EVP_PKEY* key) {
  // What array_map_get_hash computes for the frozen one-entry metadata map.
  crypto::Digest meta = crypto::sha256_padded8(loader.data);
  crypto::HornetMapHash map{0, Bytes(meta.begin(), meta.end())};  // v7: fd_array[0] is the metadata map
  return crypto::sign_hornet(loader.insns, {map}, format, cert, key);
}

void mark_hornet_scheme(SignedLoader& l) {
  if (l.signature.empty()) return;
  try {
    if (crypto::hornet_attribute(l.signature)) l.scheme = Scheme::kHornet;
  } catch (const Error& e) {
    if (e.kind() == "hornet_asn1") l.scheme = Scheme::kHornet;
  }
}

}  // namespace bpfsig::skel
