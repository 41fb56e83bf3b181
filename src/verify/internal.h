// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the scheme checks of src/verify (not public API).
#pragma once

#include <string>
#include <utility>

#include "bpfsig/verify.h"

namespace bpfsig::verify::detail {

// The report with its outcome filled in.
inline Report decide(Report r, Verdict v, int err, std::string kind, std::string message) {
  r.verdict = v;
  r.err = err;
  r.kind = std::move(kind);
  r.message = std::move(message);
  return r;
}

}  // namespace bpfsig::verify::detail
