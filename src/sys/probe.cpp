// SPDX-License-Identifier: Apache-2.0
// probe_kernel(): every feature is tried for real; nothing is guessed from
// the kernel version.
#include <unistd.h>

#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"
#include "sys/uapi.h"

namespace bpfsig::sys {
namespace {

using detail::UniqueFd;

// r0 = 0; exit
const Bytes kReturnZero = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};

void add_reason(KernelFeatures& f, const std::string& reason) {
  if (!f.reason.empty()) f.reason += "; ";
  f.reason += reason;
}

ProgLoad trivial_syscall_prog() {
  ProgLoad req;
  req.name = "bpfsig_probe";
  req.insns = kReturnZero;
  return req;
}

bool probe_bpf(KernelFeatures& f) {
  try {
    UniqueFd prog(prog_load(trivial_syscall_prog()));
    return true;
  } catch (const Error& e) {
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

}  // namespace

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
  return f;
}

}  // namespace bpfsig::sys
