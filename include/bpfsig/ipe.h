// SPDX-License-Identifier: Apache-2.0
// IPE (Integrity Policy Enforcement, security/ipe/) as a model: its policy
// language, its evaluation loop, its securityfs policy store and an LSM for
// bpfsig's LSM stack (LSM_ID_IPE 113) with the BPF_PROG_LOAD operation and the
// bpf_signature / bpf_keyring / bpf_kernel properties of the Hornet series.
//
// The parser follows security/ipe/policy_parser.c token for token (same
// acceptance, same errno), but its errors also name the line and the token.
// docs/ipe.md describes the language, the store and the few differences.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bpfsig/bytes.h"
#include "bpfsig/lsm.h"

namespace bpfsig::ipe {

// ---- the language ---------------------------------------------------------------

// enum ipe_op_type, in the kernel's order (rules are kept per op in this order).
enum class Op : uint8_t {
  kExecute = 0,
  kFirmware,
  kKmodule,
  kKexecImage,
  kKexecInitramfs,
  kPolicy,
  kX509Cert,
  kBpfProgLoad,
};
constexpr size_t kOpCount = 8;
// "EXECUTE", "FIRMWARE", "KMODULE", "KEXEC_IMAGE", "KEXEC_INITRAMFS", "POLICY",
// "X509_CERT", "BPF_PROG_LOAD": the spelling after `op=`.
std::string_view op_name(Op op);
std::optional<Op> op_from_name(std::string_view name);

enum class Action : uint8_t { kAllow = 0, kDeny };
std::string_view action_name(Action action);  // "ALLOW", "DENY"

// The program types of bpf_prog_type= and of a manifest's "type": libbpf's
// name of an enum bpf_prog_type value in upper case ("SYSCALL" <-> 31).
// nullopt for a name 6.18 does not have; "?" for such a number.
std::optional<uint32_t> prog_type_from_name(std::string_view name);
std::string prog_type_name(uint32_t type);

// enum ipe_prop_type, in the kernel's order.
enum class PropType : uint8_t {
  kBootVerifiedFalse,
  kBootVerifiedTrue,
  kDmverityRoothash,
  kDmveritySignatureFalse,
  kDmveritySignatureTrue,
  kFsverityDigest,
  kFsveritySignatureFalse,
  kFsveritySignatureTrue,
  kBpfSigNone,
  kBpfSigOk,
  kBpfSigUnsigned,
  kBpfSigPartialSig,
  kBpfSigUnknownKey,
  kBpfSigUnexpected,
  kBpfSigFault,
  kBpfSigBadSig,
  kBpfKeyringBuiltin,
  kBpfKeyringSecondary,
  kBpfKeyringPlatform,
  kBpfKernelFalse,
  kBpfKernelTrue,
  // bpfsig's additions for its enforcer (not in the Hornet series): the
  // keyring type Linux 7.3 records for a user keyring, the program type
  // (bpf_prog_type=SYSCALL, libbpf's names in upper case) and the loading uid
  // (bpf_uid=0). The last two carry a number in Property::number.
  kBpfKeyringUser,
  kBpfProgType,
  kBpfUid,
};
constexpr size_t kPropTypeCount = 24;

// A digest as IPE writes it in a policy: `ALG:HEX` (digest.c). IPE checks
// neither the algorithm name nor the length against it.
struct Digest {
  std::string alg;
  Bytes value;
  bool operator==(const Digest&) const = default;
};

struct Property {
  PropType type = PropType::kBootVerifiedFalse;
  std::optional<Digest> digest;  // dmverity_roothash, fsverity_digest
  std::optional<uint32_t> number;  // bpf_prog_type (enum bpf_prog_type), bpf_uid
  bool operator==(const Property&) const = default;
  // Canonical policy text: "bpf_signature=OK", "fsverity_digest=sha256:ab01..." (lower-case hex).
  std::string to_text() const;
};

// Whether a property says anything about an op's subject: the BPF properties
// for BPF_PROG_LOAD, the file properties for every other op. The kernel does
// not check this (any property parses on any op and is evaluated against the
// event's empty fields); ParseOptions::strict and `policy check` use it.
bool property_applies(PropType type, Op op);

struct Rule {
  Op op = Op::kExecute;
  std::vector<Property> props;  // ANDed, in policy order
  Action action = Action::kAllow;
  unsigned line = 0;  // 1-based line in the source text (0: built in code)
  bool operator==(const Rule& o) const { return op == o.op && props == o.props && action == o.action; }
  // Canonical policy text: "op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW".
  std::string to_text() const;
};

// policy_version=MAJOR.MINOR.REV, three u16s compared as one u64 (ver_to_u64()).
struct Version {
  uint16_t major = 0, minor = 0, rev = 0;
  uint64_t to_u64() const { return (uint64_t{major} << 32) | (uint64_t{minor} << 16) | rev; }
  std::string to_string() const;
  bool operator==(const Version&) const = default;
};

struct Policy {
  std::string name;
  Version version;
  std::optional<Action> global_default;
  std::array<std::optional<Action>, kOpCount> op_defaults{};
  std::array<std::vector<Rule>, kOpCount> rules{};  // per op, top to bottom
  std::string text;  // the text it was parsed from (securityfs "policy")

  size_t rule_count() const;
  const std::vector<Rule>& rules_for(Op op) const { return rules[static_cast<size_t>(op)]; }
  // The canonical text: header, global DEFAULT, per-op DEFAULTs, then the
  // rules op by op (the order within an op is kept, which is all that matters).
  std::string render() const;
  // Same name, version, defaults and rules (the source text is not compared).
  bool same_as(const Policy& other) const;
};

// The kernel reads a policy with memdup_user_nul(len + 1), which kmalloc
// cannot serve above KMALLOC_MAX_SIZE (4 MiB on x86-64): -ENOMEM.
constexpr size_t kMaxPolicySize = (size_t{4} << 20) - 1;

struct ParseOptions {
  // Names the input in error messages: "policy.txt:3: ...".
  std::string source = "policy";
  // Also reject (EBADMSG) a property that cannot apply to its rule's op,
  // which the kernel accepts (see property_applies()).
  bool strict = false;
};

// ipe_parse_policy(): Error(errno, "ipe_policy", "SOURCE:LINE: ... 'TOKEN'") with
// the kernel's errno: EBADMSG (syntax, missing or duplicate default, unknown op
// or property), EINVAL (a version or digest hex that is not a number), ERANGE
// (a version part above 65535); Error(ENOMEM, "ipe_policy_too_large") over
// kMaxPolicySize. Like the kernel, the text ends at its first NUL byte.
Policy parse_policy(std::string_view text, const ParseOptions& options = {});

// Properties that cannot apply to their op, as "LINE: op=X prop=..." notes (never an error).
std::vector<std::string> policy_warnings(const Policy& policy);

// ---- evaluation ---------------------------------------------------------------------

// enum ipe_hook_type: which LSM hook asked (printed as ipe_hook=).
enum class EvalHook : uint8_t {
  kBprmCheck = 0,
  kBprmCredsForExec,
  kMmap,
  kMprotect,
  kKernelRead,
  kKernelLoad,
  kBpfProgLoad,
};
std::string_view eval_hook_name(EvalHook hook);  // "BPRM_CHECK", ..., "BPF_PROG_LOAD"
std::optional<EvalHook> eval_hook_from_name(std::string_view name);

// What IPE's file-based properties look at, gathered by ipe_build_eval_ctx()
// from the file's superblock, block device and inode blobs. Here they are plain
// fields of the event.
struct FileInfo {
  std::string path;  // audit only
  std::string dev;   // audit only (s_id, "sda2")
  uint64_t ino = 0;  // audit only
  bool from_initramfs = false;                 // boot_verified
  std::optional<Digest> dmverity_roothash;     // the dm-verity device's root hash, if on one
  bool dmverity_signed = false;                // its root hash signature was valid
  std::optional<Digest> fsverity_digest;       // set iff the file has fs-verity enabled
  bool fsverity_signed = false;                // fs-verity builtin signature valid (needs fs-verity)
};

// struct ipe_eval_ctx plus the task fields the audit record prints.
struct Event {
  Op op = Op::kBpfProgLoad;
  EvalHook hook = EvalHook::kBpfProgLoad;
  std::optional<FileInfo> file;  // nullopt: no file (kernel_load_data, BPF)
  lsm::IntegrityVerdict bpf_verdict = lsm::IntegrityVerdict::kNone;
  int32_t bpf_keyring_id = 0;  // attr->keyring_id: 0 builtin, 1 secondary, 2 platform
  bool bpf_kernel = false;
  uint32_t bpf_prog_type = 0;  // prog->type
  uint32_t uid = 0;            // the loading task's uid
  int32_t pid = 0;
  std::string comm;
};

enum class MatchType : uint8_t { kRule, kOpDefault, kGlobalDefault };

struct Decision {
  Action action = Action::kAllow;
  MatchType match = MatchType::kGlobalDefault;
  std::optional<Rule> rule;  // the matched rule when match == kRule
  bool is_default() const { return match != MatchType::kRule; }
  // The policy text of what matched: the rule, "DEFAULT op=X action=Y" or "DEFAULT action=Y".
  std::string rule_text(Op op) const;
};

// ipe_evaluate_event() against one policy: the op's rules top to bottom (every
// property must hold), first match wins; else the op's DEFAULT; else the global one.
Decision evaluate(const Policy& policy, const Event& event);

// The fields of IPE's AUDIT_IPE_ACCESS (1420) record, in audit.c's order:
// ipe_op=.. ipe_hook=.. enforcing=.. pid=.. comm=".." path=.. dev=.. ino=.. rule="..".
// Digests in the rule are printed as audit.c does: ALG:UPPER-CASE-HEX.
std::string audit_fields(const Event& event, const Decision& decision, bool enforcing);

// ---- the policy store (securityfs ipe/) ------------------------------------------------

struct StoreResult {
  int err = 0;                      // 0 or -EACCES (what the hook returns)
  std::optional<Decision> decision;  // nullopt: no active policy, nothing evaluated
  bool audited = false;              // the kernel would write a 1420 record
  std::string audit;                 // its fields (set whenever decision is)
};

class PolicyStore {
 public:
  // ipe/new_policy: parse (errors as parse_policy()), then
  // Error(EEXIST, "ipe_policy_exists") for a name already loaded, or
  // Error(EACCES, "ipe_policy_name") for a name securityfs cannot make a
  // directory of ("." , "..", containing '/'). Does not activate.
  const Policy& load(std::string_view text, const ParseOptions& options = {});
  // ipe/policies/NAME/active <- 1: Error(ENOENT, "ipe_policy_not_found"), or
  // Error(EINVAL, "ipe_policy_rollback") when the active policy's version is
  // higher (an equal version may be activated).
  void activate(std::string_view name);
  // ipe/policies/NAME/update: Error(ENOENT, "ipe_policy_not_found"),
  // Error(EINVAL, "ipe_policy_name_mismatch") when the new text names another
  // policy, Error(ESTALE, "ipe_policy_stale") unless its version is strictly
  // higher than the one it replaces. An active policy stays active.
  const Policy& update(std::string_view name, std::string_view text, const ParseOptions& options = {});
  // ipe/policies/NAME/delete <- 1: ENOENT, or Error(EPERM, "ipe_policy_active").
  void remove(std::string_view name);

  const Policy* find(std::string_view name) const;
  const Policy* active() const { return active_.get(); }
  std::vector<std::string> names() const;

  // ipe/enforce and ipe/success_audit (ipe.enforce=, ipe.success_audit=).
  bool enforce = true;
  bool success_audit = false;

  // ipe_evaluate_event() with the active policy: no active policy allows
  // everything without a record; DENY is -EACCES only when enforcing.
  StoreResult evaluate(const Event& event) const;

 private:
  std::map<std::string, std::shared_ptr<const Policy>, std::less<>> policies_;
  std::shared_ptr<const Policy> active_;
};

// ---- the loads of a deep-verify manifest -------------------------------------------------

// Who the loads are evaluated for. A manifest does not say who loads it; the
// defaults are the caller `bpfsig run` puts in its hook trace (pid 1, comm
// "bpfsig", root), so the records read like the model's.
struct ManifestCaller {
  int32_t pid = 1;
  std::string comm = "bpfsig";
  uint32_t uid = 0;
};

// One BPF_PROG_LOAD IPE evaluates for a manifest ("bpfsig-manifest/1",
// docs/formats.md): the loader's own load, or one its bpf_sys_bpf makes.
struct ManifestLoad {
  std::string path;     // where the manifest lists it: "loader", "programs[2]"
  std::string program;  // its name
  Event event;
};

// The IPE events of a manifest in the order the kernel evaluates them: the
// loader (kernel=false, bpf_signature = signature.verdict, keyring from
// signature.keyring), then each program with kernel=true in index order
// (bpf_signature=UNSIGNED, keyring_id 0, kernel=true: what Hornet reports for
// a load that carries no signature, as the model's stack shows it). Maps and
// links make no event: IPE has no op for them. Only the fields used are
// checked: Error(EINVAL, "manifest", "SOURCE: programs[3].kernel: expected a
// boolean") names the first bad one by its JSON path.
std::vector<ManifestLoad> manifest_loads(const nlohmann::ordered_json& manifest, const std::string& source,
                                         const ManifestCaller& caller = {});

// signature.keyring as keyring_id: builtin 0, secondary 1, platform 2 (the
// ids bpf_keyring= tests), session -3 and user -4 (KEY_SPEC_*_KEYRING, what
// `bpfsig load --keyring` passes). nullopt for any other name.
std::optional<int32_t> keyring_id_from_name(std::string_view name);

// The bpf_keyring= value that holds for keyring_id: "BUILTIN", "SECONDARY",
// "PLATFORM", or "USER" for any other id (bpfsig's Linux 7.3 addition).
std::string_view keyring_property_name(int32_t keyring_id);

// ---- the LSM ----------------------------------------------------------------------------

// "ipe" (LSM_ID_IPE 113): keeps the verdict an integrity LSM reports through
// bpf_prog_load_post_integrity in its prog blob (the last report wins, NONE
// when none came) and evaluates op=BPF_PROG_LOAD in bpf_prog_load with
// bpf_keyring_id = attr.keyring_id and bpf_kernel = kernel. When the kernel
// would audit (a DENY, or any decision with success_audit), it adds its own
// 1420 record (AuditRecord::lsm_text) to the stack's log.
class IpeLsm : public lsm::Lsm {
 public:
  struct Blob : lsm::ProgBlob {
    lsm::IntegrityVerdict verdict = lsm::IntegrityVerdict::kNone;
  };

  explicit IpeLsm(std::shared_ptr<PolicyStore> store = std::make_shared<PolicyStore>());
  PolicyStore& store() { return *store_; }
  const std::shared_ptr<PolicyStore>& shared_store() const { return store_; }

  std::unique_ptr<lsm::ProgBlob> new_prog_blob() const override;
  int bpf_prog_load_post_integrity(lsm::ProgView& prog, const lsm::ProgLoadAttr& attr, const lsm::Token* token,
                                   bool kernel, const lsm::LsmIdent& reporter,
                                   lsm::IntegrityVerdict verdict) override;
  int bpf_prog_load(lsm::ProgView& prog, const lsm::ProgLoadAttr& attr, const lsm::Token* token,
                    bool kernel) override;

 private:
  std::shared_ptr<PolicyStore> store_;
};

// A registry entry for "ipe" whose LSMs share `store` (e.g. one with a policy
// loaded and active). builtin_registry()'s "ipe" has an empty store: IPE
// without a policy allows everything, as a kernel without a boot policy.
lsm::LsmFactory ipe_factory(std::shared_ptr<PolicyStore> store);

}  // namespace bpfsig::ipe
