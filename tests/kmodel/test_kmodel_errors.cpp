// SPDX-License-Identifier: Apache-2.0
// Exact errors of the kernel model: the failing nested bpf() call of a loader
// (Kernel::nested_failure, load_skeleton's message), and loaders the
// verifier refuses at load.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "kmodel/kmodel_test_util.h"
#include "support/sign_options.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

// BTF-defined maps without the kernel headers (clang -target bpf finds no
// asm/types.h without the multiarch include path).
const std::string kPrelude =
    "#define SEC(n) __attribute__((section(n), used))\n"
    "#define __uint(name, val) int (*name)[val]\n"
    "char LICENSE[] SEC(\"license\") = \"GPL\";\n"
    "SEC(\"tracepoint/syscalls/sys_enter_execve\") int on_exec(void *ctx) { return 0; }\n";

// A map named "events" of the given type and sizes, with one program.
std::string object_with_map(int type, int key_size, int value_size) {
  return kPrelude + "struct { __uint(type, " + std::to_string(type) + "); __uint(key_size, " +
         std::to_string(key_size) + "); __uint(value_size, " + std::to_string(value_size) +
         "); __uint(max_entries, 2); } events SEC(\".maps\");\n";
}

skel::SignedLoader sign(const std::string& object) {
  test::TestSigner& signer = test::default_signer();
  return skel::sign_object(object, signer.cert.get(), signer.key.get(), test::loader_hash_excl());
}

struct TrustingKernel {
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  TrustingKernel() {
    kernel.keyring_add_cert(kBuiltinKeyring, crypto::certificate_der(test::default_signer().cert.get()));
  }
};

// The load_skeleton error for loader, with its errno.
Error load_error(TrustingKernel& k, const skel::SignedLoader& loader) {
  try {
    load_skeleton(k.kernel, k.proc, loader);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the loader was not refused";
  return Error(0, "", "");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

// PERF_EVENT_ARRAY was the most common missing map type: a loader
// creating one now runs to the end.
TEST(KmodelNestedFailure, APerfEventArrayObjectLoads) {
  test::TempDir d;
  SKIP_UNLESS(test::compile_bpf_c(d, "perf", object_with_map(4 /* PERF_EVENT_ARRAY */, 4, 4)));
  TrustingKernel k;
  SkeletonResult r = load_skeleton(k.kernel, k.proc, sign(d.file("perf.bpf.o")));
  ASSERT_EQ(r.maps.size(), 1u);
  EXPECT_EQ(r.maps[0].type, kMapPerfEventArray);
  EXPECT_EQ(r.maps[0].name, "events");
  EXPECT_FALSE(k.kernel.nested_failure());
}

// A map the kernel refuses names the nested call, the map and its type.
TEST(KmodelNestedFailure, ARefusedMapTypeNamesTheNestedMapCreate) {
  test::TempDir d;
  // stack_map_alloc: a STACK_TRACE value is a multiple of 8 bytes.
  SKIP_UNLESS(test::compile_bpf_c(d, "stack", object_with_map(7 /* STACK_TRACE */, 4, 12)));
  TrustingKernel k;
  Error e = load_error(k, sign(d.file("stack.bpf.o")));
  EXPECT_EQ(e.err(), EINVAL);
  const std::string message = e.what();
  EXPECT_TRUE(contains(message, "loader returned -22 (EINVAL): BPF_MAP_CREATE 'events' (STACK_TRACE): "
                                "a stack trace map needs key_size 4"))
      << message;
  EXPECT_FALSE(contains(message, "hash")) << "a nested failure is not a hash mismatch: " << message;

  ASSERT_TRUE(k.kernel.nested_failure());
  const NestedFailure& f = *k.kernel.nested_failure();
  EXPECT_EQ(f.command, "BPF_MAP_CREATE");
  EXPECT_EQ(f.object, "events");
  EXPECT_EQ(f.map_type, "STACK_TRACE");
  EXPECT_EQ(f.err, EINVAL);
}

TEST(KmodelNestedFailure, AnEinvalFromANestedCallIsNamedNotBlamedOnTheHash) {
  test::TempDir d;
  // array_map_alloc_check: an ARRAY's key must be 4 bytes.
  SKIP_UNLESS(test::compile_bpf_c(d, "badkey", object_with_map(2 /* ARRAY */, 8, 4)));
  TrustingKernel k;
  Error e = load_error(k, sign(d.file("badkey.bpf.o")));
  EXPECT_EQ(e.err(), EINVAL);
  EXPECT_TRUE(contains(e.what(), "loader returned -22 (EINVAL): BPF_MAP_CREATE 'events' (ARRAY): ")) << e.what();
  EXPECT_FALSE(contains(e.what(), "hash")) << e.what();
}

TEST(KmodelNestedFailure, TamperedMetadataIsAHashMismatchWithNoNestedFailure) {
  skel::SignedLoader loader = test::signed_example("execcount");
  loader.data[loader.data.size() / 2] ^= 0x04;
  TrustingKernel k;
  Error e = load_error(k, loader);
  EXPECT_EQ(e.err(), EINVAL);
  EXPECT_TRUE(contains(e.what(), "loader returned -22 (EINVAL): the metadata hash did not match")) << e.what();
  EXPECT_FALSE(k.kernel.nested_failure());
}

TEST(KmodelNestedFailure, EveryProgRunStartsWithoutOne) {
  test::TempDir d;
  SKIP_UNLESS(test::compile_bpf_c(d, "stack", object_with_map(7, 4, 12)));
  TrustingKernel k;
  load_error(k, sign(d.file("stack.bpf.o")));
  ASSERT_TRUE(k.kernel.nested_failure());
  load_skeleton(k.kernel, k.proc, test::signed_example("execcount"));
  EXPECT_FALSE(k.kernel.nested_failure()) << "a failure describes the run it happened in";
}

namespace {

// A SYSCALL program: access, then r0 = 0; exit.
ProgLoadAttr syscall_prog_with(const isa::Insn& access) {
  ProgLoadAttr attr;
  attr.prog_type = kProgSyscall;
  attr.prog_flags = kFSleepable;
  attr.license = "GPL";
  attr.insns = isa::encode({access, isa::Insn{isa::kClassAlu64 | 0xb0 /* MOV K */, 0, 0, 0, 0},
                            isa::Insn{isa::kClassJmp | 0x90 /* EXIT */, 0, 0, 0, 0}});
  return attr;
}

isa::Insn store_imm(uint8_t size, int16_t off) { return {static_cast<uint8_t>(isa::kClassSt | isa::kModeMem | size), 10, 0, off, 0}; }
isa::Insn load(uint8_t size, int16_t off) {
  return {static_cast<uint8_t>(isa::kClassLdx | isa::kModeMem | size), 1, 10, off, 0};
}

// The errno and message of a refused load; {0, ""} when it loads.
std::pair<int, std::string> load_refusal_in(Kernel& kernel, Process& proc, const ProgLoadAttr& attr) {
  try {
    kernel.prog_load(proc, attr);
  } catch (const Error& e) {
    return {e.err(), e.what()};
  }
  return {0, ""};
}

std::pair<int, std::string> load_refusal(const ProgLoadAttr& attr) {
  Kernel kernel;
  return load_refusal_in(kernel, kernel.spawn("loader"), attr);
}

}  // namespace

// libbpf's gen_loader for a 33rd program stores its fd at R10 off=0: the
// verifier's "invalid write to stack R10 off=0 size=4".
TEST(KmodelStackBounds, AStoreAtTheFramePointerIsEacces) {
  auto [err, message] = load_refusal(syscall_prog_with(store_imm(isa::kSizeW, 0)));
  EXPECT_EQ(err, EACCES);
  EXPECT_EQ(message, "BPF_PROG_LOAD: insn 0: invalid write to stack R10 off=0 size=4");
}

TEST(KmodelStackBounds, AStackBeyond512BytesIsEacces) {
  auto [err, message] = load_refusal(syscall_prog_with(store_imm(isa::kSizeDW, -520)));
  EXPECT_EQ(err, EACCES);
  EXPECT_EQ(message, "BPF_PROG_LOAD: insn 0: invalid write to stack R10 off=-520 size=8");
  std::tie(err, message) = load_refusal(syscall_prog_with(load(isa::kSizeB, -513)));
  EXPECT_EQ(err, EACCES);
  EXPECT_EQ(message, "BPF_PROG_LOAD: insn 0: invalid read from stack R10 off=-513 size=1");
}

TEST(KmodelStackBounds, AnAccessRunningPastTheFramePointerIsEinval) {
  auto [err, message] = load_refusal(syscall_prog_with(store_imm(isa::kSizeDW, -4)));
  EXPECT_EQ(err, EINVAL);
  EXPECT_EQ(message, "BPF_PROG_LOAD: insn 0: invalid write to stack R10 off=-4 size=8");
}

TEST(KmodelStackBounds, TheWhole512ByteFrameIsUsable) {
  EXPECT_EQ(load_refusal(syscall_prog_with(store_imm(isa::kSizeDW, -512))).first, 0);
  EXPECT_EQ(load_refusal(syscall_prog_with(load(isa::kSizeB, -1))).first, 0);
}

namespace {

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

// What libbpf's gen_loader makes for object, bypassing sign's program
// count check: the loader's instructions and metadata.
std::pair<Bytes, Bytes> raw_gen_loader(const std::string& object) {
  std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open(object.c_str()));
  if (!obj) return {};
  gen_loader_opts opts{};
  opts.sz = sizeof(opts);
  if (bpf_object__gen_loader(obj.get(), &opts) || bpf_object__load(obj.get())) return {};
  const auto* insns = reinterpret_cast<const uint8_t*>(opts.insns);
  const auto* data = reinterpret_cast<const uint8_t*>(opts.data);
  return {Bytes(insns, insns + opts.insns_sz), Bytes(data, data + opts.data_sz)};
}

}  // namespace

// The verifier refuses gen_loader's loader for 33 programs (its 33rd prog fd
// lies at R10 off=0); so does the model, which is why sign refuses the object.
TEST(KmodelStackBounds, GenLoadersLoaderFor33ProgramsIsEacces) {
  test::TempDir d;
  std::string source = kPrelude;
  for (int i = 0; i < 32; ++i) source += "SEC(\"tracepoint/x\") int p" + std::to_string(i) + "(void *ctx) { return 0; }\n";
  SKIP_UNLESS(test::compile_bpf_c(d, "p33", source));
  auto [insns, data] = raw_gen_loader(d.file("p33.bpf.o"));
  ASSERT_FALSE(insns.empty()) << "libbpf made no loader";
  Kernel kernel;
  Process& proc = kernel.spawn("loader");
  int map_fd = kernel.map_create(proc, MapCreateAttr{kMapArray, 4, static_cast<uint32_t>(data.size()), 1, 0, "m", {}});
  ProgLoadAttr attr = syscall_prog_with(isa::Insn{});
  attr.insns = insns;
  attr.fd_array = {map_fd};
  auto [err, message] = load_refusal_in(kernel, proc, attr);
  EXPECT_EQ(err, EACCES);
  EXPECT_TRUE(contains(message, "stack R10 off=0 size=4")) << message;
}
