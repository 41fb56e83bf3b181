// SPDX-License-Identifier: Apache-2.0
// Rendering of the Hornet signed attribute for inspect and verify.
#include <iostream>

#include "cli/cli.h"

namespace bpfsig::cli {

// {"format":"final"|"v7","maps":[{"index":N|null,"sha256":"hex"|""}]}
Json hornet_json(const crypto::HornetAttribute& a) {
  Json maps = Json::array();
  for (const auto& m : a.maps)
    maps.push_back(Json{{"index", a.format == crypto::HornetFormat::kV7 ? Json(m.index) : Json(nullptr)},
                        {"sha256", to_hex(m.sha)}});
  return Json{{"format", crypto::hornet_format_name(a.format)}, {"maps", maps}};
}

void print_hornet_attribute(const crypto::HornetAttribute& a, const std::string& indent,
                            const std::string& metadata_sha256) {
  std::cout << indent << "hornet:       attribute " << crypto::kHornetAttributeOid << ", format "
            << crypto::hornet_format_name(a.format) << ", " << a.maps.size() << " map hash(es)\n";
  for (const auto& m : a.maps) {
    std::cout << indent << "              ";
    if (a.format == crypto::HornetFormat::kV7) std::cout << "fd_array[" << m.index << "] ";
    std::cout << (m.sha.empty() ? std::string("(empty: skip)") : "sha256 " + to_hex(m.sha));
    if (!m.sha.empty() && to_hex(m.sha) == metadata_sha256) std::cout << " (the metadata map's)";
    std::cout << "\n";
  }
}

}  // namespace bpfsig::cli
