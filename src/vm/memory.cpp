// SPDX-License-Identifier: Apache-2.0
// The VM's address space, and the checked access helpers get to it.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bpfsig/error.h"
#include "bpfsig/vm.h"

namespace bpfsig::vm {

namespace {

// Regions beyond this would put tags near kCodeTag and the top of the space.
constexpr size_t kMaxRegions = size_t{1} << 24;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

AddressSpace::AddressSpace() : stack_(kMaxFrames * kStackSize) {
  for (size_t frame = 0; frame < kMaxFrames; ++frame)
    push("stack" + std::to_string(frame), stack_.data() + frame * kStackSize, kStackSize, true);
  push("ctx", nullptr, 0, true);
  persistent_count_ = regions_.size();
}

uint64_t AddressSpace::push(std::string name, uint8_t* data, uint64_t size, bool writable) {
  if (size > kMaxRegionSize || regions_.size() >= kMaxRegions)
    throw Error(E2BIG, "vm_region", "region " + name + " does not fit the VM address space");
  regions_.push_back(Region{std::move(name), data, size, writable});
  return base_of(regions_.size() - 1);
}

uint64_t AddressSpace::add(std::string name, std::span<uint8_t> bytes, bool writable) {
  uint64_t base = push(std::move(name), bytes.data(), bytes.size(), writable);
  persistent_count_ = regions_.size();
  return base;
}

uint64_t AddressSpace::add_read_only(std::string name, std::span<const uint8_t> bytes) {
  // The region is never written through: translate() refuses writes to it.
  return add(std::move(name), std::span<uint8_t>(const_cast<uint8_t*>(bytes.data()), bytes.size()), false);
}

std::string AddressSpace::describe(uint64_t addr) const {
  uint64_t index = (addr >> 32) - kRegionTagBase;
  if (index >= regions_.size()) return hex(addr) + " (no region)";
  const Region& r = regions_[index];
  int64_t offset = static_cast<int64_t>(addr & 0xffffffffu) - static_cast<int64_t>(kRegionCenter);
  return hex(addr) + " (" + r.name + (offset < 0 ? "" : "+") + std::to_string(offset) + ", region of " +
         std::to_string(r.size) + " bytes" + (r.writable ? "" : ", read-only") + ")";
}

void AddressSpace::begin_run(std::span<uint8_t> ctx, size_t stack_size) {
  end_run();
  // Zeroed so a run never sees what an earlier one left (the kernel's
  // verifier refuses reads of uninitialised stack anyway).
  std::memset(stack_.data(), 0, stack_.size());
  for (size_t frame = 0; frame < kMaxFrames; ++frame) regions_[frame].size = stack_size;
  if (ctx.size() > kMaxRegionSize) throw Error(E2BIG, "vm_region", "ctx does not fit the VM address space");
  regions_[kCtxRegion].data = ctx.data();
  regions_[kCtxRegion].size = ctx.size();
}

void AddressSpace::end_run() {
  regions_.resize(persistent_count_);
  regions_[kCtxRegion].data = nullptr;
  regions_[kCtxRegion].size = 0;
}

// ---- provenance -------------------------------------------------------------------

void OriginTracker::set_original(size_t region_index, uint8_t sources) { originals_[region_index] = sources; }

// A region's bytes as they were before anything wrote them: byte i of the
// ctx comes from ctx offset i.
void OriginTracker::reset_region(size_t index, uint64_t size) {
  auto original = originals_.find(index);
  uint8_t sources = original != originals_.end() ? original->second
                    : index < kMaxFrames         ? kFromInsns
                    : index == kCtxRegion        ? kFromCtx
                                                 : kFromOriginal;
  std::vector<ByteOrigin>& shadow = shadows_[index];
  shadow.assign(static_cast<size_t>(size), ByteOrigin{0, 0, sources});
  for (size_t i = 0; i < shadow.size(); ++i) shadow[i].from = static_cast<uint32_t>(i);
}

void OriginTracker::begin_run(const AddressSpace& memory) {
  tainted_branches_.clear();
  const size_t count = memory.region_count();
  // The stacks and the ctx are new at every run; persistent regions keep
  // what earlier runs wrote unless their size changed.
  if (shadows_.size() > count) shadows_.resize(count);
  const size_t known = shadows_.size();
  shadows_.resize(count);
  for (size_t i = 0; i < count; ++i)
    if (i <= kCtxRegion || i >= known || shadows_[i].size() != memory.region(i).size) reset_region(i, memory.region(i).size);
}

void OriginTracker::region_added(const AddressSpace& memory) {
  const size_t index = memory.region_count() - 1;
  shadows_.resize(memory.region_count());
  originals_[index] = kFromKernel;
  reset_region(index, memory.region(index).size);
}

RegOrigin OriginTracker::read(uint64_t addr, uint64_t len) const {
  const ByteOrigin* p = shadows_[region_of(addr)].data() + offset_of(addr);
  RegOrigin value{0, p->from};
  for (uint64_t i = 0; i < len; ++i) value.sources |= p[i].sources;
  return value;
}

void OriginTracker::write(uint64_t addr, uint64_t len, size_t pc, RegOrigin value) {
  ByteOrigin* p = at(addr);
  for (uint64_t i = 0; i < len; ++i)
    p[i] = ByteOrigin{static_cast<uint32_t>(pc + 1), value.from + static_cast<uint32_t>(i), value.sources};
}

std::span<const ByteOrigin> OriginTracker::bytes(uint64_t addr, uint64_t len) const {
  const size_t index = region_of(addr);
  if (index >= shadows_.size()) return {};
  const std::vector<ByteOrigin>& shadow = shadows_[index];
  const uint64_t offset = offset_of(addr);
  if (len > shadow.size() || offset > shadow.size() - len) return {};
  return {shadow.data() + offset, static_cast<size_t>(len)};
}

void OriginTracker::note_tainted_branch(size_t pc, RegOrigin tested) {
  auto known = std::find_if(tainted_branches_.begin(), tainted_branches_.end(),
                            [pc](const TaintedBranch& b) { return b.pc == pc; });
  const auto sources = static_cast<uint8_t>(tested.sources & kFromUnsigned);
  if (known == tainted_branches_.end()) tainted_branches_.push_back(TaintedBranch{pc, sources, tested.from});
  else known->sources |= sources;
}

// ---- helpers --------------------------------------------------------------------

std::span<uint8_t> HelperContext::view(uint64_t addr, uint64_t len, bool write) const {
  if (len == 0) return {};
  AccessFault fault = AccessFault::kNone;
  uint8_t* p = memory_.translate(addr, len, write, &fault);
  if (!p)
    fail("bad_helper_arg", std::string(write ? "write" : "read") + " of " + std::to_string(len) + " bytes at " +
                               memory_.describe(addr));
  // Whatever a helper writes is the kernel's unless it says otherwise.
  if (write) mark(addr, len, RegOrigin{kFromKernel, 0});
  return {p, static_cast<size_t>(len)};
}

void HelperContext::write(uint64_t addr, ByteView bytes) const {
  std::span<uint8_t> dst = writable(addr, bytes.size());
  if (!bytes.empty()) std::memmove(dst.data(), bytes.data(), bytes.size());
}

uint64_t HelperContext::map_region(std::string name, std::span<uint8_t> bytes, bool writable) {
  if (bytes.size() > kMaxRegionSize || memory_.regions_.size() >= kMaxRegions)
    fail("helper_failed", "cannot map " + std::to_string(bytes.size()) + " more bytes");
  uint64_t base = memory_.push(std::move(name), bytes.data(), bytes.size(), writable);
  if (origins_) origins_->region_added(memory_);
  return base;
}

void HelperContext::fail(const std::string& kind, const std::string& why) const {
  std::string_view name = isa::helper_name(helper_id_);
  std::string helper = (name.empty() ? "helper" : std::string(name)) + "#" + std::to_string(helper_id_);
  throw FaultSignal{Fault{kind, pc_, "pc " + std::to_string(pc_) + ": " + helper + ": " + why}};
}

void HelperTable::set(int32_t id, Helper helper) {
  if (id < 0 || id > 0xffff) throw Error(EINVAL, "vm_helper", "helper id " + std::to_string(id) + " out of range");
  if (static_cast<size_t>(id) >= helpers_.size()) helpers_.resize(static_cast<size_t>(id) + 1);
  helpers_[static_cast<size_t>(id)] = std::move(helper);
}

}  // namespace bpfsig::vm
