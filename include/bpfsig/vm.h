// SPDX-License-Identifier: Apache-2.0
// A sandboxed eBPF interpreter. Programs are decoded and checked once
// (prepare), then run any number of times against an AddressSpace: every load
// and store goes through a translation that checks the access lies inside one
// region with the right permission. VM registers hold VM addresses, never host
// pointers, so a program can only ever reach the bytes it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/isa.h"

namespace bpfsig::vm {

// The kernel's limits (MAX_BPF_STACK, MAX_CALL_FRAMES).
inline constexpr size_t kStackSize = 512;
inline constexpr size_t kMaxFrames = 8;
// Region indices run() binds: frame i's stack is region i, then the ctx.
inline constexpr size_t kCtxRegion = kMaxFrames;

// ---- address space ------------------------------------------------------------

// Region i lives at ((kRegionTagBase + i) << 32) | kRegionCenter: the upper
// 32 bits name the region, and the region's bytes start in the middle of its
// 4 GiB window. The tag base keeps NULL and small integers out of every
// region; a region never exceeds kMaxRegionSize, so arithmetic that walks up
// to 2 GiB below or above a region stays in its window and is reported as
// out of bounds of that region, never lands in another one.
inline constexpr uint64_t kRegionTagBase = 0x100;
inline constexpr uint64_t kRegionCenter = uint64_t{1} << 31;
inline constexpr uint64_t kMaxRegionSize = uint64_t{1} << 31;

struct Region {
  std::string name;  // "stack0", "ctx", "map_value:3", ... (for messages)
  uint8_t* data = nullptr;
  uint64_t size = 0;
  bool writable = false;
};

// Why translate() refused an access.
enum class AccessFault { kNone, kBadPointer, kOutOfBounds, kReadOnly };

// The memory a program may touch. Regions 0..kMaxFrames-1 are the stack
// frames and region kMaxFrames is the ctx; run() binds them. Regions added
// with add() persist across runs (map values, read-only data), their bytes
// stay owned by the caller and must outlive the AddressSpace's use. One run
// at a time per AddressSpace.
class AddressSpace {
 public:
  AddressSpace();
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // Maps caller-owned bytes; returns the region's base address. Throws
  // Error(E2BIG, "vm_region") beyond kMaxRegionSize or 2^24 regions.
  uint64_t add(std::string name, std::span<uint8_t> bytes, bool writable);
  uint64_t add_read_only(std::string name, std::span<const uint8_t> bytes);

  static uint64_t base_of(size_t region_index) { return ((kRegionTagBase + region_index) << 32) | kRegionCenter; }

  // The host bytes behind [addr, addr+len) when they lie in one region that
  // allows the access; otherwise nullptr and *fault says why.
  uint8_t* translate(uint64_t addr, uint64_t len, bool write, AccessFault* fault) noexcept {
    uint64_t index = (addr >> 32) - kRegionTagBase;
    if (index >= regions_.size()) return *fault = AccessFault::kBadPointer, nullptr;
    const Region& r = regions_[index];
    uint64_t offset = (addr & 0xffffffffu) ^ kRegionCenter;  // below the base: >= 2^31, out of bounds
    if (len > r.size || offset > r.size - len) return *fault = AccessFault::kOutOfBounds, nullptr;
    if (write && !r.writable) return *fault = AccessFault::kReadOnly, nullptr;
    return r.data + offset;
  }

  // "0x... (ctx+4100, region of 4096 bytes)" or "0x... (no region)", for
  // error messages; an address below a region shows a negative offset.
  std::string describe(uint64_t addr) const;

  // Used by run(): binds the stack frames and the ctx, and drops the regions
  // helpers mapped during the previous run.
  void begin_run(std::span<uint8_t> ctx, size_t stack_size);
  void end_run();
  size_t region_count() const { return regions_.size(); }
  const Region& region(size_t index) const { return regions_.at(index); }

 private:
  friend class HelperContext;
  uint64_t push(std::string name, uint8_t* data, uint64_t size, bool writable);

  std::vector<Region> regions_;
  size_t persistent_count_;
  std::vector<uint8_t> stack_;  // kMaxFrames * kStackSize, zeroed per run
};

// ---- provenance (deep verification; off unless RunOptions::origins is set) --

// Where a value came from, as a set of bits: a register or a byte of memory
// carries the union of the sources it was computed from.
inline constexpr uint8_t kFromInsns = 1;     // an immediate of the program (or a pointer it formed)
inline constexpr uint8_t kFromOriginal = 2;  // a region's bytes as they were before the run wrote them
inline constexpr uint8_t kFromCtx = 4;       // the ctx the caller passed
inline constexpr uint8_t kFromUser = 8;      // user memory (bpf_copy_from_user)
inline constexpr uint8_t kFromKernel = 16;   // a helper's result (an fd, an id) or what a helper wrote
inline constexpr uint8_t kFromUnsigned = kFromCtx | kFromUser;

// One byte's origin: who wrote it last and what it was computed from.
struct ByteOrigin {
  uint32_t writer = 0;  // 0: never written (the region's original byte); else the writing insn's pc + 1
  uint32_t from = 0;    // kFromCtx / kFromUser: the offset in the ctx or user region it was copied from
  uint8_t sources = 0;
};

// What a register holds, as far as provenance goes.
struct RegOrigin {
  uint8_t sources = 0;
  uint32_t from = 0;  // as ByteOrigin::from, for a value loaded from memory
};

// A conditional jump whose operands had unsigned sources.
struct TaintedBranch {
  size_t pc = 0;
  uint8_t sources = 0;
  uint32_t from = 0;  // ByteOrigin::from of the tested value: where in the ctx or user memory it was read
};

// The shadow of an AddressSpace: one ByteOrigin per byte of every region,
// the stacks and the ctx reset at each run, persistent regions kept. Costs
// nothing when not given to run(): the interpreter is instantiated twice
// and the untracked one has no tracking code.
class OriginTracker {
 public:
  // The sources a region's original bytes count as (default: kFromOriginal;
  // the stacks start as kFromInsns, the zeroes run() put there, and the
  // ctx as kFromCtx).
  void set_original(size_t region_index, uint8_t sources);
  // Called by run(): sizes the shadows for the regions of memory.
  void begin_run(const AddressSpace& memory);
  // Called after a helper mapped a region (its bytes: kFromKernel).
  void region_added(const AddressSpace& memory);

  // [addr, addr+len) must lie in one region (the VM translated it first).
  RegOrigin read(uint64_t addr, uint64_t len) const;
  void write(uint64_t addr, uint64_t len, size_t pc, RegOrigin value);
  // The origins of [addr, addr+len), for a helper that reports where its
  // input came from; empty when the range is not one region.
  std::span<const ByteOrigin> bytes(uint64_t addr, uint64_t len) const;
  // Conditional jumps on a value with a ctx or user source: the program's
  // control flow depends on unsigned input. pcs, first occurrence order.
  const std::vector<TaintedBranch>& tainted_branches() const { return tainted_branches_; }
  void note_tainted_branch(size_t pc, RegOrigin tested);

  static size_t region_of(uint64_t addr) { return static_cast<size_t>((addr >> 32) - kRegionTagBase); }
  static uint64_t offset_of(uint64_t addr) { return (addr & 0xffffffffu) ^ kRegionCenter; }
  const std::vector<ByteOrigin>& shadow(size_t region_index) const { return shadows_.at(region_index); }

 private:
  ByteOrigin* at(uint64_t addr) { return shadows_[region_of(addr)].data() + offset_of(addr); }
  void reset_region(size_t index, uint64_t size);

  std::vector<std::vector<ByteOrigin>> shadows_;
  std::map<size_t, uint8_t> originals_;
  std::vector<TaintedBranch> tainted_branches_;
};

// ---- preparing a program --------------------------------------------------------

// An ld_imm64 whose src names something outside the program (map fd, map
// index, map value, BTF id). src=kPseudoFunc is resolved by the VM itself.
struct PseudoLoad {
  size_t pc = 0;
  uint8_t src = 0;       // isa::kPseudoMapFd, kPseudoMapValue, ...
  int32_t imm = 0;       // fd or index
  int32_t next_imm = 0;  // value offset for kPseudoMapValue / kPseudoMapIdxValue
};
// Returns the 64-bit value the instruction loads: an opaque map handle the
// helpers understand, or a VM address (AddressSpace::add) for a map value.
// May throw bpfsig::Error to refuse the program.
using PseudoResolver = std::function<uint64_t(const PseudoLoad&)>;

// Value an ld_imm64 src=kPseudoFunc loads: a code address no load or store
// can use (callbacks such as bpf_loop are not supported).
inline constexpr uint64_t kCodeTag = 0xc0de0000;  // above every region's tag
inline uint64_t code_address(size_t pc) { return (kCodeTag << 32) | pc; }

namespace detail {
struct Op;
}

// A decoded, validated program translated to the interpreter's internal form.
class Program {
 public:
  Program();
  ~Program();
  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;
  size_t size() const;  // in instruction slots
  const detail::Op* ops() const;

 private:
  friend Program prepare(std::span<const isa::Insn>, const PseudoResolver&);
  std::vector<detail::Op> ops_;
};

// Validates (isa::validate, plus the frame pointer r10 being read-only, which
// the kernel's verifier also enforces), resolves every ld_imm64 pseudo source
// once and precomputes jump targets. Throws Error(EINVAL, "insn_invalid",
// "insn N: ...") like validate(), or whatever the resolver throws; a pseudo
// source without a resolver is Error(EINVAL, "vm_unresolved").
Program prepare(std::span<const isa::Insn> insns, const PseudoResolver& resolver = {});

// ---- helpers -------------------------------------------------------------------

// Why a run ended early. kind is one of: "oob_access", "bad_pointer",
// "readonly_write", "bad_helper_arg", "unknown_helper", "budget_exhausted",
// "call_depth", "arith_shift", "arith_sdiv_overflow", "unsupported",
// "helper_failed" (a helper's own refusal). message starts with "pc N: ".
struct Fault {
  std::string kind;
  size_t pc = 0;
  std::string message;
};

// Thrown by helpers (usually through HelperContext) to end the run; run()
// turns it into RunResult::fault.
struct FaultSignal {
  Fault fault;
};

// What a helper may do to the VM: checked access to VM memory, and mapping
// memory it returns to the program (dropped when the run ends).
class HelperContext {
 public:
  HelperContext(AddressSpace& memory, size_t pc, int32_t helper_id, OriginTracker* origins = nullptr)
      : memory_(memory), pc_(pc), helper_id_(helper_id), origins_(origins) {}

  // Host view of [addr, addr+len); ends the run with "bad_helper_arg" when
  // the range is not one readable (writable) region.
  std::span<const uint8_t> read(uint64_t addr, uint64_t len) const { return view(addr, len, false); }
  std::span<uint8_t> writable(uint64_t addr, uint64_t len) const { return view(addr, len, true); }
  void write(uint64_t addr, ByteView bytes) const;
  // Maps memory the helper hands to the program; returns its VM address.
  uint64_t map_region(std::string name, std::span<uint8_t> bytes, bool writable);

  [[noreturn]] void fail(const std::string& kind, const std::string& why) const;
  size_t pc() const { return pc_; }
  int32_t helper_id() const { return helper_id_; }
  AddressSpace& memory() const { return memory_; }

  // Provenance, when the run tracks it (null otherwise). writable() marks
  // the bytes it hands out as written by this call with kFromKernel; a
  // helper that knows better says so with mark().
  OriginTracker* origins() const { return origins_; }
  void mark(uint64_t addr, uint64_t len, RegOrigin value) const {
    if (origins_ && len) origins_->write(addr, len, pc_, value);
  }

 private:
  std::span<uint8_t> view(uint64_t addr, uint64_t len, bool write) const;

  AddressSpace& memory_;
  size_t pc_;
  int32_t helper_id_;
  OriginTracker* origins_;
};

// A helper gets r1..r5 and returns r0.
using Helper = std::function<uint64_t(HelperContext&, const uint64_t args[5])>;

// Helpers indexed by id; an id without a helper ends the run with
// "unknown_helper".
class HelperTable {
 public:
  void set(int32_t id, Helper helper);
  const Helper* find(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= helpers_.size() || !helpers_[static_cast<size_t>(id)]) return nullptr;
    return &helpers_[static_cast<size_t>(id)];
  }

 private:
  std::vector<Helper> helpers_;
};

// ---- running -------------------------------------------------------------------

struct RunOptions {
  uint64_t budget = 1'000'000;     // instructions executed before "budget_exhausted"
  size_t max_call_depth = kMaxFrames;  // frames incl. the main program, 1..kMaxFrames
  size_t stack_size = kStackSize;  // bytes per frame, 8..kStackSize
  // true: a register shift amount >= the width and a signed division
  // overflow (INT_MIN / -1, INT_MIN % -1) end the run. false: the kernel's
  // results (shift amounts masked, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0).
  bool strict_arith = true;
  // Set: track every byte's and register's provenance in it (deep verify).
  OriginTracker* origins = nullptr;
};

struct RunResult {
  uint64_t r0 = 0;
  uint64_t instructions = 0;   // executed, including the faulting one
  std::optional<Fault> fault;  // set when the run ended early
  bool ok() const { return !fault.has_value(); }
};

// Runs the program with r1 = the ctx's VM address and r10 = the top of frame
// 0. Never throws for anything the program does: every failure is a Fault in
// the result (a std::bad_alloc or a non-FaultSignal exception from a helper
// still propagates). Throws Error(EINVAL, "vm_options") for bad options.
RunResult run(const Program& program, AddressSpace& memory, std::span<uint8_t> ctx, const HelperTable& helpers,
              const RunOptions& options = {});

}  // namespace bpfsig::vm
