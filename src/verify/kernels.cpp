// SPDX-License-Identifier: Apache-2.0
// predict_kernel_load(): the answer of a real kernel that checks signatures,
// step by step in that kernel's order. Every step and errno here was measured
// on the Debian 7.2 and 7.3 kernels under QEMU (tests/qemu, docs/load.md).
#include <cerrno>
#include <optional>
#include <span>

#include "bpfsig/error.h"
#include "skel/matchblock.h"
#include "verify/internal.h"

namespace bpfsig::verify {

namespace {

using detail::decide;

struct ProfileName {
  KernelProfile profile;
  const char* name;
};
constexpr ProfileName kProfileNames[] = {{KernelProfile::k7_2, "7.2"}, {KernelProfile::k7_3, "7.3"}};

// The facts one step of the kernel's order needs.
struct LoadCase {
  const skel::SignedLoader& loader;
  const std::vector<crypto::Certificate>& trusted;
  const LoadConditions& conditions;
  bool fd_array_cnt = false;  // how bpfsig load sends this loader's scheme
};

// A step's outcome: nullopt when it passes.
using Step = std::optional<Report>;

Report fail(Report r, Verdict v, int err, const std::string& kind, const std::string& message) {
  return decide(std::move(r), v, err, kind, message);
}

// bpfsig load fetches map->sha for a loader that reads it (a hash-match
// block); since the Feb 2026 fix the kernel refuses the hash of an unfrozen map.
Step hash_fetch(const LoadCase& c, Report& r, KernelProfile) {
  if (c.conditions.metadata_frozen || !skel::loader_reads_map_hash(c.loader)) return std::nullopt;
  return fail(r, Verdict::kFault, EPERM, "map_not_frozen",
              "BPF_OBJ_GET_INFO_BY_FD refuses the hash of an unfrozen metadata map (EPERM)");
}

// Maps bound through fd_array_cnt: a signed program's maps must be exclusive
// to it and frozen (EPERM each), and their excl_prog_hash must be its digest
// (EACCES). Measured on 7.3: EPERM for a map without excl_prog_hash.
Step bound_maps(const LoadCase& c, Report& r, KernelProfile) {
  if (!c.fd_array_cnt) return std::nullopt;
  if (!c.conditions.metadata_exclusive)
    return fail(r, Verdict::kUnexpected, EPERM, "map_not_exclusive",
                "a signed program's fd_array_cnt map must be exclusive to it (EPERM)");
  if (!r.chain.excl_ok)
    return fail(r, Verdict::kBadSig, EACCES, "excl_mismatch",
                "exclusive-map hash " + to_hex(r.chain.excl_hash) + " is not the loader's digest " + to_hex(r.chain.loader_digest) +
                    ": the kernel refuses the load with EACCES before it checks the signature");
  if (!c.conditions.metadata_frozen)
    return fail(r, Verdict::kUnexpected, EPERM, "map_not_frozen",
                "a signed program's metadata map must be frozen (EPERM)");
  return std::nullopt;
}

// The keyring lookup, then PKCS#7 over what the kernel hashes: insns, plus
// the bound maps' values when they were bound through fd_array_cnt.
Step signature(const LoadCase& c, Report& r, KernelProfile k) {
  if (c.conditions.keyring == LoadConditions::Keyring::kUnknownSerial)
    return fail(r, Verdict::kUnknownKey, EINVAL, "keyring_lookup", "keyring_id names no keyring (EINVAL)");
  if (c.loader.signature.empty())
    return fail(r, Verdict::kUnsigned, ENODATA, "unsigned", "the loader carries no signature");
  const bool with_metadata = k == KernelProfile::k7_3 && c.fd_array_cnt;
  Bytes content = c.loader.insns;
  if (with_metadata) content.insert(content.end(), c.loader.data.begin(), c.loader.data.end());
  r.signed_content = with_metadata ? "insns || metadata" : "insns";
  r.signed_content_size = content.size();
  r.signature = crypto::verify_kernel_rules(c.loader.signature, content, c.trusted);
  if (r.signature.err == 0) return std::nullopt;
  Verdict v = r.signature.err == ENOKEY ? Verdict::kUnknownKey : Verdict::kBadSig;
  return fail(r, v, r.signature.err, r.signature.kind,
              "signature over the " + r.signed_content + " rejected (" + errno_name(r.signature.err) +
                  "): " + r.signature.detail);
}

// 7.3 refuses a signed program that uses maps it did not bind through
// fd_array_cnt, once the signature has passed.
Step map_binding(const LoadCase& c, Report& r, KernelProfile k) {
  if (k != KernelProfile::k7_3 || c.fd_array_cnt) return std::nullopt;
  return fail(r, Verdict::kUnexpected, EACCES, "fd_array_cnt_required",
              "signature good, but this kernel requires a signed program to bind its maps through fd_array_cnt "
              "(EACCES): the loader is in the 6.18 format; sign it with --scheme loadtime");
}

// On a 6.18-scheme kernel the verifier finds the exclusive map (through the
// loader's ld_imm64) after the signature was checked.
Step verifier_excl(const LoadCase& c, Report& r, KernelProfile) {
  if (c.fd_array_cnt || !c.conditions.metadata_exclusive || r.chain.excl_ok) return std::nullopt;
  return fail(r, Verdict::kBadSig, EACCES, "excl_mismatch",
              "exclusive-map hash " + to_hex(r.chain.excl_hash) + " is not the loader's digest " + to_hex(r.chain.loader_digest) +
                  ": the verifier refuses the load with EACCES");
}

// What the loader checks when it runs: the 6.18 block's hash (and, in the
// excl layout, the map's excl flag, which 7.3 no longer has at that offset).
Step loader_run(const LoadCase& c, Report& r, KernelProfile k) {
  const ChainCheck& chain = r.chain;
  if (!chain.block_found) return std::nullopt;
  if (!chain.shape_error.empty())
    return fail(r, Verdict::kUnexpected, EBADMSG, "match_block_shape", "the hash-match block is malformed");
  if (chain.layout == "excl" && k == KernelProfile::k7_3)
    return fail(r, Verdict::kUnexpected, EACCES, "excl_layout_refused",
                "the excl layout reads struct bpf_map at offset 32, which this kernel's verifier refuses (EACCES)");
  if (!chain.metadata_ok)
    return fail(r, Verdict::kBadSig, EINVAL, "metadata_mismatch",
                "metadata SHA-256 " + to_hex(chain.metadata_sha256) + " differs from the signed " +
                    (chain.signed_metadata_sha256 ? to_hex(*chain.signed_metadata_sha256) : std::string("(none)")) +
                    ": the loader returns -22 (EINVAL)");
  if (chain.layout == "excl" && !c.conditions.metadata_exclusive)
    return fail(r, Verdict::kBadSig, EINVAL, "map_not_exclusive",
                "the metadata map is not exclusive: the loader's excl check returns -22 (EINVAL)");
  return std::nullopt;
}

// Each kernel's order, as measured: 7.2 checks the signature first; 7.3
// binds the fd_array_cnt maps (and checks them) first.
using StepFn = Step (*)(const LoadCase&, Report&, KernelProfile);
constexpr StepFn kOrder7_2[] = {hash_fetch, signature, bound_maps, verifier_excl, loader_run};
constexpr StepFn kOrder7_3[] = {hash_fetch, bound_maps, signature, map_binding, verifier_excl, loader_run};

Report scheme_not_checked(Report r, const skel::SignedLoader& loader, KernelProfile k) {
  return fail(std::move(r), Verdict::kUnexpected, EOPNOTSUPP, "scheme_not_in_kernel",
              "Linux " + kernel_profile_name(k) + " does not check the " + skel::scheme_name(loader.scheme) +
                  " scheme; bpfsig load refuses to send it");
}

}  // namespace

KernelProfile parse_kernel_profile(const std::string& name) {
  for (const ProfileName& p : kProfileNames)
    if (name == p.name) return p.profile;
  throw Error(EINVAL, "bad_argument", "unknown kernel profile '" + name + "': use 7.2 or 7.3");
}

std::string kernel_profile_name(KernelProfile k) {
  for (const ProfileName& p : kProfileNames)
    if (k == p.profile) return p.name;
  return "?";
}

std::vector<std::string> kernel_profile_names() {
  std::vector<std::string> names;
  for (const ProfileName& p : kProfileNames) names.emplace_back(p.name);
  return names;
}

Report predict_kernel_load(const skel::SignedLoader& loader, const std::vector<crypto::Certificate>& trusted,
                           KernelProfile k, const LoadConditions& conditions) {
  Report r;
  r.scheme = skel::scheme_name(loader.scheme);
  r.chain = check_chain(loader);
  if (loader.scheme != skel::Scheme::kLoaderHash && loader.scheme != skel::Scheme::kLoadtime)
    return scheme_not_checked(std::move(r), loader, k);
  LoadCase c{loader, trusted, conditions, loader.scheme == skel::Scheme::kLoadtime};
  for (StepFn step : k == KernelProfile::k7_3 ? std::span<const StepFn>(kOrder7_3) : std::span<const StepFn>(kOrder7_2))
    if (Step failed = step(c, r, k)) return std::move(*failed);
  return decide(std::move(r), Verdict::kOk, 0, "ok",
                "Linux " + kernel_profile_name(k) + " loads it: signature good over the " + r.signed_content);
}

}  // namespace bpfsig::verify
