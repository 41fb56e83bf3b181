// SPDX-License-Identifier: Apache-2.0
#include "skel/genloader.h"

#include <bpf/libbpf.h>

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/limits.h"

namespace bpfsig::skel {

namespace {

// libbpf reports through one global print callback; collect what it says
// while we drive it, so an error can quote libbpf's own reason.
std::mutex g_libbpf_mutex;
std::string* g_libbpf_log = nullptr;

int collect_libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG || !g_libbpf_log) return 0;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  if (n > 0) g_libbpf_log->append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
  return 0;
}

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

std::string last_line(const std::string& log) {
  std::string s = log;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.find_last_of('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string sanitize_identifier(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return out;
}

}  // namespace

std::string skeleton_name_for(const std::string& object_path) {
  std::string base = object_path.substr(object_path.find_last_of('/') + 1);
  if (base.size() > 2 && base.compare(base.size() - 2, 2, ".o") == 0) base.resize(base.size() - 2);
  return sanitize_identifier(base);
}

std::string map_identifier(const std::string& libbpf_map_name, bool internal) {
  if (!internal) return sanitize_identifier(libbpf_map_name);
  // Internal maps are "<object prefix>.<section>": the skeleton names them by section.
  auto dot = libbpf_map_name.find('.');
  std::string section = dot == std::string::npos ? libbpf_map_name : libbpf_map_name.substr(dot + 1);
  return sanitize_identifier(section);
}

GeneratedLoader generate_loader(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_libbpf_mutex);
  std::string log;
  g_libbpf_log = &log;
  libbpf_print_fn_t previous = libbpf_set_print(collect_libbpf_print);
  struct Restore {
    libbpf_print_fn_t fn;
    ~Restore() {
      libbpf_set_print(fn);
      g_libbpf_log = nullptr;
    }
  } restore{previous};

  auto fail = [&](int err, const std::string& what) {
    std::string why = last_line(log);
    return Error(err, "bpf_object", path + ": " + what + (why.empty() ? "" : ": " + why));
  };

  // Read once, through the one input reader ("-" is standard input; a FIFO is refused, not waited on).
  const Bytes object = read_file(path, limits::kObjectFileSize);
  GeneratedLoader out;
  out.name = skeleton_name_for(is_stdio(path) ? "stdin" : path);
  // As bpftool: the object is named after the skeleton, which names the
  // internal maps ("prog_bpf.bss") and so shapes the metadata blob.
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = out.name.c_str());
  std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_mem(object.data(), object.size(), &open_opts));
  if (!obj) throw fail(errno ? errno : EINVAL, "not a loadable BPF object");

  bpf_map* map;
  bpf_object__for_each_map(map, obj.get())
      out.map_names.push_back(map_identifier(bpf_map__name(map), bpf_map__is_internal(map)));
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj.get()) out.prog_names.push_back(bpf_program__name(prog));
  if (out.prog_names.empty()) throw fail(ENOENT, "the object has no programs");

  gen_loader_opts opts{};
  opts.sz = sizeof(opts);
  if (int err = bpf_object__gen_loader(obj.get(), &opts)) throw fail(-err, "gen_loader setup failed");
  if (int err = bpf_object__load(obj.get())) throw fail(-err, "gen_loader failed");
  if (!opts.insns || opts.insns_sz == 0 || opts.insns_sz % 8 != 0)
    throw fail(EINVAL, "gen_loader produced no loader");
  const auto* insns = reinterpret_cast<const uint8_t*>(opts.insns);
  const auto* data = reinterpret_cast<const uint8_t*>(opts.data);
  out.insns.assign(insns, insns + opts.insns_sz);
  out.data.assign(data, data + opts.data_sz);
  return out;
}

}  // namespace bpfsig::skel
