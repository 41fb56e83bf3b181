// SPDX-License-Identifier: Apache-2.0
// bpfsig(1) and the bash completion, walked out of the CLI11 tree that also
// parses the command line and prints --help (docs/install.md).
#include "cli/docgen.h"

#include <iostream>
#include <sstream>

#include "cli/usage.h"

namespace bpfsig::cli {

const std::vector<EnvironmentVariable>& environment_variables() {
  static const std::vector<EnvironmentVariable> vars = {
      {"BPFSIG_KEY_PASS",
       "The passphrase of an encrypted private key when no --pass is given (keygen encrypts only with an explicit "
       "--pass)."},
      {"BPFSIG_PIN",
       "The PIN of the PKCS#11 token of a -k pkcs11: key when neither --pin-source nor the URI's pin-source is "
       "given. It never appears in any output."},
      {"BPFSIG_PKCS11_MODULE",
       "The PKCS#11 module of a -k pkcs11: key when neither the URI's module-path nor --pkcs11-module is given "
       "(default: SoftHSM2, then p11-kit's proxy)."},
      {"BPFSIG_EXAMPLES_DIR",
       "Where sim finds the objects a scenario names (object = \"NAME\" is NAME.bpf.o), when --examples is not "
       "given."},
  };
  return vars;
}

namespace {

// What `--help` lists: CLI11 hides a subcommand or option by an empty group.
bool visible(const CLI::App* cmd) { return !cmd->get_group().empty(); }
bool visible(const CLI::Option* opt) { return !opt->get_group().empty(); }

std::vector<const CLI::App*> visible_subcommands(const CLI::App& cmd) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* s : cmd.get_subcommands({}))
    if (visible(s)) out.push_back(s);
  return out;
}

std::vector<const CLI::Option*> visible_options(const CLI::App& cmd) {
  std::vector<const CLI::Option*> out;
  for (const CLI::Option* o : cmd.get_options())
    if (visible(o)) out.push_back(o);
  return out;
}

bool takes_value(const CLI::Option* opt) { return opt->get_items_expected_max() > 0; }

// "-k, --key" (or "FILE" for a positional), as --help names an option.
std::vector<std::string> option_names(const CLI::Option* opt) {
  std::vector<std::string> names;
  for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
  for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
  return names;
}

// man(7): a backslash is \e, a hyphen in a name is \-, and a line may not
// start with a control character.
std::string roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else
      out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::string roff_name(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

void man_option(std::ostream& o, const CLI::Option* opt) {
  std::string names;
  if (opt->get_positional() && opt->get_snames().empty() && opt->get_lnames().empty()) {
    names = "\\fI" + roff_name(opt->get_name()) + "\\fR";
  } else {
    for (const std::string& n : option_names(opt)) names += (names.empty() ? "" : ", ") + ("\\fB" + roff_name(n) + "\\fR");
    if (takes_value(opt)) names += " \\fI" + roff(opt->get_type_name()) + "\\fR";
  }
  o << ".TP\n" << names << "\n";
  std::string text = opt->get_description();
  if (opt->get_required()) text += " (required)";
  if (!opt->get_default_str().empty()) text += " (default: " + opt->get_default_str() + ")";
  o << roff(text) << "\n";
}

// One command: a subsection with its description, its options, then its own
// subcommands (policy check, enforce start, ...).
void man_command(std::ostream& o, const CLI::App& cmd, const std::string& path) {
  o << ".SS \"" << path << "\"\n" << roff(cmd.get_description()) << "\n";
  for (const CLI::Option* opt : visible_options(cmd)) {
    if (opt->get_name() == "--help") continue;
    man_option(o, opt);
  }
  for (const CLI::App* sub : visible_subcommands(cmd)) man_command(o, *sub, path + " " + sub->get_name());
}

void man_exit_status(std::ostream& o) {
  o << ".SH \"EXIT STATUS\"\n"
    << ".TP\n\\fB0\\fR\nSuccess; for verify, the verdict is OK.\n"
    << ".TP\n\\fB1\\fR\nAn error, or a \"no\": a verification failed, the kernel refused the load, a policy denied.\n"
    << ".TP\n\\fB" << kExitUsage << "\\fR\nBad usage: an unknown command or option, a missing or invalid value; "
    << "for sim, also a bad scenario.\n"
    << ".PP\nOn an error, standard error gets exactly one line, \\fBbpfsig\\fR \\fICOMMAND\\fR: \\fIMESSAGE\\fR "
       "[\\fIERRNO_NAME\\fR, \\fIkind\\fR]; with \\fB\\-j\\fR, standard output also gets a JSON error object.\n";
}

void man_environment(std::ostream& o) {
  o << ".SH ENVIRONMENT\n";
  for (const EnvironmentVariable& v : environment_variables()) o << ".TP\n\\fB" << v.name << "\\fR\n" << roff(v.meaning) << "\n";
}

// Bash word lists, one entry per command path ("bpfsig", "bpfsig policy", ...;
// bash refuses an empty key).
struct CompletionTables {
  std::vector<std::pair<std::string, std::string>> subcommands, options, valued;
};

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

void collect(const CLI::App& cmd, const std::string& path, CompletionTables& t) {
  std::vector<std::string> subs, opts, valued;
  for (const CLI::App* s : visible_subcommands(cmd)) subs.push_back(s->get_name());
  for (const CLI::Option* o : visible_options(cmd)) {
    for (const std::string& n : option_names(o)) {
      opts.push_back(n);
      if (takes_value(o)) valued.push_back(n);
    }
  }
  t.subcommands.emplace_back(path, join(subs));
  t.options.emplace_back(path, join(opts));
  t.valued.emplace_back(path, join(valued));
  for (const CLI::App* s : visible_subcommands(cmd)) collect(*s, path + " " + s->get_name(), t);
}

void bash_table(std::ostream& o, const std::string& name, const std::vector<std::pair<std::string, std::string>>& rows) {
  o << "declare -gA " << name << "=(\n";
  for (const auto& [path, words] : rows) o << "  [\"" << path << "\"]=\"" << words << "\"\n";
  o << ")\n";
}

// The walk over the words typed so far: a subcommand name extends the path,
// an option that takes a value swallows the next word.
constexpr const char* kCompletionFunction = R"(_bpfsig() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local path=bpfsig i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ " ${_bpfsig_valued[$path]} " == *" $w "* ]]; then
      ((i++))
    elif [[ $w != -* && " ${_bpfsig_subcommands[$path]} " == *" $w "* ]]; then
      path="$path $w"
    fi
  done
  if [[ COMP_CWORD -gt 1 && " ${_bpfsig_valued[$path]} " == *" $prev "* ]]; then
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  elif [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_bpfsig_options[$path]}" -- "$cur")
  elif [[ -n ${_bpfsig_subcommands[$path]} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_bpfsig_subcommands[$path]}" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}
complete -o filenames -F _bpfsig bpfsig
)";

}  // namespace

std::string man_page(const CLI::App& app, const std::string& version) {
  std::ostringstream o;
  o << ".TH BPFSIG 1 \"\" \"bpfsig " << version << "\" \"User Commands\"\n"
    << ".SH NAME\nbpfsig \\- " << roff(app.get_description().substr(app.get_description().find(": ") + 2)) << "\n"
    << ".SH SYNOPSIS\n\\fBbpfsig\\fR [\\fB\\-j\\fR|\\fB\\-p\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
    << ".SH DESCRIPTION\n\\fBbpfsig\\fR is a toolkit for the integrity of Linux BPF programs: it signs BPF objects and light skeletons in each kernel scheme, verifies them offline as the kernel would, loads them, models the kernel's load path with its LSMs, and enforces signature policy with a BPF-LSM program.\n"
    << ".PP\nEvery command prints human output by default and one JSON object with \\fB\\-j\\fR "
       "(\\fB\\-p\\fR indents it). \\fBbpfsig help\\fR \\fICOMMAND\\fR prints what this page says of a command.\n"
    << ".SH OPTIONS\n";
  for (const CLI::Option* opt : visible_options(app))
    if (opt->get_name() != "--help") man_option(o, opt);
  o << ".SH COMMANDS\n";
  for (const CLI::App* sub : visible_subcommands(app)) man_command(o, *sub, "bpfsig " + sub->get_name());
  man_exit_status(o);
  man_environment(o);
  o << ".SH \"SEE ALSO\"\n\\fBbpftool\\fR(8), \\fBopenssl-cms\\fR(1), \\fBbpf\\fR(2)\n";
  return o.str();
}

std::string bash_completion(const CLI::App& app) {
  CompletionTables t;
  collect(app, "bpfsig", t);
  std::ostringstream o;
  o << "# bash completion for bpfsig, generated by `bpfsig completion bash` from its own command definition.\n";
  bash_table(o, "_bpfsig_subcommands", t.subcommands);
  bash_table(o, "_bpfsig_options", t.options);
  bash_table(o, "_bpfsig_valued", t.valued);
  o << kCompletionFunction;
  return o.str();
}

void add_docgen(CLI::App& app, const std::string& version) {
  CLI::App* man = app.add_subcommand("man", "Print the bpfsig(1) manual page (roff, for man -l -)");
  man->callback([&app, version] { std::cout << man_page(app, version); });

  auto shell = std::make_shared<std::string>();
  CLI::App* completion = app.add_subcommand("completion", "Print the shell completion script: bpfsig completion bash");
  completion->add_option("shell", *shell, "The shell (bash)")->required()->check(one_of({"bash"}));
  completion->callback([&app, shell] { std::cout << bash_completion(app); });
}

}  // namespace bpfsig::cli
