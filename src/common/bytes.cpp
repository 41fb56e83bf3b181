// SPDX-License-Identifier: Apache-2.0
#include "bpfsig/bytes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "bpfsig/atomic_files.h"
#include "bpfsig/error.h"

namespace bpfsig {

std::string to_hex(ByteView bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Bytes from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) throw Error(EINVAL, "hex", "hex string has an odd length (" + std::to_string(hex.size()) + ")");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit_value(hex[2 * i]), lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw Error(EINVAL, "hex", "not a hex digit at offset " + std::to_string(2 * i));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

namespace {

// Closes the descriptor on scope exit.
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

Error io_error(int err, const std::string& path, const std::string& what) {
  return Error(err, "io", path + ": " + what + ": " + std::strerror(err));
}

}  // namespace

Bytes read_file(const std::string& path, size_t max_size) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) throw io_error(errno, path, "cannot open");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw io_error(errno, path, "cannot stat");
  if (S_ISDIR(st.st_mode)) throw Error(EISDIR, "io", path + ": is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_size)
    throw Error(EFBIG, "input_too_large",
                path + ": " + std::to_string(st.st_size) + " bytes, over the limit of " + std::to_string(max_size));
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error(errno, path, "read failed");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size)
      throw Error(EFBIG, "input_too_large", path + ": over the limit of " + std::to_string(max_size) + " bytes");
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

static std::string temp_name_for(const std::string& path) {
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp.%d.%08x", static_cast<int>(::getpid()), rd());
  return path + suffix;
}

static std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

static std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A writer killed between creating its temporary file and renaming it leaves
// "NAME.tmp.PID.RANDOM" behind. Remove those of writers that no longer exist
// (never a live process's: kill(pid, 0) tells), so killed runs do not pile up.
static void remove_stale_temps(const std::string& path) {
  const std::string dir = parent_dir(path), prefix = base_name(path) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const char* p = name.c_str() + prefix.size();
    char* end = nullptr;
    long pid = std::strtol(p, &end, 10);
    if (end == p || *end != '.' || std::strlen(end + 1) != 8 || pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) ::unlinkat(::dirfd(d), name.c_str(), 0);
  }
  ::closedir(d);
}

// Writes data to a new temporary file beside path and fsyncs it; returns its name.
static std::string write_temp(const std::string& path, ByteView data, mode_t mode) {
  remove_stale_temps(path);
  const std::string tmp = temp_name_for(path);
  Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (f.fd < 0) throw io_error(errno, path, "cannot create temporary file");
  auto fail = [&](const char* what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(err, path, what);
  };
  // open() applies the umask; set the mode we were asked for exactly.
  if (::fchmod(f.fd, mode) != 0) throw fail("cannot set mode");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail("write failed");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(f.fd) != 0) throw fail("fsync failed");
  return tmp;
}

static void commit_temp(const std::string& tmp, const std::string& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw io_error(err, path, "cannot rename into place");
  }
  Fd dir(::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd >= 0) ::fsync(dir.fd);
}

void write_file_atomic(const std::string& path, ByteView data, mode_t mode) {
  commit_temp(write_temp(path, data, mode), path);
}

void write_files_atomic(const std::vector<std::pair<std::string, Bytes>>& files, mode_t mode) {
  std::vector<std::string> temps;
  try {
    for (const auto& [path, data] : files) temps.push_back(write_temp(path, data, mode));
  } catch (...) {
    for (const std::string& t : temps) ::unlink(t.c_str());
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    try {
      commit_temp(temps[i], files[i].first);
    } catch (...) {
      for (size_t j = i + 1; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      throw;
    }
  }
}

void write_file_atomic(const std::string& path, const std::string& text, mode_t mode) {
  write_file_atomic(path, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()), mode);
}

uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t load_le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }
void store_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace bpfsig
