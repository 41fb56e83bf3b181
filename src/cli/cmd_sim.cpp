// SPDX-License-Identifier: Apache-2.0
// bpfsig sim: run scenario files on the kernel model (docs/scenarios.md), or
// with --matrix the attack x scheme table of a directory of them.
// Exit 0: every expectation held; 1: one failed; 2: bad input.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/sim.h"
#include "cli/cli.h"

namespace bpfsig::cli {

namespace {

constexpr int kExitBadInput = 2;

struct SimArgs {
  std::vector<std::string> files;
  std::string matrix, examples, output;
  bool markdown = false;
  bool doc = false;
};

// build/bpfsig finds the compiled examples in build/examples; BPFSIG_EXAMPLES_DIR overrides.
std::string default_examples_dir() {
  if (const char* env = std::getenv("BPFSIG_EXAMPLES_DIR"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "examples";
  return (exe.parent_path() / "examples").string();
}

// To standard output, or to -o OUTPUT ("-" is standard output too).
void emit(const std::string& text, const std::string& output) {
  if (output.empty()) {
    std::cout << text;
  } else {
    write_file_atomic(output, text);
  }
}

// The matrix renderings are --matrix's: without it, or two at once, one of
// them would be ignored.
void check_usage(const CLI::App& cmd, const SimArgs& a, const Common& common) {
  const bool matrix = !a.matrix.empty();
  refuse_unless_applies(cmd, "--markdown", matrix, "applies only with --matrix");
  refuse_unless_applies(cmd, "--doc", matrix, "applies only with --matrix");
  refuse_unless_applies(cmd, "--markdown", !a.doc, "and --doc are two renderings: give one");
  refuse_unless_applies(cmd, "--markdown", !common.json, "and -j are two renderings: give one");
  refuse_unless_applies(cmd, "--doc", !common.json, "and -j are two renderings: give one");
  if (matrix && !a.files.empty()) throw usage_error("--matrix takes a directory, not scenario files");
  if (!matrix && a.files.empty()) throw usage_error("give scenario files, or --matrix DIR");
}

// The scenarios (or the --matrix directory) and -o together: -o must not be one of them.
void check_files(const SimArgs& a) {
  std::vector<CommandFile> inputs{{"--matrix", a.matrix}};
  for (const auto& file : a.files) inputs.push_back({"SCENARIO", file});
  check_command_files(inputs, {{"-o", a.output}});
}

void run_sim(const SimArgs& a, const Common& common, const CLI::App& cmd) {
  check_usage(cmd, a, common);
  sim::SimOptions options;
  options.examples_dir = a.examples.empty() ? default_examples_dir() : a.examples;
  try {
    check_files(a);
    if (!a.matrix.empty()) {
      sim::Matrix m = sim::run_matrix(a.matrix, options);
      emit(common.json ? sim::matrix_json(m, common.style())
           : a.doc    ? sim::matrix_document(m)
           : a.markdown ? sim::matrix_markdown(m)
                        : sim::matrix_text(m), a.output);
      if (!m.all_held()) g_exit_code = 1;
      return;
    }
    std::vector<sim::RunResult> runs;
    for (const auto& file : a.files) {
      sim::Scenario sc = sim::load_scenario(file);
      for (auto& run : sim::run_all(sc, options)) runs.push_back(std::move(run));
    }
    emit(common.json ? sim::runs_json(runs, common.style()) : sim::runs_text(runs), a.output);
    for (const auto& run : runs)
      if (!run.passed()) {
        for (const auto& step : run.steps)
          for (const auto& f : step.failures)
            std::cerr << "bpfsig sim: " << run.file << " [" << run.scheme << "]: " << f << "\n";
        g_exit_code = 1;
      }
  } catch (const Error& e) {
    // Bad input (the scenario, its files, the options): exit 2, unlike a failed expectation.
    report_error("sim", e, common);
    g_exit_code = kExitBadInput;
  }
}

void define_sim(CLI::App* sub, Common& common) {
  auto args = std::make_shared<SimArgs>();
  sub->add_option("files", args->files, "Scenario files (- for standard input)");
  sub->add_option("--matrix", args->matrix, "Run every *.toml in DIR with every scheme it lists: attack x scheme table");
  sub->add_flag("--markdown", args->markdown, "With --matrix: a Markdown table");
  sub->add_flag("--doc", args->doc, "With --matrix: docs/attacks.md (the table, then a section per attack)");
  sub->add_option("--examples", args->examples, "Directory of the compiled example objects (default: beside the binary)");
  sub->add_option("-o,--output", args->output, "Write the output to this file (atomically; - for standard output)");
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_sim(*args, common, *sub); });
}

}  // namespace

const Command kCommandSim{"sim", "Run attack/defence scenarios (TOML) on the kernel model", define_sim};

}  // namespace bpfsig::cli
