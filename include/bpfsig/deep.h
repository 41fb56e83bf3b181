// SPDX-License-Identifier: Apache-2.0
// Deep verification (`bpfsig verify --deep`, docs/deep-verify.md): verify a
// signed loader as `verify` does, then run it in the kernel model with its
// provenance tracked, and describe everything it created, each field with
// the bytes it came from: the manifest (schema "bpfsig-manifest/1",
// docs/formats.md, docs/manifest.schema.json).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpfsig/crypto.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"

namespace bpfsig::deep {

using Manifest = nlohmann::ordered_json;

inline constexpr const char* kManifestSchema = "bpfsig-manifest/1";

// What the caller's ctx holds, beyond what a light skeleton passes by
// default (docs/deep-verify.md, "The ctx"): a map descriptor's max_entries,
// and initial values the loader would copy from user memory.
struct CtxInput {
  std::map<size_t, uint32_t> max_entries;  // map index -> max_entries
  std::map<size_t, Bytes> initial_values;  // map index -> the bytes at its initial_value pointer
};

struct Options {
  // Replaces the ctx derived from the input (a header's initial-value
  // literals): what a host would pass.
  std::optional<CtxInput> ctx;
  std::string vmlinux_btf;  // CO-RE target (raw BTF or ELF); empty: the host's
};

struct Result {
  verify::Report report;  // step 1; when it fails, nothing ran
  bool ran = false;       // the loader ran in the model
  int err = 0;            // 0: the loader ran and returned 0; else why the model refused it
  std::string kind, message;
  kmodel::NestedTrace trace;
  Manifest manifest;      // null unless ran
  bool ok() const { return report.err == 0 && ran && err == 0; }
  // manifest["unsigned_inputs"] is not empty.
  bool has_unsigned_inputs() const;
};

// The model profile each scheme's loader runs under: loadtime -> "loadtime",
// loader-hash -> "6.18", hash-chain -> "hash-chain", hornet -> "hornet".
kmodel::KernelProfile profile_for(skel::Scheme scheme);

// The ctx a light skeleton passes for this input: for a header with
// initial-value literals whose loader reads initial_value from its ctx
// (bpftool 7.7), those literals, padded to the map's value size.
CtxInput default_ctx(const skel::SignedLoader& loader);

// 1. verify::verify_loader; a failure returns at once (ran == false). A
//    header without a hash-match block whose signature fails as loader-hash
//    is checked as the load-time scheme (bpftool 7.8's: a header does not
//    name its scheme);
// 2. kmodel::load_skeleton with the trusted certificates in the builtin
//    keyring, profile_for(scheme), the ctx, provenance tracked;
// 3. the manifest. `input` names the file (file, format, sha256).
Result deep_verify(const skel::SignedInput& input, const std::string& file,
                   const std::vector<crypto::Certificate>& trusted, const Options& options = {});

// --expect: every field path where actual differs from expected, as
// "maps[1].max_entries: 1 -> 4096" (values as compact JSON; "absent" for a
// missing one), in document order. "input.file" is ignored.
std::vector<std::string> manifest_diff(const Manifest& expected, const Manifest& actual);

}  // namespace bpfsig::deep
