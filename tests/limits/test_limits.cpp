// SPDX-License-Identifier: Apache-2.0
// Every limit in include/bpfsig/limits.h: just over it is refused with its
// error (before the input is read or allocated where the limit is on a file),
// at it is accepted where building such an input is feasible.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/limits.h"
#include "bpfsig/skel.h"
#include "bpfsig/vm.h"
#include "crypto/ber.h"
#include "skel/internal.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

// The modules' own constants are these limits.
static_assert(crypto::kMaxKernelSignatureSize == limits::kSignatureSize);
static_assert(skel::kMaxLoaderInsns == limits::kLoaderInsns);
static_assert(skel::kMaxBundleSize == limits::kBundleSize);
static_assert(skel::kMaxHeaderSize == limits::kHeaderSize);
static_assert(vm::kMaxFrames == limits::kVmCallFrames);
static_assert(vm::kMaxRegionSize == limits::kVmRegionSize);

// The error an action throws (kind and errno), or {0, ""}.
std::pair<int, std::string> error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.err(), e.kind()};
  }
  return {0, ""};
}

// A loader that passes every bundle check: insn_cnt instructions, data_size bytes of metadata.
skel::SignedLoader loader(size_t insn_cnt, size_t data_size) {
  skel::SignedLoader l;
  l.name = "limits";
  l.insns.assign(insn_cnt * 8, 0);
  l.data.assign(data_size, 0x5a);
  l.excl_hash.assign(32, 1);
  l.prog_names = {"prog"};
  return l;
}

// Bundle bytes for l without encode_bundle's own checks, plus `extra` optional sections.
Bytes raw_bundle(const skel::SignedLoader& l, uint32_t extra = 0) {
  Bytes ok = skel::encode_bundle(loader(1, 8));  // the header layout, then replaced
  Bytes out(ok.begin(), ok.begin() + 24);
  uint32_t count = 0;
  auto put = [&](uint32_t type, ByteView payload) {
    size_t at = out.size();
    out.resize(at + 8 + ((payload.size() + 7) & ~size_t{7}), 0);
    store_le32(&out[at], type);
    store_le32(&out[at + 4], static_cast<uint32_t>(payload.size()));
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<long>(at + 8));
    ++count;
  };
  const Bytes name(l.name.begin(), l.name.end()), progs = {'p', 'r', 'o', 'g', 0};
  put(5, name);
  put(1, l.insns);
  put(2, l.data);
  put(3, l.signature);
  put(4, l.excl_hash);
  put(6, Bytes{});
  put(7, progs);
  for (uint32_t i = 0; i < extra; ++i) put(0x80000000u | (100 + i), Bytes{});
  store_le32(&out[12], count);
  store_le32(&out[16], static_cast<uint32_t>(out.size()));
  return out;
}

// A sparse file of exactly `size` bytes (nothing is written, nothing read back).
std::string sparse_file(const test::TempDir& d, const std::string& name, size_t size, const std::string& prefix = "") {
  const std::string path = d.file(name);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, prefix.data(), prefix.size()), static_cast<ssize_t>(prefix.size()));
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  ::close(fd);
  return path;
}

}  // namespace

TEST(Limits, LoaderInstructions) {
  const size_t at = limits::kLoaderInsns;
  Bytes b = raw_bundle(loader(at, 8));
  EXPECT_EQ(skel::decode_bundle(b, "at").insns.size(), at * 8);
  EXPECT_EQ(error_of([&] { skel::decode_bundle(raw_bundle(loader(at + 1, 8)), "over"); }),
            std::make_pair(E2BIG, std::string("limit_insns")));
  EXPECT_EQ(error_of([&] { skel::encode_bundle(loader(at + 1, 8)); }), std::make_pair(E2BIG, std::string("limit_insns")));
}

TEST(Limits, MetadataIsOneArrayValue) {
  const size_t at = limits::kMetadataSize;
  EXPECT_EQ(skel::decode_bundle(raw_bundle(loader(1, at)), "at").data.size(), at);
  EXPECT_EQ(error_of([&] { skel::decode_bundle(raw_bundle(loader(1, at + 1)), "over"); }),
            std::make_pair(E2BIG, std::string("limit_metadata")));
  EXPECT_EQ(error_of([&] { skel::encode_bundle(loader(1, at + 1)); }), std::make_pair(E2BIG, std::string("limit_metadata")));
}

TEST(Limits, BundleSectionCount) {
  const uint32_t required = 7;
  EXPECT_NO_THROW(skel::decode_bundle(raw_bundle(loader(1, 8), limits::kBundleSections - required), "at"));
  auto over = error_of([&] { skel::decode_bundle(raw_bundle(loader(1, 8), limits::kBundleSections - required + 1), "over"); });
  EXPECT_EQ(over, std::make_pair(EBADMSG, std::string("bundle_format")));
  // A huge count field is refused from the header alone.
  Bytes b = raw_bundle(loader(1, 8));
  store_le32(&b[12], 0xffffffffu);
  try {
    skel::decode_bundle(b, "huge");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over the limit"), std::string::npos) << e.what();
  }
}

TEST(Limits, BundleAndHeaderFileSizesAreRefusedBeforeReading) {
  test::TempDir d;
  const std::string magic = "\x89" "BPFSIG\n";
  // At the limit the file is read (and is not a valid bundle); one byte over it is not read at all.
  EXPECT_EQ(error_of([&] { skel::read_signed_file(sparse_file(d, "at.bpfsig", limits::kBundleSize, magic)); }).second,
            "bundle_version");
  EXPECT_EQ(error_of([&] { skel::read_signed_file(sparse_file(d, "over.bpfsig", limits::kBundleSize + 1, magic)); }),
            std::make_pair(EFBIG, std::string("input_too_large")));
  EXPECT_EQ(error_of([&] { skel::read_signed_file(sparse_file(d, "over.h", limits::kHeaderSize + 1, "/* */")); }),
            std::make_pair(EFBIG, std::string("input_too_large")));
}

// A header's string literals stop being decoded once past their limit: a
// huge opts_data or opts_insn is refused without being decoded first (a 240 MB
// header used to take 590 MB before it was refused, docs/limits.md).
TEST(Limits, HeaderLiteralsStopDecodingAtTheirLimit) {
  auto header_with = [](const std::string& array, size_t bytes) {
    std::string text = "struct x { struct bpf_loader_ctx ctx; };\n";
    if (array != "opts_data") text += "static const char opts_data[] = \"x\";\n";  // decoded first
    text += "static const char " + array + "[] = \"";
    for (size_t i = 0; i < bytes; ++i) text += "\\x41";
    return text + "\";\n";
  };
  auto over = [&](const std::string& array, size_t bytes) {
    try {
      skel::parse_header(header_with(array, bytes), "h");
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(array + " is over"), std::string::npos) << e.what();  // stopped, not counted
      return std::make_pair(e.err(), e.kind());
    }
    return std::make_pair(0, std::string());
  };
  EXPECT_EQ(over("opts_data", limits::kMetadataSize + 1), std::make_pair(E2BIG, std::string("limit_metadata")));
  EXPECT_EQ(over("opts_insn", limits::kLoaderInsns * 8 + 1), std::make_pair(E2BIG, std::string("limit_insns")));
}

TEST(Limits, KeyAndCertificateFiles) {
  test::TempDir d;
  EXPECT_EQ(error_of([&] { crypto::load_private_key(sparse_file(d, "k.pem", limits::kKeyFileSize + 1), ""); }),
            std::make_pair(EFBIG, std::string("input_too_large")));
  EXPECT_EQ(error_of([&] { crypto::load_private_key(sparse_file(d, "k2.pem", limits::kKeyFileSize + 1), "", crypto::KeyFileOptions{}); }),
            std::make_pair(EFBIG, std::string("input_too_large")));
  // At the limit it is read and refused for what it is.
  EXPECT_EQ(error_of([&] { crypto::load_private_key(sparse_file(d, "k3.pem", limits::kKeyFileSize), "", crypto::KeyFileOptions{}); }).second,
            "key_parse");
  EXPECT_EQ(error_of([&] { crypto::load_certificate(sparse_file(d, "c.der", limits::kCertFileSize + 1)); }),
            std::make_pair(EFBIG, std::string("input_too_large")));
}

TEST(Limits, SignatureSizeIsTheKernels) {
  const Bytes content = {1, 2, 3};
  std::vector<crypto::Certificate> none;
  crypto::SigCheck at = crypto::verify_kernel_rules(Bytes(limits::kSignatureSize, 0x30), content, none);
  EXPECT_NE(at.kind, "sig_too_large");
  EXPECT_EQ(at.err, EBADMSG);
  crypto::SigCheck over = crypto::verify_kernel_rules(Bytes(limits::kSignatureSize + 1, 0x30), content, none);
  EXPECT_EQ(over.kind, "sig_too_large");
  EXPECT_EQ(over.err, EINVAL);
}

TEST(Limits, BerNestingDepth) {
  // n SEQUENCEs, each holding the next; the innermost holds a NULL.
  auto nested = [](int n) {
    Bytes b = {0x05, 0x00};
    for (int i = 0; i < n; ++i) {
      Bytes outer = {0x30, static_cast<uint8_t>(b.size())};
      outer.insert(outer.end(), b.begin(), b.end());
      b = outer;
    }
    return b;
  };
  // Elements at depths 0..kBerDepth are read (kBerDepth SEQUENCEs around a NULL); one level more is refused.
  EXPECT_TRUE(crypto::ber::within_kernel_limits(nested(limits::kBerDepth)));
  EXPECT_FALSE(crypto::ber::within_kernel_limits(nested(limits::kBerDepth + 1)));
}

TEST(Limits, VmBudgetAndCallDepth) {
  using namespace bpfsig::isa;
  // k instructions, straight to exit.
  std::vector<Insn> prog;
  for (int i = 0; i < 9; ++i) prog.push_back(mov64_imm(0, i));
  prog.push_back(exit_insn());
  vm::Program p = vm::prepare(prog);
  vm::AddressSpace memory;
  vm::RunResult at = vm::run(p, memory, {}, {}, vm::RunOptions{.budget = prog.size()});
  EXPECT_FALSE(at.fault.has_value());
  vm::RunResult over = vm::run(p, memory, {}, {}, vm::RunOptions{.budget = prog.size() - 1});
  ASSERT_TRUE(over.fault.has_value());
  EXPECT_EQ(over.fault->kind, "budget_exhausted");
  EXPECT_EQ(vm::RunOptions{}.budget, limits::kVmDefaultBudget);
  // The call depth is bounded by kVmCallFrames; asking for more is an error.
  EXPECT_EQ(vm::RunOptions{}.max_call_depth, limits::kVmCallFrames);
  EXPECT_EQ(error_of([&] { vm::run(p, memory, {}, {}, vm::RunOptions{.max_call_depth = limits::kVmCallFrames + 1}); }).second,
            "vm_options");
}
