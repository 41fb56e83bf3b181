// SPDX-License-Identifier: Apache-2.0
// Every size, count and depth limit bpfsig enforces, in one place, with the
// kernel source each one comes from (docs/limits.md explains them and the
// error each gives). Inputs are checked against these before anything is
// allocated for them. Modules that had their own constants keep them as
// aliases of these or are checked against these by tests/limits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bpfsig::limits {

// ---- the kernel's (Linux 6.18, x86-64) ------------------------------------
// kernel/bpf/syscall.c bpf_prog_verify_signature: attr->signature_size >
// KMALLOC_MAX_CACHE_SIZE (1 << (PAGE_SHIFT + 1)) -> -EINVAL.
inline constexpr size_t kSignatureSize = 8192;
// kernel/bpf/syscall.c bpf_prog_load: insn_cnt > BPF_COMPLEXITY_LIMIT_INSNS
// (include/linux/bpf.h) for a bpf_capable() caller -> -E2BIG; BPF_MAXINSNS
// (4096) without CAP_BPF.
inline constexpr size_t kLoaderInsns = 1'000'000;
inline constexpr size_t kUnprivilegedInsns = 4096;
// kernel/bpf/arraymap.c array_map_alloc_check: value_size > KMALLOC_MAX_SIZE
// (1 << (MAX_PAGE_ORDER + PAGE_SHIFT) = 4 MiB) -> -E2BIG. The metadata blob is
// the value of the loader's one-entry array map.
inline constexpr size_t kMetadataSize = size_t{4} << 20;
// libbpf's gen_loader.c: MAX_USED_PROGS (32) program fds in the loader's
// stack (struct loader_stack). With more, the loader stores a prog fd at
// R10 off=0 and the verifier refuses it (EACCES), so `sign` refuses the
// object first (E2BIG too_many_programs).
inline constexpr size_t kLoaderPrograms = 32;

// ---- bpfsig's file formats --------------------------------------------------
inline constexpr size_t kBundleSize = size_t{64} << 20;        // whole bundle file (EFBIG)
inline constexpr uint32_t kBundleSections = 64;                 // section count field (EBADMSG)
inline constexpr size_t kHeaderSize = 4 * kBundleSize;          // signed header text: 4 chars per byte (EFBIG)
inline constexpr size_t kKeyFileSize = size_t{1} << 20;         // private key file (EFBIG)
inline constexpr size_t kCertFileSize = size_t{4} << 20;        // certificate file (EFBIG)
inline constexpr size_t kPassphraseSize = 4096;                 // --pass fd:/file: read at most this
inline constexpr size_t kObjectFileSize = size_t{64} << 20;     // BPF object given to sign (EFBIG)

// ---- the VM (src/vm) ----------------------------------------------------------
inline constexpr uint64_t kVmDefaultBudget = 1'000'000;  // instructions per run (fault budget_exhausted)
inline constexpr size_t kVmCallFrames = 8;               // MAX_CALL_FRAMES (fault call_depth)
inline constexpr size_t kVmStackPerFrame = 512;          // MAX_BPF_STACK
inline constexpr uint64_t kVmRegionSize = uint64_t{1} << 31;  // one memory region (E2BIG vm_region)
inline constexpr size_t kVmRegions = size_t{1} << 24;         // regions per address space (E2BIG vm_region)

// ---- recursion ----------------------------------------------------------------
// Depth of BER/ASN.1 elements (top = 0) the kernel-rules PKCS#7 checker reads
// (src/crypto/ber.cpp): deeper input is unparsable (EBADMSG), never a deep stack.
inline constexpr int kBerDepth = 32;

}  // namespace bpfsig::limits
