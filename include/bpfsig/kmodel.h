// SPDX-License-Identifier: Apache-2.0
// The kernel model: an in-process, deterministic model of the BPF syscall
// path of a chosen kernel profile (kernel/bpf/syscall.c, arraymap.c,
// hashtab.c, ringbuf.c, btf.c of Linux 6.18). Processes, their fd tables,
// global object ids, refcounted maps, BTF and program objects, keyrings, the
// program LSM hooks, and SYSCALL programs run in bpfsig::vm. Nothing here
// touches the running kernel; docs/kmodel.md lists what is modelled and where
// the real kernel and the source disagreed.
//
// Error style: every syscall-like method either returns its result or throws
// bpfsig::Error(errno, "kmodel", "<BPF_COMMAND>: <why>") with the positive
// errno the kernel returns. The one exception is check_exclusive(), a check
// (not a syscall) that PROG_LOAD will run: it returns 0 or -EACCES.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/skel.h"
#include "bpfsig/vm.h"

namespace bpfsig::lsm {
class LsmStack;
}

namespace bpfsig::kmodel {

// enum bpf_map_type (Linux 6.18; docs/kmodel.md says what each one models)
inline constexpr uint32_t kMapHash = 1;
inline constexpr uint32_t kMapArray = 2;
inline constexpr uint32_t kMapProgArray = 3;
inline constexpr uint32_t kMapPerfEventArray = 4;
inline constexpr uint32_t kMapPercpuHash = 5;
inline constexpr uint32_t kMapPercpuArray = 6;
inline constexpr uint32_t kMapStackTrace = 7;
inline constexpr uint32_t kMapCgroupArray = 8;
inline constexpr uint32_t kMapLruHash = 9;
inline constexpr uint32_t kMapLruPercpuHash = 10;
inline constexpr uint32_t kMapLpmTrie = 11;
inline constexpr uint32_t kMapArrayOfMaps = 12;
inline constexpr uint32_t kMapHashOfMaps = 13;
inline constexpr uint32_t kMapDevmap = 14;
inline constexpr uint32_t kMapSockmap = 15;
inline constexpr uint32_t kMapCpumap = 16;
inline constexpr uint32_t kMapXskmap = 17;
inline constexpr uint32_t kMapSockhash = 18;
inline constexpr uint32_t kMapCgroupStorage = 19;
inline constexpr uint32_t kMapReuseportSockarray = 20;
inline constexpr uint32_t kMapPercpuCgroupStorage = 21;
inline constexpr uint32_t kMapQueue = 22;
inline constexpr uint32_t kMapStack = 23;
inline constexpr uint32_t kMapSkStorage = 24;
inline constexpr uint32_t kMapDevmapHash = 25;
inline constexpr uint32_t kMapStructOps = 26;
inline constexpr uint32_t kMapRingbuf = 27;
inline constexpr uint32_t kMapInodeStorage = 28;
inline constexpr uint32_t kMapTaskStorage = 29;
inline constexpr uint32_t kMapBloomFilter = 30;
inline constexpr uint32_t kMapUserRingbuf = 31;
inline constexpr uint32_t kMapCgrpStorage = 32;
inline constexpr uint32_t kMapArena = 33;

// map_create flags (BPF_F_*)
inline constexpr uint32_t kFNoPrealloc = 1u << 0;
inline constexpr uint32_t kFNumaNode = 1u << 2;
inline constexpr uint32_t kFRdonly = 1u << 3;       // syscall side may not write
inline constexpr uint32_t kFWronly = 1u << 4;       // syscall side may not read
inline constexpr uint32_t kFRdonlyProg = 1u << 7;   // programs may not write
inline constexpr uint32_t kFWronlyProg = 1u << 8;
inline constexpr uint32_t kFNoCommonLru = 1u << 1;  // LRU maps: one LRU list per CPU
inline constexpr uint32_t kFStackBuildId = 1u << 5;  // STACK_TRACE: build-id + offset values
inline constexpr uint32_t kFZeroSeed = 1u << 6;
inline constexpr uint32_t kFClone = 1u << 9;         // local storage: cloned with the socket
inline constexpr uint32_t kFMmapable = 1u << 10;
inline constexpr uint32_t kFPreserveElems = 1u << 11;
inline constexpr uint32_t kFInnerMap = 1u << 12;     // inner ARRAY: max_entries may differ
inline constexpr uint32_t kFLink = 1u << 13;         // STRUCT_OPS (same bit as kFSegvOnFault)
inline constexpr uint32_t kFSegvOnFault = 1u << 13;  // ARENA
inline constexpr uint32_t kFNoUserConv = 1u << 14;   // ARENA

// update flags
inline constexpr uint64_t kAny = 0;
inline constexpr uint64_t kNoExist = 1;
inline constexpr uint64_t kExist = 2;
inline constexpr uint64_t kFLock = 4;

// The kernel-internal ENOTSUPP (include/linux/errno.h) that some map
// operations leak to user space; it is not EOPNOTSUPP (95).
inline constexpr int kENOTSUPP = 524;

// enum bpf_prog_type: the ones the tests name; 1..kMaxProgType are all valid.
inline constexpr uint32_t kProgTracepoint = 5;
inline constexpr uint32_t kProgXdp = 6;
inline constexpr uint32_t kProgSyscall = 31;
inline constexpr uint32_t kMaxProgType = 32;  // BPF_PROG_TYPE_NETFILTER

// prog_load flags
inline constexpr uint32_t kFSleepable = 1u << 4;  // BPF_F_SLEEPABLE

// keyring_id values naming the system keyrings (system_keyring_id_check);
// anything else is the serial of a keyring made by keyring_create().
inline constexpr int32_t kBuiltinKeyring = 0;
inline constexpr int32_t kSecondaryKeyring = 1;  // falls back to the builtin one
inline constexpr int32_t kPlatformKeyring = 2;
// KEY_SPEC_BPF_KEYRING: the `.bpf` keyring of the 2026 loadtime scheme. Only
// profiles with loadtime_signature have it (elsewhere: EINVAL / ENOKEY like
// any unknown serial); while empty ("sealed empty") a load naming it: ENOKEY.
inline constexpr int32_t kBpfKeyring = -9;
// KEY_SPEC_SESSION_KEYRING / KEY_SPEC_USER_KEYRING: resolved against the
// calling process (its own session keyring) and its uid (one keyring per
// uid). Fill them with keyring_add_cert(proc, id, cert); docs/kmodel.md.
inline constexpr int32_t kSessionKeyring = -3;
inline constexpr int32_t kUserKeyring = -4;

inline constexpr uint32_t kSha256Size = 32;
inline constexpr size_t kObjNameLen = 16;     // BPF_OBJ_NAME_LEN, NUL included
inline constexpr size_t kMapStructPrefix = 36;  // struct bpf_map: u8 sha[32]; u32 excl

// What differs between kernels the model can stand for.
struct KernelProfile {
  std::string name;
  // true: BPF_OBJ_GET_INFO_BY_FD refuses the hash of an unfrozen map with
  // EPERM (the Feb 2026 fix, in this machine's 6.18.44). false: the earlier
  // behaviour, where a hash fetched before freezing can go stale (TOCTOU).
  bool map_hash_requires_frozen = true;
  uint32_t nr_cpus = 2;      // num_possible_cpus(): per-CPU values per lookup
  uint32_t page_size = 4096;
  // CONFIG_NR_CPUS: a CPUMAP's max_entries limit (256 on this machine's
  // 6.18.44, measured; Debian's generic kernels have 8192).
  uint32_t config_nr_cpus = 256;
  // What bpf_kallsyms_lookup_name finds (name -> address); others: -ENOENT.
  std::map<std::string, uint64_t> kallsyms;
  // What bpf_btf_find_by_name_kind finds in vmlinux BTF: (name, BTF_KIND_*)
  // -> type id; others: -ENOENT. Module BTF is not modelled.
  std::map<std::pair<std::string, uint32_t>, uint32_t> vmlinux_btf;
  // The 2026 loadtime scheme (bpf-next, Documentation/bpf/signing.rst): the
  // signature is checked inside bpf_check() after fd_array is resolved, over
  // insns || value of each fd_array map (which must be exclusive, frozen,
  // plain ARRAY), the result is kept in prog->aux->sig (lsm::ProgView::sig),
  // the LSM hook runs after it, and the `.bpf` keyring (-9) exists.
  // load_skeleton then passes fd_array_cnt = 1.
  bool loadtime_signature = false;
  // Linux 7.2 (and later): the 6.18-scheme check (the instructions only)
  // also records its result in prog->aux->sig, before security_bpf_prog_load
  // (kernel/bpf/syscall.c of 7.2). loadtime_signature records it anyway.
  bool records_prog_sig = false;
  // true: bpf_btf_find_by_name_kind searches the host's
  // /sys/kernel/btf/vmlinux (parsed with libbpf, lazily, once per Kernel)
  // when it is readable, and `vmlinux_btf` only when it is not. false: only
  // `vmlinux_btf` (fully deterministic).
  bool host_vmlinux_btf = true;

  static KernelProfile linux_6_18();
  static KernelProfile linux_7_2();  // name "7.2": 6.18's scheme, prog->aux->sig recorded
  static KernelProfile pre_2026_toctou();
  static KernelProfile loadtime_2026();  // name "loadtime"
  // name "hornet": 6.18 with the LSM integrity framework hooks, for the Hornet
  // LSM (docs/hornet.md). The 6.18 in-kernel signature check stays: a Hornet
  // signature passes it, so it runs first and Hornet sees only what it let by.
  static KernelProfile hornet();

  // The "BPF signature hash chains" series (bpf-next v2, Sep 2025, not
  // merged) on top of 6.18: PROG_LOAD knows signature_maps (u32 fd_array
  // indices); with a signature and a non-empty list the PKCS#7 covers
  // sha256(sha256(insns) || h(0)), h chained over the maps' array hashes
  // (skel::hash_chain_value), checked where 6.18 checks the signature, before
  // security_bpf_prog_load. Kernels without it refuse a non-zero
  // signature_maps as an unknown attr tail (E2BIG). docs/kmodel.md.
  bool hash_chain_signature = false;
  static KernelProfile hash_chain();  // name "hash-chain"

  // true: PROG_LOAD of a program that needs a BPF trampoline (TRACING with
  // fentry, fexit or fmod_ret; LSM; EXT) is EPERM before any other check,
  // as this machine's 6.18.44-fc kernel answers (measured, as root). Off in
  // every named profile: 6.18's source has no such refusal.
  bool refuse_trampolines = false;

};

struct MapCreateAttr {
  uint32_t type = kMapArray;
  uint32_t key_size = 4;
  uint32_t value_size = 0;
  uint32_t max_entries = 1;
  uint32_t flags = 0;
  std::string name;       // up to 15 characters of [A-Za-z0-9_.]
  Bytes excl_prog_hash;   // empty: not exclusive; else must be 32 bytes
  // The rest of 6.18's BPF_MAP_CREATE attr (0: not given).
  uint64_t map_extra = 0;        // BLOOM_FILTER: nr_hashes (low 4 bits); ARENA: user VMA start
  int32_t inner_map_fd = 0;      // ARRAY_OF_MAPS / HASH_OF_MAPS: the inner map template
  int32_t btf_fd = 0;            // read when a btf_*_type_id is set
  uint32_t btf_key_type_id = 0, btf_value_type_id = 0;
  uint32_t btf_vmlinux_value_type_id = 0;  // STRUCT_OPS only
};

// What BPF_OBJ_GET_INFO_BY_FD reports for a map (without a hash).
struct MapInfo {
  uint32_t type = 0, id = 0, key_size = 0, value_size = 0, max_entries = 0, flags = 0;
  std::string name;
  bool frozen = false;
  bool exclusive = false;
};

struct BtfInfo {
  uint32_t id = 0;
  uint32_t size = 0;
};

// BPF_PROG_LOAD's attributes (the pointers already dereferenced).
struct ProgLoadAttr {
  uint32_t prog_type = kProgSyscall;
  uint32_t expected_attach_type = 0;
  Bytes insns;                  // insn_cnt * 8 bytes
  std::string license;
  uint32_t prog_flags = 0;
  std::string name;             // prog_name, same rules as map names
  std::vector<int32_t> fd_array;  // empty: attr.fd_array == NULL
  uint32_t fd_array_cnt = 0;
  Bytes signature;              // empty: attr.signature == 0
  int32_t keyring_id = 0;
  // The hash-chain series' attr.signature_maps (fd_array indices); empty:
  // signature_maps_size == 0. Other profiles: E2BIG when not empty.
  std::vector<uint32_t> signature_maps;
  // The attach target by BTF: attach_btf_id in vmlinux BTF (the host's, as
  // KernelProfile::host_vmlinux_btf), or in the object attach_btf_obj_fd
  // names (the same attr field as attach_prog_fd). docs/kmodel.md.
  uint32_t attach_btf_id = 0;
  int32_t attach_btf_obj_fd = 0;
  // The program's BTF (prog_btf_fd) and how many func_info / line_info
  // records came with it (the records are not interpreted). 6.18 reads
  // prog_btf_fd, and applies core_relos, only when one of the counts is set
  // (check_btf_info_early / check_btf_info).
  int32_t prog_btf_fd = 0;
  uint32_t func_info_cnt = 0, line_info_cnt = 0;
  // CO-RE relocations (struct bpf_core_relo records, core_relo_rec_size
  // bytes each, as read from the caller: fewer bytes than core_relo_cnt
  // records is a copy fault) applied against the target kernel's BTF
  // (Kernel::set_vmlinux_btf_file or the host's). docs/kmodel.md, "CO-RE".
  Bytes core_relos;
  uint32_t core_relo_cnt = 0;
  uint32_t core_relo_rec_size = 0;
};

// What BPF_OBJ_GET_INFO_BY_FD reports for a program, plus what the model
// knows about how it was loaded.
struct ProgInfo {
  uint32_t type = 0, id = 0, flags = 0, expected_attach_type = 0;
  std::string name;
  uint32_t insn_count = 0;          // as loaded (the model does not rewrite)
  crypto::Digest digest{};          // prog->digest; the tag is its first 8 bytes
  std::vector<uint32_t> map_ids;    // used_maps, in the order first referenced
  bool gpl_compatible = false;
  bool loaded_by_kernel = false;    // came through bpf_sys_bpf (kernel == true)
  Bytes insns;                      // as loaded: with the CO-RE relocations applied
};

// Memory of the calling process that bpf_copy_from_user may read: a user
// address -> the bytes mapped there. An address in no entry faults.
struct UserMemory {
  std::map<uint64_t, Bytes> regions;
};

// BPF_LINK_CREATE's XDP case: attach_type BPF_XDP, the XDP_FLAGS_* bits.
inline constexpr uint32_t kAttachXdp = 37;
inline constexpr uint32_t kXdpFlagsUpdateIfNoexist = 1u << 0;
inline constexpr uint32_t kXdpFlagsSkbMode = 1u << 1;
inline constexpr uint32_t kXdpFlagsDrvMode = 1u << 2;
inline constexpr uint32_t kXdpFlagsHwMode = 1u << 3;
inline constexpr uint32_t kXdpFlagsReplace = 1u << 4;
inline constexpr uint32_t kLoopbackIfindex = 1;
inline constexpr uint32_t kLinkTypeXdp = 6;  // enum bpf_link_type BPF_LINK_TYPE_XDP

// What BPF_OBJ_GET_INFO_BY_FD reports for a link.
struct LinkInfo {
  uint32_t type = 0, id = 0, prog_id = 0;
  uint32_t ifindex = 0;  // XDP links
};

// ---- provenance of what a loader passes to the kernel (deep verify) ---------

// Where a run of bytes came from (docs/deep-verify.md, "Provenance"):
// "metadata" (the loader map's value as loaded, offset into it), "insns"
// (written by the program's own instruction at byte offset `offset`),
// "kernel" (a helper's result, written by the instruction at `offset`),
// "ctx" / "user" (the unsigned ctx or user memory, offset into it), or
// "computed" (several sources; `sources` names them).
struct Provenance {
  std::string source;
  uint64_t offset = 0, length = 0;
  uint8_t sources = 0;  // vm::kFrom* bits of every byte
  bool unsigned_input() const { return sources & vm::kFromUnsigned; }
};

// One field of a nested command's attr, or the bytes one of its pointers
// names: its value (integers) or bytes, and their provenance.
struct TracedValue {
  std::string name;  // the attr field ("max_entries") or the pointed-to data ("insns")
  uint64_t value = 0;
  Bytes bytes;       // pointed-to data only
  Provenance provenance;
};

// One bpf_sys_bpf call of a traced PROG_RUN, in the order the loader made it.
struct TracedCall {
  std::string command;  // "BPF_MAP_CREATE", ...
  std::vector<TracedValue> fields, data;
  int64_t result = 0;   // the fd, 0 or -errno
  uint32_t object_id = 0;  // of the map, BTF or program it created (0: none)
  // fd fields resolved to the id of the object they named at the call
  // ("map_fd" -> map id, "btf_fd" -> BTF id, ...).
  std::map<std::string, uint32_t> referenced_ids;
  const TracedValue* field(const std::string& name) const;
  const TracedValue* datum(const std::string& name) const;
};

// A lookup helper's answer (bpf_btf_find_by_name_kind, bpf_kallsyms_lookup_name):
// how a loader resolved kfunc and attach-target names to ids.
struct TracedLookup {
  std::string helper, name;
  uint32_t kind = 0;
  int64_t result = 0;
};

// What a traced PROG_RUN did: its nested calls and lookups, the loader
// instructions that branched on unsigned input, and the metadata map's id
// (what "metadata" provenance is relative to).
struct NestedTrace {
  std::vector<TracedCall> calls;
  std::vector<TracedLookup> lookups;
  std::vector<vm::TaintedBranch> tainted_branches;  // of the loader
  uint32_t metadata_map_id = 0;
};

struct ProgRunOptions {
  const UserMemory* user_memory = nullptr;  // null: every user pointer faults
  uint64_t budget = 10'000'000;             // instructions before the model gives up
  // Set: the run tracks provenance (vm::OriginTracker) and records every
  // nested call here. Null (the default): no tracking, no cost.
  NestedTrace* trace = nullptr;
};

struct ProgRunResult {
  uint32_t retval = 0;
  uint64_t instructions = 0;
};

// The first bpf_sys_bpf call of a PROG_RUN that failed: what the loader's
// negative return value comes from (gen_loader returns that call's -errno).
struct NestedFailure {
  std::string command;   // as the kernel spells it: "BPF_MAP_CREATE", "BPF_PROG_LOAD"
  std::string object;    // attr map_name / prog_name; "" for commands without one
  std::string map_type;  // BPF_MAP_CREATE: the type's enum name ("PERF_EVENT_ARRAY"); else ""
  int err = 0;           // positive errno
  std::string reason;    // the model's reason (the Error message without "COMMAND: ")
  // How many records the LSM audit log held when it failed (0 without a
  // stack): where the failure sits in the hook trace.
  size_t audit_position = 0;
};

// "PERF_EVENT_ARRAY" for 4: enum bpf_map_type without BPF_MAP_TYPE_ (6.18);
// the number as text for one the kernel does not know.
std::string map_type_enum_name(uint32_t type);

class Object;  // a map, BTF or program object: src/kmodel/objects.h
class Prog;

// One simulated process: its pid, comm and fd table. Created by Kernel::spawn;
// fds are allocated lowest-free-first from 3 (0-2 are the std streams).
class Process {
 public:
  Process(int pid, std::string comm) : pid_(pid), comm_(std::move(comm)) {}
  int pid() const { return pid_; }
  const std::string& comm() const { return comm_; }
  std::vector<int> open_fds() const;

 private:
  friend class Kernel;
  int install(std::shared_ptr<Object> object);
  int pid_;
  std::string comm_;
  std::map<int, std::shared_ptr<Object>> fds_;

 public:
  uint32_t uid() const { return uid_; }

 private:
  uint32_t uid_ = 0;  // set by Kernel::spawn(comm, uid); picks the user keyring (-4)
};

// An explicit mmap() of a map fd, held until Kernel::munmap.
using MmapHandle = uint32_t;

class Kernel {
 public:
  explicit Kernel(KernelProfile profile = KernelProfile::linux_6_18());
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const KernelProfile& profile() const { return profile_; }
  Process& spawn(const std::string& comm);  // pids increase from 1
  Process& spawn(const std::string& comm, uint32_t uid);  // the same, with a uid (default 0)

  // ---- fds (close(2), dup(2)); EBADF for an fd that is not open
  void close(Process& proc, int fd);
  int dup(Process& proc, int fd);

  // ---- maps
  int map_create(Process& proc, const MapCreateAttr& attr);
  void map_update(Process& proc, int fd, ByteView key, ByteView value, uint64_t flags = kAny);
  // Per-CPU maps return nr_cpus slots of round_up(value_size, 8) bytes.
  // BLOOM_FILTER: value_in is the value to test (the kernel copies it in);
  // the result is empty when it may be present, ENOENT when it is not.
  Bytes map_lookup(Process& proc, int fd, ByteView key, uint64_t flags = 0, ByteView value_in = {});
  void map_delete(Process& proc, int fd, ByteView key);
  // BPF_MAP_GET_NEXT_KEY; key nullopt is attr.key == NULL (the first key).
  Bytes map_get_next_key(Process& proc, int fd, std::optional<ByteView> key);
  // BPF_MAP_LOOKUP_AND_DELETE_ELEM: QUEUE/STACK pop, the hash maps and
  // STACK_TRACE; other types ENOTSUPP.
  Bytes map_lookup_and_delete(Process& proc, int fd, ByteView key, uint64_t flags = 0);
  void map_freeze(Process& proc, int fd);
  MapInfo map_info(Process& proc, int fd);
  // BPF_OBJ_GET_INFO_BY_FD with info.hash set and info.hash_size = hash_size:
  // computes the hash into map->sha and returns it.
  crypto::Digest map_get_hash(Process& proc, int fd, uint32_t hash_size = kSha256Size);
  // mmap(MAP_SHARED) of the whole value area; writable means PROT_WRITE.
  MmapHandle map_mmap(Process& proc, int fd, bool writable);
  void mmap_write(MmapHandle handle, size_t offset, ByteView bytes);
  void munmap(MmapHandle handle);
  // The first 36 bytes of the kernel's struct bpf_map (sha[32], then u32 excl
  // little-endian), as a program holding the map pointer reads them.
  std::array<uint8_t, kMapStructPrefix> map_struct_prefix(Process& proc, int fd);

  // ---- exclusive maps and program digests
  static crypto::Digest prog_digest(ByteView insns);  // = skel::prog_digest
  // 0 when the map is not exclusive or its excl_prog_hash equals digest,
  // else -EACCES (what PROG_LOAD answers for a program using the map).
  int check_exclusive(Process& proc, int map_fd, const crypto::Digest& digest);

  // ---- BTF (BPF_BTF_LOAD): the header is validated, the types are not.
  int btf_load(Process& proc, ByteView blob);
  BtfInfo btf_info(Process& proc, int fd);

  // ---- global ids: true while an object with that id is alive (held by an
  // fd, an mmap or another object)
  bool map_alive(uint32_t id) const;
  bool btf_alive(uint32_t id) const;
  bool prog_alive(uint32_t id) const;

  // ---- keyrings (the kernel's system keyrings and user keyrings of X.509
  // certificates). keyring_id is kBuiltinKeyring, kSecondaryKeyring,
  // kPlatformKeyring or a serial from keyring_create; an unknown one: EINVAL.
  int32_t keyring_create(const std::string& description);
  void keyring_add_cert(int32_t keyring_id, ByteView cert_der);
  // The same, resolving kSessionKeyring (-3: proc's session keyring) and
  // kUserKeyring (-4: the keyring of proc's uid) first; other ids as above.
  void keyring_add_cert(Process& proc, int32_t keyring_id, ByteView cert_der);
  // bpf_btf_find_by_name_kind's lookup (flags 0): the vmlinux type id (BTF
  // object fd 0 in the upper half) of name with BTF_KIND_* kind, or -ENOENT.
  // Host BTF or profile.vmlinux_btf, as KernelProfile::host_vmlinux_btf says.
  int64_t btf_find_by_name_kind(const std::string& name, uint32_t kind);
  // true once the host's vmlinux BTF (or the file given to
  // set_vmlinux_btf_file) has been parsed and is being used.
  bool using_host_vmlinux_btf();
  // The target kernel's vmlinux BTF from a file (raw BTF or an ELF with a
  // .BTF section, as btf__parse reads it) instead of the host's: what CO-RE
  // relocations in PROG_LOAD and bpf_btf_find_by_name_kind resolve against,
  // whatever KernelProfile::host_vmlinux_btf says. Throws
  // Error(errno, "kmodel", ...) naming the file when it cannot be parsed.
  void set_vmlinux_btf_file(const std::string& path);

  // ---- LSMs: security_bpf_prog_load and security_bpf_prog run through this
  // stack; null (the default) is a kernel with no BPF LSM hooks.
  void set_lsm_stack(std::shared_ptr<lsm::LsmStack> stack) { lsm_ = std::move(stack); }
  lsm::LsmStack* lsm_stack() const { return lsm_.get(); }
  // Opt-in (off by default, so existing audit trails are unchanged): also
  // call security_bpf at the entry of every modelled command and
  // security_bpf_map_create in MAP_CREATE, as 6.18 does. docs/kmodel.md.
  void set_lsm_bpf_hooks(bool enabled) { lsm_bpf_hooks_ = enabled; }
  bool lsm_bpf_hooks() const { return lsm_bpf_hooks_; }

  // ---- programs
  // BPF_PROG_LOAD. kernel == true is a load made by a program through
  // bpf_sys_bpf (uattr.is_kernel): the same checks, reported as such to the
  // LSMs. Returns the program fd in proc.
  int prog_load(Process& proc, const ProgLoadAttr& attr, bool kernel = false);
  ProgInfo prog_info(Process& proc, int fd);
  // BPF_PROG_RUN (test_run) of a SYSCALL program with ctx as ctx_in and
  // ctx_out; the program runs in the VM, its bpf_sys_bpf calls act on proc.
  ProgRunResult prog_run(Process& proc, int fd, Bytes& ctx, const ProgRunOptions& options = {});
  // The first nested bpf() call (bpf_sys_bpf) of the last PROG_RUN that
  // failed; empty when none did. Reset by every PROG_RUN.
  const std::optional<NestedFailure>& nested_failure() const { return nested_failure_; }

  // ---- links (BPF_LINK_CREATE). Modelled: XDP links (attach_type BPF_XDP) on
  // the one network device the model has, loopback (ifindex 1, no native
  // XDP, so generic mode); other attach types: EOPNOTSUPP "not modelled".
  // The attachment lasts while the link object lives (an fd holds it).
  int link_create(Process& proc, int prog_fd, uint32_t attach_type, uint32_t target_ifindex, uint32_t flags = 0);
  LinkInfo link_info(Process& proc, int fd);

 private:
  struct Mapping;
  std::shared_ptr<Object> object_at(Process& proc, int fd, const char* cmd) const;
  template <typename T>
  std::shared_ptr<T> typed_object_at(Process& proc, int fd, const char* cmd) const;

  std::vector<crypto::Certificate> trusted_certs(int32_t keyring_id) const;
  int prog_load_loadtime(Process& proc, const ProgLoadAttr& attr, bool kernel);  // profile.loadtime_signature
  // The end of every PROG_LOAD order: an id, security_bpf_prog, an fd.
  int publish_prog(Process& proc, std::shared_ptr<Prog> prog);
  void run_prog_load_hook(Process& proc, Prog& prog, const ProgLoadAttr& attr, bool kernel);
  // After an fd or mmap went away: map_release_uref when it was the map's last
  // user reference (no fd in any process, no mapping).
  void drop_user_ref(const std::shared_ptr<Object>& object);

  KernelProfile profile_;
  std::shared_ptr<lsm::LsmStack> lsm_;
  int next_pid_ = 1;
  uint32_t next_map_id_ = 1;
  uint32_t next_btf_id_ = 1;
  uint32_t next_prog_id_ = 1;
  uint32_t next_link_id_ = 1;
  std::weak_ptr<Object> lo_generic_xdp_;  // the link holding loopback's generic XDP slot
  int32_t next_key_serial_ = 100'000'000;  // user keyring serials (positive, like key_serial_t)
  std::map<int32_t, std::vector<Bytes>> keyrings_;  // DER certificates by keyring id
  std::map<uint32_t, std::weak_ptr<Object>> progs_by_id_;
  MmapHandle next_mmap_ = 1;
  std::vector<std::unique_ptr<Process>> processes_;
  std::map<uint32_t, std::weak_ptr<Object>> maps_by_id_;
  std::map<uint32_t, std::weak_ptr<Object>> btfs_by_id_;
  std::map<MmapHandle, std::unique_ptr<Mapping>> mappings_;

  // ---- additions: LSM security_bpf / security_bpf_map_create, host BTF,
  // session and user keyrings
  friend struct KernelInternals;  // bpf_sys_bpf (sys_bpf.cpp) marks nested commands
  // security_bpf(cmd, attr, size, kernel) when a stack is set and the command
  // was not already announced by bpf_sys_bpf; throws the hook's errno.
  void lsm_bpf(const Process& proc, int cmd, const char* cmd_name, bool kernel = false);
  int32_t resolve_keyring(const Process& proc, int32_t keyring_id, bool create);
  std::vector<crypto::Certificate> trusted_certs(const Process& proc, int32_t keyring_id);
  struct HostBtf;
  std::shared_ptr<HostBtf> host_btf_;
  // attach_btf.cpp: attach targets by BTF, ksym and kfunc BTF ids
  void check_attach_attr(Process& proc, const ProgLoadAttr& attr);
  void check_attach_btf_id(const ProgLoadAttr& attr, bool gpl_compatible);
  void resolve_kernel_btf_ids(Process& proc, ByteView insns, bool gpl_compatible);
  // core_relo.cpp: check_btf_info_early's prog_btf_fd and check_core_relo;
  // returns the instructions with the relocations applied.
  Bytes apply_core_relos(Process& proc, const ProgLoadAttr& attr);
  bool kallsyms_has(const std::string& name);
  std::shared_ptr<std::vector<std::string>> host_kallsyms_;  // sorted names of /proc/kallsyms
  bool host_kallsyms_tried_ = false;
  bool host_btf_tried_ = false;
  bool lsm_bpf_hooks_ = false;
  bool in_sys_bpf_ = false;
  NestedTrace* trace_ = nullptr;  // set during a traced PROG_RUN
  std::optional<NestedFailure> nested_failure_;  // set by bpf_sys_bpf (sys_bpf.cpp)  // inside a bpf_sys_bpf command: security_bpf already ran, kernel == true
  std::map<int, int32_t> session_keyrings_;   // pid -> serial
  std::map<uint32_t, int32_t> user_keyrings_;  // uid -> serial

  // ---- additions: the kernel as the Hornet LSM sees it (lsm::KernelServices,
  // src/kmodel/lsm_services.cpp), handed to the stack before each hook
  class LsmServices;
  std::shared_ptr<LsmServices> lsm_services_;
  void attach_lsm_services(const Process& proc);
  // security_bpf with the attr bytes (BPF_PROG_RUN: attr->test.prog_fd first).
  void lsm_bpf(const Process& proc, int cmd, const char* cmd_name, bool kernel, ByteView attr);
};

// ---- the light-skeleton load sequence (sys::load, in the model) -------------

struct SkeletonOptions {
  bool send_signature = true;  // false: load unsigned, as sys::load with --userspace-verify
  int32_t keyring_id = kBuiltinKeyring;
  // Map index -> user address stored in that map descriptor's initial_value
  // (the loader copies value_size bytes from there with bpf_copy_from_user).
  std::map<size_t, uint64_t> initial_values;
  const UserMemory* user_memory = nullptr;  // what those addresses hold
  // Map index -> the max_entries stored in that map descriptor (0: none). A
  // loader without gen_hash (sign --ctx-overrides) creates the map with it.
  std::map<size_t, uint32_t> max_entries;
  // Deliberate breaks of the sequence, as sys::LoadFaults (the differential
  // tests against real kernels, tests/qemu): the metadata map not frozen, or
  // created without excl_prog_hash.
  bool skip_freeze = false;
  bool skip_exclusive = false;
  // Deep verify: the loader's run is traced into this (ProgRunOptions::trace).
  NestedTrace* trace = nullptr;
};

struct SkeletonResult {
  int32_t loader_retval = 0;
  MapInfo loader_map;
  ProgInfo loader_prog;
  std::vector<MapInfo> maps;   // in loader order
  std::vector<ProgInfo> progs;
  std::vector<int> map_fds, prog_fds;  // open in proc
};

// MAP_CREATE("__loader.map", exclusive) -> UPDATE -> FREEZE -> GET_INFO(hash)
// -> PROG_LOAD("__loader.prog", SYSCALL, sleepable, fd_array, signature,
// keyring_id) -> PROG_RUN(ctx), as sys::load does against the real kernel.
// The loader's map and program fds are closed at the end, as there. A
// negative loader return value throws Error(-retval, "kmodel",
// "load_skeleton: loader returned ...") naming the failing nested call
// (Kernel::nested_failure) when there is one.
SkeletonResult load_skeleton(Kernel& kernel, Process& proc, const skel::SignedLoader& loader,
                             const SkeletonOptions& options = {});
// The same for a caller done with the loader (bpfsig run): its metadata
// (loader.data, left empty) is freed once the metadata map holds its copy,
// so a large bundle's metadata is not held three times while the loader
// copies it into its maps (issue 17). The rest of the loader is unchanged.
SkeletonResult load_skeleton(Kernel& kernel, Process& proc, skel::SignedLoader&& loader,
                             const SkeletonOptions& options = {});
// The ctx load_skeleton runs the loader with: struct bpf_loader_ctx (sz = the
// unrounded size) and the descriptors, with options' initial_values and
// max_entries. Error(EINVAL, "load_skeleton") for a map index the loader lacks.
Bytes loader_ctx(const skel::SignedLoader& loader, const SkeletonOptions& options);

}  // namespace bpfsig::kmodel
