// SPDX-License-Identifier: Apache-2.0
// What a corpus program's loader created, as comparable lines: one per map
// ("map TYPE NAME key K value V max_entries M") and per program ("prog TYPE
// NAME tag T"), ids aside, in loader order. The corpus differential tests
// (tests/kmodel/test_kmodel_corpus.cpp on the host, the VM runner's
// corpus_cases.cpp on 7.3) describe the real kernel's objects and the
// model's with these and compare the lists.
#pragma once

#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/sys.h"

namespace bpfsig::corpus {

inline std::string map_line(uint32_t type, const std::string& name, uint32_t key, uint32_t value, uint32_t max) {
  return "map " + std::to_string(type) + " " + name + " key " + std::to_string(key) + " value " +
         std::to_string(value) + " max_entries " + std::to_string(max);
}

inline std::string prog_line(uint32_t type, const std::string& name, const std::string& tag) {
  return "prog " + std::to_string(type) + " " + name + " tag " + tag;
}

// The real kernel's objects (sys::load); the loader's own map and program
// are left out: their tags depend on the signature scheme, not the corpus.
inline std::vector<std::string> real_objects(const sys::LoadResult& r) {
  std::vector<std::string> lines;
  for (const auto& m : r.maps) lines.push_back(map_line(m.type, m.name, m.key_size, m.value_size, m.max_entries));
  for (const auto& p : r.progs) lines.push_back(prog_line(p.type, p.name, p.tag_hex));
  return lines;
}

inline std::vector<std::string> model_objects(const kmodel::SkeletonResult& r) {
  std::vector<std::string> lines;
  for (const auto& m : r.maps) lines.push_back(map_line(m.type, m.name, m.key_size, m.value_size, m.max_entries));
  for (const auto& p : r.progs) lines.push_back(prog_line(p.type, p.name, to_hex(ByteView(p.digest.data(), 8))));
  return lines;
}

}  // namespace bpfsig::corpus
