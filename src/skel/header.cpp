// SPDX-License-Identifier: Apache-2.0
// Signed light-skeleton C headers: written in the shape of bpftool's
// `gen skeleton -L -S` output, read back from ours or from bpftool's.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <streambuf>
#include <sstream>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "skel/internal.h"

namespace bpfsig::skel {

namespace {

// Bytes as the body of a C string literal, "\0" for zero and "\xNN" for the
// rest, wrapped with backslash-newlines so no line exceeds 78 columns.
// Escaped a line at a time: a program's metadata can be megabytes, and a
// stream insertion per byte is most of a large header's cost.
void print_c_bytes(std::ostream& out, ByteView bytes) {
  static const char kHex[] = "0123456789abcdef";
  char line[96];
  size_t used = 0, column = 0;
  for (uint8_t b : bytes) {
    const size_t width = b ? 4 : 2;
    column += width;
    if (column > 78) {
      line[used++] = '\\';
      line[used++] = '\n';
      out.write(line, static_cast<std::streamsize>(used));
      used = 0;
      column = width;
    }
    line[used++] = '\\';
    if (b == 0) {
      line[used++] = '0';
    } else {
      line[used++] = 'x';
      line[used++] = kHex[b >> 4];
      line[used++] = kHex[b & 15];
    }
  }
  out.write(line, static_cast<std::streamsize>(used));
}

void print_array(std::ostream& out, const char* name, ByteView bytes) {
  out << "\tstatic const char " << name << "[] __attribute__((__aligned__(8))) = \"\\\n";
  print_c_bytes(out, bytes);
  out << "\";\n";
}

// An output stream that hands its text to put in pieces of kPieceSize.
class PutStreamBuf : public std::streambuf {
 public:
  explicit PutStreamBuf(const std::function<void(ByteView)>& put) : put_(put) { setp(buf_, buf_ + sizeof buf_); }
  ~PutStreamBuf() override = default;
  // The rest, once rendering is done (not in the destructor: put may throw).
  void flush_rest() { drain(); }

 protected:
  int_type overflow(int_type ch) override {
    drain();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

 private:
  static constexpr size_t kPieceSize = 64 * 1024;
  void drain() {
    const auto n = static_cast<size_t>(pptr() - pbase());
    if (n) put_(ByteView(reinterpret_cast<const uint8_t*>(pbase()), n));
    setp(buf_, buf_ + sizeof buf_);
  }
  const std::function<void(ByteView)>& put_;
  char buf_[kPieceSize];
};

// The signed initial value of each map that has one, by map identifier:
// the header's convenience copy for __open is the value the loader gives the
// map, so it is taken from the signed metadata rather than kept twice.
std::map<std::string, ByteView> signed_initial_values(const SignedLoader& l) {
  std::map<std::string, ByteView> values;
  for (const SignedMap& m : signed_map_layout(l))
    if (m.has_initial_value) values[m.name] = ByteView(l.data).subspan(m.initial_value_offset, m.value_size);
  return values;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string render_header(const SignedLoader& l) {
  std::string text;
  write_header(l, [&](ByteView piece) { text.append(reinterpret_cast<const char*>(piece.data()), piece.size()); });
  return text;
}

void write_header(const SignedLoader& l, const std::function<void(ByteView)>& put) {
  const std::string& n = l.name;
  // loadtime headers are bpftool 7.8's: libbpf 1.8's <bpf/skel_internal.h>
  // (which binds the metadata map through fd_array_cnt itself), and, when
  // written from the object, bpftool's whole skeleton API. The 6.18-format
  // schemes keep <bpfsig/skel_internal.h> (libbpf 1.7's API, which 1.8 no
  // longer has) and, as their loaders still read initial values from the
  // ctx, no data-section pointers (docs/signing.md).
  const bool bpftool78 = l.scheme == Scheme::kLoadtime;
  const SkeletonApi empty;
  const SkeletonApi& api = bpftool78 && l.api.present ? l.api : empty;
  auto section_of = [&](const std::string& map) -> const SkeletonApi::DataSection* {
    for (const auto& s : api.sections)
      if (s.ident == map) return &s;
    return nullptr;
  };
  // Everything that can fail is asked before the first byte is handed to put.
  std::map<std::string, ByteView> initial_values;
  if (!api.sections.empty()) initial_values = signed_initial_values(l);
  for (const auto& s : api.sections)
    if (!initial_values.count(s.ident))
      throw Error(EBADMSG, "loader_metadata", l.name + ": the signed metadata gives section " + s.ident + " no initial value");
  PutStreamBuf buf(put);
  std::ostream o(&buf);
  o.exceptions(std::ios::badbit);  // put's errors (a full disk) reach the caller, not a stream state
  o << "/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */\n"
    << "/* THIS FILE IS AUTOGENERATED BY BPFSIG: a signed light skeleton, scheme " << scheme_name(l.scheme) << " */\n"
    << "#ifndef __" << upper(n) << "_SKEL_H__\n#define __" << upper(n) << "_SKEL_H__\n\n"
    << (bpftool78 ? "#include <bpf/skel_internal.h>\n\n" : "#include <bpfsig/skel_internal.h>\n\n")
    << "struct " << n << " {\n\tstruct bpf_loader_ctx ctx;\n\tstruct {\n";
  for (const auto& m : l.map_names) o << "\t\tstruct bpf_map_desc " << m << ";\n";
  o << "\t} maps;\n\tstruct {\n";
  for (const auto& p : l.prog_names) o << "\t\tstruct bpf_prog_desc " << p << ";\n";
  o << "\t} progs;\n\tstruct {\n";
  for (const auto& p : l.prog_names) o << "\t\tint " << p << "_fd;\n";
  o << "\t} links;\n\t__s32 keyring_id;\n";
  for (const auto& s : api.sections)
    o << "\tstruct " << n << "__" << s.ident << " {\n" << s.members << "\t} *" << s.ident << ";\n";
  o << "};\n\n";

  const bool attach = api.present && api.attach.size() == l.prog_names.size();
  if (attach) {
    for (size_t i = 0; i < l.prog_names.size(); ++i) {
      const std::string& p = l.prog_names[i];
      o << "static inline int\n" << n << "__" << p << "__attach(struct " << n << " *skel)\n{\n"
        << "\tint prog_fd = skel->progs." << p << ".prog_fd;\n"
        << "\tint fd = " << api.attach[i] << (api.attach[i].find(';') == std::string::npos ? ";" : "") << "\n\n"
        << "\tif (fd > 0)\n\t\tskel->links." << p << "_fd = fd;\n\treturn fd;\n}\n\n";
    }
    o << "static inline int\n" << n << "__attach(struct " << n << " *skel)\n{\n\tint ret = 0;\n\n";
    for (const auto& p : l.prog_names) o << "\tret = ret < 0 ? ret : " << n << "__" << p << "__attach(skel);\n";
    o << "\treturn ret < 0 ? ret : 0;\n}\n\n"
      << "static inline void\n" << n << "__detach(struct " << n << " *skel)\n{\n";
    for (const auto& p : l.prog_names) o << "\tskel_closenz(skel->links." << p << "_fd);\n";
    o << "}\n";  // bpftool 7.8 puts no blank line after __detach and __destroy
  }

  o << "static void\n" << n << "__destroy(struct " << n << " *skel)\n{\n\tif (!skel)\n\t\treturn;\n";
  if (attach) {
    o << "\t" << n << "__detach(skel);\n";
  } else {
    for (const auto& p : l.prog_names) o << "\tskel_closenz(skel->links." << p << "_fd);\n";
  }
  for (const auto& p : l.prog_names) o << "\tskel_closenz(skel->progs." << p << ".prog_fd);\n";
  for (const auto& m : l.map_names) {
    if (const auto* s = section_of(m))
      o << "\tskel_free_map_data(skel->" << m << ", skel->maps." << m << ".initial_value, " << s->mmap_size << ");\n";
    o << "\tskel_closenz(skel->maps." << m << ".map_fd);\n";
  }
  o << "\tskel_free(skel);\n}\n" << (attach ? "" : "\n");

  o << "static inline struct " << n << " *\n" << n << "__open(void)\n{\n\tstruct " << n << " *skel;\n\n"
    << "\tskel = (struct " << n << " *)skel_alloc(sizeof(*skel));\n\tif (!skel)\n\t\tgoto cleanup;\n"
    << "\tskel->ctx.sz = (char *)&skel->links - (char *)skel;\n";
  // The initial values here are a convenience copy for the program's own
  // use before load: the signed loader (libbpf 1.8 gen_hash) takes the
  // values in the signed metadata, never these.
  for (const auto& s : api.sections) {
    o << "\t{\n\t\tstatic const char data[] __attribute__((__aligned__(8))) = \"\\\n";
    print_c_bytes(o, initial_values.at(s.ident));
    o << "\";\n\n\t\tskel->" << s.ident << " = (__typeof__(skel->" << s.ident << "))skel_prep_map_data((void *)data, "
      << s.mmap_size << ",\n\t\t\t\t\t\tsizeof(data) - 1);\n\t\tif (!skel->" << s.ident << ")\n\t\t\tgoto cleanup;\n"
      << "\t\tskel->maps." << s.ident << ".initial_value = (__u64) (long) skel->" << s.ident << ";\n\t}\n";
  }
  o << "\treturn skel;\ncleanup:\n\t" << n << "__destroy(skel);\n\treturn NULL;\n}\n\n";

  o << "static inline int\n" << n << "__load(struct " << n << " *skel)\n{\n"
    << "\tstruct bpf_load_and_run_opts opts = {};\n\tint err;\n";
  print_array(o, "opts_data", l.data);
  print_array(o, "opts_insn", l.insns);
  print_array(o, "opts_sig", l.signature);
  print_array(o, "opts_excl_hash", l.excl_hash);
  if (!l.signature_maps.empty()) {  // hash-chain: as the series' bpftool -M writes it
    o << "\tstatic const int opts_signature_maps[" << l.signature_maps.size() << "] __attribute__((__aligned__(8))) = {";
    for (size_t i = 0; i < l.signature_maps.size(); ++i) o << (i ? ", " : "") << l.signature_maps[i];
    o << "};\n";
  }
  o << "\topts.signature = (void *)opts_sig;\n"
    << "\topts.signature_sz = sizeof(opts_sig) - 1;\n"
    << "\topts.excl_prog_hash = (void *)opts_excl_hash;\n"
    << "\topts.excl_prog_hash_sz = sizeof(opts_excl_hash) - 1;\n"
    << "\topts.keyring_id = skel->keyring_id;\n";
  if (!l.signature_maps.empty())
    o << "\topts.signature_maps = (void *)opts_signature_maps;\n"
      << "\topts.signature_maps_sz = " << l.signature_maps.size() << ";\n";
  // libbpf 1.8's bpf_load_and_run binds the metadata map (fd_array_cnt = 1)
  // itself for a signed load and has no such field; bpfsig's
  // <bpfsig/skel_internal.h> (included first) needs to be told.
  if (bpftool78) o << "#ifdef BPFSIG_SKEL_INTERNAL_H\n\topts.fd_array_cnt = 1;\n#endif\n";
  o << "\topts.ctx = (struct bpf_loader_ctx *)skel;\n"
    << "\topts.data_sz = sizeof(opts_data) - 1;\n"
    << "\topts.data = (void *)opts_data;\n"
    << "\topts.insns_sz = sizeof(opts_insn) - 1;\n"
    << "\topts.insns = (void *)opts_insn;\n\n"
    << "\terr = bpf_load_and_run(&opts);\n\tif (err < 0)\n\t\treturn err;\n";
  for (const auto& s : api.sections)
    o << "\tskel->" << s.ident << " = (__typeof__(skel->" << s.ident << "))skel_finalize_map_data(&skel->maps." << s.ident
      << ".initial_value,\n\t\t\t\t\t" << s.mmap_size << ", " << (s.read_only ? "PROT_READ" : "PROT_READ | PROT_WRITE")
      << ", skel->maps." << s.ident << ".map_fd);\n\tif (!skel->" << s.ident << ")\n\t\treturn -ENOMEM;\n";
  o << "\treturn 0;\n}\n\n";

  o << "static inline struct " << n << " *\n" << n << "__open_and_load(void)\n{\n"
    << "\tstruct " << n << " *skel;\n\n\tskel = " << n << "__open();\n\tif (!skel)\n\t\treturn NULL;\n"
    << "\tif (" << n << "__load(skel)) {\n\t\t" << n << "__destroy(skel);\n\t\treturn NULL;\n\t}\n\treturn skel;\n}\n\n";
  if (api.present) {
    o << "__attribute__((unused)) static void\n" << n << "__assert(struct " << n << " *s __attribute__((unused)))\n{\n"
      << "#ifdef __cplusplus\n#define _Static_assert static_assert\n#endif\n";
    for (const auto& s : api.sections)
      for (const auto& [var, size] : s.sizes)
        o << "\t_Static_assert(sizeof(s->" << s.ident << "->" << var << ") == " << size << ", \"unexpected size of '" << var
          << "'\");\n";
    o << "#ifdef __cplusplus\n#undef _Static_assert\n#endif\n}\n\n";
  }
  o << "#endif /* __" << upper(n) << "_SKEL_H__ */\n";
  o.flush();
  buf.flush_rest();
}

namespace {

// A cursor over the header text for the few C constructs bpfsig needs.
class HeaderScanner {
 public:
  HeaderScanner(const std::string& text, const std::string& what) : t_(text), what_(what) {}

  Error error(size_t offset, const std::string& why) const {
    return Error(EBADMSG, "header_format", what_ + ": offset " + std::to_string(offset) + ": " + why);
  }

  // 1-based line of an offset, for messages about one declaration.
  size_t line_of(size_t offset) const {
    return 1 + static_cast<size_t>(std::count(t_.begin(), t_.begin() + static_cast<std::ptrdiff_t>(std::min(offset, t_.size())), '\n'));
  }

  // Where needle is, or npos; a second occurrence is refused (EBADMSG,
  // header_format, both lines): reading only the first of two definitions
  // would verify one thing while the compiler sees another (or nothing).
  size_t find_once(const std::string& needle, const std::string& what) const {
    size_t first = t_.find(needle);
    if (first == std::string::npos) return first;
    size_t second = t_.find(needle, first + 1);
    if (second != std::string::npos)
      throw Error(EBADMSG, "header_format",
                  what_ + ": line " + std::to_string(line_of(second)) + ": a second " + what + " (the first is on line " +
                      std::to_string(line_of(first)) + ")");
    return first;
  }

  // A declaration whose name is unusable: EBADMSG with its own kind, and the
  // line, so the user finds it.
  Error bad_name(size_t offset, const std::string& kind, const std::string& why) const {
    return Error(EBADMSG, kind, what_ + ": line " + std::to_string(line_of(offset)) + ": " + why);
  }

  // Every member declared as `PREFIX NAME;` (PREFIX e.g. "struct bpf_map_desc "),
  // in order. A declaration whose NAME is not a C identifier, or that does
  // not end at ';', is refused, never skipped: each dropped map or program
  // would shift the ctx layout the loader writes, so the header would verify
  // and then fail to load. A name declared twice would not compile.
  std::vector<std::string> members_after(const std::string& prefix, const std::string& member, const std::string& kind) const {
    std::vector<std::string> out;
    for (size_t at = t_.find(prefix); at != std::string::npos; at = t_.find(prefix, at + 1)) {
      size_t b = at + prefix.size(), e = b;
      while (e < t_.size() && t_[e] != ';' && !std::isspace(static_cast<unsigned char>(t_[e]))) ++e;
      const std::string name = t_.substr(b, e - b);
      if (!is_c_identifier(name))
        throw bad_name(at, kind, member + " name '" + name + "' in `" + prefix + "...;` is not a C identifier");
      if (skip_space(e) >= t_.size() || t_[skip_space(e)] != ';')
        throw bad_name(at, kind, member + " '" + name + "': expected ';' after the name");
      if (std::find(out.begin(), out.end(), name) != out.end())
        throw bad_name(at, kind, member + " '" + name + "' is declared twice");
      out.push_back(name);
    }
    return out;
  }

  // The name of the struct whose first member is the loader ctx: the
  // skeleton's, which every function of the header is named after.
  std::string skeleton_name() const {
    size_t ctx = find_once("struct bpf_loader_ctx ctx;", "skeleton struct (`struct bpf_loader_ctx ctx;`)");
    if (ctx == std::string::npos) throw error(0, "no `struct bpf_loader_ctx ctx;`: not a light skeleton");
    size_t open = t_.rfind('{', ctx);
    size_t kw = open == std::string::npos ? std::string::npos : t_.rfind("struct ", open);
    if (open == std::string::npos || kw == std::string::npos) throw error(ctx, "skeleton struct not found");
    size_t b = kw + 7, e = b;
    while (e < open && !std::isspace(static_cast<unsigned char>(t_[e]))) ++e;
    const std::string name = t_.substr(b, e - b);
    if (!is_c_identifier(name) || skip_space(e) != open)
      throw bad_name(kw, "header_skeleton_name", "skeleton struct name '" + t_.substr(b, open - b) + "' is not a C identifier");
    return name;
  }

  // The scheme named in bpfsig's first comment line, if there is one.
  std::optional<std::string> bpfsig_scheme_comment() const {
    static const std::string kMarker = "a signed light skeleton, scheme ";
    size_t at = t_.find(kMarker);
    if (at == std::string::npos) return std::nullopt;
    size_t b = at + kMarker.size(), e = b;
    while (e < t_.size() && (is_ident_char(t_[e]) || t_[e] == '-')) ++e;
    return t_.substr(b, e - b);
  }

  // The integers of `static const int NAME[N] ... = {a, b, ...};`.
  std::optional<std::vector<uint32_t>> int_array(const std::string& name, size_t limit) const {
    size_t at = find_once(" " + name + "[", name + "[] array");
    if (at == std::string::npos) return std::nullopt;
    size_t open = t_.find('{', at), semi = t_.find(';', at);
    if (open == std::string::npos || (semi != std::string::npos && semi < open)) throw error(at, name + " has no {...} initializer");
    size_t close = t_.find('}', open);
    if (close == std::string::npos) throw error(open, name + ": unterminated initializer");
    std::vector<uint32_t> out;
    size_t pos = skip_space(open + 1);
    while (pos < close) {
      size_t e = pos;
      uint64_t value = 0;
      while (e < close && std::isdigit(static_cast<unsigned char>(t_[e])) && value <= 0xffffffffu)
        value = value * 10 + static_cast<uint64_t>(t_[e++] - '0');
      if (e == pos || value > 0xffffffffu) throw error(pos, name + ": expected an unsigned 32-bit integer");
      out.push_back(static_cast<uint32_t>(value));
      if (out.size() > limit) throw Error(E2BIG, "limit_signature_maps", what_ + ": " + name + " has more than " + std::to_string(limit) + " entries");
      pos = skip_space(e);
      if (pos < close && t_[pos] == ',') pos = skip_space(pos + 1);
      else if (pos != close) throw error(pos, name + ": expected ',' or '}'");
    }
    return out;
  }

  // The literal each `skel->maps.IDENT.initial_value = ...;` of __open comes
  // from: bpftool's block `static const char data[] ... = "...";
  // skel->IDENT = (__typeof__(skel->IDENT))skel_prep_map_data((void *)data,
  // ...);` before it. An assignment without that block is refused: a value
  // bpfsig cannot compare with the signed one must not pass unseen.
  std::vector<SignedLoader::InitialValueLiteral> initial_value_literals() const {
    static const std::string kField = ".initial_value", kMaps = "maps.";
    std::vector<SignedLoader::InitialValueLiteral> out;
    size_t previous = 0;
    for (size_t at = t_.find(kField); at != std::string::npos; at = t_.find(kField, at + 1)) {
      size_t eq = skip_space(at + kField.size());
      if (eq >= t_.size() || t_[eq] != '=' || (eq + 1 < t_.size() && t_[eq + 1] == '=')) continue;
      size_t b = at;
      while (b > 0 && is_ident_char(t_[b - 1])) --b;
      if (b < kMaps.size() || t_.compare(b - kMaps.size(), kMaps.size(), kMaps) != 0) continue;
      const std::string ident = t_.substr(b, at - b);
      out.push_back(literal_for(ident, b, previous));
      previous = eq;
    }
    return out;
  }

  // The bytes of `static const char NAME[] ... = "...";` (sizeof - 1 bytes).
  // Decoding stops as soon as it is past max_bytes, with too_big(): a limit is
  // checked before the literal's bytes are allocated, not after.
  std::optional<Bytes> array(const std::string& name, size_t max_bytes = SIZE_MAX,
                             const std::function<Error()>& too_big = {}) const {
    size_t at = find_once(" " + name + "[]", name + "[] array");
    if (at == std::string::npos) return std::nullopt;
    return literal_after(at, name, max_bytes, too_big);
  }

 private:
  // The string literal initializing the declaration at `at`.
  Bytes literal_after(size_t at, const std::string& name, size_t max_bytes = SIZE_MAX,
                      const std::function<Error()>& too_big = {}) const {
    size_t eq = t_.find('=', at);
    size_t semi = t_.find(';', at);
    if (eq == std::string::npos || (semi != std::string::npos && semi < eq)) throw error(at, name + " has no initializer");
    size_t pos = skip_space(eq + 1);
    if (pos >= t_.size() || t_[pos] != '"') throw error(pos, name + " is not initialized with a string literal");
    Bytes out;
    while (pos < t_.size() && t_[pos] == '"') {
      pos = read_literal(pos + 1, out, name, max_bytes, too_big);
      pos = skip_space(pos);
    }
    if (pos >= t_.size() || t_[pos] != ';') throw error(pos, name + ": expected ';' after the string literal");
    return out;
  }

  std::string without_space(size_t b, size_t e) const {
    std::string out;
    for (size_t i = b; i < e; ++i)
      if (!std::isspace(static_cast<unsigned char>(t_[i]))) out.push_back(t_[i]);
    return out;
  }

  // The `data` literal of the block that ends with the initial_value
  // assignment at `assignment` (and starts after `previous`, the one before).
  SignedLoader::InitialValueLiteral literal_for(const std::string& ident, size_t assignment, size_t previous) const {
    static const std::string kPrep = "skel_prep_map_data((void *)data,";
    const std::string what = "maps." + ident + ".initial_value";
    size_t prep = t_.rfind(kPrep, assignment);
    if (prep == std::string::npos || prep < previous)
      throw error(assignment, what + " is not set from a skel_prep_map_data((void *)data, ...) copy of a literal");
    size_t stmt = t_.rfind(';', prep);
    stmt = stmt == std::string::npos ? 0 : stmt + 1;
    if (without_space(stmt, prep) != "skel->" + ident + "=(__typeof__(skel->" + ident + "))")
      throw error(stmt, what + ": expected `skel->" + ident + " = (__typeof__(skel->" + ident + "))` before skel_prep_map_data");
    size_t decl = t_.rfind(" data[]", stmt);
    size_t block = t_.rfind('{', stmt);
    if (decl == std::string::npos || block == std::string::npos || decl < block || decl < previous)
      throw error(stmt, what + ": no `static const char data[] = \"...\";` in the same block");
    auto too_big = [&] {
      return Error(E2BIG, "limit_metadata", what_ + ": the initial value of map '" + ident + "' is over the kernel's array value limit");
    };
    return SignedLoader::InitialValueLiteral{ident, literal_after(decl, "data[] of " + ident, kMaxMetadataSize, too_big),
                                             line_of(decl)};
  }

  bool is_ident_char(char c) const { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

  size_t skip_space(size_t pos) const {
    while (pos < t_.size() && std::isspace(static_cast<unsigned char>(t_[pos]))) ++pos;
    return pos;
  }

  // Reads one literal body starting after its opening quote; returns the
  // position after the closing quote.
  size_t read_literal(size_t pos, Bytes& out, const std::string& name, size_t max_bytes,
                      const std::function<Error()>& too_big) const {
    while (pos < t_.size()) {
      if (out.size() > max_bytes) throw too_big();
      char c = t_[pos];
      if (c == '"') return pos + 1;
      if (c == '\n') throw error(pos, name + ": newline inside a string literal");
      if (c != '\\') {
        out.push_back(static_cast<uint8_t>(c));
        ++pos;
        continue;
      }
      pos = read_escape(pos, out, name);
    }
    throw error(pos, name + ": unterminated string literal");
  }

  size_t read_escape(size_t pos, Bytes& out, const std::string& name) const {
    size_t start = pos++;
    if (pos >= t_.size()) throw error(start, name + ": backslash at end of input");
    char c = t_[pos];
    if (c == '\n') return pos + 1;  // line continuation
    if (c == 'x') {
      unsigned value = 0;
      size_t digits = 0;
      for (++pos; pos < t_.size() && hex_digit_value(t_[pos]) >= 0; ++pos, ++digits) {
        value = value * 16 + static_cast<unsigned>(hex_digit_value(t_[pos]));
        if (value > 0xff) throw error(start, name + ": hex escape out of range");
      }
      if (digits == 0) throw error(start, name + ": \\x without digits");
      out.push_back(static_cast<uint8_t>(value));
      return pos;
    }
    if (c >= '0' && c <= '7') {
      unsigned value = 0;
      for (size_t n = 0; n < 3 && pos < t_.size() && t_[pos] >= '0' && t_[pos] <= '7'; ++n, ++pos)
        value = value * 8 + static_cast<unsigned>(t_[pos] - '0');
      if (value > 0xff) throw error(start, name + ": octal escape out of range");
      out.push_back(static_cast<uint8_t>(value));
      return pos;
    }
    static const std::string kSimple = "abfnrtv\\'\"?";
    static const char kValues[] = {'\a', '\b', '\f', '\n', '\r', '\t', '\v', '\\', '\'', '"', '?'};
    size_t k = kSimple.find(c);
    if (k == std::string::npos) throw error(start, name + ": unknown escape \\" + std::string(1, c));
    out.push_back(static_cast<uint8_t>(kValues[k]));
    return pos + 1;
  }

  const std::string& t_;
  const std::string& what_;
};

}  // namespace

SignedLoader parse_header(const std::string& text, const std::string& what) {
  if (text.size() > kMaxHeaderSize)
    throw Error(EFBIG, "input_too_large", what + ": header over the limit of " + std::to_string(kMaxHeaderSize) + " bytes");
  HeaderScanner s(text, what);
  SignedLoader l;
  l.scheme = Scheme::kLoaderHash;  // bpftool 7.7's headers name no scheme
  if (auto maps = s.int_array("opts_signature_maps", kMaxSignatureMaps)) {
    l.scheme = Scheme::kHashChain;  // bpftool -M (the series) and bpfsig write this array
    l.signature_maps = *maps;
    if (l.signature_maps.empty()) throw s.error(0, "opts_signature_maps is empty");
  }
  if (auto named = s.bpfsig_scheme_comment()) {
    Scheme scheme = parse_scheme(*named);
    if ((scheme == Scheme::kHashChain) != !l.signature_maps.empty())
      throw s.error(0, "scheme " + *named + " and the presence of opts_signature_maps disagree");
    l.scheme = scheme;
  }
  l.name = s.skeleton_name();
  l.map_names = s.members_after("struct bpf_map_desc ", "map", "header_map_name");
  l.prog_names = s.members_after("struct bpf_prog_desc ", "program", "header_prog_name");
  auto need = [&](const char* name, size_t max_bytes = SIZE_MAX, const std::function<Error()>& too_big = {}) {
    auto bytes = s.array(name, max_bytes, too_big);
    if (!bytes) throw s.error(0, std::string("no ") + name + "[] array: not a signed light skeleton");
    return *bytes;
  };
  // The limits stop the decoding (docs/limits.md): a 240 MB header is not decoded into 60 MB first.
  l.data = need("opts_data", kMaxMetadataSize, [&] {
    return Error(E2BIG, "limit_metadata", what + ": opts_data is over the kernel's array value limit of " + std::to_string(kMaxMetadataSize) + " bytes");
  });
  l.insns = need("opts_insn", kMaxLoaderInsns * 8, [&] {
    return Error(E2BIG, "limit_insns", what + ": opts_insn is over the limit of " + std::to_string(kMaxLoaderInsns) + " instructions");
  });
  l.signature = need("opts_sig");
  l.excl_hash = need("opts_excl_hash");
  if (l.insns.empty() || l.insns.size() % 8 != 0)
    throw s.error(0, "opts_insn is " + std::to_string(l.insns.size()) + " bytes, not a non-zero multiple of 8");
  if (l.insns.size() / 8 > kMaxLoaderInsns)
    throw Error(E2BIG, "limit_insns", what + ": " + std::to_string(l.insns.size() / 8) + " instructions, over the limit");
  if (l.data.size() > kMaxMetadataSize)
    throw Error(E2BIG, "limit_metadata", what + ": opts_data is " + std::to_string(l.data.size()) + " bytes, over the kernel's array value limit of " + std::to_string(kMaxMetadataSize));
  if (l.prog_names.empty()) throw s.error(0, "no `struct bpf_prog_desc` members");
  l.header_initial_values = s.initial_value_literals();
  return l;
}

}  // namespace bpfsig::skel
