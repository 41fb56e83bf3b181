// SPDX-License-Identifier: Apache-2.0
// Map types: creation checks (map_create() and each type's map_alloc_check /
// map_alloc) and the element operations the syscall side reaches
// (kernel/bpf/arraymap.c, hashtab.c, ringbuf.c of Linux 6.18).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <climits>
#include <deque>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <span>
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
constexpr const char* kNextKey = "BPF_MAP_GET_NEXT_KEY";
constexpr const char* kLookupDelete = "BPF_MAP_LOOKUP_AND_DELETE_ELEM";

constexpr uint32_t kFAccessMask = kFRdonly | kFWronly | kFRdonlyProg | kFWronlyProg;
constexpr uint32_t kArrayFlagMask = kFNumaNode | kFMmapable | kFAccessMask | kFPreserveElems | kFInnerMap;
constexpr uint32_t kHashFlagMask = kFNoPrealloc | kFNoCommonLru | kFNumaNode | kFAccessMask | kFZeroSeed;
constexpr uint32_t kLpmFlagMask = kFNoPrealloc | kFNumaNode | kFAccessMask;
constexpr uint32_t kQueueStackFlagMask = kFNumaNode | kFAccessMask;
constexpr uint32_t kBloomFlagMask = kFNumaNode | kFZeroSeed | kFAccessMask;
constexpr uint32_t kStackFlagMask = kFNumaNode | kFRdonly | kFWronly | kFStackBuildId;
constexpr uint32_t kSockDevFlagMask = kFNumaNode | kFRdonly | kFWronly;  // SOCK_ / DEV_CREATE_FLAG_MASK
constexpr uint32_t kLocalStorageFlagMask = kFNoPrealloc | kFClone;
constexpr uint32_t kCgroupStorageFlagMask = kFNumaNode | kFAccessMask;
constexpr uint32_t kPcpuMinUnitSize = 32 << 10;  // PCPU_MIN_UNIT_SIZE
constexpr uint64_t kKmallocMaxSize = 4u << 20;   // KMALLOC_MAX_SIZE on x86-64
constexpr uint64_t kHtabElemSize = 48;           // sizeof(struct htab_elem), x86-64
constexpr uint32_t kMaxBpfStack = 512;           // MAX_BPF_STACK
constexpr uint32_t kPerfMaxStack = 127;          // sysctl_perf_event_max_stack (default)
constexpr uint32_t kStackBuildIdSize = 32;       // sizeof(struct bpf_stack_build_id)
constexpr uint32_t kLpmKeyMin = 5, kLpmKeyMax = 4 + 256;  // LPM_KEY_SIZE_MIN / _MAX
// BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: U16_MAX - sizeof(struct bpf_local_storage_elem),
// 65407 on 6.18.44 (measured: the largest value_size a CGROUP_STORAGE takes).
constexpr uint32_t kLocalStorageMaxValue = 65407;
constexpr uint32_t kCgroupStorageKeySize = 16;   // struct bpf_cgroup_storage_key (padded)
constexpr uint32_t kCpumapMaxQsize = 16384;
// The model refuses (ENOMEM, as a failed vmalloc would) arrays larger than
// this, rather than allocating what a real kernel might not have either.
constexpr uint64_t kModelMaxArrayBytes = 256u << 20;

uint32_t round_up8(uint32_t n) { return (n + 7u) & ~7u; }
bool is_power_of_2(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }
uint64_t roundup_pow_of_two(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// bpf_map_flags_access_ok(): a program cannot be denied both reading and writing.
bool prog_access_ok(uint32_t flags) { return (flags & (kFRdonlyProg | kFWronlyProg)) != (kFRdonlyProg | kFWronlyProg); }

uint32_t array_index(ByteView key) { return load_le32(key.data()); }
Bytes u32_bytes(uint32_t v) {
  Bytes b(4);
  store_le32(b.data(), v);
  return b;
}
bool is_percpu_hash(uint32_t type) { return type == kMapPercpuHash || type == kMapLruPercpuHash; }
bool is_lru(uint32_t type) { return type == kMapLruHash || type == kMapLruPercpuHash; }

std::string type_label(uint32_t type) { return map_type_enum_name(type); }

// array_map_get_next_key and the fd arrays, devmap, cpumap, xskmap, sockmap,
// reuseport array: an index past the end (or no key) restarts at 0.
Bytes array_next_key(std::optional<ByteView> key, uint32_t max_entries) {
  uint32_t index = key ? array_index(*key) : UINT32_MAX;
  if (index >= max_entries) return u32_bytes(0);
  if (index == max_entries - 1) fail(ENOENT, kNextKey, "no key after the last index");
  return u32_bytes(index + 1);
}

// htab_map_get_next_key: a missing (or no) key gives the first; the model's
// order is its key order, the kernel's its bucket order.
template <typename M>
Bytes hash_next_key(const M& elems, std::optional<ByteView> key) {
  auto it = elems.begin();
  if (key) {
    auto found = elems.find(Bytes(key->begin(), key->end()));
    if (found != elems.end()) it = std::next(found);
  }
  if (it == elems.end()) fail(ENOENT, kNextKey, "no further key");
  return it->first;
}

// bpf_map_meta_equal(): the inner map template against a map stored in it.
bool meta_equal(const MapCreateAttr& meta, const MapCreateAttr& inner) {
  bool max_ok = meta.max_entries == inner.max_entries ||
                (meta.type == kMapArray && (meta.flags & kFInnerMap) && (inner.flags & kFInnerMap));
  return meta.type == inner.type && meta.key_size == inner.key_size && meta.value_size == inner.value_size &&
         meta.flags == inner.flags && max_ok;
}

}  // namespace

Bytes Map::lookup_and_delete(ByteView, uint64_t) {
  fail(kENOTSUPP, kLookupDelete, type_label(type()) + " has no lookup-and-delete from the syscall side");
}

namespace {

// A map's zeroed storage, from calloc: glibc hands out memory it has just
// taken from the system (a new mapping, or the heap just grown) without
// writing it, so a large array is not cleared once here and again by the
// page allocator, and costs resident memory as it is written (issue 17).
class ZeroedBytes {
 public:
  explicit ZeroedBytes(size_t size) : bytes_(static_cast<uint8_t*>(std::calloc(std::max<size_t>(size, 1), 1))), size_(size) {
    if (!bytes_) throw std::bad_alloc();
  }
  std::span<uint8_t> span() const { return {bytes_.get(), size_}; }
  uint8_t* data() const { return bytes_.get(); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> bytes_;
  size_t size_;
};

// ---- ARRAY and PERCPU_ARRAY: round_up(value_size, 8)-byte elements, zeroed
// at creation; per-CPU maps keep nr_cpus copies of each element.
class ArrayMap : public Map {
 public:
  ArrayMap(uint32_t id, const MapCreateAttr& attr, uint32_t cpus)
      : Map(id, attr), cpus_(cpus), elem_size_(round_up8(attr.value_size)),
        data_(static_cast<size_t>(elem_size_) * attr.max_entries * cpus) {}

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
      // memmove: the syscall layer hands a program's value where it lies,
      // which may be this map's own storage (the kernel copies it out first).
      std::memmove(element(index, 0), value.data(), attr_.value_size);
      return;
    }
    // bpf_percpu_array_update copies whole 8-byte-rounded slots, padding
    // included (measured on 6.18.44: the padding reads back as written).
    for (uint32_t cpu = 0; cpu < cpus_; ++cpu)
      std::memmove(element(index, cpu), value.data() + static_cast<size_t>(cpu) * elem_size_, elem_size_);
  }

  void remove(ByteView) override { fail(EINVAL, kDelete, "array elements cannot be deleted"); }
  Bytes get_next_key(std::optional<ByteView> key) override { return array_next_key(key, attr_.max_entries); }

  std::optional<crypto::Digest> content_hash() const override {
    if (percpu()) return std::nullopt;
    return crypto::sha256(data_.span());  // array_map_get_hash: every element, padding included
  }

  std::optional<std::span<uint8_t>> mmapable_area() override {
    if (percpu()) return std::nullopt;
    return data_.span();
  }

 private:
  bool percpu() const { return attr_.type == kMapPercpuArray; }
  uint8_t* element(uint32_t index, uint32_t cpu) {
    return data_.data() + (static_cast<size_t>(index) * cpus_ + cpu) * elem_size_;
  }

  uint32_t cpus_;  // 1 for a plain ARRAY
  uint32_t elem_size_;
  ZeroedBytes data_;
};

// ---- HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, HASH_OF_MAPS: at most
// max_entries keys. A full plain or per-CPU map refuses a new key with E2BIG
// (alloc_htab_elem) but still lets existing keys be replaced; a full LRU map
// evicts (the model: the key inserted or updated longest ago; the kernel's
// choice depends on its per-CPU lists). Per-CPU values are nr_cpus slots of
// round_up(value_size, 8) bytes. HASH_OF_MAPS values are inner maps: the
// syscall side writes a map fd and reads the map id.
class HashMap : public Map {
 public:
  HashMap(uint32_t id, const MapCreateAttr& attr, uint32_t cpus) : Map(id, attr), cpus_(cpus) {}

  size_t syscall_value_size() const override {
    if (is_percpu_hash(attr_.type)) return static_cast<size_t>(round_up8(attr_.value_size)) * cpus_;
    return attr_.value_size;
  }

  Bytes lookup(ByteView key) override {
    auto it = elems_.find(Bytes(key.begin(), key.end()));
    if (it == elems_.end()) fail(ENOENT, kLookup, "no such key");
    if (attr_.type == kMapHashOfMaps) return u32_bytes(inner_.at(it->first)->id());
    return it->second;
  }

  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) override {
    if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    Bytes k(key.begin(), key.end());
    // The value is copied first, as the kernel copies it from the caller
    // before it touches the map: it may lie in this map's own storage, in
    // the element an LRU eviction below frees.
    Bytes v(value.begin(), value.end());
    std::shared_ptr<Map> inner;
    if (attr_.type == kMapHashOfMaps) inner = inner_map_from_fd(*this, value, resolve);  // before the lookup
    bool exists = elems_.count(k) != 0;
    if (exists && flags == kNoExist) fail(EEXIST, kUpdate, "key exists (BPF_NOEXIST)");
    if (!exists && flags == kExist) fail(ENOENT, kUpdate, "no such key (BPF_EXIST)");
    if (!exists && elems_.size() >= attr_.max_entries) {
      if (!is_lru(attr_.type)) fail(E2BIG, kUpdate, "hash map is full");
      Bytes victim = order_.front();  // LRU: make room
      erase(victim);
    }
    if (is_percpu_hash(attr_.type)) v.resize(syscall_value_size(), 0);
    elems_[k] = std::move(v);
    if (inner) inner_[k] = std::move(inner);
    order_.erase(std::remove(order_.begin(), order_.end(), k), order_.end());
    order_.push_back(k);
  }

  void remove(ByteView key) override {
    if (!erase(Bytes(key.begin(), key.end()))) fail(ENOENT, kDelete, "no such key");
  }

  Bytes get_next_key(std::optional<ByteView> key) override { return hash_next_key(elems_, key); }

  // htab_*map_lookup_and_delete_elem; HASH_OF_MAPS is not among the types
  // syscall.c sends here.
  Bytes lookup_and_delete(ByteView key, uint64_t flags) override {
    if (attr_.type == kMapHashOfMaps) return Map::lookup_and_delete(key, flags);
    Bytes value = lookup(key);
    erase(Bytes(key.begin(), key.end()));
    return value;
  }

  // bpf_map_fd_get_ptr(): the value is a map fd whose map matches the template.
  static std::shared_ptr<Map> inner_map_from_fd(const Map& outer, ByteView value, const FdResolver& resolve) {
    int fd = static_cast<int>(load_le32(value.data()));
    auto inner = std::dynamic_pointer_cast<Map>(resolve(fd));  // EBADF when not open
    if (!inner) fail(EINVAL, kUpdate, "fd " + std::to_string(fd) + " is not a BPF map");
    if (!meta_equal(*outer.inner_map_meta, inner->attr()))
      fail(EINVAL, kUpdate, "map " + std::to_string(inner->id()) + " does not match the inner map template");
    return inner;
  }

 private:
  bool erase(const Bytes& k) {
    inner_.erase(k);
    order_.erase(std::remove(order_.begin(), order_.end(), k), order_.end());
    return elems_.erase(k) != 0;
  }
  uint32_t cpus_;
  std::map<Bytes, Bytes> elems_;  // ordered: iteration is deterministic
  std::map<Bytes, std::shared_ptr<Map>> inner_;
  std::vector<Bytes> order_;  // oldest update first (LRU eviction)
};

// ---- the fd arrays: PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY and
// ARRAY_OF_MAPS. Slots hold references; the syscall side writes fds.
class FdArrayMap : public Map {
 public:
  FdArrayMap(uint32_t id, const MapCreateAttr& attr) : Map(id, attr), slots_(attr.max_entries) {}

  // bpf_fd_array_map_lookup_elem: only program arrays and map arrays have a
  // map_fd_sys_lookup_elem (the program or map id); the others: ENOTSUPP.
  Bytes lookup(ByteView key) override {
    if (attr_.type == kMapPerfEventArray || attr_.type == kMapCgroupArray)
      fail(kENOTSUPP, kLookup, type_label(attr_.type) + " elements cannot be read from the syscall side");
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries || !slots_[index]) fail(ENOENT, kLookup, "empty slot");
    return u32_bytes(slots_[index]->id());
  }

  // bpf_fd_array_map_update_elem + the type's map_fd_get_ptr.
  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) override {
    if (flags != kAny) fail(EINVAL, kUpdate, "an fd array takes BPF_ANY only");
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(E2BIG, kUpdate, "index " + std::to_string(index) + " is past max_entries");
    int fd = static_cast<int>(load_le32(value.data()));
    switch (attr_.type) {
      case kMapProgArray: slots_[index] = prog_from_fd(fd, resolve); return;
      case kMapArrayOfMaps: slots_[index] = HashMap::inner_map_from_fd(*this, value, resolve); return;
      case kMapPerfEventArray:
        // perf_event_get(): an fd that is not a perf event is EBADF. The model
        // has no perf_event_open, so no fd is one.
        resolve(fd);
        fail(EBADF, kUpdate, "fd " + std::to_string(fd) + " is not a perf event (the model has none)");
      default:
        // cgroup_get_from_fd(): an fd that is not a cgroup v2 directory is EBADF.
        resolve(fd);
        fail(EBADF, kUpdate, "fd " + std::to_string(fd) + " is not a cgroup directory (the model has none)");
    }
  }

  // bpf_fd_array_map_clear from map_release_uref (program arrays): the last
  // user reference is gone, so the slots drop their programs (this also
  // breaks the cycle of a program that holds its own program array).
  void release_uref() override {
    if (attr_.type == kMapProgArray)
      for (auto& slot : slots_) slot.reset();
  }

  // fd_array_map_delete_elem
  void remove(ByteView key) override {
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(E2BIG, kDelete, "index " + std::to_string(index) + " is past max_entries");
    if (!slots_[index]) fail(ENOENT, kDelete, "empty slot");
    slots_[index].reset();
  }

  Bytes get_next_key(std::optional<ByteView> key) override { return array_next_key(key, attr_.max_entries); }

 private:
  // prog_fd_array_get_ptr: the first program stored fixes the array's owner
  // type (bpf_prog_map_compatible); a program of another type: EINVAL.
  std::shared_ptr<Object> prog_from_fd(int fd, const FdResolver& resolve) {
    auto prog = std::dynamic_pointer_cast<Prog>(resolve(fd));  // EBADF when the fd is not open
    if (!prog) fail(EINVAL, kUpdate, "fd " + std::to_string(fd) + " is not a BPF program");
    uint32_t type = prog->attr().prog_type;
    if (owner_type_ != 0 && owner_type_ != type)
      fail(EINVAL, kUpdate,
           "program type " + std::to_string(type) + " differs from the array's owner type " + std::to_string(owner_type_));
    owner_type_ = type;
    return prog;
  }
  std::vector<std::shared_ptr<Object>> slots_;
  uint32_t owner_type_ = 0;  // map->owner.type; 0 until a program is stored
};

// ---- RINGBUF and USER_RINGBUF: no syscall-side element access (the ops
// return -ENOTSUPP).
class RingbufMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView) override { fail(kENOTSUPP, kLookup, "a ring buffer has no elements"); }
  void update(ByteView, ByteView, uint64_t, const FdResolver&) override {
    fail(kENOTSUPP, kUpdate, "a ring buffer has no elements");
  }
  void remove(ByteView) override { fail(kENOTSUPP, kDelete, "a ring buffer has no elements"); }
  Bytes get_next_key(std::optional<ByteView>) override { fail(kENOTSUPP, kNextKey, "a ring buffer has no keys"); }
};

// ---- QUEUE and STACK (queue_stack_maps.c): update pushes, lookup peeks,
// lookup-and-delete pops; no keys.
class QueueStackMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView) override {
    if (elems_.empty()) fail(ENOENT, kLookup, "empty");
    return stack() ? elems_.back() : elems_.front();
  }
  // queue_stack_map_push_elem
  void update(ByteView, ByteView value, uint64_t flags, const FdResolver&) override {
    if ((flags & kNoExist) || flags > kExist) fail(EINVAL, kUpdate, "push takes BPF_ANY or BPF_EXIST");
    if (elems_.size() >= attr_.max_entries) {
      if (!(flags & kExist)) fail(E2BIG, kUpdate, "full (BPF_EXIST replaces the oldest)");
      elems_.pop_front();
    }
    elems_.emplace_back(value.begin(), value.end());
  }
  void remove(ByteView) override { fail(EINVAL, kDelete, "queue and stack elements are popped, not deleted"); }
  Bytes get_next_key(std::optional<ByteView>) override { fail(EINVAL, kNextKey, "a queue or stack has no keys"); }
  Bytes lookup_and_delete(ByteView, uint64_t) override {
    if (elems_.empty()) fail(ENOENT, kLookupDelete, "empty");
    Bytes v = stack() ? elems_.back() : elems_.front();
    if (stack()) elems_.pop_back();
    else elems_.pop_front();
    return v;
  }

 private:
  bool stack() const { return attr_.type == kMapStack; }
  std::deque<Bytes> elems_;
};

// ---- BLOOM_FILTER: update adds a value, lookup tests one. The model keeps
// the exact set, so it never answers "maybe" for a value never added (a real
// filter sized by max_entries rarely does).
class BloomMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView key) override { return lookup_value(key, {}); }
  Bytes lookup_value(ByteView, ByteView value) override {
    if (!values_.count(Bytes(value.begin(), value.end()))) fail(ENOENT, kLookup, "value not in the filter");
    return {};
  }
  void update(ByteView, ByteView value, uint64_t flags, const FdResolver&) override {
    if (flags != kAny) fail(EINVAL, kUpdate, "a bloom filter takes BPF_ANY only");
    values_.insert(Bytes(value.begin(), value.end()));
  }
  void remove(ByteView) override { fail(EOPNOTSUPP, kDelete, "a bloom filter cannot delete"); }
  Bytes get_next_key(std::optional<ByteView>) override { fail(EOPNOTSUPP, kNextKey, "a bloom filter has no keys"); }

 private:
  // Same-size values: length first, then bytes. (std::less<Bytes> here makes
  // GCC 12 -O2 warn about an unbounded memcmp, a false -Wstringop-overread.)
  struct ValueLess {
    bool operator()(const Bytes& a, const Bytes& b) const {
      if (a.size() != b.size()) return a.size() < b.size();
      return !a.empty() && std::memcmp(a.data(), b.data(), a.size()) < 0;
    }
  };
  std::set<Bytes, ValueLess> values_;
};

// ---- STACK_TRACE: filled only by bpf_get_stackid, which the model's
// programs never run; the syscall side sees empty buckets.
class StackTraceMap : public Map {
 public:
  StackTraceMap(uint32_t id, const MapCreateAttr& attr)
      : Map(id, attr), n_buckets_(roundup_pow_of_two(attr.max_entries)) {}
  Bytes lookup(ByteView) override { fail(ENOENT, kLookup, "no stack with this id"); }
  void update(ByteView, ByteView, uint64_t, const FdResolver&) override {
    fail(EINVAL, kUpdate, "stack traces are written by bpf_get_stackid only");
  }
  void remove(ByteView key) override {
    if (array_index(key) >= n_buckets_) fail(E2BIG, kDelete, "stack id past the buckets");
    fail(ENOENT, kDelete, "no stack with this id");
  }
  Bytes get_next_key(std::optional<ByteView>) override { fail(ENOENT, kNextKey, "no stacks"); }
  Bytes lookup_and_delete(ByteView, uint64_t) override { fail(ENOENT, kLookupDelete, "no stack with this id"); }

 private:
  uint64_t n_buckets_;
};

// ---- LPM_TRIE: keys are u32 prefixlen + data; lookup is the longest stored
// prefix (at most the key's prefixlen) matching the key's data.
class LpmTrieMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView key) override {
    uint32_t plen = std::min(load_le32(key.data()), max_prefixlen());
    for (uint32_t len = plen + 1; len-- > 0;) {
      auto it = elems_.find(canonical(len, key));
      if (it != elems_.end()) return it->second;
    }
    fail(ENOENT, kLookup, "no matching prefix");
  }
  // trie_update_elem
  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver&) override {
    if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    uint32_t plen = load_le32(key.data());
    if (plen > max_prefixlen()) fail(EINVAL, kUpdate, "prefixlen longer than the key's data");
    Bytes k = canonical(plen, key);
    bool exists = elems_.count(k) != 0;
    if (exists && flags == kNoExist) fail(EEXIST, kUpdate, "prefix exists (BPF_NOEXIST)");
    if (!exists && flags == kExist) fail(ENOENT, kUpdate, "no such prefix (BPF_EXIST)");
    if (!exists && elems_.size() >= attr_.max_entries) fail(ENOSPC, kUpdate, "trie is full");
    elems_[k] = Bytes(value.begin(), value.end());
  }
  void remove(ByteView key) override {
    uint32_t plen = load_le32(key.data());
    if (plen > max_prefixlen() || elems_.erase(canonical(plen, key)) == 0) fail(ENOENT, kDelete, "no such prefix");
  }
  Bytes get_next_key(std::optional<ByteView>) override {
    fail(EOPNOTSUPP, kNextKey, "LPM_TRIE key iteration (trie_get_next_key's post-order walk) is not modelled");
  }

 private:
  uint32_t max_prefixlen() const { return (attr_.key_size - 4) * 8; }
  // prefixlen, then the data with the bits past prefixlen cleared: the
  // trie's notion of one node.
  Bytes canonical(uint32_t plen, ByteView key) const {
    Bytes k(key.begin(), key.end());
    store_le32(k.data(), plen);
    for (uint32_t bit = plen; bit < max_prefixlen(); ++bit) k[4 + bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return k;
  }
  std::map<Bytes, Bytes> elems_;
};

// ---- SK_STORAGE, INODE_STORAGE, TASK_STORAGE, CGRP_STORAGE: the key is an
// fd naming the owner. The model has no sockets, pidfds or cgroup
// directories: those fds are refused as the kernel refuses an fd of another
// kind. Every BPF object fd shares one anonymous inode (anon_inode_getfd), so
// inode storage keyed by any of them is one element.
class LocalStorageMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView key) override {
    owner(key, kLookup, caller_fds);
    if (!value_) fail(ENOENT, kLookup, "no storage");
    return *value_;
  }
  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) override {
    owner(key, kUpdate, resolve);
    if ((flags & ~kFLock) > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    if (flags == kNoExist && value_) fail(EEXIST, kUpdate, "storage exists (BPF_NOEXIST)");
    if (flags == kExist && !value_) fail(ENOENT, kUpdate, "no storage (BPF_EXIST)");
    value_ = Bytes(value.begin(), value.end());
  }
  void remove(ByteView key) override {
    owner(key, kDelete, caller_fds);
    if (!value_) fail(ENOENT, kDelete, "no storage");
    value_.reset();
  }
  Bytes get_next_key(std::optional<ByteView>) override { fail(kENOTSUPP, kNextKey, "local storage has no key iteration"); }

 private:
  void owner(ByteView key, const char* cmd, const FdResolver& resolve) {
    int fd = static_cast<int>(load_le32(key.data()));
    switch (attr_.type) {
      case kMapInodeStorage:
        resolve(fd);  // EBADF; any open fd has an inode
        return;
      case kMapSkStorage:
        resolve(fd);
        fail(ENOTSOCK, cmd, "fd " + std::to_string(fd) + " is not a socket (the model has none)");
      case kMapTaskStorage:
        resolve(fd);
        fail(EBADF, cmd, "fd " + std::to_string(fd) + " is not a pidfd (the model has none)");
      default:
        resolve(fd);
        fail(EBADF, cmd, "fd " + std::to_string(fd) + " is not a cgroup directory (the model has none)");
    }
  }
  std::optional<Bytes> value_;  // the shared anonymous inode's storage
};

// ---- CGROUP_STORAGE, PERCPU_CGROUP_STORAGE: one element per (cgroup,
// attach type) with a program attached; the model attaches none.
class CgroupStorageMap : public Map {
 public:
  CgroupStorageMap(uint32_t id, const MapCreateAttr& attr, uint32_t cpus) : Map(id, attr), cpus_(cpus) {}
  size_t syscall_value_size() const override {
    return attr_.type == kMapPercpuCgroupStorage ? static_cast<size_t>(round_up8(attr_.value_size)) * cpus_
                                                 : attr_.value_size;
  }
  Bytes lookup(ByteView) override { fail(ENOENT, kLookup, "no cgroup storage (no program is attached)"); }
  void update(ByteView, ByteView, uint64_t flags, const FdResolver&) override {
    if (flags & ~(kFLock | kExist)) fail(EINVAL, kUpdate, "unknown update flags");
    fail(ENOENT, kUpdate, "no cgroup storage (no program is attached)");
  }
  void remove(ByteView) override { fail(EINVAL, kDelete, "cgroup storage cannot be deleted"); }
  Bytes get_next_key(std::optional<ByteView>) override { fail(ENOENT, kNextKey, "no cgroup storage"); }

 private:
  uint32_t cpus_;
};

// ---- DEVMAP, DEVMAP_HASH (ifindex [+ XDP program fd]), CPUMAP (qsize [+
// program fd]), XSKMAP, SOCKMAP, SOCKHASH, REUSEPORT_SOCKARRAY (socket fds).
// The model's one device is loopback (ifindex 1); it has no sockets.
class NetMap : public Map {
 public:
  NetMap(uint32_t id, const MapCreateAttr& attr, uint32_t cpus) : Map(id, attr), cpus_(cpus) {}

  Bytes lookup(ByteView key) override {
    uint32_t type = attr_.type;
    if (type == kMapXskmap) fail(EOPNOTSUPP, kLookup, "XSKMAP elements cannot be read from the syscall side");
    if ((type == kMapSockmap || type == kMapSockhash || type == kMapReuseportSockarray) && attr_.value_size != 8)
      fail(ENOSPC, kLookup, "socket cookies need an 8-byte value");
    auto it = elems_.find(Bytes(key.begin(), key.end()));
    if (it == elems_.end()) fail(ENOENT, kLookup, "empty slot");
    return it->second;
  }

  void update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) override {
    switch (attr_.type) {
      case kMapDevmap: return devmap_update(key, value, flags, resolve);
      case kMapDevmapHash: return devmap_hash_update(key, value, flags, resolve);
      case kMapCpumap: return cpumap_update(key, value, flags, resolve);
      case kMapXskmap:
        if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
        if (array_index(key) >= attr_.max_entries) fail(E2BIG, kUpdate, "index past max_entries");
        socket_fd(value, resolve);
      default: {  // SOCKMAP, SOCKHASH (sock_map_update_elem_sys), REUSEPORT_SOCKARRAY
        if (attr_.type == kMapReuseportSockarray) {
          if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
          if (array_index(key) >= attr_.max_entries) fail(E2BIG, kUpdate, "index past max_entries");
          if (attr_.value_size == 8 && load_le64(value.data()) > INT32_MAX) fail(EINVAL, kUpdate, "fd past S32_MAX");
        } else {
          uint64_t fd = attr_.value_size == 8 ? load_le64(value.data()) : load_le32(value.data());
          if (fd > INT32_MAX) fail(EINVAL, kUpdate, "fd past S32_MAX");
        }
        socket_fd(value, resolve);
      }
    }
  }

  void remove(ByteView key) override {
    Bytes k(key.begin(), key.end());
    switch (attr_.type) {
      case kMapDevmap:
      case kMapCpumap:
      case kMapXskmap:  // dev_map_delete_elem & co.: clearing an empty slot is fine
        if (array_index(key) >= attr_.max_entries) fail(EINVAL, kDelete, "index past max_entries");
        elems_.erase(k);
        return;
      case kMapSockmap:  // sock_map_delete_elem: __sock_map_delete of an empty slot
        if (array_index(key) >= attr_.max_entries) fail(EINVAL, kDelete, "index past max_entries");
        fail(EINVAL, kDelete, "empty slot");
      case kMapReuseportSockarray:
        if (array_index(key) >= attr_.max_entries) fail(E2BIG, kDelete, "index past max_entries");
        fail(ENOENT, kDelete, "empty slot");
      default:  // DEVMAP_HASH, SOCKHASH
        if (elems_.erase(k) == 0) fail(ENOENT, kDelete, "no such key");
    }
  }

  Bytes get_next_key(std::optional<ByteView> key) override {
    if (attr_.type == kMapDevmapHash || attr_.type == kMapSockhash) return hash_next_key(elems_, key);
    return array_next_key(key, attr_.max_entries);
  }

 private:
  // sockfd_lookup(): EBADF, then ENOTSOCK for an fd that is not a socket.
  [[noreturn]] void socket_fd(ByteView value, const FdResolver& resolve) {
    int fd = static_cast<int>(load_le32(value.data()));
    resolve(fd);
    fail(ENOTSOCK, kUpdate, "fd " + std::to_string(fd) + " is not a socket (the model has none)");
  }
  // __dev_map_alloc_node: the device, then the program (XDP, expected attach
  // type BPF_XDP_DEVMAP).
  Bytes devmap_value(ByteView value, const FdResolver& resolve) {
    uint32_t ifindex = load_le32(value.data());
    if (ifindex != kLoopbackIfindex) fail(EINVAL, kUpdate, "no device with ifindex " + std::to_string(ifindex));
    Bytes stored(attr_.value_size, 0);
    store_le32(stored.data(), ifindex);
    if (attr_.value_size == 8) {
      int fd = static_cast<int32_t>(load_le32(value.data() + 4));
      if (fd > 0) {
        auto prog = std::dynamic_pointer_cast<Prog>(resolve(fd));
        constexpr uint32_t kAttachXdpDevmap = 33;
        if (!prog || prog->attr().prog_type != kProgXdp || prog->attr().expected_attach_type != kAttachXdpDevmap)
          fail(EINVAL, kUpdate, "fd " + std::to_string(fd) + " is not an XDP program for a devmap");
        store_le32(stored.data() + 4, prog->id());
      }
    }
    return stored;
  }
  void devmap_update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) {
    if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    uint32_t index = array_index(key);
    if (index >= attr_.max_entries) fail(E2BIG, kUpdate, "index past max_entries");
    if (flags == kNoExist) fail(EEXIST, kUpdate, "devmap slots always exist (BPF_NOEXIST)");
    if (load_le32(value.data()) == 0) {
      if (attr_.value_size == 8 && static_cast<int32_t>(load_le32(value.data() + 4)) > 0)
        fail(EINVAL, kUpdate, "a program fd without an ifindex");
      elems_.erase(Bytes(key.begin(), key.end()));
      return;
    }
    elems_[Bytes(key.begin(), key.end())] = devmap_value(value, resolve);
  }
  void devmap_hash_update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) {
    if (flags > kExist || load_le32(value.data()) == 0) fail(EINVAL, kUpdate, "unknown flags or ifindex 0");
    Bytes k(key.begin(), key.end());
    bool exists = elems_.count(k) != 0;
    if (exists && flags == kNoExist) fail(EEXIST, kUpdate, "key exists (BPF_NOEXIST)");
    Bytes stored = devmap_value(value, resolve);
    if (!exists && elems_.size() >= attr_.max_entries) fail(E2BIG, kUpdate, "devmap hash is full");
    elems_[k] = stored;
  }
  // cpu_map_update_elem
  void cpumap_update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) {
    if (flags > kExist) fail(EINVAL, kUpdate, "unknown update flags");
    uint32_t cpu = array_index(key);
    if (cpu >= attr_.max_entries) fail(E2BIG, kUpdate, "cpu past max_entries");
    if (flags == kNoExist) fail(EEXIST, kUpdate, "cpumap slots always exist (BPF_NOEXIST)");
    uint32_t qsize = load_le32(value.data());
    if (qsize > kCpumapMaxQsize) fail(EOVERFLOW, kUpdate, "qsize over 16384");
    if (cpu >= cpus_) fail(ENODEV, kUpdate, "cpu " + std::to_string(cpu) + " is not possible");
    Bytes k(key.begin(), key.end());
    if (qsize == 0) {
      elems_.erase(k);
      return;
    }
    Bytes stored(attr_.value_size, 0);
    store_le32(stored.data(), qsize);
    if (attr_.value_size == 8) {
      int fd = static_cast<int32_t>(load_le32(value.data() + 4));
      if (fd > 0) {
        // __cpu_map_entry_alloc fails as a whole: the kernel answers ENOMEM.
        std::shared_ptr<Prog> prog;
        try {
          prog = std::dynamic_pointer_cast<Prog>(resolve(fd));
        } catch (const Error&) {
        }
        constexpr uint32_t kAttachXdpCpumap = 35;
        if (!prog || prog->attr().prog_type != kProgXdp || prog->attr().expected_attach_type != kAttachXdpCpumap)
          fail(ENOMEM, kUpdate, "fd " + std::to_string(fd) + " is not an XDP program for a cpumap (entry allocation fails)");
        store_le32(stored.data() + 4, prog->id());
      }
    }
    elems_[k] = stored;
  }
  uint32_t cpus_;
  std::map<Bytes, Bytes> elems_;
};

// ---- ARENA: memory for programs and mmap; no elements (arena.c: lookup
// EINVAL, the other ops EOPNOTSUPP).
class ArenaMap : public Map {
 public:
  using Map::Map;
  Bytes lookup(ByteView) override { fail(EINVAL, kLookup, "an arena has no elements"); }
  void update(ByteView, ByteView, uint64_t, const FdResolver&) override {
    fail(EOPNOTSUPP, kUpdate, "an arena has no elements");
  }
  void remove(ByteView) override { fail(EOPNOTSUPP, kDelete, "an arena has no elements"); }
  Bytes get_next_key(std::optional<ByteView>) override { fail(EOPNOTSUPP, kNextKey, "an arena has no keys"); }
};

// ---- creation checks: each type's map_alloc_check, then map_alloc's checks

void check_array_attr(const MapCreateAttr& a) {
  bool percpu = a.type == kMapPercpuArray;
  if (a.max_entries == 0) fail(EINVAL, kCreate, "max_entries is 0");
  if (a.key_size != 4) fail(EINVAL, kCreate, "an array's key_size must be 4");
  if (a.value_size == 0) fail(EINVAL, kCreate, "value_size is 0");
  if ((a.flags & ~kArrayFlagMask) || !prog_access_ok(a.flags)) fail(EINVAL, kCreate, "invalid map_flags for an array");
  if (percpu && (a.flags & kFNumaNode)) fail(EINVAL, kCreate, "a per-CPU array has no NUMA node");
  if (a.type != kMapArray && (a.flags & (kFMmapable | kFInnerMap)))
    fail(EINVAL, kCreate, "only a plain ARRAY can be BPF_F_MMAPABLE or BPF_F_INNER_MAP");
  if (a.type != kMapPerfEventArray && (a.flags & kFPreserveElems))
    fail(EINVAL, kCreate, "BPF_F_PRESERVE_ELEMS is for perf event arrays");
  if (a.value_size > INT32_MAX) fail(E2BIG, kCreate, "value_size over INT_MAX");
  if (percpu && round_up8(a.value_size) > kPcpuMinUnitSize) fail(E2BIG, kCreate, "per-CPU value larger than 32 KiB");
  uint64_t bytes = uint64_t{round_up8(a.value_size)} * a.max_entries;
  if (bytes > kModelMaxArrayBytes) fail(ENOMEM, kCreate, "array larger than the model allocates");
}

// fd_array_map_alloc_check: PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY,
// ARRAY_OF_MAPS (the values are fds).
void check_fd_array_attr(const MapCreateAttr& a) {
  if (a.value_size != 4) fail(EINVAL, kCreate, type_label(a.type) + "'s value_size must be 4 (an fd)");
  if (a.flags & (kFRdonlyProg | kFWronlyProg)) fail(EINVAL, kCreate, "program access flags on an fd array");
  check_array_attr(a);
}

// htab_map_alloc_check (fd_htab_map_alloc_check first for HASH_OF_MAPS)
void check_hash_attr(const MapCreateAttr& a) {
  bool percpu = is_percpu_hash(a.type), lru = is_lru(a.type);
  if (a.type == kMapHashOfMaps && a.value_size != 4) fail(EINVAL, kCreate, "HASH_OF_MAPS's value_size must be 4 (an fd)");
  if ((a.flags & ~kHashFlagMask) || !prog_access_ok(a.flags)) fail(EINVAL, kCreate, "invalid map_flags for a hash map");
  if (!lru && (a.flags & kFNoCommonLru)) fail(EINVAL, kCreate, "BPF_F_NO_COMMON_LRU on a map that is not LRU");
  if (lru && (a.flags & kFNoPrealloc)) fail(kENOTSUPP, kCreate, "an LRU map is always preallocated (BPF_F_NO_PREALLOC)");
  if ((a.flags & kFNumaNode) && (percpu || (a.flags & kFNoCommonLru)))
    fail(EINVAL, kCreate, "per-CPU maps have no NUMA node");
  if (a.max_entries == 0 || a.key_size == 0 || a.value_size == 0)
    fail(EINVAL, kCreate, "max_entries, key_size and value_size must be non-zero");
  if (uint64_t{a.key_size} + a.value_size >= kKmallocMaxSize - kHtabElemSize)
    fail(E2BIG, kCreate, "key_size + value_size too large for the syscall side");
  if (percpu && round_up8(a.value_size) > kPcpuMinUnitSize) fail(E2BIG, kCreate, "per-CPU value larger than 32 KiB");
}

// ringbuf_map_alloc (RINGBUF and USER_RINGBUF)
void check_ringbuf_attr(const MapCreateAttr& a, uint32_t page_size) {
  if (a.flags & ~kFNumaNode) fail(EINVAL, kCreate, "invalid map_flags for a ring buffer");
  if (a.key_size || a.value_size) fail(EINVAL, kCreate, "a ring buffer has no key or value");
  if (!is_power_of_2(a.max_entries) || a.max_entries % page_size != 0)
    fail(EINVAL, kCreate, "ring buffer size must be a power-of-2 multiple of the page size");
}

// queue_stack_map_alloc_check
void check_queue_stack_attr(const MapCreateAttr& a) {
  if (a.max_entries == 0 || a.key_size != 0 || a.value_size == 0 || (a.flags & ~kQueueStackFlagMask) ||
      !prog_access_ok(a.flags))
    fail(EINVAL, kCreate, "a queue or stack needs key_size 0, a value_size, max_entries and valid flags");
  if (a.value_size > kKmallocMaxSize) fail(E2BIG, kCreate, "value_size over KMALLOC_MAX_SIZE");
}

// bloom_map_alloc_check, bloom_map_alloc
void check_bloom_attr(const MapCreateAttr& a) {
  if (a.value_size > kKmallocMaxSize) fail(E2BIG, kCreate, "value_size over KMALLOC_MAX_SIZE");
  if (a.key_size != 0 || a.value_size == 0 || a.max_entries == 0 || (a.flags & ~kBloomFlagMask) ||
      !prog_access_ok(a.flags) || (a.map_extra & ~uint64_t{0xf}))
    fail(EINVAL, kCreate, "a bloom filter needs key_size 0, a value_size, max_entries, nr_hashes <= 15 in map_extra");
}

// stack_map_alloc
void check_stack_trace_attr(const MapCreateAttr& a) {
  if (a.flags & ~kStackFlagMask) fail(EINVAL, kCreate, "invalid map_flags for a stack trace map");
  if (a.max_entries == 0 || a.key_size != 4 || a.value_size < 8 || a.value_size % 8)
    fail(EINVAL, kCreate, "a stack trace map needs key_size 4 and a value_size that is a non-zero multiple of 8");
  if (a.flags & kFStackBuildId) {
    if (a.value_size % kStackBuildIdSize || a.value_size / kStackBuildIdSize > kPerfMaxStack)
      fail(EINVAL, kCreate, "build-id values: a multiple of 32 bytes, at most 127 frames");
  } else if (a.value_size / 8 > kPerfMaxStack) {
    fail(EINVAL, kCreate, "more than 127 frames (kernel.perf_event_max_stack)");
  }
  if (a.max_entries > (1u << 31)) fail(E2BIG, kCreate, "max_entries over 2^31");
}

// trie_alloc
void check_lpm_attr(const MapCreateAttr& a) {
  constexpr uint64_t kLpmValueMax = kKmallocMaxSize - 256 - 48;  // LPM_VAL_SIZE_MAX
  if (a.max_entries == 0 || !(a.flags & kFNoPrealloc) || (a.flags & ~kLpmFlagMask) || !prog_access_ok(a.flags) ||
      a.key_size < kLpmKeyMin || a.key_size > kLpmKeyMax || a.value_size < 1 || a.value_size > kLpmValueMax)
    fail(EINVAL, kCreate, "an LPM trie needs BPF_F_NO_PREALLOC, key_size 5..260 (u32 prefixlen + data), a value_size");
}

// bpf_local_storage_map_alloc_check
void check_local_storage_attr(const MapCreateAttr& a) {
  if ((a.flags & ~kLocalStorageFlagMask) || !(a.flags & kFNoPrealloc) || a.max_entries || a.key_size != 4 ||
      !a.value_size || !a.btf_key_type_id || !a.btf_value_type_id)
    fail(EINVAL, kCreate,
         "local storage needs BPF_F_NO_PREALLOC, max_entries 0, key_size 4 (an fd), a value_size and BTF key and value types");
  if (a.value_size > kLocalStorageMaxValue) fail(E2BIG, kCreate, "value_size over BPF_LOCAL_STORAGE_MAX_VALUE_SIZE");
}

// cgroup_storage_map_alloc
void check_cgroup_storage_attr(const MapCreateAttr& a) {
  uint32_t max_value = a.type == kMapPercpuCgroupStorage ? kPcpuMinUnitSize : kLocalStorageMaxValue;
  if (a.key_size != kCgroupStorageKeySize && a.key_size != 8)
    fail(EINVAL, kCreate, "cgroup storage keys are struct bpf_cgroup_storage_key or a u64");
  if (a.value_size == 0) fail(EINVAL, kCreate, "value_size is 0");
  if (a.value_size > max_value) fail(E2BIG, kCreate, "value_size over " + std::to_string(max_value));
  if ((a.flags & ~kCgroupStorageFlagMask) || !prog_access_ok(a.flags))
    fail(EINVAL, kCreate, "invalid map_flags for cgroup storage");
  if (a.max_entries) fail(EINVAL, kCreate, "cgroup storage max_entries must be 0");
}

// dev_map_alloc_check / dev_map_init_map
void check_devmap_attr(const MapCreateAttr& a) {
  if (a.max_entries == 0 || a.key_size != 4 || (a.value_size != 4 && a.value_size != 8) || (a.flags & ~kSockDevFlagMask))
    fail(EINVAL, kCreate, "a devmap needs key_size 4, value_size 4 (ifindex) or 8 (+ program fd)");
  if (a.type == kMapDevmapHash && roundup_pow_of_two(a.max_entries) > UINT32_MAX)
    fail(EINVAL, kCreate, "too many buckets");
}

// cpu_map_alloc
void check_cpumap_attr(const MapCreateAttr& a, uint32_t config_nr_cpus) {
  if (a.max_entries == 0 || a.key_size != 4 || (a.value_size != 4 && a.value_size != 8) || (a.flags & ~kFNumaNode))
    fail(EINVAL, kCreate, "a cpumap needs key_size 4, value_size 4 (qsize) or 8 (+ program fd)");
  if (a.max_entries > config_nr_cpus) fail(E2BIG, kCreate, "max_entries over NR_CPUS (" + std::to_string(config_nr_cpus) + ")");
}

// xsk_map_alloc, sock_map_alloc, sock_hash_alloc, reuseport_array_alloc_check
void check_socket_map_attr(const MapCreateAttr& a) {
  switch (a.type) {
    case kMapXskmap:
      if (a.max_entries == 0 || a.key_size != 4 || a.value_size != 4 || (a.flags & ~kSockDevFlagMask))
        fail(EINVAL, kCreate, "an XSKMAP needs key_size 4, value_size 4");
      return;
    case kMapSockmap:
      if (a.max_entries == 0 || a.key_size != 4 || (a.value_size != 4 && a.value_size != 8) ||
          (a.flags & ~kSockDevFlagMask))
        fail(EINVAL, kCreate, "a SOCKMAP needs key_size 4, value_size 4 or 8");
      return;
    case kMapSockhash:
      if (a.max_entries == 0 || a.key_size == 0 || (a.value_size != 4 && a.value_size != 8) ||
          (a.flags & ~kSockDevFlagMask))
        fail(EINVAL, kCreate, "a SOCKHASH needs a key_size, value_size 4 or 8");
      if (a.key_size > kMaxBpfStack) fail(E2BIG, kCreate, "key_size over MAX_BPF_STACK");
      return;
    default:  // REUSEPORT_SOCKARRAY
      if (a.value_size != 4 && a.value_size != 8) fail(EINVAL, kCreate, "value_size must be 4 or 8");
      check_array_attr(a);
  }
}

// arena_map_alloc
void check_arena_attr(const MapCreateAttr& a, uint32_t page_size) {
  if (a.key_size || a.value_size || a.max_entries == 0 || !(a.flags & kFMmapable) ||
      (a.flags & ~(kFSegvOnFault | kFMmapable | kFNoUserConv)))
    fail(EINVAL, kCreate, "an arena needs key and value size 0, max_entries (pages) and BPF_F_MMAPABLE");
  if (a.map_extra % page_size) fail(EINVAL, kCreate, "map_extra (the user VMA start) must be page aligned");
  uint64_t range = uint64_t{a.max_entries} * page_size;
  if (range > (uint64_t{1} << 32)) fail(E2BIG, kCreate, "an arena is at most 4 GiB");
  if ((a.map_extra >> 32) != ((a.map_extra + range - 1) >> 32)) fail(ERANGE, kCreate, "the arena crosses a 4 GiB boundary");
}

// bpf_struct_ops_map_alloc_check; what follows needs the struct_ops types of
// vmlinux BTF (bpf_struct_ops_find_value), which the model does not have.
[[noreturn]] void check_struct_ops_attr(const MapCreateAttr& a) {
  if (a.key_size != 4 || a.max_entries != 1 || (a.flags & ~(kFLink | (1u << 15))) || !a.btf_vmlinux_value_type_id)
    fail(EINVAL, kCreate, "struct_ops needs key_size 4, max_entries 1 and btf_vmlinux_value_type_id");
  fail(EOPNOTSUPP, kCreate, "not modelled: STRUCT_OPS needs the struct_ops value types of vmlinux BTF");
}

// bpf_get_file_flag(): BPF_F_RDONLY and BPF_F_WRONLY exclude each other.
void check_file_flags(const MapCreateAttr& a) {
  if ((a.flags & kFRdonly) && (a.flags & kFWronly)) fail(EINVAL, kCreate, "BPF_F_RDONLY with BPF_F_WRONLY");
}

// map_create()'s attr checks before the type's.
void check_common_attr(const MapCreateAttr& a) {
  if (a.btf_vmlinux_value_type_id) {
    if (a.type != kMapStructOps || a.btf_key_type_id || a.btf_value_type_id)
      fail(EINVAL, kCreate, "btf_vmlinux_value_type_id is for STRUCT_OPS alone");
  } else if (a.btf_key_type_id && !a.btf_value_type_id) {
    fail(EINVAL, kCreate, "btf_key_type_id without btf_value_type_id");
  }
  if (a.type != kMapBloomFilter && a.type != kMapArena && a.map_extra)
    fail(EINVAL, kCreate, "map_extra is for BLOOM_FILTER and ARENA");
  check_file_flags(a);
}

void check_type_attr(const MapCreateAttr& a, const KernelProfile& profile) {
  switch (a.type) {
    case kMapArray:
    case kMapPercpuArray: return check_array_attr(a);
    case kMapProgArray:
    case kMapPerfEventArray:
    case kMapCgroupArray:
    case kMapArrayOfMaps: return check_fd_array_attr(a);
    case kMapHash:
    case kMapPercpuHash:
    case kMapLruHash:
    case kMapLruPercpuHash:
    case kMapHashOfMaps: return check_hash_attr(a);
    case kMapRingbuf:
    case kMapUserRingbuf: return check_ringbuf_attr(a, profile.page_size);
    case kMapQueue:
    case kMapStack: return check_queue_stack_attr(a);
    case kMapBloomFilter: return check_bloom_attr(a);
    case kMapStackTrace: return check_stack_trace_attr(a);
    case kMapLpmTrie: return check_lpm_attr(a);
    case kMapSkStorage:
    case kMapInodeStorage:
    case kMapTaskStorage:
    case kMapCgrpStorage: return check_local_storage_attr(a);
    case kMapCgroupStorage:
    case kMapPercpuCgroupStorage: return check_cgroup_storage_attr(a);
    case kMapDevmap:
    case kMapDevmapHash: return check_devmap_attr(a);
    case kMapCpumap: return check_cpumap_attr(a, profile.config_nr_cpus);
    case kMapXskmap:
    case kMapSockmap:
    case kMapSockhash:
    case kMapReuseportSockarray: return check_socket_map_attr(a);
    case kMapArena: return check_arena_attr(a, profile.page_size);
    case kMapStructOps: check_struct_ops_attr(a);
  }
  fail(EINVAL, kCreate, "unknown map type " + std::to_string(a.type));
}

// bpf_map_meta_alloc(): the inner map template of a map of maps.
MapCreateAttr inner_map_meta(const MapCreateAttr& a, const FdResolver& resolve) {
  auto inner = std::dynamic_pointer_cast<Map>(resolve(a.inner_map_fd));  // EBADF when not open
  if (!inner) fail(EINVAL, kCreate, "inner_map_fd " + std::to_string(a.inner_map_fd) + " is not a BPF map");
  if (inner->inner_map_meta) fail(EINVAL, kCreate, "a map of maps cannot be an inner map (one level only)");
  switch (inner->type()) {  // the types without map_meta_equal
    case kMapStructOps:
    case kMapSkStorage:
    case kMapInodeStorage:
    case kMapTaskStorage:
    case kMapCgrpStorage:
    case kMapCgroupStorage:
    case kMapPercpuCgroupStorage:
    case kMapArena:
      fail(kENOTSUPP, kCreate, type_label(inner->type()) + " cannot be an inner map");
  }
  return inner->attr();
}

bool has_map_check_btf(uint32_t type) {
  switch (type) {
    case kMapArray:
    case kMapPercpuArray:
    case kMapLpmTrie:
    case kMapBloomFilter:
    case kMapSkStorage:
    case kMapInodeStorage:
    case kMapTaskStorage:
    case kMapCgrpStorage:
    case kMapCgroupStorage:
    case kMapPercpuCgroupStorage:
    case kMapArena: return true;
  }
  return false;
}

std::shared_ptr<Map> build_map(uint32_t id, const MapCreateAttr& a, const KernelProfile& profile) {
  switch (a.type) {
    case kMapArray: return std::make_shared<ArrayMap>(id, a, 1);
    case kMapPercpuArray: return std::make_shared<ArrayMap>(id, a, profile.nr_cpus);
    case kMapProgArray:
    case kMapPerfEventArray:
    case kMapCgroupArray:
    case kMapArrayOfMaps: return std::make_shared<FdArrayMap>(id, a);
    case kMapHash:
    case kMapPercpuHash:
    case kMapLruHash:
    case kMapLruPercpuHash:
    case kMapHashOfMaps: {
      MapCreateAttr sized = a;
      // htab_map_alloc: a per-CPU LRU list per CPU needs max_entries to be a
      // multiple of the CPUs (rounded up, or down on overflow).
      if (is_lru(a.type) && (a.flags & kFNoCommonLru)) {
        uint64_t up = (uint64_t{a.max_entries} + profile.nr_cpus - 1) / profile.nr_cpus * profile.nr_cpus;
        sized.max_entries = up > UINT32_MAX ? a.max_entries / profile.nr_cpus * profile.nr_cpus : static_cast<uint32_t>(up);
      }
      return std::make_shared<HashMap>(id, sized, profile.nr_cpus);
    }
    case kMapRingbuf:
    case kMapUserRingbuf: return std::make_shared<RingbufMap>(id, a);
    case kMapQueue:
    case kMapStack: return std::make_shared<QueueStackMap>(id, a);
    case kMapBloomFilter: return std::make_shared<BloomMap>(id, a);
    case kMapStackTrace: return std::make_shared<StackTraceMap>(id, a);
    case kMapLpmTrie: return std::make_shared<LpmTrieMap>(id, a);
    case kMapSkStorage:
    case kMapInodeStorage:
    case kMapTaskStorage:
    case kMapCgrpStorage: return std::make_shared<LocalStorageMap>(id, a);
    case kMapCgroupStorage:
    case kMapPercpuCgroupStorage: return std::make_shared<CgroupStorageMap>(id, a, profile.nr_cpus);
    case kMapArena: return std::make_shared<ArenaMap>(id, a);
    default: return std::make_shared<NetMap>(id, a, profile.nr_cpus);
  }
}

void check_excl_hash(const MapCreateAttr& a) {
  if (!a.excl_prog_hash.empty() && a.excl_prog_hash.size() != kSha256Size)
    fail(EINVAL, kCreate, "excl_prog_hash_size must be 32");
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

std::shared_ptr<Map> create_map(uint32_t id, const MapCreateAttr& attr, const KernelProfile& profile,
                                const FdResolver& resolve) {
  // The order of map_create(): the attr's BTF and map_extra rules and file
  // flags, the type's checks (map_alloc_check, map_alloc: the inner map
  // template), the name, the map's BTF, then the exclusive-program hash.
  check_common_attr(attr);
  check_type_attr(attr, profile);
  std::optional<MapCreateAttr> meta;
  if (attr.type == kMapArrayOfMaps || attr.type == kMapHashOfMaps) meta = inner_map_meta(attr, resolve);
  check_obj_name(attr.name, kCreate, "map");
  if (attr.btf_key_type_id || attr.btf_value_type_id) {
    auto btf = std::dynamic_pointer_cast<Btf>(resolve(attr.btf_fd));  // EBADF when not open
    if (!btf) fail(EINVAL, kCreate, "btf_fd " + std::to_string(attr.btf_fd) + " is not a BTF object");
    if (attr.btf_value_type_id) check_map_btf(*btf, attr, has_map_check_btf(attr.type));
  }
  check_excl_hash(attr);
  auto map = build_map(id, attr, profile);
  map->inner_map_meta = meta;
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
