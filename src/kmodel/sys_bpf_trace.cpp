// SPDX-License-Identifier: Apache-2.0
// Deep verify's record of a nested bpf() command: every attr field the
// model reads and every run of bytes an attr pointer names, each with the
// provenance the VM's origin tracker gives its bytes (docs/deep-verify.md).
// Only traced runs (ProgRunOptions::trace) come here.
#include <algorithm>
#include <string>

#include "kmodel/objects.h"
#include "kmodel/sys_bpf.h"

namespace bpfsig::kmodel {
namespace {

// A field of union bpf_attr: its byte offset and size (6.18 layout).
struct FieldSpec {
  const char* name;
  size_t offset, size;
};

constexpr FieldSpec kMapCreateFields[] = {
    {"map_type", 0, 4},        {"key_size", 4, 4},          {"value_size", 8, 4},
    {"max_entries", 12, 4},    {"map_flags", 16, 4},        {"inner_map_fd", 20, 4},
    {"map_name", 28, 16},      {"btf_fd", 48, 4},           {"btf_key_type_id", 52, 4},
    {"btf_value_type_id", 56, 4}, {"btf_vmlinux_value_type_id", 60, 4}, {"map_extra", 64, 8},
};
constexpr FieldSpec kMapElemFields[] = {{"map_fd", 0, 4}, {"key", 8, 8}, {"value", 16, 8}, {"flags", 24, 8}};
constexpr FieldSpec kMapFdFields[] = {{"map_fd", 0, 4}};
constexpr FieldSpec kBtfLoadFields[] = {{"btf", 0, 8}, {"btf_size", 16, 4}};
constexpr FieldSpec kProgLoadFields[] = {
    {"prog_type", 0, 4},         {"insn_cnt", 4, 4},       {"insns", 8, 8},
    {"license", 16, 8},          {"prog_flags", 44, 4},    {"prog_name", 48, 16},
    {"expected_attach_type", 68, 4}, {"prog_btf_fd", 72, 4}, {"func_info_cnt", 88, 4},
    {"line_info_cnt", 104, 4},   {"attach_btf_id", 108, 4}, {"attach_btf_obj_fd", 112, 4},
    {"core_relo_cnt", 116, 4},   {"fd_array", 120, 8},     {"core_relos", 128, 8},
    {"core_relo_rec_size", 136, 4}, {"fd_array_cnt", 148, 4},
};

// The fields whose value is an fd of the caller: recorded as the id of the
// object it named.
constexpr const char* kFdFields[] = {"map_fd", "inner_map_fd", "btf_fd", "prog_btf_fd", "attach_btf_obj_fd"};

bool is_metadata_region(const vm::AddressSpace& memory, size_t region, uint32_t metadata_map_id) {
  return region < memory.region_count() && memory.region(region).name == "map_value:" + std::to_string(metadata_map_id);
}

// A single-bit source with its offset: the byte offset of the writing
// instruction, or where the bytes were copied from.
Provenance single_source(uint8_t source, const vm::ByteOrigin& first, uint64_t len) {
  const uint64_t insn_offset = first.writer ? uint64_t{first.writer - 1} * 8 : 0;
  switch (source) {
    case vm::kFromInsns: return Provenance{"insns", insn_offset, len, source};
    case vm::kFromKernel: return Provenance{"kernel", insn_offset, len, source};
    case vm::kFromCtx: return Provenance{"ctx", first.from, len, source};
    case vm::kFromUser: return Provenance{"user", first.from, len, source};
    default: return Provenance{"metadata", first.from, len, source};  // copied from the metadata
  }
}

uint64_t u64_at(ByteView attr, size_t offset, size_t size) {
  return size == 8 ? load_le64(attr.data() + offset) : size == 4 ? load_le32(attr.data() + offset) : 0;
}

}  // namespace

Provenance provenance_of(const vm::HelperContext& ctx, uint64_t addr, uint64_t len, uint32_t metadata_map_id) {
  const vm::OriginTracker& tracker = *ctx.origins();
  if (len == 0) return Provenance{"insns", 0, 0, vm::kFromInsns};
  auto bytes = tracker.bytes(addr, len);
  if (bytes.empty()) return Provenance{"kernel", 0, len, vm::kFromKernel};  // not program memory
  uint8_t sources = 0;
  bool untouched = true;
  for (const vm::ByteOrigin& b : bytes) {
    sources |= b.sources;
    untouched = untouched && b.writer == 0;
  }
  const size_t region = vm::OriginTracker::region_of(addr);
  const uint64_t offset = vm::OriginTracker::offset_of(addr);
  if (untouched) {
    if (region == vm::kCtxRegion) return Provenance{"ctx", offset, len, sources};
    if (is_metadata_region(ctx.memory(), region, metadata_map_id)) return Provenance{"metadata", offset, len, sources};
    if (region < vm::kMaxFrames) return Provenance{"insns", 0, len, sources};  // the zeroes run() put on the stack
    return Provenance{"kernel", offset, len, sources};
  }
  if (std::has_single_bit(sources)) return single_source(sources, bytes[0], len);
  // Several sources: where the first written byte was written.
  auto written = std::find_if(bytes.begin(), bytes.end(), [](const vm::ByteOrigin& b) { return b.writer != 0; });
  uint64_t at = written == bytes.end() ? offset : uint64_t{written->writer - 1} * 8;
  return Provenance{"computed", at, len, sources};
}

TracedCall trace_call(const vm::HelperContext& ctx, const std::string& command, uint32_t cmd, uint64_t attr_addr,
                      ByteView attr, const std::function<uint32_t(int)>& fd_to_id, uint32_t metadata_map_id) {
  TracedCall call;
  call.command = command;
  std::span<const FieldSpec> fields;
  switch (cmd) {
    case 0: fields = kMapCreateFields; break;
    case 2:
    case 3: fields = kMapElemFields; break;
    case 22: fields = kMapFdFields; break;
    case 18: fields = kBtfLoadFields; break;
    case 5: fields = kProgLoadFields; break;
    default: break;
  }
  for (const FieldSpec& f : fields) {
    if (f.offset + f.size > attr.size()) continue;  // beyond what the loader passed: zero, no bytes
    TracedValue v{f.name, u64_at(attr, f.offset, f.size), {}, provenance_of(ctx, attr_addr + f.offset, f.size, metadata_map_id)};
    if (f.size == 16) v.bytes.assign(attr.begin() + static_cast<std::ptrdiff_t>(f.offset),
                                     attr.begin() + static_cast<std::ptrdiff_t>(f.offset + f.size));
    if (std::any_of(std::begin(kFdFields), std::end(kFdFields), [&](const char* n) { return v.name == n; }) && v.value)
      call.referenced_ids[v.name] = fd_to_id(static_cast<int>(static_cast<int32_t>(v.value)));
    call.fields.push_back(std::move(v));
  }
  return call;
}

void trace_data(const vm::HelperContext& ctx, TracedCall& call, const std::string& name, uint64_t addr, uint64_t len,
                uint32_t metadata_map_id) {
  if (addr == 0) return;
  vm::AccessFault fault;
  const uint8_t* p = len ? ctx.memory().translate(addr, len, false, &fault) : nullptr;
  if (len && !p) return;  // the command failed with EFAULT: nothing was read
  TracedValue v{name, addr, p ? Bytes(p, p + len) : Bytes{}, provenance_of(ctx, addr, len, metadata_map_id)};
  call.data.push_back(std::move(v));
}

const TracedValue* TracedCall::field(const std::string& name) const {
  auto it = std::find_if(fields.begin(), fields.end(), [&](const TracedValue& v) { return v.name == name; });
  return it == fields.end() ? nullptr : &*it;
}

const TracedValue* TracedCall::datum(const std::string& name) const {
  auto it = std::find_if(data.begin(), data.end(), [&](const TracedValue& v) { return v.name == name; });
  return it == data.end() ? nullptr : &*it;
}

}  // namespace bpfsig::kmodel
