// SPDX-License-Identifier: Apache-2.0
// load(): the light-skeleton load sequence of libbpf 1.7's skel_internal.h
// (bpf_load_and_run), plus the keyring work of `bpftool prog load -S` and
// the naming and pinning of what the loader created.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"
#include "sys/uapi.h"

namespace bpfsig::sys {
namespace {

using detail::UniqueFd;

constexpr int32_t kProcessKeyring = -2;  // KEY_SPEC_PROCESS_KEYRING

void check_loader_shape(const skel::SignedLoader& loader) {
  if (loader.insns.empty() || loader.insns.size() % 8 != 0)
    throw Error(EINVAL, "bad_loader",
                "loader instructions must be a non-empty multiple of 8 bytes, got " +
                    std::to_string(loader.insns.size()));
  if (loader.data.empty()) throw Error(EINVAL, "bad_loader", "loader metadata blob is empty");
}

[[noreturn]] void throw_no_cert() {
  throw Error(EINVAL, "no_cert",
              "the loader carries no signer certificate, so bpfsig cannot put one in its own keyring; "
              "add the certificate to a keyring yourself and load with that keyring (session, user or a "
              "serial), or use --userspace-verify");
}

// Refuses, before touching the kernel, what cannot be sent.
void check_signing_inputs(const skel::SignedLoader& loader, const LoadOptions& opts) {
  if (loader.signature.empty())
    throw Error(EINVAL, "no_signature",
                "the loader carries no signature to send to the kernel; sign it first, or load it with "
                "--userspace-verify");
  if (opts.keyring == KeyringMode::kOwn && loader.signer_cert.empty()) throw_no_cert();
  // Linux 6.18 checks a signature over the instructions only: a loadtime or
  // hash-chain signature would be rejected (EKEYREJECTED, or E2BIG for the
  // unknown signature_maps field), so say why before touching the kernel.
  if (loader.scheme == skel::Scheme::kLoadtime || loader.scheme == skel::Scheme::kHashChain)
    throw Error(EOPNOTSUPP, "scheme_not_in_kernel",
                "the " + skel::scheme_name(loader.scheme) +
                    " scheme is not checked by this kernel (Linux 6.18 verifies signatures over the instructions "
                    "only): use --userspace-verify to verify it in user space and load it unsigned, or try it "
                    "in the kernel model with `bpfsig run --kernel " + skel::scheme_name(loader.scheme) + "`");
}

// The keyring PROG_LOAD is told to verify the signature against. For kOwn it
// is a fresh keyring holding only the signer's certificate, removed again by
// the destructor whatever happens in between.
class LoaderKeyring {
 public:
  LoaderKeyring(const skel::SignedLoader& loader, const LoadOptions& opts) {
    switch (opts.keyring) {
      case KeyringMode::kOwn: make_own(loader); break;
      case KeyringMode::kSession: id_ = add_cert_to_special(loader, kSessionKeyring); break;
      case KeyringMode::kUser: id_ = add_cert_to_special(loader, kUserKeyring); break;
      case KeyringMode::kSerial: id_ = opts.keyring_serial; break;
    }
  }
  ~LoaderKeyring() { remove_own(); }
  LoaderKeyring(const LoaderKeyring&) = delete;
  LoaderKeyring& operator=(const LoaderKeyring&) = delete;

  int32_t id() const { return id_; }

 private:
  void make_own(const skel::SignedLoader& loader) {
    if (loader.signer_cert.empty()) throw_no_cert();
    create_own_keyring();
    try {
      cert_ = key_add_x509(loader.signer_cert, own_);
    } catch (...) {
      remove_own();
      throw;
    }
    id_ = own_;
  }

  // The session keyring is where bpftool puts its keys; a process without a
  // usable session keyring (some daemons) still has a process keyring.
  void create_own_keyring() {
    const std::string description = "bpfsig:" + std::to_string(::getpid());
    try {
      own_ = keyring_create(description, kSessionKeyring);
      parent_ = kSessionKeyring;
    } catch (const Error& session_error) {
      try {
        own_ = keyring_create(description, kProcessKeyring);
        parent_ = kProcessKeyring;
      } catch (const Error& process_error) {
        throw Error(process_error.err(), "keyring",
                    std::string(session_error.what()) + "; " + process_error.what());
      }
    }
  }

  static int32_t add_cert_to_special(const skel::SignedLoader& loader, int32_t keyring) {
    // Without a certificate the caller is expected to have added it already.
    if (!loader.signer_cert.empty()) key_add_x509(loader.signer_cert, keyring);
    return keyring;
  }

  // Best effort, never throws. Invalidation removes a key at once for
  // lookups and the kernel's garbage collector unlinks it everywhere; it must
  // happen while this process still possesses the keys (through the parent
  // keyring), since the keys grant nothing to non-possessors. Unlinking is
  // the fallback: the keyring dies with its last link.
  void remove_own() noexcept {
    if (own_ == 0) return;
    try {
      if (cert_ != 0) key_invalidate(cert_);
    } catch (const Error&) {
    }
    try {
      key_invalidate(own_);
    } catch (const Error&) {
      try {
        key_unlink(own_, parent_);
      } catch (const Error&) {
      }
    }
    own_ = cert_ = 0;
  }

  int32_t id_ = 0;
  int32_t own_ = 0;
  int32_t cert_ = 0;
  int32_t parent_ = 0;
};

// MAP_CREATE (exclusive to the loader) -> UPDATE -> FREEZE -> GET_INFO(hash):
// the last step makes the kernel compute map->sha, which the loader compares
// with the digest baked into its instructions.
UniqueFd create_metadata_map(const skel::SignedLoader& loader) {
  MapCreate req;
  req.map_type = uapi::kMapTypeArray;
  req.name = "__loader.map";
  req.key_size = 4;
  req.value_size = static_cast<uint32_t>(loader.data.size());
  req.max_entries = 1;
  if (loader.excl_hash.empty()) {
    crypto::Digest digest = crypto::sha256(loader.insns);  // what a loader's prog->digest is
    req.excl_prog_hash.assign(digest.begin(), digest.end());
  } else {
    req.excl_prog_hash = loader.excl_hash;
  }
  UniqueFd map(map_create(req));
  const uint8_t key[4] = {};
  map_update(map.get(), key, loader.data);
  map_freeze(map.get());
  map_get_hash(map.get());
  return map;
}

[[noreturn]] void throw_kernel_no_sig() {
  throw Error(EOPNOTSUPP, "kernel_no_sig",
              "this kernel cannot verify BPF program signatures (PROG_LOAD with a signature returned EOPNOTSUPP: "
              "CONFIG_SYSTEM_DATA_VERIFICATION is off); use --userspace-verify to check the signature in user "
              "space and load without it");
}

UniqueFd load_loader_prog(const skel::SignedLoader& loader, int map_fd, bool send_signature, int32_t keyring_id) {
  ProgLoad req;
  req.prog_type = uapi::kProgTypeSyscall;
  req.name = "__loader.prog";
  req.insns = loader.insns;
  req.license = "Dual BSD/GPL";
  req.prog_flags = uapi::kFlagSleepable;
  req.fd_array = {map_fd};
  // No fd_array_cnt, whatever the scheme: signed loadtime/hash-chain loads
  // are refused before this point, and on 6.18 fd_array_cnt = 1 over the
  // exclusive metadata map is EACCES (the digest is not computed yet when
  // fd_array is bound; measured on 6.18.44, tests/sys/test_sys_schemes.cpp).
  if (send_signature) {
    req.signature = loader.signature;
    req.keyring_id = keyring_id;
  }
  try {
    return UniqueFd(prog_load(req));
  } catch (const Error& e) {
    if (e.err() == EOPNOTSUPP && send_signature) throw_kernel_no_sig();
    throw;
  }
}

// A zeroed struct bpf_loader_ctx followed by the map and prog descriptors,
// as a light skeleton lays them out; ctx.sz is the unrounded size. The
// loader reads its inputs from there (all zero: defaults, user-space copies)
// and writes the fds it creates into the descriptors.
Bytes make_loader_ctx(const skel::SignedLoader& loader) {
  uint32_t size = skel::loader_ctx_size(loader);
  Bytes ctx((size + 7u) & ~7u, 0);
  store_le32(ctx.data(), size);
  return ctx;
}

std::string errno_description(int err) { return errno_name(err) + ", " + std::strerror(err); }

[[noreturn]] void throw_loader_failed(int32_t retval) {
  int err = -retval;
  std::string message = "loader returned " + std::to_string(retval) + " (" + errno_description(err) + ")";
  if (err == EINVAL)
    message += ": the metadata map's hash does not match the one in the loader's instructions "
               "(tampered or mismatched metadata), or one of the loader's own bpf() calls was refused";
  else
    message += ": one of the loader's own bpf() calls (map or program creation) failed";
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

LoadResult load(const skel::SignedLoader& loader, const LoadOptions& opts) {
  check_loader_shape(loader);
  const bool send_signature = opts.send_signature;
  if (send_signature) check_signing_inputs(loader, opts);

  LoadResult result;
  result.signature_sent = send_signature;
  UniqueFd map = create_metadata_map(loader);
  UniqueFd prog;
  if (send_signature) {
    // The keyring only matters to PROG_LOAD: it goes away right after.
    LoaderKeyring keyring(loader, opts);
    result.keyring_id = keyring.id();
    prog = load_loader_prog(loader, map.get(), true, keyring.id());
  } else {
    prog = load_loader_prog(loader, map.get(), false, 0);
  }
  result.loader_map = map_info(map.get());
  result.loader_prog = prog_info(prog.get());

  Bytes ctx = make_loader_ctx(loader);
  RunResult run = prog_run(prog.get(), ctx);
  result.loader_retval = static_cast<int32_t>(run.retval);
  if (result.loader_retval < 0) throw_loader_failed(result.loader_retval);

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
