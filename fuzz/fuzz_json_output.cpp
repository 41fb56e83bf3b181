// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: JSON output of arbitrary strings. File names, program
// and map names, comm and error messages reach -j output from untrusted
// input; bytes that are not UTF-8 made nlohmann's dump() throw
// (type_error.316) and every -j command abort. The input is cut at NUL bytes
// into strings, which are put into an error object, an audit record and a sim
// run, and rendered through json_text (and the renderers built on it) in both
// styles. Nothing may throw, the text must parse back as JSON, and a string
// that was valid UTF-8 must come back unchanged. Seeds:
// fuzz/corpus/fuzz_json_output/ (ASCII, UTF-8, and a name with \xff).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpfsig/json_text.h"
#include "bpfsig/lsm.h"
#include "bpfsig/sim.h"

namespace {

using Json = nlohmann::ordered_json;

std::vector<std::string> split_at_nul(const uint8_t* data, size_t size) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      out.emplace_back();
    else
      out.back().push_back(static_cast<char>(data[i]));
  }
  while (out.size() < 3) out.emplace_back();
  return out;
}

// nlohmann's parser refuses ill-formed UTF-8 in a string (and raw control
// characters, which only makes the check below skip more inputs).
bool is_utf8(const std::string& s) { return Json::accept("\"" + s + "\""); }

// Parses text (aborting if it is not JSON) and checks that a string that was
// valid UTF-8 came through unchanged at pointer.
void check_round_trip(const std::string& text, const Json::json_pointer& pointer, const std::string& original) {
  Json back;
  try {
    back = Json::parse(text);
  } catch (const Json::exception&) {
    std::abort();  // the output is not JSON
  }
  if (is_utf8(original) && original.find('"') == std::string::npos && original.find('\\') == std::string::npos &&
      back.at(pointer).get<std::string>() != original)
    std::abort();
}

void check_error_object(const std::string& message, const std::string& kind) {
  const Json j{{"ok", false},
               {"error", {{"errno", 22}, {"errno_name", "EINVAL"}, {"kind", kind}, {"message", message}}}};
  for (auto style : {bpfsig::JsonStyle::kCompact, bpfsig::JsonStyle::kPretty}) {
    const std::string text = bpfsig::json_text(j, style);
    if (style == bpfsig::JsonStyle::kCompact && text.find('\n') != std::string::npos) std::abort();
    check_round_trip(text, Json::json_pointer("/error/message"), message);
  }
}

void check_audit_record(const std::string& comm) {
  bpfsig::lsm::AuditRecord r;
  r.comm = comm;
  r.lsm = "signed-only";
  check_round_trip(r.to_json_line(), Json::json_pointer("/comm"), comm);
}

void check_sim_run(const std::string& file, const std::string& scenario) {
  bpfsig::sim::RunResult run;
  run.file = file;
  run.scenario = scenario;
  run.scheme = "loader-hash";
  for (auto style : {bpfsig::JsonStyle::kCompact, bpfsig::JsonStyle::kPretty})
    check_round_trip(bpfsig::sim::runs_json({run}, style), Json::json_pointer("/runs/0/file"), file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> s = split_at_nul(data, size);
  check_error_object(s[0], s[1]);
  check_audit_record(s[1]);
  check_sim_run(s[0], s[2]);
  return 0;
}
