// SPDX-License-Identifier: Apache-2.0
// The enforcer on the running kernel (include/bpfsig/enforcer.h): load the
// signed BPF-LSM light skeleton with sys::load, hand it its policy through a
// frozen map, attach each program with BPF_LINK_CREATE(BPF_LSM_MAC) and pin
// everything in one bpffs directory, which the programs then guard.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bpfsig/enforcer.h"
#include "bpfsig/enforcer_abi.h"
#include "bpfsig/error.h"
#include "sys/internal.h"
#include "common/uapi.h"

namespace bpfsig::sys {

namespace {

using detail::UniqueFd;

constexpr long kBpfFsMagic = 0xcafe4a11;  // BPF_FS_MAGIC
constexpr const char* kPolicyPin = "policy";
constexpr const char* kEventsPin = "events";
constexpr const char* kStatsPin = "stats";
constexpr const char* kPolicyTextPin = "policy_text";
constexpr const char* kLinkPrefix = "link_";
constexpr const char* kProgPrefix = "bpfsig_";  // enforcer.bpf.c's program names
// A policy text above this is refused rather than split over entries: 1 MiB
// fits one ARRAY value on every kernel and is far above any real policy.
constexpr size_t kMaxPolicyText = size_t{1} << 20;

// The kernel's dev_t (MKDEV: major << 20 | minor), as super_block.s_dev holds it.
uint64_t kernel_dev(dev_t dev) { return (uint64_t{major(dev)} << 20) | minor(dev); }

struct stat stat_or_throw(const std::string& path, const char* kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    throw Error(err, kind, path + ": " + std::strerror(err));
  }
  return st;
}

bool btf_has_prog_aux_sig(const std::string& path) {
  struct btf* btf = btf__parse(path.c_str(), nullptr);
  if (!btf) return false;
  bool found = false;
  int id = btf__find_by_name_kind(btf, "bpf_prog_aux", BTF_KIND_STRUCT);
  if (id > 0) {
    const struct btf_type* t = btf__type_by_id(btf, static_cast<uint32_t>(id));
    const struct btf_member* m = btf_members(t);
    for (uint32_t i = 0; i < btf_vlen(t) && !found; ++i, ++m) {
      const char* name = btf__name_by_offset(btf, m->name_off);
      found = name && std::strcmp(name, "sig") == 0;
    }
  }
  btf__free(btf);
  return found;
}

bool lsm_list_has_bpf(const std::string& path, bool& readable) {
  std::ifstream in(path);
  readable = static_cast<bool>(in);
  std::string list;
  std::getline(in, list);
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');)
    if (item == "bpf") return true;
  return false;
}

std::string pin_path(const std::string& dir, const std::string& name) { return dir + "/" + name; }

bool pin_exists(const std::string& dir, const char* name) {
  struct stat st {};
  return ::stat(pin_path(dir, name).c_str(), &st) == 0;
}

void require_bpffs(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0 || fs.f_type != kBpfFsMagic) {
    throw Error(ENOTDIR, "enforcer_not_bpffs",
                dir + " is not on a bpffs: mount one with `mount -t bpf bpf /sys/fs/bpf`");
  }
}

// Every entry of the pin directory, then the directory: what stop does, and
// what a failed start undoes. The guards let this executable through.
void remove_pins(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
    for (const std::string& name : names) {
      if (::unlink(pin_path(dir, name).c_str()) != 0) {
        int err = errno;
        throw Error(err, "enforcer_unpin", pin_path(dir, name) + ": " + std::strerror(err));
      }
    }
  }
  ::rmdir(dir.c_str());
}

// The pins of the enforcer's links ("link_<hook>"), sorted.
std::vector<std::string> link_pin_names(const std::string& dir) {
  std::vector<std::string> links;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(kLinkPrefix, 0) == 0) links.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(links.begin(), links.end());
  return links;
}

// The enforcer's maps are ARRAYs keyed by a u32 index.
Bytes lookup_index(int map_fd, uint32_t index) {
  Bytes value;
  map_lookup(map_fd, ByteView(reinterpret_cast<const uint8_t*>(&index), sizeof index), value);
  return value;
}

void update_index(int map_fd, uint32_t index, ByteView value) {
  map_update(map_fd, ByteView(reinterpret_cast<const uint8_t*>(&index), sizeof index), value);
}

bpfsig_enforcer_policy read_policy(int map_fd) {
  Bytes value = lookup_index(map_fd, 0);
  bpfsig_enforcer_policy p{};
  if (value.size() != sizeof p) {
    throw Error(EBADMSG, "enforcer_bad_policy_map",
                "the policy map holds " + std::to_string(value.size()) + " bytes, expected " + std::to_string(sizeof p));
  }
  std::memcpy(&p, value.data(), sizeof p);
  return p;
}

int map_fd_named(const LoadResult& r, const std::string& name) {
  for (size_t i = 0; i < r.maps.size() && i < r.map_fds.size(); ++i)
    if (r.maps[i].name == name || r.maps[i].name == name.substr(0, 15)) return r.map_fds[i];
  throw Error(EBADMSG, "enforcer_bad_object", "the enforcer object has no map '" + name + "'");
}

// The policy text in a frozen one-entry ARRAY map of its own size.
UniqueFd store_policy_text(const std::string& text) {
  if (text.size() > kMaxPolicyText) {
    throw Error(E2BIG, "enforcer_policy_too_large",
                "policy text of " + std::to_string(text.size()) + " bytes; the enforcer keeps at most " +
                    std::to_string(kMaxPolicyText));
  }
  MapCreate req;
  req.name = "bpfsig_ptext";
  req.value_size = static_cast<uint32_t>(std::max<size_t>(text.size(), 1));
  UniqueFd fd(map_create(req));
  Bytes value(req.value_size, 0);
  std::memcpy(value.data(), text.data(), text.size());
  update_index(fd.get(), 0, value);
  map_freeze(fd.get());
  return fd;
}

std::string read_policy_text(int fd) {
  Bytes value = lookup_index(fd, 0);
  std::string text(value.begin(), value.end());
  return text.substr(0, text.find('\0'));
}

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string hex(const uint8_t* p, size_t n) { return to_hex(ByteView(p, n)); }

// The whole start: every pin goes into `dir`, and the fds opened here are
// closed on return (the pins hold the objects); the caller removes `dir` when
// this throws.
void start_in(const EnforcerStartOptions& opts, const std::string& dir) {
  LoadOptions load_opts;
  load_opts.keyring = opts.keyring;
  load_opts.keyring_serial = opts.keyring_serial;
  load_opts.trusted_certs_der = opts.trusted_certs_der;
  LoadResult loaded = load(opts.enforcer, load_opts);
  std::vector<UniqueFd> fds;
  for (int fd : loaded.map_fds) fds.emplace_back(fd);
  for (int fd : loaded.prog_fds) fds.emplace_back(fd);

  // The policy names its owner and the directory it guards, then is frozen:
  // from here on no bpf() call can change it.
  if (opts.policy_value.size() != sizeof(bpfsig_enforcer_policy)) {
    throw Error(EINVAL, "enforcer_bad_policy", "compiled policy of " + std::to_string(opts.policy_value.size()) +
                                                   " bytes, expected " + std::to_string(sizeof(bpfsig_enforcer_policy)));
  }
  bpfsig_enforcer_policy policy{};
  std::memcpy(&policy, opts.policy_value.data(), sizeof policy);
  const struct stat exe = stat_or_throw("/proc/self/exe", "enforcer_owner");
  const struct stat pins = stat_or_throw(dir, "enforcer_pin_dir");
  policy.owner_exe_dev = kernel_dev(exe.st_dev);
  policy.owner_exe_ino = exe.st_ino;
  policy.pin_dir_dev = kernel_dev(pins.st_dev);
  policy.pin_dir_ino = pins.st_ino;
  const int policy_fd = map_fd_named(loaded, "bpfsig_policy");
  update_index(policy_fd, 0, ByteView(reinterpret_cast<const uint8_t*>(&policy), sizeof policy));
  map_freeze(policy_fd);
  UniqueFd text_fd = store_policy_text(opts.policy_text);

  obj_pin(policy_fd, pin_path(dir, kPolicyPin));
  obj_pin(map_fd_named(loaded, "bpfsig_events"), pin_path(dir, kEventsPin));
  obj_pin(map_fd_named(loaded, "bpfsig_stats"), pin_path(dir, kStatsPin));
  obj_pin(text_fd.get(), pin_path(dir, kPolicyTextPin));
  // The policy goes live with the first link; the guards come first so that
  // the enforcer is never active unprotected.
  std::vector<size_t> order;
  for (size_t i = 0; i < loaded.prog_fds.size(); ++i)
    if (opts.enforcer.prog_names.at(i) != "bpfsig_prog_load") order.push_back(i);
  for (size_t i = 0; i < loaded.prog_fds.size(); ++i)
    if (opts.enforcer.prog_names.at(i) == "bpfsig_prog_load") order.push_back(i);
  for (size_t i : order) {
    std::string hook = opts.enforcer.prog_names.at(i);
    if (hook.rfind(kProgPrefix, 0) == 0) hook = hook.substr(std::strlen(kProgPrefix));
    UniqueFd link(link_create(loaded.prog_fds[i], uapi::kAttachLsmMac));
    obj_pin(link.get(), pin_path(dir, kLinkPrefix + hook));
  }
}

}  // namespace

EnforcerSupport probe_enforcer_support(const std::string& vmlinux_btf, const std::string& lsm_list) {
  EnforcerSupport s;
  s.prog_aux_sig = btf_has_prog_aux_sig(vmlinux_btf);
  bool readable = false;
  s.bpf_lsm_active = lsm_list_has_bpf(lsm_list, readable);
  std::vector<std::string> missing;
  if (!s.prog_aux_sig)
    missing.push_back("its BTF (" + vmlinux_btf +
                      ") has no prog->aux->sig, where Linux 7.2 and later keep the signature verdict");
  if (!s.bpf_lsm_active)
    missing.push_back(readable ? "the BPF LSM is not active (" + lsm_list + " has no 'bpf'; boot with lsm=...,bpf)"
                               : "the active LSM list (" + lsm_list + ") cannot be read, so the BPF LSM cannot be "
                                                                     "confirmed (mount securityfs)");
  for (size_t i = 0; i < missing.size(); ++i) s.missing += (i ? "; and " : "this kernel cannot run the enforcer: ") + missing[i];
  return s;
}

EnforcerStatus enforcer_start(const EnforcerStartOptions& opts) {
  EnforcerSupport support = probe_enforcer_support();
  if (!support.ok()) throw Error(EOPNOTSUPP, "enforcer_unsupported", support.missing);
  const std::string& dir = opts.pin_dir;
  if (pin_exists(dir, kPolicyPin)) {
    throw Error(EEXIST, "enforcer_running", "an enforcer is pinned at " + dir + "; stop it first (bpfsig enforce stop)");
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    int err = errno;
    throw Error(err, "enforcer_pin_dir", dir + ": " + std::strerror(err));
  }
  try {
    require_bpffs(dir);
    start_in(opts, dir);
  } catch (...) {
    try {
      remove_pins(dir);
    } catch (...) {
      // The first error is the one to report.
    }
    throw;
  }
  return enforcer_status(dir);
}

EnforcerStatus enforcer_status(const std::string& dir) {
  EnforcerStatus s;
  s.pin_dir = dir;
  if (!pin_exists(dir, kPolicyPin)) return s;
  UniqueFd policy_fd(obj_get(pin_path(dir, kPolicyPin), 8 /* BPF_F_RDONLY */));
  bpfsig_enforcer_policy p = read_policy(policy_fd.get());
  s.running = true;
  s.mode = p.mode;
  s.rule_count = p.rule_count;
  s.policy_sha256_hex = hex(p.policy_sha256, sizeof p.policy_sha256);
  s.owner_exe_dev = p.owner_exe_dev;
  s.owner_exe_ino = p.owner_exe_ino;
  s.map_ids.push_back(map_info(policy_fd.get()).id);
  if (pin_exists(dir, kPolicyTextPin)) {
    UniqueFd text_fd(obj_get(pin_path(dir, kPolicyTextPin), 8));
    s.policy_text = read_policy_text(text_fd.get());
    s.map_ids.push_back(map_info(text_fd.get()).id);
  }
  if (pin_exists(dir, kStatsPin)) {
    UniqueFd stats_fd(obj_get(pin_path(dir, kStatsPin), 8));
    s.map_ids.push_back(map_info(stats_fd.get()).id);
    for (uint32_t k = 0; k < 2; ++k) {
      Bytes v = lookup_index(stats_fd.get(), k);
      uint64_t n = 0;
      std::memcpy(&n, v.data(), std::min(v.size(), sizeof n));
      (k == 0 ? s.decisions : s.lost_records) = n;
    }
  }
  for (const std::string& name : link_pin_names(dir)) {
    UniqueFd fd(obj_get(pin_path(dir, name)));
    LinkInfo info = link_info(fd.get());
    s.attachments.push_back({name.substr(std::strlen(kLinkPrefix)), info.id, info.prog_id});
  }
  return s;
}

namespace {

// The programs the enforcer's pinned links attach.
std::vector<uint32_t> attached_programs(const std::string& dir) {
  std::vector<uint32_t> ids;
  for (const std::string& name : link_pin_names(dir)) {
    UniqueFd fd(obj_get(pin_path(dir, name)));
    ids.push_back(link_info(fd.get()).prog_id);
  }
  return ids;
}

// The kernel frees an unpinned link from a workqueue (bpf_link_put), so the
// hook stays attached for a moment after the last unlink: stop returns only
// once the programs are gone, which is when the link has been detached.
void wait_until_unloaded(const std::vector<uint32_t>& progs) {
  constexpr auto kLimit = std::chrono::seconds(10);
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t id : progs) {
    while (prog_id_exists(id)) {
      if (std::chrono::steady_clock::now() - start > kLimit)
        throw Error(EBUSY, "enforcer_stop", "the enforcer's pins are gone, but its program id " + std::to_string(id) +
                                                " is still loaded after 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

}  // namespace

void enforcer_stop(const std::string& dir) {
  if (!pin_exists(dir, kPolicyPin)) {
    throw Error(ENOENT, "enforcer_not_running", "no enforcer is pinned at " + dir);
  }
  bpfsig_enforcer_policy p{};
  {
    UniqueFd policy_fd(obj_get(pin_path(dir, kPolicyPin), 8));
    p = read_policy(policy_fd.get());
  }
  // The same enforcer that start pinned here: its policy names this directory
  // and this executable (the guards would refuse anyone else anyway).
  const struct stat pins = stat_or_throw(dir, "enforcer_pin_dir");
  const struct stat exe = stat_or_throw("/proc/self/exe", "enforcer_owner");
  if (p.magic != BPFSIG_ENFORCER_MAGIC || p.pin_dir_ino != pins.st_ino || p.pin_dir_dev != kernel_dev(pins.st_dev)) {
    throw Error(EPERM, "enforcer_not_owner", dir + " holds a policy map that is not this enforcer's own pin");
  }
  if (p.owner_exe_ino != exe.st_ino || p.owner_exe_dev != kernel_dev(exe.st_dev)) {
    throw Error(EPERM, "enforcer_not_owner",
                "the enforcer at " + dir + " was started by another bpfsig executable (inode " +
                    std::to_string(p.owner_exe_ino) + "); only that one can stop it");
  }
  const std::vector<uint32_t> progs = attached_programs(dir);
  remove_pins(dir);
  wait_until_unloaded(progs);
}

namespace {

struct LogContext {
  const std::function<void(ByteView, uint64_t)>* sink;
  uint64_t realtime_minus_boottime_ns;
};

int on_record(void* ctx, void* data, size_t size) {
  auto* c = static_cast<LogContext*>(ctx);
  uint64_t boot_ns = 0;
  if (size >= 16) std::memcpy(&boot_ns, static_cast<const uint8_t*>(data) + 8, sizeof boot_ns);
  (*c->sink)(ByteView(static_cast<const uint8_t*>(data), size), (boot_ns + c->realtime_minus_boottime_ns) / 1000000);
  return 0;
}

}  // namespace

void enforcer_read_log(const std::string& dir, bool follow, const std::atomic<bool>& stop,
                       const std::function<void(ByteView, uint64_t)>& sink) {
  if (!pin_exists(dir, kEventsPin)) {
    throw Error(ENOENT, "enforcer_not_running", "no enforcer is pinned at " + dir);
  }
  UniqueFd fd(obj_get(pin_path(dir, kEventsPin)));
  LogContext ctx{&sink, clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME)};
  struct ring_buffer* rb = ring_buffer__new(fd.get(), on_record, &ctx, nullptr);
  if (!rb) {
    int err = errno;
    throw Error(err, "enforcer_log", pin_path(dir, kEventsPin) + ": cannot map the ring buffer: " + std::strerror(err));
  }
  int rc = ring_buffer__consume(rb);
  while (rc >= 0 && follow && !stop.load()) rc = ring_buffer__poll(rb, 200);
  ring_buffer__free(rb);
  if (rc < 0 && rc != -EINTR) throw Error(-rc, "enforcer_log", "reading the ring buffer: " + std::string(std::strerror(-rc)));
}

}  // namespace bpfsig::sys
