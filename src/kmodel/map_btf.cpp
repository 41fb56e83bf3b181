// SPDX-License-Identifier: Apache-2.0
// map_check_btf() of BPF_MAP_CREATE (kernel/bpf/syscall.c) and the types'
// map_check_btf ops (arraymap.c, lpm_trie.c, bloom_filter.c,
// bpf_local_storage.c, local_storage.c): the map's BTF key and value types
// must exist and have the map's sizes. The blob was checked by BTF_LOAD's
// header rules only; libbpf parses the types here (an unparsable blob: EINVAL).
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <memory>
#include <string>

#include "kmodel/objects.h"

namespace bpfsig::kmodel {
namespace {

constexpr const char* kCreate = "BPF_MAP_CREATE";

struct BtfDeleter {
  void operator()(struct btf* btf) const { btf__free(btf); }
};

// btf_type_id_size(): the type behind modifiers and typedefs, and its size;
// null when the id does not name a sized type.
const struct btf_type* sized_type(const struct btf* btf, uint32_t id, uint32_t* size) {
  if (id == 0) return nullptr;
  long resolved_size = btf__resolve_size(btf, id);
  int resolved = btf__resolve_type(btf, id);
  if (resolved_size < 0 || resolved <= 0) return nullptr;
  *size = static_cast<uint32_t>(resolved_size);
  return btf__type_by_id(btf, static_cast<uint32_t>(resolved));
}

bool is_int_bits(const struct btf_type* t, uint32_t bits) {
  if (!t || btf_kind(t) != BTF_KIND_INT) return false;
  uint32_t info = *reinterpret_cast<const uint32_t*>(t + 1);
  return BTF_INT_BITS(info) == bits && BTF_INT_OFFSET(info) == 0;
}

}  // namespace

void check_map_btf(const Btf& btf_object, const MapCreateAttr& a, bool has_check_btf) {
  std::unique_ptr<struct btf, BtfDeleter> btf(
      btf__new(btf_object.blob().data(), static_cast<uint32_t>(btf_object.blob().size())));
  if (!btf || libbpf_get_error(btf.get())) fail(EINVAL, kCreate, "the map's BTF does not parse");
  const struct btf_type* key = nullptr;
  if (a.btf_key_type_id) {
    uint32_t size = 0;
    key = sized_type(btf.get(), a.btf_key_type_id, &size);
    if (!key || size != a.key_size) fail(EINVAL, kCreate, "btf_key_type_id does not name a type of key_size bytes");
  } else if (!has_check_btf) {
    fail(EINVAL, kCreate, map_type_enum_name(a.type) + " needs a BTF key type with its value type");
  }
  uint32_t value_size = 0;
  const struct btf_type* value = sized_type(btf.get(), a.btf_value_type_id, &value_size);
  if (!value || value_size != a.value_size)
    fail(EINVAL, kCreate, "btf_value_type_id does not name a type of value_size bytes");
  switch (a.type) {
    case kMapArray:
    case kMapPercpuArray:  // array_map_check_btf: a u32 key, or keyless .data/.bss/.rodata
      if (!key) {
        if (a.type != kMapArray || a.max_entries != 1 || btf_kind(value) != BTF_KIND_DATASEC)
          fail(EINVAL, kCreate, "a keyless array BTF is for a one-entry ARRAY of a DATASEC");
      } else if (!is_int_bits(key, 32)) {
        fail(EINVAL, kCreate, "an array's BTF key must be a 32-bit integer");
      }
      return;
    case kMapSkStorage:
    case kMapInodeStorage:
    case kMapTaskStorage:
    case kMapCgrpStorage:
      if (!is_int_bits(key, 32)) fail(EINVAL, kCreate, "local storage's BTF key must be a 32-bit integer");
      return;
    case kMapLpmTrie:
      if (key && btf_kind(key) != BTF_KIND_STRUCT)
        fail(EINVAL, kCreate, "an LPM trie's BTF key must be a struct (bpf_lpm_trie_key_u8 embedded)");
      return;
    case kMapBloomFilter:
      if (key) fail(EINVAL, kCreate, "a bloom filter is keyless: btf_key_type_id must be 0");
      return;
    case kMapCgroupStorage:
    case kMapPercpuCgroupStorage:
      if (a.key_size == 8 ? !is_int_bits(key, 64) : (!key || btf_kind(key) != BTF_KIND_STRUCT || btf_vlen(key) != 2))
        fail(EINVAL, kCreate, "cgroup storage's BTF key must be a u64 or struct bpf_cgroup_storage_key");
      return;
    default: return;
  }
}

}  // namespace bpfsig::kmodel
