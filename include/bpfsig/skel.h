// SPDX-License-Identifier: Apache-2.0
// Signed light skeletons: what a signed loader is made of, how bpfsig makes one
// from a BPF object (libbpf's gen_loader plus the hash-match block), and the two
// containers it is stored in: the bpfsig bundle and a bpftool-style C header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"

namespace bpfsig::skel {

// docs/signing.md compares them. The value is the bundle's scheme field.
enum class Scheme : uint16_t {
  kLoaderHash = 1,  // Linux 6.18: signature over insns, the loader checks the metadata
  kLoadtime = 2,    // bpf-next 2026: signature over insns || metadata, checked at load
  kHornet = 3,      // the Hornet LSM: signature over insns, map hashes in a signed attribute
  kHashChain = 4,   // "BPF signature hash chains" v2 (Sep 2025, not merged)
};
std::string scheme_name(Scheme s);                // "loader-hash", "loadtime", "hornet", "hash-chain"
Scheme parse_scheme(const std::string& name);     // throws Error(EINVAL, "unknown_scheme")

// Which hash-match block the loader carries.
enum class MatchLayout {
  k618 = 28,   // Linux 6.18 / libbpf 1.7: 4 x 7 instructions
  kExcl = 33,  // later libbpf: a 5-instruction prefix checks map->excl == 1 first; reads a
               // kernel-internal struct bpf_map offset, which Linux 7.3's verifier refuses
};

// The parts of bpftool's skeleton API that come from the object's BTF and
// program types, not from the signed loader: kept only when a header is
// written straight from the object (`sign --header`); a bundle does not store
// them, so a header rendered from a bundle has the basic API only.
struct SkeletonApi {
  // One memory-mapped internal map (.bss, .data, .rodata, .data.NAME ...):
  // `struct SKEL__IDENT { ... } *IDENT;` in the skeleton, its initial value
  // copied into anonymous memory at __open, the map mmapped at __load. The
  // initial value the header writes is the one in the signed metadata (the
  // value the loader gives the map), not a second copy kept here.
  struct DataSection {
    std::string ident;                                // "bss"
    std::string members;                              // the struct's member lines, as btf_dump writes them
    size_t mmap_size = 0;                             // round_up(round_up(value_size, 8) * max_entries, page)
    bool read_only = false;                           // BPF_F_RDONLY_PROG: mmapped PROT_READ
    std::vector<std::pair<std::string, long>> sizes;  // variable -> size, for __assert
  };
  bool present = false;
  std::vector<DataSection> sections;  // map index order
  // Per program (program index order): the C expression that attaches it
  // given prog_fd, as bpftool 7.8 writes it ("((void)prog_fd, 0)" when the
  // light skeleton cannot auto-attach that type).
  std::vector<std::string> attach;
};

// Everything the kernel receives when a light skeleton loads (skel_internal.h's
// bpf_load_and_run_opts) plus what a user needs to name the results.
struct SignedLoader {
  Scheme scheme = Scheme::kLoaderHash;
  std::string name;                      // skeleton name, e.g. "prog_bpf"
  Bytes insns;                           // loader instructions, as passed to BPF_PROG_LOAD
  Bytes data;                            // metadata blob, the value of "__loader.map"
  Bytes signature;                       // DER PKCS#7 over insns
  Bytes excl_hash;                       // 32 bytes: SHA-256 of insns (exclusive map)
  std::vector<std::string> map_names;    // in the loader's map index order
  std::vector<std::string> prog_names;   // in the loader's program index order
  Bytes signer_cert;                     // DER, optional
  // hash-chain only: the fd_array indices of the maps in the signed hash
  // chain (attr.signature_maps); the light skeleton's fd_array holds only
  // the metadata map, so this is {0}. Empty for every other scheme.
  std::vector<uint32_t> signature_maps;
  // Bundles only (docs/formats.md, section 10): the program signer's plain
  // signature (crypto::sign_message) over the rest of the bundle
  // (seal_content below), so that no byte of a signed bundle changes
  // unnoticed, including the names and the certificate the kernel never
  // sees. Empty for headers, raw input and unsigned bundles.
  Bytes seal;
  // Sections with bit 31 of their type set that this version does not know:
  // kept as read, in order, so that a bundle re-encodes to the same bytes.
  struct Extension {
    uint32_t type = 0;
    Bytes payload;
    bool operator==(const Extension&) const = default;
  };
  std::vector<Extension> extensions;
  // Header only, never in a bundle or compared by verify.
  SkeletonApi api;
  // Header only: the initial-value literals of __open (`static const char
  // data[] = "..."` copied into skel->IDENT, whose address becomes
  // maps.IDENT.initial_value). Not signed: read_signed_file compares each
  // with the signed metadata (check_header_initial_values).
  struct InitialValueLiteral {
    std::string map;   // IDENT: a map_names entry
    Bytes value;       // sizeof(data) - 1 bytes
    size_t line = 0;   // of the literal, 1-based
  };
  std::vector<InitialValueLiteral> header_initial_values;
};

// What the scheme's PKCS#7 signature covers (detached content), from the
// loader alone: loader-hash: insns; loadtime: insns || metadata (fd_array
// order, no separators); hash-chain: the 32-byte chained hash below, with
// every signature_maps entry naming the metadata map (the only fd_array slot).
// Throws Error(EINVAL, "unknown_scheme") for a scheme it does not know and
// Error(EFAULT, "signature_maps") for an index past the light skeleton's
// one-entry fd_array (what the kernel's copy from fd_array would give).
Bytes signed_content(const SignedLoader& loader);
// The same content as views of the loader's bytes, in order, without the
// copy: the load-time scheme's insns || metadata is two views. The hash
// chain's 32-byte value, which is computed, is kept in *storage.
std::vector<ByteView> signed_content_parts(const SignedLoader& loader, crypto::Digest* storage);

// The hash-chain series' signed value. map_hashes[i] is sha256 of map i's
// value area as array_map_get_hash reads it (elem_size = value_size rounded
// up to 8, times max_entries). h(n) = map_hashes[n], h(i) = sha256(h(i+1) ||
// map_hashes[i]); the result is sha256(sha256(insns) || h(0)). With no maps
// the series signs the instructions themselves, not this value.
crypto::Digest hash_chain_value(ByteView insns, const std::vector<crypto::Digest>& map_hashes);

// prog->digest as the kernel computes it (bpf_prog_calc_tag): SHA-256 of the
// instructions with both imm fields of every ld_imm64 whose src is
// BPF_PSEUDO_MAP_FD or BPF_PSEUDO_MAP_VALUE zeroed. An exclusive map admits
// only the program with this digest.
crypto::Digest prog_digest(ByteView insns);

// Whether the loader compares its metadata map's hash (map->sha) with one in
// its instructions: a hash-match block, as the 6.18 loaders have. Only then
// must the load sequence have the kernel compute map->sha (BPF_OBJ_GET_INFO_BY_FD
// with info.hash); load-time loaders (libbpf 1.8) have none and skip it.
// Instructions that do not even decode count as having one: the fetch is
// harmless, and the kernel will say what is wrong.
bool loader_reads_map_hash(const SignedLoader& loader);

// What the signed metadata says about each map the loader creates, found by
// following the loader's bpf_sys_bpf calls (gen_loader's emit_sys_bpf) into
// the blob: the BPF_MAP_CREATE attr and the BPF_MAP_UPDATE_ELEM value.
struct SignedMap {
  std::string name;            // SignedLoader::map_names[index]
  uint32_t type = 0, key_size = 0, value_size = 0, max_entries = 0;
  size_t create_attr_offset = 0;  // in data: the union bpf_attr of BPF_MAP_CREATE
  bool has_initial_value = false;
  size_t initial_value_offset = 0;  // in data: value_size bytes
  Bytes initial_value;
};
// In map index order. Throws Error(EBADMSG, "loader_metadata") when the
// instructions or the blob do not have gen_loader's shape (a bpf() attr or
// value outside the blob, map creates that do not match map_names).
std::vector<SignedMap> signed_maps(const SignedLoader& loader);
// The same without copying the initial values (initial_value is left empty;
// initial_value_offset and value_size say where each lies in data).
std::vector<SignedMap> signed_map_layout(const SignedLoader& loader);

// A read of the loader's ctx (r6, as gen_loader keeps it) that lets the host
// override something signed: a map descriptor's max_entries or initial_value
// (libbpf 1.7's loader, or 1.8's without gen_hash).
struct CtxRead {
  size_t insn = 0;        // slot index
  size_t map_index = 0;   // into map_names
  std::string field;      // "max_entries" or "initial_value"
};
std::vector<CtxRead> loader_ctx_overrides(const SignedLoader& loader);

// Every header_initial_values literal must equal the signed initial value of
// its map (zeroes for a map the loader does not fill), byte for byte and in
// length. Else Error(EBADMSG, "header_initial_value", "WHAT: line N: map
// 'data': initial value differs from the signed metadata at offset K ...").
// signed_maps' errors when the loader's shape cannot be followed.
void check_header_initial_values(const SignedLoader& loader, const std::string& what);

// Size of the loader's ctx (struct bpf_loader_ctx + map and prog descriptors),
// the value a light skeleton stores in ctx.sz.
uint32_t loader_ctx_size(const SignedLoader& loader);

// Where the block's mismatch jumps land.
enum class MismatchTarget {
  kCleanup,         // the cleanup label (fixed in 2026)
  kCleanupPlusOne,  // libbpf 1.7 / Linux 6.18: one instruction too far, still failing closed
};

struct SignOptions {
  // What bpftool 7.8 signs and current kernels (Linux 7.3) check.
  Scheme scheme = Scheme::kLoadtime;
  // Schemes with a hash-match block (loader-hash, hash-chain): by default
  // bpftool 7.7's block, the 28 instructions whose mismatch jumps land on
  // cleanup+1 (libbpf 1.7's off-by-one), so that a loader-hash loader is
  // byte-identical to bpftool 7.7's. kExcl also reads map->excl, a
  // kernel-internal struct bpf_map offset that Linux 7.3's verifier refuses.
  MatchLayout layout = MatchLayout::k618;
  bool embed_cert = true;  // store the signer certificate in the bundle
  MismatchTarget mismatch_target = MismatchTarget::kCleanupPlusOne;
  // Scheme kHornet: the attribute format (final gen_sig, or v4-v7 with fd_array indices).
  crypto::HornetFormat hornet_format = crypto::HornetFormat::kFinal;
  // Schemes loader-hash and hash-chain: generate the loader without libbpf's
  // gen_hash, as bpftool 7.7 (libbpf 1.7) did, so that it is that loader
  // byte for byte. Such a loader takes max_entries and initial values from
  // its (unsigned) ctx: the host can resize maps and replace their initial
  // values after signing. Default off: every loader takes only what is signed.
  bool ctx_overrides = false;
  // The skeleton's name (struct, functions, include guard), as bpftool's
  // `gen skeleton ... name NAME`; empty: derived from the object's file name.
  // Not a C identifier: Error(EINVAL, "skeleton_name").
  std::string name;
};
// Opens the BPF object with libbpf, generates its loader with gen_loader,
// inserts and patches the hash-match block, computes the exclusive-map hash and
// signs the final instructions with bpftool's CMS profile.
SignedLoader sign_object(const std::string& bpf_object_path, const X509* cert, EVP_PKEY* key,
                         const SignOptions& opts);

// The bundle format (docs/formats.md). encode/decode are exact inverses and
// a bundle has one encoding only: decode refuses any input that does not
// re-encode to the same bytes. decode throws Error(EBADMSG, "bundle_format")
// for malformed input (including a signed bundle without a seal) and
// Error(EINVAL, "bundle_version" | "unknown_scheme") for what it cannot read.
Bytes encode_bundle(const SignedLoader& loader);
// encode_bundle's bytes handed to put piece by piece, with the same checks
// first: a large bundle is written without being built in memory.
void write_bundle(const SignedLoader& loader, const std::function<void(ByteView)>& put);
SignedLoader decode_bundle(ByteView bytes, const std::string& what);

// What a bundle's seal signs: the bundle as encode_bundle writes it without
// the seal section (its header counting the sections before the seal).
Bytes seal_content(const SignedLoader& loader);
// The same bytes handed to put piece by piece (views of the loader, and the
// small headers between them), for hashing without building them.
void write_seal_content(const SignedLoader& loader, const std::function<void(ByteView)>& put);
// Signs seal_content with the key that signed the program (verify checks
// the seal under the certificate that verified the program's signature);
// sign_object does this for every loader it signs.
void seal_bundle(SignedLoader& loader, EVP_PKEY* key);

// A C header shaped like `bpftool gen skeleton -L -S` output, including
// <bpfsig/skel_internal.h> (shipped with bpfsig) for the load sequence.
std::string render_header(const SignedLoader& loader);
// The same text handed to put in pieces of at most a few tens of KiB: the
// header of a large program (four characters per metadata byte) is written
// without being built in memory.
void write_header(const SignedLoader& loader, const std::function<void(ByteView)>& put);
// Reads a header written by render_header or by bpftool 7.7 (opts_data,
// opts_insn, opts_sig, opts_excl_hash and the map/prog descriptors).
// Throws Error(EBADMSG, "header_format").
SignedLoader parse_header(const std::string& text, const std::string& what);

// Reads a bundle or a header, deciding by content.
SignedLoader read_signed_file(const std::string& path);
// The same, with what the input was: its format ("bundle" or "header") and
// the SHA-256 of its bytes (verify --deep's manifest names the file it
// describes; all zero when hash_input is false).
struct SignedInput {
  SignedLoader loader;
  std::string format;
  crypto::Digest sha256{};
};
SignedInput read_signed_input(const std::string& path, bool hash_input = true);

}  // namespace bpfsig::skel
