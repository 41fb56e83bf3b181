// SPDX-License-Identifier: Apache-2.0
// The running kernel: bpf(2) with the 6.18 union bpf_attr layout (Debian's
// linux-libc-dev is older, so the fields are defined here), keyrings, and the
// light-skeleton load sequence of skel_internal.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/skel.h"

namespace bpfsig::sys {

// All wrappers throw Error(errno, "bpf_syscall", "<COMMAND>: <strerror>") on failure.
struct MapCreate {
  uint32_t map_type = 2;  // BPF_MAP_TYPE_ARRAY
  std::string name;
  uint32_t key_size = 4;
  uint32_t value_size = 0;
  uint32_t max_entries = 1;
  uint32_t map_flags = 0;
  Bytes excl_prog_hash;   // empty: not exclusive
};
int map_create(const MapCreate& req);
void map_update(int map_fd, ByteView key, ByteView value, uint64_t flags = 0);
void map_lookup(int map_fd, ByteView key, Bytes& value_out);
void map_freeze(int map_fd);
// BPF_OBJ_GET_INFO_BY_FD with info.hash set (hash_size 32): returns the hash.
crypto::Digest map_get_hash(int map_fd);

struct ProgLoad {
  uint32_t prog_type = 31;  // BPF_PROG_TYPE_SYSCALL
  std::string name;
  Bytes insns;
  std::string license = "Dual BSD/GPL";
  uint32_t prog_flags = 0x10;  // BPF_F_SLEEPABLE
  std::vector<int> fd_array;   // passed as attr.fd_array when not empty
  uint32_t fd_array_cnt = 0;
  Bytes signature;             // empty: no signature
  int32_t keyring_id = 0;
  uint32_t log_level = 0;      // when non-zero, the verifier log goes into the error message
};
int prog_load(const ProgLoad& req);
struct RunResult {
  uint32_t retval = 0;
  uint32_t duration_ns = 0;
};
RunResult prog_run(int prog_fd, Bytes& ctx_inout);

struct ObjectInfo {
  uint32_t id = 0;
  uint32_t type = 0;
  std::string type_name;  // "hash", "array", "tracepoint", "xdp", ...
  std::string name;
  uint32_t key_size = 0, value_size = 0, max_entries = 0;  // maps
  uint32_t insn_count = 0;                                  // progs: xlated length / 8
  std::string tag_hex;                                      // progs
};
// Map and program type names as bpftool prints them ("hash", "tracepoint"),
// "type N" for types it does not know.
std::string map_type_name(uint32_t type);
std::string prog_type_name(uint32_t type);

ObjectInfo map_info(int map_fd);
ObjectInfo prog_info(int prog_fd);
void obj_pin(int fd, const std::string& path);

// Keyrings (add_key(2)/keyctl(2)). Serials are key_serial_t.
int32_t keyring_create(const std::string& description, int32_t parent);  // "keyring" type
int32_t key_add_x509(ByteView cert_der, int32_t keyring);                // "asymmetric" type
void key_unlink(int32_t key, int32_t keyring);
void key_invalidate(int32_t key);
inline constexpr int32_t kSessionKeyring = -3;
inline constexpr int32_t kUserKeyring = -4;

// What this kernel can do, found by trying (root needed for most of it).
struct KernelFeatures {
  bool bpf = false;            // BPF_PROG_LOAD of a trivial SYSCALL program works
  bool map_hash = false;       // GET_INFO hash of a frozen ARRAY map works
  bool excl_maps = false;      // MAP_CREATE accepts excl_prog_hash
  bool signed_load = false;    // PROG_LOAD with a signature is not EOPNOTSUPP
  std::string reason;          // why something is missing, for "skipped:" lines
};
KernelFeatures probe_kernel();

enum class KeyringMode { kOwn, kSession, kUser, kSerial };
struct LoadOptions {
  KeyringMode keyring = KeyringMode::kOwn;
  int32_t keyring_serial = 0;   // for kSerial
  bool send_signature = true;   // false: --userspace-verify (kernel does not check it)
  std::string pin_dir;          // empty: no pinning
};
struct LoadResult {
  int32_t keyring_id = 0;       // what PROG_LOAD got
  bool signature_sent = false;
  int32_t loader_retval = 0;
  ObjectInfo loader_map, loader_prog;
  std::vector<ObjectInfo> maps;  // in loader order, names from the SignedLoader
  std::vector<ObjectInfo> progs;
  std::vector<int> map_fds, prog_fds;  // owned by the caller after load()
  std::vector<std::string> pinned;     // paths
};
// The skel_internal.h sequence: MAP_CREATE("__loader.map", exclusive) ->
// UPDATE -> FREEZE -> GET_INFO(hash) -> PROG_LOAD("__loader.prog", SYSCALL,
// sleepable, fd_array, signature, keyring_id) -> PROG_RUN(ctx). A PROG_LOAD
// answered with EOPNOTSUPP while a signature was sent throws
// Error(EOPNOTSUPP, "kernel_no_sig"); a negative loader return value throws
// Error(-retval, "loader_failed"). The own keyring (kOwn) is always removed.
LoadResult load(const skel::SignedLoader& loader, const LoadOptions& opts);
void close_fds(const LoadResult& result);

}  // namespace bpfsig::sys
