// SPDX-License-Identifier: Apache-2.0
// The manual page bpfsig(1) and the bash completion, generated from the
// command's own CLI11 definition (the one `--help` prints), so that neither
// can drift from the options the parser accepts (docs/install.md).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace bpfsig::cli {

// An environment variable bpfsig reads, for the manual's ENVIRONMENT section.
struct EnvironmentVariable {
  const char* name;
  const char* meaning;
};
const std::vector<EnvironmentVariable>& environment_variables();

// bpfsig(1) in man(7) roff: every visible command and subcommand with its
// options, then the exit codes and the environment.
std::string man_page(const CLI::App& app, const std::string& version);

// A bash completion script: `complete -F _bpfsig bpfsig`, completing
// commands, their options, and file names for options that take a value.
std::string bash_completion(const CLI::App& app);

// `bpfsig man` and `bpfsig completion bash`: print the two above.
void add_docgen(CLI::App& app, const std::string& version);

}  // namespace bpfsig::cli
