// SPDX-License-Identifier: Apache-2.0
// skel::LibbpfLog: libbpf's warnings go to the capture of the thread that
// caused them, the innermost one when captures nest, and nowhere else.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "skel/libbpf_log.h"

namespace {

// Makes libbpf warn: bytes that are no ELF object ("elf: failed to open").
void provoke_a_warning() {
  const std::vector<unsigned char> junk(64, 0x5a);
  struct bpf_object* obj = bpf_object__open_mem(junk.data(), junk.size(), nullptr);
  if (!libbpf_get_error(obj)) bpf_object__close(obj);
}

TEST(LibbpfLog, KeepsTheWarningsOfItsOwnThread) {
  bpfsig::skel::LibbpfLog outer;
  std::string seen_by_thread;
  std::thread t([&] {
    bpfsig::skel::LibbpfLog mine;
    provoke_a_warning();
    seen_by_thread = mine.text();
  });
  t.join();
  EXPECT_FALSE(seen_by_thread.empty()) << "libbpf said nothing about junk BTF";
  EXPECT_EQ(outer.text(), "") << "another thread's warning reached this thread's capture";
}

TEST(LibbpfLog, TheInnermostCaptureTakesTheWarningAndTheOuterOneResumes) {
  bpfsig::skel::LibbpfLog outer;
  {
    bpfsig::skel::LibbpfLog inner;
    provoke_a_warning();
    EXPECT_FALSE(inner.last_warning().empty());
    EXPECT_EQ(inner.suffix(), ": " + inner.last_warning());
    EXPECT_EQ(inner.last_warning().find('\n'), std::string::npos);
  }
  EXPECT_EQ(outer.text(), "");
  EXPECT_EQ(outer.suffix(), "");
  provoke_a_warning();
  EXPECT_FALSE(outer.text().empty());
}

}  // namespace
