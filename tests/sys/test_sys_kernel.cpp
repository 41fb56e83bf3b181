// SPDX-License-Identifier: Apache-2.0
// Tests of src/sys against the running kernel. Each test checks first what it
// needs (root, a working bpf(), a feature) and skips with the reason when it
// is missing. The errnos asserted here are what Linux 6.18 answers (see
// docs/load.md); where a kernel may legitimately answer otherwise, the test
// says which branch it took.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include "bpfsig/bytes.h"
#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "support/kernel_features.h"
#include "support/support.h"
#include "common/uapi.h"

using namespace bpfsig;
namespace fs = std::filesystem;

namespace {

// ---- what the machine can do ------------------------------------------------


// Runs fn, expects an Error and returns it (a default one when none was thrown).
Error expect_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a bpfsig::Error";
  return Error(0, "none", "no error thrown");
}

// ---- hashes and instructions, built without the crypto and isa modules ------

Bytes sha256(ByteView data) {
  Bytes out(32);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr), 1);
  return out;
}

Bytes sha256_padded8(ByteView data) {
  Bytes padded(data.begin(), data.end());
  padded.resize((padded.size() + 7) / 8 * 8, 0);
  return sha256(padded);
}

Bytes as_bytes(const crypto::Digest& d) { return Bytes(d.begin(), d.end()); }

struct Insn {
  uint8_t code;
  uint8_t dst, src;
  int16_t off;
  int32_t imm;
};

Bytes encode(std::initializer_list<Insn> insns) {
  Bytes out;
  for (const Insn& i : insns) {
    uint8_t raw[8];
    raw[0] = i.code;
    raw[1] = static_cast<uint8_t>((i.src << 4) | (i.dst & 0x0f));
    store_le16(raw + 2, static_cast<uint16_t>(i.off));
    store_le32(raw + 4, static_cast<uint32_t>(i.imm));
    out.insert(out.end(), raw, raw + 8);
  }
  return out;
}

constexpr uint8_t kPseudoMapFd = 1;
constexpr uint8_t kPseudoMapIdx = 5;

Insn mov64_imm(uint8_t dst, int32_t imm) { return {0xb7, dst, 0, 0, imm}; }
Insn mov64_reg(uint8_t dst, uint8_t src) { return {0xbf, dst, src, 0, 0}; }
Insn ldx_dw(uint8_t dst, uint8_t src, int16_t off) { return {0x79, dst, src, off, 0}; }
Insn stx_dw(uint8_t dst, uint8_t src, int16_t off) { return {0x7b, dst, src, off, 0}; }
Insn ld_imm64_lo(uint8_t dst, uint8_t src, int32_t imm) { return {0x18, dst, src, 0, imm}; }
Insn ld_imm64_hi() { return {0, 0, 0, 0, 0}; }
Insn exit_insn() { return {0x95, 0, 0, 0, 0}; }

// r1 = map (fd_array[0]); r0 = 0; exit
Bytes prog_using_map_idx0() {
  return encode({ld_imm64_lo(1, kPseudoMapIdx, 0), ld_imm64_hi(), mov64_imm(0, 0), exit_insn()});
}

sys::ProgLoad syscall_prog(const std::string& name, Bytes insns) {
  sys::ProgLoad req;
  req.name = name;
  req.insns = std::move(insns);
  return req;
}

// ---- small RAII helpers ---------------------------------------------------------

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

sys::MapCreate array_map(uint32_t value_size, const std::string& name = "bpfsig_test") {
  sys::MapCreate req;
  req.name = name;
  req.value_size = value_size;
  return req;
}

const uint8_t kKey0[4] = {0, 0, 0, 0};

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// ---- the bpftool 7.7 light skeleton, read from its C header ---------------------

// The bytes of `static const char NAME[] ... = "\ ... ";` in a bpftool header.
Bytes c_string_literal(const std::string& text, const std::string& name) {
  size_t decl = text.find("static const char " + name + "[]");
  if (decl == std::string::npos) throw std::runtime_error(name + " not found");
  size_t pos = text.find('"', decl) + 1;
  Bytes out;
  while (pos < text.size() && text[pos] != '"') {
    char c = text[pos++];
    if (c != '\\') {
      out.push_back(static_cast<uint8_t>(c));
      continue;
    }
    char e = text[pos++];
    if (e == '\n') continue;  // line continuation
    if (e == 'x') {
      size_t used = 0;
      int value = std::stoi(text.substr(pos, 2), &used, 16);
      pos += used;
      out.push_back(static_cast<uint8_t>(value));
    } else if (e >= '0' && e <= '7') {
      int value = e - '0';
      for (int i = 0; i < 2 && text[pos] >= '0' && text[pos] <= '7'; ++i) value = value * 8 + (text[pos++] - '0');
      out.push_back(static_cast<uint8_t>(value));
    } else if (e == 'n') {
      out.push_back('\n');
    } else {
      out.push_back(static_cast<uint8_t>(e));  // \\ and \"
    }
  }
  return out;
}

std::string bpftool_header_path() { return test::shared_testdata() + "/bpftool-7.7/prog.lskel.h"; }
std::string bpftool_cert_path() { return test::shared_testdata() + "/bpftool-7.7/cert.der"; }

skel::SignedLoader bpftool_loader() {
  std::string text = test::read_text(bpftool_header_path());
  skel::SignedLoader loader;
  loader.name = "prog_bpf";
  loader.insns = c_string_literal(text, "opts_insn");
  loader.data = c_string_literal(text, "opts_data");
  loader.excl_hash = sha256(loader.insns);
  loader.map_names = {"counts", "bss", "data"};
  loader.prog_names = {"handle_execve"};
  return loader;
}

// ---- keyrings as /proc/keys shows them -----------------------------------------

struct ProcKey {
  int32_t serial;
  std::string type;
  std::string text;  // "<description>: <summary>"; descriptions may hold ':' themselves

  bool described_as(const std::string& description) const { return text.rfind(description + ":", 0) == 0; }
  // /proc/keys cuts type names to 9 characters: "asymmetri".
  bool is_asymmetric() const { return type == std::string("asymmetric").substr(0, 9); }
};

std::vector<ProcKey> proc_keys() {
  std::vector<ProcKey> keys;
  std::ifstream in("/proc/keys");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string serial_hex, flags, usage, expiry, perm, uid, gid, type;
    fields >> serial_hex >> flags >> usage >> expiry >> perm >> uid >> gid >> type;
    std::string rest;
    std::getline(fields, rest);
    size_t start = rest.find_first_not_of(' ');
    rest = start == std::string::npos ? "" : rest.substr(start);
    keys.push_back({static_cast<int32_t>(std::stoul(serial_hex, nullptr, 16)), type, rest});
  }
  return keys;
}

bool proc_keys_has_description(const std::string& description) {
  for (const auto& k : proc_keys())
    if (k.described_as(description)) return true;
  return false;
}

bool proc_keys_has_serial(int32_t serial) {
  for (const auto& k : proc_keys())
    if (k.serial == serial) return true;
  return false;
}

// The kernel drops invalidated and unlinked keys in its garbage collector, a
// moment later: poll for up to two seconds.
bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 200; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// The serials linked into this process's session keyring (KEYCTL_READ).
std::set<int32_t> session_keyring_contents() {
  constexpr long kKeyctlRead = 11;
  std::vector<int32_t> serials(256);
  long n = ::syscall(SYS_keyctl, kKeyctlRead, sys::kSessionKeyring, serials.data(), serials.size() * sizeof(int32_t));
  if (n < 0) return {};
  serials.resize(std::min(serials.size(), static_cast<size_t>(n) / sizeof(int32_t)));
  return std::set<int32_t>(serials.begin(), serials.end());
}

std::string own_keyring_description() { return "bpfsig:" + std::to_string(::getpid()); }

// A throwaway self-signed certificate the kernel's X.509 parser accepts.
Bytes make_test_cert(const test::TempDir& dir) {
  auto r = test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("k.pem"),
                              "-out", dir.file("c.der"), "-outform", "DER", "-subj", "/CN=t", "-addext",
                              "subjectKeyIdentifier=hash", "-addext", "keyUsage=digitalSignature", "-addext",
                              "basicConstraints=CA:FALSE", "-days", "2"});
  if (r.exit_code != 0) return {};
  return read_file(dir.file("c.der"));
}

// A fresh keyring under the session keyring, removed at scope exit.
struct ScratchKeyring {
  int32_t serial = 0;
  explicit ScratchKeyring(const std::string& description) {
    serial = sys::keyring_create(description, sys::kSessionKeyring);
  }
  ~ScratchKeyring() {
    try {
      sys::key_invalidate(serial);
    } catch (const Error&) {
    }
  }
};

// ---- bpffs ------------------------------------------------------------------------

struct BpffsMount {
  std::string dir;
  bool mounted = false;
  explicit BpffsMount(const std::string& d) : dir(d) {
    fs::create_directories(dir);
    mounted = ::mount("bpf", dir.c_str(), "bpf", 0, nullptr) == 0;
  }
  ~BpffsMount() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

}  // namespace

// ================================= maps =============================================

TEST(SysMaps, CreateUpdateLookupFreezeRoundTrip) {
  SKIP_UNLESS(test::missing_bpf());
  Fd map(sys::map_create(array_map(8)));
  const Bytes value = {1, 2, 3, 4, 5, 6, 7, 8};
  sys::map_update(map.fd, kKey0, value);
  Bytes read;
  sys::map_lookup(map.fd, kKey0, read);
  EXPECT_EQ(read, value);

  sys::map_freeze(map.fd);
  Error e = expect_error([&] { sys::map_update(map.fd, kKey0, Bytes(8, 9)); });
  EXPECT_EQ(e.err(), EPERM) << e.what();
  EXPECT_EQ(e.kind(), "bpf_syscall");
  EXPECT_NE(std::string(e.what()).find("BPF_MAP_UPDATE_ELEM"), std::string::npos) << e.what();
  sys::map_lookup(map.fd, kKey0, read);  // reads still work on a frozen map
  EXPECT_EQ(read, value);
}

TEST(SysMaps, InfoNamesTheMap) {
  SKIP_UNLESS(test::missing_bpf());
  Fd map(sys::map_create(array_map(13, "bpfsig_info")));
  sys::ObjectInfo info = sys::map_info(map.fd);
  EXPECT_EQ(info.type, 2u);
  EXPECT_EQ(info.type_name, "array");
  EXPECT_EQ(info.name, "bpfsig_info");
  EXPECT_EQ(info.key_size, 4u);
  EXPECT_EQ(info.value_size, 13u);
  EXPECT_EQ(info.max_entries, 1u);
  EXPECT_GT(info.id, 0u);
}

TEST(SysMaps, HashOfUnfrozenArrayIsRefused) {
  SKIP_UNLESS(test::missing_map_hash());
  Fd map(sys::map_create(array_map(8)));
  sys::map_update(map.fd, kKey0, Bytes(8, 1));
  Error e = expect_error([&] { sys::map_get_hash(map.fd); });
  // Since the Feb 2026 fix the map must be frozen first (no TOCTOU on map->sha).
  EXPECT_EQ(e.err(), EPERM) << e.what();
  EXPECT_NE(std::string(e.what()).find("BPF_OBJ_GET_INFO_BY_FD"), std::string::npos);
}

TEST(SysMaps, HashOfFrozenArrayIsSha256OfPaddedValue) {
  SKIP_UNLESS(test::missing_map_hash());
  for (uint32_t size : {8u, 13u, 4096u}) {
    SCOPED_TRACE("value_size " + std::to_string(size));
    Bytes value(size);
    for (uint32_t i = 0; i < size; ++i) value[i] = static_cast<uint8_t>(i * 7 + 1);
    Fd map(sys::map_create(array_map(size)));
    sys::map_update(map.fd, kKey0, value);
    sys::map_freeze(map.fd);
    EXPECT_EQ(as_bytes(sys::map_get_hash(map.fd)), sha256_padded8(value));
  }
}

TEST(SysMaps, HashSizeOtherThan32IsEinval) {
  SKIP_UNLESS(test::missing_map_hash());
  Fd map(sys::map_create(array_map(8)));
  sys::map_freeze(map.fd);
  uint8_t hash[32] = {};
  uapi::MapInfo info{};
  info.hash = reinterpret_cast<uintptr_t>(hash);
  info.hash_size = 16;
  uapi::GetInfoAttr attr{};
  attr.bpf_fd = static_cast<uint32_t>(map.fd);
  attr.info_len = sizeof info;
  attr.info = reinterpret_cast<uintptr_t>(&info);
  long rc = ::syscall(__NR_bpf, uapi::kObjGetInfoByFd, &attr, sizeof attr);
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(SysMaps, HashMapsHaveNoHash) {
  SKIP_UNLESS(test::missing_map_hash());
  sys::MapCreate req;
  req.map_type = 1;  // BPF_MAP_TYPE_HASH
  req.name = "bpfsig_hash";
  req.value_size = 8;
  req.max_entries = 4;
  Fd map(sys::map_create(req));
  EXPECT_EQ(sys::map_info(map.fd).type_name, "hash");
  sys::map_update(map.fd, kKey0, Bytes(8, 1));
  sys::map_freeze(map.fd);  // frozen, so EINVAL is about the type, not EPERM
  Error e = expect_error([&] { sys::map_get_hash(map.fd); });
  EXPECT_EQ(e.err(), EINVAL) << e.what();
}

// ============================== programs ============================================

TEST(SysProgs, TrivialSyscallProgramLoadsRunsAndDescribesItself) {
  SKIP_UNLESS(test::missing_bpf());
  Bytes insns = encode({mov64_imm(0, 7), exit_insn()});
  Fd prog(sys::prog_load(syscall_prog("bpfsig_seven", insns)));
  Bytes ctx;
  EXPECT_EQ(sys::prog_run(prog.fd, ctx).retval, 7u);
  sys::ObjectInfo info = sys::prog_info(prog.fd);
  EXPECT_EQ(info.type, 31u);
  EXPECT_EQ(info.type_name, "syscall");
  EXPECT_EQ(info.name, "bpfsig_seven");
  EXPECT_EQ(info.insn_count, 2u);
  // The tag is the first 8 bytes of SHA-256 over the instructions.
  EXPECT_EQ(info.tag_hex, to_hex(ByteView(sha256(insns).data(), 8)));
}

TEST(SysProgs, VerifierLogGoesIntoTheError) {
  SKIP_UNLESS(test::missing_bpf());
  sys::ProgLoad req = syscall_prog("bpfsig_bad", encode({exit_insn()}));  // r0 never set
  req.log_level = 1;
  Error e = expect_error([&] { sys::prog_load(req); });
  EXPECT_EQ(e.err(), EACCES) << e.what();
  EXPECT_EQ(e.kind(), "bpf_syscall");
  std::string msg = e.what();
  EXPECT_EQ(msg.rfind("BPF_PROG_LOAD: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("R0 !read_ok"), std::string::npos) << msg;
}

TEST(SysProgs, ProgRunWritesTheCtxBack) {
  SKIP_UNLESS(test::missing_bpf());
  // r2 = 0x1234; *(u64 *)(r1 + 8) = r2; r0 = 0; exit
  Bytes insns = encode({mov64_imm(2, 0x1234), stx_dw(1, 2, 8), mov64_imm(0, 0), exit_insn()});
  Fd prog(sys::prog_load(syscall_prog("bpfsig_ctx", insns)));
  Bytes ctx(16, 0);
  sys::prog_run(prog.fd, ctx);
  EXPECT_EQ(load_le64(ctx.data() + 8), 0x1234u);
}

// ============================ exclusive maps ========================================

TEST(SysExclusiveMaps, HashMustBe32Bytes) {
  SKIP_UNLESS(test::missing_excl_maps());
  sys::MapCreate req = array_map(8);
  req.excl_prog_hash = Bytes(31, 1);
  Error e = expect_error([&] { sys::map_create(req); });
  EXPECT_EQ(e.err(), EINVAL) << e.what();
  EXPECT_NE(std::string(e.what()).find("BPF_MAP_CREATE"), std::string::npos);
}

TEST(SysExclusiveMaps, OnlyTheProgramWithTheRightDigestMayUseTheMap) {
  SKIP_UNLESS(test::missing_excl_maps());
  Bytes insns = prog_using_map_idx0();
  Bytes digest = sha256(insns);  // MAP_IDX immediates are part of the digest

  sys::MapCreate req = array_map(8);
  req.excl_prog_hash = digest;
  Fd map(sys::map_create(req));
  sys::ProgLoad load = syscall_prog("bpfsig_excl", insns);
  load.fd_array = {map.fd};
  Fd prog(sys::prog_load(load));
  EXPECT_GE(prog.fd, 0);

  Bytes wrong = digest;
  wrong[0] ^= 0x01;
  req.excl_prog_hash = wrong;
  Fd other_map(sys::map_create(req));
  load.fd_array = {other_map.fd};
  Error e = expect_error([&] { sys::prog_load(load); });
  EXPECT_EQ(e.err(), EACCES) << e.what();
}

TEST(SysExclusiveMaps, MapFdImmediatesAreZeroedInTheDigest) {
  SKIP_UNLESS(test::missing_excl_maps());
  // With src=BPF_PSEUDO_MAP_FD the imm holds the fd, which the digest leaves
  // out: the hash is over the instructions with that imm zeroed.
  Bytes zeroed = encode({ld_imm64_lo(1, kPseudoMapFd, 0), ld_imm64_hi(), mov64_imm(0, 0), exit_insn()});
  sys::MapCreate req = array_map(8);
  req.excl_prog_hash = sha256(zeroed);
  Fd map(sys::map_create(req));
  Bytes insns = encode({ld_imm64_lo(1, kPseudoMapFd, map.fd), ld_imm64_hi(), mov64_imm(0, 0), exit_insn()});
  Fd prog(sys::prog_load(syscall_prog("bpfsig_exfd", insns)));
  EXPECT_GE(prog.fd, 0);
}

TEST(SysExclusiveMaps, ProgramReadsMapShaThroughTheMapPointer) {
  SKIP_UNLESS(test::missing_map_hash());
  // r6 = ctx; r1 = map (fd_array[0]); r2 = *(u64 *)(r1 + 0) (map->sha[0..7]);
  // *(u64 *)(r6 + 0) = r2; r0 = r2; exit
  Bytes insns = encode({mov64_reg(6, 1), ld_imm64_lo(1, kPseudoMapIdx, 0), ld_imm64_hi(), ldx_dw(2, 1, 0),
                        stx_dw(6, 2, 0), mov64_reg(0, 2), exit_insn()});
  Bytes value = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  Fd map(sys::map_create(array_map(static_cast<uint32_t>(value.size()))));
  sys::map_update(map.fd, kKey0, value);
  sys::map_freeze(map.fd);
  sys::ProgLoad load = syscall_prog("bpfsig_sha", insns);
  load.fd_array = {map.fd};
  Fd prog(sys::prog_load(load));

  Bytes ctx(8, 0xff);
  sys::RunResult before = sys::prog_run(prog.fd, ctx);
  EXPECT_EQ(load_le64(ctx.data()), 0u) << "map->sha is all zero until GET_INFO computes it";
  EXPECT_EQ(before.retval, 0u);

  Bytes hash = as_bytes(sys::map_get_hash(map.fd));
  EXPECT_EQ(hash, sha256_padded8(value));
  sys::RunResult after = sys::prog_run(prog.fd, ctx);
  EXPECT_EQ(load_le64(ctx.data()), load_le64(hash.data()));
  EXPECT_EQ(after.retval, load_le32(hash.data()));  // retval is 32 bits
}

// ============================ signatures ============================================

TEST(SysSignatures, SignedProgLoadMatchesTheProbe) {
  SKIP_UNLESS(test::missing_bpf());
  sys::ProgLoad req = syscall_prog("bpfsig_sig", encode({mov64_imm(0, 0), exit_insn()}));
  req.signature = Bytes(64, 0x42);
  for (int32_t keyring : {0, sys::kSessionKeyring}) {
    SCOPED_TRACE("keyring_id " + std::to_string(keyring));
    req.keyring_id = keyring;
    Error e = expect_error([&] { sys::prog_load(req); });
    if (!test::kernel_features().signed_load) {
      // This machine (facts.md section 9): no in-kernel PKCS#7 verification.
      EXPECT_EQ(e.err(), EOPNOTSUPP) << e.what();
    } else {
      // The kernel parsed the junk: EBADMSG (or EINVAL from the keyring lookup).
      EXPECT_NE(e.err(), EOPNOTSUPP) << e.what();
      std::cout << "signed PROG_LOAD of junk: " << errno_name(e.err()) << "\n";
    }
  }
  if (!test::kernel_features().signed_load) {
    EXPECT_NE(test::kernel_features().reason.find("EOPNOTSUPP"), std::string::npos) << test::kernel_features().reason;
    std::cout << "probe: " << test::kernel_features().reason << "\n";
  }
}

TEST(SysSignatures, ProbeFindsTheBasics) {
  SKIP_UNLESS(test::missing_bpf());
  EXPECT_TRUE(test::kernel_features().bpf);
  EXPECT_TRUE(test::kernel_features().map_hash) << test::kernel_features().reason;
  EXPECT_TRUE(test::kernel_features().excl_maps) << test::kernel_features().reason;
}

TEST(SysSignatures, ProbeWithoutRootSaysWhy) {
  if (test::is_root()) GTEST_SKIP() << "skipped: running as root (the non-root branch is not reachable)";
  sys::KernelFeatures f = sys::probe_kernel();
  EXPECT_FALSE(f.bpf);
  EXPECT_FALSE(f.signed_load);
  EXPECT_NE(f.reason.find("root"), std::string::npos);
}

// ============================== keyrings ============================================

TEST(SysKeyrings, AddX509CertAndInvalidate) {
  test::TempDir dir;
  Bytes cert = make_test_cert(dir);
  if (cert.empty()) GTEST_SKIP() << "skipped: openssl could not make a test certificate";

  const std::string description = "bpfsig-test:" + std::to_string(::getpid());
  int32_t keyring = sys::keyring_create(description, sys::kSessionKeyring);
  EXPECT_GT(keyring, 0);
  EXPECT_TRUE(proc_keys_has_description(description));
  int32_t key = 0;
  try {
    key = sys::key_add_x509(cert, keyring);
  } catch (const Error& e) {
    sys::key_invalidate(keyring);
    FAIL() << e.what();
  }
  EXPECT_GT(key, 0);
  bool found = false;
  for (const auto& k : proc_keys())
    if (k.serial == key) found = k.is_asymmetric() && k.described_as("t");
  EXPECT_TRUE(found) << "the asymmetric key is named after the subject CN (\"t: <skid>\")";

  sys::key_invalidate(key);
  sys::key_unlink(keyring, sys::kSessionKeyring);
  EXPECT_TRUE(eventually([&] { return !proc_keys_has_serial(key) && !proc_keys_has_serial(keyring); }));
}

TEST(SysKeyrings, GarbageCertificateIsRefused) {
  ScratchKeyring keyring("bpfsig-test-garbage:" + std::to_string(::getpid()));
  Bytes garbage = {0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef};
  Error e = expect_error([&] { sys::key_add_x509(garbage, keyring.serial); });
  EXPECT_EQ(e.kind(), "keyring");
  // The asymmetric key type tries each parser (X.509, PKCS#8, ...); when none
  // accepts the payload, add_key fails with EBADMSG.
  EXPECT_EQ(e.err(), EBADMSG) << e.what();
}

TEST(SysKeyrings, UnlinkFromAKeyringNotHoldingTheKeyIsENOENT) {
  ScratchKeyring keyring("bpfsig-test-unlink:" + std::to_string(::getpid()));
  Error e = expect_error([&] { sys::key_unlink(keyring.serial, sys::kUserKeyring); });
  EXPECT_EQ(e.kind(), "keyring");
  EXPECT_EQ(e.err(), ENOENT) << e.what();  // not linked into the user keyring
}

// ============================ load() ================================================

TEST(SysLoad, CtxHelperMatchesTheBpftoolStruct) {
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  EXPECT_EQ(loader.data.size(), 3656u);
  EXPECT_EQ(loader.insns.size(), 2288u);
  // 24 + 3 * 16 + 1 * 4 = offsetof(struct prog_bpf, links), what load() puts in ctx.sz
  EXPECT_EQ(skel::loader_ctx_size(loader), 76u);
  std::string text = test::read_text(bpftool_header_path());
  EXPECT_NE(text.find("skel->ctx.sz = (char *)&skel->links - (char *)skel;"), std::string::npos);
}

TEST(SysLoad, LoadsTheBpftoolSkeletonWithoutSignature) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  sys::LoadOptions opts;
  opts.send_signature = false;
  int fds_before = open_fd_count();

  sys::LoadResult r = sys::load(loader, opts);
  EXPECT_FALSE(r.signature_sent);
  EXPECT_EQ(r.keyring_id, 0);
  EXPECT_EQ(r.loader_retval, 0);
  EXPECT_EQ(r.loader_map.name, "__loader.map");
  EXPECT_EQ(r.loader_map.type_name, "array");
  EXPECT_EQ(r.loader_map.value_size, 3656u);
  EXPECT_EQ(r.loader_prog.name, "__loader.prog");
  EXPECT_EQ(r.loader_prog.type_name, "syscall");

  ASSERT_EQ(r.progs.size(), 1u);
  EXPECT_EQ(r.progs[0].name, "handle_execve");
  EXPECT_EQ(r.progs[0].type_name, "tracepoint");
  EXPECT_GT(r.progs[0].insn_count, 0u);
  ASSERT_EQ(r.maps.size(), 3u);
  EXPECT_EQ(r.maps[0].name, "counts");
  EXPECT_EQ(r.maps[0].type_name, "hash");
  EXPECT_EQ(r.maps[0].max_entries, 1024u);
  // The kernel's names for the global-data maps: "<object>.<section>".
  EXPECT_EQ(r.maps[1].name, "prog_bpf.bss");
  EXPECT_EQ(r.maps[1].type_name, "array");
  EXPECT_EQ(r.maps[2].name, "prog_bpf.data");
  EXPECT_EQ(r.maps[2].type_name, "array");

  // The .data map holds `magic` from the blob.
  Bytes value;
  sys::map_lookup(r.map_fds[2], kKey0, value);
  EXPECT_EQ(load_le32(value.data()), 0xabcd1234u);

  // Only the created objects stay open: the loader's map and program are closed.
  EXPECT_EQ(open_fd_count(), fds_before + 4);
  sys::close_fds(r);
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(SysLoad, FlippedMetadataByteMakesTheLoaderReturnEinval) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  // The loader hashes the whole blob. Bytes 0..11 are left alone: they are the
  // slots where the loader keeps the fds it creates (see the next test).
  loader.data[63] ^= 0x01;
  sys::LoadOptions opts;
  opts.send_signature = false;
  int fds_before = open_fd_count();
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.err(), EINVAL) << e.what();
  EXPECT_EQ(e.kind(), "loader_failed");
  EXPECT_NE(std::string(e.what()).find("loader returned -22"), std::string::npos) << e.what();
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(SysLoad, TamperedFdSlotMakesTheFailingLoaderCloseThatFd) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  // The loader keeps the fds of the maps it creates at offsets 0, 4, 8 of its
  // metadata map and its cleanup block (which a hash mismatch jumps to)
  // closes every slot > 0 with bpf_sys_close, in the loading process. A blob
  // that is tampered there therefore closes one of the loader's own fds
  // before load() reports the mismatch.
  int victim = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GT(victim, 2);
  skel::SignedLoader loader = bpftool_loader();
  ASSERT_EQ(load_le32(loader.data.data()), 0u);
  store_le32(loader.data.data(), static_cast<uint32_t>(victim));
  sys::LoadOptions opts;
  opts.send_signature = false;
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.kind(), "loader_failed") << e.what();
  EXPECT_EQ(e.err(), EINVAL);
  errno = 0;
  bool closed = ::fcntl(victim, F_GETFD) == -1 && errno == EBADF;
  EXPECT_TRUE(closed) << "fd " << victim << " survived";
  if (!closed) ::close(victim);
}

TEST(SysLoad, FlippedInstructionByteBreaksTheExclusiveMap) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  // Instruction 2 is `r1 += -136` (stack setup), far from the hash-match
  // immediates; excl_hash still names the original instructions.
  ASSERT_EQ(loader.insns[2 * 8 + 4], 0x78);
  loader.insns[2 * 8 + 4] ^= 0x01;
  sys::LoadOptions opts;
  opts.send_signature = false;
  int fds_before = open_fd_count();
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.err(), EACCES) << e.what();
  EXPECT_EQ(e.kind(), "bpf_syscall");
  EXPECT_NE(std::string(e.what()).find("BPF_PROG_LOAD"), std::string::npos) << e.what();
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(SysLoad, SignatureOnThisKernelIsKernelNoSigAndTheOwnKeyringIsGone) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  if (test::kernel_features().signed_load) GTEST_SKIP() << "skipped: this kernel verifies signatures (the EOPNOTSUPP branch is not reachable)";
  skel::SignedLoader loader = bpftool_loader();
  loader.signature = c_string_literal(test::read_text(bpftool_header_path()), "opts_sig");
  ASSERT_EQ(loader.signature.size(), 375u);
  sys::LoadOptions opts;  // kOwn, send_signature
  opts.trusted_certs_der = {read_file(bpftool_cert_path())};
  // As if the probe had found a kernel that checks the 6.18 scheme, so that
  // the own keyring is made and the PROG_LOAD itself answers EOPNOTSUPP.
  opts.kernel_check = sys::SignatureCheck::kInsns;
  int fds_before = open_fd_count();
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.err(), EOPNOTSUPP) << e.what();
  EXPECT_EQ(e.kind(), "kernel_no_sig");
  EXPECT_NE(std::string(e.what()).find("--userspace-verify"), std::string::npos);
  EXPECT_EQ(open_fd_count(), fds_before);
  EXPECT_TRUE(eventually([] { return !proc_keys_has_description(own_keyring_description()); }))
      << "the own keyring " << own_keyring_description() << " is still in /proc/keys";
}

TEST(SysLoad, AnySignatureBytesReachTheKernelCheck) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  loader.signature = Bytes(16, 0x5a);
  sys::LoadOptions opts;
  opts.keyring = sys::KeyringMode::kSerial;
  ScratchKeyring keyring("bpfsig-test-serial:" + std::to_string(::getpid()));
  opts.keyring_serial = keyring.serial;
  Error e = expect_error([&] { sys::load(loader, opts); });
  if (test::kernel_features().signed_load) {
    EXPECT_NE(e.err(), EOPNOTSUPP) << e.what();  // junk: EBADMSG from the PKCS#7 parser
  } else {
    EXPECT_EQ(e.err(), EOPNOTSUPP) << e.what();
    EXPECT_EQ(e.kind(), "kernel_no_sig");
  }
}

TEST(SysLoad, OwnKeyringNeedsTheUsersCertificateNotTheFilesOwn) {
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  loader.signature = Bytes(16, 0x5a);
  loader.signer_cert = read_file(bpftool_cert_path());  // embedded: never an anchor
  sys::LoadOptions opts;  // kOwn
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.err(), EINVAL);
  EXPECT_EQ(e.kind(), "no_trust_anchor");
}

TEST(SysLoad, SendingNoSignatureNeedsNoCertificate) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();  // no cert, no signature
  loader.excl_hash.clear();                      // load() computes SHA-256(insns) then
  sys::LoadOptions opts;
  opts.send_signature = false;
  sys::LoadResult r = sys::load(loader, opts);
  sys::close_fds(r);
  EXPECT_EQ(r.keyring_id, 0);
}

TEST(SysLoad, MissingSignatureIsAnErrorWhenSendingOne) {
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader loader = bpftool_loader();
  loader.signer_cert = Bytes{1};
  sys::LoadOptions opts;
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.err(), EINVAL);
  EXPECT_EQ(e.kind(), "no_signature");
}

TEST(SysLoad, SessionKeyringModeAddsTheCertLikeBpftool) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  if (test::kernel_features().signed_load) GTEST_SKIP() << "skipped: this kernel verifies signatures; this test expects EOPNOTSUPP";
  skel::SignedLoader loader = bpftool_loader();
  loader.signature = Bytes(16, 0x5a);
  std::set<int32_t> before = session_keyring_contents();

  sys::LoadOptions opts;
  opts.keyring = sys::KeyringMode::kSession;
  opts.trusted_certs_der = {read_file(bpftool_cert_path())};
  opts.kernel_check = sys::SignatureCheck::kInsns;  // reach the keyring step on this kernel
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.kind(), "kernel_no_sig") << e.what();

  // The certificate ("anchor: <skid>") was added to the session keyring, as
  // `bpftool prog load -S` does; remove what this test added.
  // (A key that was there already is updated in place and kept.)
  bool present = false;
  std::set<int32_t> after = session_keyring_contents();
  for (const auto& k : proc_keys()) {
    if (!after.count(k.serial)) continue;
    bool anchor = k.is_asymmetric() && k.described_as("anchor");
    present = present || anchor;
    if (before.count(k.serial)) continue;
    EXPECT_TRUE(anchor) << "unexpected new key: " << k.type << " " << k.text;
    sys::key_invalidate(k.serial);
  }
  EXPECT_TRUE(present);
}

TEST(SysLoad, PinsIntoABpffs) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  test::TempDir dir;
  BpffsMount bpffs(dir.file("bpffs"));
  if (!bpffs.mounted) GTEST_SKIP() << "skipped: cannot mount a bpffs: " << std::strerror(errno);
  skel::SignedLoader loader = bpftool_loader();
  sys::LoadOptions opts;
  opts.send_signature = false;
  opts.pin_dir = bpffs.dir + "/prog_bpf";
  sys::LoadResult r = sys::load(loader, opts);
  sys::close_fds(r);  // pinned objects outlive their fds
  std::vector<std::string> expected;
  for (const char* name : {"counts", "bss", "data", "handle_execve"}) expected.push_back(opts.pin_dir + "/" + name);
  EXPECT_EQ(r.pinned, expected);
  for (const auto& path : expected) EXPECT_TRUE(test::file_exists(path)) << path;
  for (const auto& path : expected) ::unlink(path.c_str());
}

TEST(SysLoad, PinningOutsideABpffsSaysHowToMountOne) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  test::TempDir dir;  // tmpfs or disk, not a bpffs
  skel::SignedLoader loader = bpftool_loader();
  sys::LoadOptions opts;
  opts.send_signature = false;
  opts.pin_dir = dir.file("pins");
  int fds_before = open_fd_count();
  Error e = expect_error([&] { sys::load(loader, opts); });
  EXPECT_EQ(e.err(), EPERM) << e.what();
  EXPECT_NE(std::string(e.what()).find("mount -t bpf bpf /sys/fs/bpf"), std::string::npos) << e.what();
  EXPECT_EQ(open_fd_count(), fds_before);
  EXPECT_TRUE(fs::is_empty(opts.pin_dir));
}

// ====================== include/bpfsig/skel_internal.h =============================

namespace {

std::string compile_c(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"cc"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = test::run_command(argv);
  return r.exit_code == 0 ? "" : r.err + r.out;
}

const char* kSkeletonMain = R"(#include <stdio.h>
#include "prog.lskel.h"

int main(void)
{
	struct prog_bpf *skel = prog_bpf__open();
	int err;

	if (!skel)
		return 2;
	err = prog_bpf__load(skel);
	printf("load=%d prog_fd=%d counts_fd=%d", err, skel->progs.handle_execve.prog_fd, skel->maps.counts.map_fd);
	if (!err)
		printf(" magic=%x", skel->data->magic);
	printf("\n");
	prog_bpf__destroy(skel);
	return 0;
}
)";

}  // namespace

TEST(SkelInternalHeader, CompilesCleanlyAsCAndCxx) {
  test::TempDir dir;
  std::string include = "-I" + test::source_dir() + "/include";
  test::write_text(dir.file("h.c"),
                   "#include <bpfsig/skel_internal.h>\n"
                   "int main(void) { struct bpf_load_and_run_opts o; memset(&o, 0, sizeof o); return (int)o.signature_sz; }\n");
  for (const char* std : {"-std=c99", "-std=gnu11"}) {
    SCOPED_TRACE(std);
    EXPECT_EQ(compile_c({std, "-Wall", "-Wextra", "-Werror", "-pedantic", include, "-c", dir.file("h.c"), "-o",
                         dir.file("h.o")}),
              "");
  }
  fs::copy_file(dir.file("h.c"), dir.file("h.cpp"));
  auto r = test::run_command({"c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", include, "-c", dir.file("h.cpp"),
                              "-o", dir.file("h.o")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(SkelInternalHeader, BpftoolSkeletonLoadsThroughIt) {
  SKIP_UNLESS(test::missing_excl_maps());
  SKIP_UNLESS(test::missing_shared_testdata());
  test::TempDir dir;
  std::string header = test::read_text(bpftool_header_path());
  const std::string from = "#include <bpf/skel_internal.h>";
  size_t at = header.find(from);
  ASSERT_NE(at, std::string::npos);
  header.replace(at, from.size(), "#include <bpfsig/skel_internal.h>");
  test::write_text(dir.file("prog.lskel.h"), header);
  test::write_text(dir.file("main.c"), kSkeletonMain);

  std::vector<std::string> common = {"-std=gnu11", "-Wall", "-I" + dir.path(), "-I" + test::source_dir() + "/include",
                                     dir.file("main.c"), "-o"};
  auto with = common, without = common;
  with.push_back(dir.file("with_sig"));
  without.push_back(dir.file("without_sig"));
  without.push_back("-DBPFSIG_SKEL_NO_KERNEL_SIG");
  ASSERT_EQ(compile_c(with), "");
  ASSERT_EQ(compile_c(without), "");
  // The same skeleton through the header also builds warning-free as C++.
  fs::copy_file(dir.file("main.c"), dir.file("main.cpp"));
  auto cxx = test::run_command({"c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I" + dir.path(),
                                "-I" + test::source_dir() + "/include", "-c", dir.file("main.cpp"), "-o",
                                dir.file("main.o")});
  EXPECT_EQ(cxx.exit_code, 0) << cxx.err;

  auto signed_run = test::run_command({dir.file("with_sig")});
  std::cout << "with the signature:    " << signed_run.out;
  ASSERT_EQ(signed_run.exit_code, 0) << signed_run.err;
  if (test::kernel_features().signed_load) {
    // keyring_id 0 is the builtin keyring, which does not hold CN=anchor.
    EXPECT_EQ(signed_run.out.rfind("load=0 ", 0), std::string::npos) << signed_run.out;
  } else {
    EXPECT_EQ(signed_run.out.rfind("load=-" + std::to_string(EOPNOTSUPP) + " ", 0), 0u) << signed_run.out;
  }

  auto unsigned_run = test::run_command({dir.file("without_sig")});
  std::cout << "without the signature: " << unsigned_run.out;
  ASSERT_EQ(unsigned_run.exit_code, 0) << unsigned_run.err;
  EXPECT_EQ(unsigned_run.out.rfind("load=0 prog_fd=", 0), 0u) << unsigned_run.out;
  int prog_fd = -1;
  ASSERT_EQ(std::sscanf(unsigned_run.out.c_str(), "load=0 prog_fd=%d", &prog_fd), 1);
  EXPECT_GT(prog_fd, 0);
  EXPECT_NE(unsigned_run.out.find("magic=abcd1234"), std::string::npos) << unsigned_run.out;
}
