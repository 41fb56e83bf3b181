// SPDX-License-Identifier: Apache-2.0
// Reading inputs and writing outputs: the only file I/O of libbpfsig and the
// bpfsig command (src/common/files.cpp, docs/hardening.md "Inputs" and
// "Outputs"). "-" is standard input or output, as for openssl and bpftool.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bpfsig/bytes.h"

namespace bpfsig {

// "-": standard input as an input, standard output as an output.
bool is_stdio(const std::string& path);
// True when writing path writes standard output: "-", or a path naming the
// pipe or terminal it goes to ("/dev/stdout"). A command then reports on
// standard error.
bool writes_stdout(const std::string& path);

// One input, opened and checked but not read yet. Only regular files are
// accepted (a FIFO or a device could block forever or never end), and
// standard input: "-", or a path naming the pipe or terminal stdin reads
// from ("/dev/stdin"). Opening never blocks: a FIFO is opened O_NONBLOCK and
// refused. Errors: ENOENT/EACCES "io" (cannot open), EISDIR "io",
// EINVAL "not_regular_file".
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // The path, or "stdin" for "-": what error messages name.
  const std::string& name() const { return name_; }
  const struct stat& status() const { return st_; }
  bool is_regular() const { return S_ISREG(st_.st_mode); }
  // The open descriptor, for a reader that takes a path (/proc/self/fd/N):
  // it reads the file that was checked, not whatever the path names later.
  int fd() const { return fd_; }
  // The first n bytes of a regular file, without consuming them; empty for
  // standard input, whose bytes can be read only once.
  Bytes peek(size_t n) const;
  // Everything, once. A regular file larger than max_size is refused (EFBIG,
  // "input_too_large") before a byte is read; a stream stops being read as
  // soon as it is past max_size. What was read is wiped on any error.
  Bytes read_all(size_t max_size);
  // The same into a string, for text formats: no second copy of a large file.
  std::string read_all_text(size_t max_size);
  // Everything, once, as read_all, but a large regular file is read into an
  // anonymous private map of its size instead of a heap buffer. Not a map of
  // the file: the kernel unmaps even private copies of a file's pages when it
  // is truncated (SIGBUS), so the bytes are our own pages and a writer of the
  // file cannot reach them. A file that does not read as its size (it changed
  // meanwhile) is read with read_all instead. The result owns its bytes.
  class Contents;
  Contents read_contents(size_t max_size);
  // A regular file's bytes [offset, offset + out.size()) into out, wherever
  // the file position is. A file that ends before them changed while it was
  // read: EIO "io", naming the file and the offset.
  void read_at(uint64_t offset, std::span<uint8_t> out) const;
  // True when a regular file has no byte at offset (it ends there or before).
  bool ends_by(uint64_t offset) const;

 private:
  template <class Buffer>
  void read_into(Buffer& out, size_t max_size);

  std::string name_;
  int fd_ = -1;
  bool owned_ = false;
  struct stat st_ {};
};

// Bytes read by InputFile::read_contents: an anonymous private map, or a buffer.
class InputFile::Contents {
 public:
  Contents() = default;
  explicit Contents(Bytes bytes) : buffer_(std::move(bytes)), view_(buffer_) {}
  Contents(void* map, size_t size);
  ~Contents();
  Contents(Contents&& other) noexcept;
  Contents& operator=(Contents&& other) noexcept;
  Contents(const Contents&) = delete;
  Contents& operator=(const Contents&) = delete;

  ByteView bytes() const { return view_; }
  bool mapped() const { return map_ != nullptr; }

 private:
  void release();
  void* map_ = nullptr;
  size_t map_size_ = 0;
  Bytes buffer_;
  ByteView view_;
};

// read_file (bytes.h) with a check of the open file's status before a byte is
// read (a private key's mode).
using InputCheck = std::function<void(const struct stat& st, const std::string& name)>;
Bytes read_file_checked(const std::string& path, size_t max_size, const InputCheck& check);

// Who may read a new output.
enum class Access {
  kShared,   // 0666 less the umask when new; a replaced file keeps its mode (and its owner, when root)
  kPrivate,  // exactly 0600, whatever the umask and the replaced file's mode (keys)
};

// Writes an output's content piece by piece (see Output::produce).
using ContentWriter = std::function<void(const std::function<void(ByteView)>& put)>;

struct Output {
  std::string path;  // "-" is standard output
  Bytes data;
  Access access = Access::kShared;
  bool replace = true;  // false: an existing file is refused (EEXIST, "output_exists"), never replaced
  // When set, the content is what produce hands to put, and data is not
  // used: a large output is written as it is made, never held whole.
  ContentWriter produce = nullptr;
};

// An output (shared access, replaced when it exists) whose content is produced as it is written.
inline Output produced_output(std::string path, ContentWriter produce) {
  Output o;
  o.path = std::move(path);
  o.produce = std::move(produce);
  return o;
}

// Writes every output, all or nothing as far as the files go:
// - a regular file (or a new path) is replaced atomically: the new content is
//   written and fsynced in an unnamed O_TMPFILE (a named temporary created
//   O_EXCL where the file system has no O_TMPFILE) in the same directory,
//   then put in place by rename; the directory is fsynced;
// - standard output, a character device, a FIFO or a socket is written in
//   place (never created, truncated or replaced); a write error is an error;
// - a directory (EISDIR) or a block device (EINVAL) is refused, "output_type".
// Every file is staged before the first stream is written and every stream is
// written before the first rename, so a failure up to then changes nothing
// (a stream already written cannot be taken back). With several files, a
// failed rename puts back the files already replaced (see commit_all).
void write_outputs(const std::vector<Output>& outputs);

// write_outputs of one output.
void write_file_atomic(const std::string& path, ByteView data, Access access = Access::kShared);
void write_file_atomic(const std::string& path, const std::string& text, Access access = Access::kShared);

// An input or output of a command, with the option that named it ("-k",
// "OBJECT") for the error message.
struct CommandFile {
  std::string option;
  std::string path;
};

// Refuses (EINVAL), before anything is read or written, a command that would
// write over one of its inputs ("output_is_input") or write two outputs to
// the same file ("output_conflict"), or that reads standard input for two
// inputs ("stdin_twice"). Files are compared by what they are, not by name:
// st_dev and st_ino for existing files (hard links, symlinks, "./x" and "x"
// are the same file), the canonical path after symlinks for new ones. Empty
// paths (options not given) are skipped.
void check_command_files(const std::vector<CommandFile>& inputs, const std::vector<CommandFile>& outputs);

}  // namespace bpfsig
