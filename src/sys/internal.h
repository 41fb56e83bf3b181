// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the files of src/sys (not part of the public API).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig::sys::detail {

// Owns one file descriptor; closes it on destruction unless released.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// bpf(2) with errno turned into Error(errno, "bpf_syscall", "<command>: <strerror>").
long bpf_call(int cmd, void* attr, size_t attr_size);
// The name of a bpf command as the kernel headers spell it ("BPF_PROG_LOAD").
std::string bpf_command_name(int cmd);
// The message of a failed bpf command, e.g. "BPF_PROG_LOAD: Permission denied".
std::string bpf_error_message(int cmd, int err);


}  // namespace bpfsig::sys::detail

namespace bpfsig::sys::detail {

// A keyring of bpfsig's own, holding only the certificates it was given,
// linked under the session keyring (or the process keyring for a process
// without a usable session keyring). The destructor invalidates the keys and
// the keyring, whatever happened in between, so nothing outlives the load.
class OwnKeyring {
 public:
  explicit OwnKeyring(const std::vector<Bytes>& certs_der);
  ~OwnKeyring();
  OwnKeyring(const OwnKeyring&) = delete;
  OwnKeyring& operator=(const OwnKeyring&) = delete;

  int32_t id() const { return id_; }

 private:
  void remove() noexcept;

  int32_t id_ = 0;
  int32_t parent_ = 0;
  std::vector<int32_t> keys_;
};

}  // namespace bpfsig::sys::detail

#include "bpfsig/sys.h"

namespace bpfsig::sys::detail {

// r0 = 0; exit
inline const Bytes kReturnZero = {0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
// kReturnZero as a SYSCALL program named "bpfsig_probe": what the probes load.
ProgLoad trivial_syscall_prog();

}  // namespace bpfsig::sys::detail
