// SPDX-License-Identifier: Apache-2.0
// The README's "A user's journey", as data: its console blocks split into
// steps (a `$ command` line and the output the README shows under it). A block
// whose first line is a comment starting "# On Linux 7.3" runs in the VM
// suite (the host kernel cannot check signatures or run BPF-LSM programs):
// tests/cli/test_readme.cpp runs the other steps on the host, and the VM
// runner (tests/qemu/runner/journey_cases.cpp) runs every step in the 7.3 VM
// and reports the VM steps' output to tests/qemu/test_qemu.cpp. Header-only:
// the runner links no test support.
#pragma once

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace bpfsig::test {

struct JourneyStep {
  std::string command;
  std::string output;  // as the README shows it
  bool on_linux_73 = false;
};

inline constexpr const char* kLinux73Marker = "# On Linux 7.3";

inline std::vector<JourneyStep> journey_steps(const std::string& readme) {
  const size_t begin = readme.find("## A user's journey");
  if (begin == std::string::npos) return {};
  const size_t end = readme.find("\n## ", begin + 1);
  std::istringstream in(readme.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
  std::vector<JourneyStep> steps;
  bool in_console = false, block_on_73 = false, block_start = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "```console") {
      in_console = true;
      block_start = true;
      block_on_73 = false;
      continue;
    }
    if (!in_console) continue;
    if (line == "```") {
      in_console = false;
    } else if (block_start && line.rfind(kLinux73Marker, 0) == 0) {
      block_on_73 = true;
    } else if (line.rfind("$ ", 0) == 0) {
      steps.push_back({line.substr(2), "", block_on_73});
    } else if (!steps.empty()) {
      steps.back().output += line + "\n";
    }
    block_start = false;
  }
  return steps;
}

// What may differ between two honest runs: keys, digests, serial numbers,
// dates, audit timestamps, pids, keyring serials and kernel object ids.
inline std::string normalize_journey_output(std::string text) {
  static const std::regex hex("[0-9a-f]{16,}"), time("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"),
      id("\\b(id|keyring_id|link|prog) +\\d+"), fields("\\b(pid|keyring_serial)=\\d+"),
      stamp("audit\\(\\d+\\.\\d+:(\\d+)\\)");
  text = std::regex_replace(text, hex, "<hex>");
  text = std::regex_replace(text, time, "<time>");
  text = std::regex_replace(text, fields, "$1=N");
  text = std::regex_replace(text, stamp, "audit(<time>:$1)");
  return std::regex_replace(text, id, "$1 N");
}

}  // namespace bpfsig::test
