// SPDX-License-Identifier: Apache-2.0
// The running kernel: bpf(2) with the 6.18 union bpf_attr layout (Debian's
// linux-libc-dev is older, so the fields are defined here), keyrings, and the
// light-skeleton load sequence of skel_internal.h.
#pragma once

#include <cstdint>
#include <map>
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
// BPF_OBJ_GET of a pinned object (file_flags: BPF_F_RDONLY 8, BPF_F_WRONLY 16, or 0).
int obj_get(const std::string& path, uint32_t file_flags = 0);
// BPF_LINK_CREATE of a program with attach_btf_id (LSM, tracing): target_fd 0.
int link_create(int prog_fd, uint32_t attach_type);
struct LinkInfo {
  uint32_t type = 0, id = 0, prog_id = 0;
};
LinkInfo link_info(int link_fd);
// Whether a program with this id is still loaded (BPF_PROG_GET_FD_BY_ID).
bool prog_id_exists(uint32_t prog_id);

// Keyrings (add_key(2)/keyctl(2)). Serials are key_serial_t.
int32_t keyring_create(const std::string& description, int32_t parent);  // "keyring" type
int32_t key_add_x509(ByteView cert_der, int32_t keyring);                // "asymmetric" type
void key_unlink(int32_t key, int32_t keyring);
void key_invalidate(int32_t key);
inline constexpr int32_t kSessionKeyring = -3;
inline constexpr int32_t kUserKeyring = -4;

// What a kernel's BPF_PROG_LOAD checks when it is given a signature.
enum class SignatureCheck {
  kUnprobed,          // not asked yet
  kNone,              // EOPNOTSUPP: no in-kernel PKCS#7 (CONFIG_SYSTEM_DATA_VERIFICATION off)
  kInsns,             // the 6.18 scheme (Linux 6.18 to 7.2): the instructions only; the
                      // loader checks its metadata map's hash when it runs
  kInsnsAndMetadata,  // the load-time scheme (Linux 7.3): insns || the values of the
                      // maps bound through fd_array_cnt, which must be exclusive and frozen
  kUnknown,           // it checks signatures, but neither probe load passed
};
// "unprobed", "none", "insns", "insns||metadata", "unknown"
std::string signature_check_name(SignatureCheck check);
// What load --json reports as kernel_checked, e.g. "signature over insns||metadata".
std::string signature_check_description(SignatureCheck check);

// What this kernel can do, found by trying (root needed for most of it).
struct KernelFeatures {
  bool bpf = false;            // BPF_PROG_LOAD of a trivial SYSCALL program works
  bool map_hash = false;       // GET_INFO hash of a frozen ARRAY map works
  bool excl_maps = false;      // MAP_CREATE accepts excl_prog_hash
  bool signed_load = false;    // PROG_LOAD with a signature is not EOPNOTSUPP
  bool unsigned_refused = false;  // root's unsigned probe got EPERM: an LSM policy (bpfsig enforce) refuses it
  // Found by signing a probe program with a throw-away key in a keyring of
  // bpfsig's own: first over insns || map value with fd_array_cnt = 1, then
  // over the instructions alone. Unprobed when signed_load is false.
  SignatureCheck signature_check = SignatureCheck::kUnprobed;
  std::string signature_probe;  // what each probe load answered, for reports
  std::string reason;          // why something is missing, for "skipped:" lines
};
KernelFeatures probe_kernel();

// The keyring PROG_LOAD checks the signature against. The trust anchor
// always comes from the user: kOwn is a fresh keyring holding exactly the
// LoadOptions' certificates; kSession, kUser and kSerial get those
// certificates added (when any are given) and are otherwise used as they
// are; the system keyrings (builtin 0, secondary 1, platform 2) are used as
// they are. The certificate embedded in a bundle is never trusted.
enum class KeyringMode { kOwn, kSession, kUser, kSerial, kBuiltin, kSecondary, kPlatform };

// Deliberate breaks of one step of the load sequence, so that tests can
// measure a real kernel's answer to each (tests/qemu). Never set by the CLI.
struct LoadFaults {
  bool skip_freeze = false;         // the metadata map is not frozen
  bool skip_exclusive = false;      // the metadata map has no excl_prog_hash
  bool ignore_scheme_mismatch = false;  // send a loader this kernel does not check the way its scheme says
};

// What a host may write into the light skeleton's ctx besides its own
// inputs: map descriptors' max_entries and initial_value (a pointer to these
// bytes). A gen_hash loader (every scheme's unless signed with ctx_overrides)
// ignores both; tests use them to show that. Never set by the CLI.
struct LoaderCtxEdits {
  std::map<size_t, uint32_t> max_entries;  // map index -> max_entries
  std::map<size_t, Bytes> initial_values;  // map index -> value (at least value_size bytes)
};

struct LoadOptions {
  KeyringMode keyring = KeyringMode::kOwn;
  int32_t keyring_serial = 0;     // for kSerial
  std::vector<Bytes> trusted_certs_der;  // the user's trust anchors (-i)
  bool send_signature = true;     // false: --userspace-verify (the kernel does not check it)
  std::string pin_dir;            // empty: no pinning
  uint32_t verifier_log_level = 0;  // > 0: collect the verifier logs of the loader and what it loads
  // What the kernel checks; kUnprobed: probe it first (a few trial loads).
  SignatureCheck kernel_check = SignatureCheck::kUnprobed;
  LoadFaults faults;
  LoaderCtxEdits ctx_edits;
};
struct LoadResult {
  int32_t keyring_id = 0;       // what PROG_LOAD got
  bool signature_sent = false;
  SignatureCheck kernel_check = SignatureCheck::kUnprobed;
  std::string kernel_checked;   // signature_check_description, or why nothing was checked
  bool fd_array_cnt_sent = false;
  int32_t loader_retval = 0;
  ObjectInfo loader_map, loader_prog;
  std::vector<ObjectInfo> maps;  // in loader order, names from the SignedLoader
  std::vector<ObjectInfo> progs;
  std::vector<int> map_fds, prog_fds;  // owned by the caller after load()
  std::vector<std::string> pinned;     // paths
  std::string verifier_log;            // with verifier_log_level > 0
};
// The skel_internal.h sequence for the loader's scheme and what the kernel
// checks: MAP_CREATE("__loader.map", exclusive) -> UPDATE -> FREEZE ->
// (6.18 scheme: GET_INFO(hash)) -> PROG_LOAD("__loader.prog", SYSCALL,
// sleepable, fd_array (+ fd_array_cnt = 1 for the load-time scheme),
// signature, keyring_id) -> PROG_RUN(ctx). Errors:
//  - Error(EOPNOTSUPP, "kernel_no_sig") when the kernel checks no signatures;
//  - Error(EOPNOTSUPP, "scheme_not_in_kernel") when it checks another scheme
//    than the loader's, before anything is created;
//  - Error(EINVAL, "no_trust_anchor") for kOwn without certificates;
//  - Error(-retval, "loader_failed") for a negative loader return value,
//    naming the object the loader did not create;
//  - a failing bpf() call's Error, with the verifier log when asked for.
LoadResult load(const skel::SignedLoader& loader, const LoadOptions& opts);
void close_fds(const LoadResult& result);

}  // namespace bpfsig::sys
