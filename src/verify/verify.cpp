// SPDX-License-Identifier: Apache-2.0
#include "bpfsig/verify.h"

#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "skel/matchblock.h"
#include "verify/internal.h"

namespace bpfsig::verify {

std::string verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "OK";
    case Verdict::kUnsigned: return "UNSIGNED";
    case Verdict::kPartialSig: return "PARTIALSIG";
    case Verdict::kUnknownKey: return "UNKNOWNKEY";
    case Verdict::kUnexpected: return "UNEXPECTED";
    case Verdict::kFault: return "FAULT";
    case Verdict::kBadSig: return "BADSIG";
  }
  return "FAULT";
}

namespace {

void read_block(const skel::SignedLoader& loader, ChainCheck& c) {
  std::vector<isa::Insn> prog;
  try {
    prog = isa::decode(loader.insns, "loader");
    skel::MatchBlockInfo info = skel::read_match_block(prog);
    c.block_found = info.found;
    if (!info.found) return;
    c.layout = info.layout == skel::MatchLayout::kExcl ? "excl" : "6.18";
    c.block_start = info.start_pc;
    c.block_length = info.length;
    c.cleanup_pc = info.cleanup_pc;
    c.shape_error = info.shape_error;
    if (info.shape_error.empty()) {
      c.mismatch_target = skel::mismatch_target_name(info.target);
      c.signed_metadata_sha256 = info.digest;
    }
  } catch (const Error& e) {
    // A loader that does not even start like one still "has" a block position
    // for the report; the verdict treats it as a malformed block.
    c.block_found = true;
    c.shape_error = e.what();
  }
}

}  // namespace

ChainCheck check_chain(const skel::SignedLoader& loader) {
  ChainCheck c;
  c.metadata_sha256 = crypto::sha256_padded8(loader.data);
  c.loader_digest = skel::prog_digest(loader.insns);
  c.excl_hash = loader.excl_hash;
  c.excl_ok = std::equal(c.excl_hash.begin(), c.excl_hash.end(), c.loader_digest.begin(), c.loader_digest.end());
  read_block(loader, c);
  c.metadata_ok = c.block_found && c.shape_error.empty() && c.signed_metadata_sha256 == c.metadata_sha256;
  return c;
}

namespace {

using detail::decide;

}  // namespace

namespace {

std::string content_name(skel::Scheme scheme, bool with_maps) {
  if (scheme == skel::Scheme::kLoadtime) return "insns || metadata";
  if (scheme == skel::Scheme::kHashChain && with_maps) return "hash chain";
  return "insns";
}

// Where the metadata is checked when the signature already covers it
// (loadtime, hash-chain): a block, if the loader still has one, must agree.
Report decide_covered(Report r, const skel::SignedLoader& loader) {
  const ChainCheck& c = r.chain;
  if (c.block_found && c.shape_error.empty() && !c.metadata_ok)
    return decide(std::move(r), Verdict::kBadSig, EINVAL, "metadata_mismatch",
                  "the kernel accepts the metadata, but the loader's hash-match block names " +
                      to_hex(*c.signed_metadata_sha256) + ": the loader would return -22 (EINVAL)");
  return decide(std::move(r), Verdict::kOk, 0, "ok",
                "signature good over the " + r.signed_content + " (" + skel::scheme_name(loader.scheme) +
                    "): the kernel checks the metadata at load, before the LSM hook");
}

}  // namespace

namespace {

// The trusted certificate that verified the program's signature, as the
// signature check names it: no certificate is described or compared again.
const crypto::Certificate* program_signer(const Report& r, const std::vector<crypto::Certificate>& trusted) {
  const int i = r.signature.signer_index;
  if (i < 0 || static_cast<size_t>(i) >= trusted.size()) return nullptr;
  return &trusted[static_cast<size_t>(i)];
}

// The seal is checked only once everything the kernel checks has passed, so a
// change the kernel notices is reported with the kernel's errno.
Report check_seal(Report r, const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted) {
  r.seal.present = !loader.seal.empty();
  if (!r.seal.present || r.err != 0) return r;
  r.seal.checked = true;
  const crypto::Certificate* signer = program_signer(r, trusted);
  // The seal's message (the bundle without its seal) is hashed from the
  // loader's fields as it is written, never built.
  r.seal.ok = signer && crypto::message_signature_verifies(
                            loader.seal, [&](const auto& put) { skel::write_seal_content(loader, put); }, signer->get());
  if (r.seal.ok) return r;
  return decide(std::move(r), Verdict::kBadSig, EKEYREJECTED, "bundle_seal",
                "the kernel would accept the program, but the bundle's seal does not verify under its signer's "
                "certificate: the bundle was changed after signing (names, certificate or extensions)");
}

Report verify_scheme(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted) {
  if (loader.scheme == skel::Scheme::kHornet) {
    Report r = verify_hornet(loader, trusted);
    r.scheme = skel::scheme_name(loader.scheme);
    r.signed_content = "insns";  // plus the map hashes, in the signed attribute
    r.signed_content_size = loader.insns.size();
    return r;
  }
  Report r;
  r.chain = check_chain(loader);
  const ChainCheck& c = r.chain;
  r.scheme = skel::scheme_name(loader.scheme);
  r.signature_maps = loader.signature_maps;
  r.signed_content = content_name(loader.scheme, !loader.signature_maps.empty());

  if (loader.signature.empty())
    return decide(std::move(r), Verdict::kUnsigned, ENODATA, "unsigned", "the loader carries no signature");
  crypto::Digest chain_value{};
  std::vector<ByteView> content;
  try {
    content = skel::signed_content_parts(loader, &chain_value);
  } catch (const Error& e) {
    return decide(std::move(r), Verdict::kFault, e.err(), e.kind(), e.what());
  }
  r.signed_content_size = 0;
  for (ByteView part : content) r.signed_content_size += part.size();
  if (r.signed_content == "hash chain") r.signed_value = to_hex(chain_value);
  r.signature = crypto::verify_kernel_rules(loader.signature, content, trusted);
  if (r.signature.err != 0) {
    Verdict v = r.signature.err == ENOKEY ? Verdict::kUnknownKey : Verdict::kBadSig;
    std::string msg = "signature over the " + r.signed_content + " rejected (" + errno_name(r.signature.err) +
                      "): " + r.signature.detail;
    int err = r.signature.err;
    std::string kind = r.signature.kind;
    return decide(std::move(r), v, err, kind, msg);
  }
  if (!c.excl_ok)
    return decide(std::move(r), Verdict::kBadSig, EACCES, "excl_mismatch",
                  "exclusive-map hash " + to_hex(c.excl_hash) + " is not the loader's digest " + to_hex(c.loader_digest) +
                      ": the kernel refuses the load with EACCES");
  if (loader.scheme != skel::Scheme::kLoaderHash) return decide_covered(std::move(r), loader);
  if (!c.block_found)
    return decide(std::move(r), Verdict::kPartialSig, EPERM, "metadata_not_covered",
                  "signature good over the instructions, but the loader has no hash-match block: the " +
                      std::to_string(loader.data.size()) +
                      "-byte metadata is not covered by the signature on any kernel");
  if (!c.shape_error.empty())
    return decide(std::move(r), Verdict::kUnexpected, EBADMSG, "match_block_shape",
                  "hash-match block at insn " + std::to_string(c.block_start) + " is malformed: " + c.shape_error);
  if (!c.metadata_ok)
    return decide(std::move(r), Verdict::kBadSig, EINVAL, "metadata_mismatch",
                  "metadata SHA-256 " + to_hex(c.metadata_sha256) + " differs from the signed " + to_hex(*c.signed_metadata_sha256) +
                      ": the loader would return -22 (EINVAL)");
  return decide(std::move(r), Verdict::kOk, 0, "ok",
                "signature good over the instructions; the hash-match block covers the metadata");
}

// A bundle's signer certificate is what `load --keyring own` hands to
// add_key before BPF_PROG_LOAD; the kernel's key parser refuses one whose key
// it cannot use (ENOPKG), so the load fails there, whatever else holds.
// (A certificate that does not even parse is the seal's to report.)
std::optional<std::string> unusable_signer_key(const skel::SignedLoader& loader) {
  if (loader.signature.empty() || loader.signer_cert.empty()) return std::nullopt;
  crypto::Certificate cert;
  try {
    cert = crypto::parse_certificate(loader.signer_cert, "the bundle's signer certificate");
  } catch (const Error&) {
    return std::nullopt;
  }
  crypto::KernelKeyClass key = crypto::classify_kernel_key(X509_get0_pubkey(cert.get()));
  if (key.usable) return std::nullopt;
  return "the bundle's signer certificate has a " + key.algo + " key, which the kernel cannot use for BPF signatures (it accepts " +
         crypto::kKernelKeyAlgorithms + ")";
}

Report refuse_unusable_signer(Report r, const skel::SignedLoader& loader) {
  if (auto why = unusable_signer_key(loader))
    return decide(std::move(r), Verdict::kBadSig, ENOPKG, "unsupported_algo", *why + ": add_key refuses it (ENOPKG)");
  return r;
}

}  // namespace

Report verify_loader(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted) {
  Report r = check_seal(refuse_unusable_signer(verify_scheme(loader, trusted), loader), loader, trusted);
  try {
    r.ctx_overrides = skel::loader_ctx_overrides(loader);
  } catch (const Error&) {
    // Instructions that do not decode: the checks above already said so.
  }
  return r;
}

Report verify_signed_input(skel::SignedInput& input, const std::vector<crypto::Certificate>& trusted) {
  Report r = verify_loader(input.loader, trusted);
  if (r.err == 0 || input.format != "header" || input.loader.scheme != skel::Scheme::kLoaderHash ||
      check_chain(input.loader).block_found)
    return r;
  skel::SignedLoader as_loadtime = input.loader;
  as_loadtime.scheme = skel::Scheme::kLoadtime;
  Report loadtime = verify_loader(as_loadtime, trusted);
  if (loadtime.err != 0) return r;  // not that either: the loader-hash reading's answer stands
  input.loader.scheme = skel::Scheme::kLoadtime;
  return loadtime;
}

}  // namespace bpfsig::verify
