// SPDX-License-Identifier: Apache-2.0
// verify --deep's options and what it prints (docs/deep-verify.md).
#pragma once

#include <string>

#include "bpfsig/deep.h"
#include "cli/cli.h"

namespace bpfsig::cli {

struct DeepArgs {
  bool enabled = false;               // --deep
  bool allow_unsigned_input = false;  // --allow-unsigned-input
  std::string expect;                 // --expect M.json
  std::string vmlinux_btf;            // --btf: the CO-RE target's vmlinux BTF
};

void add_deep_options(CLI::App& verify, DeepArgs& args);

// Prints the manifest (--json) or its summary, the --expect diff on stderr,
// and sets the exit code: 1 when the loader failed in the model, when it
// took unsigned input without --allow-unsigned-input, or when the manifest
// differs from --expect's.
void report_deep(const DeepArgs& args, const std::string& file, const deep::Result& r, const Common& common);

}  // namespace bpfsig::cli
