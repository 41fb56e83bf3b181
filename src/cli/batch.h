// SPDX-License-Identifier: Apache-2.0
// Many inputs to one command (`verify A B C`, `sign -o DIR A B C`): the work
// runs on every core, the results come out in input order whatever order they
// finished in, with a progress bar on a terminal and a summary line at the end
// (docs/cli.md, "Many inputs").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace bpfsig::cli {

// What one input gave: its JSON result object, its human report (stdout) and,
// when it failed, the one error line for stderr.
struct BatchItem {
  bool ok = false;
  Json json;
  std::string human;
  std::string error_line;
};

// The JSON object and error line of an input whose work threw.
BatchItem batch_error(const std::string& command, const std::string& input, const Error& e);

// Runs work(input) for every input on up to one thread per core, prints the
// items in input order, then the summary; the exit code is 1 unless every
// input was ok. With --json, one document: {"ok", "results": [...],
// "summary": {"inputs", "ok", "failed", "seconds"}}.
void run_batch(const std::string& command, const std::vector<std::string>& inputs,
               const std::function<BatchItem(const std::string&)>& work, const Common& common);

}  // namespace bpfsig::cli
