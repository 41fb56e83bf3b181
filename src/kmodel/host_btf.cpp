// SPDX-License-Identifier: Apache-2.0
// bpf_btf_find_by_name_kind's vmlinux BTF: the host's /sys/kernel/btf/vmlinux
// parsed with libbpf (lazily, once per Kernel) when the profile asks for it
// and the file is readable, else the profile's vmlinux_btf table; or a BTF
// file the caller names (set_vmlinux_btf_file), which replaces both.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "bpfsig/files.h"
#include "skel/libbpf_log.h"
#include "kmodel/objects.h"

namespace bpfsig::kmodel {

Kernel::HostBtf::~HostBtf() { btf__free(btf); }

bool Kernel::using_host_vmlinux_btf() {
  if (host_btf_) return true;  // the host's, or the file set_vmlinux_btf_file read
  if (!profile_.host_vmlinux_btf) return false;
  if (!host_btf_tried_) {
    host_btf_tried_ = true;
    skel::LibbpfLog quiet;  // an unreadable vmlinux BTF means none, not a message on the terminal
    struct btf* parsed = btf__parse("/sys/kernel/btf/vmlinux", nullptr);
    if (parsed && libbpf_get_error(parsed) == 0) host_btf_ = std::make_shared<HostBtf>(parsed);
  }
  return host_btf_ != nullptr;
}

void Kernel::set_vmlinux_btf_file(const std::string& path) {
  // Through the one input check: a FIFO or a device is refused, not waited
  // on; libbpf then parses the file that was checked, by its descriptor.
  InputFile in(path);
  if (!in.is_regular()) throw Error(EINVAL, "not_regular_file", in.name() + ": vmlinux BTF must be a regular file");
  skel::LibbpfLog warnings;
  struct btf* parsed = btf__parse(("/proc/self/fd/" + std::to_string(in.fd())).c_str(), nullptr);
  if (int err = static_cast<int>(-libbpf_get_error(parsed)); err || !parsed) {
    // libbpf's own codes (LIBBPF_ERRNO__FORMAT, 4003, ...) are no errnos: EINVAL.
    if (err <= 0 || err >= 4000) err = EINVAL;
    throw Error(err, "kmodel",
                "vmlinux BTF " + path + ": cannot be parsed as BTF (" + errno_name(err) + ")" + warnings.suffix());
  }
  host_btf_ = std::make_shared<HostBtf>(parsed);
  host_btf_tried_ = true;
}

// bpf_find_btf_id() for vmlinux: the type id; the upper 32 bits (the BTF
// object's fd) stay 0, as only module BTF gets an fd there. Not found
// (or id 0, "void"): -ENOENT.
int64_t Kernel::btf_find_by_name_kind(const std::string& name, uint32_t kind) {
  if (using_host_vmlinux_btf()) {
    int id = btf__find_by_name_kind(host_btf_->btf, name.c_str(), kind);
    return id > 0 ? id : -ENOENT;
  }
  auto it = profile_.vmlinux_btf.find({name, kind});
  return it == profile_.vmlinux_btf.end() ? -ENOENT : int64_t{it->second};
}

}  // namespace bpfsig::kmodel
