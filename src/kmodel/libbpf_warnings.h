// SPDX-License-Identifier: Apache-2.0
// libbpf prints its warnings to stderr unless told otherwise; what the model
// asks libbpf to do (parse a BTF file, relocate an instruction) is the
// kernel's work, whose messages go to a log, not to the terminal. While a
// LibbpfWarnings is alive libbpf's messages are kept (the last warning is
// what an error message quotes) instead of printed.
#pragma once

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace bpfsig::kmodel {

class LibbpfWarnings {
 public:
  LibbpfWarnings() : previous_(libbpf_set_print(&LibbpfWarnings::collect)) { active_ = this; }
  ~LibbpfWarnings() {
    libbpf_set_print(previous_);
    active_ = nullptr;
  }
  LibbpfWarnings(const LibbpfWarnings&) = delete;
  LibbpfWarnings& operator=(const LibbpfWarnings&) = delete;
  // The last warning, without its newline ("" when there was none).
  const std::string& last_warning() const { return last_; }
  // ": <last warning>", or "" when there was none: for an error message.
  std::string suffix() const { return last_.empty() ? "" : ": " + last_; }

 private:
  static int collect(enum libbpf_print_level level, const char* format, va_list args) {
    if (level != LIBBPF_WARN || !active_) return 0;
    char line[512];
    std::vsnprintf(line, sizeof(line), format, args);
    active_->last_ = line;
    while (!active_->last_.empty() && active_->last_.back() == '\n') active_->last_.pop_back();
    return 0;
  }
  static inline thread_local LibbpfWarnings* active_ = nullptr;
  libbpf_print_fn_t previous_;
  std::string last_;
};

}  // namespace bpfsig::kmodel
