// SPDX-License-Identifier: Apache-2.0
// The one way bpfsig turns a JSON value into text. File names, program and
// map names, comm and error messages come from untrusted input and may hold
// bytes that are not UTF-8; nlohmann's default dump() throws on those
// (type_error.316), which aborted `-j` commands. This never throws on them:
// each invalid byte becomes U+FFFD (docs/cli.md, "Strings in JSON output").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace bpfsig {

enum class JsonStyle {
  kCompact,  // one line, no spaces: the default of -j
  kPretty,   // indented by 2: -p/--pretty
};

std::string json_text(const nlohmann::ordered_json& j, JsonStyle style = JsonStyle::kCompact);

}  // namespace bpfsig
