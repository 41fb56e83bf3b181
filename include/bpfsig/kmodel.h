// SPDX-License-Identifier: Apache-2.0
// The kernel model, object layer: an in-process, deterministic model of the
// BPF syscall path of a chosen kernel profile (kernel/bpf/syscall.c,
// arraymap.c, hashtab.c, ringbuf.c, btf.c of Linux 6.18). Processes, their fd
// tables, global object ids, refcounted maps and BTF objects. Nothing here
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
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"

namespace bpfsig::kmodel {

// enum bpf_map_type (the modelled ones)
inline constexpr uint32_t kMapHash = 1;
inline constexpr uint32_t kMapArray = 2;
inline constexpr uint32_t kMapProgArray = 3;
inline constexpr uint32_t kMapPercpuArray = 6;
inline constexpr uint32_t kMapRingbuf = 27;

// map_create flags (BPF_F_*)
inline constexpr uint32_t kFNoPrealloc = 1u << 0;
inline constexpr uint32_t kFNumaNode = 1u << 2;
inline constexpr uint32_t kFRdonly = 1u << 3;       // syscall side may not write
inline constexpr uint32_t kFWronly = 1u << 4;       // syscall side may not read
inline constexpr uint32_t kFRdonlyProg = 1u << 7;   // programs may not write
inline constexpr uint32_t kFWronlyProg = 1u << 8;
inline constexpr uint32_t kFMmapable = 1u << 10;

// update flags
inline constexpr uint64_t kAny = 0;
inline constexpr uint64_t kNoExist = 1;
inline constexpr uint64_t kExist = 2;
inline constexpr uint64_t kFLock = 4;

// The kernel-internal ENOTSUPP (include/linux/errno.h) that some map
// operations leak to user space; it is not EOPNOTSUPP (95).
inline constexpr int kENOTSUPP = 524;

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

  static KernelProfile linux_6_18();
  static KernelProfile pre_2026_toctou();
};

struct MapCreateAttr {
  uint32_t type = kMapArray;
  uint32_t key_size = 4;
  uint32_t value_size = 0;
  uint32_t max_entries = 1;
  uint32_t flags = 0;
  std::string name;       // up to 15 characters of [A-Za-z0-9_.]
  Bytes excl_prog_hash;   // empty: not exclusive; else must be 32 bytes
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

class Object;  // a map or a BTF object: src/kmodel/objects.h

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

  // ---- fds (close(2), dup(2)); EBADF for an fd that is not open
  void close(Process& proc, int fd);
  int dup(Process& proc, int fd);

  // ---- maps
  int map_create(Process& proc, const MapCreateAttr& attr);
  void map_update(Process& proc, int fd, ByteView key, ByteView value, uint64_t flags = kAny);
  // Per-CPU maps return nr_cpus slots of round_up(value_size, 8) bytes.
  Bytes map_lookup(Process& proc, int fd, ByteView key, uint64_t flags = 0);
  void map_delete(Process& proc, int fd, ByteView key);
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

 private:
  struct Mapping;
  std::shared_ptr<Object> object_at(Process& proc, int fd, const char* cmd) const;
  template <typename T>
  std::shared_ptr<T> typed_object_at(Process& proc, int fd, const char* cmd) const;

  KernelProfile profile_;
  int next_pid_ = 1;
  uint32_t next_map_id_ = 1;
  uint32_t next_btf_id_ = 1;
  MmapHandle next_mmap_ = 1;
  std::vector<std::unique_ptr<Process>> processes_;
  std::map<uint32_t, std::weak_ptr<Object>> maps_by_id_;
  std::map<uint32_t, std::weak_ptr<Object>> btfs_by_id_;
  std::map<MmapHandle, std::unique_ptr<Mapping>> mappings_;
};

}  // namespace bpfsig::kmodel
