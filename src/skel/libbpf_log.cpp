// SPDX-License-Identifier: Apache-2.0
#include "skel/libbpf_log.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace bpfsig::skel {

struct LibbpfLogSink {
  static inline thread_local LibbpfLog* current = nullptr;

  // Warnings only: libbpf's info and debug lines ("libbpf: elf: skipping
  // ...") are chatter, not reasons.
  static int print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level != LIBBPF_WARN) return 0;
    if (!current) return std::vfprintf(stderr, format, args);
    char line[1024];
    const int n = std::vsnprintf(line, sizeof line, format, args);
    if (n <= 0) return 0;
    current->text_.append(line, std::min<size_t>(static_cast<size_t>(n), sizeof line - 1));
    return 0;
  }
};

LibbpfLog::LibbpfLog() : outer_(LibbpfLogSink::current) {
  static std::once_flag installed;
  std::call_once(installed, [] { libbpf_set_print(&LibbpfLogSink::print); });
  LibbpfLogSink::current = this;
}

LibbpfLog::~LibbpfLog() { LibbpfLogSink::current = outer_; }

std::string LibbpfLog::last_warning() const {
  std::string body = text_;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  const size_t nl = body.rfind('\n');
  return nl == std::string::npos ? body : body.substr(nl + 1);
}

std::string LibbpfLog::suffix() const {
  const std::string last = last_warning();
  return last.empty() ? "" : ": " + last;
}

}  // namespace bpfsig::skel
