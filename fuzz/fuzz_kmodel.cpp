// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the kernel model. The input is a script: the first
// byte picks the profile (6.18, pre-2026 toctou, loadtime), then a sequence
// of (command byte, attr bytes) drives one fresh Kernel: map_create, update,
// lookup, delete, freeze, get_hash, btf_load, prog_load (small programs built
// from the bytes, with map references to open fds), prog_run (small budget),
// close, dup, info and mmap calls; command byte 0xff is a PROG_LOAD with
// CO-RE relocations (a valid local BTF or any fd, records built from the
// bytes), and a first byte with bit 7 set gives the kernel a small target
// BTF file (struct s) instead of the host's. Every bpfsig::Error is an
// answer; a crash, a sanitizer report or any other exception is a bug.
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/isa.h"
#include "bpfsig/kmodel.h"

using namespace bpfsig;
using namespace bpfsig::kmodel;

namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16() | (static_cast<uint32_t>(u16()) << 16)); }
  Bytes bytes(size_t count) {
    Bytes out;
    for (size_t i = 0; i < count && n_ != 0; ++i) out.push_back(u8());
    return out;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// `struct s { int <fields...>; }` as raw BTF, with the access strings
// "0", "0:0", "0:1", ... (their offsets in *access).
Bytes struct_s_btf(const std::vector<const char*>& fields, std::vector<uint32_t>* access = nullptr) {
  struct btf* btf = btf__new_empty();
  int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
  btf__add_struct(btf, "s", static_cast<uint32_t>(4 * fields.size()));
  for (size_t i = 0; i < fields.size(); ++i) btf__add_field(btf, fields[i], int_id, static_cast<uint32_t>(32 * i), 0);
  for (size_t i = 0; i <= fields.size() && access; ++i)
    access->push_back(static_cast<uint32_t>(btf__add_str(btf, i == 0 ? "0" : ("0:" + std::to_string(i - 1)).c_str())));
  uint32_t size = 0;
  const auto* raw = static_cast<const uint8_t*>(btf__raw_data(btf, &size));
  Bytes blob(raw, raw + size);
  btf__free(btf);
  return blob;
}

// The program BTF of the CO-RE loads: struct s { int a; int b; }.
struct LocalBtf {
  std::vector<uint32_t> access;
  Bytes blob = struct_s_btf({"a", "b"}, &access);
};
const LocalBtf& local_btf() {
  static const LocalBtf btf;
  return btf;
}

// A target kernel where b moved: struct s { int a; int pad; int b; }, in a
// file written once per process and removed at exit.
char g_target_btf[] = "/tmp/fuzz_kmodel_btf.XXXXXX";
void remove_target_btf() { ::unlink(g_target_btf); }
const char* target_btf_file() {
  static const bool written = [] {
    int fd = ::mkstemp(g_target_btf);
    if (fd < 0) return false;
    ::close(fd);
    std::atexit(remove_target_btf);
    write_file_atomic(g_target_btf, struct_s_btf({"a", "pad", "b"}));
    return true;
  }();
  return written ? g_target_btf : "/nonexistent";
}

struct Session {
  Kernel kernel;
  Process& proc;
  Reader& in;
  std::vector<int> fds;  // every fd a call returned (some closed since)
  std::vector<MmapHandle> mappings;
  UserMemory user_memory;

  Session(KernelProfile profile, Reader& reader)
      : kernel(std::move(profile)), proc(kernel.spawn("fuzz")), in(reader) {
    user_memory.regions[0x10000] = Bytes(64, 0x5a);
  }

  // Mostly an fd a call returned; sometimes any small number.
  int fd() {
    uint8_t b = in.u8();
    if (fds.empty() || b >= 0xf0) return b & 0x0f;
    return fds[b % fds.size()];
  }

  void map_create() {
    static const uint32_t kTypes[] = {kMapArray, kMapHash, kMapPercpuArray, kMapProgArray, kMapRingbuf, 0, 7, 34};
    MapCreateAttr attr;
    uint8_t t = in.u8();
    attr.type = kTypes[t % 8];
    attr.key_size = in.u8() % 12;
    attr.value_size = in.u16() % 700;
    attr.max_entries = in.u8() % 6;
    if (attr.type == kMapRingbuf) {
      attr.key_size = attr.value_size = 0;
      attr.max_entries = 4096u << (in.u8() % 3);
    }
    uint8_t f = in.u8();
    attr.flags = (f & 0x80) ? in.u32() : (f & 0x7f) << 3;
    uint8_t name_len = in.u8() % 18;
    for (uint8_t i = 0; i < name_len; ++i) attr.name.push_back(static_cast<char>('a' + in.u8() % 30));
    uint8_t excl = in.u8() % 4;
    if (excl == 1) attr.excl_prog_hash = in.bytes(32);
    if (excl == 2) attr.excl_prog_hash = in.bytes(in.u8() % 40);
    fds.push_back(kernel.map_create(proc, attr));
  }

  // A small program: pieces chosen by the input, then r0 = 0; exit.
  Bytes program(std::vector<int32_t>& fd_array) {
    std::vector<isa::Insn> insns;
    uint8_t pieces = in.u8() % 12;
    for (uint8_t i = 0; i < pieces && !in.empty(); ++i) {
      uint8_t op = in.u8();
      switch (op % 6) {
        case 0: {  // a raw instruction
          Bytes raw = in.bytes(8);
          raw.resize(8, 0);
          auto decoded = isa::decode(raw, "fuzz");
          insns.insert(insns.end(), decoded.begin(), decoded.end());
          break;
        }
        case 1: {  // a map reference
          static const uint8_t kSrcs[] = {1, 2, 5, 6, 3, 0};
          uint8_t src = kSrcs[in.u8() % 6];
          uint64_t imm;
          if (src == 5 || src == 6) {
            fd_array.push_back(fd());
            imm = static_cast<uint64_t>(in.u8() % (fd_array.size() + 1));
          } else {
            imm = static_cast<uint32_t>(fd());
          }
          if (src == 2 || src == 6) imm |= static_cast<uint64_t>(in.u16() % 80) << 32;
          auto ld = isa::ld_imm64(static_cast<uint8_t>(1 + in.u8() % 9), src, imm);
          insns.insert(insns.end(), ld.begin(), ld.end());
          break;
        }
        case 2: {  // a helper call, arguments set up first
          static const int32_t kHelpers[] = {113, 148, 166, 167, 168, 179, 1, 6};
          insns.push_back(isa::mov64_reg(1, static_cast<uint8_t>(in.u8() % 11)));
          insns.push_back(isa::mov64_imm(2, static_cast<int32_t>(in.u8())));
          insns.push_back(isa::mov64_reg(3, static_cast<uint8_t>(in.u8() % 11)));
          insns.push_back(isa::call_helper(kHelpers[in.u8() % 8]));
          break;
        }
        case 3:  // a load through a register
          insns.push_back(isa::ldx_mem(isa::kSizeDW, static_cast<uint8_t>(in.u8() % 10),
                                       static_cast<uint8_t>(in.u8() % 11), static_cast<int16_t>(in.u16() % 96)));
          break;
        case 4:
          insns.push_back(isa::mov64_imm(static_cast<uint8_t>(in.u8() % 10), static_cast<int32_t>(in.u32())));
          break;
        default:
          insns.push_back(isa::jmp_imm(isa::kJmpJeq, static_cast<uint8_t>(in.u8() % 10), in.u8(),
                                       static_cast<int16_t>(in.u8() % 4)));
      }
    }
    insns.push_back(isa::mov64_imm(0, 0));
    insns.push_back(isa::exit_insn());
    return isa::encode(insns);
  }

  void prog_load() {
    ProgLoadAttr attr;
    uint8_t kind = in.u8();
    attr.prog_type = (kind & 3) == 0 ? in.u8() % 40 : kProgSyscall;
    attr.prog_flags = (kind & 4) ? in.u8() : kFSleepable;
    attr.license = (kind & 8) ? "MIT" : "GPL";
    attr.name = (kind & 16) ? "fuzz.prog" : "";
    attr.insns = program(attr.fd_array);
    uint8_t extra = in.u8() % 3;
    for (uint8_t i = 0; i < extra; ++i) attr.fd_array.push_back(fd());
    attr.fd_array_cnt = (kind & 32) ? in.u8() % (attr.fd_array.size() + 2) : 0;
    if (kind & 64) {
      attr.signature = in.bytes(in.u8());
      static const int32_t kKeyrings[] = {0, 1, 2, -9, -3, 100'000'000};
      attr.keyring_id = kKeyrings[in.u8() % 6];
    }
    fds.push_back(kernel.prog_load(proc, attr, (kind & 128) != 0));
  }

  // PROG_LOAD of a SYSCALL program with core_relos: mostly well-formed
  // records against the local BTF, sometimes any bytes.
  void core_prog_load() {
    ProgLoadAttr attr;
    attr.prog_flags = kFSleepable;
    attr.license = "GPL";
    attr.name = "core";
    attr.insns = program(attr.fd_array);
    uint8_t mode = in.u8();
    attr.prog_btf_fd = (mode & 1) ? kernel.btf_load(proc, local_btf().blob) : fd();
    attr.func_info_cnt = (mode >> 1) & 1;
    attr.line_info_cnt = (mode >> 2) & 1;
    static const uint32_t kRecSizes[] = {16, 16, 20, 12, 252, 18, 256, 0};
    attr.core_relo_rec_size = kRecSizes[(mode >> 3) % 8];
    attr.core_relo_cnt = in.u8() % 4;
    const std::vector<uint32_t>& access = local_btf().access;
    for (uint32_t i = 0; i < attr.core_relo_cnt && attr.core_relo_rec_size >= 16; ++i) {
      Bytes record(attr.core_relo_rec_size, 0);
      if (mode & 0x40) {
        record = in.bytes(attr.core_relo_rec_size);
      } else {
        struct bpf_core_relo relo = {8u * (in.u8() % 8), in.u8() % 4u, access[in.u8() % access.size()],
                                     static_cast<bpf_core_relo_kind>(in.u8() % 14)};
        std::memcpy(record.data(), &relo, sizeof(relo));
      }
      attr.core_relos.insert(attr.core_relos.end(), record.begin(), record.end());
    }
    if (mode & 0x80) attr.core_relos.resize(attr.core_relos.size() / 2);  // a record the caller lacks
    fds.push_back(kernel.prog_load(proc, attr));
  }

  void prog_run() {
    int prog = fd();
    Bytes ctx = in.bytes(in.u8());
    ProgRunOptions options;
    options.budget = 10'000;
    options.user_memory = &user_memory;
    kernel.prog_run(proc, prog, ctx, options);
  }

  void step() {
    uint8_t cmd = in.u8();
    if (cmd == 0xff) return core_prog_load();
    switch (cmd % 16) {
      case 0: map_create(); break;
      case 1: {
        int m = fd();
        Bytes key = in.bytes(in.u8() % 12), value = in.bytes(in.u16() % 700);
        kernel.map_update(proc, m, key, value, in.u8() % 6);
        break;
      }
      case 2: {
        int m = fd();
        Bytes key = in.bytes(in.u8() % 12);
        kernel.map_lookup(proc, m, key, in.u8() % 6);
        break;
      }
      case 3: {
        int m = fd();
        Bytes key = in.bytes(in.u8() % 12);
        kernel.map_delete(proc, m, key);
        break;
      }
      case 4: kernel.map_freeze(proc, fd()); break;
      case 5: {
        int m = fd();
        kernel.map_get_hash(proc, m, (in.u8() & 1) ? kSha256Size : in.u8());
        break;
      }
      case 6: fds.push_back(kernel.btf_load(proc, in.bytes(in.u8()))); break;
      case 7: prog_load(); break;
      case 8: prog_run(); break;
      case 9: kernel.close(proc, fd()); break;
      case 10: fds.push_back(kernel.dup(proc, fd())); break;
      case 11: {
        int f = fd();
        kernel.map_info(proc, f);
        break;
      }
      case 12: {
        int f = fd();
        kernel.prog_info(proc, f);
        break;
      }
      case 13: {
        int f = fd();
        mappings.push_back(kernel.map_mmap(proc, f, (in.u8() & 1) != 0));
        break;
      }
      case 14: {
        if (mappings.empty()) break;
        MmapHandle h = mappings[in.u8() % mappings.size()];
        size_t offset = in.u16() % 800;
        kernel.mmap_write(h, offset, in.bytes(in.u8() % 64));
        break;
      }
      default: {
        if (mappings.empty()) {
          int f = fd();
          kernel.map_struct_prefix(proc, f);
          break;
        }
        size_t i = in.u8() % mappings.size();
        MmapHandle h = mappings[i];
        mappings.erase(mappings.begin() + static_cast<std::ptrdiff_t>(i));
        kernel.munmap(h);
      }
    }
  }
};

KernelProfile profile_for(uint8_t b) {
  switch (b % 3) {
    case 0: return KernelProfile::linux_6_18();
    case 1: return KernelProfile::pre_2026_toctou();
    default: return KernelProfile::loadtime_2026();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  const uint8_t profile = in.u8();
  Session session(profile_for(profile), in);
  if (profile & 0x80) {
    try {
      session.kernel.set_vmlinux_btf_file(target_btf_file());
    } catch (const Error&) {
      // /tmp not writable: the host's BTF then
    }
  }
  for (int steps = 0; !in.empty() && steps < 64; ++steps) {
    try {
      session.step();
    } catch (const Error&) {
      // an errno answer: fine
    }
  }
  return 0;
}
