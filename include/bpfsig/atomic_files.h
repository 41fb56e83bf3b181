// SPDX-License-Identifier: Apache-2.0
// Writing several outputs of one command all or nothing (src/common/bytes.cpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig {

// Every temporary file is written and fsynced before the first rename, so a
// failure to write any of them (a missing directory, a full disk) leaves
// every existing output untouched. Each file is then renamed into place as
// write_file_atomic does.
void write_files_atomic(const std::vector<std::pair<std::string, Bytes>>& files, mode_t mode = 0644);

}  // namespace bpfsig
