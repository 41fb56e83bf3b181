// SPDX-License-Identifier: Apache-2.0
// sign refuses an object with more programs than a light skeleton's loader
// can hold (libbpf gen_loader's MAX_USED_PROGS, limits::kLoaderPrograms).
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "bpfsig/error.h"
#include "bpfsig/limits.h"
#include "bpfsig/skel.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

// An object with count tracepoint programs that return 0.
std::string object_with_programs(size_t count) {
  std::string source =
      "#define SEC(n) __attribute__((section(n), used))\n"
      "char LICENSE[] SEC(\"license\") = \"GPL\";\n";
  for (size_t i = 0; i < count; ++i)
    source += "SEC(\"tracepoint/syscalls/sys_enter_execve\") int p" + std::to_string(i) + "(void *ctx) { return 0; }\n";
  return source;
}

skel::SignedLoader sign(const std::string& object) {
  test::TestSigner& signer = test::default_signer();
  return skel::sign_object(object, signer.cert.get(), signer.key.get(), skel::SignOptions{});
}

}  // namespace

TEST(ProgramCount, ThirtyTwoProgramsSign) {
  test::TempDir d;
  SKIP_UNLESS(test::compile_bpf_c(d, "p32", object_with_programs(limits::kLoaderPrograms)));
  EXPECT_EQ(sign(d.file("p32.bpf.o")).prog_names.size(), 32u);
}

TEST(ProgramCount, ThirtyThreeProgramsAreE2big) {
  test::TempDir d;
  SKIP_UNLESS(test::compile_bpf_c(d, "p33", object_with_programs(limits::kLoaderPrograms + 1)));
  try {
    sign(d.file("p33.bpf.o"));
    FAIL() << "an object with 33 programs was signed";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), E2BIG);
    EXPECT_EQ(e.kind(), "too_many_programs");
    EXPECT_NE(std::string(e.what()).find("33 programs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at most 32"), std::string::npos) << e.what();
  }
}
