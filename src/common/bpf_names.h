// SPDX-License-Identifier: Apache-2.0
// The names of Linux 6.18's enum bpf_map_type and enum bpf_prog_type, as
// libbpf (libbpf_bpf_*_type_str) and bpftool spell them: "perf_event_array",
// "tracepoint". Kept here, below both the real-kernel layer (sys) and the
// model (kmodel), which may not include each other.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace bpfsig {

// nullopt for a type 6.18 does not have.
std::optional<std::string_view> bpf_map_type_str(uint32_t type);
std::optional<std::string_view> bpf_prog_type_str(uint32_t type);

}  // namespace bpfsig
