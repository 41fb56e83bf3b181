// SPDX-License-Identifier: Apache-2.0
// The syscall layer of the kernel model (kernel/bpf/syscall.c): fd tables,
// object ids, the permission and freeze rules, GET_INFO with a map hash, and
// mmap of map values. Type-specific element rules live in maps.cpp.
#include <algorithm>
#include <string>

#include "bpfsig/skel.h"
#include "kmodel/objects.h"

namespace bpfsig::kmodel {

[[noreturn]] void fail(int err, const char* cmd, const std::string& why) {
  throw Error(err, "kmodel", std::string(cmd) + ": " + why);
}

namespace {

constexpr int kFirstFd = 3;  // 0, 1 and 2 are the standard streams

// enum bpf_cmd, for security_bpf
constexpr int kBpfMapCreate = 0;
constexpr int kBpfMapLookupElem = 1;
constexpr int kBpfMapUpdateElem = 2;
constexpr int kBpfMapDeleteElem = 3;
constexpr int kBpfMapGetNextKey = 4;
constexpr int kBpfMapLookupAndDeleteElem = 21;
constexpr int kBpfObjGetInfoByFd = 15;
constexpr int kBpfBtfLoad = 18;
constexpr int kBpfMapFreeze = 22;

}  // namespace

// ---- profiles -------------------------------------------------------------

KernelProfile KernelProfile::linux_6_18() {
  KernelProfile p;
  p.name = "linux-6.18";
  p.map_hash_requires_frozen = true;
  return p;
}

KernelProfile KernelProfile::linux_7_2() {
  KernelProfile p = linux_6_18();
  p.name = "7.2";
  p.records_prog_sig = true;
  return p;
}

KernelProfile KernelProfile::loadtime_2026() {
  KernelProfile p;
  p.name = "loadtime";
  p.map_hash_requires_frozen = true;
  p.loadtime_signature = true;
  return p;
}

KernelProfile KernelProfile::hash_chain() {
  KernelProfile p = linux_6_18();
  p.name = "hash-chain";
  p.hash_chain_signature = true;
  return p;
}

KernelProfile KernelProfile::hornet() {
  KernelProfile p = linux_6_18();
  p.name = "hornet";
  return p;
}

KernelProfile KernelProfile::pre_2026_toctou() {
  KernelProfile p;
  p.name = "pre-2026-toctou";
  p.map_hash_requires_frozen = false;
  return p;
}

// ---- processes and fds ----------------------------------------------------

std::vector<int> Process::open_fds() const {
  std::vector<int> fds;
  for (const auto& [fd, object] : fds_) fds.push_back(fd);
  return fds;
}

// get_unused_fd_flags(): the lowest free number.
int Process::install(std::shared_ptr<Object> object) {
  int fd = kFirstFd;
  while (fds_.count(fd)) ++fd;
  fds_[fd] = std::move(object);
  return fd;
}

struct Kernel::Mapping {
  std::shared_ptr<Map> map;  // an mmap holds the map like an fd does
  bool writable;
};

Kernel::Kernel(KernelProfile profile) : profile_(std::move(profile)) {}
// Programs in program arrays would keep their arrays alive through used_maps
// (a reference cycle); the kernel breaks it when the user references go, the
// model when the kernel goes.
Kernel::~Kernel() {
  for (auto& [id, weak] : maps_by_id_)
    if (auto object = weak.lock()) std::static_pointer_cast<Map>(object)->release_uref();
  // The stack may outlive this kernel: it must not keep pointing at our services.
  // (A stack is given to one kernel at a time, so the services it holds are ours.)
  if (lsm_ && lsm_services_) lsm_->set_kernel_services(nullptr);
}

Process& Kernel::spawn(const std::string& comm) {
  processes_.push_back(std::make_unique<Process>(next_pid_++, comm));
  return *processes_.back();
}

Process& Kernel::spawn(const std::string& comm, uint32_t uid) {
  Process& proc = spawn(comm);
  proc.uid_ = uid;
  return proc;
}

// __sys_bpf(): security_bpf(cmd, &attr, size, uattr.is_kernel) runs before the
// command's own checks. The syscall-side methods keep no raw attr, so they
// pass an empty attr with size 0; bpf_sys_bpf (sys_bpf.cpp) announces its
// commands itself, with the attr bytes it copied and kernel == true.
void Kernel::lsm_bpf(const Process& proc, int cmd, const char* cmd_name, bool kernel) {
  lsm_bpf(proc, cmd, cmd_name, kernel, ByteView{});
}

void Kernel::lsm_bpf(const Process& proc, int cmd, const char* cmd_name, bool kernel, ByteView attr) {
  if (!lsm_ || !lsm_bpf_hooks_ || in_sys_bpf_) return;
  attach_lsm_services(proc);
  lsm::Caller caller = lsm_->current();
  caller.pid = proc.pid();
  caller.comm = proc.comm();
  lsm_->set_current(caller);
  if (int err = lsm_->security_bpf(cmd, attr, static_cast<unsigned>(attr.size()), kernel))
    fail(-err, cmd_name, "refused by an LSM (security_bpf)");
}

std::shared_ptr<Object> Kernel::object_at(Process& proc, int fd, const char* cmd) const {
  auto it = proc.fds_.find(fd);
  if (it == proc.fds_.end()) fail(EBADF, cmd, "fd " + std::to_string(fd) + " is not open");
  return it->second;
}

// __bpf_map_get() and friends: an open fd of another kind is EINVAL.
template <typename T>
std::shared_ptr<T> Kernel::typed_object_at(Process& proc, int fd, const char* cmd) const {
  auto typed = std::dynamic_pointer_cast<T>(object_at(proc, fd, cmd));
  if (!typed) fail(EINVAL, cmd, "fd " + std::to_string(fd) + " is not the right kind of BPF object");
  return typed;
}
// The program layer (prog_load.cpp, prog_run.cpp) looks objects up too.
template std::shared_ptr<Map> Kernel::typed_object_at<Map>(Process&, int, const char*) const;
template std::shared_ptr<Btf> Kernel::typed_object_at<Btf>(Process&, int, const char*) const;
template std::shared_ptr<Prog> Kernel::typed_object_at<Prog>(Process&, int, const char*) const;

void Kernel::close(Process& proc, int fd) {
  std::shared_ptr<Object> object = object_at(proc, fd, "close");
  proc.fds_.erase(fd);
  drop_user_ref(object);
}

void Kernel::drop_user_ref(const std::shared_ptr<Object>& object) {
  auto map = std::dynamic_pointer_cast<Map>(object);
  if (!map) return;
  for (const auto& process : processes_)
    for (const auto& [fd, held] : process->fds_)
      if (held == object) return;
  for (const auto& [handle, mapping] : mappings_)
    if (mapping->map == map) return;
  map->release_uref();
}

int Kernel::dup(Process& proc, int fd) { return proc.install(object_at(proc, fd, "dup")); }

bool Kernel::map_alive(uint32_t id) const {
  auto it = maps_by_id_.find(id);
  return it != maps_by_id_.end() && !it->second.expired();
}

bool Kernel::btf_alive(uint32_t id) const {
  auto it = btfs_by_id_.find(id);
  return it != btfs_by_id_.end() && !it->second.expired();
}

bool Kernel::prog_alive(uint32_t id) const {
  auto it = progs_by_id_.find(id);
  return it != progs_by_id_.end() && !it->second.expired();
}

// ---- maps -----------------------------------------------------------------

namespace {

// map_get_sys_perms(): a frozen map, or one created BPF_F_RDONLY, is
// read-only from the syscall side.
void require_syscall_write(const Map& map, const char* cmd) {
  if (map.frozen) fail(EPERM, cmd, "the map is frozen");
  if (map.attr().flags & kFRdonly) fail(EPERM, cmd, "the map is read-only for syscalls (BPF_F_RDONLY)");
}

void require_syscall_read(const Map& map, const char* cmd) {
  if (map.attr().flags & kFWronly) fail(EPERM, cmd, "the map is write-only for syscalls (BPF_F_WRONLY)");
}

// The kernel copies key_size (value size) bytes from the user pointer: a
// shorter buffer would fault.
ByteView user_bytes(ByteView buf, size_t size, const char* cmd, const char* what) {
  if (buf.size() < size) fail(EFAULT, cmd, std::string(what) + " buffer shorter than the map's " + what + " size");
  return buf.first(size);
}

}  // namespace

int Kernel::map_create(Process& proc, const MapCreateAttr& attr) {
  lsm_bpf(proc, kBpfMapCreate, "BPF_MAP_CREATE");
  auto map = create_map(next_map_id_, attr, profile_,
                        [&](int fd) { return object_at(proc, fd, "BPF_MAP_CREATE"); });
  // map_create(): security_bpf_map_create() after the map is allocated and
  // named (and its excl_prog_hash copied), before bpf_map_alloc_id() and the
  // fd. The view's id is 0: no id is allocated yet. A refusal frees the map
  // and consumes no id.
  if (lsm_ && lsm_bpf_hooks_) {
    lsm::MapView view;
    view.map_type = attr.type;
    view.name = attr.name.substr(0, attr.name.find('\0'));
    view.value_size = attr.value_size;
    view.max_entries = attr.max_entries;
    lsm::MapCreateAttr hook_attr;
    hook_attr.map_type = attr.type;
    hook_attr.key_size = attr.key_size;
    hook_attr.value_size = attr.value_size;
    hook_attr.max_entries = attr.max_entries;
    hook_attr.map_flags = attr.flags;
    if (map->excl_prog_sha) {
      lsm::Sha256 sha{};
      std::copy(map->excl_prog_sha->begin(), map->excl_prog_sha->end(), sha.begin());
      hook_attr.excl_prog_hash = sha;
    }
    if (int err = lsm_->security_bpf_map_create(view, hook_attr, nullptr, in_sys_bpf_))
      fail(-err, "BPF_MAP_CREATE", "refused by an LSM (security_bpf_map_create)");
  }
  ++next_map_id_;  // ids are given only to maps that were created
  maps_by_id_[map->id()] = map;
  return proc.install(std::move(map));
}

void Kernel::map_update(Process& proc, int fd, ByteView key, ByteView value, uint64_t flags) {
  constexpr const char* cmd = "BPF_MAP_UPDATE_ELEM";
  lsm_bpf(proc, kBpfMapUpdateElem, cmd);
  auto map = typed_object_at<Map>(proc, fd, cmd);
  require_syscall_write(*map, cmd);
  if (flags & kFLock) fail(EINVAL, cmd, "BPF_F_LOCK on a map without a bpf_spin_lock");
  ByteView k = user_bytes(key, map->attr().key_size, cmd, "key");
  ByteView v = user_bytes(value, map->syscall_value_size(), cmd, "value");
  map->caller_fds = [&](int value_fd) { return object_at(proc, value_fd, cmd); };
  map->update(k, v, flags, map->caller_fds);
}

Bytes Kernel::map_lookup(Process& proc, int fd, ByteView key, uint64_t flags, ByteView value_in) {
  constexpr const char* cmd = "BPF_MAP_LOOKUP_ELEM";
  lsm_bpf(proc, kBpfMapLookupElem, cmd);
  if (flags & ~kFLock) fail(EINVAL, cmd, "unknown lookup flags");
  auto map = typed_object_at<Map>(proc, fd, cmd);
  require_syscall_read(*map, cmd);
  if (flags & kFLock) fail(EINVAL, cmd, "BPF_F_LOCK on a map without a bpf_spin_lock");
  ByteView k = user_bytes(key, map->attr().key_size, cmd, "key");
  map->caller_fds = [&](int key_fd) { return object_at(proc, key_fd, cmd); };
  // map_lookup_elem copies the value in for a bloom filter (the value tested).
  if (map->type() == kMapBloomFilter) return map->lookup_value(k, user_bytes(value_in, map->attr().value_size, cmd, "value"));
  return map->lookup(k);
}

void Kernel::map_delete(Process& proc, int fd, ByteView key) {
  constexpr const char* cmd = "BPF_MAP_DELETE_ELEM";
  lsm_bpf(proc, kBpfMapDeleteElem, cmd);
  auto map = typed_object_at<Map>(proc, fd, cmd);
  require_syscall_write(*map, cmd);
  ByteView k = user_bytes(key, map->attr().key_size, cmd, "key");
  map->caller_fds = [&](int key_fd) { return object_at(proc, key_fd, cmd); };
  map->remove(k);
}

// map_get_next_key(): read permission, the key (NULL: the first), the op.
Bytes Kernel::map_get_next_key(Process& proc, int fd, std::optional<ByteView> key) {
  constexpr const char* cmd = "BPF_MAP_GET_NEXT_KEY";
  lsm_bpf(proc, kBpfMapGetNextKey, cmd);
  auto map = typed_object_at<Map>(proc, fd, cmd);
  require_syscall_read(*map, cmd);
  std::optional<ByteView> k;
  if (key) {
    // __bpf_copy_key: a key pointer for a keyless map is EINVAL.
    if (map->attr().key_size == 0) fail(EINVAL, cmd, "a key for a map without keys");
    k = user_bytes(*key, map->attr().key_size, cmd, "key");
  }
  return map->get_next_key(k);
}

// map_lookup_and_delete_elem(): read and write permission; flags only
// BPF_F_LOCK (none for QUEUE/STACK); QUEUE/STACK pop, the hash maps and
// STACK_TRACE extract, every other type ENOTSUPP.
Bytes Kernel::map_lookup_and_delete(Process& proc, int fd, ByteView key, uint64_t flags) {
  constexpr const char* cmd = "BPF_MAP_LOOKUP_AND_DELETE_ELEM";
  lsm_bpf(proc, kBpfMapLookupAndDeleteElem, cmd);
  if (flags & ~kFLock) fail(EINVAL, cmd, "unknown flags");
  auto map = typed_object_at<Map>(proc, fd, cmd);
  require_syscall_read(*map, cmd);
  require_syscall_write(*map, cmd);
  uint32_t type = map->type();
  if (flags && (type == kMapQueue || type == kMapStack)) fail(EINVAL, cmd, "a pop takes no flags");
  if (flags & kFLock) fail(EINVAL, cmd, "BPF_F_LOCK on a map without a bpf_spin_lock");
  ByteView k = user_bytes(key, map->attr().key_size, cmd, "key");
  switch (type) {
    case kMapQueue:
    case kMapStack:
    case kMapHash:
    case kMapPercpuHash:
    case kMapLruHash:
    case kMapLruPercpuHash:
    case kMapStackTrace: return map->lookup_and_delete(k, flags);
  }
  fail(kENOTSUPP, cmd, map_type_enum_name(type) + " has no lookup-and-delete");
}

// map_freeze(): the write-permission check comes first, so freezing twice
// is EPERM (the map is no longer writable), not the later EBUSY.
void Kernel::map_freeze(Process& proc, int fd) {
  constexpr const char* cmd = "BPF_MAP_FREEZE";
  lsm_bpf(proc, kBpfMapFreeze, cmd);
  auto map = typed_object_at<Map>(proc, fd, cmd);
  require_syscall_write(*map, cmd);
  if (map->writable_mappings) fail(EBUSY, cmd, "the map has a writable mmap");
  map->frozen = true;
}

MapInfo Kernel::map_info(Process& proc, int fd) {
  auto map = typed_object_at<Map>(proc, fd, "BPF_OBJ_GET_INFO_BY_FD");
  const MapCreateAttr& a = map->attr();
  return MapInfo{a.type, map->id(), a.key_size, a.value_size, a.max_entries, a.flags,
                 a.name.substr(0, a.name.find('\0')), map->frozen, map->excl_prog_sha.has_value()};
}

// bpf_map_get_info_by_fd() with info.hash set.
crypto::Digest Kernel::map_get_hash(Process& proc, int fd, uint32_t hash_size) {
  constexpr const char* cmd = "BPF_OBJ_GET_INFO_BY_FD";
  lsm_bpf(proc, kBpfObjGetInfoByFd, cmd);
  auto map = typed_object_at<Map>(proc, fd, cmd);
  auto hash = map->content_hash();
  if (!hash) fail(EINVAL, cmd, "only ARRAY maps have a hash");
  if (hash_size != kSha256Size) fail(EINVAL, cmd, "hash_size must be 32");
  if (profile_.map_hash_requires_frozen && !map->frozen) fail(EPERM, cmd, "the map must be frozen before its hash is taken");
  map->sha = *hash;
  map->sha_computed = true;
  return map->sha;
}

// The VFS checks (do_mmap: the fd must allow the access) and then
// bpf_map_mmap() and the type's map_mmap.
MmapHandle Kernel::map_mmap(Process& proc, int fd, bool writable) {
  constexpr const char* cmd = "mmap";
  auto map = typed_object_at<Map>(proc, fd, cmd);
  uint32_t flags = map->attr().flags;
  if (flags & kFWronly) fail(EACCES, cmd, "the map fd is not readable");
  if (writable && (flags & kFRdonly)) fail(EACCES, cmd, "the map fd is not writable");
  if (map->type() == kMapRingbuf) fail(ENOSYS, cmd, "mmap of a ring buffer is not modelled");
  if (!map->mmapable_area()) fail(kENOTSUPP, cmd, "this map type cannot be mmap()ed");
  if (writable && map->frozen) fail(EPERM, cmd, "a frozen map cannot be mapped writable");
  if (writable && (flags & kFRdonlyProg)) fail(EACCES, cmd, "a BPF_F_RDONLY_PROG map cannot be mapped writable");
  if (!(flags & kFMmapable)) fail(EINVAL, cmd, "the map was not created BPF_F_MMAPABLE");  // array_map_mmap
  if (writable) ++map->writable_mappings;
  mappings_[next_mmap_] = std::make_unique<Mapping>(Mapping{map, writable});
  return next_mmap_++;
}

void Kernel::mmap_write(MmapHandle handle, size_t offset, ByteView bytes) {
  auto it = mappings_.find(handle);
  if (it == mappings_.end()) fail(EINVAL, "mmap write", "no such mapping");
  if (!it->second->writable) fail(EFAULT, "mmap write", "the mapping is read-only");
  std::span<uint8_t> area = *it->second->map->mmapable_area();
  if (offset > area.size() || bytes.size() > area.size() - offset) fail(EFAULT, "mmap write", "past the map's values");
  std::copy(bytes.begin(), bytes.end(), area.begin() + static_cast<std::ptrdiff_t>(offset));
}

void Kernel::munmap(MmapHandle handle) {
  auto it = mappings_.find(handle);
  if (it == mappings_.end()) fail(EINVAL, "munmap", "no such mapping");
  if (it->second->writable) --it->second->map->writable_mappings;
  std::shared_ptr<Object> map = it->second->map;
  mappings_.erase(it);
  drop_user_ref(map);
}

std::array<uint8_t, kMapStructPrefix> struct_prefix(const Map& map) {
  std::array<uint8_t, kMapStructPrefix> prefix{};
  std::copy(map.sha.begin(), map.sha.end(), prefix.begin());
  store_le32(prefix.data() + kSha256Size, map.excl_prog_sha ? 1 : 0);
  return prefix;
}

std::array<uint8_t, kMapStructPrefix> Kernel::map_struct_prefix(Process& proc, int fd) {
  return struct_prefix(*typed_object_at<Map>(proc, fd, "map pointer"));
}

// ---- exclusive maps -------------------------------------------------------

crypto::Digest Kernel::prog_digest(ByteView insns) { return skel::prog_digest(insns); }

// check_map_prog_compatibility(): "program's hash doesn't match map's excl_prog_hash".
int Kernel::check_exclusive(Process& proc, int map_fd, const crypto::Digest& digest) {
  auto map = typed_object_at<Map>(proc, map_fd, "BPF_PROG_LOAD");
  if (map->excl_prog_sha && *map->excl_prog_sha != digest) return -EACCES;
  return 0;
}

// ---- BTF ------------------------------------------------------------------

int Kernel::btf_load(Process& proc, ByteView blob) {
  lsm_bpf(proc, kBpfBtfLoad, "BPF_BTF_LOAD");
  validate_btf(blob);
  auto btf = std::make_shared<Btf>(next_btf_id_++, Bytes(blob.begin(), blob.end()));
  btfs_by_id_[btf->id()] = btf;
  return proc.install(std::move(btf));
}

BtfInfo Kernel::btf_info(Process& proc, int fd) {
  auto btf = typed_object_at<Btf>(proc, fd, "BPF_OBJ_GET_INFO_BY_FD");
  return BtfInfo{btf->id(), static_cast<uint32_t>(btf->blob().size())};
}

}  // namespace bpfsig::kmodel
