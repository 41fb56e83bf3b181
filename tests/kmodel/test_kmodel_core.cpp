// SPDX-License-Identifier: Apache-2.0
// CO-RE relocations in the kernel model's BPF_PROG_LOAD (docs/kmodel.md,
// "CO-RE"): hand-built BTF where a field moves (the target BTF from a file),
// the record checks and their errnos, poisoned instructions; and BPF C
// programs written for these tests, signed as light skeletons (bpfsig sign
// --scheme loadtime) and loaded both in the model and, unsigned, in the
// running kernel (root; "skipped: <reason>" otherwise): same programs, same
// tags, same relocated values.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <linux/bpf.h>  // struct bpf_core_relo, enum bpf_core_relo_kind (libbpf 1.8's uapi)
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "kmodel/kmodel_test_util.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

using test::errno_of;

// ---- hand-built BTF ------------------------------------------------------------

struct BtfFree {
  void operator()(struct btf* btf) const { btf__free(btf); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfFree>;

// BTF holding `struct s { int <fields[0]>; int <fields[1]>; ... }` and the
// CO-RE access strings "0:0" .. "0:N-1" (field i of s).
struct StructBtf {
  Bytes blob;
  uint32_t struct_id = 0;
  std::vector<uint32_t> access;  // string offset of "0:i"
  uint32_t type_access = 0;      // "0": what type-based relocations name
};

StructBtf struct_btf(const std::vector<std::string>& fields) {
  BtfPtr btf(btf__new_empty());
  const int int_id = btf__add_int(btf.get(), "int", 4, BTF_INT_SIGNED);
  StructBtf out;
  out.struct_id = static_cast<uint32_t>(btf__add_struct(btf.get(), "s", static_cast<uint32_t>(4 * fields.size())));
  for (size_t i = 0; i < fields.size(); ++i) {
    btf__add_field(btf.get(), fields[i].c_str(), int_id, static_cast<uint32_t>(32 * i), 0);
    out.access.push_back(static_cast<uint32_t>(btf__add_str(btf.get(), ("0:" + std::to_string(i)).c_str())));
  }
  out.type_access = static_cast<uint32_t>(btf__add_str(btf.get(), "0"));
  uint32_t size = 0;
  const auto* raw = static_cast<const uint8_t*>(btf__raw_data(btf.get(), &size));
  out.blob.assign(raw, raw + size);
  return out;
}

Bytes record_bytes(const std::vector<bpf_core_relo>& relos, uint32_t rec_size = sizeof(bpf_core_relo)) {
  Bytes out(relos.size() * rec_size, 0);
  for (size_t i = 0; i < relos.size(); ++i) std::memcpy(&out[i * rec_size], &relos[i], sizeof(bpf_core_relo));
  return out;
}

isa::Insn exit_insn() { return isa::exit_insn(); }

// r0 = *(u32 *)(r1 + off); exit: returns the ctx word at off.
Bytes read_ctx_at(int16_t off) { return isa::encode({isa::ldx_mem(isa::kSizeW, 0, 1, off), exit_insn()}); }

// A kernel whose vmlinux BTF is the `target` struct, written to a file.
struct CoreKernel {
  test::TempDir dir;
  Kernel kernel{no_host_btf()};
  Process& proc = kernel.spawn("core");

  static KernelProfile no_host_btf() {
    KernelProfile profile = KernelProfile::linux_6_18();
    profile.host_vmlinux_btf = false;  // deterministic: only the file below
    return profile;
  }
  explicit CoreKernel(const std::vector<std::string>& target_fields) {
    write_file_atomic(dir.file("vmlinux.btf"), struct_btf(target_fields).blob);
    kernel.set_vmlinux_btf_file(dir.file("vmlinux.btf"));
  }
  CoreKernel() = default;  // no vmlinux BTF at all

  // A SYSCALL program with the local BTF `struct s { int a; int b; }`, one
  // func_info record (6.18 applies core_relos only with BTF info), and relos.
  ProgLoadAttr attr(Bytes insns, const std::vector<bpf_core_relo>& relos) {
    ProgLoadAttr a;
    a.insns = std::move(insns);
    a.license = "GPL";
    a.prog_flags = kFSleepable;
    a.name = "core";
    a.prog_btf_fd = kernel.btf_load(proc, local.blob);
    a.func_info_cnt = 1;
    a.core_relos = record_bytes(relos);
    a.core_relo_cnt = static_cast<uint32_t>(relos.size());
    a.core_relo_rec_size = sizeof(bpf_core_relo);
    return a;
  }
  // The program's return value with ctx = {1, 2, 3} (u32 words at 0, 4, 8).
  uint32_t run(int fd) {
    Bytes ctx(12, 0);
    for (uint32_t i = 0; i < 3; ++i) store_le32(&ctx[4 * i], i + 1);
    return kernel.prog_run(proc, fd, ctx).retval;
  }
  crypto::Digest digest(int fd) { return kernel.prog_info(proc, fd).digest; }

  const StructBtf local = struct_btf({"a", "b"});
};

// s.b's byte offset, relocated in the ldx at insn 0.
bpf_core_relo field_b_offset(const StructBtf& local) {
  return bpf_core_relo{0, local.struct_id, local.access[1], BPF_CORE_FIELD_BYTE_OFFSET};
}

// ---- the model alone -------------------------------------------------------------

TEST(KmodelCore, FieldOffsetFollowsTheTargetBtf) {
  CoreKernel k({"a", "pad", "b"});  // the target kernel moved b to offset 8
  int fd = k.kernel.prog_load(k.proc, k.attr(read_ctx_at(4), {field_b_offset(k.local)}));
  EXPECT_EQ(k.run(fd), 3u) << "the load reads offset 8 (the third word)";
  EXPECT_EQ(k.digest(fd), Kernel::prog_digest(read_ctx_at(8))) << "the tag covers the patched instruction";

  CoreKernel same({"a", "b"});
  int unmoved = same.kernel.prog_load(same.proc, same.attr(read_ctx_at(4), {field_b_offset(same.local)}));
  EXPECT_EQ(same.run(unmoved), 2u);
  EXPECT_EQ(same.digest(unmoved), Kernel::prog_digest(read_ctx_at(4)));
}

TEST(KmodelCore, RelocationsNeedBtfInfoIn618) {
  CoreKernel k({"a", "pad", "b"});
  ProgLoadAttr a = k.attr(read_ctx_at(4), {field_b_offset(k.local)});
  a.func_info_cnt = 0;  // check_btf_info returns before check_core_relo
  int fd = k.kernel.prog_load(k.proc, a);
  EXPECT_EQ(k.run(fd), 2u) << "core_relos were not applied";
  a.line_info_cnt = 1;
  EXPECT_EQ(k.run(k.kernel.prog_load(k.proc, a)), 3u) << "line_info alone is enough";
}

TEST(KmodelCore, ExistenceSizeAndTypeRelocations) {
  CoreKernel k({"a", "pad", "b"});
  auto value_of = [&](bpf_core_relo relo, int32_t local_value) {
    relo.insn_off = 0;
    Bytes insns = isa::encode({isa::mov64_imm(0, local_value), exit_insn()});
    return k.run(k.kernel.prog_load(k.proc, k.attr(std::move(insns), {relo})));
  };
  const uint32_t s = k.local.struct_id;
  EXPECT_EQ(value_of({0, s, k.local.access[1], BPF_CORE_FIELD_EXISTS}, 1), 1u);
  EXPECT_EQ(value_of({0, s, k.local.access[1], BPF_CORE_FIELD_BYTE_SIZE}, 4), 4u);
  EXPECT_EQ(value_of({0, s, k.local.access[1], BPF_CORE_FIELD_SIGNED}, 1), 1u);
  EXPECT_EQ(value_of({0, s, k.local.access[1], BPF_CORE_FIELD_LSHIFT_U64}, 32), 32u);
  EXPECT_EQ(value_of({0, s, k.local.access[1], BPF_CORE_FIELD_RSHIFT_U64}, 32), 32u);
  const uint32_t type = k.local.type_access;
  EXPECT_EQ(value_of({0, s, type, BPF_CORE_TYPE_EXISTS}, 1), 1u);
  EXPECT_EQ(value_of({0, s, type, BPF_CORE_TYPE_SIZE}, 8), 12u) << "the target's struct s";
  EXPECT_EQ(value_of({0, s, type, BPF_CORE_TYPE_MATCHES}, 1), 1u) << "every local member is in the target's";
  EXPECT_EQ(value_of({0, s, type, BPF_CORE_TYPE_ID_LOCAL}, static_cast<int32_t>(s)), s);
  EXPECT_EQ(value_of({0, s, type, BPF_CORE_TYPE_ID_TARGET}, static_cast<int32_t>(s)), 2u)
      << "struct s is type 2 of the target (after int)";
}

// An unsatisfiable relocation does not fail the relocation step: the
// instruction is poisoned (call 0xbad2310), as relo_core.c does in the
// kernel; the verifier then refuses it where it reaches it (EINVAL, "invalid
// func unknown#195896080") and loads it where it is dead code.
TEST(KmodelCore, MissingFieldPoisonsTheInstruction) {
  CoreKernel k({"a"});
  int exists = k.kernel.prog_load(k.proc, k.attr(isa::encode({isa::mov64_imm(0, 1), exit_insn()}),
                                                 {{0, k.local.struct_id, k.local.access[1], BPF_CORE_FIELD_EXISTS}}));
  EXPECT_EQ(k.run(exists), 0u);
  try {
    k.kernel.prog_load(k.proc, k.attr(read_ctx_at(4), {field_b_offset(k.local)}));
    FAIL() << "a reached poisoned instruction loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_EQ(std::string(e.what()), "BPF_PROG_LOAD: insn 0: invalid func unknown#195896080");
  }
  // r0 = 0; if r0 == 0 goto exit; r0 = *(u32 *)(r1 + 4) (relocated); exit
  const isa::Insn jump_over = isa::jmp_imm(isa::kJmpJeq, 0, 0, 1);
  bpf_core_relo relo = field_b_offset(k.local);
  relo.insn_off = 16;
  int dead = k.kernel.prog_load(
      k.proc, k.attr(isa::encode({isa::mov64_imm(0, 0), jump_over, isa::ldx_mem(isa::kSizeW, 0, 1, 4), exit_insn()}),
                     {relo}));
  EXPECT_EQ(k.digest(dead), Kernel::prog_digest(isa::encode(
                                {isa::mov64_imm(0, 0), jump_over, isa::call_helper(0xbad2310), exit_insn()})));
  EXPECT_EQ(k.run(dead), 0u);
}

// BTF holding `enum e { <names[i]> = <values[i]> }` (an ENUM64 when wide),
// and the access string "0" (the first enumerator).
Bytes enum_btf(const std::vector<std::pair<std::string, int64_t>>& values, bool wide = false,
               uint32_t* access = nullptr) {
  BtfPtr btf(btf__new_empty());
  if (wide) btf__add_enum64(btf.get(), "e", 8, true);
  else btf__add_enum(btf.get(), "e", 4);
  for (const auto& [name, value] : values) {
    if (wide) btf__add_enum64_value(btf.get(), name.c_str(), static_cast<uint64_t>(value));
    else btf__add_enum_value(btf.get(), name.c_str(), value);
  }
  uint32_t off = static_cast<uint32_t>(btf__add_str(btf.get(), "0"));
  if (access) *access = off;
  uint32_t size = 0;
  const auto* raw = static_cast<const uint8_t*>(btf__raw_data(btf.get(), &size));
  return Bytes(raw, raw + size);
}

// Enum values are relocated in an ld_imm64 (both slots); an enumerator the
// target lacks poisons both, and this program reaches them: refused. The kernel's candidates are of the local kind
// exactly: an ENUM64 in the target is not a candidate for a local ENUM.
TEST(KmodelCore, EnumValuesInLdImm64) {
  uint32_t access = 0;
  const Bytes local = enum_btf({{"E_X", 5}}, false, &access);
  auto load_and_run = [&](const Bytes& target, crypto::Digest* digest) {
    test::TempDir dir;
    write_file_atomic(dir.file("vmlinux.btf"), target);
    Kernel kernel(CoreKernel::no_host_btf());
    kernel.set_vmlinux_btf_file(dir.file("vmlinux.btf"));
    Process& proc = kernel.spawn("core");
    ProgLoadAttr a;
    auto ld = isa::ld_imm64(0, 0, 5);
    a.insns = isa::encode({ld[0], ld[1], exit_insn()});
    a.license = "GPL";
    a.prog_flags = kFSleepable;
    a.prog_btf_fd = kernel.btf_load(proc, local);
    a.line_info_cnt = 1;
    a.core_relos = record_bytes({{0, 1, access, BPF_CORE_ENUMVAL_VALUE}});
    a.core_relo_cnt = 1;
    a.core_relo_rec_size = sizeof(bpf_core_relo);
    int fd = -1;
    try {
      fd = kernel.prog_load(proc, a);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "BPF_PROG_LOAD: insn 0: invalid func unknown#195896080");
      return -1;  // refused: the poisoned ld_imm64 is reached
    }
    *digest = kernel.prog_info(proc, fd).digest;
    Bytes ctx(8, 0);
    return static_cast<int>(kernel.prog_run(proc, fd, ctx).retval);
  };
  crypto::Digest digest{};
  EXPECT_EQ(load_and_run(enum_btf({{"E_Y", 0}, {"E_X", 7}}), &digest), 7);
  auto ld7 = isa::ld_imm64(0, 0, 7);
  EXPECT_EQ(digest, Kernel::prog_digest(isa::encode({ld7[0], ld7[1], exit_insn()})));

  EXPECT_EQ(load_and_run(enum_btf({{"E_Y", 0}}), &digest), -1) << "E_X is missing: poisoned, and reached";
  EXPECT_EQ(load_and_run(enum_btf({{"E_X", 7}}, /*wide=*/true), &digest), -1) << "an ENUM64 is no candidate";
}

TEST(KmodelCore, RecordChecksGiveTheKernelsErrnos) {
  CoreKernel k({"a", "pad", "b"});
  const bpf_core_relo relo = field_b_offset(k.local);
  auto load = [&](const ProgLoadAttr& a) { return errno_of([&] { k.kernel.prog_load(k.proc, a); }); };
  auto with = [&](auto change) {
    ProgLoadAttr a = k.attr(read_ctx_at(4), {relo});
    change(a);
    return load(a);
  };
  for (uint32_t size : {0u, 12u, 18u, 256u})
    EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relo_rec_size = size; }), EINVAL) << "core_relo_rec_size " << size;
  EXPECT_EQ(with([&](ProgLoadAttr& a) {
              a.core_relo_rec_size = 20;
              a.core_relos = record_bytes({relo}, 20);
            }),
            0)
      << "a longer record with a zero tail";
  EXPECT_EQ(with([&](ProgLoadAttr& a) {
              a.core_relo_rec_size = 20;
              a.core_relos = record_bytes({relo}, 20);
              a.core_relos[19] = 1;
            }),
            E2BIG)
      << "nonzero tailing record";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relo_cnt = 2; }), EFAULT) << "a record the caller does not have";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relo_cnt = 0x10000000; }), EINVAL) << "over INT_MAX / 16";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relos[0] = 4; }), EINVAL) << "insn_off not a multiple of 8";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relos[0] = 16; }), EINVAL) << "insn_off past the program";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relos[4] = 99; }), EINVAL) << "bad type id";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.prog_btf_fd = 99; }), EBADF);
  const int map_fd = k.kernel.map_create(k.proc, {kMapArray, 4, 4, 1, 0, "m", {}});
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.prog_btf_fd = map_fd; }), EINVAL)
      << "prog_btf_fd is not a BTF";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.core_relos[8] = 0; }), EINVAL) << "an empty access string";
  EXPECT_EQ(with([&](ProgLoadAttr& a) { a.insns = read_ctx_at(6); }), EINVAL)
      << "the instruction does not hold the local value (bpf_core_patch_insn)";
}

TEST(KmodelCore, CandidatesNeedVmlinuxBtf) {
  CoreKernel k;  // host BTF off, no file: bpf_get_btf_vmlinux() is NULL
  EXPECT_EQ(errno_of([&] { k.kernel.prog_load(k.proc, k.attr(read_ctx_at(4), {field_b_offset(k.local)})); }), EINVAL);
  // TYPE_ID_LOCAL needs no candidates.
  const uint32_t s = k.local.struct_id;
  int fd = k.kernel.prog_load(
      k.proc, k.attr(isa::encode({isa::mov64_imm(0, static_cast<int32_t>(s)), exit_insn()}),
                     {{0, s, k.local.type_access, BPF_CORE_TYPE_ID_LOCAL}}));
  EXPECT_EQ(k.run(fd), s);
}

TEST(KmodelCore, AnUnreadableBtfFileIsAnError) {
  test::TempDir dir;
  test::write_text(dir.file("junk"), "not BTF");
  Kernel kernel;
  EXPECT_NE(errno_of([&] { kernel.set_vmlinux_btf_file(dir.file("junk")); }), 0);
  EXPECT_EQ(errno_of([&] { kernel.set_vmlinux_btf_file(dir.file("missing")); }), ENOENT);
  // A FIFO with no writer or a device is refused at once, not waited on or read forever.
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  EXPECT_EQ(errno_of([&] { kernel.set_vmlinux_btf_file(dir.file("fifo")); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.set_vmlinux_btf_file("/dev/zero"); }), EINVAL);
  EXPECT_EQ(errno_of([&] { kernel.set_vmlinux_btf_file(dir.path()); }), EISDIR);
}

// ---- BPF C programs, against the running kernel -----------------------------------

// No vmlinux.h: the kernel types are declared with only the fields read.
const std::string kPrelude = R"(
#define SEC(n) __attribute__((section(n), used))
typedef unsigned int u32;
typedef unsigned long long u64;
struct task_struct {
  int pid;
  int tgid;
  char comm[16];
  struct task_struct *real_parent;
  int bpfsig_no_such_field;
} __attribute__((preserve_access_index));
enum pid_type { PIDTYPE_SID = 0, PIDTYPE_TGID = 7, BPFSIG_NO_SUCH_PIDTYPE = 9 };
char LICENSE[] SEC("license") = "GPL";
)";

// CO-RE reads of task_struct: field offsets (pid, tgid, comm, real_parent)
// through bpf_probe_read_kernel, and a read of a field this kernel lacks,
// guarded by its existence (the poisoned instruction is dead code); the pid
// goes into a hash map.
const std::string kTaskReads = kPrelude + R"(
#define __uint(name, val) int (*name)[val]
struct { __uint(type, 1); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 64); } pids SEC(".maps");
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *src) = (void *)113;
static u64 (*bpf_get_current_task)(void) = (void *)35;
SEC("tracepoint/syscalls/sys_enter_execve") int read_task(void *ctx) {
  struct task_struct *t = (void *)bpf_get_current_task();
  struct task_struct *parent = 0;
  int pid = 0, tgid = 0, missing = 0;
  char comm[16];
  bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);
  bpf_probe_read_kernel(&tgid, sizeof(tgid), &t->tgid);
  bpf_probe_read_kernel(&comm, sizeof(comm), &t->comm);
  bpf_probe_read_kernel(&parent, sizeof(parent), &t->real_parent);
  if (__builtin_preserve_field_info(t->bpfsig_no_such_field, 2))
    bpf_probe_read_kernel(&missing, sizeof(missing), &t->bpfsig_no_such_field);
  bpf_map_update_elem(&pids, &pid, &tgid, 0);
  return pid + tgid + comm[0] + (parent != 0) + missing;
}
)";

// Every relocation kind clang 14 emits, one per ctx->which, as the return
// value (a SYSCALL program: both kernels can run it).
constexpr uint32_t kValueCases = 18;
const std::string kCoreValues = kPrelude + R"(
struct args { int which; };
SEC("syscall") int core_values(struct args *a) {
  struct task_struct *t = 0;
  switch (a->which) {
  case 0: return __builtin_preserve_field_info(t->pid, 0);                /* byte offset */
  case 1: return __builtin_preserve_field_info(t->tgid, 0);
  case 2: return __builtin_preserve_field_info(t->real_parent, 0);
  case 3: return __builtin_preserve_field_info(t->comm, 1);               /* byte size */
  case 4: return __builtin_preserve_field_info(t->bpfsig_no_such_field, 2);  /* exists */
  case 5: return __builtin_preserve_field_info(t->pid, 2);
  case 6: return __builtin_preserve_field_info(t->pid, 3);                /* signed */
  case 7: return __builtin_preserve_field_info(t->pid, 4);                /* lshift_u64 */
  case 8: return __builtin_preserve_field_info(t->pid, 5);                /* rshift_u64 */
  case 9: return __builtin_btf_type_id(*t, 1);                            /* type id, target */
  case 10: return __builtin_btf_type_id(*t, 0);                           /* type id, local */
  case 11: return __builtin_preserve_type_info(*t, 0);                    /* type exists */
  case 12: return __builtin_preserve_type_info(*t, 1);                    /* type size */
  case 13: return __builtin_preserve_enum_value(*(enum pid_type *)PIDTYPE_TGID, 1);  /* enum value */
  case 14: return __builtin_preserve_enum_value(*(enum pid_type *)PIDTYPE_SID, 1);
  case 15: return __builtin_preserve_enum_value(*(enum pid_type *)BPFSIG_NO_SUCH_PIDTYPE, 0);  /* enum exists */
  case 16: return __builtin_preserve_enum_value(*(enum pid_type *)PIDTYPE_TGID, 0);
  case 17: return __builtin_preserve_field_info(t->comm, 0);
  }
  return -1;
}
)";

// A read of the missing field that is reached: the poisoned call is live.
const std::string kUnguardedMissingField = kPrelude + R"(
SEC("syscall") int missing_field(void *ctx) {
  struct task_struct *t = 0;
  return __builtin_preserve_field_info(t->bpfsig_no_such_field, 0);
}
)";

std::string missing_host_btf() {
  return ::access("/sys/kernel/btf/vmlinux", R_OK) == 0 ? "" : "/sys/kernel/btf/vmlinux is not readable";
}

// stem.bpf.c compiled and signed with `bpfsig sign --scheme loadtime`.
struct SignedProgram {
  test::TempDir dir;
  std::string why_not;  // "" when it was built
  skel::SignedLoader loader;
  std::string bundle;

  SignedProgram(const std::string& stem, const std::string& source) {
    why_not = test::compile_bpf_c(dir, stem, source);
    if (!why_not.empty()) return;
    test::TestSigner& signer = test::default_signer();
    bundle = dir.file(stem + ".bpfsig");
    auto r = test::bpfsig_cmd({"sign", "--scheme", "loadtime", "-k", signer.dir.file("key.pem"), "-i",
                               signer.cert_path(), "-o", bundle, dir.file(stem + ".bpf.o")});
    if (r.exit_code != 0) {
      why_not = "bpfsig sign failed: " + r.err;
      return;
    }
    loader = skel::read_signed_file(bundle);
  }
};

SkeletonResult model_load(Kernel& kernel, Process& proc, const skel::SignedLoader& loader) {
  SkeletonOptions options;
  options.send_signature = false;
  return load_skeleton(kernel, proc, loader, options);
}

sys::LoadResult real_load(const skel::SignedLoader& loader) {
  sys::LoadOptions options;
  options.send_signature = false;  // this kernel cannot check signatures
  return sys::load(loader, options);
}

std::string tag_of(const ProgInfo& info) { return to_hex(ByteView(info.digest).first(8)); }

TEST(KmodelCoreDifferential, TaskStructReadsHaveTheKernelsTag) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  SignedProgram p("task", kTaskReads);
  SKIP_UNLESS(p.why_not);
  sys::LoadResult real = real_load(p.loader);
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  SkeletonResult model = model_load(kernel, proc, p.loader);
  ASSERT_EQ(real.maps.size(), 1u);
  ASSERT_EQ(model.maps.size(), 1u);
  EXPECT_EQ(model.maps[0].type, real.maps[0].type);
  EXPECT_EQ(model.maps[0].name, real.maps[0].name);
  EXPECT_EQ(model.maps[0].key_size, real.maps[0].key_size);
  EXPECT_EQ(model.maps[0].value_size, real.maps[0].value_size);
  EXPECT_EQ(model.maps[0].max_entries, real.maps[0].max_entries);
  ASSERT_EQ(real.progs.size(), 1u);
  ASSERT_EQ(model.progs.size(), 1u);
  EXPECT_EQ(model.progs[0].type, real.progs[0].type);
  EXPECT_EQ(model.progs[0].name, real.progs[0].name);
  EXPECT_EQ(tag_of(model.progs[0]), real.progs[0].tag_hex) << "the model patched what the kernel patched";
  EXPECT_EQ(tag_of(model.loader_prog), real.loader_prog.tag_hex);
  sys::close_fds(real);
}

TEST(KmodelCoreDifferential, RelocatedValuesEqualTheKernels) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  SignedProgram p("values", kCoreValues);
  SKIP_UNLESS(p.why_not);
  sys::LoadResult real = real_load(p.loader);
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  SkeletonResult model = model_load(kernel, proc, p.loader);
  ASSERT_EQ(real.prog_fds.size(), 1u);
  ASSERT_EQ(model.prog_fds.size(), 1u);
  EXPECT_EQ(tag_of(model.progs[0]), real.progs[0].tag_hex);
  for (uint32_t which = 0; which < kValueCases; ++which) {
    Bytes real_ctx(8, 0), model_ctx(8, 0);
    store_le32(real_ctx.data(), which);
    store_le32(model_ctx.data(), which);
    uint32_t real_value = sys::prog_run(real.prog_fds[0], real_ctx).retval;
    uint32_t model_value = kernel.prog_run(proc, model.prog_fds[0], model_ctx).retval;
    EXPECT_EQ(model_value, real_value) << "case " << which;
  }
  sys::close_fds(real);
}

// Where the real verifier reaches the poisoned call it refuses the program
// (EINVAL, "invalid func unknown#195896080"), and so does the model, naming
// the loader's nested PROG_LOAD (docs/kmodel.md, "CO-RE").
TEST(KmodelCoreDifferential, ReachedPoisonIsRefusedByBoth) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  SignedProgram p("missing", kUnguardedMissingField);
  SKIP_UNLESS(p.why_not);
  EXPECT_EQ(errno_of([&] { sys::close_fds(real_load(p.loader)); }), EINVAL);
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  EXPECT_EQ(errno_of([&] { model_load(kernel, proc, p.loader); }), EINVAL);
  ASSERT_TRUE(kernel.nested_failure());
  EXPECT_EQ(kernel.nested_failure()->command, "BPF_PROG_LOAD");
  EXPECT_NE(kernel.nested_failure()->reason.find("invalid func unknown#195896080"), std::string::npos)
      << kernel.nested_failure()->reason;
}

// The PROG_LOAD attr the loader sends lies in its metadata (gen_loader's
// add_data): found by its prog_type, name and core_relo_rec_size.
size_t prog_load_attr_offset(const Bytes& data, uint32_t prog_type, const std::string& name) {
  for (size_t off = 0; off + 140 <= data.size(); off += 8)
    if (load_le32(&data[off]) == prog_type && std::memcmp(&data[off + 48], name.c_str(), name.size() + 1) == 0 &&
        load_le32(&data[off + 136]) == sizeof(bpf_core_relo) && load_le32(&data[off + 116]) != 0)
      return off;
  return std::string::npos;
}

TEST(KmodelCoreDifferential, BadRecordSizeIsEinvalInBoth) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(missing_host_btf());
  SignedProgram p("task", kTaskReads);
  SKIP_UNLESS(p.why_not);
  size_t attr = prog_load_attr_offset(p.loader.data, kProgTracepoint, "read_task");
  ASSERT_NE(attr, std::string::npos);
  for (uint32_t size : {12u, 18u}) {
    skel::SignedLoader bad = p.loader;  // loadtime: no hash check of the metadata in the loader
    store_le32(&bad.data[attr + 136], size);
    int real = errno_of([&] { sys::close_fds(real_load(bad)); });
    Kernel kernel;
    Process& proc = kernel.spawn("loader");
    int model = errno_of([&] { model_load(kernel, proc, bad); });
    EXPECT_EQ(real, EINVAL) << size;
    EXPECT_EQ(model, real) << size;
    ASSERT_TRUE(kernel.nested_failure());
    EXPECT_EQ(kernel.nested_failure()->command, "BPF_PROG_LOAD");
  }
}

// ---- without root: host BTF values, and bpfsig run --btf ---------------------------

// The model's relocated values against the host's vmlinux BTF as libbpf reads it.
TEST(KmodelCore, TaskStructOffsetsComeFromTheHostBtf) {
  SKIP_UNLESS(missing_host_btf());
  SignedProgram p("values", kCoreValues);
  SKIP_UNLESS(p.why_not);
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  SkeletonResult model = model_load(kernel, proc, p.loader);
  ASSERT_EQ(model.prog_fds.size(), 1u);
  auto value = [&](uint32_t which) {
    Bytes ctx(8, 0);
    store_le32(ctx.data(), which);
    return kernel.prog_run(proc, model.prog_fds[0], ctx).retval;
  };
  BtfPtr vmlinux(btf__load_vmlinux_btf());
  ASSERT_TRUE(vmlinux);
  const int task = btf__find_by_name_kind(vmlinux.get(), "task_struct", BTF_KIND_STRUCT);
  ASSERT_GT(task, 0);
  const struct btf_type* t = btf__type_by_id(vmlinux.get(), task);
  auto member_offset = [&](const char* name) {
    for (uint32_t i = 0; i < btf_vlen(t); ++i)
      if (std::strcmp(btf__name_by_offset(vmlinux.get(), btf_members(t)[i].name_off), name) == 0)
        return btf_member_bit_offset(t, i) / 8;
    return ~0u;
  };
  EXPECT_EQ(value(0), member_offset("pid"));
  EXPECT_EQ(value(1), member_offset("tgid"));
  EXPECT_EQ(value(2), member_offset("real_parent"));
  EXPECT_EQ(value(3), 16u);
  EXPECT_EQ(value(4), 0u) << "bpfsig_no_such_field";
  EXPECT_EQ(value(5), 1u);
  EXPECT_EQ(value(9), static_cast<uint32_t>(task));
  EXPECT_EQ(value(12), t->size);
  EXPECT_EQ(value(13), 1u) << "PIDTYPE_TGID";
  EXPECT_EQ(value(14), 3u) << "PIDTYPE_SID";
  EXPECT_EQ(value(15), 0u) << "BPFSIG_NO_SUCH_PIDTYPE";
  EXPECT_EQ(value(17), member_offset("comm"));
}

TEST(KmodelCoreCli, RunRelocatesAgainstTheBtfFile) {
  SignedProgram p("values", kCoreValues);
  SKIP_UNLESS(p.why_not);
  // A "kernel" whose task_struct has comm, tgid, pid and real_parent only,
  // and pid_type's two values the program reads: every relocation resolves,
  // at other offsets than the host's. Without real_parent its relocation is
  // poisoned, and the switch reaches it: refused, as the verifier does.
  auto small_btf = [&](const std::string& file, bool with_parent) {
    BtfPtr btf(btf__new_empty());
    int int_id = btf__add_int(btf.get(), "int", 4, BTF_INT_SIGNED);
    int char_id = btf__add_int(btf.get(), "char", 1, BTF_INT_CHAR);
    int comm_id = btf__add_array(btf.get(), int_id, char_id, 16);
    // The pointer first (fields must follow their struct): it names the next id.
    int parent_id = btf__add_ptr(btf.get(), comm_id + 2);
    btf__add_struct(btf.get(), "task_struct", 32);
    btf__add_field(btf.get(), "comm", comm_id, 0, 0);
    btf__add_field(btf.get(), "tgid", int_id, 128, 0);
    btf__add_field(btf.get(), "pid", int_id, 160, 0);
    if (with_parent) btf__add_field(btf.get(), "real_parent", parent_id, 192, 0);
    btf__add_enum(btf.get(), "pid_type", 4);
    btf__add_enum_value(btf.get(), "PIDTYPE_TGID", 1);
    btf__add_enum_value(btf.get(), "PIDTYPE_SID", 3);
    uint32_t size = 0;
    const auto* raw = static_cast<const uint8_t*>(btf__raw_data(btf.get(), &size));
    write_file_atomic(p.dir.file(file), ByteView(raw, size));
  };
  small_btf("small.btf", true);
  small_btf("orphan.btf", false);

  auto orphan = test::bpfsig_cmd({"run", "--no-signature", "--btf", p.dir.file("orphan.btf"), p.bundle});
  EXPECT_EQ(orphan.exit_code, 1) << orphan.out;
  EXPECT_NE((orphan.out + orphan.err).find("invalid func unknown#195896080"), std::string::npos) << orphan.out << orphan.err;
  auto r = test::bpfsig_cmd({"run", "--no-signature", "--btf", p.dir.file("small.btf"), "-j", p.bundle});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"btf\":\"" + p.dir.file("small.btf") + "\""), std::string::npos) << r.out;
  auto host = test::bpfsig_cmd({"run", "--no-signature", "-j", p.bundle});
  if (missing_host_btf().empty()) {
    ASSERT_EQ(host.exit_code, 0) << host.err;
    auto tag = [](const std::string& out) { return out.substr(out.rfind("\"tag\":"), 26); };
    EXPECT_NE(tag(r.out), tag(host.out)) << "different target BTF, different patched code";
  }

  auto bad = test::bpfsig_cmd({"run", "--no-signature", "--btf", p.dir.file("values.bpf.c"), p.bundle});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("cannot be parsed as BTF"), std::string::npos) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  auto usage = test::bpfsig_cmd({"run", "--btf", "-", p.bundle});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
}

}  // namespace
