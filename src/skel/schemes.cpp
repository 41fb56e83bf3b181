// SPDX-License-Identifier: Apache-2.0
// What each signing scheme's PKCS#7 signature covers (docs/signing.md).
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"

namespace bpfsig::skel {

namespace {

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// The light skeleton's fd_array is {metadata map fd}: every signature_maps
// entry must name slot 0. The kernel copies fd_array[idx] from user memory;
// past the array that copy is what fails (EFAULT in the model).
std::vector<crypto::Digest> chained_map_hashes(const SignedLoader& l) {
  std::vector<crypto::Digest> hashes;
  const crypto::Digest metadata = crypto::sha256_padded8(l.data);  // array_map_get_hash of the one-entry map
  for (size_t i = 0; i < l.signature_maps.size(); ++i) {
    if (l.signature_maps[i] != 0)
      throw Error(EFAULT, "signature_maps",
                  "signature_maps[" + std::to_string(i) + "] = " + std::to_string(l.signature_maps[i]) +
                      " names no fd_array slot: the light skeleton passes one fd (the metadata map)");
    hashes.push_back(metadata);
  }
  return hashes;
}

}  // namespace

crypto::Digest hash_chain_value(ByteView insns, const std::vector<crypto::Digest>& map_hashes) {
  // Walk the maps from the last to the first, as the kernel does.
  crypto::Digest chain{};
  for (size_t n = map_hashes.size(); n-- > 0;) {
    if (n + 1 == map_hashes.size()) {
      chain = map_hashes[n];
      continue;
    }
    chain = crypto::sha256(concat(chain, map_hashes[n]));
  }
  crypto::Digest insns_hash = crypto::sha256(insns);
  return crypto::sha256(concat(insns_hash, chain));
}

std::vector<ByteView> signed_content_parts(const SignedLoader& l, crypto::Digest* storage) {
  switch (l.scheme) {
    case Scheme::kLoaderHash: return {l.insns};
    case Scheme::kHornet: return {l.insns};  // the map hashes travel in a signed attribute
    case Scheme::kLoadtime: return {l.insns, l.data};
    case Scheme::kHashChain: {
      // No maps: the series verifies the plain instructions (as 6.18 does).
      if (l.signature_maps.empty()) return {l.insns};
      *storage = hash_chain_value(l.insns, chained_map_hashes(l));
      return {ByteView(*storage)};
    }
    default: break;
  }
  throw Error(EINVAL, "unknown_scheme", "scheme " + scheme_name(l.scheme) + " has no signed content in this version");
}

Bytes signed_content(const SignedLoader& l) {
  crypto::Digest storage{};
  Bytes out;
  for (ByteView part : signed_content_parts(l, &storage)) out.insert(out.end(), part.begin(), part.end());
  return out;
}

}  // namespace bpfsig::skel
