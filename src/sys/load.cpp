// SPDX-License-Identifier: Apache-2.0
// load(): the light-skeleton load sequence of libbpf 1.7's skel_internal.h
// (bpf_load_and_run), plus the keyring work of `bpftool prog load -S` and
// the naming and pinning of what the loader created.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"
#include "common/uapi.h"

namespace bpfsig::sys {
namespace {

using detail::UniqueFd;

constexpr int32_t kBuiltinKeyring = 0;    // VERIFY_USE_SECONDARY_KEYRING etc. in the kernel's terms:
constexpr int32_t kSecondaryKeyring = 1;  // 0 builtin, 1 secondary (falls back to builtin),
constexpr int32_t kPlatformKeyring = 2;   // 2 platform

void check_loader_shape(const skel::SignedLoader& loader) {
  if (loader.insns.empty() || loader.insns.size() % 8 != 0)
    throw Error(EINVAL, "bad_loader",
                "loader instructions must be a non-empty multiple of 8 bytes, got " +
                    std::to_string(loader.insns.size()));
  if (loader.data.empty()) throw Error(EINVAL, "bad_loader", "loader metadata blob is empty");
}

bool is_system_keyring(KeyringMode mode) {
  return mode == KeyringMode::kBuiltin || mode == KeyringMode::kSecondary || mode == KeyringMode::kPlatform;
}

// The trust anchor comes from the user, never from the file being loaded.
void check_trust_anchor(const LoadOptions& opts) {
  if (opts.keyring == KeyringMode::kOwn && opts.trusted_certs_der.empty())
    throw Error(EINVAL, "no_trust_anchor",
                "nothing to trust: --keyring own needs -i CERT, the certificate the signature must verify "
                "under (bpfsig never trusts the certificate inside the file it loads); or name a keyring "
                "that already holds the key (--keyring session, user, builtin, secondary, platform or a serial)");
  if (is_system_keyring(opts.keyring) && !opts.trusted_certs_der.empty())
    throw Error(EINVAL, "bad_argument",
                "-i CERT cannot go into the kernel's builtin, secondary or platform keyring: those hold only "
                "keys the kernel was built or booted with; use --keyring own, session, user or a serial");
}

[[noreturn]] void throw_kernel_no_sig() {
  throw Error(EOPNOTSUPP, "kernel_no_sig",
              "this kernel cannot verify BPF program signatures (PROG_LOAD with a signature returned EOPNOTSUPP: "
              "CONFIG_SYSTEM_DATA_VERIFICATION is off); use --userspace-verify to check the signature in user "
              "space and load without it");
}

// The scheme a kernel that checks `check` wants, as `bpfsig sign --scheme` names it.
skel::Scheme scheme_for(SignatureCheck check) {
  return check == SignatureCheck::kInsnsAndMetadata ? skel::Scheme::kLoadtime : skel::Scheme::kLoaderHash;
}

std::string kernel_check_words(SignatureCheck check) {
  return check == SignatureCheck::kInsnsAndMetadata
             ? "load-time signatures (insns || metadata, Linux 7.3 and later)"
             : "6.18-format signatures (insns only; the loader checks its metadata hash: Linux 6.18 to 7.2)";
}

std::string scheme_words(skel::Scheme scheme) {
  switch (scheme) {
    case skel::Scheme::kLoaderHash: return "in the 6.18 format (loader-hash)";
    case skel::Scheme::kLoadtime: return "a load-time signature (loadtime)";
    default: return "in the " + skel::scheme_name(scheme) + " scheme";
  }
}

// Refuses, before touching the kernel, a loader the kernel would not check
// the way its scheme means: one line naming both, and the fix.
void check_scheme_matches(const skel::SignedLoader& loader, SignatureCheck check) {
  if (check == SignatureCheck::kNone) throw_kernel_no_sig();
  if (loader.scheme == skel::Scheme::kHornet || loader.scheme == skel::Scheme::kHashChain)
    throw Error(EOPNOTSUPP, "scheme_not_in_kernel",
                "no released kernel checks the " + skel::scheme_name(loader.scheme) +
                    " scheme: try it in the kernel model with `bpfsig run --kernel " +
                    skel::scheme_name(loader.scheme) + "`, or sign with --scheme " +
                    skel::scheme_name(scheme_for(check)) + " for this kernel");
  if (check == SignatureCheck::kUnknown || loader.scheme == scheme_for(check)) return;
  throw Error(EOPNOTSUPP, "scheme_not_in_kernel",
              "this kernel checks " + kernel_check_words(check) + "; the loader is " + scheme_words(loader.scheme) +
                  ": sign it with `--scheme " + skel::scheme_name(scheme_for(check)) + "`");
}

// The keyring PROG_LOAD is told to verify against, set up for the load only.
class LoadKeyring {
 public:
  explicit LoadKeyring(const LoadOptions& opts) {
    switch (opts.keyring) {
      case KeyringMode::kOwn: own_.emplace(opts.trusted_certs_der); id_ = own_->id(); break;
      case KeyringMode::kSession: id_ = add_anchors(opts, kSessionKeyring); break;
      case KeyringMode::kUser: id_ = add_anchors(opts, kUserKeyring); break;
      case KeyringMode::kSerial: id_ = add_anchors(opts, opts.keyring_serial); break;
      case KeyringMode::kBuiltin: id_ = kBuiltinKeyring; break;
      case KeyringMode::kSecondary: id_ = kSecondaryKeyring; break;
      case KeyringMode::kPlatform: id_ = kPlatformKeyring; break;
    }
  }
  int32_t id() const { return id_; }

 private:
  // As `bpftool prog load -S` does, the certificates stay in a session or
  // user keyring after the load.
  static int32_t add_anchors(const LoadOptions& opts, int32_t keyring) {
    for (const Bytes& der : opts.trusted_certs_der) key_add_x509(der, keyring);
    return keyring;
  }

  int32_t id_ = 0;
  std::optional<detail::OwnKeyring> own_;
};

// MAP_CREATE (exclusive to the loader) -> UPDATE -> FREEZE -> GET_INFO(hash):
// the last step makes the kernel compute map->sha, which the loader compares
// with the digest baked into its instructions.
UniqueFd create_metadata_map(const skel::SignedLoader& loader, bool fetch_hash, const LoadFaults& faults) {
  MapCreate req;
  req.map_type = uapi::kMapTypeArray;
  req.name = "__loader.map";
  req.key_size = 4;
  req.value_size = static_cast<uint32_t>(loader.data.size());
  req.max_entries = 1;
  if (faults.skip_exclusive) {
    // no excl_prog_hash
  } else if (loader.excl_hash.empty()) {
    crypto::Digest digest = crypto::sha256(loader.insns);  // what a loader's prog->digest is
    req.excl_prog_hash.assign(digest.begin(), digest.end());
  } else {
    req.excl_prog_hash = loader.excl_hash;
  }
  UniqueFd map(map_create(req));
  const uint8_t key[4] = {};
  map_update(map.get(), key, loader.data);
  if (!faults.skip_freeze) map_freeze(map.get());
  // The 6.18 loader compares map->sha, which only this call computes; a
  // load-time loader has no such check (libbpf 1.8 skips the call).
  if (fetch_hash) map_get_hash(map.get());
  return map;
}

// How the loader goes to PROG_LOAD.
struct LoaderSend {
  bool signature = false;
  bool fd_array_cnt = false;  // bind the metadata map through fd_array_cnt = 1
  int32_t keyring_id = 0;
  uint32_t log_level = 0;
};

UniqueFd load_loader_prog(const skel::SignedLoader& loader, int map_fd, const LoaderSend& send) {
  ProgLoad req;
  req.prog_type = uapi::kProgTypeSyscall;
  req.name = "__loader.prog";
  req.insns = loader.insns;
  req.license = "Dual BSD/GPL";
  req.prog_flags = uapi::kFlagSleepable;
  req.fd_array = {map_fd};
  // A load-time kernel hashes the maps bound through fd_array_cnt into the
  // signed content; a 6.18 kernel must not get it (it binds the exclusive map
  // before the digest exists: EACCES, tests/sys/test_sys_schemes.cpp).
  if (send.fd_array_cnt) req.fd_array_cnt = 1;
  if (send.signature) {
    req.signature = loader.signature;
    req.keyring_id = send.keyring_id;
  }
  req.log_level = send.log_level;
  try {
    return UniqueFd(prog_load(req));
  } catch (const Error& e) {
    if (e.err() == EOPNOTSUPP && send.signature) throw_kernel_no_sig();
    throw Error(e.err(), e.kind(), std::string("loading the loader program __loader.prog: ") + e.what());
  }
}

// A zeroed struct bpf_loader_ctx followed by the map and prog descriptors,
// as a light skeleton lays them out; ctx.sz is the unrounded size. The
// loader reads its inputs from there (all zero: defaults, user-space copies)
// and writes the fds it creates into the descriptors.
// With a log buffer, the loader hands it to every BPF_PROG_LOAD it makes
// (gen_loader copies log_level, log_size and log_buf from the ctx).
// The ctx_edits go into the map descriptors (initial_value points into
// edits, which must outlive the run).
Bytes make_loader_ctx(const skel::SignedLoader& loader, uint32_t log_level, std::string& log,
                      const LoaderCtxEdits& edits) {
  uint32_t size = skel::loader_ctx_size(loader);
  Bytes ctx((size + 7u) & ~7u, 0);
  store_le32(ctx.data(), size);
  auto desc = [&](size_t index) {
    if (index >= loader.map_names.size())
      throw Error(EINVAL, "bad_argument", "a ctx edit for map index " + std::to_string(index) + ", which the loader lacks");
    return ctx.data() + uapi::kLoaderCtxHeaderSize + index * uapi::kMapDescSize;
  };
  for (const auto& [index, entries] : edits.max_entries) store_le32(desc(index) + 4, entries);
  for (const auto& [index, value] : edits.initial_values)
    store_le64(desc(index) + 8, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(value.data())));
  if (log_level != 0) {
    log.assign(1u << 20, '\0');
    store_le32(ctx.data() + 8, log_level);
    store_le32(ctx.data() + 12, static_cast<uint32_t>(log.size()));
    store_le64(ctx.data() + 16, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(log.data())));
  }
  return ctx;
}

std::string errno_description(int err) { return errno_name(err) + ", " + std::strerror(err); }

// gen_loader writes the fds into the ctx only once everything is created, so
// a failed run leaves no trace there. The kernel's object ids do: ids are
// handed out in order, so the maps and programs the loader created (and
// closed again in its cleanup) used the ids between the loader's own and
// those of a probe map and program created now. The loader creates its maps
// first, then its programs, in the file's order. Empty when that cannot be
// told (a probe fails, or another process created objects meanwhile).
std::string failed_object(const skel::SignedLoader& loader, const LoadResult& result) {
  try {
    MapCreate map_req;
    map_req.name = "bpfsig_probe";
    map_req.value_size = 8;
    UniqueFd map(map_create(map_req));
    UniqueFd prog(prog_load(detail::trivial_syscall_prog()));
    const uint32_t maps_made = map_info(map.get()).id - result.loader_map.id - 1;
    const uint32_t progs_made = prog_info(prog.get()).id - result.loader_prog.id - 1;
    if (maps_made < loader.map_names.size())
      return progs_made == 0 ? "map '" + loader.map_names[maps_made] + "'" : "";
    if (progs_made < loader.prog_names.size()) return "program '" + loader.prog_names[progs_made] + "'";
  } catch (const Error&) {
  }
  return "";
}

std::string first_object_name(const skel::SignedLoader& loader) {
  if (!loader.map_names.empty()) return "map '" + loader.map_names.front() + "'";
  if (!loader.prog_names.empty()) return "program '" + loader.prog_names.front() + "'";
  return "";
}

std::string trimmed_log(std::string log) {
  log.resize(strnlen(log.data(), log.size()));
  return log;
}

[[noreturn]] void throw_loader_failed(const skel::SignedLoader& loader, const LoadResult& result,
                                      bool loader_checks_metadata) {
  const int err = -result.loader_retval;
  std::string message =
      "loader returned " + std::to_string(result.loader_retval) + " (" + errno_description(err) + ")";
  const std::string failed = failed_object(loader, result);
  const bool nothing_made = failed == first_object_name(loader);
  if (!failed.empty() && !(nothing_made && loader_checks_metadata && err == EINVAL))
    message += ": creating " + failed + " failed";
  else if (nothing_made && loader_checks_metadata && err == EINVAL)
    message += ": before creating anything: the loader's hash-match block refused its metadata map (a hash "
               "that differs from the one in its instructions, or, in the excl layout, a map that is not "
               "exclusive), or creating " + failed + " was refused";
  else
    message += ": one of the loader's own bpf() calls failed";
  if (!result.verifier_log.empty())
    message += "\nverifier log (the last program the loader tried to load):\n" + result.verifier_log;
  else if (failed.rfind("program", 0) == 0)
    message += " (see why with --verifier-log)";
  throw Error(err, "loader_failed", message);
}

// The fds the loader stored in its descriptors, owned until handed over.
struct CreatedFds {
  std::vector<UniqueFd> maps, progs;
};

CreatedFds take_created_fds(const skel::SignedLoader& loader, const Bytes& ctx) {
  // Take ownership of every valid fd first, so none leaks if one is missing.
  CreatedFds fds;
  std::vector<std::string> missing;
  size_t offset = uapi::kLoaderCtxHeaderSize;
  for (const auto& name : loader.map_names) {
    int fd = static_cast<int32_t>(load_le32(ctx.data() + offset));
    if (fd > 0) fds.maps.emplace_back(fd);
    else missing.push_back("map " + name);
    offset += uapi::kMapDescSize;
  }
  for (const auto& name : loader.prog_names) {
    int fd = static_cast<int32_t>(load_le32(ctx.data() + offset));
    if (fd > 0) fds.progs.emplace_back(fd);
    else missing.push_back("program " + name);
    offset += uapi::kProgDescSize;
  }
  if (!missing.empty())
    throw Error(EINVAL, "loader_failed",
                "the loader stored no fd for " + missing.front() +
                    " (do the SignedLoader's map and program lists match the loader's ctx layout?)");
  return fds;
}

std::string pin_name(const std::string& skeleton_name, const ObjectInfo& info) {
  return skeleton_name.empty() ? info.name : skeleton_name;
}

void make_pin_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(ec.value(), "pin_dir",
                "cannot create pin directory " + dir + ": " + ec.message() +
                    "; pinning needs a bpffs: mount one with `mount -t bpf bpf /sys/fs/bpf` and pin below it");
}

// Pins every map and program; on failure removes the pins made so far.
std::vector<std::string> pin_all(const skel::SignedLoader& loader, const LoadResult& result, const std::string& dir) {
  make_pin_dir(dir);
  std::vector<std::string> pinned;
  try {
    for (size_t i = 0; i < result.map_fds.size(); ++i) {
      std::string path = dir + "/" + pin_name(loader.map_names[i], result.maps[i]);
      obj_pin(result.map_fds[i], path);
      pinned.push_back(path);
    }
    for (size_t i = 0; i < result.prog_fds.size(); ++i) {
      std::string path = dir + "/" + pin_name(loader.prog_names[i], result.progs[i]);
      obj_pin(result.prog_fds[i], path);
      pinned.push_back(path);
    }
  } catch (...) {
    for (const auto& path : pinned) ::unlink(path.c_str());
    throw;
  }
  return pinned;
}

}  // namespace

namespace {

SignatureCheck kernel_signature_check(const LoadOptions& opts) {
  if (opts.kernel_check != SignatureCheck::kUnprobed) return opts.kernel_check;
  KernelFeatures f = probe_kernel();
  if (!f.bpf) throw Error(EPERM, "kernel_probe", "cannot probe what this kernel checks: " + f.reason);
  return f.signature_check;
}

// What goes to PROG_LOAD, decided before anything is created.
LoaderSend plan_send(const skel::SignedLoader& loader, const LoadOptions& opts, LoadResult& result) {
  LoaderSend send;
  send.log_level = opts.verifier_log_level;
  if (!opts.send_signature) {
    result.kernel_checked = "no signature: verified in user space by bpfsig";
    return send;
  }
  if (loader.signature.empty())
    throw Error(EINVAL, "no_signature",
                "the loader carries no signature to send to the kernel; sign it first, or load it with "
                "--userspace-verify");
  check_trust_anchor(opts);
  result.kernel_check = kernel_signature_check(opts);
  if (opts.faults.ignore_scheme_mismatch) {
    if (result.kernel_check == SignatureCheck::kNone) throw_kernel_no_sig();
  } else {
    check_scheme_matches(loader, result.kernel_check);
  }
  send.signature = true;
  // The loader's own scheme decides the shape, so that a mismatch sent on
  // purpose (faults.ignore_scheme_mismatch) is what its signer produced.
  send.fd_array_cnt = loader.scheme == skel::Scheme::kLoadtime;
  result.kernel_checked = signature_check_description(result.kernel_check);
  return send;
}

}  // namespace

LoadResult load(const skel::SignedLoader& loader, const LoadOptions& opts) {
  check_loader_shape(loader);
  LoadResult result;
  LoaderSend send = plan_send(loader, opts, result);
  result.signature_sent = send.signature;
  result.fd_array_cnt_sent = send.fd_array_cnt;

  // Only a loader with a hash-match block reads map->sha, which only
  // BPF_OBJ_GET_INFO_BY_FD computes; a load-time loader has none.
  const bool loader_checks_metadata = skel::loader_reads_map_hash(loader);
  UniqueFd map = create_metadata_map(loader, loader_checks_metadata, opts.faults);
  UniqueFd prog;
  {
    // The keyring only matters to PROG_LOAD: an own keyring goes away right after.
    std::optional<LoadKeyring> keyring;
    if (send.signature) {
      keyring.emplace(opts);
      send.keyring_id = result.keyring_id = keyring->id();
    }
    prog = load_loader_prog(loader, map.get(), send);
  }
  result.loader_map = map_info(map.get());
  result.loader_prog = prog_info(prog.get());

  Bytes ctx = make_loader_ctx(loader, opts.verifier_log_level, result.verifier_log, opts.ctx_edits);
  RunResult run = prog_run(prog.get(), ctx);
  result.verifier_log = trimmed_log(std::move(result.verifier_log));
  result.loader_retval = static_cast<int32_t>(run.retval);
  if (result.loader_retval < 0) throw_loader_failed(loader, result, loader_checks_metadata);

  CreatedFds created = take_created_fds(loader, ctx);
  for (const auto& fd : created.maps) result.maps.push_back(map_info(fd.get()));
  for (const auto& fd : created.progs) result.progs.push_back(prog_info(fd.get()));
  for (const auto& fd : created.maps) result.map_fds.push_back(fd.get());
  for (const auto& fd : created.progs) result.prog_fds.push_back(fd.get());
  if (!opts.pin_dir.empty()) result.pinned = pin_all(loader, result, opts.pin_dir);

  // Success: the caller owns the fds now. The loader's own map and program
  // close here (the UniqueFds), as bpf_load_and_run does.
  for (auto& fd : created.maps) fd.release();
  for (auto& fd : created.progs) fd.release();
  return result;
}

void close_fds(const LoadResult& result) {
  for (int fd : result.map_fds) ::close(fd);
  for (int fd : result.prog_fds) ::close(fd);
}

}  // namespace bpfsig::sys
