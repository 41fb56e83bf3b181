// SPDX-License-Identifier: Apache-2.0
// libbpf reports through one process-wide print callback. bpfsig installs its
// own, once; while a LibbpfLog is alive, the warnings libbpf prints on that
// thread go into it (the innermost one when they nest), so that an error can
// quote libbpf's own reason instead of libbpf printing to the terminal. With
// no LibbpfLog on the thread, warnings go to stderr, as libbpf's default does.
// The one capture for every libbpf user: skel (gen_loader) and kmodel (BTF
// parsing, CO-RE relocation, which are the kernel's work and log there).
#pragma once

#include <string>

namespace bpfsig::skel {

class LibbpfLog {
 public:
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  // Every warning so far, as libbpf printed them (its lines end in newlines).
  const std::string& text() const { return text_; }
  // The last warning, without its newline ("" when there was none).
  std::string last_warning() const;
  // ": <last warning>", or "" when there was none: for an error message.
  std::string suffix() const;

 private:
  friend struct LibbpfLogSink;
  LibbpfLog* outer_;
  std::string text_;
};

}  // namespace bpfsig::skel
