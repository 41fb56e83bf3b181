// SPDX-License-Identifier: Apache-2.0
// A C program written for bpftool 7.8's light-skeleton header, built against
// bpfsig's header and bpftool's (docs/vm-tests.md), run to a full load and
// attach on the VM's kernel.
#include "header_programs.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "bpfsig/error.h"
#include "bpfsig/sys.h"

namespace bpfsig::vmtest {

namespace {

using Json = nlohmann::json;

bool exists(const std::string& path) { return std::ifstream(path).good(); }

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// Runs the program with no arguments (load and attach) and keeps its exit
// status and its output (stdout and stderr together).
void run_program(const std::string& path, Json& j) {
  FILE* p = ::popen((path + " 2>&1").c_str(), "r");
  if (!p) throw Error(errno, "vm_runner", "popen " + path);
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = ::pclose(p);
  j["exit"] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  j["output"] = output;
}

}  // namespace

void run_header_programs(const std::string& payload_dir, const std::string& kernel, ByteView signer_der,
                         const std::function<void(const Json&)>& emit) {
  const std::string dir = payload_dir + "/bpftool-header/";
  // The certificate where the program's keyring_id (-3) finds it, for as long
  // as the programs run: they inherit this process's session keyring.
  const int32_t key = sys::key_add_x509(signer_der, sys::kSessionKeyring);
  for (const char* header : {"bpfsig", "bpftool78"}) {
    Json j{{"case", std::string("bpftool_header/") + header}, {"kernel", kernel}};
    if (exists(dir + header + ".skipped")) {
      j["skipped"] = first_line(dir + header + ".skipped");
    } else if (!exists(dir + header)) {
      j["skipped"] = "run-suite.sh built no " + dir + header;
    } else {
      try {
        run_program(dir + header, j);
      } catch (const Error& e) {
        j["error"] = e.what();
      }
    }
    emit(j);
  }
  sys::key_unlink(key, sys::kSessionKeyring);
}

}  // namespace bpfsig::vmtest
