// SPDX-License-Identifier: Apache-2.0
// Entry point: parse, dispatch, and turn any library error into one line on
// stderr (and, with --json, an error object on stdout) and a non-zero exit.
#include <cerrno>
#include <iostream>

#include "bpfsig/error.h"
#include "cli/cli.h"

namespace bpfsig::cli {
int g_exit_code = 0;
}

using bpfsig::cli::Json;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void report_error(const std::string& command, const bpfsig::Error& e, bool json) {
  std::cerr << "bpfsig " << command << ": " << e.what() << " [" << e.err_name() << ", " << e.kind() << "]\n";
  if (json) {
    Json j;
    j["ok"] = false;
    j["error"] = {{"errno", e.err()}, {"errno_name", e.err_name()}, {"kind", e.kind()}, {"message", e.what()}};
    bpfsig::cli::print_json(j);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bpfsig: sign, verify, inspect and load signed BPF light skeletons"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bpfsig 0.1.0");
  bpfsig::cli::Common common;
  bpfsig::cli::add_keygen(app, common);
  bpfsig::cli::add_sign(app, common);
  bpfsig::cli::add_verify(app, common);
  bpfsig::cli::add_inspect(app, common);
  bpfsig::cli::add_load(app, common);
  bpfsig::cli::add_run(app, common);
  bpfsig::cli::add_policy(app, common);
  bpfsig::cli::add_sim(app, common);

  std::string command = argc > 1 ? argv[1] : "";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "bpfsig: " << e.what() << " (see bpfsig --help)\n";
    return kExitUsage;
  } catch (const bpfsig::Error& e) {
    report_error(command, e, common.json);
    return kExitFailure;
  } catch (const std::bad_alloc&) {
    report_error(command, bpfsig::Error(ENOMEM, "out_of_memory", "out of memory"), common.json);
    return kExitFailure;
  } catch (const std::exception& e) {
    report_error(command, bpfsig::Error(EIO, "internal", e.what()), common.json);
    return kExitFailure;
  }
  return bpfsig::cli::g_exit_code;
}
