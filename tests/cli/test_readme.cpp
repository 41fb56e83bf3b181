// SPDX-License-Identifier: Apache-2.0
// The README's "A user's journey": every `$ command` in its console blocks
// runs, in order, in a scratch checkout-like directory, and prints what the
// README shows, up to what differs by nature from run to run (keys, serial
// numbers, dates, kernel object ids).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/readme_journey.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

bool loads_into_the_kernel(const std::string& command) { return command.rfind("bpfsig load", 0) == 0; }

}  // namespace

TEST(Readme, TheJourneyPrintsWhatTheReadmeShows) {
  const std::vector<test::JourneyStep> steps =
      test::journey_steps(test::read_text(test::source_dir() + "/README.md"));
  ASSERT_GE(steps.size(), 6u) << "the README's journey has its steps";
  // The checkout as the journey sees it: build/examples and examples/.
  test::TempDir top;
  std::filesystem::create_directory(top.file("build"));
  std::filesystem::create_symlink(test::examples_dir(), top.file("build/examples"));
  std::filesystem::create_symlink(test::source_dir() + "/examples", top.file("examples"));
  const std::string path = std::filesystem::path(BPFSIG_CLI).parent_path().string() + ":/usr/bin:/bin";
  const bool root = ::geteuid() == 0;
  for (const test::JourneyStep& step : steps) {
    SCOPED_TRACE(step.command);
    if (step.on_linux_73) {
      // The host's 6.18 cannot check signatures or run the enforcer.
      std::printf("skipped: '%s' runs on Linux 7.3, in the VM suite (Qemu.ReadmeJourneyOn73)\n",
                  step.command.c_str());
      continue;
    }
    if (loads_into_the_kernel(step.command) && !root) {
      std::printf("skipped: '%s' needs root\n", step.command.c_str());
      continue;
    }
    test::CommandResult r =
        test::run_command({"env", "PATH=" + path, "bash", "-c", "cd '" + top.path() + "' && " + step.command + " 2>&1"});
    EXPECT_EQ(test::normalize_journey_output(r.out), test::normalize_journey_output(step.output));
  }
}
