// SPDX-License-Identifier: Apache-2.0
// The README's journey in the VM (journey_cases.cpp).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace bpfsig::vmtest {

// On Linux 7.3 only: runs every `$ command` of the README's journey
// (PAYLOAD/journey/README.md, tests/support/readme_journey.h) in order, in a
// checkout-like directory made from PAYLOAD/journey, with this build's
// enforcer where `bpfsig enforce start` looks for it by default; emits
// "readme/N" (N: the step's index in the journey) with the command, its exit
// status and its output for each step of the blocks marked "# On Linux 7.3".
// The other steps run too, silently: the later ones use their files.
void run_journey(const std::string& payload_dir, const std::string& kernel,
                 const std::function<void(const nlohmann::json&)>& emit);

}  // namespace bpfsig::vmtest
