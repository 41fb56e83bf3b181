// SPDX-License-Identifier: Apache-2.0
// The corpus differential (docs/kmodel.md, "Corpus"): every program of
// tests/kmodel/corpus (built into build/corpus by the `corpus` target) is
// signed as a light skeleton with the load-time scheme, loaded in the kernel
// model (host BTF, as the CO-RE tests) and, unsigned, in the running kernel
// (root; "skipped: <reason>" otherwise); the maps and programs both create
// (types, names, sizes, program tags) must be the same. Where this kernel
// refuses a program type (fentry and LSM: EPERM on the 6.18 here) the test
// names them; the VM suite's 7.3 kernel is their reference
// (tests/qemu/runner/corpus_cases.cpp, Qemu.CorpusModelCreatesWhatTheKernelCreates).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "kmodel/corpus/corpus_objects.h"
#include "kmodel/kmodel_test_util.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

namespace fs = std::filesystem;

std::vector<std::string> corpus_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(BPFSIG_CORPUS_DIR, ec)) {
    const std::string file = e.path().filename().string();
    if (file.ends_with(".bpf.o")) names.push_back(file.substr(0, file.size() - 6));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// One corpus object signed once per test executable (load-time scheme).
const skel::SignedLoader& signed_corpus(const std::string& name) {
  static std::map<std::string, skel::SignedLoader> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  test::TestSigner& signer = test::default_signer();
  skel::SignOptions options;
  options.scheme = skel::Scheme::kLoadtime;
  auto loader = skel::sign_object(std::string(BPFSIG_CORPUS_DIR) + "/" + name + ".bpf.o", signer.cert.get(),
                                  signer.key.get(), options);
  return cache.emplace(name, std::move(loader)).first->second;
}

// A load's outcome: the objects, or the errno and message it failed with.
struct Outcome {
  int err = 0;
  std::string message;
  std::vector<std::string> objects;
};

// The model with the host's BTF (KernelProfile::linux_6_18 reads
// /sys/kernel/btf/vmlinux), unsigned as the real load below.
Outcome model_load(const skel::SignedLoader& loader,
                   const kmodel::KernelProfile& profile = kmodel::KernelProfile::linux_6_18()) {
  Outcome out;
  try {
    kmodel::Kernel kernel(profile);
    kmodel::Process& proc = kernel.spawn("loader");
    kmodel::SkeletonOptions options;
    options.send_signature = false;
    out.objects = corpus::model_objects(kmodel::load_skeleton(kernel, proc, loader, options));
  } catch (const Error& e) {
    out.err = e.err();
    out.message = e.what();
  }
  return out;
}

Outcome real_load(const skel::SignedLoader& loader) {
  Outcome out;
  try {
    sys::LoadOptions options;
    options.send_signature = false;  // this kernel checks no signatures
    sys::LoadResult r = sys::load(loader, options);
    out.objects = corpus::real_objects(r);
    sys::close_fds(r);
  } catch (const Error& e) {
    out.err = e.err();
    out.message = e.what();
  }
  return out;
}

// Each program's two loads, once per test executable.
struct Loads {
  Outcome model, real;
};

const Loads& loads_of(const std::string& name) {
  static std::map<std::string, Loads> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const skel::SignedLoader& loader = signed_corpus(name);
  return cache.emplace(name, Loads{model_load(loader), real_load(loader)}).first->second;
}

std::string missing_host_btf() {
  return ::access("/sys/kernel/btf/vmlinux", R_OK) == 0 ? "" : "/sys/kernel/btf/vmlinux is not readable";
}

// The corpus programs the 7.3 VM loaded, by name (BUILD/vm/7.3/results.jsonl,
// written by scripts/vm/run-suite.sh); nullopt when the suite has not run in
// this tree. Qemu.CorpusModelCreatesWhatTheKernelCreates compares their objects.
std::optional<std::set<std::string>> vm_loaded() {
  std::ifstream in(fs::path(BPFSIG_BINARY_DIR) / "vm" / "7.3" / "results.jsonl");
  if (!in) return std::nullopt;
  std::set<std::string> loaded;
  const std::string prefix = "{\"case\":\"corpus/";  // the runner's JSON keys are sorted: "case" first
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(prefix) && line.find("\"kernel_errno\":0") != std::string::npos)
      loaded.insert(line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size()));
  return loaded;
}

class KmodelCorpus : public ::testing::TestWithParam<std::string> {};

// The model loads every program, whatever this kernel allows: the model is
// the reference where the host refuses.
TEST_P(KmodelCorpus, TheModelLoadsIt) {
  SKIP_UNLESS(missing_host_btf());
  const Loads& l = loads_of(GetParam());
  EXPECT_EQ(l.model.err, 0) << l.model.message;
  EXPECT_FALSE(l.model.objects.empty());
}

// Same maps (type, name, key, value, max_entries) and programs (type, name,
// tag: the model patched what the kernel patched) as the running kernel.
TEST_P(KmodelCorpus, TheModelCreatesWhatTheKernelCreates) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  const Loads& l = loads_of(GetParam());
  if (l.real.err == EPERM)
    GTEST_SKIP() << "skipped: this kernel refuses a program type of " << GetParam() << " (" << l.real.message
                 << "); the 7.3 VM is its reference (Qemu.CorpusModelCreatesWhatTheKernelCreates)";
  ASSERT_EQ(l.real.err, 0) << "the running kernel refused " << GetParam() << ": " << l.real.message;
  ASSERT_EQ(l.model.err, 0) << l.model.message;
  EXPECT_FALSE(l.real.objects.empty());
  EXPECT_EQ(l.model.objects, l.real.objects);
}

INSTANTIATE_TEST_SUITE_P(Programs, KmodelCorpus, ::testing::ValuesIn(corpus_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The corpus is there (the `corpus` target built it) and big enough to cover
// the features docs/kmodel.md lists; prints the measure of issue 10.
TEST(KmodelCorpusSummary, CountsWhatLoadsWhere) {
  const std::vector<std::string> names = corpus_names();
  ASSERT_GE(names.size(), 12u) << "build/corpus holds too few objects: build the `corpus` target";
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  int host = 0, model = 0;
  std::vector<std::string> refused;
  for (const std::string& name : names) {
    const Loads& l = loads_of(name);
    if (l.model.err == 0) ++model;
    if (l.real.err == 0) ++host;
    if (l.real.err == EPERM) refused.push_back(name);
  }
  // B: the programs this kernel refuses that the 7.3 VM loads (it loads the others too).
  const auto vm = vm_loaded();
  int vm_only = 0;
  std::string refused_list;
  for (const std::string& name : refused) {
    refused_list += " " + name;
    if (vm && vm->count(name)) ++vm_only;
  }
  std::cout << "corpus: " << names.size() << " objects; real kernel loads " << host << " (host) + "
            << (vm ? std::to_string(vm_only) + " (VM)" : std::string("? (VM suite not run in this tree)"))
            << "; model loads " << model << "\n"
            << "host refuses (EPERM):" << (refused.empty() ? " none" : refused_list);
  if (vm) std::cout << "; the 7.3 VM loads " << vm->size() << " of " << names.size();
  std::cout << std::endl;
  EXPECT_EQ(model, static_cast<int>(names.size()));
  EXPECT_EQ(host + static_cast<int>(refused.size()), static_cast<int>(names.size()))
      << "the host refused a program with another errno than EPERM";
}

// With this machine's refusal of trampolines (KernelProfile::
// refuse_trampolines, as KmodelAttachDifferential sets it), the model refuses
// the programs the host refuses, with the same errno.
TEST(KmodelCorpusSummary, TheModelOfThisMachineRefusesWhatItRefuses) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  kmodel::KernelProfile profile = kmodel::KernelProfile::linux_6_18();
  profile.refuse_trampolines = true;
  int refused = 0;
  for (const std::string& name : corpus_names()) {
    const Loads& l = loads_of(name);
    if (l.real.err != EPERM) continue;
    ++refused;
    const Outcome model = model_load(signed_corpus(name), profile);
    EXPECT_EQ(model.err, l.real.err) << name << ": model: " << model.message << "; kernel: " << l.real.message;
  }
  if (refused == 0) GTEST_SKIP() << "skipped: the running kernel refuses no corpus program";
}

// A weak kfunc the loader did not find (taskref's bpfsig_corpus_no_such_kfunc):
// gen_loader leaves its call with imm 0 and off 0, which add_kfunc_call lets
// through for dead-code elimination. Guarded by bpf_ksym_exists (an ld_imm64
// that is 0), the call is dead and the program loads; the running kernel's
// side is the corpus differential of taskref.
TEST(KmodelCorpusFixes, UnresolvedWeakKfuncCallLoads) {
  SKIP_UNLESS(missing_host_btf());
  kmodel::Kernel kernel;
  kmodel::Process& proc = kernel.spawn("weak");
  const isa::Insn unresolved_kfunc{isa::kClassJmp | isa::kJmpCall, 0, isa::kPseudoKfuncCall, 0, 0};
  kmodel::ProgLoadAttr attr;
  attr.prog_type = kmodel::kProgSyscall;
  attr.prog_flags = kmodel::kFSleepable;
  attr.license = "GPL";
  attr.name = "weak";
  attr.insns = isa::encode({isa::mov64_imm(0, 0), isa::jmp_imm(isa::kJmpJeq, 0, 0, 1), unresolved_kfunc,
                            isa::exit_insn()});
  EXPECT_EQ(test::errno_of([&] { kernel.prog_load(proc, attr); }), 0);
  attr.license = "Proprietary";  // the GPL check comes first, as in add_kfunc_call
  EXPECT_EQ(test::errno_of([&] { kernel.prog_load(proc, attr); }), EINVAL);
}

}  // namespace
