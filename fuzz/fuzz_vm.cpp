// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the VM. Any byte string is decoded into instructions;
// what prepare() accepts is run, strict and lenient, with a small budget, a
// ctx, a map value, a read-only region and stub helpers that touch memory
// through the checked HelperContext. Whatever the program does, the run must
// end with a result or a Fault: a crash, a sanitizer report or any exception
// other than bpfsig::Error from prepare() is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/vm.h"

using namespace bpfsig;

namespace {

constexpr uint64_t kMapHandle = 0x5a5a0000;

// bpf_probe_read_kernel(dst, size, src), size capped so a run stays quick.
uint64_t probe_read(vm::HelperContext& ctx, const uint64_t args[5]) {
  std::span<const uint8_t> src = ctx.read(args[2], args[1] & 0xfff);
  ctx.write(args[0], src);
  return 0;
}

struct Environment {
  uint8_t map_value[64] = {};
  uint8_t scratch[32] = {};
  const uint8_t rodata[16] = {1, 2, 3, 4};
  vm::AddressSpace memory;
  uint64_t map_value_address = memory.add("map_value:0", map_value, true);
  uint64_t rodata_address = memory.add_read_only("rodata", rodata);
  vm::HelperTable helpers;

  Environment() {
    helpers.set(1, [this](vm::HelperContext& ctx, const uint64_t args[5]) -> uint64_t {  // map_lookup_elem
      if (args[0] != kMapHandle) ctx.fail("bad_helper_arg", "not a map");
      return ctx.read(args[1], 4)[0] == 0 ? map_value_address : 0;
    });
    helpers.set(113, probe_read);
    helpers.set(7, [](vm::HelperContext&, const uint64_t args[5]) { return args[0] * 31 + 7; });  // prandom-ish
    helpers.set(131, [this](vm::HelperContext& ctx, const uint64_t*) {  // returns fresh memory
      return ctx.map_region("scratch", scratch, true);
    });
  }

  uint64_t resolve(const vm::PseudoLoad& p) const {
    switch (p.src) {
      case isa::kPseudoMapValue: case isa::kPseudoMapIdxValue:
        return (p.imm & 1 ? rodata_address : map_value_address) + static_cast<uint32_t>(p.next_imm);
      case isa::kPseudoBtfId: throw Error(EINVAL, "btf", "no BTF");
      default: return kMapHandle + static_cast<uint32_t>(p.imm);
    }
  }
};

Environment& environment() {
  static Environment env;
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Environment& env = environment();
  std::vector<isa::Insn> prog;
  vm::Program program;
  try {
    prog = isa::decode(ByteView(data, size - size % 8));
    program = vm::prepare(prog, [&](const vm::PseudoLoad& p) { return env.resolve(p); });
  } catch (const Error&) {
    return 0;
  }
  uint8_t ctx[128] = {};
  for (bool strict : {true, false}) {
    vm::RunOptions options{.budget = 4096, .strict_arith = strict};
    vm::RunResult r = vm::run(program, env.memory, ctx, env.helpers, options);
    if (r.instructions > options.budget) std::abort();
    if (r.fault && (r.fault->kind.empty() || r.fault->pc >= program.size() + 1)) std::abort();
  }
  return 0;
}
