// SPDX-License-Identifier: Apache-2.0
// bpf(2) wrappers. Each command fills its own zeroed attr struct from uapi.h
// and passes exactly that struct's size, so the kernel sees the 6.18 fields
// whatever the installed <linux/bpf.h> knows about.
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"
#include "sys/internal.h"
#include "common/uapi.h"

namespace bpfsig::sys {
namespace {

using detail::bpf_call;

uint64_t ptr_to_u64(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

void copy_object_name(char (&dst)[uapi::kObjNameLen], const std::string& name) {
  std::memset(dst, 0, sizeof dst);
  std::memcpy(dst, name.data(), std::min(name.size(), sizeof dst - 1));
}

std::string object_name(const char (&src)[uapi::kObjNameLen]) {
  return std::string(src, strnlen(src, sizeof src));
}

bool is_percpu_map(uint32_t type) {
  // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE: lookups
  // return one value (rounded up to 8 bytes) per possible CPU.
  return type == 5 || type == 6 || type == 10 || type == 21;
}

size_t lookup_value_size(int map_fd) {
  ObjectInfo info = map_info(map_fd);
  if (!is_percpu_map(info.type)) return info.value_size;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) throw Error(-cpus, "bpf_syscall", "cannot count the possible CPUs for a per-CPU map lookup");
  return ((info.value_size + 7u) & ~7u) * static_cast<size_t>(cpus);
}

// Keeps the last max_chars of a verifier log, starting at a line boundary.
std::string log_tail(const std::string& log, size_t max_chars) {
  if (log.size() <= max_chars) return log;
  size_t start = log.size() - max_chars;
  size_t newline = log.find('\n', start);
  if (newline != std::string::npos && newline + 1 < log.size()) start = newline + 1;
  return "...\n" + log.substr(start);
}

// BPF_OBJ_GET_INFO_BY_FD into the info struct of the object's kind.
template <typename Info>
void fill_info(int fd, Info& info) {
  uapi::GetInfoAttr attr{};
  attr.bpf_fd = static_cast<uint32_t>(fd);
  attr.info_len = sizeof info;
  attr.info = ptr_to_u64(&info);
  bpf_call(uapi::kObjGetInfoByFd, &attr, sizeof attr);
}

void fill_map_info(int map_fd, uapi::MapInfo& info) { fill_info(map_fd, info); }

}  // namespace

namespace detail {

std::string bpf_command_name(int cmd) {
  switch (cmd) {
    case uapi::kMapCreate: return "BPF_MAP_CREATE";
    case uapi::kMapLookupElem: return "BPF_MAP_LOOKUP_ELEM";
    case uapi::kMapUpdateElem: return "BPF_MAP_UPDATE_ELEM";
    case uapi::kProgLoad: return "BPF_PROG_LOAD";
    case uapi::kObjPin: return "BPF_OBJ_PIN";
    case uapi::kProgRun: return "BPF_PROG_RUN";
    case uapi::kObjGetInfoByFd: return "BPF_OBJ_GET_INFO_BY_FD";
    case uapi::kMapFreeze: return "BPF_MAP_FREEZE";
    default: return "bpf command " + std::to_string(cmd);
  }
}

std::string bpf_error_message(int cmd, int err) { return bpf_command_name(cmd) + ": " + std::strerror(err); }

long bpf_call(int cmd, void* attr, size_t attr_size) {
  long rc = ::syscall(__NR_bpf, cmd, attr, static_cast<unsigned int>(attr_size));
  if (rc < 0) {
    int err = errno;
    throw Error(err, "bpf_syscall", bpf_error_message(cmd, err));
  }
  return rc;
}

}  // namespace detail

int map_create(const MapCreate& req) {
  uapi::MapCreateAttr attr{};
  attr.map_type = req.map_type;
  attr.key_size = req.key_size;
  attr.value_size = req.value_size;
  attr.max_entries = req.max_entries;
  attr.map_flags = req.map_flags;
  copy_object_name(attr.map_name, req.name);
  if (!req.excl_prog_hash.empty()) {
    attr.excl_prog_hash = ptr_to_u64(req.excl_prog_hash.data());
    attr.excl_prog_hash_size = static_cast<uint32_t>(req.excl_prog_hash.size());
  }
  return static_cast<int>(bpf_call(uapi::kMapCreate, &attr, sizeof attr));
}

void map_update(int map_fd, ByteView key, ByteView value, uint64_t flags) {
  uapi::MapElemAttr attr{};
  attr.map_fd = static_cast<uint32_t>(map_fd);
  attr.key = ptr_to_u64(key.data());
  attr.value = ptr_to_u64(value.data());
  attr.flags = flags;
  bpf_call(uapi::kMapUpdateElem, &attr, sizeof attr);
}

void map_lookup(int map_fd, ByteView key, Bytes& value_out) {
  // The kernel writes value_size bytes (per CPU for per-CPU maps) whatever
  // the caller expects, so the buffer is sized from the map itself.
  value_out.assign(lookup_value_size(map_fd), 0);
  uapi::MapElemAttr attr{};
  attr.map_fd = static_cast<uint32_t>(map_fd);
  attr.key = ptr_to_u64(key.data());
  attr.value = ptr_to_u64(value_out.data());
  bpf_call(uapi::kMapLookupElem, &attr, sizeof attr);
}

void map_freeze(int map_fd) {
  uapi::MapElemAttr attr{};
  attr.map_fd = static_cast<uint32_t>(map_fd);
  bpf_call(uapi::kMapFreeze, &attr, sizeof attr);
}

crypto::Digest map_get_hash(int map_fd) {
  crypto::Digest hash{};
  uapi::MapInfo info{};
  info.hash = ptr_to_u64(hash.data());
  info.hash_size = uapi::kSha256Size;
  fill_map_info(map_fd, info);
  return hash;
}

int prog_load(const ProgLoad& req) {
  uapi::ProgLoadAttr attr{};
  attr.prog_type = req.prog_type;
  attr.insn_cnt = static_cast<uint32_t>(req.insns.size() / 8);
  attr.insns = ptr_to_u64(req.insns.data());
  attr.license = ptr_to_u64(req.license.c_str());
  attr.prog_flags = req.prog_flags;
  copy_object_name(attr.prog_name, req.name);
  if (!req.fd_array.empty()) attr.fd_array = ptr_to_u64(req.fd_array.data());
  attr.fd_array_cnt = req.fd_array_cnt;
  if (!req.signature.empty()) {
    attr.signature = ptr_to_u64(req.signature.data());
    attr.signature_size = static_cast<uint32_t>(req.signature.size());
  }
  attr.keyring_id = req.keyring_id;

  std::string log;
  if (req.log_level != 0) {
    log.assign(4u << 20, '\0');
    attr.log_level = req.log_level;
    attr.log_size = static_cast<uint32_t>(log.size());
    attr.log_buf = ptr_to_u64(log.data());
  }
  long fd = ::syscall(__NR_bpf, uapi::kProgLoad, &attr, static_cast<unsigned int>(sizeof attr));
  if (fd >= 0) return static_cast<int>(fd);
  int err = errno;
  std::string message = detail::bpf_error_message(uapi::kProgLoad, err);
  if (req.log_level != 0) {
    log.resize(strnlen(log.data(), log.size()));
    if (!log.empty()) message += "\nverifier log:\n" + log_tail(log, 4000);
  }
  throw Error(err, "bpf_syscall", message);
}

RunResult prog_run(int prog_fd, Bytes& ctx_inout) {
  // BPF_PROG_TYPE_SYSCALL takes its ctx through ctx_in only (ctx_out must be
  // 0) and copies the ctx back into ctx_in after the run.
  uapi::ProgRunAttr attr{};
  attr.prog_fd = static_cast<uint32_t>(prog_fd);
  if (!ctx_inout.empty()) {
    attr.ctx_in = ptr_to_u64(ctx_inout.data());
    attr.ctx_size_in = static_cast<uint32_t>(ctx_inout.size());
  }
  bpf_call(uapi::kProgRun, &attr, sizeof attr);
  return RunResult{attr.retval, attr.duration};
}

ObjectInfo map_info(int map_fd) {
  uapi::MapInfo raw{};
  fill_map_info(map_fd, raw);
  ObjectInfo info;
  info.id = raw.id;
  info.type = raw.type;
  info.type_name = map_type_name(raw.type);
  info.name = object_name(raw.name);
  info.key_size = raw.key_size;
  info.value_size = raw.value_size;
  info.max_entries = raw.max_entries;
  return info;
}

ObjectInfo prog_info(int prog_fd) {
  uapi::ProgInfo raw{};
  fill_info(prog_fd, raw);
  ObjectInfo info;
  info.id = raw.id;
  info.type = raw.type;
  info.type_name = prog_type_name(raw.type);
  info.name = object_name(raw.name);
  info.insn_count = raw.xlated_prog_len / 8;
  info.tag_hex = to_hex(ByteView(raw.tag, sizeof raw.tag));
  return info;
}

void obj_pin(int fd, const std::string& path) {
  uapi::ObjPinAttr attr{};
  attr.pathname = ptr_to_u64(path.c_str());
  attr.bpf_fd = static_cast<uint32_t>(fd);
  if (::syscall(__NR_bpf, uapi::kObjPin, &attr, static_cast<unsigned int>(sizeof attr)) == 0) return;
  int err = errno;
  std::string message = detail::bpf_error_message(uapi::kObjPin, err) + " (" + path + ")";
  // EPERM: the directory is not on a bpffs; ENOENT: it does not exist;
  // EINVAL: the path cannot be pinned to (e.g. it is no directory of a bpffs).
  if (err == EPERM || err == ENOENT || err == EINVAL)
    message += "; pinning needs a bpffs: mount one with `mount -t bpf bpf /sys/fs/bpf` and pin below it";
  throw Error(err, "bpf_syscall", message);
}

int obj_get(const std::string& path, uint32_t file_flags) {
  uapi::ObjPinAttr attr{};
  attr.pathname = ptr_to_u64(path.c_str());
  attr.file_flags = file_flags;
  if (long fd = ::syscall(__NR_bpf, uapi::kObjGet, &attr, static_cast<unsigned int>(sizeof attr)); fd >= 0)
    return static_cast<int>(fd);
  int err = errno;
  throw Error(err, "bpf_syscall", detail::bpf_error_message(uapi::kObjGet, err) + " (" + path + ")");
}

int link_create(int prog_fd, uint32_t attach_type) {
  uapi::LinkCreateAttr attr{};
  attr.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = attach_type;
  return static_cast<int>(detail::bpf_call(uapi::kLinkCreate, &attr, sizeof attr));
}

LinkInfo link_info(int link_fd) {
  uapi::LinkInfo raw{};
  fill_info(link_fd, raw);
  return LinkInfo{raw.type, raw.id, raw.prog_id};
}

bool prog_id_exists(uint32_t prog_id) {
  uint32_t attr[4] = {prog_id, 0, 0, 0};  // union bpf_attr: prog_id, next_id, open_flags
  long fd = ::syscall(__NR_bpf, uapi::kProgGetFdById, attr, static_cast<unsigned int>(sizeof attr));
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return true;
  }
  int err = errno;
  if (err == ENOENT) return false;
  throw Error(err, "bpf_syscall", detail::bpf_error_message(uapi::kProgGetFdById, err));
}

}  // namespace bpfsig::sys
