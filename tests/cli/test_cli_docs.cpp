// SPDX-License-Identifier: Apache-2.0
// bpfsig(1) and the bash completion (src/cli/docgen.cpp): generated from the
// CLI's own definition, so every command and option of --help is in them.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "support/support.h"

using namespace bpfsig;

namespace {

std::string man_page() {
  static const std::string page = test::bpfsig_cmd({"man"}).out;
  return page;
}

// The commands `bpfsig --help` lists, and each one's subcommands.
std::vector<std::vector<std::string>> command_paths() {
  std::vector<std::vector<std::string>> paths;
  const std::regex line(R"(^  ([a-z]+)\s)");
  auto commands_of = [&](std::vector<std::string> args) {
    args.push_back("--help");
    std::vector<std::string> names;
    const std::string help = test::bpfsig_cmd(args).out;
    const size_t at = help.find("Subcommands:");
    if (at == std::string::npos) return names;
    std::istringstream in(help.substr(at));
    std::smatch m;
    for (std::string l; std::getline(in, l);)
      if (std::regex_search(l, m, line)) names.push_back(m[1]);
    return names;
  };
  for (const std::string& c : commands_of({})) {
    paths.push_back({c});
    for (const std::string& s : commands_of({c})) paths.push_back({c, s});
  }
  return paths;
}

std::string roff_dashes(const std::string& option) {
  std::string out;
  for (char c : option) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

// What bash completes for the words typed so far (the last one being
// completed), with the generated script sourced.
std::string complete(const std::string& words, const std::string& cwd = ".") {
  const std::string script = test::bpfsig_cmd({"completion", "bash"}).out;
  test::TempDir d;
  test::write_text(d.file("bpfsig.bash"), script);
  const std::string cmd = "cd '" + cwd + "' && source '" + d.file("bpfsig.bash") + "' && COMP_WORDS=(" + words +
                          ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _bpfsig && echo \"${COMPREPLY[*]}\"";
  return test::run_command({"bash", "-c", cmd}).out;
}

}  // namespace

TEST(CliDocs, ManPageHasEveryCommandAndOptionOfHelp) {
  const std::string page = man_page();
  const std::vector<std::vector<std::string>> paths = command_paths();
  ASSERT_GE(paths.size(), 12u);
  const std::regex long_option(R"(--[a-z][a-z0-9-]*)");
  for (const auto& path : paths) {
    std::string name = "bpfsig";
    for (const std::string& w : path) name += " " + w;
    EXPECT_NE(page.find(".SS \"" + name + "\""), std::string::npos) << name;
    std::vector<std::string> args = {"help"};
    args.insert(args.end(), path.begin(), path.end());
    const std::string help = test::bpfsig_cmd(args).out;
    for (std::sregex_iterator it(help.begin(), help.end(), long_option), end; it != end; ++it) {
      if (it->str() == "--help") continue;  // every command's; the page says `bpfsig help COMMAND` once
      EXPECT_NE(page.find("\\fB" + roff_dashes(it->str()) + "\\fR"), std::string::npos) << name << " " << it->str();
    }
  }
}

// A command's options are defined only when the command line names it
// (main.cpp, add_commands); `bpfsig help` defines every command. The help of
// each must not tell which: the program's list of commands comes from the
// undefined ones' names and descriptions, a command's help from its own
// definition alone.
TEST(CliDocs, EveryCommandIsDescribedTheSameAloneAsBesideTheOthers) {
  EXPECT_EQ(test::bpfsig_cmd({"--help"}).out, test::bpfsig_cmd({"help"}).out);
  const std::vector<std::vector<std::string>> paths = command_paths();
  ASSERT_GE(paths.size(), 12u);
  for (const auto& path : paths) {
    std::vector<std::string> beside = {"help"}, alone = path;
    beside.insert(beside.end(), path.begin(), path.end());
    alone.push_back("--help");
    const auto with_every = test::bpfsig_cmd(beside), by_itself = test::bpfsig_cmd(alone);
    EXPECT_EQ(with_every.exit_code, 0) << path.front();
    EXPECT_EQ(by_itself.exit_code, 0) << path.front();
    EXPECT_EQ(by_itself.out, with_every.out) << path.front();
  }
}

TEST(CliDocs, ManPageNamesEveryEnvironmentVariableTheSourcesRead) {
  const std::string page = man_page();
  const std::string env = page.substr(page.find(".SH ENVIRONMENT"));
  const std::regex getenv_call(R"re(getenv\("(BPFSIG_[A-Z0-9_]+)"\))re");
  std::set<std::string> read;
  for (const auto& e : std::filesystem::recursive_directory_iterator(test::source_dir() + "/src")) {
    if (!e.is_regular_file()) continue;
    const std::string text = test::read_text(e.path());
    for (std::sregex_iterator it(text.begin(), text.end(), getenv_call), end; it != end; ++it) read.insert((*it)[1]);
  }
  ASSERT_FALSE(read.empty());
  for (const std::string& v : read) EXPECT_NE(env.find("\\fB" + v + "\\fR"), std::string::npos) << v;
}

TEST(CliDocs, ManPageHasTheExitCodesAndRendersWithoutWarnings) {
  const std::string page = man_page();
  const std::string exit = page.substr(page.find(".SH \"EXIT STATUS\""));
  for (const char* code : {"\\fB0\\fR", "\\fB1\\fR", "\\fB2\\fR"}) EXPECT_NE(exit.find(code), std::string::npos) << code;
  if (!std::filesystem::exists("/usr/bin/groff")) GTEST_SKIP() << "skipped: groff is not installed";
  test::TempDir d;
  test::write_text(d.file("bpfsig.1"), page);
  test::CommandResult r = test::run_command({"groff", "-man", "-Tutf8", "-ww", "-z", d.file("bpfsig.1")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "") << "groff's warnings";
}

TEST(CliDocs, CompletionCompletesCommandsOptionsAndFiles) {
  EXPECT_EQ(complete("bpfsig si"), "sign sim\n");
  EXPECT_EQ(complete("bpfsig enforce st"), "start status stop\n");
  EXPECT_EQ(complete("bpfsig policy c"), "check\n");
  EXPECT_EQ(complete("bpfsig sign --sch"), "--scheme\n");
  EXPECT_EQ(complete("bpfsig -j verify --ker"), "--kernel\n");
  // A value: file names, and the option's value is not taken for a command.
  test::TempDir d;
  test::write_text(d.file("signer.pem"), "x");
  EXPECT_EQ(complete("bpfsig sign -k sig", d.path()), "signer.pem\n");
  EXPECT_EQ(complete("bpfsig sign -k sign --sch", d.path()), "--scheme\n");
}

TEST(CliDocs, CompletionOnlyForBash) {
  test::CommandResult r = test::bpfsig_cmd({"completion", "zsh"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bash"), std::string::npos) << r.err;
}
