// SPDX-License-Identifier: Apache-2.0
// Runs a command with its output discarded, for the whole-process figures.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <string>
#include <vector>

extern char** environ;

namespace bpfsig::bench {

// The command's exit code, or -1 when it could not run or was killed; its CPU
// time (user + system, from wait4) in *cpu_seconds when given.
inline int run_quiet(const std::vector<std::string>& argv, double* cpu_seconds) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int spawned = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) return -1;
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  if (cpu_seconds)
    *cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline int run_quiet(const std::vector<std::string>& argv) { return run_quiet(argv, nullptr); }

// The bpfsig of this build tree (the benchmarks run from it).
inline std::string bpfsig_command() { return std::string(BPFSIG_EXAMPLES_DIR) + "/../bpfsig"; }

}  // namespace bpfsig::bench
