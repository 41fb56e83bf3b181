// SPDX-License-Identifier: Apache-2.0
// The dependency arrows of docs/architecture.md are the law: this test reads
// them from the page and checks every #include under src/ against them, so a
// model file that includes the real-kernel layer (or any other upward or
// sideways include) fails here, and the page cannot drift from the code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Graph = std::map<std::string, std::set<std::string>>;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string flat = text;
  for (char& c : flat)
    if (c == '\n') c = ' ';
  std::stringstream ss(flat);
  for (std::string part; std::getline(ss, part, sep);) {
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// "a -> b, c -> d": a uses b and c, and b and c use d.
void add_chain(Graph& g, const std::string& chain) {
  static const std::regex kArrow(R"(\s*->\s*)");
  std::vector<std::vector<std::string>> steps;
  for (std::sregex_token_iterator it(chain.begin(), chain.end(), kArrow, -1), end; it != end; ++it)
    steps.push_back(split(it->str(), ','));
  for (size_t i = 0; i + 1 < steps.size(); ++i)
    for (const std::string& from : steps[i])
      for (const std::string& to : steps[i + 1]) g[from].insert(to);
}

// The arrows of the paragraph that starts "Dependencies point downwards only".
Graph documented_arrows() {
  const std::string page = slurp(fs::path(BPFSIG_SOURCE_DIR) / "docs/architecture.md");
  const size_t start = page.find("Dependencies point downwards only");
  if (start == std::string::npos) return {};
  const std::string para = page.substr(start, page.find("\n\n", start) - start);
  Graph g;
  static const std::regex kCode(R"(`([a-z,\s]+(?:->[a-z,\s]+)+)`)");
  for (std::sregex_iterator it(para.begin(), para.end(), kCode), end; it != end; ++it) add_chain(g, (*it)[1].str());
  return g;
}

std::set<std::string> reachable(const Graph& g, const std::string& from) {
  std::set<std::string> seen;
  std::vector<std::string> todo{from};
  while (!todo.empty()) {
    const std::string m = todo.back();
    todo.pop_back();
    auto it = g.find(m);
    if (it == g.end()) continue;
    for (const std::string& next : it->second)
      if (seen.insert(next).second) todo.push_back(next);
  }
  return seen;
}

// The module a public header belongs to: the src/ folder that implements it.
// A header missing here fails the test, so a new one gets a home.
const std::map<std::string, std::string>& public_header_modules() {
  static const std::map<std::string, std::string> m = {
      {"atomic_files.h", "common"}, {"bytes.h", "common"},   {"error.h", "common"},
      {"files.h", "common"},        {"json_text.h", "common"}, {"limits.h", "common"},
      {"enforcer_abi.h", "common"}, {"isa.h", "isa"},         {"crypto.h", "crypto"},
      {"skel.h", "skel"},           {"skel_internal.h", "skel"}, {"verify.h", "verify"},
      {"sys.h", "sys"},             {"enforcer.h", "sys"},    {"vm.h", "vm"},
      {"kmodel.h", "kmodel"},       {"lsm.h", "lsm"},         {"hornet.h", "lsm"},
      {"ipe.h", "lsm"},             {"enforce.h", "enforce"}, {"sim.h", "sim"},
      {"deep.h", "deep"},
  };
  return m;
}

struct Include {
  std::string file, target, module;
};

std::vector<Include> includes_of(const fs::path& src, const std::string& module) {
  static const std::regex kInclude(R"re(#include "([a-z_]+)/([a-z_0-9]+\.h)")re");
  std::vector<Include> out;
  for (const auto& e : fs::recursive_directory_iterator(src / module)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
    const std::string text = slurp(e.path());
    for (std::sregex_iterator it(text.begin(), text.end(), kInclude), end; it != end; ++it) {
      const std::string dir = (*it)[1].str(), header = (*it)[2].str();
      std::string target_module = dir;
      if (dir == "bpfsig") {
        auto h = public_header_modules().find(header);
        target_module = h == public_header_modules().end() ? "" : h->second;
      }
      out.push_back({fs::relative(e.path(), src).string(), dir + "/" + header, target_module});
    }
  }
  return out;
}

std::vector<std::string> src_modules() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(BPFSIG_SOURCE_DIR) / "src"))
    if (e.is_directory()) out.push_back(e.path().filename().string());
  return out;
}

TEST(Layers, ThePageNamesEveryModuleOfSrc) {
  const Graph g = documented_arrows();
  ASSERT_FALSE(g.empty()) << "docs/architecture.md has no 'Dependencies point downwards only' arrows";
  std::set<std::string> named;
  for (const auto& [from, tos] : g) {
    named.insert(from);
    named.insert(tos.begin(), tos.end());
  }
  for (const std::string& m : src_modules()) EXPECT_TRUE(named.count(m)) << "src/" << m << " has no arrow in docs/architecture.md";
}

TEST(Layers, EveryIncludeFollowsTheDocumentedArrows) {
  const Graph g = documented_arrows();
  ASSERT_FALSE(g.empty());
  const fs::path src = fs::path(BPFSIG_SOURCE_DIR) / "src";
  size_t checked = 0;
  for (const std::string& module : src_modules()) {
    std::set<std::string> allowed = reachable(g, module);
    allowed.insert(module);
    allowed.insert("common");  // everything may use the bottom layer
    for (const Include& inc : includes_of(src, module)) {
      ++checked;
      ASSERT_FALSE(inc.module.empty()) << inc.file << " includes " << inc.target
                                       << ", a header this test does not place: add it to public_header_modules()";
      EXPECT_TRUE(allowed.count(inc.module))
          << "src/" << inc.file << " includes " << inc.target << " (module " << inc.module << "), but " << module
          << " has no arrow to " << inc.module << " in docs/architecture.md";
    }
  }
  EXPECT_GT(checked, 100u) << "the include scan found almost nothing: is BPFSIG_SOURCE_DIR right?";
}

// The model of the kernel never reaches the real kernel's layer: the rule the
// arrows above must keep, stated on its own so that nobody adds the arrow.
TEST(Layers, TheModelNeverReachesTheRealKernelLayer) {
  const Graph g = documented_arrows();
  for (const std::string model : {"kmodel", "vm", "lsm", "sim"})
    EXPECT_FALSE(reachable(g, model).count("sys")) << model << " reaches sys in docs/architecture.md";
}

}  // namespace
