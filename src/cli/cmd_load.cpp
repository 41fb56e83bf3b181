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
};

sys::LoadOptions load_options(const LoadArgs& a) {
  sys::LoadOptions o;
  o.pin_dir = a.pin_dir;
  o.send_signature = !a.userspace_verify;
  if (a.keyring == "own") {
    o.keyring = sys::KeyringMode::kOwn;
  } else if (a.keyring == "session") {
    o.keyring = sys::KeyringMode::kSession;
  } else if (a.keyring == "user") {
    o.keyring = sys::KeyringMode::kUser;
  } else {
    try {
      size_t used = 0;
      long serial = std::stol(a.keyring, &used, 0);
      if (used != a.keyring.size() || serial < INT32_MIN || serial > INT32_MAX) throw std::invalid_argument("range");
      o.keyring = sys::KeyringMode::kSerial;
      o.keyring_serial = static_cast<int32_t>(serial);
    } catch (const std::logic_error&) {
      throw Error(EINVAL, "bad_argument", "--keyring must be own, session, user or a key serial, not '" + a.keyring + "'");
    }
  }
  return o;
}

// With --userspace-verify, bpfsig checks the signature itself before loading.
void verify_first(const skel::SignedLoader& loader, const LoadArgs& a) {
  if (a.trusted.empty())
    throw Error(EINVAL, "bad_argument", "--userspace-verify needs -i CERT: the certificate to verify against");
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

void print_result(const LoadArgs& a, const skel::SignedLoader& loader, const sys::LoadResult& r, bool json) {
  const std::string sig_note = r.signature_sent
                                   ? "checked by the kernel (keyring_id " + std::to_string(r.keyring_id) + ")"
                                   : "verified in user space by bpfsig; the kernel did not check it";
  if (json) {
    Json maps = Json::array(), progs = Json::array();
    for (const auto& m : r.maps) maps.push_back(object_json(m));
    for (const auto& p : r.progs) progs.push_back(object_json(p));
    print_json(Json{{"ok", true},
                    {"file", a.file},
                    {"skeleton", loader.name},
                    {"signature_sent", r.signature_sent},
                    {"keyring_id", r.keyring_id},
                    {"signature", sig_note},
                    {"loader_retval", r.loader_retval},
                    {"loader_map", object_json(r.loader_map)},
                    {"loader_prog", object_json(r.loader_prog)},
                    {"maps", maps},
                    {"programs", progs},
                    {"pinned", r.pinned}});
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
  if (r.pinned.empty())
    std::cout << "  (not pinned: the programs and maps go away when bpfsig exits; use --pin DIR to keep them)\n";
}

void run_load(const LoadArgs& a, const Common& common) {
  std::vector<CommandFile> inputs{{"FILE", a.file}};
  for (const auto& t : a.trusted) inputs.push_back({"-i", t});
  check_command_files(inputs, {});  // standard input for one of them at most
  skel::SignedLoader loader = skel::read_signed_file(a.file);
  if (a.userspace_verify) verify_first(loader, a);
  if (!a.trusted.empty() && !a.userspace_verify) {
    // The keyring gets the certificate given on the command line.
    auto certs = load_trusted(a.trusted);
    loader.signer_cert = crypto::certificate_der(certs.front().get());
  }
  sys::LoadResult r = sys::load(loader, load_options(a));
  print_result(a, loader, r, common.json);
  sys::close_fds(r);
}

}  // namespace

void add_load(CLI::App& app, Common& common) {
  auto args = std::make_shared<LoadArgs>();
  CLI::App* sub = app.add_subcommand("load", "Load a signed bundle or header into the running kernel");
  sub->add_option("--keyring", args->keyring, "own (a new keyring, removed afterwards), session, user, or a key serial");
  sub->add_option("--pin", args->pin_dir, "Pin the created programs and maps under this bpffs directory");
  sub->add_option("-i,--cert", args->trusted, "Certificate for the keyring / for --userspace-verify")
      ->allow_extra_args(false);
  sub->add_flag("--userspace-verify", args->userspace_verify,
                "Verify the signature in bpfsig, then load without it (the loader's hash check still runs)");
  sub->add_option("file", args->file, "Bundle or signed light-skeleton header (- for standard input)")->required();
  sub->add_flag("-j,--json", common.json, "JSON output");
  sub->callback([args, &common] { run_load(*args, common); });
}

}  // namespace bpfsig::cli
