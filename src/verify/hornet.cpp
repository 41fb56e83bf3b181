// SPDX-License-Identifier: Apache-2.0
// Offline verification of a Hornet-scheme loader: what the Hornet LSM would
// report for it, and what it would then check against the loader's map.
#include <algorithm>
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/hornet.h"
#include "bpfsig/verify.h"
#include "verify/internal.h"

namespace bpfsig::verify {

namespace {

using detail::decide;

Verdict from_lsm(lsm::IntegrityVerdict v) {
  switch (v) {
    case lsm::IntegrityVerdict::kOk: return Verdict::kOk;
    case lsm::IntegrityVerdict::kUnsigned: return Verdict::kUnsigned;
    case lsm::IntegrityVerdict::kPartialSig: return Verdict::kPartialSig;
    case lsm::IntegrityVerdict::kUnknownKey: return Verdict::kUnknownKey;
    case lsm::IntegrityVerdict::kUnexpected: return Verdict::kUnexpected;
    case lsm::IntegrityVerdict::kBadSig: return Verdict::kBadSig;
    default: return Verdict::kFault;
  }
}

// The design whose kernel would read this attribute. The message keeps the
// attribute it decoded here for the Hornet check that follows.
lsm::HornetDesign design_of(const crypto::KernelMessage& message) {
  try {
    const auto& attr = message.hornet_attribute();
    if (attr && attr->format == crypto::HornetFormat::kV7) return lsm::HornetDesign::kV7;
  } catch (const Error&) {
  }
  return lsm::HornetDesign::kFinal;
}

}  // namespace

Report verify_hornet(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted) {
  Report r;
  r.chain = check_chain(loader);
  const ChainCheck& c = r.chain;
  // The -i certificates play the keyring, which therefore exists: an unknown
  // signer is BADSIG, as Hornet reports it (UNKNOWNKEY is for a keyring_id
  // that names no keyring, which cannot happen offline).
  // The signature is decoded once, and the certificates are used as parsed.
  const crypto::KernelMessage message(loader.signature);
  const lsm::HornetDesign design = design_of(message);
  lsm::HornetSigCheck h =
      lsm::hornet_check_message(loader.insns, loader.signature.empty() ? nullptr : &message, &trusted, design);
  r.signature = std::move(h.signature);
  r.hornet = std::move(h.attribute);
  const Verdict v = from_lsm(h.verdict);
  const std::string prefix = "Hornet (" + lsm::hornet_design_name(design) + ") reports " + verdict_name(v) + ": ";
  switch (h.verdict) {
    case lsm::IntegrityVerdict::kOk: break;
    case lsm::IntegrityVerdict::kUnsigned:
      return decide(std::move(r), v, ENODATA, "unsigned", prefix + h.detail);
    case lsm::IntegrityVerdict::kPartialSig:
      return decide(std::move(r), v, EPERM, h.kind, prefix + h.detail + " (a policy that wants OK refuses it)");
    default:
      return decide(std::move(r), v, r.signature.err != 0 ? r.signature.err : EBADMSG, h.kind, prefix + h.detail);
  }
  if (!c.excl_ok)
    return decide(std::move(r), Verdict::kBadSig, EACCES, "excl_mismatch",
                  "exclusive-map hash " + to_hex(c.excl_hash) + " is not the loader's digest " + to_hex(c.loader_digest) +
                      ": the kernel refuses the load with EACCES");
  // The loader's only map when it loads is the metadata map, in fd_array[0].
  for (const crypto::HornetMapHash& m : r.hornet->maps) {
    if (design == lsm::HornetDesign::kV7 && m.sha.empty()) continue;  // v7 skips an empty hash
    if (design == lsm::HornetDesign::kV7 && m.index != 0)
      return decide(std::move(r), Verdict::kFault, EPERM, "fault",
                    "a signed hash names fd_array[" + std::to_string(m.index) +
                        "], but a light skeleton passes only the metadata map (slot 0): Hornet v7 reports FAULT");
    if (!std::equal(m.sha.begin(), m.sha.end(), c.metadata_sha256.begin(), c.metadata_sha256.end()))
      return decide(std::move(r), Verdict::kUnexpected, EPERM, "map_hash_mismatch",
                    "the signed map hash " + to_hex(m.sha) + " is not the metadata map's " + to_hex(c.metadata_sha256) +
                        (design == lsm::HornetDesign::kFinal ? ": the publish check (bpf_prog hook) refuses with EPERM"
                                                             : ": Hornet v7 reports UNEXPECTED at load"));
  }
  return decide(std::move(r), Verdict::kOk, 0, "ok",
                "signature good over the instructions; the Hornet attribute covers the metadata map (" +
                    std::to_string(r.hornet->maps.size()) + " signed hash(es), " + lsm::hornet_design_name(design) +
                    " design)");
}

}  // namespace bpfsig::verify
