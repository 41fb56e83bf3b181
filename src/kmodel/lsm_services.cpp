// SPDX-License-Identifier: Apache-2.0
// lsm::KernelServices for the kernel model: what an LSM such as Hornet looks
// up beyond its hook arguments (keyrings, the current process's fds, map
// hashes), acting for the process whose command is running.
#include "kmodel/objects.h"

namespace bpfsig::kmodel {

class Kernel::LsmServices : public lsm::KernelServices {
 public:
  explicit LsmServices(Kernel& kernel) : kernel_(kernel) {}
  void act_for(const Process& proc) { proc_ = &proc; }

  // system_keyring_id_check() ids 0/1/2 always exist (the secondary one
  // reaches the builtin keys too); others through lookup_user_key(), where
  // -3/-4 are the caller's session and user keyrings.
  std::optional<std::vector<Bytes>> keyring_certs(int32_t keyring_id) override {
    std::vector<int32_t> searched;
    if (keyring_id == kBuiltinKeyring || keyring_id == kPlatformKeyring) {
      searched = {keyring_id};
    } else if (keyring_id == kSecondaryKeyring) {
      searched = {kSecondaryKeyring, kBuiltinKeyring};
    } else {
      int32_t serial = proc_ ? kernel_.resolve_keyring(*proc_, keyring_id, true) : keyring_id;
      if (!kernel_.keyrings_.count(serial)) return std::nullopt;
      searched = {serial};
    }
    std::vector<Bytes> certs;
    for (int32_t id : searched) {
      auto it = kernel_.keyrings_.find(id);
      if (it != kernel_.keyrings_.end()) certs.insert(certs.end(), it->second.begin(), it->second.end());
    }
    return certs;
  }

  std::optional<lsm::MapView> map_by_fd(int32_t fd) override {
    auto map = object<Map>(fd);
    if (!map) return std::nullopt;
    lsm::MapView view{map->id(), map->type(), map->attr().name.substr(0, map->attr().name.find('\0')),
                      map->attr().value_size, map->attr().max_entries, map->frozen, std::nullopt};
    view.hash = get_hash(*map);
    return view;
  }

  std::optional<lsm::Sha256> map_hash(uint32_t map_id) override {
    auto it = kernel_.maps_by_id_.find(map_id);
    if (it == kernel_.maps_by_id_.end()) return std::nullopt;
    auto map = std::dynamic_pointer_cast<Map>(it->second.lock());
    if (!map) return std::nullopt;
    return get_hash(*map);
  }

  lsm::ProgView* prog_by_fd(int32_t fd, int* err) override {
    if (proc_ == nullptr || !proc_->fds_.count(fd)) {
      *err = EBADF;
      return nullptr;
    }
    auto prog = object<Prog>(fd);
    if (!prog) {
      *err = EINVAL;
      return nullptr;
    }
    return &prog->view;
  }

 private:
  template <class T>
  std::shared_ptr<T> object(int32_t fd) const {
    if (proc_ == nullptr) return nullptr;
    auto it = proc_->fds_.find(fd);
    return it == proc_->fds_.end() ? nullptr : std::dynamic_pointer_cast<T>(it->second);
  }

  // map->ops->map_get_hash: computes the hash into map->sha as well.
  static std::optional<lsm::Sha256> get_hash(Map& map) {
    std::optional<crypto::Digest> hash = map.content_hash();
    if (!hash) return std::nullopt;
    map.sha = *hash;
    map.sha_computed = true;
    return *hash;
  }

  Kernel& kernel_;
  const Process* proc_ = nullptr;
};

void Kernel::attach_lsm_services(const Process& proc) {
  if (!lsm_) return;
  if (!lsm_services_) lsm_services_ = std::make_shared<LsmServices>(*this);
  lsm_services_->act_for(proc);
  lsm_->set_kernel_services(lsm_services_.get());
}

}  // namespace bpfsig::kmodel
