// SPDX-License-Identifier: Apache-2.0
// Every error kind the sources construct is documented in docs/errors.md, with
// its errno: the test reads src/ for `Error(ERRNO, "kind"` and
// `failure(ERRNO, "kind"` and fails on a kind missing from the table, so
// kinds added later stay documented.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Construction {
  std::string file;
  std::string err;  // the errno expression as written
};

// kind -> where it is constructed
std::multimap<std::string, Construction> kinds_in_sources() {
  static const std::regex kCtor(R"re(\b(?:Error|failure)\(((?:[^;"()]|\([^()]*\))*?),\s*"([a-z][a-z0-9_]*)")re");
  std::multimap<std::string, Construction> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(BPFSIG_SOURCE_DIR) + "/src")) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
    const std::string text = slurp(e.path());
    for (std::sregex_iterator it(text.begin(), text.end(), kCtor), end; it != end; ++it)
      out.emplace((*it)[2].str(), Construction{e.path().filename().string(), (*it)[1].str()});
  }
  return out;
}

// The table row (line) of docs/errors.md that names `kind`, or "".
std::string doc_row(const std::string& doc, const std::string& kind) {
  std::istringstream in(doc);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("| `" + kind + "` |", 0) == 0) return line;  // the kind is the row's first column
  return "";
}

TEST(ErrorsDoc, EveryKindInTheSourcesIsDocumentedWithItsErrno) {
  const std::string doc = slurp(std::string(BPFSIG_SOURCE_DIR) + "/docs/errors.md");
  ASSERT_FALSE(doc.empty());
  const auto kinds = kinds_in_sources();
  ASSERT_GT(kinds.size(), 30u) << "the pattern no longer finds the constructions";
  std::set<std::string> distinct;
  static const std::regex kErrnoName("^E[A-Z0-9]+$");
  for (const auto& [kind, where] : kinds) {
    distinct.insert(kind);
    const std::string row = doc_row(doc, kind);
    if (row.empty()) {
      ADD_FAILURE() << "error kind `" << kind << "` (" << where.file << ") is missing from docs/errors.md";
      continue;
    }
    // A literal errno must appear in the row; a computed one ("err",
    // "errno", ...) must be described as coming from somewhere, or the row
    // must list the errnos it can be.
    if (std::regex_match(where.err, kErrnoName))
      EXPECT_NE(row.find(where.err), std::string::npos)
          << "`" << kind << "` is raised with " << where.err << " in " << where.file << " but its row says: " << row;
    else
      EXPECT_TRUE(row.find("from ") != std::string::npos || row.find("kernel") != std::string::npos ||
                  std::regex_search(row, std::regex("\\bE[A-Z0-9]{2,}\\b")))
          << "`" << kind << "` is raised with a computed errno (" << where.err << ") in " << where.file
          << "; its row must say where the errno comes from: " << row;
  }
  std::printf("[errors-doc] %zu constructions, %zu kinds, all documented\n", kinds.size(), distinct.size());
}

}  // namespace
