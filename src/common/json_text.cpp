// SPDX-License-Identifier: Apache-2.0
#include "bpfsig/json_text.h"

namespace bpfsig {

std::string json_text(const nlohmann::ordered_json& j, JsonStyle style) {
  const int indent = style == JsonStyle::kPretty ? 2 : -1;
  // ensure_ascii=false keeps valid UTF-8 as it is; replace turns each invalid
  // byte into U+FFFD instead of throwing.
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace bpfsig
