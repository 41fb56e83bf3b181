// SPDX-License-Identifier: Apache-2.0
// The kernel objects of the model. An fd (or an mmap, or later another
// object) holds a shared_ptr: the object lives while anything holds it.
#pragma once

#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "bpfsig/vm.h"

struct btf;  // libbpf

namespace bpfsig::kmodel {

// The host's vmlinux BTF, parsed with libbpf (host_btf.cpp).
struct Kernel::HostBtf {
  explicit HostBtf(struct ::btf* parsed) : btf(parsed) {}
  ~HostBtf();
  HostBtf(const HostBtf&) = delete;
  HostBtf& operator=(const HostBtf&) = delete;
  struct ::btf* btf;
};

[[noreturn]] void fail(int err, const char* cmd, const std::string& why);

// check_core_relo's bounds on core_relo_rec_size: sizeof(struct
// bpf_core_relo) (MIN_CORE_RELO_SIZE) to MAX_FUNCINFO_REC_SIZE, a multiple of 4.
inline constexpr uint32_t kMinCoreReloSize = 16;
inline constexpr uint32_t kMaxCoreReloSize = 252;
inline bool core_relo_rec_size_ok(uint32_t size) {
  return size >= kMinCoreReloSize && size <= kMaxCoreReloSize && size % 4 == 0;
}

class Object {
 public:
  explicit Object(uint32_t id) : id_(id) {}
  virtual ~Object() = default;
  uint32_t id() const { return id_; }

 protected:
  // Programs get their id only once verified (bpf_prog_alloc_id).
  void assign_id(uint32_t id) { id_ = id; }

 private:
  uint32_t id_;
};

class Btf : public Object {
 public:
  Btf(uint32_t id, Bytes blob) : Object(id), blob_(std::move(blob)) {}
  const Bytes& blob() const { return blob_; }

 private:
  Bytes blob_;
};

// Turns an fd of the calling process into its object (throws EBADF): what
// fd-valued maps (PROG_ARRAY) need to take references.
using FdResolver = std::function<std::shared_ptr<Object>(int fd)>;

// struct bpf_map plus its ops table: the syscall layer (kernel.cpp) checks
// permissions and freezing, the type's ops (maps.cpp) the key and value.
class Map : public Object {
 public:
  Map(uint32_t id, const MapCreateAttr& attr) : Object(id), attr_(attr) {}

  const MapCreateAttr& attr() const { return attr_; }
  uint32_t type() const { return attr_.type; }

  // The bytes the syscall side exchanges as one value (per-CPU: all CPUs).
  virtual size_t syscall_value_size() const { return attr_.value_size; }
  virtual Bytes lookup(ByteView key) = 0;
  // BLOOM_FILTER reads the value the caller passed; everything else ignores it.
  virtual Bytes lookup_value(ByteView key, ByteView /*value_in*/) { return lookup(key); }
  virtual void update(ByteView key, ByteView value, uint64_t flags, const FdResolver& resolve) = 0;
  virtual void remove(ByteView key) = 0;
  // map_get_next_key; nullopt is a NULL key.
  virtual Bytes get_next_key(std::optional<ByteView> key) = 0;
  // map_lookup_and_delete_elem (syscall.c sends only some types here).
  virtual Bytes lookup_and_delete(ByteView key, uint64_t flags);
  // array_map_get_hash; nullopt for types without map_get_hash.
  virtual std::optional<crypto::Digest> content_hash() const { return std::nullopt; }
  // The bytes an mmap() shows (the map's own storage, which a program's
  // map-value pointers address); nullopt when the type has no map_mmap op.
  virtual std::optional<std::span<uint8_t>> mmapable_area() { return std::nullopt; }
  // map_release_uref: called when no fd or mmap of any process refers to the
  // map any more (programs may still hold it through used_maps).
  virtual void release_uref() {}

  bool frozen = false;
  uint32_t writable_mappings = 0;  // bpf_map_write_active()
  crypto::Digest sha{};            // written only by GET_INFO with a hash
  bool sha_computed = false;       // GET_INFO with a hash ran at least once
  std::optional<crypto::Digest> excl_prog_sha;
  // ARRAY_OF_MAPS / HASH_OF_MAPS: what bpf_map_meta_alloc kept of the
  // inner map template (bpf_map_meta_equal compares these).
  std::optional<MapCreateAttr> inner_map_meta;
  // The calling process's fds, set by the syscall layer before each element
  // operation (local storage keys are fds).
  FdResolver caller_fds;

 protected:
  MapCreateAttr attr_;
};

// struct bpf_prog: what the verifier resolved, the LSM state and, for
// SYSCALL programs, the prepared VM program with the memory it addresses.
class Prog : public Object {
 public:
  // A map as an ld_imm64 sees it: the map pointer shows the first 36 bytes
  // of struct bpf_map, refreshed from the map before every run.
  struct MapPointer {
    std::shared_ptr<Map> map;
    std::array<uint8_t, kMapStructPrefix> prefix{};
  };

  Prog(const ProgLoadAttr& attr, bool kernel) : Object(0), attr_(attr), kernel_(kernel) {}
  ~Prog() override;
  void publish_id(uint32_t id) {
    assign_id(id);
    view.id = id;
  }

  const ProgLoadAttr& attr() const { return attr_; }
  bool loaded_by_kernel() const { return kernel_; }

  bool gpl_compatible = false;
  crypto::Digest digest{};
  Bytes loaded_insns;  // the instructions as loaded (CO-RE relocations applied)
  std::vector<std::shared_ptr<Map>> used_maps;  // first-reference order, no duplicates
  // SYSCALL programs only: the memory the program may touch and the program.
  std::unique_ptr<vm::AddressSpace> memory;
  std::vector<std::unique_ptr<MapPointer>> map_pointers;  // stable addresses for memory
  std::optional<vm::Program> program;
  // prog->aux->security and the stack that allocated it (freed on destruction).
  lsm::ProgView view;
  std::shared_ptr<lsm::LsmStack> lsm;

 private:
  ProgLoadAttr attr_;
  bool kernel_;
};

// The struct bpf_map prefix a program reads through a map pointer.
std::array<uint8_t, kMapStructPrefix> struct_prefix(const Map& map);

// Validates attr as map_create() and the type's map_alloc_check/map_alloc do
// (throws), then builds the map.
// resolve turns inner_map_fd and btf_fd into objects (EBADF when not open).
std::shared_ptr<Map> create_map(uint32_t id, const MapCreateAttr& attr, const KernelProfile& profile,
                                const FdResolver& resolve);

// map_check_btf(): the key and value type ids against the map's sizes, and
// the type's own map_check_btf rules (btf.cpp; parses the blob with libbpf).
// has_check_btf: the type has a map_check_btf op (a key id of 0 is allowed).
void check_map_btf(const Btf& btf, const MapCreateAttr& attr, bool has_check_btf);

// bpf_obj_name_cpy()'s rules for a map or program name (throws EINVAL).
void check_obj_name(const std::string& name, const char* cmd, const char* what);

// BPF_BTF_LOAD's header and section checks (btf_parse_hdr, btf_check_sec_info,
// the string-section checks); throws.
void validate_btf(ByteView blob);

}  // namespace bpfsig::kmodel
