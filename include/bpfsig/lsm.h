// SPDX-License-Identifier: Apache-2.0
// An in-process model of the kernel's LSM stack for the BPF hooks, with the
// proposed integrity framework (Paul Moore's "lsm: framework for BPF integrity
// verification", carried in the Hornet series) and an audit trail.
//
// The kernel model fills the views below and calls LsmStack's security_*()
// methods where kernel/bpf/syscall.c calls security/security.c. LSMs are
// classes derived from Lsm; two are built in (CapabilityLsm, SignedOnlyLsm).
// Everything is deterministic: the caller ("current") and the clock are set by
// whoever drives the stack. docs/lsm.md describes the model and its limits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig::lsm {

// ---- identities ---------------------------------------------------------------

// include/uapi/linux/lsm.h (6.18), plus LSM_ID_HORNET from the Hornet series.
// Any other value may be used by a user-written LSM.
enum class LsmId : uint32_t {
  kUndef = 0,
  kCapability = 100,
  kSelinux = 101,
  kSmack = 102,
  kTomoyo = 103,
  kApparmor = 104,
  kYama = 105,
  kLoadpin = 106,
  kSafesetid = 107,
  kLockdown = 108,
  kBpf = 109,
  kLandlock = 110,
  kIma = 111,
  kEvm = 112,
  kIpe = 113,
  kHornet = 114,
  // Not a kernel id: bpfsig's own SignedOnlyLsm, kept outside the kernel's range.
  kBpfsigSignedOnly = 1001,
};

// The kernel's `struct lsm_id`: what an integrity LSM hands to
// security_bpf_prog_load_post_integrity() to say who reports.
struct LsmIdent {
  std::string name;
  LsmId id = LsmId::kUndef;
};

// enum lsm_integrity_verdict (include/linux/security.h in the framework patch,
// with UNKNOWNKEY, UNEXPECTED and FAULT inserted before BADSIG by the Hornet series).
enum class IntegrityVerdict : uint8_t {
  kNone = 0,
  kOk = 1,
  kUnsigned = 2,
  kPartialSig = 3,
  kUnknownKey = 4,
  kUnexpected = 5,
  kFault = 6,
  kBadSig = 7,
};

// "NONE", "OK", "UNSIGNED", "PARTIALSIG", "UNKNOWNKEY", "UNEXPECTED", "FAULT",
// "BADSIG": the spelling of IPE's bpf_signature= property.
std::string_view verdict_name(IntegrityVerdict verdict);
// The inverse: nullopt for any other text (case matters, as in a policy).
std::optional<IntegrityVerdict> verdict_from_name(std::string_view name);

// The LSM callbacks this model dispatches (include/linux/lsm_hook_defs.h names).
enum class Hook : uint8_t {
  kBpf,
  kBpfMapCreate,
  kBpfProgLoadIntegrity,
  kBpfProgLoadPostIntegrity,
  kBpfProgLoad,
  kBpfProg,  // "publish": the program is about to get its fd
  kBpfProgFree,
};
std::string_view hook_name(Hook hook);

// The set of callbacks an LSM registers, like its LSM_HOOK_INIT() list: the
// stack calls (and audits) an LSM only for the hooks in its set.
using HookSet = uint32_t;
constexpr HookSet hook_bit(Hook hook) { return HookSet{1} << static_cast<unsigned>(hook); }
constexpr HookSet kAllHooks = (HookSet{1} << (static_cast<unsigned>(Hook::kBpfProgFree) + 1)) - 1;

// ---- who is asking --------------------------------------------------------------

// Capability numbers of include/uapi/linux/capability.h.
enum class Cap : uint8_t { kNetAdmin = 12, kSysAdmin = 21, kPerfmon = 38, kBpf = 39 };

class CapSet {
 public:
  CapSet() = default;
  CapSet(std::initializer_list<Cap> caps);
  bool has(Cap cap) const { return (bits_ >> static_cast<unsigned>(cap)) & 1; }

 private:
  uint64_t bits_ = 0;
};

// The simulated `current` task.
struct Caller {
  int32_t pid = 0;
  std::string comm;
  uint32_t uid = 0;
  CapSet caps;
};

// A BPF token that kernel/bpf/syscall.c kept, i.e. one that allows the command
// and the program/map type (syscall.c drops any other token before the LSM
// hooks). `caps` are the caller's capabilities in the token's user namespace.
struct Token {
  CapSet caps;
};

// ---- the objects the hooks see ------------------------------------------------------

using Sha256 = std::array<uint8_t, 32>;

// A map as a program's used_maps entry or a new map.
struct MapView {
  uint32_t id = 0;
  uint32_t map_type = 0;  // enum bpf_map_type
  std::string name;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  bool frozen = false;
  std::optional<Sha256> hash;  // map->sha, once BPF_OBJ_GET_INFO_BY_FD computed it
};

// The BPF_MAP_CREATE fields the hooks may look at.
struct MapCreateAttr {
  uint32_t map_type = 0;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t map_flags = 0;
  std::optional<Sha256> excl_prog_hash;
  int32_t map_token_fd = 0;
};

// The BPF_PROG_LOAD fields the hooks may look at.
struct ProgLoadAttr {
  uint32_t prog_type = 0;  // enum bpf_prog_type
  uint32_t expected_attach_type = 0;
  uint32_t prog_flags = 0;
  uint32_t insn_cnt = 0;
  // nullopt: attr->signature == 0. An empty vector: a pointer with
  // signature_size == 0 (Hornet tells the two apart: UNSIGNED vs BADSIG).
  std::optional<Bytes> signature;
  int32_t keyring_id = 0;
  std::vector<int32_t> fd_array;  // the fd_array values
  uint32_t fd_array_cnt = 0;
  std::vector<uint32_t> signature_maps;  // hash-chain scheme: fd_array indices
  int32_t prog_token_fd = 0;
};

// One LSM's state on one program (its part of prog->aux->security).
class ProgBlob {
 public:
  virtual ~ProgBlob() = default;
};

// prog->aux->security: owned by the LsmStack, one slot per LSM in stack order.
// Allocated by security_bpf_prog_load(), freed by security_bpf_prog_free().
struct ProgSecurity {
  std::vector<std::unique_ptr<ProgBlob>> blobs;
  // The last verdict reported through post_integrity for this program; it
  // only feeds the audit records (LSMs keep their own copy in their blob).
  std::optional<IntegrityVerdict> reported;
};

// prog->aux->sig (the 2026 loadtime scheme, Documentation/bpf/signing.rst):
// what BPF_PROG_LOAD's own signature check concluded. Kernels before it (6.18)
// store nothing, so their programs always show the defaults.
enum class SigVerdict : uint32_t { kUnsigned = 0, kVerified = 1 };  // enum bpf_sig_verdict
// enum bpf_sig_keyring. kBpf (the `.bpf` keyring, KEY_SPEC_BPF_KEYRING) is in
// the later signing.rst but its value is not in any source read so far: 5,
// after kUser, is the model's choice.
enum class SigKeyring : uint32_t { kNone = 0, kBuiltin = 1, kSecondary = 2, kPlatform = 3, kUser = 4, kBpf = 5 };
struct ProgSig {
  SigVerdict verdict = SigVerdict::kUnsigned;
  SigKeyring keyring_type = SigKeyring::kNone;  // from keyring_id whenever signed
  int32_t keyring_serial = 0;  // only for a verified user-keyring signature: its serial
};

struct ProgView {
  uint32_t id = 0;
  uint32_t prog_type = 0;
  std::string name;
  Bytes insns;                    // prog->insnsi, insn_cnt * 8 bytes
  Sha256 digest{};                // prog->digest
  std::vector<MapView> used_maps;  // filled by the verifier: empty before bpf_prog
  ProgSecurity security;
  ProgSig sig;                    // prog->aux->sig; final at bpf_prog_load and bpf_prog
};

// ---- writing an LSM ---------------------------------------------------------------

class LsmStack;
class KernelServices;  // below: what an LSM may ask the kernel

// Base class of every LSM. Hooks return 0 or a negative errno, as in the
// kernel; the defaults allow. An LSM is called only for the hooks named in the
// HookSet given to the constructor.
class Lsm {
 public:
  Lsm(LsmIdent ident, HookSet hooks);
  virtual ~Lsm() = default;
  Lsm(const Lsm&) = delete;
  Lsm& operator=(const Lsm&) = delete;

  const LsmIdent& ident() const { return ident_; }
  const std::string& name() const { return ident_.name; }
  bool implements(Hook hook) const { return (hooks_ & hook_bit(hook)) != 0; }

  // The blob this LSM wants on each program (lbs_bpf_prog); nullptr: none.
  virtual std::unique_ptr<ProgBlob> new_prog_blob() const { return nullptr; }

  virtual int bpf(int cmd, ByteView attr, unsigned size, bool kernel);
  virtual int bpf_map_create(const MapView& map, const MapCreateAttr& attr, const Token* token, bool kernel);
  virtual int bpf_prog_load_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel);
  virtual int bpf_prog_load_post_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel,
                                           const LsmIdent& reporter, IntegrityVerdict verdict);
  virtual int bpf_prog_load(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel);
  virtual int bpf_prog(ProgView& prog);
  virtual void bpf_prog_free(ProgView& prog);

 protected:
  // The stack this LSM is registered in; Error(EINVAL, "lsm_unregistered") before that.
  LsmStack& stack() const;
  // This LSM's blob on prog, or nullptr when it has none (no blob declared, or
  // the program's blobs are not allocated).
  template <class T>
  T* blob(ProgView& prog) const {
    if (slot_ >= prog.security.blobs.size()) return nullptr;
    return dynamic_cast<T*>(prog.security.blobs[slot_].get());
  }
  // For integrity LSMs: security_bpf_prog_load_post_integrity() with this
  // LSM's identity. Return what it returns, as the framework asks.
  int report_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel,
                       IntegrityVerdict verdict);

 private:
  friend class LsmStack;
  LsmIdent ident_;
  HookSet hooks_;
  LsmStack* stack_ = nullptr;
  size_t slot_ = 0;
};

// ---- audit ------------------------------------------------------------------------------

struct AuditTime {
  uint64_t sec = 0;
  uint32_t msec = 0;
};

// One LSM callback's decision.
struct AuditRecord {
  // The record type printed: AUDIT_IPE_ACCESS (1420), the type IPE uses for its
  // BPF_PROG_LOAD decisions; this model has no type of its own.
  static constexpr int kType = 1420;

  AuditTime time;
  uint64_t serial = 0;  // set by AuditLog, from 1
  int32_t pid = 0;
  std::string comm;
  Hook hook = Hook::kBpf;
  std::string lsm;
  std::optional<IntegrityVerdict> verdict;  // program hooks only
  int err = 0;                              // the callback's return: 0 or -errno

  bool allowed() const { return err == 0; }
  // type=1420 audit(1764368000.123:42): hook=bpf_prog_load lsm=signed-only verdict=UNSIGNED decision=deny errno=-1 pid=7 comm="bpfsig"
  std::string to_audit_line() const;
  // {"type":1420,"sec":...,"msec":...,"serial":...,"hook":...,"lsm":...,"verdict":...|null,"decision":...,"errno":...,"pid":...,"comm":...}
  std::string to_json_line() const;

  // A record an LSM writes itself (LsmStack::emit_audit), e.g. IPE's own 1420
  // text "ipe_op=BPF_PROG_LOAD ipe_hook=... rule=\"...\"": when set, the audit
  // line prints it after the stamp instead of the model's fields, and the JSON
  // line adds it as "text".
  std::optional<std::string> lsm_text;
};

// audit_log_untrustedstring(): the text quoted when every byte is printable
// and neither a quote nor a space, else its bytes in upper-case hex, unquoted.
std::string audit_untrusted_string(std::string_view text);

class AuditLog {
 public:
  // Numbers the record with the next serial and keeps it.
  const AuditRecord& emit(AuditRecord record);
  const std::vector<AuditRecord>& records() const { return records_; }
  // Every record's audit line (or JSON line), each ending in '\n'.
  std::string audit_lines() const;
  std::string json_lines() const;

 private:
  std::vector<AuditRecord> records_;
  uint64_t last_serial_ = 0;
};

// ---- the stack --------------------------------------------------------------------------

// Named LSM factories, the model of the LSMs built into a kernel.
using LsmFactory = std::function<std::unique_ptr<Lsm>()>;
using LsmRegistry = std::map<std::string, LsmFactory, std::less<>>;

// "capability" (CapabilityLsm with defaults) and "signed-only" (SignedOnlyLsm with defaults).
// Also "ipe" (ipe::IpeLsm, include/bpfsig/ipe.h) with an empty policy store.
LsmRegistry builtin_registry();

// The LSM names an `lsm=` value selects, in order: "capability" first whether
// listed or not (it is LSM_ORDER_FIRST), then the listed names; duplicates and
// empty items are skipped as the kernel does. A name the registry lacks is
// Error(EINVAL, "lsm_unknown") (the kernel would skip it with a debug message).
std::vector<std::string> parse_lsm_param(std::string_view lsm_param, const LsmRegistry& registry);

class LsmStack {
 public:
  LsmStack() = default;
  // The LSMs parse_lsm_param() selects, made by the registry's factories.
  LsmStack(std::string_view lsm_param, const LsmRegistry& registry);
  // LSMs hold a pointer to their stack: it stays where it is.
  LsmStack(const LsmStack&) = delete;
  LsmStack& operator=(const LsmStack&) = delete;

  // Appends lsm (it is called after those added before) and gives it the next blob slot.
  Lsm& add(std::unique_ptr<Lsm> lsm);
  const std::vector<std::unique_ptr<Lsm>>& lsms() const { return lsms_; }

  // The simulated environment: `current`, and the clock stamped on audit records.
  void set_current(Caller caller) { current_ = std::move(caller); }
  const Caller& current() const { return current_; }
  void set_clock(std::function<AuditTime()> clock) { clock_ = std::move(clock); }
  // What `bpfsig run` and `bpfsig sim` use, so their traces repeat exactly: a
  // root caller with CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN and CAP_NET_ADMIN
  // named comm, and a clock that starts at kReplayEpoch and advances 1 ms per record.
  static constexpr uint64_t kReplayEpoch = 1764368000;
  void make_replayable(const std::string& comm);
  const AuditLog& audit_log() const { return audit_; }
  // For an LSM that writes its own audit record: stamps it with the clock and
  // appends it (with the next serial) to the log.
  const AuditRecord& emit_audit(AuditRecord record);
  // The kernel behind the stack (keyrings, the current task's fds, map
  // hashes), for LSMs that need more than the hook arguments (Hornet). The
  // kernel model sets it before each hook; null: none (LSMs must cope).
  void set_kernel_services(KernelServices* services) { services_ = services; }
  KernelServices* kernel_services() const { return services_; }

  // security/security.c, with the framework patch applied. Each int hook runs
  // the callbacks in stack order and stops at the first non-zero return.
  int security_bpf(int cmd, ByteView attr, unsigned size, bool kernel);
  int security_bpf_map_create(const MapView& map, const MapCreateAttr& attr, const Token* token, bool kernel);
  // Allocates prog's blobs, runs every bpf_prog_load_integrity callback, then
  // every bpf_prog_load callback; on an error frees (security_bpf_prog_free).
  int security_bpf_prog_load(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel);
  // Called by an integrity LSM from its bpf_prog_load_integrity callback:
  // runs every LSM's bpf_prog_load_post_integrity callback, the reporter's too.
  int security_bpf_prog_load_post_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel,
                                            const LsmIdent& reporter, IntegrityVerdict verdict);
  int security_bpf_prog(ProgView& prog);
  // Runs every bpf_prog_free callback, then drops prog's blobs.
  void security_bpf_prog_free(ProgView& prog);

 private:
  template <class Callback>
  int call_int_hook(Hook hook, const ProgView* prog, Callback&& callback);
  void record(Hook hook, const Lsm& lsm, const ProgView* prog, int err);
  void allocate_prog_blobs(ProgView& prog) const;

  std::vector<std::unique_ptr<Lsm>> lsms_;
  Caller current_;
  std::function<AuditTime()> clock_ = [] { return AuditTime{}; };
  AuditLog audit_;
  KernelServices* services_ = nullptr;
};

// ---- built-in LSMs ------------------------------------------------------------------------

// The capability checks kernel/bpf/syscall.c makes before security_bpf_prog_load()
// and in map_create(), packaged as an LSM named "capability" so a policy can be
// tried without the kernel model. Returns 0 or -EPERM. bpf_token_capable():
// the capability itself or CAP_SYS_ADMIN, from the token when there is one.
struct CapabilityOptions {
  bool unprivileged_bpf_disabled = true;  // sysctl kernel.unprivileged_bpf_disabled != 0
};
int capability_check_prog_load(const Caller& caller, const ProgLoadAttr& attr, const Token* token,
                               const CapabilityOptions& options);
int capability_check_map_create(const Caller& caller, const MapCreateAttr& attr, const Token* token,
                                const CapabilityOptions& options);

class CapabilityLsm : public Lsm {
 public:
  explicit CapabilityLsm(CapabilityOptions options = {});
  int bpf_map_create(const MapView& map, const MapCreateAttr& attr, const Token* token, bool kernel) override;
  int bpf_prog_load(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) override;

 private:
  CapabilityOptions options_;
};

// "signed-only": denies (-EPERM) a program load unless some integrity LSM
// reported OK for it. It keeps every verdict it receives in its blob and
// decides in bpf_prog_load, so all integrity LSMs get to report first.
struct SignedOnlyOptions {
  // Loads made by the kernel (kernel == true: the loader's bpf_sys_bpf calls)
  // carry no signature; allowing them mirrors IPE's documented
  // "op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW".
  bool allow_kernel_loads = true;
};

class SignedOnlyLsm : public Lsm {
 public:
  struct Blob : ProgBlob {
    std::vector<IntegrityVerdict> received;
  };

  explicit SignedOnlyLsm(SignedOnlyOptions options = {});
  std::unique_ptr<ProgBlob> new_prog_blob() const override;
  int bpf_prog_load_post_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel,
                                   const LsmIdent& reporter, IntegrityVerdict verdict) override;
  int bpf_prog_load(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) override;

 private:
  SignedOnlyOptions options_;
};

// ---- the kernel as an LSM sees it -----------------------------------------------------

// A small view of the kernel for LSMs that look beyond the hook arguments, so
// lsm/ stays independent of the kernel model (which implements it). Every
// call acts for the stack's current task.
class KernelServices {
 public:
  virtual ~KernelServices() = default;
  // The DER certificates a signature check with this keyring_id would trust:
  // 0/1/2 name the system keyrings (system_keyring_id_check), anything else
  // goes through lookup_user_key(). nullopt: no such keyring.
  virtual std::optional<std::vector<Bytes>> keyring_certs(int32_t keyring_id) = 0;
  // An fd of the current task as a map: its view, with `hash` set to what
  // map->ops->map_get_hash computes now (nullopt for types without one).
  // nullopt when the fd is not open or not a map.
  virtual std::optional<MapView> map_by_fd(int32_t fd) = 0;
  // map->ops->map_get_hash on a live map (which also refreshes map->sha);
  // nullopt when the map is gone or its type has no map_get_hash.
  virtual std::optional<Sha256> map_hash(uint32_t map_id) = 0;
  // An fd of the current task as a program. nullptr with *err = EBADF (not
  // open) or EINVAL (not a program).
  virtual ProgView* prog_by_fd(int32_t fd, int* err) = 0;
};

}  // namespace bpfsig::lsm
