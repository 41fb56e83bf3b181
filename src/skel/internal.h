// SPDX-License-Identifier: Apache-2.0
// What the skel module's files share: input limits (checked before anything
// is allocated for an input) and format detection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "bpfsig/bytes.h"
#include "bpfsig/limits.h"

namespace bpfsig::skel {

// BPF_COMPLEXITY_LIMIT_INSNS: the kernel refuses longer programs.
inline constexpr size_t kMaxLoaderInsns = limits::kLoaderInsns;
// A bundle holds a loader, its metadata (one map value) and a signature.
inline constexpr size_t kMaxBundleSize = limits::kBundleSize;
// bpftool-style headers print every byte as up to four characters.
inline constexpr size_t kMaxHeaderSize = limits::kHeaderSize;
// KMALLOC_MAX_SIZE: the largest array value, so the largest metadata blob.
inline constexpr size_t kMaxMetadataSize = limits::kMetadataSize;

// signature_maps entries a bundle or header may hold: MAX_USED_MAPS, the
// most maps one program can use (the series itself sets no bound).
inline constexpr size_t kMaxSignatureMaps = 64;

// skel_internal.h: struct bpf_loader_ctx, bpf_map_desc and bpf_prog_desc.
inline constexpr uint32_t kLoaderCtxSize = 24;
inline constexpr uint32_t kMapDescSize = 16;  // int map_fd; u32 max_entries; u64 initial_value
inline constexpr uint32_t kMapDescMaxEntries = 4;
inline constexpr uint32_t kMapDescInitialValue = 8;
inline constexpr uint32_t kProgDescSize = 4;

// A C identifier: [A-Za-z_][A-Za-z0-9_]*, and not a C keyword. Every name a
// header declares (skeleton, maps, programs) must be one, or it does not compile.
bool is_c_identifier(const std::string& name);

// True when the bytes start with the bundle magic.
bool looks_like_bundle(ByteView bytes);

// decode_bundle of the first size bytes of a regular file, each section read
// from the file straight into its field; the file must end there.
SignedLoader decode_bundle(const InputFile& file, size_t size, const std::string& what);

}  // namespace bpfsig::skel
