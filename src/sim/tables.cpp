// SPDX-License-Identifier: Apache-2.0
// The three name tables of the scenario runner. A scheme, kernel profile or
// LSM that another part of bpfsig adds plugs in here by filling in its row's
// function (rows whose function is null are known names that are not built
// in yet: a scenario naming them parses, and running it is refused).
#include <algorithm>
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/sim.h"

namespace bpfsig::sim {

namespace {

Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// The loader every scheme starts from: libbpf's gen_loader output with the
// hash-match block, from an object, or the loader of a bundle as it is.
skel::SignedLoader base_loader(const SignRequest& req) {
  if (req.base) return *req.base;
  skel::SignOptions opts;
  opts.layout = req.layout;
  opts.mismatch_target = req.mismatch;
  return skel::sign_object(req.object_path, req.cert, req.key, opts);
}

void set_signer(skel::SignedLoader& loader, const SignRequest& req) {
  loader.signer_cert = crypto::certificate_der(req.cert);
}

// Linux 6.18: the PKCS#7 signs the loader's instructions.
skel::SignedLoader sign_loader_hash(const SignRequest& req) {
  skel::SignedLoader loader = base_loader(req);
  if (req.key) {
    loader.signature = crypto::sign_bpftool(loader.insns, req.cert, req.key);
    set_signer(loader, req);
  }
  return loader;
}

// bpf-next 2026: the PKCS#7 signs insns || the metadata map's value.
skel::SignedLoader sign_loadtime(const SignRequest& req) {
  skel::SignedLoader loader = base_loader(req);
  if (req.key) {
    loader.signature = crypto::sign_bpftool(concat(loader.insns, loader.data), req.cert, req.key);
    set_signer(loader, req);
  }
  return loader;
}

template <class Spec>
const Spec* find_in(const std::vector<Spec>& table, std::string_view name) {
  auto it = std::find_if(table.begin(), table.end(), [&](const Spec& s) { return s.name == name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

const std::vector<SchemeSpec>& scheme_table() {
  static const std::vector<SchemeSpec> table = {
      {"loader-hash", "6.18", "capability", sign_loader_hash},
      {"loadtime", "loadtime", "capability", sign_loadtime},
      {"hornet", "hornet", "capability,hornet", nullptr},      // plugs in with the Hornet scheme
      {"hash-chain", "hash-chain", "capability", nullptr},     // plugs in with the hash-chain scheme
  };
  return table;
}

const std::vector<ProfileSpec>& profile_table() {
  // Host BTF off: a scenario's outcome must not depend on the machine it runs on.
  auto deterministic = [](kmodel::KernelProfile (*make)()) {
    return [make] {
      kmodel::KernelProfile p = make();
      p.host_vmlinux_btf = false;
      return p;
    };
  };
  static const std::vector<ProfileSpec> table = {
      {"6.18", deterministic(&kmodel::KernelProfile::linux_6_18)},
      {"6.18-toctou", deterministic(&kmodel::KernelProfile::pre_2026_toctou)},
      {"loadtime", deterministic(&kmodel::KernelProfile::loadtime_2026)},
      {"hornet", nullptr},      // plugs in with the Hornet profile
      {"hash-chain", nullptr},  // plugs in with the hash-chain profile
  };
  return table;
}

namespace {

bool bool_option(const LsmContext& ctx, const std::string& key, bool fallback) {
  auto it = ctx.options.find(key);
  if (it == ctx.options.end()) return fallback;
  if (const bool* b = std::get_if<bool>(&it->second)) return *b;
  throw Error(EINVAL, "scenario", "lsm_options: " + key + " must be true or false");
}

void no_options(const LsmContext& ctx, const std::string& lsm, std::initializer_list<const char*> known) {
  for (const auto& option : ctx.options) {
    const std::string& key = option.first;
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
      throw Error(EINVAL, "scenario", "lsm_options." + lsm + ": unknown option " + key);
  }
}

}  // namespace

const std::vector<LsmSpec>& lsm_table() {
  static const std::vector<LsmSpec> table = {
      {"capability",
       [](const LsmContext& ctx) -> std::unique_ptr<lsm::Lsm> {
         no_options(ctx, "capability", {"unprivileged_bpf_disabled"});
         lsm::CapabilityOptions o;
         o.unprivileged_bpf_disabled = bool_option(ctx, "unprivileged_bpf_disabled", o.unprivileged_bpf_disabled);
         return std::make_unique<lsm::CapabilityLsm>(o);
       }},
      {"signed-only",
       [](const LsmContext& ctx) -> std::unique_ptr<lsm::Lsm> {
         no_options(ctx, "signed-only", {"allow_kernel_loads"});
         lsm::SignedOnlyOptions o;
         o.allow_kernel_loads = bool_option(ctx, "allow_kernel_loads", o.allow_kernel_loads);
         return std::make_unique<lsm::SignedOnlyLsm>(o);
       }},
      {"hornet", nullptr},  // plugs in with the Hornet LSM
      {"ipe", nullptr},     // plugs in with the IPE LSM (reads ctx.ipe_policy_text)
  };
  return table;
}

const SchemeSpec* find_scheme(std::string_view name) { return find_in(scheme_table(), name); }
const ProfileSpec* find_profile(std::string_view name) { return find_in(profile_table(), name); }
const LsmSpec* find_lsm(std::string_view name) { return find_in(lsm_table(), name); }

}  // namespace bpfsig::sim
