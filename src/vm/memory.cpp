// SPDX-License-Identifier: Apache-2.0
// The VM's address space, and the checked access helpers get to it.
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

// ---- helpers --------------------------------------------------------------------

std::span<uint8_t> HelperContext::view(uint64_t addr, uint64_t len, bool write) const {
  if (len == 0) return {};
  AccessFault fault = AccessFault::kNone;
  uint8_t* p = memory_.translate(addr, len, write, &fault);
  if (!p)
    fail("bad_helper_arg", std::string(write ? "write" : "read") + " of " + std::to_string(len) + " bytes at " +
                               memory_.describe(addr));
  return {p, static_cast<size_t>(len)};
}

void HelperContext::write(uint64_t addr, ByteView bytes) const {
  std::span<uint8_t> dst = writable(addr, bytes.size());
  if (!bytes.empty()) std::memmove(dst.data(), bytes.data(), bytes.size());
}

uint64_t HelperContext::map_region(std::string name, std::span<uint8_t> bytes, bool writable) {
  if (bytes.size() > kMaxRegionSize || memory_.regions_.size() >= kMaxRegions)
    fail("helper_failed", "cannot map " + std::to_string(bytes.size()) + " more bytes");
  return memory_.push(std::move(name), bytes.data(), bytes.size(), writable);
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
