// SPDX-License-Identifier: Apache-2.0
// The enforcer's cases of the VM suite (docs/enforce.md, docs/vm-tests.md):
// one scripted sequence run twice, on the real kernel through `bpfsig
// enforce`'s library calls and in the kernel model with the same compiled
// policy, so tests/qemu can check every decision and compare the two lists;
// plus what only the real kernel can show (bpftool refused, the pins guarded,
// stop) and the cost the enforcer adds to one BPF_PROG_LOAD.
#include "enforce_cases.h"

#include "bench/vm/enforcer_overhead.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "bpfsig/crypto.h"
#include "bpfsig/enforce.h"
#include "bpfsig/enforcer.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/lsm.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"

namespace bpfsig::vmtest {

namespace {

using Json = nlohmann::json;

using sys::detail::kReturnZero;  // r0 = 0; exit

// The sequence's policies: A lets signed loaders (keys in a user keyring)
// and everything they load through; B wants the key in the builtin keyring.
constexpr const char* kPolicyA =
    "policy_name=signed_user policy_version=0.0.1\n"
    "DEFAULT action=ALLOW\n"
    "DEFAULT op=BPF_PROG_LOAD action=DENY\n"
    "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
    "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=USER action=ALLOW\n";
constexpr const char* kPolicyB =
    "policy_name=signed_builtin policy_version=0.0.1\n"
    "DEFAULT action=ALLOW\n"
    "DEFAULT op=BPF_PROG_LOAD action=DENY\n"
    "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW\n"
    "op=BPF_PROG_LOAD bpf_signature=OK bpf_keyring=BUILTIN action=ALLOW\n";

enum class Step { kUnsigned, kSigned };

struct Phase {
  std::string name;
  const char* policy;
  enforce::Mode mode;
  std::vector<Step> steps;
};

std::vector<Phase> phases() {
  return {
      {"signed_user", kPolicyA, enforce::Mode::kEnforce, {Step::kUnsigned, Step::kSigned}},
      {"wrong_keyring", kPolicyB, enforce::Mode::kEnforce, {Step::kSigned}},
      {"audit", kPolicyB, enforce::Mode::kAudit, {Step::kUnsigned, Step::kSigned}},
  };
}

std::string step_name(Step s) { return s == Step::kUnsigned ? "unsigned" : "signed"; }

std::string comm_of_self() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// ---- the real kernel ----

int real_unsigned_load() {
  sys::ProgLoad req;
  req.name = "enf_unsigned";
  req.insns = kReturnZero;
  try {
    int fd = sys::prog_load(req);
    ::close(fd);
    return 0;
  } catch (const Error& e) {
    return e.err();
  }
}

int real_signed_load(const EnforceInputs& in) {
  sys::LoadOptions o;
  o.trusted_certs_der = {in.signer_der};
  o.kernel_check = in.kernel_check;  // no probe loads: they would be records too
  try {
    sys::LoadResult r = sys::load(in.signed_loader, o);
    sys::close_fds(r);
    return 0;
  } catch (const Error& e) {
    return e.err();
  }
}

void start_enforcer(const EnforceInputs& in, const char* policy, enforce::Mode mode) {
  enforce::CompiledPolicy c = enforce::compile_policy(policy, mode, "sequence");
  sys::EnforcerStartOptions o;
  o.enforcer = in.enforcer;
  o.trusted_certs_der = {in.enforcer_cert_der};
  o.policy_value = c.map_value();
  o.policy_text = policy;
  sys::enforcer_start(o);
}

std::vector<bpfsig_enforcer_record> read_records() {
  std::vector<bpfsig_enforcer_record> out;
  std::atomic<bool> stop{false};
  sys::enforcer_read_log(sys::kEnforcerPinDir, false, stop,
                         [&](ByteView bytes, uint64_t) { out.push_back(enforce::decode_record(bytes)); });
  return out;
}

// A shell command's exit status (busybox rm, bpftool): another process, so
// the enforcer does not see bpfsig's executable.
int shell(const std::string& command) {
  int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

// ---- the model ----

struct ModelRun {
  std::shared_ptr<std::vector<bpfsig_enforcer_record>> records = std::make_shared<std::vector<bpfsig_enforcer_record>>();
  std::map<std::string, int> outcomes;
};

ModelRun run_model_phase(const EnforceInputs& in, const Phase& phase, const std::string& comm) {
  ModelRun run;
  auto compiled = std::make_shared<const enforce::CompiledPolicy>(enforce::compile_policy(phase.policy, phase.mode, "sequence"));
  lsm::LsmRegistry registry = lsm::builtin_registry();
  registry["enforce"] = enforce::enforce_factory(compiled, run.records);
  auto stack = std::make_shared<lsm::LsmStack>("capability,enforce", registry);
  stack->make_replayable(comm);  // root with the capabilities a loader needs, as in the VM
  kmodel::Kernel kernel(in.model_profile);
  kernel.set_lsm_stack(stack);
  kmodel::Process& proc = kernel.spawn(comm);
  for (Step s : phase.steps) {
    int err = 0;
    try {
      if (s == Step::kUnsigned) {
        kmodel::ProgLoadAttr attr;
        attr.insns = kReturnZero;
        attr.license = "Dual BSD/GPL";
        attr.prog_flags = 0x10;  // BPF_F_SLEEPABLE, as sys::ProgLoad sends it
        attr.name = "enf_unsigned";
        kernel.close(proc, kernel.prog_load(proc, attr));
      } else {
        kmodel::SkeletonOptions options;
        options.keyring_id = kernel.keyring_create("bpfsig");
        kernel.keyring_add_cert(options.keyring_id, in.signer_der);
        kmodel::load_skeleton(kernel, proc, in.signed_loader, options);
      }
    } catch (const Error& e) {
      err = e.err();
    }
    run.outcomes[step_name(s)] = err;
  }
  return run;
}

// The runner's own load decisions (the sequence), and every other record
// (bpftool's loads, guard refusals), as decision keys.
struct Split {
  Json own = Json::array(), others = Json::array();
};
Split split_records(const std::vector<bpfsig_enforcer_record>& records, const std::string& comm,
                    const enforce::CompiledPolicy& policy) {
  Split out;
  for (const auto& r : records) {
    std::string rcomm(r.comm, strnlen(r.comm, sizeof r.comm));
    std::string key = enforce::decision_key(r, &policy);
    if (r.kind == BPFSIG_RECORD_PROG_LOAD && rcomm == comm)
      out.own.push_back(key);
    else
      out.others.push_back({{"comm", rcomm}, {"key", key}});
  }
  return out;
}

// One phase on the real kernel, the extra real-only checks in the first.
Json run_phase(const EnforceInputs& in, const Phase& phase, bool first, const std::string& comm) {
  Json j = {{"case", "enforce/" + phase.name}, {"mode", enforce::mode_name(phase.mode)}};
  enforce::CompiledPolicy compiled = enforce::compile_policy(phase.policy, phase.mode, "sequence");
  start_enforcer(in, phase.policy, phase.mode);
  Json outcomes = Json::object();
  for (Step s : phase.steps)
    outcomes[step_name(s)] = s == Step::kUnsigned ? real_unsigned_load() : real_signed_load(in);
  // The sequence's records, before the real-only checks add their own.
  std::vector<bpfsig_enforcer_record> records = read_records();
  std::vector<bpfsig_enforcer_record> extra;
  if (first) {
    // What only the real kernel has: bpftool's own loads, and the pins.
    outcomes["bpftool_prog_load"] = shell("bpftool prog load " + in.unsigned_object + " /sys/fs/bpf/enf_bpftool");
    outcomes["rm_link_pin"] = shell(std::string("rm -f ") + sys::kEnforcerPinDir + "/link_prog_load");
    outcomes["bpftool_link_detach"] = shell("for id in $(bpftool link list | sed -n 's/^\\([0-9]*\\):.*/\\1/p'); do "
                                            "bpftool link detach id $id || exit 1; done");
    outcomes["umount_bpffs"] = shell("umount /sys/fs/bpf");
    outcomes["unsigned_after_attempts"] = real_unsigned_load();
  }
  for (const auto& r : read_records()) extra.push_back(r);
  sys::enforcer_stop();
  outcomes["unsigned_after_stop"] = real_unsigned_load();
  j["kernel_outcomes"] = outcomes;
  const Split sequence = split_records(records, comm, compiled), after = split_records(extra, comm, compiled);
  j["kernel_decisions"] = sequence.own;  // the scripted steps only
  Json others = sequence.others;
  for (const Json& o : after.others) others.push_back(o);
  j["kernel_other_records"] = others;
  j["kernel_extra_decisions"] = after.own;

  ModelRun model = run_model_phase(in, phase, comm);
  j["model_outcomes"] = model.outcomes;
  j["model_decisions"] = split_records(*model.records, comm, compiled).own;
  return j;
}

}  // namespace

void run_enforce_cases(const EnforceInputs& in, const std::function<void(const Json&)>& emit) {
  sys::EnforcerSupport support = sys::probe_enforcer_support();
  if (!support.ok()) {
    emit({{"case", "enforce/unsupported"}, {"missing", support.missing}});
    return;
  }
  const std::string comm = comm_of_self();
  bool first = true;
  for (const Phase& phase : phases()) {
    try {
      emit(run_phase(in, phase, first, comm));
    } catch (const Error& e) {
      emit({{"case", "enforce/" + phase.name}, {"error", e.what()}, {"kind", e.kind()}});
      try {
        sys::enforcer_stop();
      } catch (const Error&) {
      }
    }
    first = false;
  }
  try {
    emit(bench::measure_enforcer_overhead(
        [&] { start_enforcer(in, bench::kOverheadPolicy, enforce::Mode::kEnforce); }, [] { sys::enforcer_stop(); }));
  } catch (const Error& e) {
    emit({{"case", "enforce/overhead"}, {"error", e.what()}});
  }
}

}  // namespace bpfsig::vmtest
