// SPDX-License-Identifier: Apache-2.0
// The parts of the Linux 6.18 BPF UAPI (include/uapi/linux/bpf.h) that bpfsig
// uses, defined here because Debian's linux-libc-dev (6.1) predates
// excl_prog_hash, map_info.hash and the signature fields of BPF_PROG_LOAD.
// One struct per command: each is the prefix of union bpf_attr that command
// reads, and its sizeof is the attr size passed to bpf(2). Every offset is
// pinned with a static_assert against the kernel's layout.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bpfsig::uapi {

// enum bpf_cmd
inline constexpr int kMapCreate = 0;
inline constexpr int kMapLookupElem = 1;
inline constexpr int kMapUpdateElem = 2;
inline constexpr int kProgLoad = 5;
inline constexpr int kObjPin = 6;
inline constexpr int kObjGet = 7;
inline constexpr int kProgGetFdById = 13;
inline constexpr int kLinkCreate = 28;
inline constexpr uint32_t kAttachLsmMac = 27;  // BPF_LSM_MAC
inline constexpr int kProgRun = 10;  // BPF_PROG_TEST_RUN
inline constexpr int kObjGetInfoByFd = 15;
inline constexpr int kMapFreeze = 22;

inline constexpr uint32_t kMapTypeArray = 2;
inline constexpr uint32_t kProgTypeSyscall = 31;
inline constexpr uint32_t kFlagSleepable = 0x10;  // BPF_F_SLEEPABLE
inline constexpr size_t kObjNameLen = 16;        // BPF_OBJ_NAME_LEN
inline constexpr uint32_t kSha256Size = 32;

struct MapCreateAttr {
  uint32_t map_type;
  uint32_t key_size;
  uint32_t value_size;
  uint32_t max_entries;
  uint32_t map_flags;
  uint32_t inner_map_fd;
  uint32_t numa_node;
  char map_name[kObjNameLen];
  uint32_t map_ifindex;
  uint32_t btf_fd;
  uint32_t btf_key_type_id;
  uint32_t btf_value_type_id;
  uint32_t btf_vmlinux_value_type_id;
  uint64_t map_extra;
  int32_t value_type_btf_obj_fd;
  int32_t map_token_fd;
  alignas(8) uint64_t excl_prog_hash;
  uint32_t excl_prog_hash_size;
};
static_assert(offsetof(MapCreateAttr, map_name) == 28);
static_assert(offsetof(MapCreateAttr, map_extra) == 64);
static_assert(offsetof(MapCreateAttr, map_token_fd) == 76);
static_assert(offsetof(MapCreateAttr, excl_prog_hash) == 80);
static_assert(offsetof(MapCreateAttr, excl_prog_hash_size) == 88);
static_assert(sizeof(MapCreateAttr) == 96);  // end 92, padded to 8

// BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM and BPF_MAP_FREEZE (map_fd only).
struct MapElemAttr {
  uint32_t map_fd;
  alignas(8) uint64_t key;
  alignas(8) uint64_t value;
  uint64_t flags;
};
static_assert(offsetof(MapElemAttr, key) == 8);
static_assert(offsetof(MapElemAttr, value) == 16);
static_assert(offsetof(MapElemAttr, flags) == 24);
static_assert(sizeof(MapElemAttr) == 32);

struct ProgLoadAttr {
  uint32_t prog_type;
  uint32_t insn_cnt;
  alignas(8) uint64_t insns;
  alignas(8) uint64_t license;
  uint32_t log_level;
  uint32_t log_size;
  alignas(8) uint64_t log_buf;
  uint32_t kern_version;
  uint32_t prog_flags;
  char prog_name[kObjNameLen];
  uint32_t prog_ifindex;
  uint32_t expected_attach_type;
  uint32_t prog_btf_fd;
  uint32_t func_info_rec_size;
  alignas(8) uint64_t func_info;
  uint32_t func_info_cnt;
  uint32_t line_info_rec_size;
  alignas(8) uint64_t line_info;
  uint32_t line_info_cnt;
  uint32_t attach_btf_id;
  uint32_t attach_prog_fd;
  uint32_t core_relo_cnt;
  alignas(8) uint64_t fd_array;
  alignas(8) uint64_t core_relos;
  uint32_t core_relo_rec_size;
  uint32_t log_true_size;
  int32_t prog_token_fd;
  uint32_t fd_array_cnt;
  alignas(8) uint64_t signature;
  uint32_t signature_size;
  int32_t keyring_id;
};
static_assert(offsetof(ProgLoadAttr, insns) == 8);
static_assert(offsetof(ProgLoadAttr, license) == 16);
static_assert(offsetof(ProgLoadAttr, log_level) == 24);
static_assert(offsetof(ProgLoadAttr, log_buf) == 32);
static_assert(offsetof(ProgLoadAttr, prog_flags) == 44);
static_assert(offsetof(ProgLoadAttr, prog_name) == 48);
static_assert(offsetof(ProgLoadAttr, expected_attach_type) == 68);
static_assert(offsetof(ProgLoadAttr, func_info) == 80);
static_assert(offsetof(ProgLoadAttr, line_info) == 96);
static_assert(offsetof(ProgLoadAttr, attach_prog_fd) == 112);
static_assert(offsetof(ProgLoadAttr, fd_array) == 120);
static_assert(offsetof(ProgLoadAttr, core_relos) == 128);
static_assert(offsetof(ProgLoadAttr, log_true_size) == 140);
static_assert(offsetof(ProgLoadAttr, prog_token_fd) == 144);
static_assert(offsetof(ProgLoadAttr, fd_array_cnt) == 148);
static_assert(offsetof(ProgLoadAttr, signature) == 152);
static_assert(offsetof(ProgLoadAttr, signature_size) == 160);
static_assert(offsetof(ProgLoadAttr, keyring_id) == 164);
static_assert(sizeof(ProgLoadAttr) == 168);

struct ObjPinAttr {
  alignas(8) uint64_t pathname;
  uint32_t bpf_fd;
  uint32_t file_flags;
  int32_t path_fd;
};
static_assert(offsetof(ObjPinAttr, bpf_fd) == 8);
static_assert(offsetof(ObjPinAttr, file_flags) == 12);
static_assert(offsetof(ObjPinAttr, path_fd) == 16);
static_assert(sizeof(ObjPinAttr) == 24);

// attr.link_create, as far as BPF_LSM_MAC needs it.
struct LinkCreateAttr {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint32_t target_btf_id;
  uint32_t pad[3];
};
static_assert(sizeof(LinkCreateAttr) == 32);

// The fixed head of struct bpf_link_info.
struct LinkInfo {
  uint32_t type;
  uint32_t id;
  uint32_t prog_id;
  uint32_t pad;
  uint64_t rest[8];
};

// attr.test of BPF_PROG_TEST_RUN.
struct ProgRunAttr {
  uint32_t prog_fd;
  uint32_t retval;
  uint32_t data_size_in;
  uint32_t data_size_out;
  alignas(8) uint64_t data_in;
  alignas(8) uint64_t data_out;
  uint32_t repeat;
  uint32_t duration;
  uint32_t ctx_size_in;
  uint32_t ctx_size_out;
  alignas(8) uint64_t ctx_in;
  alignas(8) uint64_t ctx_out;
  uint32_t flags;
  uint32_t cpu;
  uint32_t batch_size;
};
static_assert(offsetof(ProgRunAttr, retval) == 4);
static_assert(offsetof(ProgRunAttr, duration) == 36);
static_assert(offsetof(ProgRunAttr, ctx_size_in) == 40);
static_assert(offsetof(ProgRunAttr, ctx_size_out) == 44);
static_assert(offsetof(ProgRunAttr, ctx_in) == 48);
static_assert(offsetof(ProgRunAttr, ctx_out) == 56);
static_assert(offsetof(ProgRunAttr, batch_size) == 72);
static_assert(sizeof(ProgRunAttr) == 80);

// attr.info of BPF_OBJ_GET_INFO_BY_FD.
struct GetInfoAttr {
  uint32_t bpf_fd;
  uint32_t info_len;
  alignas(8) uint64_t info;
};
static_assert(offsetof(GetInfoAttr, info_len) == 4);
static_assert(offsetof(GetInfoAttr, info) == 8);
static_assert(sizeof(GetInfoAttr) == 16);

struct MapInfo {
  uint32_t type;
  uint32_t id;
  uint32_t key_size;
  uint32_t value_size;
  uint32_t max_entries;
  uint32_t map_flags;
  char name[kObjNameLen];
  uint32_t ifindex;
  uint32_t btf_vmlinux_value_type_id;
  uint64_t netns_dev;
  uint64_t netns_ino;
  uint32_t btf_id;
  uint32_t btf_key_type_id;
  uint32_t btf_value_type_id;
  uint32_t btf_vmlinux_id;
  uint64_t map_extra;
  alignas(8) uint64_t hash;
  uint32_t hash_size;
};
static_assert(offsetof(MapInfo, name) == 24);
static_assert(offsetof(MapInfo, netns_dev) == 48);
static_assert(offsetof(MapInfo, btf_id) == 64);
static_assert(offsetof(MapInfo, map_extra) == 80);
static_assert(offsetof(MapInfo, hash) == 88);
static_assert(offsetof(MapInfo, hash_size) == 96);
static_assert(sizeof(MapInfo) == 104);

struct ProgInfo {
  uint32_t type;
  uint32_t id;
  uint8_t tag[8];
  uint32_t jited_prog_len;
  uint32_t xlated_prog_len;
  alignas(8) uint64_t jited_prog_insns;
  alignas(8) uint64_t xlated_prog_insns;
  uint64_t load_time;
  uint32_t created_by_uid;
  uint32_t nr_map_ids;
  alignas(8) uint64_t map_ids;
  char name[kObjNameLen];
  uint32_t ifindex;
  uint32_t gpl_compatible;  // bit 0
  uint64_t netns_dev;
  uint64_t netns_ino;
  uint32_t nr_jited_ksyms;
  uint32_t nr_jited_func_lens;
  alignas(8) uint64_t jited_ksyms;
  alignas(8) uint64_t jited_func_lens;
  uint32_t btf_id;
  uint32_t func_info_rec_size;
  alignas(8) uint64_t func_info;
  uint32_t nr_func_info;
  uint32_t nr_line_info;
  alignas(8) uint64_t line_info;
  alignas(8) uint64_t jited_line_info;
  uint32_t nr_jited_line_info;
  uint32_t line_info_rec_size;
  uint32_t jited_line_info_rec_size;
  uint32_t nr_prog_tags;
  alignas(8) uint64_t prog_tags;
  uint64_t run_time_ns;
  uint64_t run_cnt;
  uint64_t recursion_misses;
  uint32_t verified_insns;
  uint32_t attach_btf_obj_id;
  uint32_t attach_btf_id;
};
static_assert(offsetof(ProgInfo, tag) == 8);
static_assert(offsetof(ProgInfo, xlated_prog_len) == 20);
static_assert(offsetof(ProgInfo, map_ids) == 56);
static_assert(offsetof(ProgInfo, name) == 64);
static_assert(offsetof(ProgInfo, netns_dev) == 88);
static_assert(offsetof(ProgInfo, btf_id) == 128);
static_assert(offsetof(ProgInfo, prog_tags) == 184);
static_assert(offsetof(ProgInfo, verified_insns) == 216);
static_assert(offsetof(ProgInfo, attach_btf_id) == 224);
static_assert(sizeof(ProgInfo) == 232);

// struct bpf_loader_ctx, bpf_map_desc and bpf_prog_desc of skel_internal.h:
// the ctx a light-skeleton loader reads its inputs from and writes fds into.
inline constexpr size_t kLoaderCtxHeaderSize = 24;
inline constexpr size_t kMapDescSize = 16;   // int map_fd; u32 max_entries; u64 initial_value
inline constexpr size_t kProgDescSize = 4;   // int prog_fd

}  // namespace bpfsig::uapi
