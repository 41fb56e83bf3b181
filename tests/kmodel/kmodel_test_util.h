// SPDX-License-Identifier: Apache-2.0
// Helpers the kernel-model tests share.
#pragma once

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "support/sign_options.h"
#include "support/signer.h"
#include "support/support.h"

namespace bpfsig::test {

// The errno fn throws as a bpfsig::Error, 0 when it does not throw.
inline int errno_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.err();
  }
  return 0;
}

inline const std::vector<std::string> kExamples = {"execcount", "multimap", "xdpfilter"};

// Each example signed once per test executable (scheme loader-hash with the
// excl block, the signature over the instructions) with the default test signer.
inline const skel::SignedLoader& signed_example(const std::string& name) {
  static std::map<std::string, skel::SignedLoader> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  TestSigner& signer = default_signer();
  auto loader = skel::sign_object(examples_dir() + "/" + name + ".bpf.o", signer.cert.get(), signer.key.get(),
                                  loader_hash_excl());
  return cache.emplace(name, std::move(loader)).first->second;
}

// Each example signed once per test executable with the given scheme
// (loadtime: no hash-match block, signature over insns || metadata;
// hash-chain: signature over the chained hash, signature_maps {0}).
inline const skel::SignedLoader& scheme_example(const std::string& name, skel::Scheme scheme) {
  static std::map<std::pair<std::string, skel::Scheme>, skel::SignedLoader> cache;
  auto key = std::make_pair(name, scheme);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  TestSigner& signer = default_signer();
  skel::SignOptions options;
  options.scheme = scheme;
  auto loader = skel::sign_object(examples_dir() + "/" + name + ".bpf.o", signer.cert.get(), signer.key.get(), options);
  return cache.emplace(key, std::move(loader)).first->second;
}

// One BTF_KIND_INT "int" (32-bit signed): the smallest BTF the kernel accepts.
inline Bytes minimal_btf() {
  Bytes btf(24 + 16 + 5, 0);
  store_le16(&btf[0], 0xeB9F);
  btf[2] = 1;
  store_le32(&btf[4], 24);            // hdr_len
  store_le32(&btf[8], 0);             // type_off
  store_le32(&btf[12], 16);           // type_len
  store_le32(&btf[16], 16);           // str_off
  store_le32(&btf[20], 5);            // str_len
  store_le32(&btf[24], 1);            // name_off: "int"
  store_le32(&btf[28], 1u << 24);     // info: BTF_KIND_INT
  store_le32(&btf[32], 4);            // size
  store_le32(&btf[36], 0x01000020);   // SIGNED, 32 bits
  std::memcpy(&btf[40], "\0int\0", 5);
  return btf;
}

}  // namespace bpfsig::test
