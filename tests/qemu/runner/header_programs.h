// SPDX-License-Identifier: Apache-2.0
// The VM suite's bpftool-header cases (header_programs.cpp).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "bpfsig/bytes.h"

namespace bpfsig::vmtest {

// Runs PAYLOAD/bpftool-header/{bpfsig,bpftool78}, tests/skel/bpftool_header_program.c
// built by scripts/vm/run-suite.sh against bpfsig's loadtime header and
// bpftool 7.8's, with the signer's certificate in the session keyring (the
// program loads with keyring_id -3, as bpftool's users do). Emits
// "bpftool_header/bpfsig" and "bpftool_header/bpftool78": the program's exit
// status and output, or "skipped" with the reason run-suite.sh left.
void run_header_programs(const std::string& payload_dir, const std::string& kernel, ByteView signer_der,
                         const std::function<void(const nlohmann::json&)>& emit);

}  // namespace bpfsig::vmtest
