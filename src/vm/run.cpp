// SPDX-License-Identifier: Apache-2.0
// run(): the interpreter loop, threaded over prepared Ops (see "the loop"
// below); the loop allocates nothing and every memory access goes through
// AddressSpace::translate. Arithmetic follows the kernel's interpreter
// (kernel/bpf/core.c, ___bpf_prog_run) plus the verifier's rewrites of
// division by zero (do_misc_fixups), computed in unsigned arithmetic so no
// input is undefined behaviour in C++.
#include <bit>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <limits>
#include <type_traits>

#include "bpfsig/error.h"
#include "bpfsig/vm.h"
#include "vm/ops.h"

namespace bpfsig::vm {

using namespace detail;

namespace {

static_assert(std::endian::native == std::endian::little, "BPF memory is accessed in host byte order");

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
std::make_signed_t<T> as_signed(T v) {
  return static_cast<std::make_signed_t<T>>(v);  // modular since C++20
}
uint64_t sign_extend(auto narrow) { return static_cast<uint64_t>(static_cast<int64_t>(narrow)); }

// x / 0 = 0 and x % 0 = x, as the verifier rewrites them.
template <typename T>
T divide(T a, T b) { return b == 0 ? 0 : a / b; }
template <typename T>
T modulo(T a, T b) { return b == 0 ? a : a % b; }

// The only signed quotient that does not fit: MIN / -1.
template <typename T>
bool signed_overflow(T a, T b) {
  return a == (T{1} << (sizeof(T) * 8 - 1)) && b == static_cast<T>(-1);
}
// Signed division, truncating toward zero; MIN / -1 = MIN (the kernel's
// result, reached only when not strict).
template <typename T>
T signed_divide(T a, T b) {
  if (b == 0) return 0;
  if (signed_overflow(a, b)) return a;
  return static_cast<T>(as_signed(a) / as_signed(b));
}
// The remainder takes the dividend's sign; MIN % -1 = 0.
template <typename T>
T signed_modulo(T a, T b) {
  if (b == 0) return a;
  if (signed_overflow(a, b)) return 0;
  return static_cast<T>(as_signed(a) % as_signed(b));
}

const char* access_fault_kind(AccessFault f) {
  switch (f) {
    case AccessFault::kOutOfBounds: return "oob_access";
    case AccessFault::kReadOnly: return "readonly_write";
    default: return "bad_pointer";
  }
}

const char* unsupported_what(uint64_t reason) {
  switch (reason) {
    case kLegacyPacketLoad: return "legacy packet loads (LD_ABS/LD_IND) are not supported";
    case kKfuncCall: return "kfunc calls are not supported";
    case kTailCall: return "tail calls are not supported";
    case kSecondSlot: return "jumped into the second slot of an ld_imm64";
    default: return "fell off the end of the program";
  }
}

// The provenance of an immediate stored by BPF_ST.
constexpr RegOrigin kImmediateOrigin{kFromInsns, 0};

struct Frame {
  const Op* return_to;
  uint64_t saved[5];  // r6..r9 and r10
};

// r0..r10: a local of execute(), handed to the helpers and atomics it calls.
using Registers = uint64_t[11];

uint64_t address(const Registers& reg, const Op& op, uint8_t base) { return reg[base] + sign_extend(op.off); }

class Machine {
 public:
  Machine(const Program& program, AddressSpace& memory, const HelperTable& helpers, const RunOptions& options)
      : ops_(program.ops()), memory_(memory), helpers_(helpers), options_(options) {}

  RunResult run(uint64_t ctx_address) {
    RunResult result;
    origins_ = options_.origins;
    result.fault = origins_ ? execute<true>(ctx_address, result) : execute<false>(ctx_address, result);
    return result;
  }

 private:
  uint64_t frame_top(size_t depth) const { return AddressSpace::base_of(depth) + options_.stack_size; }
  size_t pc_of(const Op& op) const { return static_cast<size_t>(&op - ops_); }

  [[gnu::cold, gnu::noinline]] Fault fault(const char* kind, const Op& op, const std::string& what) const {
    return Fault{kind, pc_of(op), "pc " + std::to_string(pc_of(op)) + ": " + what};
  }
  [[gnu::cold, gnu::noinline]] Fault memory_fault(const Op& op, uint64_t addr, size_t len, bool write,
                                                  AccessFault why) const {
    return fault(access_fault_kind(why), op,
                 std::string(write ? "write" : "read") + " of " + std::to_string(len) + " bytes at " +
                     memory_.describe(addr));
  }
  [[gnu::cold, gnu::noinline]] Fault shift_fault(const Op& op, uint64_t amount, int width) const {
    return fault("arith_shift", op,
                 "shift by r" + std::to_string(op.src) + " = " + std::to_string(amount) + " is not below the width " +
                     std::to_string(width));
  }
  [[gnu::cold, gnu::noinline]] Fault overflow_fault(const Op& op) const {
    return fault("arith_sdiv_overflow", op, "signed division overflow (MIN / -1) in r" + std::to_string(op.dst));
  }
  [[gnu::cold, gnu::noinline]] Fault budget_fault(const Op& op) const {
    return fault("budget_exhausted", op, "instruction budget of " + std::to_string(options_.budget) + " exhausted");
  }

  [[gnu::cold, gnu::noinline]] Fault unknown_helper_fault(const Op& op, int32_t id) const {
    std::string_view name = isa::helper_name(id);
    return fault("unknown_helper", op, "no helper " + std::string(name.empty() ? "" : name) + "#" + std::to_string(id));
  }

  [[gnu::always_inline]] inline std::optional<Fault> call_helper(const Op& op, Registers& reg);
  std::optional<Fault> atomic32(const Op& op, Registers& reg);
  std::optional<Fault> atomic64(const Op& op, Registers& reg);
  template <bool kTrack>
  std::optional<Fault> execute(uint64_t ctx_address, RunResult& result);

  // ---- provenance (execute<true> only) ----
  // ALU and MOV: the result has the sources of both operands (MOV: of the
  // operand alone); an immediate is the program's.
  void track_binary(const Op& op) {
    const bool register_operand = op.code & 1;  // the X forms (ops.h: 64K, 64X, 32K, 32X)
    const RegOrigin operand = register_operand ? origin_[op.src] : RegOrigin{kFromInsns, 0};
    if (op.code >= Mov64K && op.code <= Mov32X) origin_[op.dst] = operand;
    else origin_[op.dst].sources |= operand.sources;
  }
  void track_branch(const Op& op) {
    const RegOrigin& dst = origin_[op.dst];
    if (dst.sources & kFromUnsigned) origins_->note_tainted_branch(pc_of(op), dst);
    else if ((op.code & 1) && (origin_[op.src].sources & kFromUnsigned)) origins_->note_tainted_branch(pc_of(op), origin_[op.src]);
  }
  // The one-operand ops keep dst's sources; sign extensions copy src's.
  void track_unary(const Op& op) {
    if (op.code >= Movsx64From8 && op.code <= Movsx32From16) origin_[op.dst] = origin_[op.src];
  }
  void track_store(const Op& op, uint64_t addr, uint64_t len, RegOrigin value) {
    origins_->write(addr, len, pc_of(op), value);
  }
  // An atomic op: memory gets its old sources and the operand's; a fetched
  // value (cmpxchg: r0) gets the memory's.
  void track_atomic(const Op& op, uint64_t addr, uint64_t len, RegOrigin before) {
    const auto operation = static_cast<int32_t>(op.imm);
    const bool cmpxchg = (operation & ~isa::kAtomicFetch) == 0xf0;  // BPF_CMPXCHG
    RegOrigin after{static_cast<uint8_t>(before.sources | origin_[op.src].sources | (cmpxchg ? origin_[0].sources : 0)),
                    before.from};
    origins_->write(addr, len, pc_of(op), after);
    if (cmpxchg) origin_[0] = before;
    else if (operation & isa::kAtomicFetch) origin_[op.src] = before;
  }
  void track_helper_return() {
    origin_[0] = RegOrigin{kFromKernel, 0};
    for (int r = 1; r <= 5; ++r) origin_[r] = RegOrigin{};
  }

  const Op* ops_;
  AddressSpace& memory_;
  const HelperTable& helpers_;
  const RunOptions& options_;
  Frame frames_[kMaxFrames] = {};
  OriginTracker* origins_ = nullptr;
  RegOrigin origin_[11] = {};
  RegOrigin saved_origin_[kMaxFrames][5] = {};
};

// Inlined into the loop on purpose: out of line (GCC's choice once the loop
// became threaded) every call paid a frame and an optional<Fault> returned
// through memory, about 2.5 ns per helper call in the helper benchmark.
std::optional<Fault> Machine::call_helper(const Op& op, Registers& reg) {
  auto id = static_cast<int32_t>(op.imm);
  const Helper* helper = helpers_.find(id);
  if (!helper) [[unlikely]] return unknown_helper_fault(op, id);
  HelperContext context(memory_, pc_of(op), id, origins_);
  try {
    reg[0] = (*helper)(context, &reg[1]);
  } catch (FaultSignal& signal) {
    return std::move(signal.fault);
  }
  return std::nullopt;
}

// BPF_ATOMIC on a u32: fetched values are zero-extended; cmpxchg compares
// the low 32 bits of r0.
std::optional<Fault> Machine::atomic32(const Op& op, Registers& reg) {
  uint64_t addr = address(reg, op, op.dst);
  AccessFault why = AccessFault::kNone;
  uint8_t* p = memory_.translate(addr, 4, true, &why);
  if (!p) return memory_fault(op, addr, 4, true, why);
  uint32_t old = load<uint32_t>(p), value = static_cast<uint32_t>(reg[op.src]);
  auto operation = static_cast<int32_t>(op.imm);
  switch (operation & ~isa::kAtomicFetch) {
    case isa::kAtomicAdd: store<uint32_t>(p, old + value); break;
    case isa::kAtomicOr: store<uint32_t>(p, old | value); break;
    case isa::kAtomicAnd: store<uint32_t>(p, old & value); break;
    case isa::kAtomicXor: store<uint32_t>(p, old ^ value); break;
    case isa::kAtomicXchg & ~isa::kAtomicFetch: store<uint32_t>(p, value); break;
    default:  // cmpxchg
      if (old == static_cast<uint32_t>(reg[0])) store<uint32_t>(p, value);
      reg[0] = old;
      return std::nullopt;
  }
  if (operation & isa::kAtomicFetch) reg[op.src] = old;
  return std::nullopt;
}

std::optional<Fault> Machine::atomic64(const Op& op, Registers& reg) {
  uint64_t addr = address(reg, op, op.dst);
  AccessFault why = AccessFault::kNone;
  uint8_t* p = memory_.translate(addr, 8, true, &why);
  if (!p) return memory_fault(op, addr, 8, true, why);
  uint64_t old = load<uint64_t>(p), value = reg[op.src];
  auto operation = static_cast<int32_t>(op.imm);
  switch (operation & ~isa::kAtomicFetch) {
    case isa::kAtomicAdd: store<uint64_t>(p, old + value); break;
    case isa::kAtomicOr: store<uint64_t>(p, old | value); break;
    case isa::kAtomicAnd: store<uint64_t>(p, old & value); break;
    case isa::kAtomicXor: store<uint64_t>(p, old ^ value); break;
    case isa::kAtomicXchg & ~isa::kAtomicFetch: store<uint64_t>(p, value); break;
    default:  // cmpxchg
      if (old == reg[0]) store<uint64_t>(p, value);
      reg[0] = old;
      return std::nullopt;
  }
  if (operation & isa::kAtomicFetch) reg[op.src] = old;
  return std::nullopt;
}

// ---- the loop -------------------------------------------------------------------
//
// Threaded dispatch: each handler is a label, and each ends by jumping
// straight to the next op's handler through kHandlers (GCC's and Clang's
// labels as values; -Wpedantic, which would flag them, is not among the
// project's flags). Every handler thus has its own indirect branch, which the
// CPU predicts from what followed that handler before, instead of one shared
// branch at the top of a switch; and there is no loop back-edge or range
// check in between.
//
// The state the handlers share is local to execute(): ip (the op being
// executed) and `left`, the instructions the budget still allows, stay in
// machine registers; the BPF register file is a local array (ops index it, so
// it lives on the stack). An op runs only when left > 0 and is charged before
// it runs, so a run stops with budget_exhausted at exactly the op reached
// after `budget` executed ones, and the executed count, faulting op included,
// is always budget - left. (Counting up in a RunResult member instead, as the
// switch did, stored the count on every op: about 15% slower here.)

// Provenance bookkeeping: compiled into execute<true> only.
#define BPFSIG_TRACK(statement)   \
  do {                            \
    if constexpr (kTrack) {       \
      statement;                  \
    }                             \
  } while (0)

#define BPFSIG_DISPATCH()                              \
  do {                                                 \
    if (left == 0) [[unlikely]] goto budget_exhausted; \
    --left;                                            \
    goto *kHandlers[ip->code];                         \
  } while (0)

// The usual ending: on to the next slot.
#define BPFSIG_NEXT() \
  do {                \
    ++ip;             \
    BPFSIG_DISPATCH(); \
  } while (0)

#define BPFSIG_BRANCH(taken)                  \
  do {                                        \
    ip = (taken) ? ops + op.target : ip + 1; \
    BPFSIG_DISPATCH();                        \
  } while (0)

// Every way out of the loop: publishes r0 and the executed count, then
// returns the outcome (a Fault or nullopt).
#define BPFSIG_LEAVE(outcome)                  \
  do {                                         \
    result.r0 = reg[0];                        \
    result.instructions = budget - left;       \
    return outcome;                            \
  } while (0)

// An op that only sets dst; `value` may read `op`, the current Op.
#define BPFSIG_SET(code, value)    \
  do_##code : {                    \
    const Op& op = *ip;            \
    reg[op.dst] = (value);         \
    BPFSIG_TRACK(track_unary(op)); \
    BPFSIG_NEXT();                 \
  }

// The handlers are generated per width and operand form; `a` is the
// destination's value and `b` the operand, both of the operation's width.
#define BPFSIG_ALU(name, expr)                                                                    \
  do_##name##64K : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint64_t a = reg[op.dst], b = op.imm;                                                   \
    reg[op.dst] = (expr);                                                                         \
    BPFSIG_TRACK(track_binary(op));                                                               \
    BPFSIG_NEXT();                                                                                \
  }                                                                                               \
  do_##name##64X : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint64_t a = reg[op.dst], b = reg[op.src];                                              \
    reg[op.dst] = (expr);                                                                         \
    BPFSIG_TRACK(track_binary(op));                                                               \
    BPFSIG_NEXT();                                                                                \
  }                                                                                               \
  do_##name##32K : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]), b = static_cast<uint32_t>(op.imm);    \
    reg[op.dst] = static_cast<uint32_t>(expr);                                                    \
    BPFSIG_TRACK(track_binary(op));                                                               \
    BPFSIG_NEXT();                                                                                \
  }                                                                                               \
  do_##name##32X : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]), b = static_cast<uint32_t>(reg[op.src]); \
    reg[op.dst] = static_cast<uint32_t>(expr);                                                    \
    BPFSIG_TRACK(track_binary(op));                                                               \
    BPFSIG_NEXT();                                                                                \
  }

// Signed division: the immediate forms can overflow too (MIN / -1).
#define BPFSIG_SIGNED_DIVISION(name, fn)                                                         \
  do_##name##64K : do_##name##64X : {                                                            \
    const Op& op = *ip;                                                                          \
    const uint64_t a = reg[op.dst], b = op.code == name##64K ? op.imm : reg[op.src];             \
    if (strict && signed_overflow(a, b)) BPFSIG_LEAVE(overflow_fault(op));                       \
    reg[op.dst] = fn(a, b);                                                                      \
    BPFSIG_TRACK(track_binary(op));                                                              \
    BPFSIG_NEXT();                                                                               \
  }                                                                                              \
  do_##name##32K : do_##name##32X : {                                                            \
    const Op& op = *ip;                                                                          \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]);                                       \
    const uint32_t b = static_cast<uint32_t>(op.code == name##32K ? op.imm : reg[op.src]);       \
    if (strict && signed_overflow(a, b)) BPFSIG_LEAVE(overflow_fault(op));                       \
    reg[op.dst] = fn(a, b);                                                                      \
    BPFSIG_TRACK(track_binary(op));                                                              \
    BPFSIG_NEXT();                                                                               \
  }

// Shifts: an immediate is below the width (validate() checks it); a register
// amount is masked as the kernel does, or refused when strict.
#define BPFSIG_SHIFT(name, expr)                                                                 \
  do_##name##64K : {                                                                             \
    const Op& op = *ip;                                                                          \
    const uint64_t a = reg[op.dst], n = op.imm;                                                  \
    reg[op.dst] = (expr);                                                                        \
    BPFSIG_TRACK(track_binary(op));                                                              \
    BPFSIG_NEXT();                                                                               \
  }                                                                                              \
  do_##name##64X : {                                                                             \
    const Op& op = *ip;                                                                          \
    const uint64_t a = reg[op.dst];                                                              \
    uint64_t n = reg[op.src];                                                                    \
    if (n >= 64) [[unlikely]] {                                                                  \
      if (strict) BPFSIG_LEAVE(shift_fault(op, n, 64));                                          \
      n &= 63;                                                                                   \
    }                                                                                            \
    reg[op.dst] = (expr);                                                                        \
    BPFSIG_TRACK(track_binary(op));                                                              \
    BPFSIG_NEXT();                                                                               \
  }                                                                                              \
  do_##name##32K : {                                                                             \
    const Op& op = *ip;                                                                          \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]), n = static_cast<uint32_t>(op.imm);   \
    reg[op.dst] = static_cast<uint32_t>(expr);                                                   \
    BPFSIG_TRACK(track_binary(op));                                                              \
    BPFSIG_NEXT();                                                                               \
  }                                                                                              \
  do_##name##32X : {                                                                             \
    const Op& op = *ip;                                                                          \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]);                                       \
    uint64_t n = reg[op.src];                                                                    \
    if (n >= 32) [[unlikely]] {                                                                  \
      if (strict) BPFSIG_LEAVE(shift_fault(op, n, 32));                                          \
      n &= 31;                                                                                   \
    }                                                                                            \
    reg[op.dst] = static_cast<uint32_t>(expr);                                                   \
    BPFSIG_TRACK(track_binary(op));                                                              \
    BPFSIG_NEXT();                                                                               \
  }

#define BPFSIG_JUMP(name, expr)                                                                   \
  do_##name##64K : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint64_t a = reg[op.dst], b = op.imm;                                                   \
    BPFSIG_TRACK(track_branch(op));                                                               \
    BPFSIG_BRANCH(expr);                                                                          \
  }                                                                                               \
  do_##name##64X : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint64_t a = reg[op.dst], b = reg[op.src];                                              \
    BPFSIG_TRACK(track_branch(op));                                                               \
    BPFSIG_BRANCH(expr);                                                                          \
  }                                                                                               \
  do_##name##32K : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]), b = static_cast<uint32_t>(op.imm);    \
    BPFSIG_TRACK(track_branch(op));                                                               \
    BPFSIG_BRANCH(expr);                                                                          \
  }                                                                                               \
  do_##name##32X : {                                                                              \
    const Op& op = *ip;                                                                           \
    const uint32_t a = static_cast<uint32_t>(reg[op.dst]), b = static_cast<uint32_t>(reg[op.src]); \
    BPFSIG_TRACK(track_branch(op));                                                               \
    BPFSIG_BRANCH(expr);                                                                          \
  }

#define BPFSIG_LOAD(code, type)                                                          \
  do_##code : {                                                                          \
    const Op& op = *ip;                                                                  \
    const uint64_t addr = address(reg, op, op.src);                                      \
    const uint8_t* p = memory_.translate(addr, sizeof(type), false, &why);               \
    if (!p) [[unlikely]] BPFSIG_LEAVE(memory_fault(op, addr, sizeof(type), false, why)); \
    reg[op.dst] = static_cast<uint64_t>(load<type>(p));                                  \
    BPFSIG_TRACK(origin_[op.dst] = origins_->read(addr, sizeof(type)));                  \
    BPFSIG_NEXT();                                                                       \
  }

#define BPFSIG_STORE(code, type, value, origin)                                         \
  do_##code : {                                                                         \
    const Op& op = *ip;                                                                 \
    const uint64_t addr = address(reg, op, op.dst);                                     \
    uint8_t* p = memory_.translate(addr, sizeof(type), true, &why);                     \
    if (!p) [[unlikely]] BPFSIG_LEAVE(memory_fault(op, addr, sizeof(type), true, why)); \
    store<type>(p, static_cast<type>(value));                                           \
    BPFSIG_TRACK(track_store(op, addr, sizeof(type), origin));                          \
    BPFSIG_NEXT();                                                                      \
  }

// The handler table, in Code order (ops.h generates the enum from the same
// lists).
#define BPFSIG_FOUR_HANDLERS(name) &&do_##name##64K, &&do_##name##64X, &&do_##name##32K, &&do_##name##32X,
#define BPFSIG_ONE_HANDLER(name) &&do_##name,

template <bool kTrack>
std::optional<Fault> Machine::execute(uint64_t ctx_address, RunResult& result) {
  static const void* const kHandlers[] = {
      BPFSIG_VM_BINARY_ALU(BPFSIG_FOUR_HANDLERS)
      BPFSIG_VM_CONDITIONS(BPFSIG_FOUR_HANDLERS)
      BPFSIG_VM_OTHER_CODES(BPFSIG_ONE_HANDLER)
  };
  static_assert(std::size(kHandlers) == kCodeCount);

  Registers reg = {};
  reg[1] = ctx_address;
  reg[10] = frame_top(0);
  const Op* const ops = ops_;
  const Op* ip = ops;
  const uint64_t budget = options_.budget;
  uint64_t left = budget;
  const bool strict = options_.strict_arith;
  size_t depth = 0;
  AccessFault why = AccessFault::kNone;

  BPFSIG_DISPATCH();

  BPFSIG_ALU(Add, a + b)
  BPFSIG_ALU(Sub, a - b)
  BPFSIG_ALU(Mul, a * b)
  BPFSIG_ALU(Div, divide(a, b))
  BPFSIG_ALU(Mod, modulo(a, b))
  BPFSIG_ALU(Or, a | b)
  BPFSIG_ALU(And, a & b)
  BPFSIG_ALU(Xor, a ^ b)
  BPFSIG_ALU(Mov, (static_cast<void>(a), b))
  BPFSIG_SIGNED_DIVISION(Sdiv, signed_divide)
  BPFSIG_SIGNED_DIVISION(Smod, signed_modulo)
  BPFSIG_SHIFT(Lsh, a << n)
  BPFSIG_SHIFT(Rsh, a >> n)
  BPFSIG_SHIFT(Arsh, as_signed(a) >> n)  // arithmetic since C++20

  BPFSIG_JUMP(Jeq, a == b)
  BPFSIG_JUMP(Jne, a != b)
  BPFSIG_JUMP(Jgt, a > b)
  BPFSIG_JUMP(Jge, a >= b)
  BPFSIG_JUMP(Jlt, a < b)
  BPFSIG_JUMP(Jle, a <= b)
  BPFSIG_JUMP(Jset, (a & b) != 0)
  BPFSIG_JUMP(Jsgt, as_signed(a) > as_signed(b))
  BPFSIG_JUMP(Jsge, as_signed(a) >= as_signed(b))
  BPFSIG_JUMP(Jslt, as_signed(a) < as_signed(b))
  BPFSIG_JUMP(Jsle, as_signed(a) <= as_signed(b))

  BPFSIG_SET(Neg64, 0 - reg[op.dst])
  BPFSIG_SET(Neg32, 0u - static_cast<uint32_t>(reg[op.dst]))
  BPFSIG_SET(Movsx64From8, sign_extend(static_cast<int8_t>(reg[op.src])))
  BPFSIG_SET(Movsx64From16, sign_extend(static_cast<int16_t>(reg[op.src])))
  BPFSIG_SET(Movsx64From32, sign_extend(static_cast<int32_t>(reg[op.src])))
  BPFSIG_SET(Movsx32From8, static_cast<uint32_t>(static_cast<int8_t>(reg[op.src])))
  BPFSIG_SET(Movsx32From16, static_cast<uint32_t>(static_cast<int16_t>(reg[op.src])))
  BPFSIG_SET(Trunc16, static_cast<uint16_t>(reg[op.dst]))
  BPFSIG_SET(Trunc32, static_cast<uint32_t>(reg[op.dst]))
do_Nop:
  BPFSIG_NEXT();
  BPFSIG_SET(Bswap16, __builtin_bswap16(static_cast<uint16_t>(reg[op.dst])))
  BPFSIG_SET(Bswap32, __builtin_bswap32(static_cast<uint32_t>(reg[op.dst])))
  BPFSIG_SET(Bswap64, __builtin_bswap64(reg[op.dst]))

  BPFSIG_LOAD(Ldx8, uint8_t)
  BPFSIG_LOAD(Ldx16, uint16_t)
  BPFSIG_LOAD(Ldx32, uint32_t)
  BPFSIG_LOAD(Ldx64, uint64_t)
  BPFSIG_LOAD(Ldxs8, int8_t)
  BPFSIG_LOAD(Ldxs16, int16_t)
  BPFSIG_LOAD(Ldxs32, int32_t)
  BPFSIG_STORE(St8, uint8_t, op.imm, kImmediateOrigin)
  BPFSIG_STORE(St16, uint16_t, op.imm, kImmediateOrigin)
  BPFSIG_STORE(St32, uint32_t, op.imm, kImmediateOrigin)
  BPFSIG_STORE(St64, uint64_t, op.imm, kImmediateOrigin)
  BPFSIG_STORE(Stx8, uint8_t, reg[op.src], origin_[op.src])
  BPFSIG_STORE(Stx16, uint16_t, reg[op.src], origin_[op.src])
  BPFSIG_STORE(Stx32, uint32_t, reg[op.src], origin_[op.src])
  BPFSIG_STORE(Stx64, uint64_t, reg[op.src], origin_[op.src])
do_Atomic32: {
  [[maybe_unused]] const uint64_t addr = address(reg, *ip, ip->dst);
  [[maybe_unused]] RegOrigin before{};
  if (auto f = atomic32(*ip, reg)) BPFSIG_LEAVE(f);
  BPFSIG_TRACK((before = origins_->read(addr, 4), track_atomic(*ip, addr, 4, before)));
  BPFSIG_NEXT();
}
do_Atomic64: {
  [[maybe_unused]] const uint64_t addr = address(reg, *ip, ip->dst);
  [[maybe_unused]] RegOrigin before{};
  if (auto f = atomic64(*ip, reg)) BPFSIG_LEAVE(f);
  BPFSIG_TRACK((before = origins_->read(addr, 8), track_atomic(*ip, addr, 8, before)));
  BPFSIG_NEXT();
}

do_LdImm64:
  reg[ip->dst] = ip->imm;
  BPFSIG_TRACK(origin_[ip->dst] = (RegOrigin{kFromInsns, 0}));
  ++ip;  // over the second slot
  BPFSIG_NEXT();
do_Ja:
  ip = ops + ip->target;
  BPFSIG_DISPATCH();
do_CallHelper:
  if (auto f = call_helper(*ip, reg)) BPFSIG_LEAVE(f);
  BPFSIG_TRACK(track_helper_return());
  BPFSIG_NEXT();
do_CallLocal: {
  const Op& op = *ip;
  if (depth + 1 >= options_.max_call_depth)
    BPFSIG_LEAVE(fault("call_depth", op, "call depth exceeds " + std::to_string(options_.max_call_depth) + " frames"));
  frames_[depth] = Frame{ip + 1, {reg[6], reg[7], reg[8], reg[9], reg[10]}};
  BPFSIG_TRACK(std::memcpy(saved_origin_[depth], &origin_[6], sizeof saved_origin_[depth]));
  reg[10] = frame_top(++depth);
  ip = ops + op.target;
  BPFSIG_DISPATCH();
}
do_Exit: {
  if (depth == 0) BPFSIG_LEAVE(std::nullopt);
  const Frame& caller = frames_[--depth];
  std::memcpy(&reg[6], caller.saved, sizeof caller.saved);
  BPFSIG_TRACK(std::memcpy(&origin_[6], saved_origin_[depth], sizeof saved_origin_[depth]));
  ip = caller.return_to;
  BPFSIG_DISPATCH();
}
do_Unsupported:
  BPFSIG_LEAVE(fault("unsupported", *ip, unsupported_what(ip->imm)));
budget_exhausted:
  BPFSIG_LEAVE(budget_fault(*ip));
}

#undef BPFSIG_DISPATCH
#undef BPFSIG_NEXT
#undef BPFSIG_BRANCH
#undef BPFSIG_LEAVE
#undef BPFSIG_SET
#undef BPFSIG_ALU
#undef BPFSIG_SIGNED_DIVISION
#undef BPFSIG_SHIFT
#undef BPFSIG_JUMP
#undef BPFSIG_LOAD
#undef BPFSIG_STORE
#undef BPFSIG_TRACK
#undef BPFSIG_FOUR_HANDLERS
#undef BPFSIG_ONE_HANDLER

void check_options(const RunOptions& options) {
  bool ok = options.max_call_depth >= 1 && options.max_call_depth <= kMaxFrames && options.stack_size >= 8 &&
            options.stack_size <= kStackSize;
  if (!ok)
    throw Error(EINVAL, "vm_options",
                "max_call_depth must be 1.." + std::to_string(kMaxFrames) + " and stack_size 8.." +
                    std::to_string(kStackSize));
}

// Drops the regions helpers mapped when the run ends, however it ends.
class RunScope {
 public:
  RunScope(AddressSpace& memory, std::span<uint8_t> ctx, size_t stack_size) : memory_(memory) {
    memory_.begin_run(ctx, stack_size);
  }
  ~RunScope() { memory_.end_run(); }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  AddressSpace& memory_;
};

}  // namespace

RunResult run(const Program& program, AddressSpace& memory, std::span<uint8_t> ctx, const HelperTable& helpers,
              const RunOptions& options) {
  check_options(options);
  if (program.size() == 0) throw Error(EINVAL, "vm_options", "program was not prepared");
  RunScope scope(memory, ctx, options.stack_size);
  if (options.origins) options.origins->begin_run(memory);
  return Machine(program, memory, helpers, options).run(AddressSpace::base_of(kCtxRegion));
}

}  // namespace bpfsig::vm
