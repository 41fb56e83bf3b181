// SPDX-License-Identifier: Apache-2.0
// Every file bpfsig reads or writes goes through this file: InputFile and
// read_file for inputs, write_outputs for outputs, check_command_files for a
// command's files taken together (docs/hardening.md).
#include "bpfsig/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <utility>

#include "bpfsig/error.h"

namespace bpfsig {

namespace {

// Owns a descriptor; closes it on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

Error io_error(int err, const std::string& path, const std::string& what) {
  return Error(err, "io", path + ": " + what + ": " + std::strerror(err));
}

bool same_inode(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// True when st is the pipe or terminal standard input reads from: a path like
// "/dev/stdin" then means "-". (A regular file on stdin is read by its path
// like any other file.)
bool is_stdin_stream(const struct stat& st) {
  struct stat in {};
  return ::fstat(STDIN_FILENO, &in) == 0 && !S_ISREG(in.st_mode) && same_inode(in, st);
}

std::string file_type_name(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

Error too_large(const std::string& name, size_t max_size) {
  return Error(EFBIG, "input_too_large", name + ": over the limit of " + std::to_string(max_size) + " bytes");
}

}  // namespace

bool is_stdio(const std::string& path) { return path == "-"; }

bool writes_stdout(const std::string& path) {
  if (is_stdio(path)) return true;
  struct stat st {}, out {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && ::fstat(STDOUT_FILENO, &out) == 0 && same_inode(st, out);
}

// ---- inputs -------------------------------------------------------------------

InputFile::InputFile(const std::string& path) : name_(is_stdio(path) ? "stdin" : path) {
  if (is_stdio(path)) {
    fd_ = STDIN_FILENO;
    if (::fstat(fd_, &st_) != 0) throw io_error(errno, name_, "cannot stat");
    if (S_ISDIR(st_.st_mode)) throw Error(EISDIR, "io", "stdin: is a directory");
    return;
  }
  // O_NONBLOCK: opening a FIFO without a writer must not wait for one (it is refused below).
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0) throw io_error(errno, path, "cannot open");
  owned_ = true;
  if (::fstat(fd_, &st_) != 0) throw io_error(errno, path, "cannot stat");
  if (S_ISDIR(st_.st_mode)) throw Error(EISDIR, "io", path + ": is a directory");
  if (!S_ISREG(st_.st_mode) && !is_stdin_stream(st_))
    throw Error(EINVAL, "not_regular_file",
                path + ": is " + file_type_name(st_.st_mode) + ", not a regular file (use - for standard input)");
  // Reads of standard input's pipe must wait for data like any read of "-".
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) throw io_error(errno, path, "cannot open");
}

InputFile::~InputFile() {
  if (owned_) ::close(fd_);
}

Bytes InputFile::peek(size_t n) const {
  if (!is_regular()) return {};
  Bytes head(n);
  ssize_t got = ::pread(fd_, head.data(), n, 0);
  head.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return head;
}

template <class Buffer>
void InputFile::read_into(Buffer& out, size_t max_size) {
  if (is_regular()) {
    if (static_cast<uint64_t>(st_.st_size) > max_size)
      throw Error(EFBIG, "input_too_large",
                  name_ + ": " + std::to_string(st_.st_size) + " bytes, over the limit of " + std::to_string(max_size));
    out.reserve(static_cast<size_t>(st_.st_size));  // one allocation of the file's size, no doubling
  }
  char buf[65536];
  try {
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw io_error(errno, name_, "read failed");
      if (n == 0) break;
      // A stream (or a file growing while read) stops here, not at its end.
      if (out.size() + static_cast<size_t>(n) > max_size) throw too_large(name_, max_size);
      out.insert(out.end(), buf, buf + n);
    }
  } catch (...) {
    // Keys are read here too: nothing read is left in freed memory on an error.
    ::explicit_bzero(buf, sizeof buf);
    if (!out.empty()) ::explicit_bzero(out.data(), out.size());
    throw;
  }
  ::explicit_bzero(buf, sizeof buf);
}

Bytes InputFile::read_all(size_t max_size) {
  Bytes out;
  read_into(out, max_size);
  return out;
}

std::string InputFile::read_all_text(size_t max_size) {
  std::string out;
  read_into(out, max_size);
  return out;
}

// ---- mapped inputs ----------------------------------------------------------------

namespace {

// Below this, a heap buffer is as good, and a small file is most inputs.
constexpr size_t kMapThreshold = size_t{1} << 20;

// The whole file read into an anonymous private map of its size. Not a map
// of the file: the kernel unmaps even the private copy-on-write pages of a
// file map when the file is truncated (SIGBUS at the next access), so no map
// of an input file can be kept safe from a writer; pages of our own can. The
// map, unlike a heap buffer of that size, goes back to the system whole when
// it is released. nullptr when the file did not read as size bytes (it
// shrank, or grew: the caller reads it with read_all instead).
void* read_into_private_map(int fd, size_t size) {
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (map == MAP_FAILED) return nullptr;
  auto* bytes = static_cast<uint8_t*>(map);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, bytes + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  uint8_t more = 0;
  const bool exact = done == size && ::pread(fd, &more, 1, static_cast<off_t>(size)) == 0;
  if (!exact || ::mprotect(map, size, PROT_READ) != 0) {
    ::munmap(map, size);
    return nullptr;
  }
  return map;
}

}  // namespace

InputFile::Contents::Contents(void* map, size_t size)
    : map_(map), map_size_(size), view_(static_cast<const uint8_t*>(map), size) {}

InputFile::Contents::~Contents() { release(); }

void InputFile::Contents::release() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
  buffer_.clear();
  view_ = {};
}

InputFile::Contents::Contents(Contents&& other) noexcept { *this = std::move(other); }

InputFile::Contents& InputFile::Contents::operator=(Contents&& other) noexcept {
  if (this == &other) return *this;
  release();
  map_ = std::exchange(other.map_, nullptr);
  map_size_ = std::exchange(other.map_size_, 0);
  const bool buffered = map_ == nullptr;
  buffer_ = std::move(other.buffer_);
  view_ = buffered ? ByteView(buffer_) : other.view_;
  other.buffer_.clear();
  other.view_ = {};
  return *this;
}

InputFile::Contents InputFile::read_contents(size_t max_size) {
  if (is_regular() && static_cast<uint64_t>(st_.st_size) > max_size)
    throw Error(EFBIG, "input_too_large",
                name_ + ": " + std::to_string(st_.st_size) + " bytes, over the limit of " + std::to_string(max_size));
  const size_t size = is_regular() ? static_cast<size_t>(st_.st_size) : 0;
  if (size >= kMapThreshold)
    if (void* map = read_into_private_map(fd_, size)) return Contents(map, size);
  return Contents(read_all(max_size));
}

void InputFile::read_at(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error(errno, name_, "read failed");
    if (n == 0)
      throw Error(EIO, "io", name_ + ": offset " + std::to_string(offset + done) +
                                 ": the file ends early (it changed while it was read)");
    done += static_cast<size_t>(n);
  }
}

bool InputFile::ends_by(uint64_t offset) const {
  uint8_t byte = 0;
  ssize_t n;
  do n = ::pread(fd_, &byte, 1, static_cast<off_t>(offset));
  while (n < 0 && errno == EINTR);
  if (n < 0) throw io_error(errno, name_, "read failed");
  return n == 0;
}

Bytes read_file(const std::string& path, size_t max_size) { return InputFile(path).read_all(max_size); }

Bytes read_file_checked(const std::string& path, size_t max_size, const InputCheck& check) {
  InputFile in(path);
  check(in.status(), in.name());  // before a byte is read
  return in.read_all(max_size);
}

// ---- outputs ------------------------------------------------------------------

namespace {

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string random_suffix() {
  thread_local std::random_device rd;  // batch sign writes from several threads
  char s[24];
  std::snprintf(s, sizeof s, "%08x%08x", rd(), rd());
  return s;
}

void write_all(int fd, ByteView data, const std::string& name) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error(errno, name, "write failed");
    done += static_cast<size_t>(n);
  }
}

// An output's content: its bytes, or what its producer hands over.
void write_content(int fd, const Output& o, const std::string& name) {
  if (!o.produce) return write_all(fd, o.data, name);
  o.produce([&](ByteView piece) { write_all(fd, piece, name); });
}

// What an output path names, looked at before anything is written.
enum class TargetKind { kStdout, kStream, kFile };

struct Target {
  TargetKind kind = TargetKind::kFile;
  bool exists = false;
  struct stat st {};
  // The name a file's new content is put in place under: the output path,
  // or where a symbolic link there leads. The link itself is never replaced
  // (/dev/stderr is /dev's link to /proc/self/fd/2).
  std::string place;
};

// Where a symbolic link at an existing output path leads, else the path.
std::string placement_of(const std::string& path) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0 || !S_ISLNK(link.st_mode)) return path;
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) throw io_error(errno, path, "cannot resolve the symbolic link");
  std::string place(resolved);
  std::free(resolved);
  return place;
}

Target examine_output(const Output& o) {
  Target t;
  t.place = o.path;
  if (writes_stdout(o.path)) {  // "-", /dev/stdout, or the very file standard output goes to: written in place on it
    t.kind = TargetKind::kStdout;
    return t;
  }
  if (::stat(o.path.c_str(), &t.st) != 0) {
    if (errno != ENOENT) throw io_error(errno, o.path, "cannot stat");
    return t;  // a new file (a missing directory fails when the temporary file is created)
  }
  t.exists = true;
  if (S_ISDIR(t.st.st_mode)) throw Error(EISDIR, "output_type", o.path + ": is a directory, not an output file");
  if (S_ISBLK(t.st.st_mode))
    throw Error(EINVAL, "output_type", o.path + ": is a block device: bpfsig does not write to block devices");
  if (!o.replace)
    throw Error(EEXIST, "output_exists", o.path + ": already exists; it is not replaced (keygen: --force replaces it)");
  t.kind = S_ISREG(t.st.st_mode) ? TargetKind::kFile : TargetKind::kStream;
  if (t.kind == TargetKind::kFile) t.place = placement_of(o.path);
  return t;
}

// Standard output, a character device, a FIFO or a socket: written in place,
// without O_CREAT or O_TRUNC, so the node stays what it is (/dev/full stays
// /dev/full and its ENOSPC is an error).
void write_stream(const Output& o, const Target& t) {
  if (t.kind == TargetKind::kStdout) {
    std::cout.flush();  // what the command printed before comes first
    std::fflush(stdout);
    write_content(STDOUT_FILENO, o, "stdout");
    return;
  }
  Fd fd(::open(o.path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.ok()) throw io_error(errno, o.path, "cannot open");
  struct stat now {};
  if (::fstat(fd.get(), &now) != 0 || !same_inode(now, t.st) || S_ISREG(now.st_mode))
    throw Error(EINVAL, "output_type", o.path + ": was replaced by another file before bpfsig could write it");
  write_content(fd.get(), o, o.path);
}

// The new content of one regular output, written and fsynced beside it but
// not in place yet. The destructor removes what this process created and did
// not put in place: its own temporary file (an O_TMPFILE has no name at all),
// never another process's.
class StagedFile {
 public:
  StagedFile(const Output& o, const Target& t) : out_(&o), target_(t) {
    dir_ = Fd(::open(parent_dir(t.place).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_.ok()) throw io_error(errno, o.path, "cannot open its directory");
    create_temp();
    try {
      set_mode_and_owner();
      write_content(file_.get(), o, o.path);
      if (::fsync(file_.get()) != 0) throw io_error(errno, o.path, "fsync failed");
    } catch (...) {
      remove_temp();  // no destructor runs for an object whose constructor throws
      throw;
    }
  }
  ~StagedFile() {
    remove_temp();
    if (!backup_.empty()) ::unlinkat(dir_.get(), backup_.c_str(), 0);
  }
  StagedFile(StagedFile&& other) noexcept
      : out_(other.out_), target_(other.target_), dir_(std::move(other.dir_)), file_(std::move(other.file_)),
        temp_(std::exchange(other.temp_, {})), backup_(std::exchange(other.backup_, {})) {}
  StagedFile& operator=(StagedFile&&) = delete;

  // A hard link to the file this one replaces, so that commit_all can put it
  // back if a later output cannot be renamed into place.
  void keep_backup() {
    if (!target_.exists) return;
    backup_ = link_unique(dir_.get(), base().c_str(), ".bak.");
  }

  // Puts the new content in place: rename over the old file (atomic), or for
  // a no-replace output a link, which fails with EEXIST if the name exists.
  void place() {
    if (temp_.empty()) {  // an O_TMPFILE: give it a name first
      if (!target_.exists && link_fd_to(base()) == 0) return;
      if (!out_->replace) throw exists_error(errno);
      temp_ = link_fd_unique();
    }
    if (!out_->replace) {
      if (::linkat(dir_.get(), temp_.c_str(), dir_.get(), base().c_str(), 0) != 0) throw exists_error(errno);
      ::unlinkat(dir_.get(), temp_.c_str(), 0);
    } else if (::renameat(dir_.get(), temp_.c_str(), dir_.get(), base().c_str()) != 0) {
      throw io_error(errno, out_->path, "cannot rename into place");
    }
    temp_.clear();
  }

  // Undoes place(): the old file back from its backup, or a new file removed.
  void restore() {
    if (!backup_.empty()) {
      if (::renameat(dir_.get(), backup_.c_str(), dir_.get(), base().c_str()) == 0) backup_.clear();
    } else {
      ::unlinkat(dir_.get(), base().c_str(), 0);
    }
  }

  void sync_dir() const { ::fsync(dir_.get()); }

 private:
  std::string base() const { return base_name(target_.place); }

  void remove_temp() {
    if (!temp_.empty()) ::unlinkat(dir_.get(), temp_.c_str(), 0);
    temp_.clear();
  }

  Error exists_error(int err) const {
    if (err == EEXIST) return Error(EEXIST, "output_exists", out_->path + ": already exists; it is not replaced");
    return io_error(err, out_->path, "cannot link into place");
  }

  // O_TMPFILE: the content has no name until it is complete, so a killed
  // writer leaves nothing behind. Where the file system has no O_TMPFILE, a
  // named temporary created O_EXCL: certainly this process's own file.
  void create_temp() {
    const mode_t mode = out_->access == Access::kPrivate ? 0600 : 0666;  // less the umask, as open(2) does
    file_ = Fd(::openat(dir_.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
    if (file_.ok()) return;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw io_error(errno, out_->path, "cannot create a temporary file");
    for (int attempt = 0; attempt < 100 && !file_.ok(); ++attempt) {
      std::string name = base() + ".tmp." + random_suffix();
      file_ = Fd(::openat(dir_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
      if (file_.ok()) temp_ = name;
      else if (errno != EEXIST) throw io_error(errno, out_->path, "cannot create a temporary file");
    }
    if (!file_.ok()) throw io_error(EEXIST, out_->path, "cannot create a temporary file");
  }

  // A key is exactly 0600. Anything else is 0666 less the umask when new (what
  // open gave it), and keeps the mode and, when root can, the owner of the
  // file it replaces: replacing a 0600 file must not make it readable.
  void set_mode_and_owner() {
    if (out_->access == Access::kPrivate) {
      if (::fchmod(file_.get(), 0600) != 0) throw io_error(errno, out_->path, "cannot set mode");
      return;
    }
    if (!target_.exists) return;
    if (::geteuid() == 0 && ::fchown(file_.get(), target_.st.st_uid, target_.st.st_gid) != 0)
      throw io_error(errno, out_->path, "cannot set owner");
    if (::fchmod(file_.get(), target_.st.st_mode & 07777) != 0) throw io_error(errno, out_->path, "cannot set mode");
  }

  int link_fd_to(const std::string& name) const {
    const std::string proc = "/proc/self/fd/" + std::to_string(file_.get());
    return ::linkat(AT_FDCWD, proc.c_str(), dir_.get(), name.c_str(), AT_SYMLINK_FOLLOW);
  }

  std::string link_fd_unique() const {
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string name = base() + ".tmp." + random_suffix();
      if (link_fd_to(name) == 0) return name;
      if (errno != EEXIST) throw io_error(errno, out_->path, "cannot link the temporary file");
    }
    throw io_error(EEXIST, out_->path, "cannot link the temporary file");
  }

  std::string link_unique(int dir, const char* existing, const char* tag) const {
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string name = base() + tag + random_suffix();
      if (::linkat(dir, existing, dir, name.c_str(), 0) == 0) return name;
      if (errno != EEXIST) throw io_error(errno, out_->path, "cannot keep a backup link of the old file");
    }
    throw io_error(EEXIST, out_->path, "cannot keep a backup link of the old file");
  }

  const Output* out_;
  Target target_;
  Fd dir_, file_;
  std::string temp_;    // the temporary file's name in dir_, "" while it is an unnamed O_TMPFILE
  std::string backup_;  // the replaced file's backup link, "" when there is none
};

// Several files all or nothing. Renames within one directory cannot fail for
// a missing or unwritable directory (the temporary file was just created
// there), but they can for other reasons (a sticky directory, a name turned
// into a directory meanwhile). So before the first rename every file about to
// be replaced gets a backup hard link, and a failed rename renames the
// backups of the files already replaced back into place and removes the new
// ones. A single file needs none of this: its rename is atomic.
void commit_all(std::vector<StagedFile>& files) {
  if (files.size() > 1)
    for (StagedFile& f : files) f.keep_backup();
  for (size_t i = 0; i < files.size(); ++i) {
    try {
      files[i].place();
    } catch (...) {
      for (size_t j = i; j-- > 0;) files[j].restore();
      throw;
    }
  }
  for (StagedFile& f : files) f.sync_dir();
}

}  // namespace

void write_outputs(const std::vector<Output>& outputs) {
  std::vector<Target> targets;
  for (const Output& o : outputs) targets.push_back(examine_output(o));
  std::vector<StagedFile> staged;
  staged.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i)
    if (targets[i].kind == TargetKind::kFile) staged.emplace_back(outputs[i], targets[i]);
  for (size_t i = 0; i < outputs.size(); ++i)
    if (targets[i].kind != TargetKind::kFile) write_stream(outputs[i], targets[i]);
  commit_all(staged);
}

void write_file_atomic(const std::string& path, ByteView data, Access access) {
  write_outputs({Output{path, Bytes(data.begin(), data.end()), access}});
}

void write_file_atomic(const std::string& path, const std::string& text, Access access) {
  write_file_atomic(path, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()), access);
}

// ---- a command's files together ---------------------------------------------

namespace {

// What a path names: the inode of an existing file, else the canonical path
// after symlinks (where the file would be created).
struct Identity {
  bool exists = false;
  struct stat st {};
  std::string canonical;
};

Identity identify(const std::string& path) {
  Identity id;
  if (::stat(path.c_str(), &id.st) == 0) {
    id.exists = true;
    return id;
  }
  std::error_code ec;
  id.canonical = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) id.canonical = std::filesystem::absolute(path, ec).lexically_normal().string();
  return id;
}

bool same_file(const Identity& a, const Identity& b) {
  if (a.exists != b.exists) return false;
  return a.exists ? same_inode(a.st, b.st) : a.canonical == b.canonical;
}

bool reads_stdin(const CommandFile& f) {
  if (is_stdio(f.path)) return true;
  struct stat st {};
  return ::stat(f.path.c_str(), &st) == 0 && is_stdin_stream(st);
}

std::string describe(const CommandFile& f) { return f.option + " " + f.path; }

void check_stdin_once(const std::vector<CommandFile>& inputs) {
  const CommandFile* first = nullptr;
  for (const CommandFile& f : inputs) {
    if (f.path.empty() || !reads_stdin(f)) continue;
    if (first)
      throw Error(EINVAL, "stdin_twice",
                  "standard input is given for two inputs (" + describe(*first) + ", " + describe(f) +
                      "): it can be read only once");
    first = &f;
  }
}

}  // namespace

void check_command_files(const std::vector<CommandFile>& inputs, const std::vector<CommandFile>& all_outputs) {
  check_stdin_once(inputs);
  std::vector<CommandFile> outputs;  // the options given: an empty path is an output not asked for
  for (const CommandFile& out : all_outputs)
    if (!out.path.empty()) outputs.push_back(out);
  std::vector<Identity> output_ids;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const CommandFile& out = outputs[i];
    output_ids.push_back(is_stdio(out.path) ? Identity{} : identify(out.path));
    for (size_t j = 0; j < i; ++j) {
      const bool both_stdout = is_stdio(out.path) && is_stdio(outputs[j].path);
      const bool one_stdout = is_stdio(out.path) || is_stdio(outputs[j].path);
      if (both_stdout || (!one_stdout && same_file(output_ids[i], output_ids[j])))
        throw Error(EINVAL, "output_conflict",
                    out.path + ": two outputs (" + outputs[j].option + ", " + out.option + ") are the same file");
    }
    if (is_stdio(out.path)) continue;  // standard output is never an input file
    for (const CommandFile& in : inputs) {
      if (in.path.empty() || is_stdio(in.path)) continue;
      if (same_file(output_ids[i], identify(in.path)))
        throw Error(EINVAL, "output_is_input",
                    out.path + ": the output (" + out.option + ") is the input " + describe(in) +
                        ": refusing to write over it");
    }
  }
}

}  // namespace bpfsig
