// SPDX-License-Identifier: Apache-2.0
// bpfsig enforce: signature policy on the running kernel, through bpfsig's
// BPF-LSM enforcer (docs/enforce.md).
#include <csignal>
#include <cerrno>
#include <iostream>
#include <memory>

#include "bpfsig/enforce.h"
#include "bpfsig/enforcer.h"
#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/skel.h"
#include "cli/cli.h"

#ifndef BPFSIG_ENFORCER_BUNDLE
#define BPFSIG_ENFORCER_BUNDLE ""
#endif
#ifndef BPFSIG_ENFORCER_BUNDLE_618
#define BPFSIG_ENFORCER_BUNDLE_618 ""
#endif
#ifndef BPFSIG_ENFORCER_CERT
#define BPFSIG_ENFORCER_CERT ""
#endif

namespace bpfsig::cli {

namespace {

struct EnforceArgs {
  std::string policy, mode = "enforce", enforcer, keyring = "own";  // enforcer "": this build's, by scheme
  std::vector<std::string> trusted;
  std::string pin_dir = sys::kEnforcerPinDir;
  bool follow = false;
};

sys::KeyringMode keyring_mode(const std::string& name) {
  if (name == "own") return sys::KeyringMode::kOwn;
  if (name == "session") return sys::KeyringMode::kSession;
  if (name == "user") return sys::KeyringMode::kUser;
  throw usage_error("--keyring must be own, session or user, not '" + name + "'" +
                    did_you_mean(name, {"own", "session", "user"}));
}

Json status_json(const sys::EnforcerStatus& s) {
  Json attachments = Json::array();
  for (const auto& a : s.attachments)
    attachments.push_back({{"hook", a.hook}, {"link_id", a.link_id}, {"prog_id", a.prog_id}});
  Json j = {{"running", s.running}, {"pin_dir", s.pin_dir}};
  if (!s.running) return j;
  std::string name, version;
  try {
    enforce::CompiledPolicy p = enforce::compile_policy(s.policy_text, enforce::Mode::kEnforce, "pinned policy");
    name = p.name;
    version = p.version;
  } catch (const Error&) {
    // status still reports what is pinned
  }
  j["mode"] = enforce::mode_name(static_cast<enforce::Mode>(s.mode));
  j["policy_name"] = name;
  j["policy_version"] = version;
  j["policy_sha256"] = s.policy_sha256_hex;
  j["rule_count"] = s.rule_count;
  j["decisions"] = s.decisions;
  j["lost_records"] = s.lost_records;
  j["attachments"] = attachments;
  j["map_ids"] = s.map_ids;
  j["owner_exe_ino"] = s.owner_exe_ino;
  return j;
}

void print_status(const sys::EnforcerStatus& s, const Common& common) {
  Json j = status_json(s);
  if (common.json) return print_json(common, j);
  if (!s.running) {
    std::cout << "enforcer: not running (nothing pinned at " << s.pin_dir << ")\n";
    return;
  }
  std::cout << "enforcer: running, mode " << j["mode"].get<std::string>() << ", pinned at " << s.pin_dir << "\n"
            << "  policy:    " << j["policy_name"].get<std::string>() << " " << j["policy_version"].get<std::string>()
            << ", " << s.rule_count << " BPF_PROG_LOAD rules, sha256 " << s.policy_sha256_hex << "\n"
            << "  decisions: " << s.decisions << " (" << s.lost_records << " audit records lost)\n";
  for (const auto& a : s.attachments)
    std::cout << "  lsm/" << a.hook << ": link " << a.link_id << ", prog " << a.prog_id << "\n";
}

// This build's enforcer in the scheme the running kernel checks: the 6.18
// one (Linux 6.18 to 7.2) or the load-time one (7.3).
std::string build_enforcer() {
  if (std::string(BPFSIG_ENFORCER_BUNDLE).empty())
    throw usage_error("--enforcer: this build has no enforcer object; give the signed bundle and -i");
  sys::KernelFeatures f = sys::probe_kernel();
  return f.signature_check == sys::SignatureCheck::kInsns ? BPFSIG_ENFORCER_BUNDLE_618 : BPFSIG_ENFORCER_BUNDLE;
}

void run_start(const EnforceArgs& a, const Common& common) {
  std::optional<enforce::Mode> mode = enforce::mode_from_name(a.mode);
  if (!mode) throw usage_error("--mode must be enforce or audit, not '" + a.mode + "'" + did_you_mean(a.mode, {"enforce", "audit"}));
  const std::string enforcer = a.enforcer.empty() ? build_enforcer() : a.enforcer;
  std::vector<CommandFile> inputs{{"--policy", a.policy}, {"--enforcer", enforcer}};
  std::vector<std::string> trusted = a.trusted;
  if (trusted.empty() && a.enforcer.empty()) trusted.push_back(BPFSIG_ENFORCER_CERT);  // the build signed it
  for (const auto& t : trusted) inputs.push_back({"-i", t});
  check_command_files(inputs, {});

  const std::string text = read_text_file(a.policy);
  enforce::CompiledPolicy policy = enforce::compile_policy(text, *mode, a.policy);
  sys::EnforcerStartOptions o;
  o.enforcer = skel::read_signed_file(enforcer);
  for (const auto& cert : load_trusted(trusted)) o.trusted_certs_der.push_back(crypto::certificate_der(cert.get()));
  o.keyring = keyring_mode(a.keyring);
  o.policy_value = policy.map_value();
  o.policy_text = text;
  o.pin_dir = a.pin_dir;
  sys::EnforcerStatus s = sys::enforcer_start(o);
  if (common.json) return print_json(common, status_json(s));
  std::cout << "enforcer started: policy " << policy.name << " " << policy.version << ", " << policy.rules.size()
            << " rules, mode " << a.mode << "\n";
  print_status(s, common);
}

std::atomic<bool> g_stop_log{false};

void run_log(const EnforceArgs& a, const Common& common) {
  sys::EnforcerStatus s = sys::enforcer_status(a.pin_dir);
  if (!s.running) throw Error(ENOENT, "enforcer_not_running", "no enforcer is pinned at " + a.pin_dir);
  std::unique_ptr<enforce::CompiledPolicy> policy;
  try {
    policy = std::make_unique<enforce::CompiledPolicy>(
        enforce::compile_policy(s.policy_text, enforce::Mode::kEnforce, "pinned policy"));
  } catch (const Error&) {
    // rules are then shown by their line
  }
  g_stop_log = false;
  std::signal(SIGINT, [](int) { g_stop_log = true; });
  std::signal(SIGTERM, [](int) { g_stop_log = true; });
  uint64_t serial = 0;
  sys::enforcer_read_log(a.pin_dir, a.follow, g_stop_log, [&](ByteView bytes, uint64_t time_ms) {
    enforce::Record r;
    r.raw = enforce::decode_record(bytes);
    r.time_ms = time_ms;
    r.serial = ++serial;
    std::cout << (common.json ? enforce::json_line(r, policy.get()) : enforce::audit_line(r, policy.get())) << "\n"
              << std::flush;
  });
}

void define_enforce(CLI::App* sub, Common& common) {
  auto args = std::make_shared<EnforceArgs>();
  sub->require_subcommand(1);

  CLI::App* start = sub->add_subcommand("start", "Load, attach and pin the enforcer with a policy");
  start->add_option("--policy", args->policy, "IPE policy with BPF_PROG_LOAD rules (docs/enforce.md)")->required();
  start->add_option("--mode", args->mode, "enforce (refuse what the policy denies, default) or audit (record only)");
  start->add_option("--enforcer", args->enforcer,
                    "The signed enforcer bundle (default: this build's, in the scheme the kernel checks)");
  start->add_option("-i,--cert", args->trusted, "Trust anchor of the enforcer's signature (default: this build's)")
      ->allow_extra_args(false);
  start->add_option("--keyring", args->keyring, "own (default), session or user: where the anchor goes");
  start->add_option("--pin-dir", args->pin_dir, "bpffs directory of its pins (default " + args->pin_dir + ")");
  add_output_flags(*start, common);
  start->callback([args, &common] { run_start(*args, common); });

  CLI::App* status = sub->add_subcommand("status", "Show the running enforcer");
  status->add_option("--pin-dir", args->pin_dir, "bpffs directory of its pins");
  add_output_flags(*status, common);
  status->callback([args, &common] { print_status(sys::enforcer_status(args->pin_dir), common); });

  CLI::App* stop = sub->add_subcommand("stop", "Detach and remove the enforcer (only the bpfsig that started it)");
  stop->add_option("--pin-dir", args->pin_dir, "bpffs directory of its pins");
  add_output_flags(*stop, common);
  stop->callback([args, &common] {
    sys::enforcer_stop(args->pin_dir);
    if (common.json) return print_json(common, Json{{"stopped", true}, {"pin_dir", args->pin_dir}});
    std::cout << "enforcer stopped (" << args->pin_dir << " removed)\n";
  });

  CLI::App* log = sub->add_subcommand("log", "Print the enforcer's audit records (type=1420 lines, or JSON lines)");
  log->add_flag("-f,--follow", args->follow, "Keep printing new records until interrupted");
  log->add_option("--pin-dir", args->pin_dir, "bpffs directory of its pins");
  add_output_flags(*log, common);
  log->callback([args, &common] { run_log(*args, common); });
}

}  // namespace

const Command kCommandEnforce{"enforce", "Signature policy on the running kernel through a BPF-LSM program", define_enforce};

}  // namespace bpfsig::cli
