// SPDX-License-Identifier: Apache-2.0
// Map types: creation checks (map_create() and each type's map_alloc_check /
// map_alloc) and the element operations the syscall side reaches
// (kernel/bpf/arraymap.c, hashtab.c, ringbuf.c of Linux 6.18).
#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "common/bpf_names.h"
#include "kmodel/objects.h"

namespace bpfsig::kmodel {
namespace {

constexpr const char* kCreate = "BPF_MAP_CREATE";
constexpr const char* kUpdate = "BPF_MAP_UPDATE_ELEM";
constexpr const char* kLookup = "BPF_MAP_LOOKUP_ELEM";
constexpr const char* kDelete = "BPF_MAP_DELETE_ELEM";

constexpr uint32_t kFPreserveElems = 1u << 11;
constexpr uint32_t kFInnerMap = 1u << 12;
constexpr uint32_t kFNoCommonLru = 1u << 1;
constexpr uint32_t kFZeroSeed = 1u << 6;
constexpr uint32_t kFAccessMask = kFRdonly | kFWronly | kFRdonlyProg | kFWronlyProg;
constexpr uint32_t kArrayFlagMask = kFNumaNode | kFMmapable | kFAccessMask | kFPreserveElems | kFInnerMap;
constexpr uint32_t kHashFlagMask = kFNoPrealloc | kFNoCommonLru | kFNumaNode | kFAccessMask | kFZeroSeed;
constexpr uint32_t kPcpuMinUnitSize = 32 << 10;  // PCPU_MIN_UNIT_SIZE
constexpr uint64_t kKmallocMaxSize = 4u << 20;   // KMALLOC_MAX_SIZE on x86-64
constexpr uint64_t kHtabElemSize = 48;           // sizeof(struct htab_elem), x86-64
// The model refuses (ENOMEM, as a failed vmalloc would) arrays larger than
// this, rather than allocating what a real kernel might not have either.
constexpr uint64_t kModelMaxArrayBytes = 256u << 20;
constexpr uint32_t kLastMapType = 33;  // BPF_MAP_TYPE_ARENA, the last in 6.18

uint32_t round_up8(uint32_t n) { return (n + 7u) & ~7u; }
bool is_power_of_2(uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }

// bpf_map_flags_access_ok(): a program cannot be denied both reading and writing.
bool prog_access_ok(uint32_t flags) { return (flags & (kFRdonlyProg | kFWronlyProg)) != (kFRdonlyProg | kFWronlyProg); }

uint32_t array_index(ByteView key) { return load_le32(key.data()); }

// ---- ARRAY and PERCPU_ARRAY: round_up(value_size, 8)-byte elements, zeroed
// at creation; per-CPU maps keep nr_cpus copies of each element.
class ArrayMap : public Map {
 public:
  ArrayMap(uint32_t id, const MapCreateAttr& attr, uint32_t cpus)
      : Map(id, attr), cpus_(cpus), elem_size_(round_up8(attr.value_size)),
        data_(static_cast<size_t>(elem_size_) * attr.max_entries * cpus, 0) {}

  size_t syscall_value_size() const override {
    return percpu() ? static_cast<size_t>(elem_size_) * cpus_ : attr_.value_size;
  }

  Bytes lookup(ByteView key) override {
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(ENOENT, kLookup, "index " + std::to_string(index) + " is past max_entries");
    if (!percpu()) return Bytes(element(index, 0), element(index, 0) + attr_.value_size);
    Bytes out;
    for (uint32_t cpu = 0; cpu < cpus_; ++cpu) out.insert(out.end(), element(index, cpu), element(index, cpu) + elem_size_);
    return out;
  }

  // array_map_update_elem / bpf_percpu_array_update. BPF_F_LOCK never gets
  // here: the syscall layer refuses it for maps without a bpf_spin_lock.
  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver&) override {
    if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(E2BIG, kUpdate, "index " + std::to_string(index) + " is past max_entries");
    if (flags == kNoExist) fail(EEXIST, kUpdate, "array elements always exist (BPF_NOEXIST)");
    if (!percpu()) {
      std::copy_n(value.data(), attr_.value_size, element(index, 0));
      return;
    }
    // bpf_percpu_array_update copies whole 8-byte-rounded slots, padding
    // included (measured on 6.18.44: the padding reads back as written).
    for (uint32_t cpu = 0; cpu < cpus_; ++cpu)
      std::copy_n(value.data() + static_cast<size_t>(cpu) * elem_size_, elem_size_, element(index, cpu));
  }

  void remove(ByteView) override { fail(EINVAL, kDelete, "array elements cannot be deleted"); }

  std::optional<crypto::Digest> content_hash() const override {
    if (percpu()) return std::nullopt;
    return crypto::sha256(data_);  // array_map_get_hash: every element, padding included
  }

  Bytes* mmapable_area() override { return percpu() ? nullptr : &data_; }

 private:
  bool percpu() const { return attr_.type == kMapPercpuArray; }
  uint8_t* element(uint32_t index, uint32_t cpu) {
    return data_.data() + (static_cast<size_t>(index) * cpus_ + cpu) * elem_size_;
  }

  uint32_t cpus_;  // 1 for a plain ARRAY
  uint32_t elem_size_;
  Bytes data_;
};

// ---- HASH: at most max_entries keys; a full map refuses a new key with
// E2BIG (alloc_htab_elem) but still lets existing keys be replaced.
class HashMap : public Map {
 public:
  using Map::Map;

  Bytes lookup(ByteView key) override {
    auto it = elems_.find(Bytes(key.begin(), key.end()));
    if (it == elems_.end()) fail(ENOENT, kLookup, "no such key");
    return it->second;
  }

  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver&) override {
    if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    Bytes k(key.begin(), key.end());
    bool exists = elems_.count(k) != 0;
    if (exists && flags == kNoExist) fail(EEXIST, kUpdate, "key exists (BPF_NOEXIST)");
    if (!exists && flags == kExist) fail(ENOENT, kUpdate, "no such key (BPF_EXIST)");
    if (!exists && elems_.size() >= attr_.max_entries) fail(E2BIG, kUpdate, "hash map is full");
    elems_[k] = Bytes(value.begin(), value.end());
  }

  void remove(ByteView key) override {
    if (elems_.erase(Bytes(key.begin(), key.end())) == 0) fail(ENOENT, kDelete, "no such key");
  }

 private:
  std::map<Bytes, Bytes> elems_;  // ordered: iteration is deterministic
};

// ---- PROG_ARRAY: slots of program references; values are program fds.
class ProgArrayMap : public Map {
 public:
  ProgArrayMap(uint32_t id, const MapCreateAttr& attr) : Map(id, attr), slots_(attr.max_entries) {}

  // bpf_fd_array_map_lookup_elem: the syscall side sees the program id.
  Bytes lookup(ByteView key) override {
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries || !slots_[index]) fail(ENOENT, kLookup, "empty slot");
    Bytes id(4);
    store_le32(id.data(), slots_[index]->id());
    return id;
  }

  // bpf_fd_array_map_update_elem + prog_fd_array_get_ptr: the slot takes a
  // reference on the program. The first program stored fixes the array's
  // owner type (bpf_prog_map_compatible); a program of another type: EINVAL.
  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) override {
    if (flags != kAny) fail(EINVAL, kUpdate, "a program array takes BPF_ANY only");
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(E2BIG, kUpdate, "index " + std::to_string(index) + " is past max_entries");
    int fd = static_cast<int>(load_le32(value.data()));
    auto prog = std::dynamic_pointer_cast<Prog>(resolve(fd));  // EBADF when the fd is not open
    if (!prog) fail(EINVAL, kUpdate, "fd " + std::to_string(fd) + " is not a BPF program");
    uint32_t type = prog->attr().prog_type;
    if (owner_type_ != 0 && owner_type_ != type)
      fail(EINVAL, kUpdate,
           "program type " + std::to_string(type) + " differs from the array's owner type " + std::to_string(owner_type_));
    owner_type_ = type;
    slots_[index] = std::move(prog);
  }

  // bpf_fd_array_map_clear from map_release_uref: the last user reference is
  // gone, so the slots drop their programs (this also breaks the cycle of a
  // program that holds its own program array).
  void release_uref() override {
    for (auto& slot : slots_) slot.reset();
  }

  // fd_array_map_delete_elem
  void remove(ByteView key) override {
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(E2BIG, kDelete, "index " + std::to_string(index) + " is past max_entries");
    if (!slots_[index]) fail(ENOENT, kDelete, "empty slot");
    slots_[index].reset();
  }

 private:
  std::vector<std::shared_ptr<Object>> slots_;
  uint32_t owner_type_ = 0;  // map->owner.type; 0 until a program is stored
};

// ---- RINGBUF: no syscall-side element access (the ops return -ENOTSUPP).
class RingbufMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView) override { fail(kENOTSUPP, kLookup, "a ring buffer has no elements"); }
  void update(ByteView, ByteView, uint64_t, const FdResolver&) override {
    fail(kENOTSUPP, kUpdate, "a ring buffer has no elements");
  }
  void remove(ByteView) override { fail(kENOTSUPP, kDelete, "a ring buffer has no elements"); }
};

// ---- creation checks

// array_map_alloc_check, with fd_array_map_alloc_check's extra rules first
// for PROG_ARRAY.
void check_array_attr(const MapCreateAttr& a) {
  bool percpu = a.type == kMapPercpuArray;
  if (a.type == kMapProgArray) {
    if (a.value_size != 4) fail(EINVAL, kCreate, "a program array's value_size must be 4");
    if (a.flags & (kFRdonlyProg | kFWronlyProg)) fail(EINVAL, kCreate, "program access flags on a program array");
  }
  if (a.max_entries == 0) fail(EINVAL, kCreate, "max_entries is 0");
  if (a.key_size != 4) fail(EINVAL, kCreate, "an array's key_size must be 4");
  if (a.value_size == 0) fail(EINVAL, kCreate, "value_size is 0");
  if ((a.flags & ~kArrayFlagMask) || !prog_access_ok(a.flags)) fail(EINVAL, kCreate, "invalid map_flags for an array");
  if (a.type != kMapArray && (a.flags & (kFMmapable | kFInnerMap)))
    fail(EINVAL, kCreate, "only a plain ARRAY can be BPF_F_MMAPABLE");
  if (a.flags & kFPreserveElems) fail(EINVAL, kCreate, "BPF_F_PRESERVE_ELEMS is for perf event arrays");
  if (percpu && round_up8(a.value_size) > kPcpuMinUnitSize) fail(E2BIG, kCreate, "per-CPU value larger than 32 KiB");
  uint64_t bytes = uint64_t{round_up8(a.value_size)} * a.max_entries;
  if (bytes > kModelMaxArrayBytes) fail(ENOMEM, kCreate, "array larger than the model allocates");
}

// htab_map_alloc_check (plain HASH: not LRU, not per-CPU)
void check_hash_attr(const MapCreateAttr& a) {
  if ((a.flags & ~kHashFlagMask) || !prog_access_ok(a.flags)) fail(EINVAL, kCreate, "invalid map_flags for a hash map");
  if (a.flags & kFNoCommonLru) fail(EINVAL, kCreate, "BPF_F_NO_COMMON_LRU on a map that is not LRU");
  if (a.max_entries == 0 || a.key_size == 0 || a.value_size == 0)
    fail(EINVAL, kCreate, "max_entries, key_size and value_size must be non-zero");
  if (uint64_t{a.key_size} + a.value_size >= kKmallocMaxSize - kHtabElemSize)
    fail(E2BIG, kCreate, "key_size + value_size too large for the syscall side");
}

// ringbuf_map_alloc
void check_ringbuf_attr(const MapCreateAttr& a, uint32_t page_size) {
  if (a.flags & ~kFNumaNode) fail(EINVAL, kCreate, "invalid map_flags for a ring buffer");
  if (a.key_size || a.value_size) fail(EINVAL, kCreate, "a ring buffer has no key or value");
  if (!is_power_of_2(a.max_entries) || a.max_entries % page_size != 0)
    fail(EINVAL, kCreate, "ring buffer size must be a power-of-2 multiple of the page size");
}

// bpf_get_file_flag(): BPF_F_RDONLY and BPF_F_WRONLY exclude each other.
void check_file_flags(const MapCreateAttr& a) {
  if ((a.flags & kFRdonly) && (a.flags & kFWronly)) fail(EINVAL, kCreate, "BPF_F_RDONLY with BPF_F_WRONLY");
}

void check_type_attr(const MapCreateAttr& a, const KernelProfile& profile) {
  switch (a.type) {
    case kMapArray:
    case kMapPercpuArray:
    case kMapProgArray: return check_array_attr(a);
    case kMapHash: return check_hash_attr(a);
    case kMapRingbuf: return check_ringbuf_attr(a, profile.page_size);
  }
  if (a.type == 0 || a.type > kLastMapType) fail(EINVAL, kCreate, "unknown map type " + std::to_string(a.type));
  // A real map type the model does not implement: say so rather than guess.
  fail(EOPNOTSUPP, kCreate, "map type " + std::to_string(a.type) + " is not modelled");
}

void check_excl_hash(const MapCreateAttr& a) {
  if (!a.excl_prog_hash.empty() && a.excl_prog_hash.size() != kSha256Size)
    fail(EINVAL, kCreate, "excl_prog_hash_size must be 32");
}

std::shared_ptr<Map> build_map(uint32_t id, const MapCreateAttr& a, const KernelProfile& profile) {
  switch (a.type) {
    case kMapArray: return std::make_shared<ArrayMap>(id, a, 1);
    case kMapPercpuArray: return std::make_shared<ArrayMap>(id, a, profile.nr_cpus);
    case kMapProgArray: return std::make_shared<ProgArrayMap>(id, a);
    case kMapHash: return std::make_shared<HashMap>(id, a);
    default: return std::make_shared<RingbufMap>(id, a);
  }
}

}  // namespace

std::string map_type_enum_name(uint32_t type) {
  // The enum's own spelling: BPF_MAP_TYPE_<NAME>, without the prefix.
  std::optional<std::string_view> name = bpf_map_type_str(type);
  if (!name) return std::to_string(type);
  std::string upper(*name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

std::shared_ptr<Map> create_map(uint32_t id, const MapCreateAttr& attr, const KernelProfile& profile) {
  // The order of map_create(): file flags, the type's checks, the name, then
  // the exclusive-program hash.
  check_file_flags(attr);
  check_type_attr(attr, profile);
  check_obj_name(attr.name, kCreate, "map");
  check_excl_hash(attr);
  auto map = build_map(id, attr, profile);
  if (!attr.excl_prog_hash.empty()) {
    crypto::Digest digest;
    std::copy_n(attr.excl_prog_hash.begin(), kSha256Size, digest.begin());
    map->excl_prog_sha = digest;
  }
  return map;
}

// bpf_obj_name_cpy(): [A-Za-z0-9_.], NUL-terminated within BPF_OBJ_NAME_LEN.
void check_obj_name(const std::string& name, const char* cmd, const char* what) {
  std::string visible = name.substr(0, name.find('\0'));
  if (visible.size() >= kObjNameLen) fail(EINVAL, cmd, std::string(what) + " name longer than 15 characters");
  for (char c : visible)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.')
      fail(EINVAL, cmd, std::string(what) + " name \"" + visible + "\" has a character other than [A-Za-z0-9_.]");
}

}  // namespace bpfsig::kmodel
