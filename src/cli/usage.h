// SPDX-License-Identifier: Apache-2.0
// Bad usage (docs/cli.md, "Usage errors"): what the command line itself gets
// wrong, as opposed to what the inputs do. A usage error is a bpfsig::Error of
// kind "usage" (EINVAL), printed like every error and exiting 2.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "bpfsig/error.h"

namespace bpfsig::cli {

constexpr int kExitUsage = 2;

Error usage_error(const std::string& message);

// " (did you mean 'X'?)" for the candidate nearest to word (edit distance, a
// swap of two letters counting one), or "" when none is near.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// An option value that must be one of choices: refused while parsing, with
// the choices and the nearest one. ignore_case for values the library reads
// case-insensitively (--algo).
CLI::Validator one_of(std::vector<std::string> choices, bool ignore_case = false);

// An option that means nothing in this invocation is refused, not ignored:
// when option was given on cmd and does not apply, a usage error
// "OPTION REASON" ("--layout does not apply to --scheme loadtime: ...").
void refuse_unless_applies(const CLI::App& cmd, const std::string& option, bool applies, const std::string& reason);

// The one-line message for a CLI11 parse error: an unknown command or option
// with the nearest known one, a missing command with the list of commands, or
// CLI11's own message (missing option, bad value).
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e);

// The names of cmd's subcommands, in the order they were added.
std::vector<std::string> subcommand_names(const CLI::App& cmd);

}  // namespace bpfsig::cli
