// SPDX-License-Identifier: Apache-2.0
#include <openssl/evp.h>

#include "bpfsig/crypto.h"
#include "crypto/ossl.h"

namespace bpfsig::crypto {

Digest sha256(ByteView data) {
  ossl::ErrorQueueGuard guard;
  Digest out{};
  unsigned int len = 0;
  // EVP_Digest wants a non-null pointer even for empty input.
  static const uint8_t kEmpty = 0;
  const void* base = data.empty() ? &kEmpty : data.data();
  if (EVP_Digest(base, data.size(), out.data(), &len, ossl::sha256_md(), nullptr) != 1 || len != out.size())
    throw ossl::failure(EIO, "crypto", "SHA-256 failed");
  return out;
}

Digest sha256(const MessageWriter& write) {
  ossl::ErrorQueueGuard guard;
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), ossl::sha256_md(), nullptr) != 1)
    throw ossl::failure(ENOMEM, "crypto", "cannot start SHA-256");
  bool hashed = true;
  write([&](ByteView piece) {
    if (hashed && !piece.empty()) hashed = EVP_DigestUpdate(ctx.get(), piece.data(), piece.size()) == 1;
  });
  Digest out{};
  unsigned int len = 0;
  if (!hashed || EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size())
    throw ossl::failure(EIO, "crypto", "SHA-256 failed");
  return out;
}

Digest sha256(const std::vector<ByteView>& parts) {
  return sha256([&](const std::function<void(ByteView)>& put) {
    for (ByteView part : parts) put(part);
  });
}

Digest sha256_padded8(ByteView data) {
  // The kernel hashes elem_size = round_up(value_size, 8) bytes; the tail is zero.
  static const uint8_t kZeros[8] = {};
  const size_t pad = (8 - data.size() % 8) % 8;
  return sha256(std::vector<ByteView>{data, ByteView(kZeros, pad)});
}

}  // namespace bpfsig::crypto
