// SPDX-License-Identifier: Apache-2.0
// run(): the interpreter loop. One switch over prepared Ops; the loop
// allocates nothing and every memory access goes through
// AddressSpace::translate. Arithmetic follows the kernel's interpreter
// (kernel/bpf/core.c, ___bpf_prog_run) plus the verifier's rewrites of
// division by zero (do_misc_fixups), computed in unsigned arithmetic so no
// input is undefined behaviour in C++.
#include <bit>
#include <cerrno>
#include <cstring>
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

struct Frame {
  const Op* return_to;
  uint64_t saved[5];  // r6..r9 and r10
};

class Machine {
 public:
  Machine(const Program& program, AddressSpace& memory, const HelperTable& helpers, const RunOptions& options)
      : ops_(program.ops()), memory_(memory), helpers_(helpers), options_(options) {}

  RunResult run(uint64_t ctx_address) {
    reg_[1] = ctx_address;
    reg_[10] = frame_top(0);
    RunResult result;
    result.fault = execute(result.instructions);
    result.r0 = reg_[0];
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

  uint64_t address(const Op& op, uint8_t base) const { return reg_[base] + sign_extend(op.off); }

  std::optional<Fault> call_helper(const Op& op);
  std::optional<Fault> atomic32(const Op& op);
  std::optional<Fault> atomic64(const Op& op);
  std::optional<Fault> execute(uint64_t& executed);

  const Op* ops_;
  AddressSpace& memory_;
  const HelperTable& helpers_;
  const RunOptions& options_;
  uint64_t reg_[11] = {};
  Frame frames_[kMaxFrames] = {};
};

std::optional<Fault> Machine::call_helper(const Op& op) {
  auto id = static_cast<int32_t>(op.imm);
  const Helper* helper = helpers_.find(id);
  if (!helper) {
    std::string_view name = isa::helper_name(id);
    return fault("unknown_helper", op, "no helper " + std::string(name.empty() ? "" : name) + "#" + std::to_string(id));
  }
  HelperContext context(memory_, pc_of(op), id);
  try {
    reg_[0] = (*helper)(context, &reg_[1]);
  } catch (FaultSignal& signal) {
    return std::move(signal.fault);
  }
  return std::nullopt;
}

// BPF_ATOMIC on a u32: fetched values are zero-extended; cmpxchg compares
// the low 32 bits of r0.
std::optional<Fault> Machine::atomic32(const Op& op) {
  uint64_t addr = address(op, op.dst);
  AccessFault why = AccessFault::kNone;
  uint8_t* p = memory_.translate(addr, 4, true, &why);
  if (!p) return memory_fault(op, addr, 4, true, why);
  uint32_t old = load<uint32_t>(p), value = static_cast<uint32_t>(reg_[op.src]);
  auto operation = static_cast<int32_t>(op.imm);
  switch (operation & ~isa::kAtomicFetch) {
    case isa::kAtomicAdd: store<uint32_t>(p, old + value); break;
    case isa::kAtomicOr: store<uint32_t>(p, old | value); break;
    case isa::kAtomicAnd: store<uint32_t>(p, old & value); break;
    case isa::kAtomicXor: store<uint32_t>(p, old ^ value); break;
    case isa::kAtomicXchg & ~isa::kAtomicFetch: store<uint32_t>(p, value); break;
    default:  // cmpxchg
      if (old == static_cast<uint32_t>(reg_[0])) store<uint32_t>(p, value);
      reg_[0] = old;
      return std::nullopt;
  }
  if (operation & isa::kAtomicFetch) reg_[op.src] = old;
  return std::nullopt;
}

std::optional<Fault> Machine::atomic64(const Op& op) {
  uint64_t addr = address(op, op.dst);
  AccessFault why = AccessFault::kNone;
  uint8_t* p = memory_.translate(addr, 8, true, &why);
  if (!p) return memory_fault(op, addr, 8, true, why);
  uint64_t old = load<uint64_t>(p), value = reg_[op.src];
  auto operation = static_cast<int32_t>(op.imm);
  switch (operation & ~isa::kAtomicFetch) {
    case isa::kAtomicAdd: store<uint64_t>(p, old + value); break;
    case isa::kAtomicOr: store<uint64_t>(p, old | value); break;
    case isa::kAtomicAnd: store<uint64_t>(p, old & value); break;
    case isa::kAtomicXor: store<uint64_t>(p, old ^ value); break;
    case isa::kAtomicXchg & ~isa::kAtomicFetch: store<uint64_t>(p, value); break;
    default:  // cmpxchg
      if (old == reg_[0]) store<uint64_t>(p, value);
      reg_[0] = old;
      return std::nullopt;
  }
  if (operation & isa::kAtomicFetch) reg_[op.src] = old;
  return std::nullopt;
}

// The cases are generated per width and operand form; `a` is the
// destination's value and `b` the operand, both of the operation's width.
#define BPFSIG_ALU(name, expr)                                                   \
  case name##64K: {                                                              \
    const uint64_t a = reg_[op.dst], b = op.imm;                                 \
    reg_[op.dst] = (expr);                                                       \
    break;                                                                       \
  }                                                                              \
  case name##64X: {                                                              \
    const uint64_t a = reg_[op.dst], b = reg_[op.src];                           \
    reg_[op.dst] = (expr);                                                       \
    break;                                                                       \
  }                                                                              \
  case name##32K: {                                                              \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]), b = static_cast<uint32_t>(op.imm); \
    reg_[op.dst] = static_cast<uint32_t>(expr);                                  \
    break;                                                                       \
  }                                                                              \
  case name##32X: {                                                              \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]), b = static_cast<uint32_t>(reg_[op.src]); \
    reg_[op.dst] = static_cast<uint32_t>(expr);                                  \
    break;                                                                       \
  }

// Signed division: the immediate forms can overflow too (MIN / -1).
#define BPFSIG_SIGNED_DIVISION(name, fn)                                         \
  case name##64K:                                                                \
  case name##64X: {                                                              \
    const uint64_t a = reg_[op.dst], b = op.code == name##64K ? op.imm : reg_[op.src]; \
    if (options_.strict_arith && signed_overflow(a, b)) return overflow_fault(op); \
    reg_[op.dst] = fn(a, b);                                                     \
    break;                                                                       \
  }                                                                              \
  case name##32K:                                                                \
  case name##32X: {                                                              \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]);                      \
    const uint32_t b = static_cast<uint32_t>(op.code == name##32K ? op.imm : reg_[op.src]); \
    if (options_.strict_arith && signed_overflow(a, b)) return overflow_fault(op); \
    reg_[op.dst] = fn(a, b);                                                     \
    break;                                                                       \
  }

// Shifts: an immediate is below the width (validate() checks it); a register
// amount is masked as the kernel does, or refused when strict.
#define BPFSIG_SHIFT(name, expr)                                                             \
  case name##64K: {                                                                          \
    const uint64_t a = reg_[op.dst], n = op.imm;                                             \
    reg_[op.dst] = (expr);                                                                   \
    break;                                                                                   \
  }                                                                                          \
  case name##64X: {                                                                          \
    const uint64_t a = reg_[op.dst];                                                         \
    uint64_t n = reg_[op.src];                                                               \
    if (n >= 64) [[unlikely]] {                                                              \
      if (options_.strict_arith) return shift_fault(op, n, 64);                              \
      n &= 63;                                                                               \
    }                                                                                        \
    reg_[op.dst] = (expr);                                                                   \
    break;                                                                                   \
  }                                                                                          \
  case name##32K: {                                                                          \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]), n = static_cast<uint32_t>(op.imm); \
    reg_[op.dst] = static_cast<uint32_t>(expr);                                              \
    break;                                                                                   \
  }                                                                                          \
  case name##32X: {                                                                          \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]);                                  \
    uint64_t n = reg_[op.src];                                                               \
    if (n >= 32) [[unlikely]] {                                                              \
      if (options_.strict_arith) return shift_fault(op, n, 32);                              \
      n &= 31;                                                                               \
    }                                                                                        \
    reg_[op.dst] = static_cast<uint32_t>(expr);                                              \
    break;                                                                                   \
  }

#define BPFSIG_JUMP(name, expr)                                                  \
  case name##64K: {                                                              \
    const uint64_t a = reg_[op.dst], b = op.imm;                                 \
    if (expr) ip = ops_ + op.target;                                             \
    break;                                                                       \
  }                                                                              \
  case name##64X: {                                                              \
    const uint64_t a = reg_[op.dst], b = reg_[op.src];                           \
    if (expr) ip = ops_ + op.target;                                             \
    break;                                                                       \
  }                                                                              \
  case name##32K: {                                                              \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]), b = static_cast<uint32_t>(op.imm); \
    if (expr) ip = ops_ + op.target;                                             \
    break;                                                                       \
  }                                                                              \
  case name##32X: {                                                              \
    const uint32_t a = static_cast<uint32_t>(reg_[op.dst]), b = static_cast<uint32_t>(reg_[op.src]); \
    if (expr) ip = ops_ + op.target;                                             \
    break;                                                                       \
  }

#define BPFSIG_LOAD(code, type)                                                  \
  case code: {                                                                   \
    const uint64_t addr = address(op, op.src);                                   \
    const uint8_t* p = memory_.translate(addr, sizeof(type), false, &why);       \
    if (!p) [[unlikely]] return memory_fault(op, addr, sizeof(type), false, why); \
    reg_[op.dst] = static_cast<uint64_t>(load<type>(p));                         \
    break;                                                                       \
  }

#define BPFSIG_STORE(code, type, value)                                          \
  case code: {                                                                   \
    const uint64_t addr = address(op, op.dst);                                   \
    uint8_t* p = memory_.translate(addr, sizeof(type), true, &why);              \
    if (!p) [[unlikely]] return memory_fault(op, addr, sizeof(type), true, why); \
    store<type>(p, static_cast<type>(value));                                    \
    break;                                                                       \
  }

std::optional<Fault> Machine::execute(uint64_t& executed) {
  const Op* ip = ops_;
  const uint64_t budget = options_.budget;
  size_t depth = 0;
  AccessFault why = AccessFault::kNone;
  for (;;) {
    const Op& op = *ip++;
    if (executed == budget) [[unlikely]]
      return fault("budget_exhausted", op, "instruction budget of " + std::to_string(budget) + " exhausted");
    ++executed;
    switch (op.code) {
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

      case Neg64: reg_[op.dst] = 0 - reg_[op.dst]; break;
      case Neg32: reg_[op.dst] = 0u - static_cast<uint32_t>(reg_[op.dst]); break;
      case Movsx64From8: reg_[op.dst] = sign_extend(static_cast<int8_t>(reg_[op.src])); break;
      case Movsx64From16: reg_[op.dst] = sign_extend(static_cast<int16_t>(reg_[op.src])); break;
      case Movsx64From32: reg_[op.dst] = sign_extend(static_cast<int32_t>(reg_[op.src])); break;
      case Movsx32From8: reg_[op.dst] = static_cast<uint32_t>(static_cast<int8_t>(reg_[op.src])); break;
      case Movsx32From16: reg_[op.dst] = static_cast<uint32_t>(static_cast<int16_t>(reg_[op.src])); break;
      case Trunc16: reg_[op.dst] = static_cast<uint16_t>(reg_[op.dst]); break;
      case Trunc32: reg_[op.dst] = static_cast<uint32_t>(reg_[op.dst]); break;
      case Nop: break;
      case Bswap16: reg_[op.dst] = __builtin_bswap16(static_cast<uint16_t>(reg_[op.dst])); break;
      case Bswap32: reg_[op.dst] = __builtin_bswap32(static_cast<uint32_t>(reg_[op.dst])); break;
      case Bswap64: reg_[op.dst] = __builtin_bswap64(reg_[op.dst]); break;

      BPFSIG_LOAD(Ldx8, uint8_t)
      BPFSIG_LOAD(Ldx16, uint16_t)
      BPFSIG_LOAD(Ldx32, uint32_t)
      BPFSIG_LOAD(Ldx64, uint64_t)
      BPFSIG_LOAD(Ldxs8, int8_t)
      BPFSIG_LOAD(Ldxs16, int16_t)
      BPFSIG_LOAD(Ldxs32, int32_t)
      BPFSIG_STORE(St8, uint8_t, op.imm)
      BPFSIG_STORE(St16, uint16_t, op.imm)
      BPFSIG_STORE(St32, uint32_t, op.imm)
      BPFSIG_STORE(St64, uint64_t, op.imm)
      BPFSIG_STORE(Stx8, uint8_t, reg_[op.src])
      BPFSIG_STORE(Stx16, uint16_t, reg_[op.src])
      BPFSIG_STORE(Stx32, uint32_t, reg_[op.src])
      BPFSIG_STORE(Stx64, uint64_t, reg_[op.src])
      case Atomic32:
        if (auto f = atomic32(op)) return f;
        break;
      case Atomic64:
        if (auto f = atomic64(op)) return f;
        break;

      case LdImm64:
        reg_[op.dst] = op.imm;
        ++ip;  // over the second slot
        break;
      case Ja: ip = ops_ + op.target; break;
      case CallHelper:
        if (auto f = call_helper(op)) return f;
        break;
      case CallLocal: {
        if (depth + 1 >= options_.max_call_depth)
          return fault("call_depth", op, "call depth exceeds " + std::to_string(options_.max_call_depth) + " frames");
        frames_[depth] = Frame{ip, {reg_[6], reg_[7], reg_[8], reg_[9], reg_[10]}};
        reg_[10] = frame_top(++depth);
        ip = ops_ + op.target;
        break;
      }
      case Exit: {
        if (depth == 0) return std::nullopt;
        const Frame& caller = frames_[--depth];
        std::memcpy(&reg_[6], caller.saved, sizeof caller.saved);
        ip = caller.return_to;
        break;
      }
      case Unsupported: return fault("unsupported", op, unsupported_what(op.imm));
      default: __builtin_unreachable();  // prepare() emits only the Codes above; saves a range check
    }
  }
}

#undef BPFSIG_ALU
#undef BPFSIG_SIGNED_DIVISION
#undef BPFSIG_SHIFT
#undef BPFSIG_JUMP
#undef BPFSIG_LOAD
#undef BPFSIG_STORE

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
  return Machine(program, memory, helpers, options).run(AddressSpace::base_of(kCtxRegion));
}

}  // namespace bpfsig::vm
