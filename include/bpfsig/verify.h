// SPDX-License-Identifier: Apache-2.0
// Offline verification of a signed loader with the kernel's rules: the PKCS#7
// signature over the instructions, the exclusive-map hash, and the hash chain
// from the signed instructions to the metadata (the hash-match block).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/skel.h"

namespace bpfsig::verify {

// Named after the Hornet/LSM integrity verdicts, so offline results read the
// same as what an integrity LSM would report.
enum class Verdict { kOk, kUnsigned, kPartialSig, kUnknownKey, kUnexpected, kFault, kBadSig };
std::string verdict_name(Verdict v);  // "OK", "UNSIGNED", "PARTIALSIG", ...

// What the hash-match block says and whether the metadata matches it. The
// digests are kept as bytes and compared as bytes; output renders them in
// hex (to_hex).
struct ChainCheck {
  bool block_found = false;
  std::string layout;            // "6.18" (28 insns) or "excl" (33 insns)
  size_t block_start = 0;        // instruction index
  size_t block_length = 0;
  size_t cleanup_pc = 0;
  std::string mismatch_target;   // "cleanup" or "cleanup+1" (libbpf 1.7's off-by-one)
  std::string shape_error;       // empty when the block is exactly as libbpf emits it
  std::optional<crypto::Digest> signed_metadata_sha256;  // the four immediates, when the block's shape is right
  crypto::Digest metadata_sha256{};  // recomputed over the metadata, zero-padded to 8
  bool metadata_ok = false;
  Bytes excl_hash;               // what the exclusive map will demand (any length, as the file has it)
  crypto::Digest loader_digest{};  // the loader's prog->digest
  bool excl_ok = false;
};

struct Report {
  Verdict verdict = Verdict::kFault;
  int err = 0;           // 0 when verified; else the errno the kernel (or loader) would give
  std::string kind;      // machine-readable reason (docs/errors.md)
  std::string message;   // one sentence for humans
  crypto::SigCheck signature;
  ChainCheck chain;
  // What the scheme's signature covers (docs/signing.md).
  std::string scheme;                   // "loader-hash", "loadtime", "hash-chain"
  std::string signed_content;           // "insns", "insns || metadata" or "hash chain"
  size_t signed_content_size = 0;       // bytes the PKCS#7 digest runs over
  std::string signed_value;             // hash-chain: hex of the 32-byte chained hash
  std::vector<uint32_t> signature_maps; // hash-chain: attr.signature_maps
  // Scheme hornet: the signed attribute, once it decoded.
  std::optional<crypto::HornetAttribute> hornet;
  // Bundles: the seal over the whole bundle (docs/formats.md, section 10).
  // It is checked last, once the kernel would accept the program, under the
  // trusted certificate that verified the program's signature.
  struct SealCheck {
    bool present = false;  // the loader came from a signed bundle
    bool checked = false;  // false when an earlier check already failed
    bool ok = false;
  } seal;
  // Reads of the loader's ctx that let the host override what was signed
  // (max_entries, initial_value: bpftool 7.7's loader, `sign --ctx-overrides`).
  // Reported, not a failure: the kernel loads such a loader.
  std::vector<skel::CtxRead> ctx_overrides;
};

// Checks in the kernel's order: signature (at BPF_PROG_LOAD), exclusive map
// (in the verifier), then what the loader checks when it runs, and last a
// bundle's seal (BADSIG, kind "bundle_seal": the kernel would accept the
// program, but the bundle is not as its signer wrote it). The first failure
// decides the verdict; the report still describes every part.
// The signature is checked over what the loader's scheme signs: loader-hash
// insns (the hash-match block then covers the metadata), loadtime insns ||
// metadata, hash-chain the chained hash over signature_maps (both: no block
// needed; a tampered metadata is EKEYREJECTED, as those kernels answer).
Report verify_loader(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted);

// verify_loader for a file as read: a header names no scheme (bpfsig's say
// it in a comment, bpftool's do not) and is read as bpftool 7.7's,
// loader-hash. bpftool 7.8's is the load-time scheme: no hash-match block,
// the signature over insns || metadata. A header without a block that fails
// as loader-hash and verifies as load-time is that: input.loader.scheme
// becomes kLoadtime. Otherwise the loader-hash reading's report stands (a
// block-less header signed over the instructions alone stays PARTIALSIG).
Report verify_signed_input(skel::SignedInput& input, const std::vector<crypto::Certificate>& trusted);

// Scheme hornet (verify_loader calls it for such loaders): the verdict the
// Hornet LSM gives at load (its design picked by the attribute's format), the
// exclusive map, then what Hornet checks against the maps: every signed hash
// must be the metadata map's (else the final design's publish check refuses
// with EPERM; v7 reports UNEXPECTED). docs/hornet.md.
Report verify_hornet(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted);

// ---- what a real kernel answers (docs/load.md, measured in tests/qemu) -----

// The kernels whose order of checks bpfsig models, named after the Debian
// kernels they were measured on under QEMU. 7.2 checks the 6.18 scheme
// (signature over the instructions first, then the exclusive-map hash in
// the verifier, then the loader's own hash check at run time); 7.3 checks
// the load-time scheme (the maps bound through fd_array_cnt first, their
// exclusive hash and frozen state, then the signature over insns ||
// metadata). Each sends a loader the way `bpfsig load` does for its scheme.
enum class KernelProfile { k7_2, k7_3 };
KernelProfile parse_kernel_profile(const std::string& name);  // "7.2", "7.3"; Error(EINVAL, "bad_argument")
std::string kernel_profile_name(KernelProfile k);
std::vector<std::string> kernel_profile_names();

// How the loader reaches the kernel, beyond the artifact: what the load
// sequence did, and what the keyring holds. The default is what `bpfsig
// load` does with the trusted certificates in its keyring.
struct LoadConditions {
  bool metadata_frozen = true;
  bool metadata_exclusive = true;
  enum class Keyring {
    kTrusted,        // a keyring holding exactly the trusted certificates
    kUnknownSerial,  // keyring_id names no keyring: EINVAL
  } keyring = Keyring::kTrusted;
};

// The errno `bpfsig load` gets from kernel k (0: loaded, and the loader
// returned 0), in k's order, with the step that decides. The bundle seal is
// bpfsig's own and is not part of it. Report::kind names the step, as
// docs/errors.md lists them.
Report predict_kernel_load(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted,
                           KernelProfile k, const LoadConditions& conditions = {});

// The chain part alone (no certificates needed): used by inspect.
ChainCheck check_chain(const skel::SignedLoader& loader);

}  // namespace bpfsig::verify
