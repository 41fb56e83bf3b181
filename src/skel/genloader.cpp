// SPDX-License-Identifier: Apache-2.0
#include "skel/genloader.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/limits.h"
#include "skel/libbpf_log.h"

namespace bpfsig::skel {

namespace {

// libbpf's object code is not documented as thread-safe: one object at a
// time (batch signing generates loaders from several threads).
std::mutex g_libbpf_mutex;

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

// libbpf's summary lines after the real reason: they name the object or
// repeat the errno, so they explain nothing the message does not say.
bool is_summary_line(const std::string& line) {
  static const char* const kSummaries[] = {"failed to load object", "failed to load BPF skeleton", "failed to open "};
  for (const char* summary : kSummaries)
    if (line.find(summary) != std::string::npos) return true;
  return line.find("': failed to load: -") != std::string::npos;  // "prog 'x': failed to load: -22"
}

// The last warning that says why, without libbpf's "libbpf: " prefix.
std::string last_meaningful_line(const std::string& log) {
  std::string reason;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    start = end + 1;
    if (line.rfind("libbpf: ", 0) == 0) line.erase(0, 8);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty() && !is_summary_line(line)) reason = line;
  }
  return reason;
}

// libbpf's own codes (LIBBPF_ERRNO__*, 4000-4013) are no errnos: the one
// place they enter bpfsig maps each to the errno that says the same (table
// also in docs/errors.md, kind bpf_object).
//   LIBELF   4000 libelf failed to read the file        EIO
//   FORMAT   4001 not a valid BPF ELF object            ENOEXEC
//   KVERSION 4002 bad or missing 'version' section      EINVAL
//   ENDIAN   4003 object for the other byte order       ENOEXEC
//   INTERNAL 4004 libbpf internal error                 EIO
//   RELOC    4005 a relocation could not be applied     EINVAL
//   LOAD     4006 program load failed, reason unknown   EINVAL
//   VERIFY   4007 the verifier refused the program      EACCES
//   PROG2BIG 4008 program too large                     E2BIG
//   KVER     4009 wrong kernel version                  EINVAL
//   PROGTYPE 4010 program type not supported            EOPNOTSUPP
//   WRNGPID  4011 netlink: wrong pid                    EPROTO
//   INVSEQ   4012 netlink: bad sequence                 EPROTO
//   NLPARSE  4013 netlink: cannot parse                 EPROTO
// Anything else is already an errno (a 0 becomes EINVAL: libbpf failed
// without saying why).
int errno_of_libbpf(int err) {
  err = err < 0 ? -err : err;
  switch (err) {
    case 0: return EINVAL;
    case LIBBPF_ERRNO__LIBELF: return EIO;
    case LIBBPF_ERRNO__FORMAT: return ENOEXEC;
    case LIBBPF_ERRNO__KVERSION: return EINVAL;
    case LIBBPF_ERRNO__ENDIAN: return ENOEXEC;
    case LIBBPF_ERRNO__INTERNAL: return EIO;
    case LIBBPF_ERRNO__RELOC: return EINVAL;
    case LIBBPF_ERRNO__LOAD: return EINVAL;
    case LIBBPF_ERRNO__VERIFY: return EACCES;
    case LIBBPF_ERRNO__PROG2BIG: return E2BIG;
    case LIBBPF_ERRNO__KVER: return EINVAL;
    case LIBBPF_ERRNO__PROGTYPE: return EOPNOTSUPP;
    case LIBBPF_ERRNO__WRNGPID:
    case LIBBPF_ERRNO__INVSEQ:
    case LIBBPF_ERRNO__NLPARSE: return EPROTO;
    default: return err;
  }
}

std::string sanitize_identifier(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return out;
}

// bpftool's MAX_OBJ_NAME_LEN - 1: get_obj_name() keeps this much of the file
// name, before it strips ".o".
constexpr size_t kBpftoolObjNameMax = 63;

// gen_loader keeps every program fd in its stack frame, which has room for
// limits::kLoaderPrograms; the loader it makes for more is one the verifier
// refuses, so it is not signed.
void check_program_count(const std::string& path, size_t programs) {
  if (programs <= limits::kLoaderPrograms) return;
  throw Error(E2BIG, "too_many_programs",
              path + ": " + std::to_string(programs) + " programs; a light skeleton's loader holds at most " +
                  std::to_string(limits::kLoaderPrograms) + " (libbpf gen_loader's MAX_USED_PROGS)");
}

// ---- bpftool 7.8's skeleton API (tools/bpf/bpftool/gen.c), from the object ----

// The section identifier a DATASEC's name gives (".data.foo" -> "data_foo"),
// or "" for sections the skeleton does not expose.
std::string datasec_ident(const std::string& sec) {
  if (sec == ".addr_space.1") return "arena";
  for (const char* prefix : {".data", ".rodata", ".bss", ".percpu", ".kconfig"})
    if (sec.rfind(prefix, 0) == 0) return sanitize_identifier(sec.substr(1));
  return "";
}

const btf_type* datasec_for(const btf* b, const std::string& ident) {
  if (!b) return nullptr;
  for (uint32_t id = 1; id < btf__type_cnt(b); ++id) {
    const btf_type* t = btf__type_by_id(b, id);
    if (btf_is_datasec(t) && datasec_ident(btf__name_by_offset(b, t->name_off)) == ident) return t;
  }
  return nullptr;
}

// A failure of libbpf's BTF code while describing the skeleton API.
Error btf_failure(int err, const std::string& what) { return Error(errno_of_libbpf(err), "bpf_object", what); }

void append_printf(void* ctx, const char* fmt, va_list args) {
  char buf[512];
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  auto* out = static_cast<std::string*>(ctx);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(big.data(), big.size(), fmt, args);
  out->append(big.data(), static_cast<size_t>(n));
}

// The members of `struct SKEL__SEC { ... }`: every non-static variable at its
// BTF offset, padding where a 4-byte-aligned (32-bit host) layout would not
// put it there, as bpftool does.
void describe_datasec(const btf* b, const btf_type* sec, SkeletonApi::DataSection& out, const std::string& what) {
  std::string text;
  btf_dump* d = btf_dump__new(b, append_printf, &text, nullptr);
  if (!d) throw btf_failure(errno, what + ": btf_dump failed");
  struct Free {
    btf_dump* d;
    ~Free() { btf_dump__free(d); }
  } free_dump{d};
  const bool strip_mods = btf__name_by_offset(b, sec->name_off) != std::string(".kconfig");
  const btf_var_secinfo* var = btf_var_secinfos(sec);
  int off = 0, pads = 0;
  for (uint32_t i = 0; i < static_cast<uint32_t>(btf_vlen(sec)); ++i, ++var) {
    const btf_type* v = btf__type_by_id(b, var->type);
    if (btf_var(v)->linkage == BTF_VAR_STATIC) continue;
    const int need = static_cast<int>(var->offset);
    if (off > need) throw btf_failure(EINVAL, what + ": variable #" + std::to_string(i) + " overlaps the one before");
    int align = btf__align_of(b, v->type);
    if (align <= 0) throw btf_failure(EINVAL, what + ": no alignment for variable #" + std::to_string(i));
    align = std::min(align, 4);
    if ((off + align - 1) / align * align != need)
      text += "\t\tchar __pad" + std::to_string(pads++) + "[" + std::to_string(need - off) + "];\n";
    const std::string name = sanitize_identifier(btf__name_by_offset(b, v->name_off));
    LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts, .field_name = name.c_str(), .indent_level = 2,
                .strip_mods = strip_mods);
    text += "\t\t";
    if (int err = btf_dump__emit_type_decl(d, v->type, &opts)) throw btf_failure(err, what + ": btf_dump failed");
    text += ";\n";
    const long size = btf__resolve_size(b, v->type);
    if (size >= 0) out.sizes.emplace_back(name, size);
    off = need + static_cast<int>(var->size);
  }
  out.members = text;
}

size_t mmap_size_of(const bpf_map* map) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGE_SIZE));
  size_t size = (static_cast<size_t>(bpf_map__value_size(map)) + 7) / 8 * 8 * bpf_map__max_entries(map);
  return (size + page - 1) / page * page;
}

// What bpftool 7.8 writes into `SKEL__PROG__attach` for a program.
std::string attach_expression(const bpf_program* prog) {
  switch (bpf_program__type(prog)) {
    case BPF_PROG_TYPE_RAW_TRACEPOINT: {
      const char* sec = bpf_program__section_name(prog);
      const char* slash = sec ? std::strchr(sec, '/') : nullptr;
      return std::string("skel_raw_tracepoint_open(\"") + (slash ? slash + 1 : "") + "\", prog_fd)";
    }
    case BPF_PROG_TYPE_TRACING:
    case BPF_PROG_TYPE_LSM:
      if (bpf_program__expected_attach_type(prog) == BPF_TRACE_ITER) return "skel_link_create(prog_fd, 0, BPF_TRACE_ITER)";
      return "skel_raw_tracepoint_open(NULL, prog_fd)";
    default: return "((void)prog_fd, 0); /* auto-attach not supported */";
  }
}

SkeletonApi describe_api(bpf_object* obj, const std::string& what) {
  SkeletonApi api;
  api.present = true;
  const btf* b = bpf_object__btf(obj);
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (!bpf_map__is_internal(map) || bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_ARRAY) continue;
    if (!(bpf_map__map_flags(map) & BPF_F_MMAPABLE)) continue;
    SkeletonApi::DataSection sec;
    sec.ident = map_identifier(bpf_map__name(map), true);
    sec.mmap_size = mmap_size_of(map);
    sec.read_only = bpf_map__map_flags(map) & BPF_F_RDONLY_PROG;
    if (const btf_type* t = datasec_for(b, sec.ident)) describe_datasec(b, t, sec, what + ": section " + sec.ident);
    api.sections.push_back(std::move(sec));
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj) api.attach.push_back(attach_expression(prog));
  return api;
}

// After a gen_loader load, the images libbpf keeps of the object's data
// sections (each internal map's initial value, a shared anonymous mapping
// it unmaps at close) have been copied into the loader's blob and are not
// read again. Their pages are released now (MADV_REMOVE frees a shared
// anonymous mapping's backing; the range reads as zeroes after), so a large
// .data is not held a third time while the blob is copied out. bpf_object's
// API hands these images out writable (bpf_map__initial_value); zeroing one
// after load changes nothing libbpf does with it.
void release_section_images(bpf_object* obj) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (!bpf_map__is_internal(map)) continue;
    size_t size = 0;
    void* image = bpf_map__initial_value(map, &size);
    if (image != nullptr) ::madvise(image, mmap_size_of(map), MADV_REMOVE);  // best effort: memory, not meaning
  }
}

// The object, opened by libbpf from one read of the file ("-" is standard
// input; a FIFO is refused, not waited on). The bytes read are released as
// soon as libbpf has opened them: bpf_object_open copies what it keeps (BTF,
// instructions, section data into the maps' images) and ends its ELF handle
// before it returns, so a large object is not held through the load.
template <class Fail>
std::unique_ptr<bpf_object, ObjectCloser> open_object(const std::string& path, const std::string& name, const Fail& fail) {
  InputFile in(path);
  const InputFile::Contents object = in.read_contents(limits::kObjectFileSize);
  // As bpftool: the object is named after the skeleton, which names the
  // internal maps ("prog_bpf.bss") and so shapes the metadata blob.
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = name.c_str());
  std::unique_ptr<bpf_object, ObjectCloser> obj(bpf_object__open_mem(object.bytes().data(), object.bytes().size(), &open_opts));
  if (!obj) throw fail(errno ? errno : EINVAL, "not a loadable BPF object");
  return obj;
}

}  // namespace

bool is_c_identifier(const std::string& name) {
  static const char* const kKeywords[] = {
      "auto",     "break",   "case",     "char",     "const",    "continue", "default",  "do",
      "double",   "else",    "enum",     "extern",   "float",    "for",      "goto",     "if",
      "inline",   "int",     "long",     "register", "restrict", "return",   "short",    "signed",
      "sizeof",   "static",  "struct",   "switch",   "typedef",  "union",    "unsigned", "void",
      "volatile", "while",   "_Bool",    "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic",
      "_Generic", "_Noreturn", "_Static_assert", "_Thread_local"};
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  for (const char* k : kKeywords)
    if (name == k) return false;
  return true;
}

std::string skeleton_name_for(const std::string& object_path) {
  // bpftool's get_obj_name(): the base name, cut to 63 characters, without
  // ".o", every character that cannot be in an identifier made '_'.
  std::string base = object_path.substr(object_path.find_last_of('/') + 1).substr(0, kBpftoolObjNameMax);
  if (base.size() > 2 && base.compare(base.size() - 2, 2, ".o") == 0) base.resize(base.size() - 2);
  std::string name = sanitize_identifier(base);
  // bpftool stops there, so "1abc.bpf.o" gives `struct 1abc_bpf`, which no C
  // compiler takes. A leading '_' makes it an identifier and keeps the name
  // recognisable; a keyword ("int.o") gets the same treatment.
  if (!is_c_identifier(name)) name.insert(0, "_");
  return name;
}

std::string map_identifier(const std::string& libbpf_map_name, bool internal) {
  if (!internal) return sanitize_identifier(libbpf_map_name);
  // Internal maps are "<object prefix>.<section>": the skeleton names them by section.
  auto dot = libbpf_map_name.find('.');
  std::string section = dot == std::string::npos ? libbpf_map_name : libbpf_map_name.substr(dot + 1);
  return sanitize_identifier(section);
}

GeneratedLoader generate_loader(const std::string& path, const std::string& name, bool signed_loader) {
  std::lock_guard<std::mutex> lock(g_libbpf_mutex);
  LibbpfLog log;  // libbpf's reasons, for the errors below

  auto fail = [&](int err, const std::string& what) {
    std::string why = last_meaningful_line(log.text());
    return Error(errno_of_libbpf(err), "bpf_object", path + ": " + what + (why.empty() ? "" : ": " + why));
  };

  GeneratedLoader out;
  out.name = name.empty() ? skeleton_name_for(is_stdio(path) ? "stdin" : path) : name;
  std::unique_ptr<bpf_object, ObjectCloser> obj = open_object(path, out.name, fail);

  bpf_map* map;
  bpf_object__for_each_map(map, obj.get())
      out.map_names.push_back(map_identifier(bpf_map__name(map), bpf_map__is_internal(map)));
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj.get()) out.prog_names.push_back(bpf_program__name(prog));
  if (out.prog_names.empty()) throw fail(ENOENT, "the object has no programs");
  check_program_count(path, out.prog_names.size());

  gen_loader_opts opts{};
  opts.sz = sizeof(opts);
  opts.gen_hash = signed_loader;
  if (int err = bpf_object__gen_loader(obj.get(), &opts)) throw fail(-err, "gen_loader setup failed");
  if (int err = bpf_object__load(obj.get())) throw fail(-err, "gen_loader failed");
  if (!opts.insns || opts.insns_sz == 0 || opts.insns_sz % 8 != 0)
    throw fail(EINVAL, "gen_loader produced no loader");
  const auto* insns = reinterpret_cast<const uint8_t*>(opts.insns);
  const auto* data = reinterpret_cast<const uint8_t*>(opts.data);
  release_section_images(obj.get());
  out.insns.assign(insns, insns + opts.insns_sz);
  out.data = copy_of(ByteView(data, opts.data_sz));
  out.api = describe_api(obj.get(), path);
  return out;
}

}  // namespace bpfsig::skel
