// SPDX-License-Identifier: Apache-2.0
// BPF_LINK_CREATE for XDP (kernel/bpf/syscall.c link_create, net/core/dev.c
// bpf_xdp_link_attach / dev_xdp_attach), on the model's only device,
// loopback: no ndo_bpf, so only generic (SKB) mode exists there.
#include <cerrno>
#include <string>

#include "bpfsig/kmodel.h"
#include "kmodel/objects.h"

namespace bpfsig::kmodel {

namespace {

constexpr int kBpfLinkCreate = 28;  // enum bpf_cmd
constexpr const char* kCmd = "BPF_LINK_CREATE";
constexpr uint32_t kXdpFlagsMask = kXdpFlagsUpdateIfNoexist | kXdpFlagsSkbMode | kXdpFlagsDrvMode |
                                   kXdpFlagsHwMode | kXdpFlagsReplace;
constexpr uint32_t kXdpModes = kXdpFlagsSkbMode | kXdpFlagsDrvMode | kXdpFlagsHwMode;

// struct bpf_link: holds its program; the device slot is freed with it.
class Link : public Object {
 public:
  Link(uint32_t id, std::shared_ptr<Prog> prog, uint32_t ifindex)
      : Object(id), prog_(std::move(prog)), ifindex_(ifindex) {}
  const Prog& prog() const { return *prog_; }
  uint32_t ifindex() const { return ifindex_; }

 private:
  std::shared_ptr<Prog> prog_;
  uint32_t ifindex_;
};

// dev_xdp_attach's checks for a link on a device without native XDP.
void check_xdp_attach(uint32_t target_ifindex, uint32_t flags, bool slot_taken) {
  if (flags & ~kXdpFlagsMask) fail(EINVAL, kCmd, "unknown XDP flags");
  // Links take no REPLACE / UPDATE_IF_NOEXIST, and at most one mode.
  if (flags & (kXdpFlagsReplace | kXdpFlagsUpdateIfNoexist)) fail(EINVAL, kCmd, "invalid XDP flags for BPF link attachment");
  uint32_t modes = flags & kXdpModes;
  if (modes & (modes - 1)) fail(EINVAL, kCmd, "only one XDP mode flag can be set");
  // bpf_xdp_link_attach: dev_get_by_index() failing is EINVAL, not ENODEV.
  if (target_ifindex != kLoopbackIfindex)
    fail(EINVAL, kCmd, "no device with ifindex " + std::to_string(target_ifindex) + " (the model has loopback, 1)");
  const bool generic = modes == 0 || modes == kXdpFlagsSkbMode;  // dev_xdp_mode() without ndo_bpf
  // Native or offload mode on loopback is EOPNOTSUPP whatever is attached in
  // generic mode: on the project's 6.18.44 kernels the "Underlying driver
  // does not support XDP in native mode" check comes first (measured, the
  // errmsg of the bpf_xdp_link_attach_failed tracepoint), although some 6.18
  // trees check "Native and generic XDP can't be active at the same time"
  // (EEXIST) before it. The DRV/HW slots never hold a link, so their EBUSY
  // cannot happen here.
  if (!generic) fail(EOPNOTSUPP, kCmd, "loopback has no native or offloaded XDP");
  if (slot_taken) fail(EBUSY, kCmd, "can't replace the active XDP link on loopback");
}

}  // namespace

int Kernel::link_create(Process& proc, int prog_fd, uint32_t attach_type, uint32_t target_ifindex, uint32_t flags) {
  lsm_bpf(proc, kBpfLinkCreate, kCmd);
  auto prog = typed_object_at<Prog>(proc, prog_fd, kCmd);
  if (attach_type != kAttachXdp)
    fail(EOPNOTSUPP, kCmd, "attach type " + std::to_string(attach_type) + " is not modelled (only BPF_XDP)");
  // attach_type_to_prog_type(BPF_XDP) is XDP: any other program type is EINVAL.
  if (prog->attr().prog_type != kProgXdp) fail(EINVAL, kCmd, "BPF_XDP needs an XDP program");
  check_xdp_attach(target_ifindex, flags, !lo_generic_xdp_.expired());
  auto link = std::make_shared<Link>(next_link_id_++, prog, target_ifindex);
  lo_generic_xdp_ = link;
  return proc.install(link);
}

LinkInfo Kernel::link_info(Process& proc, int fd) {
  auto link = std::dynamic_pointer_cast<Link>(object_at(proc, fd, "BPF_OBJ_GET_INFO_BY_FD"));
  if (!link) fail(EINVAL, "BPF_OBJ_GET_INFO_BY_FD", "fd " + std::to_string(fd) + " is not a link");
  return LinkInfo{kLinkTypeXdp, link->id(), link->prog().id(), link->ifindex()};
}

}  // namespace bpfsig::kmodel
