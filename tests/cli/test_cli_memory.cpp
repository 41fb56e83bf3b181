// SPDX-License-Identifier: Apache-2.0
// Peak memory of the command on a large artifact (issue 17): a bundle with
// 3 MiB of metadata must be handled in at most 1.5 bytes per input byte plus
// 10 MiB. That is a bound on behaviour (how many copies of the input the
// command holds at once), not on timing: the child's peak resident set
// (wait4's ru_maxrss) is the same on a loaded machine as on an idle one.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "support/support.h"

using namespace bpfsig;

namespace {

constexpr size_t kMetadataBytes = size_t{3} << 20;
constexpr size_t kMiB = size_t{1} << 20;

// A BPF object whose .data map is 3 MiB: the light skeleton's metadata
// carries its initial value, so the bundle is a little over 3 MiB.
const std::string kBigDataSource =
    "#define SEC(name) __attribute__((section(name), used))\n"
    "char LICENSE[] SEC(\"license\") = \"GPL\";\n"
    "unsigned char big[" + std::to_string(kMetadataBytes) + "] = {1};\n"
    "SEC(\"tracepoint/syscalls/sys_enter_execve\")\n"
    "int count(void *ctx) { big[1]++; return 0; }\n";

struct Peak {
  int exit_code = -1;
  size_t max_rss_bytes = 0;
};

// Runs the bpfsig command with its output discarded and reports its peak
// resident set, from wait4 (the child's own, not this test's).
Peak run_measured(const std::vector<std::string>& args) {
  std::vector<std::string> argv{test::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  Peak peak;
  const pid_t pid = test::spawn_quiet(argv);
  if (pid < 0) return peak;
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) != pid) return peak;
  peak.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  peak.max_rss_bytes = static_cast<size_t>(usage.ru_maxrss) * 1024;  // ru_maxrss is in KiB
  return peak;
}

size_t file_size(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<size_t>(st.st_size);
}

// The object, a key, and the object signed once (load-time scheme, which
// signs the metadata itself), shared by the tests of this file.
struct BigArtifacts {
  test::TempDir dir;
  std::string object = dir.file("big.bpf.o"), bundle = dir.file("big.bpfsig");
  std::string key = dir.file("key.pem"), cert = dir.file("cert.der");
  std::string why_not;  // why the artifacts could not be made (the tests skip)
  BigArtifacts() {
    why_not = test::compile_bpf_c(dir, "big", kBigDataSource);
    if (!why_not.empty()) return;
    EXPECT_EQ(test::bpfsig_cmd({"keygen", "--key", key, "--cert", cert}).exit_code, 0);
    auto sign = test::bpfsig_cmd({"sign", "--scheme", "loadtime", "-k", key, "-i", cert, "-o", bundle, object});
    EXPECT_EQ(sign.exit_code, 0) << sign.err;
  }
};
BigArtifacts& big() {
  static BigArtifacts artifacts;
  return artifacts;
}

struct Case {
  std::string name;
  std::vector<std::string> args;  // with {object}, {bundle}, {key}, {cert}, {out} filled in
  bool reads_object;              // the input is the object (sign), else the bundle
};

std::string fill(const std::string& arg, const test::TempDir& out_dir) {
  if (arg == "{object}") return big().object;
  if (arg == "{bundle}") return big().bundle;
  if (arg == "{key}") return big().key;
  if (arg == "{cert}") return big().cert;
  if (arg == "{out}") return out_dir.file("out.bpfsig");  // for the commands that write
  return arg;
}

// The bound is on an optimized bpfsig, as the issue measured it: a Debug
// image is larger by itself (its own pages count in the resident set), and
// under a sanitizer the shadow memory is most of the process.
std::string why_not_measured() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return "peak memory is not the program's own under a sanitizer";
#elif !defined(NDEBUG)
  return "peak memory is bounded for an optimized build; this is a Debug build, whose image is larger";
#else
  return "";
#endif
}

class PeakMemory : public testing::TestWithParam<Case> {};

TEST_P(PeakMemory, StaysWithinOneAndAHalfBytesPerInputBytePlusTenMiB) {
  SKIP_UNLESS(why_not_measured());
  SKIP_UNLESS(big().why_not);
  const Case& c = GetParam();
  test::TempDir out_dir;
  std::vector<std::string> args;
  for (const std::string& a : c.args) args.push_back(fill(a, out_dir));
  const size_t input = file_size(c.reads_object ? big().object : big().bundle);
  ASSERT_GT(input, kMetadataBytes);  // the artifact is as large as this test means it to be
  const Peak peak = run_measured(args);
  ASSERT_EQ(peak.exit_code, 0) << c.name << " failed";
  const size_t bound = input + input / 2 + 10 * kMiB;
  EXPECT_LE(peak.max_rss_bytes, bound) << c.name << ": peak " << peak.max_rss_bytes / 1024 << " KiB for " << input
                                       << " input bytes; the bound is " << bound / 1024 << " KiB";
}

INSTANTIATE_TEST_SUITE_P(
    Commands, PeakMemory,
    // sign, sign --header and run are still above the bound (docs/performance.md,
    // "What is left"): they join this list when they meet it.
    testing::Values(Case{"verify", {"verify", "-i", "{cert}", "{bundle}"}, false},
                    Case{"inspect", {"inspect", "{bundle}"}, false}),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
