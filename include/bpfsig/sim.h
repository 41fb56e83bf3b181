// SPDX-License-Identifier: Apache-2.0
// Scenario runner (`bpfsig sim`): TOML scenario files describing keys,
// signed artifacts, tampering and the syscalls of a load, run on the kernel
// model (bpfsig::kmodel) with a chosen profile and LSM stack, with an
// expectation per step. docs/scenarios.md describes the format.
//
// Signing schemes, kernel profiles and LSMs are looked up by name in three
// tables (scheme_table, profile_table, lsm_table in src/sim/tables.cpp): a new
// one plugs in by adding a row, without any change to the format.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/json_text.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "bpfsig/skel.h"

namespace bpfsig::sim {

// Refused before parsing (Error(EFBIG, "scenario")) / while parsing (Error(E2BIG, "scenario")).
inline constexpr size_t kMaxScenarioBytes = 64 * 1024;
inline constexpr size_t kMaxSteps = 128;
// Byte counts a scenario may ask for (append, garbage, truncate, values).
inline constexpr int64_t kMaxScenarioBlob = 64 * 1024;

// Where something is in a scenario file; every parse or run error names it.
struct Where {
  std::string file;
  int64_t line = 0;
  int64_t column = 0;
  std::string key;  // dotted TOML key, e.g. "steps[3].expect.errno"
};
std::string to_string(const Where& where);  // "file:line:column: key"

// A step argument: TOML scalars and arrays of strings.
using ArgValue = std::variant<int64_t, bool, std::string, std::vector<std::string>>;
struct Arg {
  ArgValue value;
  Where where;
};

// What a step should come to. Unset fields are not checked.
struct Expect {
  Where where;
  std::optional<bool> ok;
  std::optional<std::string> errno_name;  // "EKEYREJECTED", "0" for success
  std::optional<std::string> verdict;     // an integrity verdict in some record of the step ("NONE" = none)
  std::optional<std::string> denied_by;   // "hook" or "hook/lsm" of the denying record, "none"
  std::optional<std::string> check;       // StepResult::check, e.g. "loader: -EINVAL"
  std::vector<std::string> audit;         // each a substring of some audit line of the step
  std::optional<int64_t> audit_count;
  std::optional<int64_t> maps, progs;     // created by the step (load / run)
  std::optional<int64_t> retval;          // the loader's return value
  // Every map the skeleton load created has the signed max_entries and (when
  // the signed metadata fills it) the signed value at key 0.
  std::optional<bool> maps_as_signed;
  bool empty() const;
};

struct Step {
  std::string kind;   // keygen, sign, tamper, ctx_rewrite, map_create, map_update, map_freeze, map_hash, load, run, swap
  std::string label;  // optional "name"
  Where where;        // the [[steps]] table
  std::map<std::string, Arg> args;
  std::optional<Expect> expect;                   // for every scheme
  std::map<std::string, Expect> expect_by_scheme;  // [steps.expect.<scheme>]: replaces `expect` for that scheme
};

struct KeyringSpec {
  std::string name;
  Where where;
  std::string id;                 // builtin, secondary, platform, session, user, bpf, own, or a decimal id
  std::vector<std::string> keys;  // keygen names whose certificates it holds
};

struct Scenario {
  std::string file;
  std::string name, description;
  std::string kernel;                // profile name; empty: the scheme's own profile
  std::string lsm;                   // lsm= order; empty: the scheme's default
  std::vector<std::string> schemes;  // run once per scheme
  std::map<std::string, KeyringSpec> keyrings;
  std::map<std::string, std::string> policies;  // IPE policy name -> text
  std::string ipe_policy;                       // the active one; empty: the first
  std::map<std::string, std::map<std::string, ArgValue>> lsm_options;  // [lsm_options.<lsm>]
  std::vector<Step> steps;
};

// Throws Error(EINVAL | EBADMSG | ENOENT | EFBIG | E2BIG, "scenario",
// "<file>:<line>:<col>: <key>: <why>"): EBADMSG for TOML syntax, EFBIG / E2BIG
// for the size and step limits, ENOENT for a file that cannot be read.
// allow_files = false refuses `file =` policies (fuzzing: no reads outside the input).
Scenario parse_scenario(std::string_view text, const std::string& file, bool allow_files = true);
Scenario load_scenario(const std::string& path);

// ---- the tables ------------------------------------------------------------------

struct SignRequest {
  std::string object_path;               // a BPF object to sign, or
  std::optional<skel::SignedLoader> base;  // a loader read from a bundle / header
  const X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  skel::MatchLayout layout = skel::MatchLayout::kExcl;
  skel::MismatchTarget mismatch = skel::MismatchTarget::kCleanup;
  bool ctx_overrides = false;  // skel::SignOptions::ctx_overrides (bpftool 7.7's loader)
};

struct SchemeSpec {
  std::string name;
  std::string profile;  // the kernel profile a run of this scheme uses by default
  std::string lsm;      // the LSM order a run uses when the scenario names none
  // Makes the signed loader; null: the scheme is known but not built in yet.
  std::function<skel::SignedLoader(const SignRequest&)> sign;
};
const std::vector<SchemeSpec>& scheme_table();

struct ProfileSpec {
  std::string name;
  std::function<kmodel::KernelProfile()> make;  // null: not built in yet
};
const std::vector<ProfileSpec>& profile_table();

// What an LSM factory may read from the scenario.
struct LsmContext {
  std::map<std::string, ArgValue> options;  // [lsm_options.<name>]
  std::string ipe_policy_text;               // the active IPE policy
};
struct LsmSpec {
  std::string name;
  std::function<std::unique_ptr<lsm::Lsm>(const LsmContext&)> make;  // null: not built in yet
};
const std::vector<LsmSpec>& lsm_table();

const SchemeSpec* find_scheme(std::string_view name);
const ProfileSpec* find_profile(std::string_view name);
const LsmSpec* find_lsm(std::string_view name);

// ---- running -----------------------------------------------------------------------

struct SimOptions {
  std::string examples_dir;  // where `object = "execcount"` finds execcount.bpf.o
  bool allow_files = true;   // false: no bundle / policy / object paths (fuzzing)
};

struct HookCall {
  std::string hook, lsm, verdict, decision;  // verdict "" when the record has none
  int err = 0;
};

struct StepResult {
  size_t index = 0;  // 1-based
  std::string kind, label, target;
  bool ok = true;
  bool skipped = false;   // a name it needs was never made (an earlier step failed)
  int err = 0;
  std::string error_kind, message;
  std::string check;      // where it was refused: "signature: EKEYREJECTED", "bpf_prog_load/signed-only: NONE", ...
  std::vector<HookCall> hooks;
  std::vector<std::string> audit;  // the records' audit lines
  std::vector<std::string> verdicts;
  std::optional<int32_t> retval;
  std::optional<int64_t> maps, progs;
  // Skeleton loads: whether the created maps are as signed; what differs first.
  std::optional<bool> maps_as_signed;
  std::string maps_difference;
  std::optional<Expect> expect;    // the one that applied
  std::vector<std::string> failures;  // expectation differences, empty when it held
};

struct RunResult {
  std::string scenario, file, scheme, kernel, lsm;
  std::vector<StepResult> steps;
  bool passed() const;
  // The first refused step, or null: "not detected".
  const StepResult* detection() const;
};

// Runs the scenario once with scheme (one of scenario.schemes, or "" when it
// lists none: then loader-hash). Bad references throw Error(EINVAL, "scenario").
RunResult run_scenario(const Scenario& scenario, const std::string& scheme, const SimOptions& options);
// One run per listed scheme (or one loader-hash run).
std::vector<RunResult> run_all(const Scenario& scenario, const SimOptions& options);

// ---- the matrix ----------------------------------------------------------------------

struct MatrixCell {
  std::string scheme;
  bool detected = false;
  std::string where;  // StepResult::check, "no effect" (see below) or "not detected"
  std::string audit;  // the denying record (hook/lsm verdict decision errno) or "no denial"
  std::string ipe;    // IPE's decision or "-" when IPE is not in the stack
  bool expectations_held = true;
};
struct MatrixRow {
  std::string attack, file;
  std::string description;  // the scenario's description
  std::map<std::string, MatrixCell> cells;  // by scheme
};
struct Matrix {
  std::vector<std::string> schemes;  // sorted
  std::vector<MatrixRow> rows;       // sorted by attack
  bool all_held() const;
};
// Every *.toml in dir (sorted), run with every scheme it lists.
Matrix run_matrix(const std::string& dir, const SimOptions& options);
std::string matrix_text(const Matrix& m);
std::string matrix_markdown(const Matrix& m);
// One JSON document (json_text: never throws on names that are not UTF-8).
std::string matrix_json(const Matrix& m, JsonStyle style = JsonStyle::kPretty);
// docs/attacks.md: the Markdown table, then one section per attack with its
// description and what each scheme's run showed.
std::string matrix_document(const Matrix& m);

// Human and JSON renderings of runs (docs/cli.md).
std::string runs_text(const std::vector<RunResult>& runs);
std::string runs_json(const std::vector<RunResult>& runs, JsonStyle style = JsonStyle::kPretty);

}  // namespace bpfsig::sim
