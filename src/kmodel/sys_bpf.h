// SPDX-License-Identifier: Apache-2.0
// bpf_sys_bpf (helper 166): a program's nested bpf() command, decoded from
// the union bpf_attr it built in VM memory and carried out on the calling
// process with kernel == true (kern_sys_bpf -> __sys_bpf).
#pragma once

#include <cstdint>

#include "bpfsig/kmodel.h"
#include "bpfsig/vm.h"

namespace bpfsig::kmodel {

// r1 = cmd, r2 = attr (VM address), r3 = attr size. Returns what the
// command returns (an fd, 0) or -errno; a bad attr range ends the run.
uint64_t sys_bpf(Kernel& kernel, Process& proc, vm::HelperContext& ctx, const uint64_t args[5]);

}  // namespace bpfsig::kmodel
