// SPDX-License-Identifier: Apache-2.0
// The three name tables of the scenario runner. A scheme, kernel profile or
// LSM that another part of bpfsig adds plugs in here by filling in its row's
// function (rows whose function is null are known names that are not built
// in yet: a scenario naming them parses, and running it is refused).
#include <algorithm>
#include <cerrno>

#include "bpfsig/error.h"
#include "bpfsig/hornet.h"
#include "bpfsig/ipe.h"
#include "bpfsig/sim.h"

namespace bpfsig::sim {

namespace {

// The loader every scheme starts from: libbpf's gen_loader output with the
// hash-match block, from an object, or the loader of a bundle as it is.
skel::SignedLoader base_loader(const SignRequest& req) {
  if (req.base) return *req.base;
  skel::SignOptions opts;
  opts.layout = req.layout;
  opts.mismatch_target = req.mismatch;
  opts.ctx_overrides = req.ctx_overrides;
  return skel::sign_object(req.object_path, req.cert, req.key, opts);
}

void set_signer(skel::SignedLoader& loader, const SignRequest& req) {
  loader.signer_cert = crypto::certificate_der(req.cert);
}

// A loader of `scheme`. From an object with a key: skel::sign_object, exactly
// what `bpfsig sign --scheme` writes. From a bundle (or without a key): the
// loader as it is, re-signed over what `scheme` signs when there is a key.
skel::SignedLoader sign_as(const SignRequest& req, skel::Scheme scheme) {
  if (!req.base && req.key) {
    skel::SignOptions opts;
    opts.scheme = scheme;
    opts.layout = req.layout;
    opts.mismatch_target = req.mismatch;
    opts.ctx_overrides = req.ctx_overrides;
    return skel::sign_object(req.object_path, req.cert, req.key, opts);
  }
  skel::SignedLoader loader = base_loader(req);
  loader.scheme = scheme;
  loader.signature_maps.clear();
  if (scheme == skel::Scheme::kHashChain) loader.signature_maps = {0};  // fd_array[0]: the metadata map
  if (!req.key) return loader;
  if (scheme == skel::Scheme::kHornet) {
    crypto::Digest meta = crypto::sha256_padded8(loader.data);
    crypto::HornetMapHash map{0, Bytes(meta.begin(), meta.end())};
    loader.signature = crypto::sign_hornet(loader.insns, {map}, crypto::HornetFormat::kFinal, req.cert, req.key);
  } else {
    loader.signature = crypto::sign_bpftool(skel::signed_content(loader), req.cert, req.key);
  }
  set_signer(loader, req);
  return loader;
}

std::function<skel::SignedLoader(const SignRequest&)> signer_for(skel::Scheme scheme) {
  return [scheme](const SignRequest& req) { return sign_as(req, scheme); };
}

template <class Spec>
const Spec* find_in(const std::vector<Spec>& table, std::string_view name) {
  auto it = std::find_if(table.begin(), table.end(), [&](const Spec& s) { return s.name == name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

const std::vector<SchemeSpec>& scheme_table() {
  static const std::vector<SchemeSpec> table = {
      {"loader-hash", "6.18", "capability", signer_for(skel::Scheme::kLoaderHash)},
      {"loadtime", "loadtime", "capability", signer_for(skel::Scheme::kLoadtime)},
      {"hornet", "hornet", "capability,hornet", signer_for(skel::Scheme::kHornet)},
      {"hash-chain", "hash-chain", "capability", signer_for(skel::Scheme::kHashChain)},
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
      {"hornet", deterministic(&kmodel::KernelProfile::hornet)},
      {"hash-chain", deterministic(&kmodel::KernelProfile::hash_chain)},
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
      {"hornet",
       [](const LsmContext& ctx) -> std::unique_ptr<lsm::Lsm> {
         no_options(ctx, "hornet", {"design"});
         lsm::HornetOptions o;
         auto it = ctx.options.find("design");
         if (it != ctx.options.end()) {
           const std::string* design = std::get_if<std::string>(&it->second);
           if (!design) throw Error(EINVAL, "scenario", "lsm_options.hornet: design must be \"final\" or \"v7\"");
           o = lsm::HornetOptions{lsm::parse_hornet_design(*design)};
         }
         return std::make_unique<lsm::HornetLsm>(o);
       }},
      {"ipe",
       [](const LsmContext& ctx) -> std::unique_ptr<lsm::Lsm> {
         no_options(ctx, "ipe", {"success_audit", "enforce"});
         auto store = std::make_shared<ipe::PolicyStore>();
         if (!ctx.ipe_policy_text.empty()) store->activate(store->load(ctx.ipe_policy_text, {}).name);
         // ALLOWs are audited too by default, so the matrix can say what IPE decided.
         store->success_audit = bool_option(ctx, "success_audit", true);
         store->enforce = bool_option(ctx, "enforce", true);
         return ipe::ipe_factory(store)();
       }},
  };
  return table;
}

const SchemeSpec* find_scheme(std::string_view name) { return find_in(scheme_table(), name); }
const ProfileSpec* find_profile(std::string_view name) { return find_in(profile_table(), name); }
const LsmSpec* find_lsm(std::string_view name) { return find_in(lsm_table(), name); }

}  // namespace bpfsig::sim
