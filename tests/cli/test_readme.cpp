// SPDX-License-Identifier: Apache-2.0
// The README's "A user's journey": every `$ command` in its console blocks
// runs, in order, in a scratch checkout-like directory, and prints what the
// README shows, up to what differs by nature from run to run (keys, serial
// numbers, dates, kernel object ids).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/support.h"

using namespace bpfsig;

namespace {

struct Step {
  std::string command;
  std::string output;  // as the README shows it
};

// The console blocks of the section, split at each "$ " line.
std::vector<Step> journey_steps() {
  const std::string readme = test::read_text(test::source_dir() + "/README.md");
  const size_t begin = readme.find("## A user's journey");
  if (begin == std::string::npos) return {};
  const size_t end = readme.find("\n## ", begin + 1);
  std::istringstream in(readme.substr(begin, end - begin));
  std::vector<Step> steps;
  bool in_console = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "```console") {
      in_console = true;
    } else if (in_console && line == "```") {
      in_console = false;
    } else if (in_console && line.rfind("$ ", 0) == 0) {
      steps.push_back({line.substr(2), ""});
    } else if (in_console && !steps.empty()) {
      steps.back().output += line + "\n";
    }
  }
  return steps;
}

// What may differ between two honest runs.
std::string normalize(std::string text) {
  static const std::regex hex("[0-9a-f]{16,}"), time("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), id("\\bid +\\d+");
  text = std::regex_replace(text, hex, "<hex>");
  text = std::regex_replace(text, time, "<time>");
  return std::regex_replace(text, id, "id N");
}

bool loads_into_the_kernel(const std::string& command) { return command.rfind("bpfsig load", 0) == 0; }

}  // namespace

TEST(Readme, TheJourneyPrintsWhatTheReadmeShows) {
  const std::vector<Step> steps = journey_steps();
  ASSERT_GE(steps.size(), 6u) << "the README's journey has its steps";
  // The checkout as the journey sees it: build/examples and examples/.
  test::TempDir top;
  std::filesystem::create_directory(top.file("build"));
  std::filesystem::create_symlink(test::examples_dir(), top.file("build/examples"));
  std::filesystem::create_symlink(test::source_dir() + "/examples", top.file("examples"));
  const std::string path = std::filesystem::path(BPFSIG_CLI).parent_path().string() + ":/usr/bin:/bin";
  const bool root = ::geteuid() == 0;
  for (const Step& step : steps) {
    SCOPED_TRACE(step.command);
    if (loads_into_the_kernel(step.command) && !root) {
      std::printf("skipped: '%s' needs root\n", step.command.c_str());
      continue;
    }
    test::CommandResult r =
        test::run_command({"env", "PATH=" + path, "bash", "-c", "cd '" + top.path() + "' && " + step.command + " 2>&1"});
    EXPECT_EQ(normalize(r.out), normalize(step.output));
  }
}
