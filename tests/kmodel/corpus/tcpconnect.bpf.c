// SPDX-License-Identifier: Apache-2.0
// tcpconnect-like: the socket kept at fentry/tcp_v4_connect, the connection
// reported at fexit when it succeeded (saddr, daddr, dport through CO-RE of
// struct sock), and a count per destination port; fmod_ret leaves the return
// value alone but shows the third trampoline kind.
#include "corpus.h"

struct event {
  u32 saddr, daddr;
  u16 dport, family;
  u32 pid;
  char comm[TASK_COMM_LEN];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, u32);
  __type(value, struct sock *);
} sockets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, u16);
  __type(value, u64);
} ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("fentry/tcp_v4_connect")
int BPF_PROG(tcp_v4_connect_entry, struct sock *sk, struct sockaddr *uaddr, int addr_len) {
  u32 tid = (u32)bpf_get_current_pid_tgid();
  bpf_map_update_elem(&sockets, &tid, &sk, 0);
  return 0;
}

SEC("fexit/tcp_v4_connect")
int BPF_PROG(tcp_v4_connect_exit, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret) {
  u32 tid = (u32)bpf_get_current_pid_tgid();
  bpf_map_delete_elem(&sockets, &tid);
  if (ret) return 0;
  u16 dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
  u64 one = 1, *count = bpf_map_lookup_elem(&ports, &dport);
  if (count) __sync_fetch_and_add(count, 1);
  else bpf_map_update_elem(&ports, &dport, &one, BPF_NOEXIST);
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return 0;
  e->saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
  e->daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
  e->dport = dport;
  e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  e->pid = bpf_get_current_pid_tgid() >> 32;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("fmod_ret/security_socket_connect")
int BPF_PROG(socket_connect_ret, void *sock, struct sockaddr *address, int addrlen, int ret) {
  return ret;
}
