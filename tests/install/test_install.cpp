// SPDX-License-Identifier: Apache-2.0
// `make install` (cmake --install): into a temporary prefix, then a program
// built against the installed library through pkg-config, and another through
// find_package, each verifying a bundle the installed bpfsig signed
// (docs/install.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/support.h"

using namespace bpfsig;

namespace {

// The consumer: verify a bundle with a certificate through the public API.
const char* const kConsumer = R"(#include <cstdio>
#include "bpfsig/bytes.h"
#include "bpfsig/crypto.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  bpfsig::skel::SignedLoader loader = bpfsig::skel::decode_bundle(bpfsig::read_file(argv[1]), argv[1]);
  std::vector<bpfsig::crypto::Certificate> trusted;
  trusted.push_back(bpfsig::crypto::load_certificate(argv[2]));
  bpfsig::verify::Report r = bpfsig::verify::verify_loader(loader, trusted);
  std::printf("%s %s\n", loader.scheme == bpfsig::skel::Scheme::kLoadtime ? "loadtime" : "other",
              bpfsig::verify::verdict_name(r.verdict).c_str());
  return r.verdict == bpfsig::verify::Verdict::kOk ? 0 : 1;
}
)";

const char* const kConsumerCMake = R"(cmake_minimum_required(VERSION 3.20)
project(consumer LANGUAGES CXX)
find_package(bpfsig 0.1 REQUIRED)
add_executable(consumer consumer.cpp)
target_link_libraries(consumer PRIVATE bpfsig::bpfsig)
)";

// One install into a temporary prefix, shared by the tests below.
struct Installed {
  test::TempDir dir;
  std::string prefix = dir.file("prefix");
  test::CommandResult install;
  std::string bundle = dir.file("execcount.bpfsig"), cert = dir.file("signer.der");
  std::string failure;  // why the bundle could not be made
};

Installed& installed() {
  static Installed* in = [] {
    auto* i = new Installed;
    i->install = test::run_command({"cmake", "--install", BPFSIG_BINARY_DIR, "--prefix", i->prefix});
    if (i->install.exit_code != 0) return i;
    const std::string bpfsig = i->prefix + "/bin/bpfsig";
    test::CommandResult k = test::run_command({bpfsig, "keygen", "--algo", "p256", "--key", i->dir.file("signer.pem"),
                                               "--cert", i->cert});
    test::CommandResult s = test::run_command({bpfsig, "sign", "--scheme", "loadtime", "-k", i->dir.file("signer.pem"),
                                               "-i", i->cert, "-o", i->bundle, test::examples_dir() + "/execcount.bpf.o"});
    if (k.exit_code != 0 || s.exit_code != 0) i->failure = k.err + s.err;
    return i;
  }();
  return *in;
}

// The ASan build's libbpfsig.a needs the sanitizer runtime that a plain
// consumer does not link; the normal build's suite runs these tests.
#ifdef BPFSIG_SANITIZED_BUILD
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#define SKIP_IF_SANITIZED() \
  if (kSanitized) GTEST_SKIP() << "skipped: an ASan build's library needs the sanitizer runtime to link"

#define REQUIRE_INSTALLED()                                                        \
  do {                                                                             \
    SKIP_IF_SANITIZED();                                                           \
    ASSERT_EQ(installed().install.exit_code, 0) << installed().install.err;        \
    ASSERT_EQ(installed().failure, "");                                            \
  } while (0)

}  // namespace

TEST(Install, PutsEveryPartInItsPlace) {
  REQUIRE_INSTALLED();
  const std::string p = installed().prefix;
  for (const char* f : {"bin/bpfsig", "lib/libbpfsig.a", "lib/bpfsig/libbpf.a", "include/bpfsig/skel.h",
                        "include/bpfsig/verify.h", "include/bpfsig/skel_internal.h", "lib/pkgconfig/bpfsig.pc",
                        "lib/cmake/bpfsig/bpfsigConfig.cmake", "lib/cmake/bpfsig/bpfsigConfigVersion.cmake",
                        "share/man/man1/bpfsig.1", "share/bash-completion/completions/bpfsig"})
    EXPECT_TRUE(std::filesystem::is_regular_file(p + "/" + f)) << f;
  test::CommandResult v = test::run_command({p + "/bin/bpfsig", "--version"});
  EXPECT_EQ(v.out, "bpfsig 0.1.0\n");
  // The installed page is the one the installed binary prints.
  EXPECT_EQ(test::read_text(p + "/share/man/man1/bpfsig.1"), test::run_command({p + "/bin/bpfsig", "man"}).out);
}

TEST(Install, DestdirStagesUnderItsRoot) {
  SKIP_IF_SANITIZED();
  test::TempDir stage;
  test::CommandResult r =
      test::run_command({"env", "DESTDIR=" + stage.path(), "cmake", "--install", BPFSIG_BINARY_DIR, "--prefix", "/usr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_regular_file(stage.path() + "/usr/bin/bpfsig"));
  EXPECT_TRUE(std::filesystem::is_regular_file(stage.path() + "/usr/share/man/man1/bpfsig.1"));
}

TEST(Install, AProgramBuildsThroughPkgConfig) {
  REQUIRE_INSTALLED();
  Installed& in = installed();
  test::TempDir work;
  test::write_text(work.file("consumer.cpp"), kConsumer);
  const std::string pc = "PKG_CONFIG_PATH=" + in.prefix + "/lib/pkgconfig";
  test::CommandResult flags = test::run_command({"env", pc, "pkg-config", "--cflags", "--libs", "bpfsig"});
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  EXPECT_NE(flags.out.find("/lib/bpfsig/libbpf.a"), std::string::npos) << flags.out;  // libbpf 1.8, not the system's
  test::CommandResult cc = test::run_command(
      {"sh", "-c", "c++ -std=c++20 -o " + work.file("consumer") + " " + work.file("consumer.cpp") + " $(" + pc +
                       " pkg-config --cflags --libs bpfsig)"});
  ASSERT_EQ(cc.exit_code, 0) << cc.err;
  test::CommandResult run = test::run_command({work.file("consumer"), in.bundle, in.cert});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "loadtime OK\n");
  // The same program rejects a certificate that did not sign the bundle.
  test::CommandResult other = test::run_command({in.prefix + "/bin/bpfsig", "keygen", "--algo", "p256", "--key",
                                                 work.file("other.pem"), "--cert", work.file("other.der")});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  test::CommandResult wrong = test::run_command({work.file("consumer"), in.bundle, work.file("other.der")});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.out, "loadtime OK\n");
}

TEST(Install, AProgramBuildsThroughFindPackage) {
  REQUIRE_INSTALLED();
  Installed& in = installed();
  test::TempDir work;
  test::write_text(work.file("consumer.cpp"), kConsumer);
  test::write_text(work.file("CMakeLists.txt"), kConsumerCMake);
  test::CommandResult conf = test::run_command({"cmake", "-S", work.path(), "-B", work.file("build"), "-G", "Ninja",
                                                "-DCMAKE_PREFIX_PATH=" + in.prefix});
  ASSERT_EQ(conf.exit_code, 0) << conf.out << conf.err;
  test::CommandResult build = test::run_command({"cmake", "--build", work.file("build")});
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;
  test::CommandResult run = test::run_command({work.file("build/consumer"), in.bundle, in.cert});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "loadtime OK\n");
}
