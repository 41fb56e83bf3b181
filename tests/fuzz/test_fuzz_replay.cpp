// SPDX-License-Identifier: Apache-2.0
// Every fuzz target's corpus (fuzz/corpus/<target>/: seeds and the reproducer
// of every crash ever found, crash-*) replayed through the target's own code,
// built without libFuzzer (fuzz/replay/replay_main.cpp). A fixed crash that
// comes back fails here, under ctest and under the ASan build, not only when
// the fuzzers run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/support.h"

namespace fs = std::filesystem;
namespace test = bpfsig::test;

namespace {

std::vector<std::string> fuzz_targets() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(BPFSIG_SOURCE_DIR) + "/fuzz"))
    if (e.is_regular_file() && e.path().extension() == ".cpp") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> corpus_files(const std::string& target) {
  std::vector<std::string> out;
  fs::path dir = fs::path(BPFSIG_SOURCE_DIR) / "fuzz" / "corpus" / target;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(FuzzReplay, EveryCorpusRunsCleanThroughItsTarget) {
  const std::vector<std::string> targets = fuzz_targets();
  ASSERT_FALSE(targets.empty());
  size_t inputs = 0, crashes = 0;
  for (const std::string& t : targets) {
    const std::string replay = std::string(BPFSIG_BINARY_DIR) + "/replay_" + t;
    ASSERT_TRUE(test::file_exists(replay)) << replay << " was not built";
    std::vector<std::string> files = corpus_files(t);
    if (files.empty()) {
      std::printf("[fuzz-replay] %s: no corpus in fuzz/corpus/%s/ (add seeds)\n", t.c_str(), t.c_str());
      continue;
    }
    for (const std::string& f : files) crashes += fs::path(f).filename().string().rfind("crash-", 0) == 0;
    std::vector<std::string> argv = {replay};
    argv.insert(argv.end(), files.begin(), files.end());
    test::CommandResult r = test::run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << t << ": " << r.err.substr(0, 4000);
    inputs += files.size();
    std::printf("[fuzz-replay] %s: %zu input(s): %s", t.c_str(), files.size(), r.out.c_str());
  }
  std::printf("[fuzz-replay] %zu targets, %zu inputs, %zu crash reproducers\n", targets.size(), inputs, crashes);
}
