// SPDX-License-Identifier: Apache-2.0
// The enforcer on the running kernel: load bpfsig's signed BPF-LSM light
// skeleton, give it a compiled policy, attach and pin it; report on it, read
// its audit ring buffer, and remove it. The policy itself is compiled by
// enforce::compile_policy (include/bpfsig/enforce.h); this layer only moves
// the map value of include/bpfsig/enforcer_abi.h into the kernel.
// docs/enforce.md describes the feature and what it protects against.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"

namespace bpfsig::sys {

inline constexpr const char* kEnforcerPinDir = "/sys/fs/bpf/bpfsig-enforce";

// What the enforcer needs from a kernel: prog->aux->sig in its BTF (Linux
// 7.2 and later) and the BPF LSM in the active LSM list.
struct EnforcerSupport {
  bool prog_aux_sig = false;
  bool bpf_lsm_active = false;
  std::string missing;  // one sentence naming what is missing; empty when both are there
  bool ok() const { return prog_aux_sig && bpf_lsm_active; }
};
EnforcerSupport probe_enforcer_support(const std::string& vmlinux_btf = "/sys/kernel/btf/vmlinux",
                                       const std::string& lsm_list = "/sys/kernel/security/lsm");

struct EnforcerStartOptions {
  skel::SignedLoader enforcer;           // the signed light skeleton of enforcer.bpf.o
  std::vector<Bytes> trusted_certs_der;  // its trust anchor (-i), into the keyring below
  KeyringMode keyring = KeyringMode::kOwn;
  int32_t keyring_serial = 0;
  Bytes policy_value;                    // enforce::CompiledPolicy::map_value()
  std::string policy_text;               // kept in a frozen map for status and log
  std::string pin_dir = kEnforcerPinDir;
};

struct EnforcerStatus {
  bool running = false;
  std::string pin_dir;
  uint32_t mode = 0;                     // BPFSIG_MODE_*
  uint32_t rule_count = 0;
  std::string policy_sha256_hex;
  std::string policy_text;
  uint64_t decisions = 0, lost_records = 0;
  struct Attachment {
    std::string hook;                    // "bpf_prog_load", "inode_unlink", ...
    uint32_t link_id = 0, prog_id = 0;
  };
  std::vector<Attachment> attachments;
  std::vector<uint32_t> map_ids;         // policy, events, stats, policy text
  uint64_t owner_exe_dev = 0, owner_exe_ino = 0;
};

// Errors: Error(EOPNOTSUPP, "enforcer_unsupported", support.missing) before
// anything is loaded; Error(EEXIST, "enforcer_running") when pin_dir holds an
// enforcer; Error(ENOTDIR, "enforcer_not_bpffs") when pin_dir is not on a
// bpffs; a load or bpf() error as sys::load gives it. Anything created before
// a failure is removed again.
EnforcerStatus enforcer_start(const EnforcerStartOptions& opts);
// running == false when pin_dir holds no enforcer.
EnforcerStatus enforcer_status(const std::string& pin_dir = kEnforcerPinDir);
// Checks that pin_dir holds an enforcer whose policy map names this pin
// directory and this executable as its owner (Error(EPERM,
// "enforcer_not_owner") otherwise), then removes every pin: the links go, and
// with them the programs and maps. Error(ENOENT, "enforcer_not_running").
void enforcer_stop(const std::string& pin_dir = kEnforcerPinDir);

// Reads the audit ring buffer: every record waiting, then (follow) each new one
// until `stop` becomes true. `sink` gets the raw record bytes and the
// CLOCK_REALTIME milliseconds of its boot-time stamp.
void enforcer_read_log(const std::string& pin_dir, bool follow, const std::atomic<bool>& stop,
                       const std::function<void(ByteView record, uint64_t time_ms)>& sink);

}  // namespace bpfsig::sys
