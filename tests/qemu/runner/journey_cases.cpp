// SPDX-License-Identifier: Apache-2.0
#include "journey_cases.h"

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bpfsig/error.h"
#include "support/readme_journey.h"

namespace bpfsig::vmtest {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `bpfsig enforce start` with no --enforcer takes the build's own signed
// enforcer, by the build directory's absolute path (run-suite.sh writes it to
// PAYLOAD/journey/enforcer-dir): the VM gets the same files at that path.
void place_build_enforcer(const std::string& payload_dir) {
  std::string dir = slurp(payload_dir + "/journey/enforcer-dir");
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  if (dir.empty()) throw Error(ENOENT, "vm_runner", payload_dir + "/journey/enforcer-dir: empty");
  fs::create_directories(dir);
  for (const char* name : {"enforcer.bpfsig", "enforcer.loader-hash.bpfsig", "enforcer-cert.der"}) {
    fs::remove(fs::path(dir) / name);
    fs::create_symlink(fs::path(payload_dir) / "enforcer" / name, fs::path(dir) / name);
  }
}

struct Run {
  int exit = -1;
  std::string output;  // stdout and stderr, as a terminal would show them
};

Run run_in(const std::string& dir, const std::string& command) {
  const std::string line = "cd '" + dir + "' && " + command + " 2>&1";
  FILE* p = ::popen(line.c_str(), "r");
  if (!p) throw Error(errno, "vm_runner", "popen " + command);
  Run r;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

void run_journey(const std::string& payload_dir, const std::string& kernel,
                 const std::function<void(const Json&)>& emit) {
  if (kernel != "7.3") return;
  const std::vector<test::JourneyStep> steps = test::journey_steps(slurp(payload_dir + "/journey/README.md"));
  const std::string top = "/tmp/journey";
  fs::remove_all(top);
  fs::create_directories(top);
  fs::copy(payload_dir + "/journey/checkout", top, fs::copy_options::recursive);
  place_build_enforcer(payload_dir);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Run r = run_in(top, steps[i].command);
    if (!steps[i].on_linux_73) continue;
    emit(Json{{"case", "readme/" + std::to_string(i)}, {"kernel", kernel}, {"command", steps[i].command},
              {"exit", r.exit}, {"output", r.output}});
  }
  // Whatever the journey left running (it stops the enforcer itself when all
  // goes well), the cases after it need a kernel without the enforcer.
  run_in(top, "bpfsig enforce stop");
}

}  // namespace bpfsig::vmtest
