// SPDX-License-Identifier: Apache-2.0
// The bpfsig command: one function per subcommand, each a thin layer that turns
// options into library calls and library results into human or JSON output.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/json_text.h"
#include "bpfsig/verify.h"
#include "cli/usage.h"

namespace bpfsig::cli {

using Json = nlohmann::ordered_json;

// Options every subcommand has.
struct Common {
  bool json = false;    // -j/--json, also set by -p
  bool pretty = false;  // -p/--pretty: indented JSON instead of one line
  JsonStyle style() const { return pretty ? JsonStyle::kPretty : JsonStyle::kCompact; }
};

// -j/--json and -p/--pretty (which implies -j) on cmd: main adds them to the
// program too, so they work before the subcommand as well as after it.
void add_output_flags(CLI::App& cmd, Common& common);

// A top-level command: the name and description that the program's help and
// its usage errors list, and what gives the command its options, subcommands
// and callback (main does that only for a command the command line names).
struct Command {
  const char* name;
  const char* description;
  void (*define)(CLI::App* cmd, Common& common);
};

extern const Command kCommandKeygen, kCommandSign, kCommandVerify, kCommandInspect, kCommandLoad, kCommandRun,
    kCommandPolicy, kCommandSim, kCommandEnforce;

// Shared rendering. Every JSON document goes out through print_json (or, for
// sim, json_text directly): never nlohmann's throwing dump().
void print_json(const Common& common, const Json& j, std::ostream& os = std::cout);
// An error as docs/errors.md says: one line on stderr, `bpfsig COMMAND:
// MESSAGE [ERRNO_NAME, kind]`, and with -j the error object on stdout.
void report_error(const std::string& command, const Error& e, const Common& common);
// The exit code of an error: 2 for bad usage, 1 for everything else.
int exit_code_for(const Error& e);
Json cert_json(const crypto::CertInfo& c);
Json chain_json(const verify::ChainCheck& c);
Json sigcheck_json(const crypto::SigCheck& s);
Json report_json(const verify::Report& r);
std::string describe_layout(const verify::ChainCheck& c);
std::string describe_target(const verify::ChainCheck& c);

// The Hornet signed attribute (src/cli/hornet_output.cpp).
Json hornet_json(const crypto::HornetAttribute& a);
// metadata_sha256 (hex), when given, marks the hash that is the metadata map's.
void print_hornet_attribute(const crypto::HornetAttribute& a, const std::string& indent,
                            const std::string& metadata_sha256 = "");

// A text input (policy files): read_file's bytes as a string.
std::string read_text_file(const std::string& path);

// -i arguments: files or directories of certificates.
std::vector<crypto::Certificate> load_trusted(const std::vector<std::string>& paths);

// Set by a subcommand whose result is "no" (verification failed, load
// refused): main() exits with it after the output is printed.
extern int g_exit_code;

// Reads a signing key as every command does (keyopts.cpp): --pass in openssl's
// forms (empty: BPFSIG_KEY_PASS), group/world-readable files refused unless
// insecure_key_perms.
crypto::PrivateKey load_signing_key(const std::string& key_path, const std::string& pass_spec, bool insecure_key_perms);
// The file a --pass file:PATH reads (an input of the command), or "".
std::string passphrase_file(const std::string& pass_spec);

}  // namespace bpfsig::cli
