// SPDX-License-Identifier: Apache-2.0
// Every 6.18 map type: creation (valid and invalid parameters) and the
// element operations the syscall side reaches, run as one script through the
// running kernel (raw bpf(2) with the full BPF_MAP_CREATE attr; root) and
// through the model; the transcripts must be equal line for line
// (KmodelMapsDifferential.*). The same scripts' model transcripts are also
// pinned to the expected errnos without root (KmodelMaps.*).
#include <gtest/gtest.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "kmodel/kmodel_test_util.h"
#include "support/kernel_features.h"
#include "support/support.h"
#include "sys/internal.h"
#include "common/uapi.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

Bytes u32v(uint32_t v) {
  Bytes b(4);
  store_le32(b.data(), v);
  return b;
}
Bytes u64v(uint64_t v) {
  Bytes b(8);
  store_le64(b.data(), v);
  return b;
}
Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

uint32_t host_possible_cpus() {
  int cpus = libbpf_num_possible_cpus();
  return cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
}

// The CPUs the scripts and the model assume: the host's against the running
// kernel, the recording machine's (2) against the pinned transcripts.
uint32_t g_cpus = 2;
uint32_t possible_cpus() { return g_cpus; }

// BTF for map keys and values: [1] int (4 bytes), [2] u64 (8 bytes),
// [3] struct lpm_key { int prefixlen; int data; } (8 bytes).
Bytes map_btf() {
  const char strings[] = "\0int\0u64\0lpm_key\0prefixlen\0data";
  Bytes types;
  auto put = [&](uint32_t v) {
    Bytes b = u32v(v);
    types.insert(types.end(), b.begin(), b.end());
  };
  put(1), put(1u << 24), put(4), put(0x01000020);                  // int: signed, 32 bits
  put(5), put(1u << 24), put(8), put(64);                          // u64
  put(9), put((4u << 24) | 2), put(8);                             // struct lpm_key, 2 members
  put(17), put(1), put(0);                                         // prefixlen: int at bit 0
  put(27), put(1), put(32);                                        // data: int at bit 32
  Bytes btf(24, 0);
  store_le16(&btf[0], 0xeB9F);
  btf[2] = 1;
  store_le32(&btf[4], 24);
  store_le32(&btf[8], 0);
  store_le32(&btf[12], static_cast<uint32_t>(types.size()));
  store_le32(&btf[16], static_cast<uint32_t>(types.size()));
  store_le32(&btf[20], sizeof strings);
  btf.insert(btf.end(), types.begin(), types.end());
  btf.insert(btf.end(), strings, strings + sizeof strings);
  return btf;
}
constexpr uint32_t kBtfInt = 1, kBtfU64 = 2, kBtfLpmKey = 3;

// One backend: the model or the running kernel. Errors are bpfsig::Error
// with the kernel's errno.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual int create(const MapCreateAttr& attr) = 0;
  virtual void update(int fd, ByteView key, ByteView value, uint64_t flags) = 0;
  virtual Bytes lookup(int fd, ByteView key, ByteView value_in, size_t value_size) = 0;
  virtual void remove(int fd, ByteView key) = 0;
  virtual Bytes next_key(int fd, std::optional<ByteView> key, size_t key_size) = 0;
  virtual Bytes lookup_and_delete(int fd, ByteView key, uint64_t flags, size_t value_size) = 0;
  virtual uint32_t map_id(int fd) = 0;
  virtual uint32_t max_entries(int fd) = 0;
  virtual int btf_load(ByteView blob) = 0;
};

class ModelBackend : public Backend {
 public:
  ModelBackend() : kernel_(profile()), proc_(kernel_.spawn("maps")) {}
  int create(const MapCreateAttr& attr) override { return kernel_.map_create(proc_, attr); }
  void update(int fd, ByteView key, ByteView value, uint64_t flags) override {
    kernel_.map_update(proc_, fd, key, value, flags);
  }
  Bytes lookup(int fd, ByteView key, ByteView value_in, size_t) override {
    return kernel_.map_lookup(proc_, fd, key, 0, value_in);
  }
  void remove(int fd, ByteView key) override { kernel_.map_delete(proc_, fd, key); }
  Bytes next_key(int fd, std::optional<ByteView> key, size_t) override { return kernel_.map_get_next_key(proc_, fd, key); }
  Bytes lookup_and_delete(int fd, ByteView key, uint64_t flags, size_t) override {
    return kernel_.map_lookup_and_delete(proc_, fd, key, flags);
  }
  uint32_t map_id(int fd) override { return kernel_.map_info(proc_, fd).id; }
  uint32_t max_entries(int fd) override { return kernel_.map_info(proc_, fd).max_entries; }
  int btf_load(ByteView blob) override { return kernel_.btf_load(proc_, blob); }

 private:
  static KernelProfile profile() {
    KernelProfile p = KernelProfile::linux_6_18();
    p.nr_cpus = possible_cpus();
    return p;
  }
  Kernel kernel_;
  Process& proc_;
};

// The running kernel: raw bpf(2) (sys::detail::bpf_call throws the errno).
class RealBackend : public Backend {
 public:
  ~RealBackend() override {
    for (int fd : fds_) ::close(fd);
  }
  int create(const MapCreateAttr& a) override {
    uint8_t attr[96] = {};
    store_le32(attr + 0, a.type);
    store_le32(attr + 4, a.key_size);
    store_le32(attr + 8, a.value_size);
    store_le32(attr + 12, a.max_entries);
    store_le32(attr + 16, a.flags);
    store_le32(attr + 20, static_cast<uint32_t>(a.inner_map_fd));
    std::memcpy(attr + 28, a.name.data(), std::min<size_t>(a.name.size(), 15));
    store_le32(attr + 48, static_cast<uint32_t>(a.btf_fd));
    store_le32(attr + 52, a.btf_key_type_id);
    store_le32(attr + 56, a.btf_value_type_id);
    store_le32(attr + 60, a.btf_vmlinux_value_type_id);
    store_le64(attr + 64, a.map_extra);
    int fd = static_cast<int>(sys::detail::bpf_call(0 /* BPF_MAP_CREATE */, attr, sizeof attr));
    fds_.push_back(fd);
    return fd;
  }
  void update(int fd, ByteView key, ByteView value, uint64_t flags) override {
    elem(2, fd, key, value.data(), flags);
  }
  Bytes lookup(int fd, ByteView key, ByteView value_in, size_t value_size) override {
    Bytes value(value_in.begin(), value_in.end());
    value.resize(std::max(value.size(), value_size));
    elem(1, fd, key, value.data(), 0);
    if (!value_in.empty()) return {};  // a bloom filter answers with the errno only
    value.resize(value_size);
    return value;
  }
  void remove(int fd, ByteView key) override { elem(3, fd, key, nullptr, 0); }
  Bytes next_key(int fd, std::optional<ByteView> key, size_t key_size) override {
    Bytes next(key_size + 8);
    uint8_t attr[32] = {};
    store_le32(attr, static_cast<uint32_t>(fd));
    store_le64(attr + 8, key ? reinterpret_cast<uintptr_t>(ptr(*key)) : 0);
    store_le64(attr + 16, reinterpret_cast<uintptr_t>(next.data()));
    sys::detail::bpf_call(4 /* BPF_MAP_GET_NEXT_KEY */, attr, sizeof attr);
    next.resize(key_size);
    return next;
  }
  Bytes lookup_and_delete(int fd, ByteView key, uint64_t flags, size_t value_size) override {
    Bytes value(value_size + 8);
    elem(21 /* BPF_MAP_LOOKUP_AND_DELETE_ELEM */, fd, key, value.data(), flags);
    value.resize(value_size);
    return value;
  }
  uint32_t map_id(int fd) override { return info(fd).id; }
  uint32_t max_entries(int fd) override { return info(fd).max_entries; }
  int btf_load(ByteView blob) override {
    uint8_t attr[40] = {};
    store_le64(attr, reinterpret_cast<uintptr_t>(blob.data()));
    store_le32(attr + 16, static_cast<uint32_t>(blob.size()));
    int fd = static_cast<int>(sys::detail::bpf_call(18 /* BPF_BTF_LOAD */, attr, sizeof attr));
    fds_.push_back(fd);
    return fd;
  }

 private:
  // A keyless map gets a NULL key pointer (__bpf_copy_key refuses any other).
  static const uint8_t* ptr(ByteView bytes) { return bytes.empty() ? nullptr : bytes.data(); }
  static void elem(int cmd, int fd, ByteView key, const uint8_t* value, uint64_t flags) {
    uint8_t attr[32] = {};
    store_le32(attr, static_cast<uint32_t>(fd));
    store_le64(attr + 8, reinterpret_cast<uintptr_t>(ptr(key)));
    store_le64(attr + 16, reinterpret_cast<uintptr_t>(value));
    store_le64(attr + 24, flags);
    sys::detail::bpf_call(cmd, attr, sizeof attr);
  }
  static uapi::MapInfo info(int fd) {
    uapi::MapInfo info{};
    uapi::GetInfoAttr attr{};
    attr.bpf_fd = static_cast<uint32_t>(fd);
    attr.info_len = sizeof info;
    attr.info = reinterpret_cast<uintptr_t>(&info);
    sys::detail::bpf_call(uapi::kObjGetInfoByFd, &attr, sizeof attr);
    return info;
  }
  std::vector<int> fds_;
};

// Runs steps against one backend and writes down each answer: "ok",
// "ok <hex>" or the errno name.
class Transcript {
 public:
  explicit Transcript(Backend& backend) : b_(backend) {}
  Backend& b() { return b_; }
  void step(const std::string& label, const std::function<std::string()>& fn) {
    std::string outcome;
    try {
      outcome = fn();
    } catch (const Error& e) {
      outcome = e.err_name();
    }
    lines_.push_back(label + ": " + outcome);
  }
  int create(const std::string& label, const MapCreateAttr& attr) {
    int fd = -1;
    step(label, [&] {
      fd = b_.create(attr);
      return std::string("ok");
    });
    return fd;
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  Backend& b_;
  std::vector<std::string> lines_;
};

std::string ok() { return "ok"; }
std::string ok(ByteView bytes) { return "ok " + to_hex(bytes); }

MapCreateAttr M(uint32_t type, uint32_t key, uint32_t value, uint32_t max, uint32_t flags = 0) {
  return MapCreateAttr{type, key, value, max, flags, "m", {}};
}
MapCreateAttr with_btf(MapCreateAttr a, int btf_fd, uint32_t key_id, uint32_t value_id) {
  a.btf_fd = btf_fd;
  a.btf_key_type_id = key_id;
  a.btf_value_type_id = value_id;
  return a;
}
MapCreateAttr with_extra(MapCreateAttr a, uint64_t extra) {
  a.map_extra = extra;
  return a;
}
MapCreateAttr with_inner(MapCreateAttr a, int fd) {
  a.inner_map_fd = fd;
  return a;
}

using Script = std::function<void(Transcript&)>;

// Element-operation helpers writing one transcript line each.
struct Ops {
  Transcript& t;
  int fd;
  uint32_t key_size, value_size;  // value_size: what the syscall side exchanges
  void update(const std::string& what, const Bytes& key, const Bytes& value, uint64_t flags = kAny) {
    t.step("update " + what, [&] { t.b().update(fd, key, value, flags); return ok(); });
  }
  void lookup(const std::string& what, const Bytes& key) {
    t.step("lookup " + what, [&] { return ok(t.b().lookup(fd, key, {}, value_size)); });
  }
  void test_value(const std::string& what, const Bytes& value) {
    t.step("lookup value " + what, [&] { return ok(t.b().lookup(fd, {}, value, value_size)); });
  }
  void remove(const std::string& what, const Bytes& key) {
    t.step("delete " + what, [&] { t.b().remove(fd, key); return ok(); });
  }
  void next(const std::string& what, std::optional<Bytes> key) {
    t.step("next key " + what, [&] {
      std::optional<ByteView> k;
      if (key) k = ByteView(*key);
      return ok(t.b().next_key(fd, k, key_size));
    });
  }
  void pop(const std::string& what, const Bytes& key, uint64_t flags = 0) {
    t.step("lookup and delete " + what, [&] { return ok(t.b().lookup_and_delete(fd, key, flags, value_size)); });
  }
};

void creates(Transcript& t, const std::vector<std::pair<std::string, MapCreateAttr>>& cases) {
  for (const auto& [what, attr] : cases) t.create("create " + what, attr);
}

// ---- the scripts, one per map type (or family) ---------------------------------

void fd_array_script(Transcript& t, uint32_t type) {
  creates(t, {{"value 8", M(type, 4, 8, 4)},
              {"key 8", M(type, 8, 4, 4)},
              {"max 0", M(type, 4, 4, 0)},
              {"rdonly_prog", M(type, 4, 4, 4, kFRdonlyProg)},
              {"mmapable", M(type, 4, 4, 4, kFMmapable)},
              {"preserve_elems", M(type, 4, 4, 4, kFPreserveElems)},
              {"map_extra", with_extra(M(type, 4, 4, 4), 1)},
              {"rdonly", M(type, 4, 4, 4, kFRdonly)}});
  int other = t.create("create a map for its fd", M(kMapArray, 4, 4, 1));
  Ops o{t, t.create("create", M(type, 4, 4, 4)), 4, 4};
  o.lookup("0", u32v(0));
  o.lookup("9", u32v(9));
  o.update("map fd", u32v(0), u32v(static_cast<uint32_t>(other)));
  o.update("bad fd", u32v(0), u32v(9999));
  o.update("noexist", u32v(0), u32v(static_cast<uint32_t>(other)), kNoExist);
  o.update("index 4", u32v(4), u32v(static_cast<uint32_t>(other)));
  o.remove("0", u32v(0));
  o.remove("4", u32v(4));
  o.next("null", std::nullopt);
  o.next("1", u32v(1));
  o.next("3", u32v(3));
  o.next("99", u32v(99));
  o.pop("0", u32v(0));
}

void stack_trace_script(Transcript& t) {
  creates(t, {{"value 12", M(kMapStackTrace, 4, 12, 16)},
              {"value 0", M(kMapStackTrace, 4, 0, 16)},
              {"value 4", M(kMapStackTrace, 4, 4, 16)},
              {"key 8", M(kMapStackTrace, 8, 16, 16)},
              {"max 0", M(kMapStackTrace, 4, 16, 0)},
              {"127 frames", M(kMapStackTrace, 4, 127 * 8, 4)},
              {"128 frames", M(kMapStackTrace, 4, 128 * 8, 4)},
              {"build id 32", M(kMapStackTrace, 4, 32, 4, kFStackBuildId)},
              {"build id 40", M(kMapStackTrace, 4, 40, 4, kFStackBuildId)},
              {"build id 128 frames", M(kMapStackTrace, 4, 128 * 32, 4, kFStackBuildId)},
              {"mmapable", M(kMapStackTrace, 4, 16, 4, kFMmapable)},
              {"rdonly_prog", M(kMapStackTrace, 4, 16, 4, kFRdonlyProg)},
              {"no_prealloc", M(kMapStackTrace, 4, 16, 4, kFNoPrealloc)}});
  Ops o{t, t.create("create", M(kMapStackTrace, 4, 64, 10)), 4, 64};
  o.lookup("0", u32v(0));
  o.lookup("99", u32v(99));
  o.update("0", u32v(0), Bytes(64, 1));
  o.remove("0", u32v(0));
  o.remove("15", u32v(15));
  o.remove("16 (past the 16 buckets)", u32v(16));
  o.next("null", std::nullopt);
  o.next("3", u32v(3));
  o.pop("0", u32v(0));
}

void hash_family_script(Transcript& t, uint32_t type) {
  bool percpu = type == kMapPercpuHash || type == kMapLruPercpuHash;
  bool lru = type == kMapLruHash || type == kMapLruPercpuHash;
  uint32_t cpus = possible_cpus();
  creates(t, {{"key 0", M(type, 0, 8, 4)},
              {"value 0", M(type, 4, 0, 4)},
              {"max 0", M(type, 4, 8, 0)},
              {"no_prealloc", M(type, 4, 8, 4, kFNoPrealloc)},
              {"no_common_lru", M(type, 4, 8, 4, kFNoCommonLru)},
              {"numa_node", M(type, 4, 8, 4, kFNumaNode)},
              {"no_common_lru numa_node", M(type, 4, 8, 4, kFNoCommonLru | kFNumaNode)},
              {"mmapable", M(type, 4, 8, 4, kFMmapable)},
              {"zero_seed", M(type, 4, 8, 4, kFZeroSeed)},
              {"rdonly_prog wronly_prog", M(type, 4, 8, 4, kFRdonlyProg | kFWronlyProg)},
              {"value 32768", M(type, 4, 32768, 4)},
              {"value 32769", M(type, 4, 32769, 4)},
              {"map_extra", with_extra(M(type, 4, 8, 4), 1)}});
  if (lru) {
    int fd = t.create("create no_common_lru max 5", M(type, 4, 8, 5, kFNoCommonLru));
    t.step("max_entries after rounding", [&] { return std::to_string(t.b().max_entries(fd)); });
  }
  uint32_t vs = percpu ? 8 * cpus : 8;
  Bytes v1(vs, 0x11), v2(vs, 0x22);
  Ops o{t, t.create("create", M(type, 4, 8, lru ? 64 : 2)), 4, vs};
  o.lookup("1 (missing)", u32v(1));
  o.next("null (empty)", std::nullopt);
  o.update("1", u32v(1), v1);
  o.lookup("1", u32v(1));
  o.update("1 noexist", u32v(1), v2, kNoExist);
  o.update("2 exist", u32v(2), v2, kExist);
  o.update("1 exist", u32v(1), v2, kExist);
  o.update("1 flags 3", u32v(1), v2, 3);
  o.update("1 f_lock", u32v(1), v2, kFLock);
  o.lookup("1", u32v(1));
  o.next("null", std::nullopt);
  o.next("1 (the only key)", u32v(1));
  o.next("7 (missing: the first key)", u32v(7));
  if (!lru) {
    o.update("2", u32v(2), v1);
    o.update("3 (full)", u32v(3), v1);
    o.update("2 (replace when full)", u32v(2), v2);
    o.remove("2", u32v(2));
  }
  o.pop("1", u32v(1));
  o.pop("1 again", u32v(1));
  o.remove("1", u32v(1));
}

void lpm_script(Transcript& t) {
  creates(t, {{"without no_prealloc", M(kMapLpmTrie, 8, 4, 4)},
              {"key 4", M(kMapLpmTrie, 4, 4, 4, kFNoPrealloc)},
              {"key 5", M(kMapLpmTrie, 5, 4, 4, kFNoPrealloc)},
              {"key 260", M(kMapLpmTrie, 260, 4, 4, kFNoPrealloc)},
              {"key 261", M(kMapLpmTrie, 261, 4, 4, kFNoPrealloc)},
              {"value 0", M(kMapLpmTrie, 8, 0, 4, kFNoPrealloc)},
              {"max 0", M(kMapLpmTrie, 8, 4, 0, kFNoPrealloc)},
              {"zero_seed", M(kMapLpmTrie, 8, 4, 4, kFNoPrealloc | kFZeroSeed)},
              {"mmapable", M(kMapLpmTrie, 8, 4, 4, kFNoPrealloc | kFMmapable)}});
  auto key = [](uint32_t plen, uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return cat(u32v(plen), Bytes{a, b, c, d}); };
  Ops o{t, t.create("create", M(kMapLpmTrie, 8, 4, 2, kFNoPrealloc)), 8, 4};
  o.update("10.1.2.0/24", key(24, 10, 1, 2, 0), u32v(1));
  o.update("10.1.0.0/16", key(16, 10, 1, 0, 0), u32v(2));
  o.lookup("10.1.2.3/32", key(32, 10, 1, 2, 3));
  o.lookup("10.1.9.9/32", key(32, 10, 1, 9, 9));
  o.lookup("10.1.2.3/20", key(20, 10, 1, 2, 3));
  o.lookup("11.0.0.0/32", key(32, 11, 0, 0, 0));
  o.update("/33", key(33, 10, 0, 0, 0), u32v(3));
  o.update("10.1.2.0/24 noexist", key(24, 10, 1, 2, 0), u32v(3), kNoExist);
  o.update("10.1.2.9/24 (the same prefix) exist", key(24, 10, 1, 2, 9), u32v(4), kExist);
  o.update("10.2.0.0/16 exist", key(16, 10, 2, 0, 0), u32v(3), kExist);
  o.update("10.2.0.0/16 (full)", key(16, 10, 2, 0, 0), u32v(3));
  o.update("flags 3", key(16, 10, 2, 0, 0), u32v(3), 3);
  o.lookup("10.1.2.3/32 (replaced)", key(32, 10, 1, 2, 3));
  o.remove("10.1.2.0/24", key(24, 10, 1, 2, 0));
  o.remove("10.1.2.0/24 again", key(24, 10, 1, 2, 0));
  o.remove("10.1.0.0/17", key(17, 10, 1, 0, 0));
  o.lookup("10.1.2.3/32 (now the /16)", key(32, 10, 1, 2, 3));
}

void map_of_maps_script(Transcript& t, uint32_t type) {
  int inner = t.create("create inner array", M(kMapArray, 4, 4, 2));
  int other_size = t.create("create array of another size", M(kMapArray, 4, 4, 3));
  int hash = t.create("create hash", M(kMapHash, 4, 4, 2));
  int btf = -1;
  t.step("btf load", [&] {
    btf = t.b().btf_load(map_btf());
    return ok();
  });
  int ringbuf = t.create("create ringbuf", M(kMapRingbuf, 0, 0, 4096));
  creates(t, {{"inner bad fd", with_inner(M(type, 4, 4, 2), 9999)},
              {"inner btf fd", with_inner(M(type, 4, 4, 2), btf)},
              {"value 8", with_inner(M(type, 4, 8, 2), inner)},
              {"inner ringbuf", with_inner(M(type, 4, 4, 2), ringbuf)},
              {"inner hash", with_inner(M(type, 4, 4, 2), hash)}});
  int outer = t.create("create", with_inner(M(type, 4, 4, 2), inner));
  t.create("create with a map of maps as inner", with_inner(M(type, 4, 4, 2), outer));
  auto fd = [](int f) { return u32v(static_cast<uint32_t>(f)); };
  Ops o{t, outer, 4, 4};
  o.lookup("0 (empty)", u32v(0));
  o.update("0 inner", u32v(0), fd(inner));
  t.step("lookup 0 gives the inner map's id", [&] {
    return load_le32(t.b().lookup(outer, u32v(0), {}, 4).data()) == t.b().map_id(inner) ? std::string("ok same id")
                                                                                        : std::string("other id");
  });
  o.update("1 array of another size", u32v(1), fd(other_size));
  o.update("1 hash", u32v(1), fd(hash));
  o.update("1 btf fd", u32v(1), fd(btf));
  o.update("1 bad fd", u32v(1), fd(9999));
  o.update("0 noexist", u32v(0), fd(inner), kNoExist);
  o.next("null", std::nullopt);
  o.pop("0", u32v(0));
  o.remove("0", u32v(0));
  o.remove("0 again", u32v(0));
  o.lookup("0 after delete", u32v(0));
}

void queue_stack_script(Transcript& t, uint32_t type) {
  creates(t, {{"key 4", M(type, 4, 8, 2)},
              {"value 0", M(type, 0, 0, 2)},
              {"max 0", M(type, 0, 8, 0)},
              {"no_prealloc", M(type, 0, 8, 2, kFNoPrealloc)},
              {"rdonly_prog", M(type, 0, 8, 2, kFRdonlyProg)},
              {"zero_seed", M(type, 0, 8, 2, kFZeroSeed)}});
  Ops o{t, t.create("create", M(type, 0, 8, 2)), 0, 8};
  o.lookup("empty", {});
  o.pop("empty", {});
  o.update("a", {}, Bytes(8, 0xa));
  o.update("b", {}, Bytes(8, 0xb));
  o.update("c (full)", {}, Bytes(8, 0xc));
  o.update("c exist (replaces the oldest)", {}, Bytes(8, 0xc), kExist);
  o.update("noexist", {}, Bytes(8, 0xd), kNoExist);
  o.update("flags 4", {}, Bytes(8, 0xd), 4);
  o.lookup("peek", {});
  o.remove("", {});
  o.next("null", std::nullopt);
  o.pop("with f_lock", {}, kFLock);
  o.pop("1", {});
  o.pop("2", {});
  o.pop("3 (empty)", {});
}

void bloom_script(Transcript& t) {
  creates(t, {{"key 4", M(kMapBloomFilter, 4, 4, 16)},
              {"value 0", M(kMapBloomFilter, 0, 0, 16)},
              {"max 0", M(kMapBloomFilter, 0, 4, 0)},
              {"nr_hashes 15", with_extra(M(kMapBloomFilter, 0, 4, 16), 15)},
              {"map_extra 16", with_extra(M(kMapBloomFilter, 0, 4, 16), 16)},
              {"no_prealloc", M(kMapBloomFilter, 0, 4, 16, kFNoPrealloc)},
              {"zero_seed", M(kMapBloomFilter, 0, 4, 16, kFZeroSeed)},
              {"array with map_extra", with_extra(M(kMapArray, 4, 4, 1), 3)}});
  Ops o{t, t.create("create", with_extra(M(kMapBloomFilter, 0, 4, 1000), 3)), 0, 4};
  o.test_value("1 (absent)", u32v(1));
  o.update("1", {}, u32v(1));
  o.test_value("1", u32v(1));
  o.test_value("2 (absent)", u32v(2));
  o.update("noexist", {}, u32v(2), kNoExist);
  o.update("exist", {}, u32v(2), kExist);
  o.remove("", {});
  o.next("null", std::nullopt);
  o.pop("", {});
}

void local_storage_script(Transcript& t, uint32_t type) {
  int btf = -1;
  t.step("btf load", [&] {
    btf = t.b().btf_load(map_btf());
    return ok();
  });
  auto ls = [&](uint32_t key, uint32_t value, uint32_t max, uint32_t flags, uint32_t key_id, uint32_t value_id) {
    return with_btf(M(type, key, value, max, flags), btf, key_id, value_id);
  };
  creates(t, {{"without no_prealloc", ls(4, 4, 0, 0, kBtfInt, kBtfInt)},
              {"max 1", ls(4, 4, 1, kFNoPrealloc, kBtfInt, kBtfInt)},
              {"key 8", ls(8, 4, 0, kFNoPrealloc, kBtfU64, kBtfInt)},
              {"value 0", ls(4, 0, 0, kFNoPrealloc, kBtfInt, kBtfInt)},
              {"no btf", M(type, 4, 4, 0, kFNoPrealloc)},
              {"btf value only", ls(4, 4, 0, kFNoPrealloc, 0, kBtfInt)},
              {"btf value type of 8 bytes", ls(4, 4, 0, kFNoPrealloc, kBtfInt, kBtfU64)},
              {"btf key type a struct", ls(4, 8, 0, kFNoPrealloc, kBtfLpmKey, kBtfU64)},
              {"btf key type missing", ls(4, 4, 0, kFNoPrealloc, 99, kBtfInt)},
              {"btf fd bad", with_btf(M(type, 4, 4, 0, kFNoPrealloc), 9999, kBtfInt, kBtfInt)},
              {"value 65407", ls(4, 65407, 0, kFNoPrealloc, kBtfInt, kBtfInt)},
              {"value 65408", ls(4, 65408, 0, kFNoPrealloc, kBtfInt, kBtfInt)},
              {"clone", ls(4, 4, 0, kFNoPrealloc | kFClone, kBtfInt, kBtfInt)},
              {"rdonly", ls(4, 4, 0, kFNoPrealloc | kFRdonly, kBtfInt, kBtfInt)}});
  int fd = t.create("create", ls(4, 8, 0, kFNoPrealloc, kBtfInt, kBtfU64));
  int other = t.create("create another map (its fd as a key)", M(kMapArray, 4, 4, 1));
  Ops o{t, fd, 4, 8};
  Bytes key = u32v(static_cast<uint32_t>(other));
  o.lookup("map fd", key);
  o.update("map fd exist", key, u64v(7), kExist);
  o.update("map fd", key, u64v(7));
  o.update("map fd noexist", key, u64v(8), kNoExist);
  o.update("map fd flags 3", key, u64v(8), 3);
  o.lookup("map fd", key);
  o.lookup("the storage map's own fd", u32v(static_cast<uint32_t>(fd)));
  o.lookup("bad fd", u32v(9999));
  o.update("bad fd", u32v(9999), u64v(7));
  o.next("null", std::nullopt);
  o.remove("map fd", key);
  o.remove("map fd again", key);
  o.remove("bad fd", u32v(9999));
}

void cgroup_storage_script(Transcript& t, uint32_t type) {
  creates(t, {{"key 4", M(type, 4, 8, 0)},
              {"value 0", M(type, 16, 0, 0)},
              {"max 1", M(type, 16, 8, 1)},
              {"value 65407", M(type, 16, 65407, 0)},
              {"value 65408", M(type, 16, 65408, 0)},
              {"value 32768", M(type, 16, 32768, 0)},
              {"value 32769", M(type, 16, 32769, 0)},
              {"no_prealloc", M(type, 16, 8, 0, kFNoPrealloc)},
              {"key 8", M(type, 8, 8, 0)}});
  uint32_t vs = type == kMapPercpuCgroupStorage ? 8 * possible_cpus() : 8;
  Ops o{t, t.create("create", M(type, 16, 8, 0)), 16, vs};
  o.lookup("key", Bytes(16, 0));
  o.update("key", Bytes(16, 0), Bytes(vs, 1));
  o.update("key flags 1", Bytes(16, 0), Bytes(vs, 1), kNoExist);
  o.remove("key", Bytes(16, 0));
  o.next("null", std::nullopt);
}

void ringbuf_script(Transcript& t, uint32_t type) {
  creates(t, {{"4096", M(type, 0, 0, 4096)},
              {"4097", M(type, 0, 0, 4097)},
              {"3 pages", M(type, 0, 0, 3 * 4096)},
              {"2048", M(type, 0, 0, 2048)},
              {"key 4", M(type, 4, 0, 4096)},
              {"value 4", M(type, 0, 4, 4096)},
              {"numa_node", M(type, 0, 0, 4096, kFNumaNode)},
              {"no_prealloc", M(type, 0, 0, 4096, kFNoPrealloc)},
              {"rdonly", M(type, 0, 0, 4096, kFRdonly)}});
  Ops o{t, t.create("create", M(type, 0, 0, 8192)), 0, 0};
  o.lookup("", {});
  o.update("", {}, {});
  o.remove("", {});
  o.next("null", std::nullopt);
  o.pop("", {});
}

void devmap_script(Transcript& t, uint32_t type) {
  creates(t, {{"value 8", M(type, 4, 8, 4)},
              {"value 12", M(type, 4, 12, 4)},
              {"key 8", M(type, 8, 4, 4)},
              {"max 0", M(type, 4, 4, 0)},
              {"no_prealloc", M(type, 4, 4, 4, kFNoPrealloc)},
              {"rdonly", M(type, 4, 4, 4, kFRdonly)},
              {"rdonly_prog", M(type, 4, 4, 4, kFRdonlyProg)}});
  Ops o{t, t.create("create", M(type, 4, 4, 4)), 4, 4};
  o.lookup("0 (empty)", u32v(0));
  o.update("0 lo", u32v(0), u32v(1));
  o.lookup("0", u32v(0));
  o.update("0 lo noexist", u32v(0), u32v(1), kNoExist);
  o.update("1 ifindex 99999", u32v(1), u32v(99999));
  o.update("1 ifindex 0", u32v(1), u32v(0));
  o.update("flags 3", u32v(1), u32v(1), 3);
  if (type == kMapDevmap) o.update("4 (past the end)", u32v(4), u32v(1));
  o.next("null", std::nullopt);
  o.remove("0", u32v(0));
  o.remove("0 again", u32v(0));
  o.remove("9", u32v(9));
  o.lookup("0 after delete", u32v(0));
}

void cpumap_script(Transcript& t) {
  creates(t, {{"value 8", M(kMapCpumap, 4, 8, 4)},
              {"value 12", M(kMapCpumap, 4, 12, 4)},
              {"key 8", M(kMapCpumap, 8, 4, 4)},
              {"max 256 (NR_CPUS)", M(kMapCpumap, 4, 4, 256)},
              {"max 257", M(kMapCpumap, 4, 4, 257)},
              {"rdonly", M(kMapCpumap, 4, 4, 4, kFRdonly)},
              {"numa_node", M(kMapCpumap, 4, 4, 4, kFNumaNode)}});
  uint32_t past_cpus = possible_cpus();
  Ops o{t, t.create("create", M(kMapCpumap, 4, 4, past_cpus + 2)), 4, 4};
  o.lookup("0 (empty)", u32v(0));
  o.update("0 qsize 64", u32v(0), u32v(64));
  o.lookup("0", u32v(0));
  o.update("0 noexist", u32v(0), u32v(64), kNoExist);
  o.update("0 qsize 16385", u32v(0), u32v(16385));
  o.update("the first impossible cpu", u32v(past_cpus), u32v(64));
  o.update("past max_entries", u32v(past_cpus + 2), u32v(64));
  o.update("flags 3", u32v(0), u32v(64), 3);
  o.update("0 qsize 0", u32v(0), u32v(0));
  o.lookup("0 after qsize 0", u32v(0));
  o.remove("0", u32v(0));
  o.remove("past max_entries", u32v(past_cpus + 2));
  o.next("null", std::nullopt);
}

void socket_maps_script(Transcript& t) {
  creates(t, {{"xskmap value 8", M(kMapXskmap, 4, 8, 4)},
              {"xskmap key 8", M(kMapXskmap, 8, 4, 4)},
              {"xskmap no_prealloc", M(kMapXskmap, 4, 4, 4, kFNoPrealloc)},
              {"sockmap value 12", M(kMapSockmap, 4, 12, 4)},
              {"sockmap key 8", M(kMapSockmap, 8, 4, 4)},
              {"sockmap max 0", M(kMapSockmap, 4, 4, 0)},
              {"sockmap rdonly_prog", M(kMapSockmap, 4, 8, 4, kFRdonlyProg)},
              {"sockhash key 0", M(kMapSockhash, 0, 8, 4)},
              {"sockhash key 512", M(kMapSockhash, 512, 8, 4)},
              {"sockhash key 513", M(kMapSockhash, 513, 8, 4)},
              {"sockhash value 2", M(kMapSockhash, 4, 2, 4)},
              {"reuseport value 12", M(kMapReuseportSockarray, 4, 12, 4)},
              {"reuseport key 8", M(kMapReuseportSockarray, 8, 8, 4)},
              {"reuseport mmapable", M(kMapReuseportSockarray, 4, 8, 4, kFMmapable)}});
  int other = t.create("create a map for its fd", M(kMapArray, 4, 4, 1));
  Bytes map_fd = u32v(static_cast<uint32_t>(other));
  Ops x{t, t.create("create xskmap", M(kMapXskmap, 4, 4, 4)), 4, 4};
  x.lookup("0", u32v(0));
  x.update("0 map fd", u32v(0), map_fd);
  x.update("0 bad fd", u32v(0), u32v(9999));
  x.update("9", u32v(9), map_fd);
  x.remove("0", u32v(0));
  x.remove("9", u32v(9));
  x.next("null", std::nullopt);
  for (uint32_t vs : {4u, 8u}) {
    std::string n = " (value " + std::to_string(vs) + ")";
    Bytes fd_value = vs == 8 ? u64v(static_cast<uint64_t>(other)) : map_fd;
    Ops s{t, t.create("create sockmap" + n, M(kMapSockmap, 4, vs, 4)), 4, vs};
    s.lookup("0" + n, u32v(0));
    s.update("0 map fd" + n, u32v(0), fd_value);
    s.update("0 bad fd" + n, u32v(0), vs == 8 ? u64v(9999) : u32v(9999));
    s.update("0 fd 2^32-1" + n, u32v(0), vs == 8 ? u64v(0xffffffffu) : u32v(0xffffffffu));
    s.remove("0" + n, u32v(0));
    s.remove("9" + n, u32v(9));
    s.next("null" + n, std::nullopt);
    Ops h{t, t.create("create sockhash" + n, M(kMapSockhash, 4, vs, 4)), 4, vs};
    h.lookup("0" + n, u32v(0));
    h.update("0 map fd" + n, u32v(0), fd_value);
    h.remove("0" + n, u32v(0));
    h.next("null" + n, std::nullopt);
    Ops r{t, t.create("create reuseport array" + n, M(kMapReuseportSockarray, 4, vs, 4)), 4, vs};
    r.lookup("0" + n, u32v(0));
    r.update("0 map fd" + n, u32v(0), fd_value);
    r.update("9 map fd" + n, u32v(9), fd_value);
    r.remove("0" + n, u32v(0));
    r.remove("9" + n, u32v(9));
    r.next("null" + n, std::nullopt);
  }
}

void arena_script(Transcript& t) {
  creates(t, {{"without mmapable", M(kMapArena, 0, 0, 10)},
              {"key 4", M(kMapArena, 4, 0, 10, kFMmapable)},
              {"value 4", M(kMapArena, 0, 4, 10, kFMmapable)},
              {"max 0", M(kMapArena, 0, 0, 0, kFMmapable)},
              {"no_prealloc", M(kMapArena, 0, 0, 10, kFMmapable | kFNoPrealloc)},
              {"map_extra unaligned", with_extra(M(kMapArena, 0, 0, 10, kFMmapable), 123)},
              {"4 GiB", M(kMapArena, 0, 0, 1u << 20, kFMmapable)},
              {"4 GiB + 1 page", M(kMapArena, 0, 0, (1u << 20) + 1, kFMmapable)},
              {"across 4 GiB", with_extra(M(kMapArena, 0, 0, 2, kFMmapable), 0xfffff000)}});
  Ops o{t, t.create("create", M(kMapArena, 0, 0, 10, kFMmapable | kFSegvOnFault)), 0, 0};
  o.lookup("", {});
  o.update("", {}, {});
  o.remove("", {});
  o.next("null", std::nullopt);
}

void common_script(Transcript& t) {
  int btf = -1;
  t.step("btf load", [&] {
    btf = t.b().btf_load(map_btf());
    return ok();
  });
  creates(t, {{"type 0", M(0, 4, 4, 1)},
              {"type 34", M(34, 4, 4, 1)},
              {"struct_ops without a vmlinux type", M(kMapStructOps, 4, 4, 1)},
              {"hash with btf_vmlinux_value_type_id",
               [] {
                 MapCreateAttr a = M(kMapHash, 4, 4, 1);
                 a.btf_vmlinux_value_type_id = 1;
                 return a;
               }()},
              {"array btf int/int", with_btf(M(kMapArray, 4, 4, 1), btf, kBtfInt, kBtfInt)},
              {"array btf key only", with_btf(M(kMapArray, 4, 4, 1), btf, kBtfInt, 0)},
              {"array btf u64 key", with_btf(M(kMapArray, 4, 8, 1), btf, kBtfU64, kBtfU64)},
              {"array btf keyless int value", with_btf(M(kMapArray, 4, 4, 1), btf, 0, kBtfInt)},
              {"array btf value size differs", with_btf(M(kMapArray, 4, 4, 1), btf, kBtfInt, kBtfU64)},
              {"array btf bad fd", with_btf(M(kMapArray, 4, 4, 1), 9999, kBtfInt, kBtfInt)},
              {"hash btf int/u64", with_btf(M(kMapHash, 4, 8, 1), btf, kBtfInt, kBtfU64)},
              {"hash btf keyless", with_btf(M(kMapHash, 4, 8, 1), btf, 0, kBtfU64)},
              {"lpm btf struct key", with_btf(M(kMapLpmTrie, 8, 8, 1, kFNoPrealloc), btf, kBtfLpmKey, kBtfU64)},
              {"lpm btf u64 key", with_btf(M(kMapLpmTrie, 8, 8, 1, kFNoPrealloc), btf, kBtfU64, kBtfU64)},
              {"bloom btf keyless", with_btf(M(kMapBloomFilter, 0, 4, 8), btf, 0, kBtfInt)}});
}

struct Named {
  const char* name;
  Script script;
};
void PrintTo(const Named& named, std::ostream* os) { *os << named.name; }

const std::vector<Named>& scripts() {
  static const std::vector<Named> all = {
      {"PERF_EVENT_ARRAY", [](Transcript& t) { fd_array_script(t, kMapPerfEventArray); }},
      {"CGROUP_ARRAY", [](Transcript& t) { fd_array_script(t, kMapCgroupArray); }},
      {"STACK_TRACE", stack_trace_script},
      {"HASH", [](Transcript& t) { hash_family_script(t, kMapHash); }},
      {"PERCPU_HASH", [](Transcript& t) { hash_family_script(t, kMapPercpuHash); }},
      {"LRU_HASH", [](Transcript& t) { hash_family_script(t, kMapLruHash); }},
      {"LRU_PERCPU_HASH", [](Transcript& t) { hash_family_script(t, kMapLruPercpuHash); }},
      {"LPM_TRIE", lpm_script},
      {"ARRAY_OF_MAPS", [](Transcript& t) { map_of_maps_script(t, kMapArrayOfMaps); }},
      {"HASH_OF_MAPS", [](Transcript& t) { map_of_maps_script(t, kMapHashOfMaps); }},
      {"QUEUE", [](Transcript& t) { queue_stack_script(t, kMapQueue); }},
      {"STACK", [](Transcript& t) { queue_stack_script(t, kMapStack); }},
      {"BLOOM_FILTER", bloom_script},
      {"SK_STORAGE", [](Transcript& t) { local_storage_script(t, kMapSkStorage); }},
      {"INODE_STORAGE", [](Transcript& t) { local_storage_script(t, kMapInodeStorage); }},
      {"TASK_STORAGE", [](Transcript& t) { local_storage_script(t, kMapTaskStorage); }},
      {"CGRP_STORAGE", [](Transcript& t) { local_storage_script(t, kMapCgrpStorage); }},
      {"CGROUP_STORAGE", [](Transcript& t) { cgroup_storage_script(t, kMapCgroupStorage); }},
      {"PERCPU_CGROUP_STORAGE", [](Transcript& t) { cgroup_storage_script(t, kMapPercpuCgroupStorage); }},
      {"RINGBUF", [](Transcript& t) { ringbuf_script(t, kMapRingbuf); }},
      {"USER_RINGBUF", [](Transcript& t) { ringbuf_script(t, kMapUserRingbuf); }},
      {"DEVMAP", [](Transcript& t) { devmap_script(t, kMapDevmap); }},
      {"DEVMAP_HASH", [](Transcript& t) { devmap_script(t, kMapDevmapHash); }},
      {"CPUMAP", cpumap_script},
      {"XSKMAP_SOCKMAP_SOCKHASH_REUSEPORT", socket_maps_script},
      {"ARENA", arena_script},
      {"COMMON_AND_BTF", common_script},
  };
  return all;
}

std::vector<std::string> run(Backend& backend, const Script& script) {
  Transcript t(backend);
  script(t);
  return t.lines();
}

class KmodelMapsDifferential : public ::testing::TestWithParam<Named> {};

// What keeps a script from running on this kernel: "" when nothing does.
std::string kernel_refuses(const std::string& name) {
  if (name != "ARENA") return "";
  try {
    RealBackend probe;
    probe.create(M(kMapArena, 0, 0, 1, kFMmapable));
  } catch (const Error& e) {
    // Measured on 6.18.44-fc: every ARENA create is EPERM, valid or not,
    // as root with CAP_BPF and CAP_SYS_ADMIN; the model has no such refusal.
    return std::string("the running kernel refuses a valid ARENA map: ") + e.err_name();
  }
  return "";
}

TEST_P(KmodelMapsDifferential, SameErrnosAsTheRunningKernel) {
  SKIP_UNLESS(test::missing_bpf());
  SKIP_UNLESS(kernel_refuses(GetParam().name));
  g_cpus = host_possible_cpus();
  RealBackend real;
  ModelBackend model;
  auto kernel_lines = run(real, GetParam().script);
  auto model_lines = run(model, GetParam().script);
  ASSERT_EQ(kernel_lines.size(), model_lines.size());
  size_t equal = 0;
  for (size_t i = 0; i < kernel_lines.size(); ++i) {
    EXPECT_EQ(model_lines[i], kernel_lines[i]) << GetParam().name << " step " << i << " (model vs kernel)";
    equal += model_lines[i] == kernel_lines[i];
  }
  std::cout << "[ maps     ] " << GetParam().name << ": " << equal << " of " << kernel_lines.size()
            << " steps equal on the running kernel\n";
  if (std::getenv("BPFSIG_KMODEL_TRANSCRIPT"))  // what the kernel answered (the pinned file's format)
    for (const auto& line : kernel_lines) std::cout << "kernel " << GetParam().name << "|" << line << "\n";
}

// Without root: the model's transcripts against the running kernel's answers
// as recorded on 6.18.44 (2 CPUs), map_transcripts_6_18.inc. ARENA's lines
// there come from 6.18's source (arena_map_alloc), as that kernel refused
// every ARENA map (see kernel_refuses).
class KmodelMaps : public ::testing::TestWithParam<Named> {};

const std::map<std::string, std::vector<std::string>>& pinned() {
  static const std::map<std::string, std::vector<std::string>> lines = [] {
    std::map<std::string, std::vector<std::string>> out;
    static const char* const kPinned[] = {
#include "kmodel/map_transcripts_6_18.inc"
    };
    for (const char* entry : kPinned) {
      std::string line(entry);
      size_t bar = line.find('|');
      out[line.substr(0, bar)].push_back(line.substr(bar + 1));
    }
    return out;
  }();
  return lines;
}

TEST_P(KmodelMaps, ModelAnswersAsRecordedOnTheKernel) {
  g_cpus = 2;
  ModelBackend model;
  auto model_lines = run(model, GetParam().script);
  if (std::getenv("BPFSIG_KMODEL_TRANSCRIPT"))
    for (const auto& line : model_lines) std::cout << "model " << GetParam().name << "|" << line << "\n";
  auto it = pinned().find(GetParam().name);
  ASSERT_NE(it, pinned().end()) << "no pinned transcript for " << GetParam().name;
  ASSERT_EQ(model_lines.size(), it->second.size());
  for (size_t i = 0; i < model_lines.size(); ++i) EXPECT_EQ(model_lines[i], it->second[i]) << GetParam().name << " step " << i;
}

INSTANTIATE_TEST_SUITE_P(EveryMapType, KmodelMaps, ::testing::ValuesIn(scripts()),
                         [](const ::testing::TestParamInfo<Named>& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(EveryMapType, KmodelMapsDifferential, ::testing::ValuesIn(scripts()),
                         [](const ::testing::TestParamInfo<Named>& info) { return std::string(info.param.name); });

}  // namespace
