// SPDX-License-Identifier: Apache-2.0
// The one error type of libbpfsig: an errno-like code, a machine-readable kind
// and a message that names the input (file, offset, field).
#pragma once

#include <stdexcept>
#include <string>

namespace bpfsig {

class Error : public std::runtime_error {
 public:
  // err is a positive errno value (EBADMSG, EINVAL, ...); kind is a short
  // snake_case identifier that scripts can match on (docs/errors.md lists them).
  Error(int err, std::string kind, const std::string& message)
      : std::runtime_error(message), err_(err), kind_(std::move(kind)) {}

  int err() const noexcept { return err_; }
  const std::string& kind() const noexcept { return kind_; }
  // "EBADMSG" for EBADMSG, or the decimal number when the name is unknown.
  std::string err_name() const;

 private:
  int err_;
  std::string kind_;
};

// Symbolic name of an errno value ("EKEYREJECTED"), "0" for success.
std::string errno_name(int err);

}  // namespace bpfsig
