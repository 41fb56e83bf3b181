// SPDX-License-Identifier: Apache-2.0
// bpf_sys_bpf (helper 166): a program's nested bpf() command, decoded from
// the union bpf_attr it built in VM memory and carried out on the calling
// process with kernel == true (kern_sys_bpf -> __sys_bpf).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "bpfsig/kmodel.h"
#include "bpfsig/vm.h"

namespace bpfsig::kmodel {

// r1 = cmd, r2 = attr (VM address), r3 = attr size. Returns what the
// command returns (an fd, 0) or -errno; a bad attr range ends the run.
uint64_t sys_bpf(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const uint64_t args[5]);

// ---- traced runs (sys_bpf_trace.cpp): ctx.origins() must be set ----

// The provenance of [addr, addr+len) of the running program's memory;
// "metadata" is relative to the value of the map with metadata_map_id.
Provenance provenance_of(const vm::HelperContext& ctx, uint64_t addr, uint64_t len, uint32_t metadata_map_id);
// The attr fields of command cmd (as the loader passed them at attr_addr),
// with the fd fields resolved to object ids by fd_to_id.
TracedCall trace_call(const vm::HelperContext& ctx, const std::string& command, uint32_t cmd, uint64_t attr_addr,
                      ByteView attr, const std::function<uint32_t(int)>& fd_to_id, uint32_t metadata_map_id);
// Adds the len bytes at addr (an attr pointer) as data `name`.
void trace_data(const vm::HelperContext& ctx, TracedCall& call, const std::string& name, uint64_t addr, uint64_t len,
                uint32_t metadata_map_id);

}  // namespace bpfsig::kmodel
