// SPDX-License-Identifier: Apache-2.0
// bpfsig load: the light-skeleton load sequence against the running kernel.
#include <cerrno>
#include <iostream>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "cli/cli.h"

namespace bpfsig::cli {

namespace {

struct LoadArgs {
  std::string file, keyring = "own", pin_dir;
  std::vector<std::string> trusted;
  bool userspace_verify = false;
  uint32_t verifier_log = 0;
};

struct NamedKeyring {
  const char* name;
  sys::KeyringMode mode;
};
constexpr NamedKeyring kNamedKeyrings[] = {
    {"own", sys::KeyringMode::kOwn},         {"session", sys::KeyringMode::kSession},
    {"user", sys::KeyringMode::kUser},       {"builtin", sys::KeyringMode::kBuiltin},
    {"secondary", sys::KeyringMode::kSecondary}, {"platform", sys::KeyringMode::kPlatform},
};

sys::LoadOptions load_options(const LoadArgs& a) {
  sys::LoadOptions o;
  o.pin_dir = a.pin_dir;
  o.send_signature = !a.userspace_verify;
  o.verifier_log_level = a.verifier_log;
  if (!a.userspace_verify)
    for (const auto& cert : load_trusted(a.trusted)) o.trusted_certs_der.push_back(crypto::certificate_der(cert.get()));
  for (const NamedKeyring& k : kNamedKeyrings)
    if (a.keyring == k.name) {
      o.keyring = k.mode;
      return o;
    }
  {
    try {
      size_t used = 0;
      long serial = std::stol(a.keyring, &used, 0);
      if (used != a.keyring.size() || serial < INT32_MIN || serial > INT32_MAX) throw std::invalid_argument("range");
      o.keyring = sys::KeyringMode::kSerial;
      o.keyring_serial = static_cast<int32_t>(serial);
    } catch (const std::logic_error&) {
      throw usage_error("--keyring must be own, session, user, builtin, secondary, platform or a key serial, not '" +
                        a.keyring + "'" +
                        did_you_mean(a.keyring, {"own", "session", "user", "builtin", "secondary", "platform"}));
    }
  }
  return o;
}

// Without the signature sent, no keyring is used; the kernel's own keyrings
// take no certificates from bpfsig.
void check_usage(const CLI::App& cmd, const LoadArgs& a) {
  if (a.userspace_verify && a.trusted.empty())
    throw usage_error("--userspace-verify needs -i CERT: the certificate to verify against");
  refuse_unless_applies(cmd, "--keyring", !a.userspace_verify,
                        "does not apply to --userspace-verify: the signature is not sent, no keyring is used");
  const bool system_keyring = a.keyring == "builtin" || a.keyring == "secondary" || a.keyring == "platform";
  refuse_unless_applies(cmd, "-i", a.userspace_verify || !system_keyring,
                        "does not apply to --keyring builtin, secondary or platform: those hold only keys the kernel "
                        "was built or booted with");
}

// With --userspace-verify, bpfsig checks the signature itself before loading.
void verify_first(const skel::SignedLoader& loader, const LoadArgs& a) {
  verify::Report r = verify::verify_loader(loader, load_trusted(a.trusted));
  if (r.err != 0)
    throw Error(r.err, r.kind, a.file + ": " + verify::verdict_name(r.verdict) + ": " + r.message + "; not loaded");
}

Json object_json(const sys::ObjectInfo& o) {
  Json j{{"id", o.id}, {"type", o.type_name}, {"name", o.name}};
  if (o.insn_count) {
    j["insn_count"] = o.insn_count;
    j["tag"] = o.tag_hex;
  } else {
    j["key_size"] = o.key_size;
    j["value_size"] = o.value_size;
    j["max_entries"] = o.max_entries;
  }
  return j;
}

void print_result(const LoadArgs& a, const skel::SignedLoader& loader, const sys::LoadResult& r, const Common& common) {
  const std::string sig_note = r.signature_sent
                                   ? "checked by the kernel: " + r.kernel_checked + " (keyring_id " +
                                         std::to_string(r.keyring_id) + ")"
                                   : "verified in user space by bpfsig; the kernel did not check it";
  if (common.json) {
    Json maps = Json::array(), progs = Json::array();
    for (const auto& m : r.maps) maps.push_back(object_json(m));
    for (const auto& p : r.progs) progs.push_back(object_json(p));
    print_json(common, Json{{"ok", true},
                    {"file", a.file},
                    {"skeleton", loader.name},
                    {"signature_sent", r.signature_sent},
                    {"keyring_id", r.keyring_id},
                    {"signature", sig_note},
                    {"kernel_checked", r.kernel_checked},
                    {"kernel_scheme", sys::signature_check_name(r.kernel_check)},
                    {"fd_array_cnt", r.fd_array_cnt_sent ? 1 : 0},
                    {"loader_retval", r.loader_retval},
                    {"loader_map", object_json(r.loader_map)},
                    {"loader_prog", object_json(r.loader_prog)},
                    {"maps", maps},
                    {"programs", progs},
                    {"pinned", r.pinned},
                    {"verifier_log", r.verifier_log}});
    return;
  }
  std::cout << "loaded " << a.file << " (skeleton " << loader.name << ")\n"
            << "  signature: " << sig_note << "\n"
            << "  loader:    prog id " << r.loader_prog.id << ", metadata map id " << r.loader_map.id
            << ", returned " << r.loader_retval << "\n";
  for (const auto& p : r.progs)
    std::cout << "  prog  id " << p.id << "  " << p.type_name << "  " << p.name << "  (" << p.insn_count
              << " insns, tag " << p.tag_hex << ")\n";
  for (const auto& m : r.maps)
    std::cout << "  map   id " << m.id << "  " << m.type_name << "  " << m.name << "  (key " << m.key_size << ", value "
              << m.value_size << ", max_entries " << m.max_entries << ")\n";
  for (const auto& p : r.pinned) std::cout << "  pinned " << p << "\n";
  if (!r.verifier_log.empty()) std::cout << "verifier log:\n" << r.verifier_log << "\n";
  if (r.pinned.empty())
    std::cout << "  (not pinned: the programs and maps go away when bpfsig exits; use --pin DIR to keep them)\n";
}

void run_load(const LoadArgs& a, const Common& common, const CLI::App& cmd) {
  check_usage(cmd, a);
  std::vector<CommandFile> inputs{{"FILE", a.file}};
  for (const auto& t : a.trusted) inputs.push_back({"-i", t});
  check_command_files(inputs, {});  // standard input for one of them at most
  const sys::LoadOptions options = load_options(a);
  skel::SignedLoader loader = skel::read_signed_file(a.file);
  if (a.userspace_verify) verify_first(loader, a);
  sys::LoadResult r = sys::load(loader, options);
  print_result(a, loader, r, common);
  sys::close_fds(r);
}

void define_load(CLI::App* sub, Common& common) {
  auto args = std::make_shared<LoadArgs>();
  sub->add_option("--keyring", args->keyring,
                  "own (a new keyring holding only the -i certificates, removed afterwards), session, user, "
                  "builtin, secondary, platform, or a key serial");
  sub->add_option("--pin", args->pin_dir, "Pin the created programs and maps under this bpffs directory");
  sub->add_option("-i,--cert", args->trusted,
                  "Trusted certificate: put in the keyring (required with --keyring own), or the anchor for "
                  "--userspace-verify; never taken from the file")
      ->allow_extra_args(false);
  sub->add_option("--verifier-log", args->verifier_log,
                  "Collect the verifier log of the loader and of every program it loads (LEVEL 1 or 2), and show "
                  "it when a load fails")
      ->expected(0, 1)
      ->default_str("1")
      ->check(CLI::Range(1, 2));
  sub->add_flag("--userspace-verify", args->userspace_verify,
                "Verify the signature in bpfsig, then load without it (the loader's hash check still runs)");
  sub->add_option("file", args->file, "Bundle or signed light-skeleton header (- for standard input)")->required();
  add_output_flags(*sub, common);
  sub->callback([args, &common, sub] { run_load(*args, common, *sub); });
}

}  // namespace

const Command kCommandLoad{"load", "Load a signed bundle or header into the running kernel", define_load};

}  // namespace bpfsig::cli
