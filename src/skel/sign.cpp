// SPDX-License-Identifier: Apache-2.0
// From a BPF object to a signed light-skeleton loader (scheme loader-hash).
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "skel/genloader.h"
#include "skel/hornet.h"
#include "skel/internal.h"
#include "skel/matchblock.h"

namespace bpfsig::skel {

std::string scheme_name(Scheme s) {
  switch (s) {
    case Scheme::kLoaderHash: return "loader-hash";
    case Scheme::kLoadtime: return "loadtime";
    case Scheme::kHashChain: return "hash-chain";
    case Scheme::kHornet: return "hornet";
  }
  return "unknown(" + std::to_string(static_cast<int>(s)) + ")";
}

Scheme parse_scheme(const std::string& name) {
  if (name == "loader-hash") return Scheme::kLoaderHash;
  if (name == "loadtime") return Scheme::kLoadtime;
  if (name == "hornet") return Scheme::kHornet;
  if (name == "hash-chain") return Scheme::kHashChain;
  throw Error(EINVAL, "unknown_scheme",
              "unknown signing scheme '" + name + "' (this version supports: loader-hash, loadtime, hornet, hash-chain)");
}

uint32_t loader_ctx_size(const SignedLoader& l) {
  return kLoaderCtxSize + kMapDescSize * static_cast<uint32_t>(l.map_names.size()) +
         kProgDescSize * static_cast<uint32_t>(l.prog_names.size());
}

crypto::Digest prog_digest(ByteView insns) {
  Bytes copy(insns.begin(), insns.end());
  for (size_t off = 0; off + 16 <= copy.size(); off += 8) {
    const uint8_t code = copy[off], src = copy[off + 1] >> 4;
    if (code != (isa::kClassLd | isa::kSizeDW | isa::kModeImm)) continue;
    if (src == isa::kPseudoMapFd || src == isa::kPseudoMapValue) {
      store_le32(&copy[off + 4], 0);
      store_le32(&copy[off + 12], 0);
    }
    off += 8;  // skip the second slot
  }
  return crypto::sha256(copy);
}

namespace {

// bpftool's signature over the scheme's content, hashed where it lies
// (the load-time scheme's insns || metadata is not joined into a copy).
Bytes sign_content_parts(const SignedLoader& l, const X509* cert, EVP_PKEY* key) {
  crypto::Digest storage{};
  return crypto::sign_bpftool(signed_content_parts(l, &storage), cert, key);
}

}  // namespace

SignedLoader sign_object(const std::string& path, const X509* cert, EVP_PKEY* key, const SignOptions& opts) {
  // What each scheme's loader carries (docs/signing.md): loader-hash and
  // hash-chain keep libbpf's hash-match block (the series leaves gen_loader's
  // gen_hash on); loadtime's kernel and the Hornet LSM check the metadata
  // themselves, so no block.
  bool match_block = false;
  switch (opts.scheme) {
    case Scheme::kLoaderHash: match_block = true; break;
    case Scheme::kLoadtime: match_block = false; break;
    case Scheme::kHornet: match_block = false; break;
    case Scheme::kHashChain: match_block = true; break;
    default:
      throw Error(EINVAL, "unknown_scheme", "scheme " + scheme_name(opts.scheme) + " cannot be signed by this version");
  }
  if (!opts.name.empty() && !is_c_identifier(opts.name))
    throw Error(EINVAL, "skeleton_name",
                "skeleton name '" + opts.name + "' is not a C identifier (letters, digits, '_', not starting with a digit, not a keyword)");
  // Every loader is generated with libbpf 1.8's gen_hash, so it takes no
  // max_entries and no initial value from its unsigned ctx: what the maps
  // get is what was signed. ctx_overrides gives bpftool 7.7's (libbpf 1.7's)
  // loader byte for byte, ctx reads included, for the schemes that keep its
  // hash-match block.
  if (opts.ctx_overrides && opts.scheme != Scheme::kLoaderHash && opts.scheme != Scheme::kHashChain)
    throw Error(EINVAL, "bad_argument",
                "ctx overrides (bpftool 7.7's loader) only exist for schemes loader-hash and hash-chain, not " +
                    scheme_name(opts.scheme));
  GeneratedLoader gen = generate_loader(path, opts.name, !opts.ctx_overrides);

  std::vector<isa::Insn> prog = isa::decode(gen.insns, path + ": generated loader");
  // The kernel hashes the map value padded to 8 bytes; the loader compares that.
  if (match_block) insert_match_block(prog, opts.layout, crypto::sha256_padded8(gen.data), opts.mismatch_target);
  isa::validate(prog);

  SignedLoader out;
  out.scheme = opts.scheme;
  out.name = gen.name;
  out.insns = isa::encode(prog);
  if (out.insns.size() / 8 > kMaxLoaderInsns)
    throw Error(E2BIG, "limit_insns", path + ": loader has " + std::to_string(out.insns.size() / 8) + " instructions");
  out.data = std::move(gen.data);
  out.map_names = std::move(gen.map_names);
  out.prog_names = std::move(gen.prog_names);
  out.api = std::move(gen.api);
  // The loader is the only program that may use its metadata map: the map's
  // exclusive hash is the loader's digest, a plain SHA-256 of its instructions
  // (it has no BPF_PSEUDO_MAP_FD/VALUE immediates to zero).
  crypto::Digest excl = prog_digest(out.insns);
  out.excl_hash.assign(excl.begin(), excl.end());
  if (opts.scheme == Scheme::kHashChain) out.signature_maps = {0};  // fd_array[0]: the metadata map
  // Hornet signs with gen_sig's CMS profile (src/skel/sign_hornet.cpp), the others with bpftool's.
  out.signature = opts.scheme == Scheme::kHornet ? hornet_signature(out, opts.hornet_format, cert, key)
                                                 : sign_content_parts(out, cert, key);
  if (opts.embed_cert) out.signer_cert = crypto::certificate_der(cert);
  seal_bundle(out, key);  // last: the seal covers everything above
  return out;
}

// Plain verify does not hash the whole file: only the manifest names it.
SignedLoader read_signed_file(const std::string& path) { return read_signed_input(path, false).loader; }

// From this size on a bundle is decoded from its file in place (below it,
// one read of the whole file costs less than a read per section).
constexpr uint64_t kReadInPlaceSize = uint64_t{1} << 20;

SignedInput read_signed_input(const std::string& path, bool hash_input) {
  auto file_digest = [hash_input](ByteView bytes) { return hash_input ? crypto::sha256(bytes) : crypto::Digest{}; };
  // Read once ("-" and /dev/stdin cannot be read twice). A bundle's limit is a
  // quarter of a header's: a regular file's magic is peeked at first, so an
  // oversized bundle is refused before it is read.
  InputFile in(path);
  const std::string& what = in.name();
  // A large bundle is decoded from the file, each section read straight into
  // its field: the bytes are in memory once. Its digest is the digest of the
  // fields' encoding, which the decoder has just found to be the file's
  // bytes, so it names what was verified even if the file changes later.
  if (looks_like_bundle(in.peek(8))) {
    if (in.is_regular() && static_cast<uint64_t>(in.status().st_size) >= kReadInPlaceSize) {
      SignedLoader l = decode_bundle(in, static_cast<size_t>(in.status().st_size), what);
      const crypto::Digest digest = hash_input ? crypto::sha256([&](const auto& put) { write_bundle(l, put); }) : crypto::Digest{};
      return SignedInput{std::move(l), "bundle", digest};
    }
    const auto contents = in.read_contents(kMaxBundleSize);
    return SignedInput{decode_bundle(contents.bytes(), what), "bundle", file_digest(contents.bytes())};
  }
  const std::string text = in.read_all_text(kMaxHeaderSize);
  const ByteView bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (looks_like_bundle(bytes)) return SignedInput{decode_bundle(bytes, what), "bundle", file_digest(bytes)};  // stdin
  if (text.find("struct bpf_loader_ctx") != std::string::npos) {
    SignedLoader l = parse_header(text, what);
    mark_hornet_scheme(l);  // a header does not name its scheme: the signature tells
    // Fails closed: the C compiler would hand the edited literal to the program before load.
    check_header_initial_values(l, what);
    return SignedInput{std::move(l), "header", file_digest(bytes)};
  }
  throw Error(EBADMSG, "unknown_format", what + ": neither a bpfsig bundle nor a signed light-skeleton header");
}

}  // namespace bpfsig::skel
