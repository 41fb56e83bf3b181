// SPDX-License-Identifier: Apache-2.0
// What a gen_loader loader takes from its signed metadata blob and what it
// takes from its unsigned ctx, read from its instructions.
#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <optional>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "skel/internal.h"

namespace bpfsig::skel {

namespace {

constexpr int32_t kHelperSysBpf = 166;  // BPF_FUNC_sys_bpf
constexpr int64_t kCmdMapCreate = 0;
constexpr int64_t kCmdMapUpdateElem = 2;
constexpr uint8_t kCtxReg = 6;     // gen_loader: r6 = r1 (the ctx) for the whole loader
constexpr uint8_t kResultReg = 7;  // gen_loader: r7 = the last bpf_sys_bpf result

// union bpf_attr offsets gen_loader fills.
constexpr size_t kAttrMapType = 0, kAttrKeySize = 4, kAttrValueSize = 8, kAttrMaxEntries = 12;
constexpr size_t kAttrMapCreateEnd = 16;
constexpr size_t kAttrUpdateMapFd = 0, kAttrUpdateValue = 16;

// A bpf_sys_bpf call: its command and where its attr is in the blob.
struct SysBpfCall {
  int64_t cmd = -1;
  size_t attr = 0;
};

// Follows the loader's instructions in order (gen_loader's helpers are
// straight-line code: ld_imm64 of blob offsets, then a store or a call) and
// records what each register holds when that is a blob offset, an immediate,
// or a value read from the blob.
class BlobTracker {
 public:
  explicit BlobTracker(const std::vector<isa::Insn>& prog) : prog_(prog) {}

  void run() {
    for (size_t pc = 0; pc < prog_.size(); ++pc) {
      const isa::Insn& i = prog_[pc];
      if (isa::is_ld_imm64(i) && pc + 1 < prog_.size()) {
        // BPF_PSEUDO_MAP_IDX_VALUE with map index 0 (the metadata map): the
        // second slot's imm is the offset into the blob. (src is the pseudo
        // kind here, not a register.)
        if (i.dst < kRegs) {
          clear(i.dst);
          if (i.src == isa::kPseudoMapIdxValue && i.imm == 0) blob_[i.dst] = static_cast<uint32_t>(prog_[pc + 1].imm);
        }
        ++pc;
        continue;
      }
      // A register past r10 is not one (the verifier refuses it): such an
      // instruction tells nothing and must not index the register files.
      if (i.dst < kRegs && i.src < kRegs) step(i);
    }
  }

  std::vector<SysBpfCall> calls;
  std::map<size_t, size_t> pointer_stored;  // blob offset -> the blob offset stored there (emit_rel_store)
  std::map<size_t, size_t> copied_from;     // blob offset -> the blob offset copied there (move_blob2blob)
  std::map<size_t, size_t> fd_slot_of_call;  // index into calls (a MAP_CREATE) -> blob slot its fd went to

 private:
  void clear(uint8_t reg) {
    blob_[reg].reset();
    imm_[reg].reset();
    loaded_[reg].reset();
  }

  void step(const isa::Insn& i) {
    const uint8_t cls = isa::insn_class(i);
    const uint8_t mode = i.code & 0xe0;
    if (cls == isa::kClassAlu64 && (i.code & 0xf8) == (isa::kAluMov | isa::kSrcK)) {
      clear(i.dst);
      imm_[i.dst] = i.imm;
    } else if (cls == isa::kClassAlu64 && (i.code & 0xf8) == (isa::kAluMov | isa::kSrcX)) {
      const auto blob = blob_[i.src];
      const auto imm = imm_[i.src];
      clear(i.dst);
      blob_[i.dst] = blob;
      imm_[i.dst] = imm;
    } else if (cls == isa::kClassLdx && mode == isa::kModeMem) {
      const auto base = blob_[i.src];
      clear(i.dst);
      if (base) loaded_[i.dst] = *base + static_cast<size_t>(i.off);
    } else if (cls == isa::kClassStx && mode == isa::kModeMem) {
      store(i);
    } else if (cls == isa::kClassJmp && (i.code & 0xf0) == isa::kJmpCall && i.src == 0) {
      call(i);
    } else if (cls == isa::kClassAlu || cls == isa::kClassAlu64 || cls == isa::kClassLd || cls == isa::kClassLdx) {
      clear(i.dst);
    }
  }

  void store(const isa::Insn& i) {
    if (!blob_[i.dst]) return;
    const size_t target = *blob_[i.dst] + static_cast<size_t>(i.off);
    if (blob_[i.src]) pointer_stored[target] = *blob_[i.src];
    if (loaded_[i.src]) copied_from[target] = *loaded_[i.src];
    if (i.src == kResultReg && last_call_ && calls[*last_call_].cmd == kCmdMapCreate &&
        !fd_slot_of_call.count(*last_call_))
      fd_slot_of_call[*last_call_] = target;
  }

  void call(const isa::Insn& i) {
    if (i.imm == kHelperSysBpf && imm_[1] && blob_[2]) {
      calls.push_back(SysBpfCall{*imm_[1], *blob_[2]});
      last_call_ = calls.size() - 1;
    }
    for (uint8_t r = 0; r <= 5; ++r) clear(r);
  }

  static constexpr uint8_t kRegs = 11;
  const std::vector<isa::Insn>& prog_;
  std::array<std::optional<size_t>, kRegs> blob_{}, loaded_{};
  std::array<std::optional<int64_t>, kRegs> imm_{};
  std::optional<size_t> last_call_;
};

Error bad_metadata(const std::string& why) {
  return Error(EBADMSG, "loader_metadata", "the loader's metadata does not have gen_loader's shape: " + why);
}

uint32_t blob_u32(const Bytes& data, size_t offset, const std::string& what) {
  if (offset > data.size() || data.size() - offset < 4)
    throw bad_metadata(what + " at blob offset " + std::to_string(offset) + " is past the blob (" +
                       std::to_string(data.size()) + " bytes)");
  return load_le32(data.data() + offset);
}

// The MAP_CREATE calls whose fd the loader keeps in its fd array (the maps of
// the object, in map index order; inner maps of map-in-maps are kept on the
// stack instead), with the fd slot of each.
std::vector<std::pair<SysBpfCall, size_t>> object_map_creates(const BlobTracker& t) {
  std::vector<std::pair<SysBpfCall, size_t>> out;
  for (size_t c = 0; c < t.calls.size(); ++c)
    if (t.calls[c].cmd == kCmdMapCreate && t.fd_slot_of_call.count(c))
      out.emplace_back(t.calls[c], t.fd_slot_of_call.at(c));
  return out;
}

SignedMap describe_create(const SignedLoader& loader, size_t index, size_t attr) {
  SignedMap m;
  m.name = loader.map_names[index];
  m.create_attr_offset = attr;
  const std::string what = "map '" + m.name + "' BPF_MAP_CREATE attr";
  m.type = blob_u32(loader.data, attr + kAttrMapType, what);
  m.key_size = blob_u32(loader.data, attr + kAttrKeySize, what);
  m.value_size = blob_u32(loader.data, attr + kAttrValueSize, what);
  m.max_entries = blob_u32(loader.data, attr + kAttrMaxEntries, what);
  blob_u32(loader.data, attr + kAttrMapCreateEnd - 4, what);
  return m;
}

// The first BPF_MAP_UPDATE_ELEM of each map (populate_internal_map: key 0, the
// section's initial value): its value, value_size bytes of the blob.
void attach_initial_values(const SignedLoader& loader, const BlobTracker& t, const std::map<size_t, size_t>& map_of_slot,
                           std::vector<SignedMap>& maps) {
  for (const SysBpfCall& c : t.calls) {
    if (c.cmd != kCmdMapUpdateElem) continue;
    auto fd_from = t.copied_from.find(c.attr + kAttrUpdateMapFd);
    auto value = t.pointer_stored.find(c.attr + kAttrUpdateValue);
    if (fd_from == t.copied_from.end() || value == t.pointer_stored.end()) continue;
    auto index = map_of_slot.find(fd_from->second);
    if (index == map_of_slot.end()) continue;
    SignedMap& m = maps[index->second];
    if (m.has_initial_value) continue;
    if (value->second > loader.data.size() || loader.data.size() - value->second < m.value_size)
      throw bad_metadata("map '" + m.name + "': initial value at blob offset " + std::to_string(value->second) +
                         " (" + std::to_string(m.value_size) + " bytes) is past the blob");
    m.has_initial_value = true;
    m.initial_value_offset = value->second;
  }
}

std::string hex_byte(uint8_t b) { return "0x" + to_hex(ByteView(&b, 1)); }

}  // namespace

std::vector<SignedMap> signed_maps(const SignedLoader& loader) {
  std::vector<SignedMap> maps = signed_map_layout(loader);
  for (SignedMap& m : maps)
    if (m.has_initial_value) {
      const ByteView value = ByteView(loader.data).subspan(m.initial_value_offset, m.value_size);
      m.initial_value.assign(value.begin(), value.end());
    }
  return maps;
}

std::vector<SignedMap> signed_map_layout(const SignedLoader& loader) {
  std::vector<isa::Insn> prog = isa::decode(loader.insns, "loader");
  BlobTracker t(prog);
  t.run();
  const auto creates = object_map_creates(t);
  if (creates.size() != loader.map_names.size())
    throw bad_metadata("the loader creates " + std::to_string(creates.size()) + " maps of its own, the skeleton names " +
                       std::to_string(loader.map_names.size()));
  std::vector<SignedMap> maps;
  std::map<size_t, size_t> map_of_slot;
  for (size_t i = 0; i < creates.size(); ++i) {
    maps.push_back(describe_create(loader, i, creates[i].first.attr));
    map_of_slot[creates[i].second] = i;
  }
  attach_initial_values(loader, t, map_of_slot, maps);
  return maps;
}

std::vector<CtxRead> loader_ctx_overrides(const SignedLoader& loader) {
  std::vector<isa::Insn> prog = isa::decode(loader.insns, "loader");
  std::vector<CtxRead> out;
  const size_t descs_end = kLoaderCtxSize + kMapDescSize * loader.map_names.size();
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const isa::Insn& i = prog[pc];
    if (isa::is_ld_imm64(i)) {
      ++pc;
      continue;
    }
    if (isa::insn_class(i) != isa::kClassLdx || (i.code & 0xe0) != isa::kModeMem || i.src != kCtxReg || i.off < 0)
      continue;
    const size_t off = static_cast<size_t>(i.off);
    if (off < kLoaderCtxSize || off >= descs_end) continue;
    const size_t field = (off - kLoaderCtxSize) % kMapDescSize;
    if (field == kMapDescMaxEntries || field == kMapDescInitialValue)
      out.push_back(CtxRead{pc, (off - kLoaderCtxSize) / kMapDescSize,
                            field == kMapDescMaxEntries ? "max_entries" : "initial_value"});
  }
  return out;
}

void check_header_initial_values(const SignedLoader& loader, const std::string& what) {
  if (loader.header_initial_values.empty()) return;
  const std::vector<SignedMap> maps = signed_maps(loader);
  for (const auto& literal : loader.header_initial_values) {
    auto m = std::find_if(maps.begin(), maps.end(), [&](const SignedMap& s) { return s.name == literal.map; });
    const std::string where = what + ": line " + std::to_string(literal.line) + ": map '" + literal.map + "'";
    if (m == maps.end())
      throw Error(EBADMSG, "header_initial_value", where + ": an initial value for a map the signed loader does not create");
    // A map the loader does not fill starts as value_size zeroes in the
    // kernel. Not materialised: value_size is the input's (a fuzzed header
    // asked for 2 GB here).
    const size_t signed_size = m->has_initial_value ? m->initial_value.size() : m->value_size;
    auto signed_byte = [&](size_t off) -> uint8_t { return m->has_initial_value ? m->initial_value[off] : 0; };
    const size_t common = std::min(signed_size, literal.value.size());
    for (size_t off = 0; off < common; ++off)
      if (signed_byte(off) != literal.value[off])
        throw Error(EBADMSG, "header_initial_value",
                    where + ": initial value differs from the signed metadata at offset " + std::to_string(off) +
                        " (header " + hex_byte(literal.value[off]) + ", signed " + hex_byte(signed_byte(off)) +
                        "): the header was edited after signing");
    if (literal.value.size() != signed_size)
      throw Error(EBADMSG, "header_initial_value",
                  where + ": initial value differs from the signed metadata at offset " + std::to_string(common) +
                      " (header " + std::to_string(literal.value.size()) + " bytes, signed " +
                      std::to_string(signed_size) + "): the header was edited after signing");
  }
}

}  // namespace bpfsig::skel
