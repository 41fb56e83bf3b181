// SPDX-License-Identifier: Apache-2.0
// Entry point: parse, dispatch, and turn any error into one line on stderr
// (and, with --json, an error object on stdout) and a non-zero exit: 2 for bad
// usage, 1 for the rest (docs/cli.md).
#include <malloc.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "bpfsig/error.h"
#include "cli/cli.h"
#include "cli/docgen.h"

namespace bpfsig::cli {
int g_exit_code = 0;
}

using namespace bpfsig::cli;

namespace {

constexpr const char* kVersion = "0.1.0";

// The first word that is not an option: the command the error line names.
// Options before it are the program's own (-j, -p, -h, --version), which take
// no value, so the scan cannot mistake an option's value for the command.
std::string command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (argv[i][0] != '-') return argv[i];
  return "";
}

// A parse error is reported before the flag callbacks could run, so whether
// it is wanted as JSON is read off the command line.
void apply_output_flags_of(int argc, char** argv, Common& common) {
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    const std::string a = argv[i];
    if (a == "-j" || a == "--json") common.json = true;
    if (a == "-p" || a == "--pretty") common.json = common.pretty = true;
  }
}

const CLI::App* find_command(const CLI::App& parent, const std::string& name) {
  for (const CLI::App* s : parent.get_subcommands({}))
    if (s->get_name() == name) return s;
  return nullptr;
}

void add_version(CLI::App& app, Common& common) {
  app.set_version_flag("--version", std::string("bpfsig ") + kVersion);
  CLI::App* sub = app.add_subcommand("version", "Print the version");
  add_output_flags(*sub, common);
  sub->callback([&common] {
    if (common.json)
      print_json(common, Json{{"ok", true}, {"version", kVersion}});
    else
      std::cout << "bpfsig " << kVersion << "\n";
  });
}

// `bpfsig help [COMMAND [SUBCOMMAND]]`: what `bpfsig COMMAND --help` prints.
void add_help(CLI::App& app) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand("help", "Show the help of a command: bpfsig help COMMAND");
  sub->add_option("command", *words, "Command (and subcommand, e.g. policy check)");
  sub->callback([&app, words] {
    const CLI::App* target = &app;
    std::string path = app.get_name();
    for (const auto& w : *words) {
      const CLI::App* next = find_command(*target, w);
      if (!next)
        throw usage_error("unknown command '" + w + "'" + did_you_mean(w, subcommand_names(*target)) +
                          "; see bpfsig help");
      target = next;
      path += " " + w;
    }
    // The formatter, not App::help(): that one follows the selected
    // subcommand, which is "help" itself.
    std::cout << target->get_formatter()->make_help(target, path, CLI::AppFormatMode::Normal);
  });
}

// The commands whose options help, man and completion print.
bool prints_every_command(const std::string& word) { return word == "help" || word == "man" || word == "completion"; }

// Every command is added with its name and description, which is all the
// program's help and its usage errors read; only the command the command line
// names gets its options, subcommands and callback (every command does for
// help, man and completion). Defining all of them was most of the work of a
// small command's start: CLI11 builds each option's names, validators and
// help text as it is added (issue 17, docs/performance.md).
void add_commands(CLI::App& app, Common& common, const std::string& word) {
  static const Command* const kCommands[] = {&kCommandKeygen, &kCommandSign,   &kCommandVerify,
                                             &kCommandInspect, &kCommandLoad,   &kCommandRun,
                                             &kCommandPolicy, &kCommandSim,    &kCommandEnforce};
  for (const Command* c : kCommands) {
    CLI::App* sub = app.add_subcommand(c->name, c->description);
    if (word == c->name || prints_every_command(word)) {
      c->define(sub, common);
    } else {
      // CLI11 selects the first word that is not an option, as command_word
      // does: a command left undefined is never the one that runs.
      sub->callback([name = std::string(c->name)] {
        throw bpfsig::Error(EIO, "internal", "command '" + name + "' was parsed without its options");
      });
    }
  }
}

// glibc raises its mmap threshold to the size of each mmapped block freed,
// up to 32 MiB: after the first multi-MiB input is released, the next ones
// come from the heap, whose freed top is kept (the trim threshold doubles
// with it). A command handles one large artifact in stages (read, libbpf's
// images, the loader's blob, the output), so each stage's memory would stay
// resident through the next. A fixed threshold returns every block of 1 MiB
// or more to the kernel when it is freed.
void keep_large_blocks_returnable() { ::mallopt(M_MMAP_THRESHOLD, 1 << 20); }

}  // namespace

int main(int argc, char** argv) {
  keep_large_blocks_returnable();
  // The name is fixed so that the usage line says "bpfsig", not argv[0]'s path.
  CLI::App app{"bpfsig: sign, verify, inspect and load signed BPF light skeletons", "bpfsig"};
  app.require_subcommand(1);
  Common common;
  add_output_flags(app, common);
  const std::string command = command_word(argc, argv);
  add_commands(app, common, command);
  add_version(app, common);
  add_help(app);
  add_docgen(app, kVersion);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    apply_output_flags_of(argc, argv, common);
    report_error(find_command(app, command) ? command : "", usage_error(describe_parse_error(app, e)), common);
    return kExitUsage;
  } catch (const bpfsig::Error& e) {
    report_error(command, e, common);
    return exit_code_for(e);
  } catch (const std::bad_alloc&) {
    report_error(command, bpfsig::Error(ENOMEM, "out_of_memory", "out of memory"), common);
    return 1;
  } catch (const std::exception& e) {
    report_error(command, bpfsig::Error(EIO, "internal", e.what()), common);
    return 1;
  }
  return g_exit_code;
}
