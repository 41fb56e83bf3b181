// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/lsm.h"

using namespace bpfsig;
using namespace bpfsig::lsm;

namespace {

// ---- test LSMs ----------------------------------------------------------------------

// Counts the blobs a RecordingLsm's programs get, to check their lifetime.
struct BlobCounter {
  int made = 0;
  int destroyed = 0;
  int alive() const { return made - destroyed; }
};

// Logs every callback as "name:hook" (post_integrity adds "<-reporter:VERDICT"),
// returns a scripted value per hook, and can act as an integrity LSM.
class RecordingLsm : public Lsm {
 public:
  struct Blob : ProgBlob {
    explicit Blob(BlobCounter& counter) : counter(counter) { ++counter.made; }
    ~Blob() override { ++counter.destroyed; }
    BlobCounter& counter;
    std::vector<IntegrityVerdict> verdicts;
  };

  RecordingLsm(std::string name, std::vector<std::string>& log, BlobCounter& blobs, HookSet hooks = kAllHooks)
      : Lsm({std::move(name), LsmId::kUndef}, hooks), log_(log), blobs_(blobs) {}

  std::map<Hook, int> returns;              // what a callback returns (default 0)
  std::optional<IntegrityVerdict> reports;  // reported from bpf_prog_load_integrity
  std::vector<bool> kernel_seen;            // the kernel flag of every prog-load callback
  bool blob_seen_at_free = false;

  std::unique_ptr<ProgBlob> new_prog_blob() const override { return std::make_unique<Blob>(blobs_); }

  int bpf(int, ByteView, unsigned, bool) override { return called(Hook::kBpf); }
  int bpf_map_create(const MapView&, const MapCreateAttr&, const Token*, bool) override {
    return called(Hook::kBpfMapCreate);
  }
  int bpf_prog_load_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) override {
    kernel_seen.push_back(kernel);
    int rc = called(Hook::kBpfProgLoadIntegrity);
    if (rc != 0 || !reports) return rc;
    return report_integrity(prog, attr, token, kernel, *reports);
  }
  int bpf_prog_load_post_integrity(ProgView& prog, const ProgLoadAttr&, const Token*, bool kernel,
                                   const LsmIdent& reporter, IntegrityVerdict verdict) override {
    kernel_seen.push_back(kernel);
    blob<Blob>(prog)->verdicts.push_back(verdict);
    log_.push_back(name() + ":bpf_prog_load_post_integrity<-" + reporter.name + ":" +
                   std::string(verdict_name(verdict)));
    return result(Hook::kBpfProgLoadPostIntegrity);
  }
  int bpf_prog_load(ProgView&, const ProgLoadAttr&, const Token*, bool kernel) override {
    kernel_seen.push_back(kernel);
    return called(Hook::kBpfProgLoad);
  }
  int bpf_prog(ProgView&) override { return called(Hook::kBpfProg); }
  void bpf_prog_free(ProgView& prog) override {
    blob_seen_at_free = blob<Blob>(prog) != nullptr;
    called(Hook::kBpfProgFree);
  }

 private:
  int called(Hook hook) {
    log_.push_back(name() + ":" + std::string(hook_name(hook)));
    return result(hook);
  }
  int result(Hook hook) const {
    auto it = returns.find(hook);
    return it == returns.end() ? 0 : it->second;
  }

  std::vector<std::string>& log_;
  BlobCounter& blobs_;
};

// A Hornet-like integrity LSM: UNSIGNED without a signature, BADSIG for an
// empty or wrong one, OK for the expected bytes.
class FakeSignatureLsm : public Lsm {
 public:
  explicit FakeSignatureLsm(Bytes good) : Lsm({"hornet", LsmId::kHornet}, hook_bit(Hook::kBpfProgLoadIntegrity)),
                                          good_(std::move(good)) {}

  int bpf_prog_load_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) override {
    return report_integrity(prog, attr, token, kernel, judge(attr));
  }

 private:
  IntegrityVerdict judge(const ProgLoadAttr& attr) const {
    if (!attr.signature) return IntegrityVerdict::kUnsigned;
    return *attr.signature == good_ ? IntegrityVerdict::kOk : IntegrityVerdict::kBadSig;
  }
  Bytes good_;
};

// ---- fixtures ------------------------------------------------------------------------

const Bytes kGoodSig = {0x30, 0x82, 0x01};

Caller loader_task() { return {4242, "bpfsig", 0, {Cap::kBpf, Cap::kPerfmon}}; }

ProgLoadAttr syscall_prog(std::optional<Bytes> signature = std::nullopt) {
  ProgLoadAttr attr;
  attr.prog_type = BPF_PROG_TYPE_SYSCALL;
  attr.insn_cnt = 1;
  attr.signature = std::move(signature);
  return attr;
}

ProgView prog_named(std::string name) {
  ProgView prog;
  prog.id = 7;
  prog.name = std::move(name);
  return prog;
}

// A stack of RecordingLsms "a", "b", "c" (or fewer) sharing one log and one blob counter.
struct RecordingStack {
  std::vector<std::string> log;
  BlobCounter blobs;
  LsmStack stack;
  std::vector<RecordingLsm*> lsm;

  explicit RecordingStack(std::vector<HookSet> hooks = {kAllHooks, kAllHooks, kAllHooks}) {
    const char* names[] = {"a", "b", "c"};
    for (size_t i = 0; i < hooks.size(); ++i) {
      lsm.push_back(static_cast<RecordingLsm*>(
          &stack.add(std::make_unique<RecordingLsm>(names[i], log, blobs, hooks[i]))));
    }
    stack.set_current(loader_task());
  }
};

using Log = std::vector<std::string>;

// ---- ids and names ------------------------------------------------------------------------

TEST(Ids, VerdictsAndLsmIdsMatchTheKernel) {
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kNone), 0);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kOk), 1);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kUnsigned), 2);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kPartialSig), 3);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kUnknownKey), 4);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kUnexpected), 5);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kFault), 6);
  EXPECT_EQ(static_cast<int>(IntegrityVerdict::kBadSig), 7);
  EXPECT_EQ(verdict_name(IntegrityVerdict::kPartialSig), "PARTIALSIG");
  EXPECT_EQ(verdict_name(IntegrityVerdict::kUnknownKey), "UNKNOWNKEY");
  EXPECT_EQ(static_cast<int>(LsmId::kCapability), 100);
  EXPECT_EQ(static_cast<int>(LsmId::kApparmor), 104);
  EXPECT_EQ(static_cast<int>(LsmId::kBpf), 109);
  EXPECT_EQ(static_cast<int>(LsmId::kIpe), 113);
  EXPECT_EQ(static_cast<int>(LsmId::kHornet), 114);
}

// ---- lsm= ------------------------------------------------------------------------------------

LsmRegistry registry_with(std::vector<std::string> names) {
  LsmRegistry registry = builtin_registry();
  for (const auto& name : names) {
    registry[name] = [name] { return std::make_unique<SignedOnlyLsm>(); };
  }
  return registry;
}

TEST(LsmParam, KeepsOrderPutsCapabilityFirstAndSkipsDuplicates) {
  auto registry = registry_with({"hornet", "ipe"});
  EXPECT_EQ(parse_lsm_param("ipe,hornet,capability,ipe,,signed-only", registry),
            (std::vector<std::string>{"capability", "ipe", "hornet", "signed-only"}));
  EXPECT_EQ(parse_lsm_param("", registry), (std::vector<std::string>{"capability"}));
}

TEST(LsmParam, UnknownNameIsEinval) {
  try {
    parse_lsm_param("capability,hornett", builtin_registry());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(e.kind(), "lsm_unknown");
    EXPECT_NE(std::string(e.what()).find("'hornett'"), std::string::npos);
  }
}

TEST(LsmParam, StackIsBuiltInThatOrder) {
  LsmStack stack("signed-only", builtin_registry());
  ASSERT_EQ(stack.lsms().size(), 2u);
  EXPECT_EQ(stack.lsms()[0]->name(), "capability");
  EXPECT_EQ(stack.lsms()[0]->ident().id, LsmId::kCapability);
  EXPECT_EQ(stack.lsms()[1]->name(), "signed-only");
}

// ---- dispatch ------------------------------------------------------------------------------

TEST(Dispatch, EveryIntegrityCallbackRunsBeforeAnyLoadCallback) {
  RecordingStack s;
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  EXPECT_EQ(s.log, (Log{"a:bpf_prog_load_integrity", "b:bpf_prog_load_integrity", "c:bpf_prog_load_integrity",
                        "a:bpf_prog_load", "b:bpf_prog_load", "c:bpf_prog_load"}));
}

TEST(Dispatch, OnlyRegisteredCallbacksAreCalled) {
  RecordingStack s({kAllHooks, hook_bit(Hook::kBpfProgLoad), kAllHooks});
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  EXPECT_EQ(s.log, (Log{"a:bpf_prog_load_integrity", "c:bpf_prog_load_integrity", "a:bpf_prog_load",
                        "b:bpf_prog_load", "c:bpf_prog_load"}));
}

TEST(Dispatch, FirstIntegrityErrorStopsTheLoadAndFreesTheBlobs) {
  RecordingStack s;
  s.lsm[1]->returns[Hook::kBpfProgLoadIntegrity] = -EACCES;
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), -EACCES);
  EXPECT_EQ(s.log, (Log{"a:bpf_prog_load_integrity", "b:bpf_prog_load_integrity", "a:bpf_prog_free",
                        "b:bpf_prog_free", "c:bpf_prog_free"}));
  EXPECT_EQ(s.blobs.made, 3);
  EXPECT_EQ(s.blobs.alive(), 0);
  EXPECT_TRUE(prog.security.blobs.empty());
}

TEST(Dispatch, FirstLoadErrorStopsTheLoadAndFreesTheBlobs) {
  RecordingStack s;
  s.lsm[0]->returns[Hook::kBpfProgLoad] = -EPERM;
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), -EPERM);
  EXPECT_EQ(s.log, (Log{"a:bpf_prog_load_integrity", "b:bpf_prog_load_integrity", "c:bpf_prog_load_integrity",
                        "a:bpf_prog_load", "a:bpf_prog_free", "b:bpf_prog_free", "c:bpf_prog_free"}));
  EXPECT_EQ(s.blobs.alive(), 0);
}

TEST(Dispatch, FirstErrorStopsTheOtherHooks) {
  RecordingStack s;
  for (Hook hook : {Hook::kBpf, Hook::kBpfMapCreate, Hook::kBpfProg}) s.lsm[1]->returns[hook] = -EACCES;
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf(BPF_PROG_LOAD, {}, 168, false), -EACCES);
  EXPECT_EQ(s.stack.security_bpf_map_create(MapView{}, MapCreateAttr{}, nullptr, false), -EACCES);
  EXPECT_EQ(s.stack.security_bpf_prog(prog), -EACCES);
  EXPECT_EQ(s.log, (Log{"a:bpf", "b:bpf", "a:bpf_map_create", "b:bpf_map_create", "a:bpf_prog", "b:bpf_prog"}));
}

// ---- post_integrity ----------------------------------------------------------------------------

TEST(PostIntegrity, FansOutToEveryLsmIncludingTheReporterBeforeTheNextIntegrityCallback) {
  RecordingStack s;
  s.lsm[1]->reports = IntegrityVerdict::kOk;
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  EXPECT_EQ(s.log, (Log{"a:bpf_prog_load_integrity", "b:bpf_prog_load_integrity",
                        "a:bpf_prog_load_post_integrity<-b:OK", "b:bpf_prog_load_post_integrity<-b:OK",
                        "c:bpf_prog_load_post_integrity<-b:OK", "c:bpf_prog_load_integrity", "a:bpf_prog_load",
                        "b:bpf_prog_load", "c:bpf_prog_load"}));
}

TEST(PostIntegrity, FirstErrorStopsTheFanOutAndTheReporterPassesItOn) {
  RecordingStack s;
  s.lsm[0]->reports = IntegrityVerdict::kUnsigned;
  s.lsm[1]->returns[Hook::kBpfProgLoadPostIntegrity] = -EKEYREJECTED;
  ProgView prog = prog_named("p");
  EXPECT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), -EKEYREJECTED);
  EXPECT_EQ(s.log, (Log{"a:bpf_prog_load_integrity", "a:bpf_prog_load_post_integrity<-a:UNSIGNED",
                        "b:bpf_prog_load_post_integrity<-a:UNSIGNED", "a:bpf_prog_free", "b:bpf_prog_free",
                        "c:bpf_prog_free"}));
  EXPECT_EQ(s.blobs.alive(), 0);
}

TEST(PostIntegrity, EachReceiverStoresEveryVerdictInItsOwnBlob) {
  RecordingStack s;
  s.lsm[0]->reports = IntegrityVerdict::kPartialSig;
  s.lsm[2]->reports = IntegrityVerdict::kOk;
  ProgView prog = prog_named("p");
  ASSERT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  ASSERT_EQ(prog.security.blobs.size(), 3u);
  for (const auto& blob : prog.security.blobs) {
    EXPECT_EQ(dynamic_cast<RecordingLsm::Blob&>(*blob).verdicts,
              (std::vector<IntegrityVerdict>{IntegrityVerdict::kPartialSig, IntegrityVerdict::kOk}));
  }
}

// ---- signed-only --------------------------------------------------------------------------------

struct SignedOnlyStack {
  LsmStack stack;
  explicit SignedOnlyStack(SignedOnlyOptions options = {}, bool with_integrity_lsm = true) {
    if (with_integrity_lsm) stack.add(std::make_unique<FakeSignatureLsm>(kGoodSig));
    stack.add(std::make_unique<SignedOnlyLsm>(options));
    stack.set_current(loader_task());
  }
  int load(ProgView& prog, std::optional<Bytes> signature, bool kernel = false) {
    return stack.security_bpf_prog_load(prog, syscall_prog(std::move(signature)), nullptr, kernel);
  }
};

TEST(SignedOnly, AllowsOkAndKeepsTheVerdictInItsBlob) {
  SignedOnlyStack s;
  ProgView prog = prog_named("loader");
  EXPECT_EQ(s.load(prog, kGoodSig), 0);
  auto& blob = dynamic_cast<SignedOnlyLsm::Blob&>(*prog.security.blobs.at(1));
  EXPECT_EQ(blob.received, (std::vector<IntegrityVerdict>{IntegrityVerdict::kOk}));
}

TEST(SignedOnly, RejectsUnsignedAndBadSignatures) {
  SignedOnlyStack s;
  ProgView prog = prog_named("loader");
  EXPECT_EQ(s.load(prog, std::nullopt), -EPERM);
  EXPECT_EQ(s.load(prog, Bytes{0x30, 0x00}), -EPERM);
  EXPECT_EQ(s.load(prog, Bytes{}), -EPERM);
  EXPECT_TRUE(prog.security.blobs.empty());
}

TEST(SignedOnly, RejectsWhenNoIntegrityLsmReported) {
  SignedOnlyStack s({}, false);
  ProgView prog = prog_named("loader");
  EXPECT_EQ(s.load(prog, kGoodSig), -EPERM);
}

TEST(SignedOnly, OneOkAmongOtherVerdictsIsEnough) {
  std::vector<std::string> log;
  BlobCounter blobs;
  LsmStack stack;
  auto& unsure = static_cast<RecordingLsm&>(stack.add(std::make_unique<RecordingLsm>("a", log, blobs)));
  unsure.reports = IntegrityVerdict::kPartialSig;
  stack.add(std::make_unique<FakeSignatureLsm>(kGoodSig));
  stack.add(std::make_unique<SignedOnlyLsm>());
  ProgView prog = prog_named("loader");
  EXPECT_EQ(stack.security_bpf_prog_load(prog, syscall_prog(kGoodSig), nullptr, false), 0);
}

// The loader's own load is signed (kernel == false); the programs it creates
// through bpf_sys_bpf() carry no signature and arrive with kernel == true.
TEST(KernelLoads, LoaderMadeProgramsPassSignedOnlyByDefault) {
  SignedOnlyStack s;
  ProgView loader = prog_named("__loader.prog");
  ProgView child = prog_named("handle_exec");
  EXPECT_EQ(s.load(loader, kGoodSig, false), 0);
  EXPECT_EQ(s.load(child, std::nullopt, true), 0);
  EXPECT_EQ(s.load(child, std::nullopt, false), -EPERM);
}

TEST(KernelLoads, SignedOnlyCanRefuseThem) {
  SignedOnlyStack s({.allow_kernel_loads = false});
  ProgView child = prog_named("handle_exec");
  EXPECT_EQ(s.load(child, std::nullopt, true), -EPERM);
}

TEST(KernelLoads, EveryCallbackSeesTheKernelFlag) {
  RecordingStack s;
  s.lsm[0]->reports = IntegrityVerdict::kUnsigned;
  ProgView child = prog_named("handle_exec");
  ASSERT_EQ(s.stack.security_bpf_prog_load(child, syscall_prog(), nullptr, true), 0);
  for (const auto* lsm : s.lsm) {
    EXPECT_FALSE(lsm->kernel_seen.empty());
    for (bool kernel : lsm->kernel_seen) EXPECT_TRUE(kernel);
  }
}

TEST(KernelLoads, CapabilityStillChecksTheTaskRunningTheLoader) {
  LsmStack stack("", builtin_registry());
  stack.set_current({99, "loader", 1000, {Cap::kBpf}});
  ProgView child = prog_named("kprobe_prog");
  ProgLoadAttr attr = syscall_prog();
  attr.prog_type = BPF_PROG_TYPE_KPROBE;
  EXPECT_EQ(stack.security_bpf_prog_load(child, attr, nullptr, true), -EPERM);
  stack.set_current(loader_task());
  EXPECT_EQ(stack.security_bpf_prog_load(child, attr, nullptr, true), 0);
}

// ---- blob lifetime --------------------------------------------------------------------------------

TEST(Blobs, LiveFromLoadThroughPublishUntilFree) {
  RecordingStack s;
  ProgView prog = prog_named("p");
  ASSERT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  EXPECT_EQ(s.blobs.made, 3);
  EXPECT_EQ(s.blobs.alive(), 3);
  ASSERT_EQ(s.stack.security_bpf_prog(prog), 0);
  EXPECT_EQ(s.blobs.alive(), 3);
  s.stack.security_bpf_prog_free(prog);
  EXPECT_EQ(s.blobs.alive(), 0);
  for (const auto* lsm : s.lsm) EXPECT_TRUE(lsm->blob_seen_at_free) << "bpf_prog_free runs before the blob goes";
  EXPECT_TRUE(prog.security.blobs.empty());
}

TEST(Blobs, EachProgramHasItsOwn) {
  RecordingStack s({kAllHooks});
  s.lsm[0]->reports = IntegrityVerdict::kOk;
  ProgView first = prog_named("first");
  ProgView second = prog_named("second");
  ASSERT_EQ(s.stack.security_bpf_prog_load(first, syscall_prog(), nullptr, false), 0);
  s.lsm[0]->reports = IntegrityVerdict::kBadSig;
  ASSERT_EQ(s.stack.security_bpf_prog_load(second, syscall_prog(), nullptr, false), 0);
  EXPECT_EQ(s.blobs.alive(), 2);
  EXPECT_EQ(dynamic_cast<RecordingLsm::Blob&>(*first.security.blobs[0]).verdicts,
            (std::vector<IntegrityVerdict>{IntegrityVerdict::kOk}));
  EXPECT_EQ(dynamic_cast<RecordingLsm::Blob&>(*second.security.blobs[0]).verdicts,
            (std::vector<IntegrityVerdict>{IntegrityVerdict::kBadSig}));
  s.stack.security_bpf_prog_free(first);
  EXPECT_EQ(s.blobs.alive(), 1);
}

// ---- capability ----------------------------------------------------------------------------------

struct ProgCase {
  CapSet caps;
  uint32_t prog_type;
  bool unprivileged_bpf_disabled;
  int expected;
};

TEST(Capability, ProgLoadFollowsSyscallC) {
  const ProgCase cases[] = {
      {{}, BPF_PROG_TYPE_SYSCALL, true, -EPERM},
      {{Cap::kBpf}, BPF_PROG_TYPE_SYSCALL, true, 0},
      {{Cap::kSysAdmin}, BPF_PROG_TYPE_SYSCALL, true, 0},
      {{Cap::kBpf}, BPF_PROG_TYPE_KPROBE, true, -EPERM},
      {{Cap::kBpf, Cap::kPerfmon}, BPF_PROG_TYPE_KPROBE, true, 0},
      {{Cap::kBpf}, BPF_PROG_TYPE_XDP, true, -EPERM},
      {{Cap::kBpf, Cap::kNetAdmin}, BPF_PROG_TYPE_XDP, true, 0},
      {{Cap::kBpf, Cap::kNetAdmin}, BPF_PROG_TYPE_EXT, true, -EPERM},
      {{Cap::kBpf, Cap::kNetAdmin, Cap::kPerfmon}, BPF_PROG_TYPE_EXT, true, 0},
      {{}, BPF_PROG_TYPE_SOCKET_FILTER, true, -EPERM},
      {{}, BPF_PROG_TYPE_SOCKET_FILTER, false, 0},
      {{}, BPF_PROG_TYPE_CGROUP_SKB, false, 0},
      {{}, BPF_PROG_TYPE_SYSCALL, false, -EPERM},
  };
  for (const auto& c : cases) {
    ProgLoadAttr attr = syscall_prog();
    attr.prog_type = c.prog_type;
    Caller caller{1, "t", 1000, c.caps};
    EXPECT_EQ(capability_check_prog_load(caller, attr, nullptr, {c.unprivileged_bpf_disabled}), c.expected)
        << "prog_type " << c.prog_type;
  }
}

TEST(Capability, TokenCapabilitiesReplaceTheCallers) {
  ProgLoadAttr attr = syscall_prog();
  Caller unprivileged{1, "t", 1000, {}};
  Token token{{Cap::kBpf}};
  EXPECT_EQ(capability_check_prog_load(unprivileged, attr, &token, {}), 0);
  Caller privileged{1, "t", 0, {Cap::kBpf}};
  Token empty{};
  EXPECT_EQ(capability_check_prog_load(privileged, attr, &empty, {}), -EPERM);
}

TEST(Capability, MapCreateFollowsSyscallC) {
  auto check = [](CapSet caps, uint32_t map_type, bool disabled) {
    MapCreateAttr attr;
    attr.map_type = map_type;
    return capability_check_map_create(Caller{1, "t", 1000, caps}, attr, nullptr, {disabled});
  };
  EXPECT_EQ(check({}, BPF_MAP_TYPE_ARRAY, true), -EPERM);
  EXPECT_EQ(check({}, BPF_MAP_TYPE_ARRAY, false), 0);
  EXPECT_EQ(check({}, BPF_MAP_TYPE_LRU_HASH, false), -EPERM);
  EXPECT_EQ(check({Cap::kBpf}, BPF_MAP_TYPE_LRU_HASH, true), 0);
  EXPECT_EQ(check({Cap::kBpf}, BPF_MAP_TYPE_SOCKMAP, true), -EPERM);
  EXPECT_EQ(check({Cap::kBpf, Cap::kNetAdmin}, BPF_MAP_TYPE_SOCKMAP, true), 0);
}

TEST(Capability, IsTheLsmCalledFirstAndUsesCurrent) {
  LsmStack stack("signed-only", builtin_registry());
  stack.set_current({5, "nobody", 65534, {}});
  MapCreateAttr map_attr;
  map_attr.map_type = BPF_MAP_TYPE_ARRAY;
  EXPECT_EQ(stack.security_bpf_map_create(MapView{}, map_attr, nullptr, false), -EPERM);
  ProgView prog = prog_named("p");
  EXPECT_EQ(stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), -EPERM);
  ASSERT_EQ(stack.audit_log().records().size(), 2u);
  EXPECT_EQ(stack.audit_log().records()[1].lsm, "capability");
}

// ---- audit ------------------------------------------------------------------------------------------

// A clock that advances 1 ms per record.
std::function<AuditTime()> ticking_clock() {
  return [ms = uint32_t{122}]() mutable { return AuditTime{1764368000, ++ms}; };
}

TEST(Audit, OneRecordPerCallbackInCallOrder) {
  SignedOnlyStack s;
  s.stack.set_clock(ticking_clock());
  ProgView prog = prog_named("loader");
  ASSERT_EQ(s.load(prog, kGoodSig), 0);
  EXPECT_EQ(s.stack.audit_log().audit_lines(),
            "type=1420 audit(1764368000.123:1): hook=bpf_prog_load_post_integrity lsm=signed-only verdict=OK "
            "decision=allow errno=0 pid=4242 comm=\"bpfsig\"\n"
            "type=1420 audit(1764368000.124:2): hook=bpf_prog_load_integrity lsm=hornet verdict=OK "
            "decision=allow errno=0 pid=4242 comm=\"bpfsig\"\n"
            "type=1420 audit(1764368000.125:3): hook=bpf_prog_load lsm=signed-only verdict=OK "
            "decision=allow errno=0 pid=4242 comm=\"bpfsig\"\n");
}

TEST(Audit, DenyLineAndJsonLine) {
  SignedOnlyStack s;
  s.stack.set_clock([] { return AuditTime{1764368000, 7}; });
  ProgView prog = prog_named("loader");
  ASSERT_EQ(s.load(prog, std::nullopt), -EPERM);
  const AuditRecord& deny = s.stack.audit_log().records().back();
  EXPECT_EQ(deny.to_audit_line(),
            "type=1420 audit(1764368000.007:3): hook=bpf_prog_load lsm=signed-only verdict=UNSIGNED "
            "decision=deny errno=-1 pid=4242 comm=\"bpfsig\"");
  EXPECT_EQ(deny.to_json_line(),
            R"({"type":1420,"sec":1764368000,"msec":7,"serial":3,"hook":"bpf_prog_load","lsm":"signed-only",)"
            R"("verdict":"UNSIGNED","decision":"deny","errno":-1,"pid":4242,"comm":"bpfsig"})");
}

TEST(Audit, HooksWithoutAProgramHaveNoVerdict) {
  RecordingStack s({kAllHooks});
  ASSERT_EQ(s.stack.security_bpf(BPF_MAP_CREATE, {}, 92, false), 0);
  const AuditRecord& r = s.stack.audit_log().records().at(0);
  EXPECT_EQ(r.to_audit_line(),
            "type=1420 audit(0.000:1): hook=bpf lsm=a verdict=? decision=allow errno=0 pid=4242 comm=\"bpfsig\"");
  EXPECT_NE(r.to_json_line().find(R"("verdict":null)"), std::string::npos);
}

TEST(Audit, ProgramHooksBeforeAnyReportSayNone) {
  RecordingStack s({kAllHooks});
  ProgView prog = prog_named("p");
  ASSERT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  EXPECT_EQ(s.stack.audit_log().records().at(0).verdict, IntegrityVerdict::kNone);
}

TEST(Audit, FreeIsNotADecision) {
  RecordingStack s;
  ProgView prog = prog_named("p");
  ASSERT_EQ(s.stack.security_bpf_prog_load(prog, syscall_prog(), nullptr, false), 0);
  size_t before = s.stack.audit_log().records().size();
  s.stack.security_bpf_prog_free(prog);
  EXPECT_EQ(s.stack.audit_log().records().size(), before);
  EXPECT_EQ(before, 6u);
}

TEST(Audit, UntrustedCommIsPrintedInHex) {
  SignedOnlyStack s({}, false);
  s.stack.set_current({1, "my \"prog\"", 0, {}});
  ProgView prog = prog_named("p");
  ASSERT_EQ(s.load(prog, std::nullopt), -EPERM);
  const AuditRecord& r = s.stack.audit_log().records().back();
  EXPECT_NE(r.to_audit_line().find(" comm=6D79202270726F6722"), std::string::npos) << r.to_audit_line();
  EXPECT_NE(r.to_json_line().find(R"("comm":"my \"prog\"")"), std::string::npos) << r.to_json_line();
}

}  // namespace
