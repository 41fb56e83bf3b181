// SPDX-License-Identifier: Apache-2.0
// load_skeleton(): the light-skeleton load sequence of skel_internal.h
// (bpf_load_and_run), as sys::load runs it against the real kernel, run
// through the model instead.
#include <string>

#include "kmodel/objects.h"
#include "common/uapi.h"

namespace bpfsig::kmodel {
namespace {


// Closes the loader's own fds however the sequence ends, as the UniqueFds of
// sys::load do.
class LoaderFds {
 public:
  LoaderFds(Kernel& kernel, Process& proc) : kernel_(kernel), proc_(proc) {}
  ~LoaderFds() {
    for (int fd : fds_) {
      try {
        kernel_.close(proc_, fd);
      } catch (const Error&) {  // the loader program may have closed it already
      }
    }
  }
  LoaderFds(const LoaderFds&) = delete;
  LoaderFds& operator=(const LoaderFds&) = delete;
  int keep(int fd) {
    fds_.push_back(fd);
    return fd;
  }

 private:
  Kernel& kernel_;
  Process& proc_;
  std::vector<int> fds_;
};

// MAP_CREATE (exclusive to the loader) -> UPDATE -> FREEZE -> GET_INFO(hash);
// the hash only for a loader that reads it (a hash-match block), as sys::load.
int create_metadata_map(Kernel& kernel, Process& proc, const skel::SignedLoader& loader,
                        const SkeletonOptions& options) {
  MapCreateAttr attr{kMapArray, 4, static_cast<uint32_t>(loader.data.size()), 1, 0, "__loader.map", loader.excl_hash};
  if (options.skip_exclusive) {
    attr.excl_prog_hash.clear();
  } else if (attr.excl_prog_hash.empty()) {
    crypto::Digest digest = crypto::sha256(loader.insns);  // a loader's prog->digest
    attr.excl_prog_hash.assign(digest.begin(), digest.end());
  }
  int fd = kernel.map_create(proc, attr);
  const uint8_t key[4] = {};
  try {
    kernel.map_update(proc, fd, key, loader.data);
    if (!options.skip_freeze) kernel.map_freeze(proc, fd);
    if (skel::loader_reads_map_hash(loader)) kernel.map_get_hash(proc, fd);
  } catch (...) {
    kernel.close(proc, fd);
    throw;
  }
  return fd;
}

ProgLoadAttr loader_prog_attr(const skel::SignedLoader& loader, int map_fd, const SkeletonOptions& options) {
  ProgLoadAttr attr;
  attr.prog_type = kProgSyscall;
  attr.insns = loader.insns;
  attr.license = "Dual BSD/GPL";
  attr.prog_flags = kFSleepable;
  attr.name = "__loader.prog";
  attr.fd_array = {map_fd};
  // What each scheme's light skeleton passes with its signature: the
  // loadtime one folds its metadata map (fd_array_cnt = 1), the hash-chain
  // one names it in signature_maps. Unsigned (sys::load --userspace-verify)
  // neither is sent: on 6.18 fd_array_cnt over the exclusive map is EACCES.
  if (options.send_signature) {
    attr.signature = loader.signature;
    attr.keyring_id = options.keyring_id;
    attr.signature_maps = loader.signature_maps;
    if (loader.scheme == skel::Scheme::kLoadtime) attr.fd_array_cnt = 1;
  }
  return attr;
}

// "BPF_MAP_CREATE 'events' (PERF_EVENT_ARRAY): map type 4 is not modelled",
// with the call's errno when it is not the one the loader returned.
std::string describe(const NestedFailure& f, int32_t retval) {
  std::string text = f.command;
  if (!f.object.empty()) text += " '" + f.object + "'";
  if (!f.map_type.empty()) text += " (" + f.map_type + ")";
  if (f.err != -retval) text += " [" + errno_name(f.err) + "]";
  return text + ": " + f.reason;
}

// Why the loader returned retval. Its metadata hash check runs before any
// bpf() call and returns -EINVAL, so only an EINVAL with no failed call is
// blamed on the hash.
std::string loader_failure_cause(int32_t retval, const std::optional<NestedFailure>& nested) {
  if (nested) return describe(*nested, retval);
  if (retval == -EINVAL) return "the metadata hash did not match (no bpf() call of the loader failed)";
  return "no bpf() call of the loader failed: the error is the loader's own or a helper's";
}

[[noreturn]] void loader_failed(int32_t retval, const std::optional<NestedFailure>& nested) {
  fail(-retval, "load_skeleton",
       "loader returned " + std::to_string(retval) + " (" + errno_name(-retval) +
           "): " + loader_failure_cause(retval, nested));
}

// The fds the loader wrote into the map and program descriptors.
void take_created_fds(Kernel& kernel, Process& proc, const skel::SignedLoader& loader, const Bytes& ctx,
                      SkeletonResult& result) {
  size_t offset = uapi::kLoaderCtxHeaderSize;
  for (const auto& name : loader.map_names) {
    int fd = static_cast<int32_t>(load_le32(ctx.data() + offset));
    if (fd <= 0) fail(EINVAL, "load_skeleton", "the loader stored no fd for map " + name);
    result.map_fds.push_back(fd);
    result.maps.push_back(kernel.map_info(proc, fd));
    offset += uapi::kMapDescSize;
  }
  for (const auto& name : loader.prog_names) {
    int fd = static_cast<int32_t>(load_le32(ctx.data() + offset));
    if (fd <= 0) fail(EINVAL, "load_skeleton", "the loader stored no fd for program " + name);
    result.prog_fds.push_back(fd);
    result.progs.push_back(kernel.prog_info(proc, fd));
    offset += uapi::kProgDescSize;
  }
}

}  // namespace

Bytes loader_ctx(const skel::SignedLoader& loader, const SkeletonOptions& options) {
  uint32_t size = skel::loader_ctx_size(loader);
  Bytes ctx((size + 7u) & ~7u, 0);
  store_le32(ctx.data(), size);
  auto desc = [&](size_t index, const char* what) {
    if (index >= loader.map_names.size()) fail(EINVAL, "load_skeleton", std::string(what) + " for a map the loader lacks");
    return ctx.data() + uapi::kLoaderCtxHeaderSize + index * uapi::kMapDescSize;
  };
  for (const auto& [index, address] : options.initial_values) store_le64(desc(index, "initial value") + 8, address);
  for (const auto& [index, entries] : options.max_entries) store_le32(desc(index, "max_entries") + 4, entries);
  return ctx;
}

namespace {

// The sequence. released_metadata, when given, is the caller's metadata
// buffer, freed as soon as the metadata map holds its own copy: the kernel
// copies the value in (map_update), so nothing after reads the caller's.
SkeletonResult run_skeleton(Kernel& kernel, Process& proc, const skel::SignedLoader& loader,
                            const SkeletonOptions& options, Bytes* released_metadata) {
  if (loader.insns.empty() || loader.insns.size() % 8 != 0 || loader.data.empty())
    fail(EINVAL, "load_skeleton", "the loader has no instructions or no metadata");
  SkeletonResult result;
  LoaderFds own(kernel, proc);
  int map_fd = own.keep(create_metadata_map(kernel, proc, loader, options));
  if (released_metadata) Bytes().swap(*released_metadata);  // clear() would keep the capacity
  int prog_fd = own.keep(kernel.prog_load(proc, loader_prog_attr(loader, map_fd, options)));
  result.loader_map = kernel.map_info(proc, map_fd);
  result.loader_prog = kernel.prog_info(proc, prog_fd);

  Bytes ctx = loader_ctx(loader, options);
  ProgRunOptions run_options;
  run_options.user_memory = options.user_memory;
  run_options.trace = options.trace;
  if (options.trace) options.trace->metadata_map_id = result.loader_map.id;
  result.loader_retval = static_cast<int32_t>(kernel.prog_run(proc, prog_fd, ctx, run_options).retval);
  if (result.loader_retval < 0) loader_failed(result.loader_retval, kernel.nested_failure());
  take_created_fds(kernel, proc, loader, ctx, result);
  return result;
}

}  // namespace

SkeletonResult load_skeleton(Kernel& kernel, Process& proc, const skel::SignedLoader& loader,
                             const SkeletonOptions& options) {
  return run_skeleton(kernel, proc, loader, options, nullptr);
}

SkeletonResult load_skeleton(Kernel& kernel, Process& proc, skel::SignedLoader&& loader,
                             const SkeletonOptions& options) {
  return run_skeleton(kernel, proc, loader, options, &loader.data);
}

}  // namespace bpfsig::kmodel
