// SPDX-License-Identifier: Apache-2.0
// The LSM stack: registration in `lsm=` order and the dispatch of
// security/security.c's BPF hooks, as changed by the integrity framework patch.
#include <cerrno>
#include <memory>

#include "bpfsig/error.h"
#include "bpfsig/lsm.h"

namespace bpfsig::lsm {

// ---- Lsm ----------------------------------------------------------------------------

Lsm::Lsm(LsmIdent ident, HookSet hooks) : ident_(std::move(ident)), hooks_(hooks) {}

int Lsm::bpf(int, ByteView, unsigned, bool) { return 0; }
int Lsm::bpf_map_create(const MapView&, const MapCreateAttr&, const Token*, bool) { return 0; }
int Lsm::bpf_prog_load_integrity(ProgView&, const ProgLoadAttr&, const Token*, bool) { return 0; }
int Lsm::bpf_prog_load_post_integrity(ProgView&, const ProgLoadAttr&, const Token*, bool, const LsmIdent&,
                                      IntegrityVerdict) {
  return 0;
}
int Lsm::bpf_prog_load(ProgView&, const ProgLoadAttr&, const Token*, bool) { return 0; }
int Lsm::bpf_prog(ProgView&) { return 0; }
void Lsm::bpf_prog_free(ProgView&) {}

LsmStack& Lsm::stack() const {
  if (stack_ == nullptr) throw Error(EINVAL, "lsm_unregistered", "LSM " + name() + " is not in a stack");
  return *stack_;
}

int Lsm::report_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel,
                          IntegrityVerdict verdict) {
  return stack().security_bpf_prog_load_post_integrity(prog, attr, token, kernel, ident_, verdict);
}

// ---- the lsm= parameter ---------------------------------------------------------------

namespace {

constexpr std::string_view kCapabilityName = "capability";

std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

void append_unique(std::vector<std::string>& order, std::string_view name) {
  for (const auto& present : order) {
    if (present == name) return;
  }
  order.emplace_back(name);
}

}  // namespace

std::vector<std::string> parse_lsm_param(std::string_view lsm_param, const LsmRegistry& registry) {
  std::vector<std::string> order;
  if (registry.contains(kCapabilityName)) order.emplace_back(kCapabilityName);
  for (std::string_view name : split_commas(lsm_param)) {
    if (name.empty()) continue;
    if (!registry.contains(name)) {
      throw Error(EINVAL, "lsm_unknown", "lsm=" + std::string(lsm_param) + ": no LSM named '" + std::string(name) + "'");
    }
    append_unique(order, name);
  }
  return order;
}

// ---- LsmStack: registration -------------------------------------------------------------

LsmStack::LsmStack(std::string_view lsm_param, const LsmRegistry& registry) {
  for (const auto& name : parse_lsm_param(lsm_param, registry)) add(registry.find(name)->second());
}

Lsm& LsmStack::add(std::unique_ptr<Lsm> lsm) {
  lsm->stack_ = this;
  lsm->slot_ = lsms_.size();
  lsms_.push_back(std::move(lsm));
  return *lsms_.back();
}

// ---- LsmStack: dispatch ---------------------------------------------------------------

// call_int_hook() of security.c: the callbacks in stack order, stopping at the
// first return that is not the hook's default (0). Each call is audited.
template <class Callback>
int LsmStack::call_int_hook(Hook hook, const ProgView* prog, Callback&& callback) {
  for (const auto& lsm : lsms_) {
    if (!lsm->implements(hook)) continue;
    int rc = callback(*lsm);
    record(hook, *lsm, prog, rc);
    if (rc != 0) return rc;
  }
  return 0;
}

void LsmStack::record(Hook hook, const Lsm& lsm, const ProgView* prog, int err) {
  AuditRecord r;
  r.time = clock_();
  r.pid = current_.pid;
  r.comm = current_.comm;
  r.hook = hook;
  r.lsm = lsm.name();
  if (prog != nullptr) r.verdict = prog->security.reported.value_or(IntegrityVerdict::kNone);
  r.err = err;
  audit_.emit(std::move(r));
}

void LsmStack::make_replayable(const std::string& comm) {
  set_current(Caller{0, comm, 0, CapSet{Cap::kBpf, Cap::kPerfmon, Cap::kSysAdmin, Cap::kNetAdmin}});
  auto tick = std::make_shared<uint64_t>(0);
  set_clock([tick] {
    uint64_t ms = (*tick)++;
    return AuditTime{kReplayEpoch + ms / 1000, static_cast<uint32_t>(ms % 1000)};
  });
}

const AuditRecord& LsmStack::emit_audit(AuditRecord record) {
  record.time = clock_();
  return audit_.emit(std::move(record));
}

void LsmStack::allocate_prog_blobs(ProgView& prog) const {
  prog.security.blobs.clear();
  prog.security.reported.reset();
  for (const auto& lsm : lsms_) prog.security.blobs.push_back(lsm->new_prog_blob());
}

int LsmStack::security_bpf(int cmd, ByteView attr, unsigned size, bool kernel) {
  return call_int_hook(Hook::kBpf, nullptr, [&](Lsm& lsm) { return lsm.bpf(cmd, attr, size, kernel); });
}

// The kernel also allocates map blobs here; no LSM of this model keeps state on
// maps, so there is nothing to allocate or free.
int LsmStack::security_bpf_map_create(const MapView& map, const MapCreateAttr& attr, const Token* token,
                                      bool kernel) {
  return call_int_hook(Hook::kBpfMapCreate, nullptr,
                       [&](Lsm& lsm) { return lsm.bpf_map_create(map, attr, token, kernel); });
}

int LsmStack::security_bpf_prog_load(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) {
  allocate_prog_blobs(prog);
  // Integrity first, for every LSM, so that the bpf_prog_load callbacks all
  // see the verdicts: the reason the framework adds a second callback.
  int rc = call_int_hook(Hook::kBpfProgLoadIntegrity, &prog,
                         [&](Lsm& lsm) { return lsm.bpf_prog_load_integrity(prog, attr, token, kernel); });
  if (rc == 0) {
    rc = call_int_hook(Hook::kBpfProgLoad, &prog,
                       [&](Lsm& lsm) { return lsm.bpf_prog_load(prog, attr, token, kernel); });
  }
  if (rc != 0) security_bpf_prog_free(prog);
  return rc;
}

int LsmStack::security_bpf_prog_load_post_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token,
                                                    bool kernel, const LsmIdent& reporter,
                                                    IntegrityVerdict verdict) {
  prog.security.reported = verdict;
  return call_int_hook(Hook::kBpfProgLoadPostIntegrity, &prog, [&](Lsm& lsm) {
    return lsm.bpf_prog_load_post_integrity(prog, attr, token, kernel, reporter, verdict);
  });
}

int LsmStack::security_bpf_prog(ProgView& prog) {
  return call_int_hook(Hook::kBpfProg, &prog, [&](Lsm& lsm) { return lsm.bpf_prog(prog); });
}

// call_void_hook(): every callback, nothing to decide and so nothing audited.
void LsmStack::security_bpf_prog_free(ProgView& prog) {
  for (const auto& lsm : lsms_) {
    if (lsm->implements(Hook::kBpfProgFree)) lsm->bpf_prog_free(prog);
  }
  prog.security.blobs.clear();
  prog.security.reported.reset();
}

}  // namespace bpfsig::lsm
