// SPDX-License-Identifier: Apache-2.0
// Map and program type names, spelled as bpftool (libbpf_bpf_*_type_str) does.
#include <optional>
#include <string_view>

#include "bpfsig/sys.h"
#include "common/bpf_names.h"

namespace bpfsig::sys {
namespace {

// bpftool prints "type N" for a type it does not know.
std::string or_number(std::optional<std::string_view> name, uint32_t type) {
  return name ? std::string(*name) : "type " + std::to_string(type);
}

}  // namespace

std::string map_type_name(uint32_t type) { return or_number(bpf_map_type_str(type), type); }
std::string prog_type_name(uint32_t type) { return or_number(bpf_prog_type_str(type), type); }

}  // namespace bpfsig::sys
