// SPDX-License-Identifier: Apache-2.0
// Light-skeleton loader generation through libbpf's gen_loader.
#pragma once

#include <string>
#include <vector>

#include "bpfsig/bytes.h"
#include "bpfsig/skel.h"

namespace bpfsig::skel {

struct GeneratedLoader {
  std::string name;                     // skeleton name, as bpftool derives it
  Bytes insns;                          // gen_loader's loader program
  Bytes data;                           // gen_loader's metadata blob
  std::vector<std::string> map_names;   // skeleton identifiers, map index order
  std::vector<std::string> prog_names;  // program index order
  SkeletonApi api;                      // bpftool's skeleton API (data sections, attach)
};

// Runs gen_loader on a BPF ELF object. Nothing touches the kernel: libbpf
// assumes the newest kernel when generating a loader. Throws
// Error(errno, "bpf_object", "<path>: <libbpf's message>").
// name is the skeleton's (bpftool's `name`); empty: skeleton_name_for(path).
// signed_loader is libbpf 1.8's gen_loader_opts.gen_hash, which bpftool 7.8
// sets for `gen skeleton -S`: the loader then takes neither max_entries nor
// initial values from the (unsigned) loader ctx, only the signed metadata
// (libbpf 1.8 emits no in-loader hash block for it any more).
GeneratedLoader generate_loader(const std::string& bpf_object_path, const std::string& name = "",
                                bool signed_loader = false);

// bpftool's naming: "dir/prog.bpf.o" -> "prog_bpf"; an internal map
// "prog.rodata.str1.1" -> "rodata_str1_1"; every other character that cannot
// be in a C identifier becomes '_', and a name that still is no C identifier
// (a leading digit: "1abc.bpf.o") gets a leading '_' ("_1abc_bpf").
std::string skeleton_name_for(const std::string& object_path);
std::string map_identifier(const std::string& libbpf_map_name, bool internal);

}  // namespace bpfsig::skel
