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

SignedLoader sign_object_hornet(const std::string& path, const X509* cert, EVP_PKEY* key, const SignOptions& opts) {
  GeneratedLoader gen = generate_loader(path);
  isa::validate(isa::decode(gen.insns, path + ": generated loader"));

  SignedLoader out;
  out.scheme = Scheme::kHornet;
  out.name = gen.name;
  out.insns = std::move(gen.insns);
  if (out.insns.size() / 8 > kMaxLoaderInsns)
    throw Error(E2BIG, "limit_insns", path + ": loader has " + std::to_string(out.insns.size() / 8) + " instructions");
  out.data = std::move(gen.data);
  out.map_names = std::move(gen.map_names);
  out.prog_names = std::move(gen.prog_names);
  // The light skeleton still creates its metadata map exclusive to the loader.
  crypto::Digest excl = prog_digest(out.insns);
  out.excl_hash.assign(excl.begin(), excl.end());
  // What array_map_get_hash computes for the frozen one-entry metadata map.
  crypto::Digest meta = crypto::sha256_padded8(out.data);
  crypto::HornetMapHash map{0, Bytes(meta.begin(), meta.end())};  // v7: fd_array[0] is the metadata map
  out.signature = crypto::sign_hornet(out.insns, {map}, opts.hornet_format, cert, key);
  if (opts.embed_cert) out.signer_cert = crypto::certificate_der(cert);
  return out;
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
