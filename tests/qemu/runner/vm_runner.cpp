// SPDX-License-Identifier: Apache-2.0
// bpfsig_vm_runner: runs inside the VM suite's initramfs (tests/qemu), on a
// kernel that checks signatures. For every bundle of the payload and every
// tamper class it loads the loader into the running kernel with sys::load,
// asks verify::predict_kernel_load what that kernel should answer, and runs
// the same load in the kernel model; each case is one line on stdout:
//   BPFSIG-RESULT {"case": ..., "kernel_errno": ..., "predicted_errno": ..., "model_errno": ...}
// The host side (tests/qemu/test_qemu.cpp) compares them.
//
// Usage: bpfsig_vm_runner PAYLOAD_DIR
//   PAYLOAD_DIR/kernel         the profile name ("7.2", "7.3")
//   PAYLOAD_DIR/certs/signer.der, other.der
//   PAYLOAD_DIR/bundles/EXAMPLE.SCHEME.bundle (loader-hash and loadtime)
//   PAYLOAD_DIR/bpftool-header/{bpfsig,bpftool78}[.skipped] (header_programs.h)
//   PAYLOAD_DIR/journey/{README.md,checkout/,enforcer-dir} (journey_cases.h)
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "bpfsig/verify.h"
#include "corpus_cases.h"
#include "enforce_cases.h"
#include "header_programs.h"
#include "journey_cases.h"
#include "skel/matchblock.h"

namespace {

using namespace bpfsig;
using Json = nlohmann::json;

// Never throws: a line that cannot be JSON would lose the case.
void emit(const Json& j) {
  std::cout << "BPFSIG-RESULT " << j.dump(-1, ' ', false, Json::error_handler_t::replace) << std::endl;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// One tamper class: what it does to the loader, the load and the prediction.
struct TamperClass {
  std::string name;
  bool other_format = false;  // load the bundle of the scheme this kernel does not check
  std::function<void(skel::SignedLoader&)> mutate;
  std::function<void(sys::LoadOptions&, verify::LoadConditions&, kmodel::SkeletonOptions&)> conditions;
  bool wrong_cert = false;
};

void flip_middle(Bytes& b) { b[b.size() / 2] ^= 0x01; }

std::vector<TamperClass> tamper_classes() {
  auto none = [](skel::SignedLoader&) {};
  auto same = [](sys::LoadOptions&, verify::LoadConditions&, kmodel::SkeletonOptions&) {};
  return {
      {"valid", false, none, same},
      {"wrong_certificate", false, none, same, true},
      {"insn_flipped", false, [](skel::SignedLoader& l) { flip_middle(l.insns); }, same},
      {"metadata_flipped", false, [](skel::SignedLoader& l) { flip_middle(l.data); }, same},
      {"signature_damaged", false, [](skel::SignedLoader& l) { l.signature.back() ^= 0x01; }, same},
      {"unknown_keyring_serial", false, none,
       [](sys::LoadOptions& o, verify::LoadConditions& c, kmodel::SkeletonOptions& m) {
         o.keyring = sys::KeyringMode::kSerial;
         o.keyring_serial = 12345;
         o.trusted_certs_der.clear();
         c.keyring = verify::LoadConditions::Keyring::kUnknownSerial;
         m.keyring_id = 12345;
       }},
      {"metadata_not_frozen", false, none,
       [](sys::LoadOptions& o, verify::LoadConditions& c, kmodel::SkeletonOptions& m) {
         o.faults.skip_freeze = true;
         c.metadata_frozen = false;
         m.skip_freeze = true;
       }},
      {"metadata_not_exclusive", false, none,
       [](sys::LoadOptions& o, verify::LoadConditions& c, kmodel::SkeletonOptions& m) {
         o.faults.skip_exclusive = true;
         c.metadata_exclusive = false;
         m.skip_exclusive = true;
       }},
      {"other_kernel_format", true, none, same},
      {"signature_truncated", false, [](skel::SignedLoader& l) { l.signature.resize(l.signature.size() - 10); },
       same},
  };
}

struct Payload {
  std::string dir;
  std::string kernel;  // "7.2", "7.3"
  verify::KernelProfile profile;
  crypto::Certificate signer, other;
  std::vector<std::string> examples;
};

std::string kernel_scheme(verify::KernelProfile k) {
  return k == verify::KernelProfile::k7_3 ? "loadtime" : "loader-hash";
}
std::string other_scheme(verify::KernelProfile k) {
  return k == verify::KernelProfile::k7_3 ? "loader-hash" : "loadtime";
}

skel::SignedLoader read_bundle(const Payload& p, const std::string& example, const std::string& scheme) {
  return skel::read_signed_file(p.dir + "/bundles/" + example + "." + scheme + ".bundle");
}

Json objects_json(const std::vector<sys::ObjectInfo>& maps, const std::vector<sys::ObjectInfo>& progs) {
  Json m = Json::array(), g = Json::array();
  for (const auto& o : maps)
    m.push_back({{"type", o.type}, {"name", o.name}, {"key_size", o.key_size}, {"value_size", o.value_size},
                 {"max_entries", o.max_entries}});
  for (const auto& o : progs) g.push_back({{"type", o.type}, {"name", o.name}, {"tag", o.tag_hex}});
  return {{"maps", m}, {"progs", g}};
}

Json model_objects_json(const kmodel::SkeletonResult& r) {
  Json m = Json::array(), g = Json::array();
  for (const auto& o : r.maps)
    m.push_back({{"type", o.type}, {"name", o.name}, {"key_size", o.key_size}, {"value_size", o.value_size},
                 {"max_entries", o.max_entries}});
  for (const auto& o : r.progs)
    g.push_back({{"type", o.type}, {"name", o.name}, {"tag", to_hex(ByteView(o.digest.data(), 8))}});
  return {{"maps", m}, {"progs", g}};
}

// The model profile that stands for each real kernel.
kmodel::KernelProfile model_profile(verify::KernelProfile k) {
  return k == verify::KernelProfile::k7_3 ? kmodel::KernelProfile::loadtime_2026()
                                           : kmodel::KernelProfile::linux_6_18();
}

// The same load in the model: a keyring of its own holding the trusted
// certificate, as sys::load's own keyring.
Json model_load(const Payload& p, const skel::SignedLoader& loader, const crypto::Certificate& trusted,
                kmodel::SkeletonOptions options) {
  Json out;
  try {
    kmodel::Kernel kernel(model_profile(p.profile));
    kmodel::Process& proc = kernel.spawn("bpfsig");
    if (options.keyring_id == kmodel::kBuiltinKeyring) {
      options.keyring_id = kernel.keyring_create("bpfsig");
      kernel.keyring_add_cert(options.keyring_id, crypto::certificate_der(trusted.get()));
    }
    kmodel::SkeletonResult r = kmodel::load_skeleton(kernel, proc, loader, options);
    out["model_errno"] = 0;
    out["model_objects"] = model_objects_json(r);
  } catch (const Error& e) {
    out["model_errno"] = e.err();
    out["model_message"] = e.what();
  }
  return out;
}

// The loader's hash-match block as bpfsig wrote it (loader-hash bundles are
// signed with the default block, bpftool 7.7's); null when there is none.
Json match_block_json(const skel::SignedLoader& loader) {
  const skel::MatchBlockInfo info = skel::read_match_block(isa::decode(loader.insns));
  if (!info.found) return nullptr;
  return {{"layout", info.layout == skel::MatchLayout::kExcl ? "excl" : "6.18"},
          {"length", info.length},
          {"mismatch_target", skel::mismatch_target_name(info.target)},
          {"shape_error", info.shape_error}};
}

void run_case(const Payload& p, const std::string& example, const TamperClass& t) {
  const std::string scheme = t.other_format ? other_scheme(p.profile) : kernel_scheme(p.profile);
  skel::SignedLoader loader = read_bundle(p, example, scheme);
  t.mutate(loader);
  const crypto::Certificate& trusted = t.wrong_cert ? p.other : p.signer;

  sys::LoadOptions opts;
  opts.keyring = sys::KeyringMode::kOwn;
  opts.trusted_certs_der = {crypto::certificate_der(trusted.get())};
  opts.faults.ignore_scheme_mismatch = t.other_format;
  verify::LoadConditions conditions;
  kmodel::SkeletonOptions model_options;
  t.conditions(opts, conditions, model_options);

  std::vector<crypto::Certificate> anchors;
  anchors.push_back(crypto::parse_certificate(crypto::certificate_der(trusted.get()), "trusted"));
  verify::Report predicted = verify::predict_kernel_load(loader, anchors, p.profile, conditions);

  Json j{{"case", example + "/" + t.name}, {"example", example}, {"class", t.name}, {"scheme", scheme},
         {"kernel", p.kernel},           {"predicted_errno", predicted.err}, {"predicted_kind", predicted.kind}};
  try {
    sys::LoadResult r = sys::load(loader, opts);
    j["kernel_errno"] = 0;
    j["kernel_checked"] = r.kernel_checked;
    j["objects"] = objects_json(r.maps, r.progs);
    sys::close_fds(r);
  } catch (const Error& e) {
    j["kernel_errno"] = e.err();
    j["kernel_message"] = e.what();
  }
  if (t.name == "valid") j["match_block"] = match_block_json(loader);
  j.update(model_load(p, loader, trusted, model_options));
  emit(j);
}

// Every keyring choice of `bpfsig load`, with the valid bundle.
void run_keyring_cases(const Payload& p, const std::string& example) {
  const skel::SignedLoader loader = read_bundle(p, example, kernel_scheme(p.profile));
  const Bytes signer_der = crypto::certificate_der(p.signer.get());
  struct KeyringCase {
    std::string name;
    sys::KeyringMode mode;
    bool with_cert;
  };
  const std::vector<KeyringCase> cases = {
      {"own", sys::KeyringMode::kOwn, true},           {"session", sys::KeyringMode::kSession, true},
      {"user", sys::KeyringMode::kUser, true},         {"serial", sys::KeyringMode::kSerial, true},
      {"builtin", sys::KeyringMode::kBuiltin, false},  {"secondary", sys::KeyringMode::kSecondary, false},
      {"platform", sys::KeyringMode::kPlatform, false}, {"own_without_anchor", sys::KeyringMode::kOwn, false},
  };
  for (const KeyringCase& c : cases) {
    sys::LoadOptions opts;
    opts.keyring = c.mode;
    if (c.with_cert) opts.trusted_certs_der = {signer_der};
    Json j{{"case", example + "/keyring_" + c.name}, {"example", example}, {"class", "keyring_" + c.name},
           {"kernel", p.kernel}};
    // The system keyrings hold no key of ours: the kernel's answer is ENOKEY.
    j["expected_errno"] = c.with_cert ? 0 : c.name == "own_without_anchor" ? EINVAL : ENOKEY;
    try {
      if (c.mode == sys::KeyringMode::kSerial)
        opts.keyring_serial = sys::keyring_create("bpfsig-vm-test", sys::kSessionKeyring);
      sys::LoadResult r = sys::load(loader, opts);
      j["kernel_errno"] = 0;
      j["keyring_id"] = r.keyring_id;
      sys::close_fds(r);
    } catch (const Error& e) {
      j["kernel_errno"] = e.err();
      j["kernel_message"] = e.what();
      j["kind"] = e.kind();
    }
    emit(j);
  }
}

void emit_probe(const Payload& p) {
  sys::KernelFeatures f = sys::probe_kernel();
  emit({{"case", "probe"},
        {"kernel", p.kernel},
        {"bpf", f.bpf},
        {"signed_load", f.signed_load},
        {"signature_check", sys::signature_check_name(f.signature_check)},
        {"signature_probe", f.signature_probe},
        {"reason", f.reason}});
}

// The enforcer (docs/enforce.md) on both kernels: each keeps prog->aux->sig,
// 7.2 for its 6.18-scheme check, 7.3 for the load-time one.
void run_enforce(const Payload& p) {
  const bool loadtime = p.profile == verify::KernelProfile::k7_3;
  vmtest::EnforceInputs in;
  in.enforcer = skel::read_signed_file(p.dir + (loadtime ? "/enforcer/enforcer.bpfsig" : "/enforcer/enforcer.loader-hash.bpfsig"));
  in.kernel_check = loadtime ? sys::SignatureCheck::kInsnsAndMetadata : sys::SignatureCheck::kInsns;
  in.model_profile = loadtime ? kmodel::KernelProfile::loadtime_2026() : kmodel::KernelProfile::linux_7_2();
  in.enforcer_cert_der = crypto::certificate_der(crypto::load_certificate(p.dir + "/enforcer/enforcer-cert.der").get());
  in.signed_loader = read_bundle(p, p.examples.front(), kernel_scheme(p.profile));
  in.signer_der = crypto::certificate_der(p.signer.get());
  in.unsigned_object = p.dir + "/enforcer/unsigned.bpf.o";
  vmtest::run_enforce_cases(in, [](const nlohmann::json& j) { emit(j); });
}

Payload read_payload(const std::string& dir) {
  Payload p;
  p.dir = dir;
  p.kernel = read_text(dir + "/kernel");
  p.profile = verify::parse_kernel_profile(p.kernel);
  p.signer = crypto::load_certificate(dir + "/certs/signer.der");
  p.other = crypto::load_certificate(dir + "/certs/other.der");
  const std::string suffix = "." + kernel_scheme(p.profile) + ".bundle";
  for (const std::string& name : list_dir(dir + "/bundles"))
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      p.examples.push_back(name.substr(0, name.size() - suffix.size()));
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: bpfsig_vm_runner PAYLOAD_DIR\n";
    return 2;
  }
  try {
    Payload p = read_payload(argv[1]);
    emit_probe(p);
    for (const std::string& example : p.examples)
      for (const TamperClass& t : tamper_classes()) run_case(p, example, t);
    if (!p.examples.empty()) run_keyring_cases(p, p.examples.front());
    if (!p.examples.empty()) run_enforce(p);
    vmtest::run_header_programs(p.dir, p.kernel, crypto::certificate_der(p.signer.get()), emit);
    if (p.profile == verify::KernelProfile::k7_3)
      vmtest::run_corpus_cases(p.dir, crypto::certificate_der(p.signer.get()), model_profile(p.profile), emit);
    // Last: its `enforce stop` leaves the kernel as it found it.
    vmtest::run_journey(p.dir, p.kernel, emit);
  } catch (const std::exception& e) {
    std::cout << "BPFSIG-RUNNER-ERROR " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
