// SPDX-License-Identifier: Apache-2.0
#include "kmodel/reach.h"

#include <array>
#include <cstdint>
#include <set>

namespace bpfsig::kmodel {
namespace {

// What the walk knows of a register.
struct Value {
  enum Kind : uint8_t { kUnknown, kConst, kNonNull } kind = kUnknown;
  uint64_t v = 0;
  bool operator==(const Value&) const = default;
  static Value constant(uint64_t v) { return {kConst, v}; }
  static Value non_null() { return {kNonNull, 0}; }
  bool nonzero() const { return kind == kNonNull || (kind == kConst && v != 0); }
};

Value join(const Value& a, const Value& b) {
  if (a == b) return a;
  if (a.nonzero() && b.nonzero()) return Value::non_null();
  return {};
}

constexpr size_t kRegs = 11;
using State = std::array<Value, kRegs>;

bool join_into(std::optional<State>& into, const State& from) {
  if (!into) {
    into = from;
    return true;
  }
  bool changed = false;
  for (size_t r = 0; r < kRegs; ++r) {
    Value j = join((*into)[r], from[r]);
    if (!(j == (*into)[r])) {
      (*into)[r] = j;
      changed = true;
    }
  }
  return changed;
}

uint64_t sext32(int32_t imm) { return static_cast<uint64_t>(static_cast<int64_t>(imm)); }

// ALU on two known operands, as the kernel computes it (division by zero
// gives 0, modulo by zero keeps the dividend); nullopt for what the walk
// does not fold (signed division, byte swaps).
std::optional<uint64_t> fold(uint8_t op, uint64_t a, uint64_t b, bool is64, int16_t off) {
  if (!is64) {
    a = static_cast<uint32_t>(a);
    b = static_cast<uint32_t>(b);
  }
  const unsigned width = is64 ? 64 : 32;
  uint64_t r = 0;
  switch (op) {
    case isa::kAluAdd: r = a + b; break;
    case isa::kAluSub: r = a - b; break;
    case isa::kAluMul: r = a * b; break;
    case isa::kAluDiv: if (off) return std::nullopt; r = b ? a / b : 0; break;
    case isa::kAluMod: if (off) return std::nullopt; r = b ? a % b : a; break;
    case isa::kAluOr: r = a | b; break;
    case isa::kAluAnd: r = a & b; break;
    case isa::kAluXor: r = a ^ b; break;
    case isa::kAluLsh: r = a << (b & (width - 1)); break;
    case isa::kAluRsh: r = a >> (b & (width - 1)); break;
    case isa::kAluArsh:
      r = is64 ? static_cast<uint64_t>(static_cast<int64_t>(a) >> (b & 63))
               : static_cast<uint32_t>(static_cast<int32_t>(a) >> (b & 31));
      break;
    default: return std::nullopt;
  }
  return is64 ? r : static_cast<uint32_t>(r);
}

void step_alu(const isa::Insn& in, State& s) {
  const bool is64 = isa::insn_class(in) == isa::kClassAlu64;
  const uint8_t op = in.code & 0xf0;
  Value& dst = s[in.dst & 0xf];
  const Value src = (in.code & isa::kSrcX) ? s[in.src & 0xf] : Value::constant(sext32(in.imm));
  if (op == isa::kAluMov) {
    if (in.off) dst = {};  // movsx, address-space casts: not folded
    else if (is64) dst = src;
    else dst = src.kind == Value::kConst ? Value::constant(static_cast<uint32_t>(src.v)) : Value{};
    return;
  }
  if (op == isa::kAluNeg) {
    dst = dst.kind == Value::kConst ? Value::constant(is64 ? 0 - dst.v : static_cast<uint32_t>(0 - dst.v)) : Value{};
    return;
  }
  if (dst.kind != Value::kConst || src.kind != Value::kConst) {
    dst = {};
    return;
  }
  std::optional<uint64_t> r = fold(op, dst.v, src.v, is64, in.off);
  dst = r ? Value::constant(*r) : Value{};
}

// The outcome of a conditional jump when the walk knows it.
std::optional<bool> branch_taken(uint8_t op, const Value& a, const Value& b, bool is64) {
  if (a.kind == Value::kConst && b.kind == Value::kConst) {
    const uint64_t x = is64 ? a.v : static_cast<uint32_t>(a.v), y = is64 ? b.v : static_cast<uint32_t>(b.v);
    const int64_t sx = is64 ? static_cast<int64_t>(x) : static_cast<int32_t>(x);
    const int64_t sy = is64 ? static_cast<int64_t>(y) : static_cast<int32_t>(y);
    switch (op) {
      case isa::kJmpJeq: return x == y;
      case isa::kJmpJne: return x != y;
      case isa::kJmpJgt: return x > y;
      case isa::kJmpJge: return x >= y;
      case isa::kJmpJlt: return x < y;
      case isa::kJmpJle: return x <= y;
      case isa::kJmpJsgt: return sx > sy;
      case isa::kJmpJsge: return sx >= sy;
      case isa::kJmpJslt: return sx < sy;
      case isa::kJmpJsle: return sx <= sy;
      case isa::kJmpJset: return (x & y) != 0;
      default: return std::nullopt;
    }
  }
  // A pointer the verifier knows is not NULL, against 0 (64-bit compares only).
  if (is64 && (op == isa::kJmpJeq || op == isa::kJmpJne) && b.kind == Value::kConst && b.v == 0 &&
      a.kind == Value::kNonNull)
    return op == isa::kJmpJne;
  return std::nullopt;
}

bool is_refused_when_reached(const isa::Insn& in) {
  if (in.code != (isa::kClassJmp | isa::kJmpCall)) return false;
  return (in.src == 0 && in.imm == kCorePoisonHelper) || (in.src == isa::kPseudoKfuncCall && in.imm == 0);
}

std::string refusal(const isa::Insn& in) {
  return in.src == 0 ? "invalid func unknown#" + std::to_string(kCorePoisonHelper)
                     : "invalid kernel function call not eliminated in verifier pass";
}

class Walk {
 public:
  explicit Walk(const std::vector<isa::Insn>& insns) : insns_(insns), in_(insns.size()) {}

  void run() {
    State entry{};
    entry[10] = Value::non_null();  // the frame pointer; r1, the ctx, may be NULL (SYSCALL)
    push(0, entry);
    while (!todo_.empty()) {
      const size_t pc = *todo_.begin();
      todo_.erase(todo_.begin());
      step(pc, *in_[pc]);
    }
  }
  bool reached(size_t pc) const { return in_[pc].has_value(); }

 private:
  void push(int64_t pc, const State& s) {
    if (pc < 0 || static_cast<size_t>(pc) >= insns_.size()) return;  // isa::validate refused such jumps
    if (join_into(in_[static_cast<size_t>(pc)], s)) todo_.insert(static_cast<size_t>(pc));
  }

  static void clobber_call(State& s) {
    for (size_t r = 0; r <= 5; ++r) s[r] = {};
  }

  void step(size_t pc, State s) {
    const isa::Insn& in = insns_[pc];
    const uint8_t cls = isa::insn_class(in);
    const int64_t next = static_cast<int64_t>(pc) + 1;
    if (cls == isa::kClassAlu || cls == isa::kClassAlu64) {
      step_alu(in, s);
      return push(next, s);
    }
    if (cls == isa::kClassLdx) {
      s[in.dst & 0xf] = {};
      return push(next, s);
    }
    if (cls == isa::kClassSt || cls == isa::kClassStx) {
      if ((in.code & 0xe0) == isa::kModeAtomic) {
        if (in.imm & 0x01) s[in.src & 0xf] = {};  // BPF_FETCH
        if (in.imm == 0xf1) s[0] = {};             // BPF_CMPXCHG
      }
      return push(next, s);
    }
    if (cls == isa::kClassLd) {
      if (isa::is_ld_imm64(in)) {
        const uint64_t hi = pc + 1 < insns_.size() ? static_cast<uint32_t>(insns_[pc + 1].imm) : 0;
        s[in.dst & 0xf] = in.src == 0 ? Value::constant(static_cast<uint32_t>(in.imm) | hi << 32) : Value::non_null();
        if (in.src == isa::kPseudoFunc) push(next + in.imm, entry_state());  // a callback's body
        return push(next + 1, s);
      }
      clobber_call(s);  // LD_ABS / LD_IND
      return push(next, s);
    }
    step_jump(pc, in, s, cls == isa::kClassJmp);
  }

  State entry_state() const {
    State e{};
    e[10] = Value::non_null();
    return e;
  }

  void step_jump(size_t pc, const isa::Insn& in, State s, bool is64) {
    const uint8_t op = in.code & 0xf0;
    const int64_t next = static_cast<int64_t>(pc) + 1;
    if (op == isa::kJmpExit) return;
    if (op == isa::kJmpJa) return push(next + (is64 ? in.off : in.imm), s);
    if (op == isa::kJmpCall) {
      if (is64 && in.src == isa::kPseudoCall) {
        State callee = entry_state();
        for (size_t r = 1; r <= 5; ++r) callee[r] = s[r];
        push(next + in.imm, callee);
      }
      clobber_call(s);
      return push(next, s);
    }
    if (op == 0xe0) {  // may_goto: either way
      push(next, s);
      return push(next + in.off, s);
    }
    const Value b = (in.code & isa::kSrcX) ? s[in.src & 0xf] : Value::constant(is64 ? sext32(in.imm) : static_cast<uint32_t>(in.imm));
    const std::optional<bool> taken = branch_taken(op, s[in.dst & 0xf], b, is64);
    if (!taken || *taken) {
      State t = s;
      if (is64 && op == isa::kJmpJeq && b.kind == Value::kConst) t[in.dst & 0xf] = b;  // equal on this edge
      push(next + in.off, t);
    }
    if (!taken || !*taken) {
      State f = s;
      if (is64 && op == isa::kJmpJne && b.kind == Value::kConst) f[in.dst & 0xf] = b;
      push(next, f);
    }
  }

  const std::vector<isa::Insn>& insns_;
  std::vector<std::optional<State>> in_;
  std::set<size_t> todo_;
};

// The edges check_cfg() follows from the instruction at pc.
std::vector<int64_t> cfg_successors(const std::vector<isa::Insn>& insns, size_t pc) {
  const isa::Insn& in = insns[pc];
  const uint8_t cls = isa::insn_class(in);
  const int64_t next = static_cast<int64_t>(pc) + 1;
  if (isa::is_ld_imm64(in)) {
    if (in.src == isa::kPseudoFunc) return {next + 1, next + in.imm};
    return {next + 1};
  }
  if (cls != isa::kClassJmp && cls != isa::kClassJmp32) return {next};
  const uint8_t op = in.code & 0xf0;
  if (op == isa::kJmpExit) return {};
  if (op == isa::kJmpJa) return {next + (cls == isa::kClassJmp ? in.off : in.imm)};
  if (op == isa::kJmpCall) {
    if (cls == isa::kClassJmp && in.src == isa::kPseudoCall) return {next, next + in.imm};
    return {next};
  }
  return {next, next + in.off};  // conditional jumps and may_goto
}

}  // namespace

std::optional<size_t> first_unreachable_insn(const std::vector<isa::Insn>& insns) {
  std::vector<bool> seen(insns.size(), false);
  std::vector<size_t> todo;
  if (!insns.empty()) {
    seen[0] = true;
    todo.push_back(0);
  }
  while (!todo.empty()) {
    const size_t pc = todo.back();
    todo.pop_back();
    for (int64_t s : cfg_successors(insns, pc)) {
      if (s < 0 || static_cast<size_t>(s) >= insns.size() || seen[static_cast<size_t>(s)]) continue;
      seen[static_cast<size_t>(s)] = true;
      todo.push_back(static_cast<size_t>(s));
    }
  }
  for (size_t pc = 0; pc < insns.size(); ++pc) {
    if (!seen[pc]) return pc;
    if (isa::is_ld_imm64(insns[pc])) ++pc;  // its second slot goes with it
  }
  return std::nullopt;
}

std::optional<ReachedCall> first_reached_refused_call(const std::vector<isa::Insn>& insns) {
  bool any = false;
  for (const isa::Insn& in : insns) any = any || is_refused_when_reached(in);
  if (!any) return std::nullopt;
  Walk walk(insns);
  walk.run();
  for (size_t pc = 0; pc < insns.size(); ++pc)
    if (is_refused_when_reached(insns[pc]) && walk.reached(pc)) return ReachedCall{pc, refusal(insns[pc])};
  return std::nullopt;
}

}  // namespace bpfsig::kmodel
