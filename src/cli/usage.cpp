// SPDX-License-Identifier: Apache-2.0
#include "cli/usage.h"

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace bpfsig::cli {

namespace {

// Optimal string alignment distance: Levenshtein plus the swap of two
// adjacent letters as one edit, the commonest typo ("sgin").
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string quoted_list(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? ", " : "") + words[i];
  return out;
}

bool looks_like_option(const std::string& word) { return word.size() > 1 && word[0] == '-'; }

// "-k", "--key", ... for every option of cmd (positionals have no names).
std::vector<std::string> option_names(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const auto& s : opt->get_snames()) out.push_back("-" + s);
    for (const auto& l : opt->get_lnames()) out.push_back("--" + l);
  }
  return out;
}

// The app and the subcommands selected under it, outermost first.
std::vector<const CLI::App*> selected_chain(const CLI::App& app) {
  std::vector<const CLI::App*> chain{&app};
  while (!chain.back()->get_subcommands().empty()) chain.push_back(chain.back()->get_subcommands().front());
  return chain;
}

// "policy check": the command as typed, without the program name.
std::string command_path(const std::vector<const CLI::App*>& chain, size_t level) {
  std::string out;
  for (size_t i = 1; i <= level; ++i) out += (out.empty() ? "" : " ") + chain[i]->get_name();
  return out;
}

// "bpfsig help" or "bpfsig help policy": where the commands are listed.
std::string help_for(const std::vector<const CLI::App*>& chain, size_t level) {
  const std::string path = command_path(chain, level);
  return "bpfsig help" + (path.empty() ? "" : " " + path);
}

std::string unknown_word_message(const std::vector<const CLI::App*>& chain, size_t level, const std::string& word) {
  const CLI::App& cmd = *chain[level];
  if (looks_like_option(word)) {
    // "--scheme=x" is matched on the name part.
    const std::string name = word.substr(0, word.find('='));
    return "unknown option '" + name + "'" + did_you_mean(name, option_names(cmd));
  }
  if (!cmd.get_subcommands({}).empty()) {
    return "unknown command '" + word + "'" + did_you_mean(word, subcommand_names(cmd)) + "; see " +
           help_for(chain, level);
  }
  return "unexpected argument '" + word + "'";
}

}  // namespace

Error usage_error(const std::string& message) { return Error(EINVAL, "usage", message); }

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  // Near: at most one edit for short names, two for longer ones, and never
  // as many edits as the word has letters ("ab" is not near "cd").
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    const size_t limit = c.size() <= 4 ? 1 : 2;
    if (d == 0 || d > limit || d >= word.size()) continue;
    if (!best || d < best_distance) {
      best = &c;
      best_distance = d;
    }
  }
  return best ? " (did you mean '" + *best + "'?)" : "";
}

CLI::Validator one_of(std::vector<std::string> choices, bool ignore_case) {
  return CLI::Validator(
      [choices, ignore_case](std::string& value) -> std::string {
        const std::string wanted = ignore_case ? lower(value) : value;
        if (std::find(choices.begin(), choices.end(), wanted) != choices.end()) return "";
        return "must be one of " + quoted_list(choices) + ", not '" + value + "'" + did_you_mean(wanted, choices);
      },
      "");
}

void refuse_unless_applies(const CLI::App& cmd, const std::string& option, bool applies, const std::string& reason) {
  if (!applies && cmd.count(option) > 0) throw usage_error(option + " " + reason);
}

std::vector<std::string> subcommand_names(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::App* sub : cmd.get_subcommands({})) out.push_back(sub->get_name());
  return out;
}

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& e) {
  const std::vector<const CLI::App*> chain = selected_chain(app);
  // A word nobody took explains the failure better than what it left
  // missing: "bpfsig bogus" is an unknown command, not a missing one.
  for (size_t level = chain.size(); level-- > 0;) {
    const std::vector<std::string> left = chain[level]->remaining();
    if (!left.empty()) return unknown_word_message(chain, level, left.front());
  }
  const CLI::App& last = *chain.back();
  if (dynamic_cast<const CLI::RequiredError*>(&e) && last.get_require_subcommand_min() > 0 &&
      last.get_subcommands().empty()) {
    return "a command is required: " + quoted_list(subcommand_names(last)) + "; see " +
           help_for(chain, chain.size() - 1);
  }
  return e.what();
}

}  // namespace bpfsig::cli
