// SPDX-License-Identifier: Apache-2.0
// bpfsig run: load and run a signed bundle or header in the kernel model,
// through a chosen kernel profile and LSM stack, unprivileged.
#include <algorithm>
#include <cerrno>
#include <iostream>
#include <memory>

#include "bpfsig/enforce.h"
#include "bpfsig/error.h"
#include "bpfsig/ipe.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/hornet.h"
#include "bpfsig/lsm.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "cli/cli.h"

namespace bpfsig::cli {

namespace {

struct RunArgs {
  std::string file, kernel, lsm = "capability", keyring = "builtin";  // kernel "": the one the file's scheme is for
  std::vector<std::string> trusted;
  bool no_signature = false;
  std::string ipe_policy;  // --ipe-policy: loaded and activated in the "ipe" LSM
  std::string enforce_policy;  // --policy: compiled for the "enforce" LSM (bpfsig enforce's rules)
  std::string enforce_mode = "enforce";
  std::string hornet_design = "final";
  std::string btf;  // --btf: the target kernel's vmlinux BTF (CO-RE), instead of the host's
};

// The name was checked while parsing (one_of in add_run).
kmodel::KernelProfile profile_for(const std::string& name) {
  if (name == "6.18-toctou") return kmodel::KernelProfile::pre_2026_toctou();
  if (name == "loadtime") return kmodel::KernelProfile::loadtime_2026();
  if (name == "hash-chain") return kmodel::KernelProfile::hash_chain();
  if (name == "hornet") return kmodel::KernelProfile::hornet();
  return kmodel::KernelProfile::linux_6_18();
}

std::vector<std::string> split_lsm_list(const std::string& list) {
  std::vector<std::string> names;
  size_t start = 0;
  for (size_t comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1)
    names.push_back(list.substr(start, comma - start));
  names.push_back(list.substr(start));
  return names;
}

// --lsm: the kernel's lsm= skips empty and repeated entries silently; on a
// command line they are typos ("capability,,ipe", "ipe,ipe"), so they are
// refused, as are names no LSM has.
CLI::Validator lsm_list_check() {
  return CLI::Validator(
      [](std::string& list) -> std::string {
        std::vector<std::string> known;
        for (const auto& [name, factory] : lsm::builtin_registry()) known.push_back(name);
        known.push_back("enforce");  // made by run_registry from --policy
        std::vector<std::string> seen;
        for (const auto& name : split_lsm_list(list)) {
          if (name.empty()) return "empty entry in '" + list + "'";
          if (std::find(seen.begin(), seen.end(), name) != seen.end()) return "'" + name + "' is listed twice";
          if (std::find(known.begin(), known.end(), name) == known.end())
            return "no LSM named '" + name + "'" + did_you_mean(name, known);
          seen.push_back(name);
        }
        return "";
      },
      "");
}

// Whether the stack holds an LSM: named in --lsm, or hornet by --kernel hornet.
bool stack_has(const RunArgs& a, const std::string& name) {
  const std::vector<std::string> names = split_lsm_list(a.lsm);
  return std::find(names.begin(), names.end(), name) != names.end() || (name == "hornet" && a.kernel == "hornet");
}

void check_usage(const CLI::App& cmd, const RunArgs& a) {
  refuse_unless_applies(cmd, "--hornet-design", stack_has(a, "hornet"),
                        "needs the Hornet LSM: --kernel hornet, or hornet in --lsm");
  refuse_unless_applies(cmd, "--ipe-policy", stack_has(a, "ipe"), "needs ipe in --lsm (e.g. --lsm capability,ipe)");
  refuse_unless_applies(cmd, "--policy", stack_has(a, "enforce"),
                        "needs enforce in --lsm (e.g. --lsm capability,enforce)");
  refuse_unless_applies(cmd, "--mode", stack_has(a, "enforce"), "needs enforce in --lsm");
  if (stack_has(a, "enforce") && a.enforce_policy.empty())
    throw usage_error("enforce in --lsm needs --policy: the rules bpfsig enforce would run");
  // libbpf reads the BTF file by path (raw BTF or an ELF's .BTF section).
  if (a.btf == "-") throw usage_error("--btf: needs a file, not standard input");
}

// The builtin LSMs, with "hornet" of the --hornet-design and "ipe" holding
// --ipe-policy (active, enforcing, and auditing its ALLOWs too,
// ipe.success_audit=1, so the trace shows every match).
lsm::LsmRegistry run_registry(const RunArgs& a) {
  lsm::LsmRegistry registry = lsm::builtin_registry();
  lsm::HornetOptions hornet{lsm::parse_hornet_design(a.hornet_design)};
  registry["hornet"] = [hornet] { return std::make_unique<lsm::HornetLsm>(hornet); };
  if (!a.enforce_policy.empty()) {
    auto compiled = std::make_shared<const enforce::CompiledPolicy>(enforce::compile_policy(
        read_text_file(a.enforce_policy), *enforce::mode_from_name(a.enforce_mode), a.enforce_policy));
    registry["enforce"] = enforce::enforce_factory(compiled);
  }
  if (a.ipe_policy.empty()) return registry;
  auto store = std::make_shared<ipe::PolicyStore>();
  ipe::ParseOptions options;
  options.source = a.ipe_policy;
  store->activate(store->load(read_text_file(a.ipe_policy), options).name);
  store->success_audit = true;
  registry["ipe"] = ipe::ipe_factory(store);
  return registry;
}

// The lsm= list: --lsm, with hornet appended for --kernel hornet when --lsm
// does not name it.
std::string lsm_list_for(const RunArgs& a, const lsm::LsmRegistry& registry) {
  if (a.kernel != "hornet") return a.lsm;
  std::vector<std::string> names = lsm::parse_lsm_param(a.lsm, registry);
  bool named = std::find(names.begin(), names.end(), "hornet") != names.end();
  return named ? a.lsm : a.lsm + ",hornet";
}

std::shared_ptr<lsm::LsmStack> make_stack(const RunArgs& a) {
  const lsm::LsmRegistry registry = run_registry(a);
  // The caller is root with the capabilities a loader needs; the kernel model
  // fills in the pid and comm of its simulated process.
  auto stack = std::make_shared<lsm::LsmStack>(lsm_list_for(a, registry), registry);
  stack->make_replayable("bpfsig");
  return stack;
}

// Puts the -i certificates where --keyring says and returns the keyring_id
// the loader is loaded with.
int32_t prepare_keyring(kmodel::Kernel& kernel, const RunArgs& a) {
  int32_t id;
  if (a.keyring == "builtin") {
    id = kmodel::kBuiltinKeyring;
  } else if (a.keyring == "secondary") {
    id = kmodel::kSecondaryKeyring;
  } else if (a.keyring == "platform") {
    id = kmodel::kPlatformKeyring;
  } else {
    id = kernel.keyring_create("bpfsig");  // "own"; the name was checked while parsing
  }
  // The secondary keyring falls back to the builtin one: keys given for it go there.
  int32_t holder = id == kmodel::kSecondaryKeyring ? kmodel::kBuiltinKeyring : id;
  for (const auto& cert : load_trusted(a.trusted)) kernel.keyring_add_cert(holder, crypto::certificate_der(cert.get()));
  return id;
}

Json map_json(const kmodel::MapInfo& m) {
  return Json{{"id", m.id}, {"type", sys::map_type_name(m.type)}, {"name", m.name}, {"key_size", m.key_size},
              {"value_size", m.value_size}, {"max_entries", m.max_entries}};
}

Json prog_json(const kmodel::ProgInfo& p) {
  return Json{{"id", p.id}, {"type", sys::prog_type_name(p.type)}, {"name", p.name}, {"insn_count", p.insn_count},
              {"tag", to_hex(ByteView(p.digest.data(), 8))}};
}

// The failing nested call: null when none failed.
Json nested_failure_json(const std::optional<kmodel::NestedFailure>& f) {
  if (!f) return nullptr;
  return Json{{"command", f->command},
              {"object", f->object},
              {"map_type", f->map_type.empty() ? Json(nullptr) : Json(f->map_type)},
              {"errno", f->err},
              {"errno_name", errno_name(f->err)},
              {"reason", f->reason}};
}

// One trace line: "bpf_sys_bpf BPF_MAP_CREATE 'events' (PERF_EVENT_ARRAY) failed: ... [EOPNOTSUPP]".
std::string nested_failure_line(const kmodel::NestedFailure& f) {
  std::string line = "bpf_sys_bpf " + f.command;
  if (!f.object.empty()) line += " '" + f.object + "'";
  if (!f.map_type.empty()) line += " (" + f.map_type + ")";
  return line + " failed: " + f.reason + " [" + errno_name(f.err) + "]";
}

struct Outcome {
  bool loaded = false;
  int err = 0;
  std::string kind, message;
  kmodel::SkeletonResult result;
  std::optional<kmodel::NestedFailure> nested_failure;  // of the loader's run
};

Outcome run_in_model(kmodel::Kernel& kernel, skel::SignedLoader&& loader, const RunArgs& a) {
  Outcome o;
  kmodel::Process& proc = kernel.spawn("bpfsig");
  kmodel::SkeletonOptions opts;
  opts.send_signature = !a.no_signature;
  opts.keyring_id = prepare_keyring(kernel, a);
  try {
    o.result = kmodel::load_skeleton(kernel, proc, std::move(loader), opts);  // frees its metadata once the model holds it
    o.loaded = true;
  } catch (const Error& e) {
    o.err = e.err();
    o.kind = e.kind();
    o.message = e.what();
  }
  o.nested_failure = kernel.nested_failure();
  return o;
}

void print_human(const RunArgs& a, const Outcome& o, const lsm::AuditLog& audit) {
  std::cout << "kernel " << a.kernel << ", lsm=" << a.lsm << ", keyring " << a.keyring;
  if (!a.btf.empty()) std::cout << ", btf " << a.btf;
  std::cout << "\nhook trace:\n";
  // The failing nested call goes where it happened among the hook decisions.
  const auto& records = audit.records();
  for (size_t i = 0; i <= records.size(); ++i) {
    if (o.nested_failure && o.nested_failure->audit_position == i)
      std::cout << "  " << nested_failure_line(*o.nested_failure) << "\n";
    if (i < records.size()) std::cout << "  " << records[i].to_audit_line() << "\n";
  }
  if (records.empty() && !o.nested_failure) std::cout << "  (no LSM hook decisions)\n";
  if (o.loaded) {
    std::cout << "created:\n";
    for (const auto& p : o.result.progs)
      std::cout << "  prog id " << p.id << "  " << sys::prog_type_name(p.type) << "  " << p.name << "  (" << p.insn_count << " insns)\n";
    for (const auto& m : o.result.maps)
      std::cout << "  map  id " << m.id << "  " << sys::map_type_name(m.type) << "  " << m.name << "  (key " << m.key_size
                << ", value " << m.value_size << ", max_entries " << m.max_entries << ")\n";
    std::cout << "decision: loaded (loader returned " << o.result.loader_retval << ")\n";
  } else {
    std::cout << "decision: refused: " << o.message << " [" << errno_name(o.err) << "]\n";
  }
}

// Without --kernel, the kernel the file was signed for: what its scheme's
// kernels check (docs/signing.md).
std::string default_kernel_for(skel::Scheme scheme) {
  switch (scheme) {
    case skel::Scheme::kLoaderHash: return "6.18";
    case skel::Scheme::kLoadtime: return "loadtime";
    case skel::Scheme::kHornet: return "hornet";
    case skel::Scheme::kHashChain: return "hash-chain";
  }
  return "6.18";
}

void run_run(const RunArgs& args, const Common& common, const CLI::App& cmd) {
  check_usage(cmd, args);
  std::vector<CommandFile> inputs{
      {"FILE", args.file}, {"--ipe-policy", args.ipe_policy}, {"--policy", args.enforce_policy}, {"--btf", args.btf}};
  for (const auto& t : args.trusted) inputs.push_back({"-i", t});
  check_command_files(inputs, {});  // standard input for one of them at most
  skel::SignedLoader loader = skel::read_signed_file(args.file);
  RunArgs a = args;
  if (a.kernel.empty()) a.kernel = default_kernel_for(loader.scheme);
  kmodel::Kernel kernel(profile_for(a.kernel));
  if (!a.btf.empty()) kernel.set_vmlinux_btf_file(a.btf);  // CO-RE relocates against this kernel
  std::shared_ptr<lsm::LsmStack> stack = make_stack(a);
  kernel.set_lsm_stack(stack);
  kernel.set_lsm_bpf_hooks(true);  // security_bpf and security_bpf_map_create too, as 6.18 calls them
  Outcome o = run_in_model(kernel, std::move(loader), a);
  if (common.json) {
    Json audit = Json::array();
    for (const auto& r : stack->audit_log().records()) audit.push_back(Json::parse(r.to_json_line()));
    Json maps = Json::array(), progs = Json::array();
    for (const auto& m : o.result.maps) maps.push_back(map_json(m));
    for (const auto& p : o.result.progs) progs.push_back(prog_json(p));
    print_json(common, Json{{"ok", o.loaded},        {"file", a.file},   {"kernel", a.kernel},
                    {"lsm", a.lsm},          {"keyring", a.keyring},
                    {"btf", a.btf.empty() ? Json(nullptr) : Json(a.btf)},
                    {"decision", o.loaded ? "loaded" : "refused"},
                    {"errno", o.err},        {"errno_name", errno_name(o.err)},
                    {"kind", o.kind},        {"message", o.message},
                    {"loader_retval", o.result.loader_retval},
                    {"nested_failure", nested_failure_json(o.nested_failure)},
                    {"audit", audit},        {"maps", maps},      {"programs", progs}});
  } else {
    print_human(a, o, stack->audit_log());
  }
  if (!o.loaded) {
    std::cerr << "bpfsig run: " << a.file << ": refused: " << o.message << " [" << errno_name(o.err) << ", " << o.kind
              << "]\n";
    g_exit_code = 1;
  }
}

void define_run(CLI::App* sub, Common& common) {
  auto args = std::make_shared<RunArgs>();
  sub->add_option("--kernel", args->kernel, "Kernel profile: 6.18, 6.18-toctou (before the Feb 2026 fix), loadtime (bpf-next 2026), hash-chain (the Sep 2025 series) or hornet (6.18 + the Hornet LSM); default: the one FILE's scheme is for (loader-hash: 6.18)")
      ->check(one_of({"6.18", "6.18-toctou", "loadtime", "hash-chain", "hornet"}));
  sub->add_option("--lsm", args->lsm, "LSM stack, in lsm= order: capability, signed-only, hornet, ipe, enforce")
      ->check(lsm_list_check());
  sub->add_option("--ipe-policy", args->ipe_policy, "IPE policy to load and activate in the ipe LSM");
  sub->add_option("--policy", args->enforce_policy,
                  "Policy of the enforce LSM: the rules `bpfsig enforce start --policy` runs, compiled the same way");
  sub->add_option("--mode", args->enforce_mode, "The enforce LSM's mode: enforce (default) or audit")
      ->check(one_of({"enforce", "audit"}));
  sub->add_option("-i,--cert", args->trusted, "Certificate to put in the keyring (repeatable)")->allow_extra_args(false);
  sub->add_option("--keyring", args->keyring, "Keyring for the certificates: builtin (default), secondary, platform, own")
      ->check(one_of({"builtin", "secondary", "platform", "own"}));
  sub->add_flag("--no-signature", args->no_signature, "Load without sending the signature");
  sub->add_option("--hornet-design", args->hornet_design, "With --kernel hornet (or hornet in --lsm): the Hornet design, final (default) or v7")
      ->check(one_of({"final", "v7"}));
  sub->add_option("--btf", args->btf,
                  "vmlinux BTF of the target kernel (raw BTF or ELF .BTF) for CO-RE relocations; default: the host's "
                  "/sys/kernel/btf/vmlinux");
  sub->add_option("file", args->file, "Bundle or signed light-skeleton header (- for standard input)")->required();
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_run(*args, common, *sub); });
}

}  // namespace

const Command kCommandRun{"run", "Load and run a signed loader in the kernel model (no privileges needed)", define_run};

}  // namespace bpfsig::cli
