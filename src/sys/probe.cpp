// SPDX-License-Identifier: Apache-2.0
// probe_kernel(): every feature is tried for real; nothing is guessed from
// the kernel version.
#include <unistd.h>

#include <cerrno>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"
#include "common/uapi.h"

namespace bpfsig::sys {
namespace {

using detail::UniqueFd;

using detail::kReturnZero;
using detail::trivial_syscall_prog;

void add_reason(KernelFeatures& f, const std::string& reason) {
  if (!f.reason.empty()) f.reason += "; ";
  f.reason += reason;
}


bool probe_bpf(KernelFeatures& f) {
  try {
    UniqueFd prog(prog_load(trivial_syscall_prog()));
    return true;
  } catch (const Error& e) {
    // Root and EPERM: an LSM refused the unsigned probe (bpfsig enforce does
    // exactly that). bpf() works; the signed probes below say what is checked.
    if (e.err() == EPERM) {
      f.unsigned_refused = true;
      add_reason(f, "an LSM refuses unsigned programs (" + std::string(e.what()) + ")");
      return true;
    }
    add_reason(f, "cannot load a SYSCALL program (" + std::string(e.what()) + ")");
    return false;
  }
}

bool probe_map_hash(KernelFeatures& f) {
  try {
    MapCreate req;
    req.name = "bpfsig_probe";
    req.value_size = 8;
    UniqueFd map(map_create(req));
    const uint8_t key[4] = {};
    const uint8_t value[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    map_update(map.get(), key, value);
    map_freeze(map.get());
    map_get_hash(map.get());
    return true;
  } catch (const Error& e) {
    add_reason(f, "no map hash (" + std::string(e.what()) + ")");
    return false;
  }
}

bool probe_excl_maps(KernelFeatures& f) {
  try {
    MapCreate req;
    req.name = "bpfsig_probe";
    req.value_size = 8;
    req.excl_prog_hash = Bytes(uapi::kSha256Size, 0x5a);
    UniqueFd map(map_create(req));
    return true;
  } catch (const Error& e) {
    add_reason(f, "no exclusive maps (" + std::string(e.what()) + ")");
    return false;
  }
}

// A junk signature reaches the PKCS#7 code only when the kernel has it: any
// error other than EOPNOTSUPP (EBADMSG, EINVAL from the keyring lookup, ...)
// means the signature was looked at.
bool probe_signed_load(KernelFeatures& f) {
  ProgLoad req = trivial_syscall_prog();
  req.signature = Bytes{0x30, 0x03, 0x02, 0x01, 0x00};  // not a PKCS#7 message
  try {
    UniqueFd prog(prog_load(req));
    return true;
  } catch (const Error& e) {
    if (e.err() == EOPNOTSUPP) {
      add_reason(f, "PROG_LOAD with a signature returned EOPNOTSUPP: this kernel cannot verify BPF program "
                    "signatures (CONFIG_SYSTEM_DATA_VERIFICATION is off)");
      return false;
    }
    if (e.err() == E2BIG) {
      // Kernels before 6.18 refuse non-zero attr bytes past their own union bpf_attr.
      add_reason(f, "PROG_LOAD with a signature returned E2BIG: this kernel predates signed BPF programs");
      return false;
    }
    return true;
  }
}

// One signed probe load: the trivial program, signed over `content` by a
// throw-away key that only bpfsig's own keyring holds. Returns 0 or the errno.
int signed_probe_load(const crypto::KeyPair& keys, ByteView content, const std::vector<int>& fd_array,
                      uint32_t fd_array_cnt) {
  detail::OwnKeyring keyring({crypto::certificate_der(keys.cert.get())});
  ProgLoad req = trivial_syscall_prog();
  req.fd_array = fd_array;
  req.fd_array_cnt = fd_array_cnt;
  req.signature = crypto::sign_bpftool(content, keys.cert.get(), keys.key.get());
  req.keyring_id = keyring.id();
  try {
    UniqueFd prog(prog_load(req));
    return 0;
  } catch (const Error& e) {
    return e.err();
  }
}

// The load-time scheme's shape: an exclusive, frozen ARRAY map bound through
// fd_array_cnt, signed over insns || its value.
int probe_insns_and_metadata(const crypto::KeyPair& keys) {
  const Bytes value = {1, 2, 3, 4, 5, 6, 7, 8};
  MapCreate map_req;
  map_req.name = "bpfsig_probe";
  map_req.value_size = static_cast<uint32_t>(value.size());
  crypto::Digest digest = crypto::sha256(kReturnZero);
  map_req.excl_prog_hash.assign(digest.begin(), digest.end());
  UniqueFd map(map_create(map_req));
  const uint8_t key[4] = {};
  map_update(map.get(), key, value);
  map_freeze(map.get());
  Bytes content = kReturnZero;
  content.insert(content.end(), value.begin(), value.end());
  return signed_probe_load(keys, content, {map.get()}, 1);
}

std::string probe_answer(int err) { return err == 0 ? "loaded" : errno_name(err); }

// Which scheme the kernel checks, by signing a probe both ways. The load-time
// probe goes first: a 7.3 kernel would also accept an insns-only signature
// over a program that binds no maps.
SignatureCheck probe_signature_check(KernelFeatures& f) {
  crypto::KeygenOptions opts;
  opts.algo = crypto::KeyAlgo::kP256;
  opts.subject = "CN=bpfsig kernel probe";
  opts.days = 1;
  crypto::KeyPair keys = crypto::make_key_pair(opts);
  int with_metadata = f.excl_maps ? probe_insns_and_metadata(keys) : ENOTSUP;
  f.signature_probe = "insns||metadata with fd_array_cnt: " + probe_answer(with_metadata);
  if (with_metadata == 0) return SignatureCheck::kInsnsAndMetadata;
  int insns_only = signed_probe_load(keys, kReturnZero, {}, 0);
  f.signature_probe += "; insns only: " + probe_answer(insns_only);
  if (insns_only == 0) return SignatureCheck::kInsns;
  add_reason(f, "this kernel checks signatures, but neither probe load passed (" + f.signature_probe + ")");
  return SignatureCheck::kUnknown;
}

}  // namespace

namespace detail {

ProgLoad trivial_syscall_prog() {
  ProgLoad req;
  req.name = "bpfsig_probe";
  req.insns = kReturnZero;
  return req;
}

}  // namespace detail

std::string signature_check_name(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::kUnprobed: return "unprobed";
    case SignatureCheck::kNone: return "none";
    case SignatureCheck::kInsns: return "insns";
    case SignatureCheck::kInsnsAndMetadata: return "insns||metadata";
    case SignatureCheck::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string signature_check_description(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::kInsns: return "signature over insns; the loader checks its metadata hash";
    case SignatureCheck::kInsnsAndMetadata: return "signature over insns||metadata";
    case SignatureCheck::kNone: return "no signature (the kernel cannot check one)";
    default: return "signature (scheme " + signature_check_name(check) + ")";
  }
}

KernelFeatures probe_kernel() {
  KernelFeatures f;
  if (::geteuid() != 0) {
    f.reason = "not root: loading SYSCALL programs and probing the bpf() features needs root";
    return f;
  }
  f.bpf = probe_bpf(f);
  if (!f.bpf) return f;
  f.map_hash = probe_map_hash(f);
  f.excl_maps = probe_excl_maps(f);
  f.signed_load = probe_signed_load(f);
  if (!f.signed_load) {
    f.signature_check = SignatureCheck::kNone;
    return f;
  }
  try {
    f.signature_check = probe_signature_check(f);
  } catch (const Error& e) {
    f.signature_check = SignatureCheck::kUnknown;
    add_reason(f, std::string("cannot probe which scheme this kernel checks: ") + e.what());
  }
  return f;
}

}  // namespace bpfsig::sys
