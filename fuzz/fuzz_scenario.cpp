// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for scenario files: the input is parsed as a scenario
// (no file reads: policy files, bundles and object paths are refused), and a
// scenario that parses with at most kMaxRunSteps steps is run once on the
// kernel model with the examples in $BPFSIG_EXAMPLES_DIR (default
// build-fuzz/examples). Every bpfsig::Error is an answer; a crash, a
// sanitizer report or any other exception is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bpfsig/error.h"
#include "bpfsig/sim.h"

using namespace bpfsig;

namespace {

// Signing and RSA keygen are slow: bound the runs so the parser gets most of the time.
constexpr size_t kMaxRunSteps = 8;

sim::SimOptions fuzz_options() {
  sim::SimOptions o;
  const char* env = std::getenv("BPFSIG_EXAMPLES_DIR");
  o.examples_dir = env && *env ? env : "build-fuzz/examples";
  o.allow_files = false;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const sim::SimOptions options = fuzz_options();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    sim::Scenario s = sim::parse_scenario(text, "fuzz.toml", false);
    if (s.steps.size() > kMaxRunSteps) return 0;
    sim::run_scenario(s, s.schemes.empty() ? "" : s.schemes.front(), options);
  } catch (const Error&) {
  }
  return 0;
}
