#!/usr/bin/env bash
# The VM suite: for each kernel of kernels.list, boot it under QEMU with an
# initramfs holding bpfsig, bpfsig_vm_runner and signed examples, and keep
# what the VM printed. tests/qemu/test_qemu.cpp checks the results.
# Usage: run-suite.sh BUILD_DIR [KERNEL_NAME...]
# Writes BUILD_DIR/vm/NAME/{console.txt,results.jsonl,boot-seconds}, or
# BUILD_DIR/vm/skipped with the reason when this machine cannot run it
# (no network to fetch a kernel, no qemu) and CI is not set. Under CI=true
# every such reason is a failure: CI's setup installs and fetches them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run-suite.sh BUILD_DIR [KERNEL...]}" && pwd)
shift
vm=$build/vm
mkdir -p "$vm"
rm -f "$vm/skipped"
limit=${BPFSIG_VM_BOOT_LIMIT:-180}

skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "run-suite: $1" >&2
    exit 1
  fi
  echo "$1" > "$vm/skipped"
  echo "run-suite: skipped: $1"
  exit 0
}

kernels=("$@")
if [ ${#kernels[@]} -eq 0 ]; then
  mapfile -t kernels < <(grep -v '^#' "$here/kernels.list" | awk 'NF {print $1}')
fi
command -v qemu-system-x86_64 >/dev/null || skip_or_fail "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || skip_or_fail "busybox-static is not installed (apt-get install busybox-static)"
"$here/fetch-kernels.sh" "$vm/kernels" || skip_or_fail "cannot fetch the kernels of scripts/vm/kernels.list (no network?)"

# Keys and signed examples, made once for all kernels by bpfsig itself.
make_bundles() {
  local payload=$1
  mkdir -p "$payload/certs" "$payload/bundles" "$payload/keys"
  "$build/bpfsig" keygen --algo p256 --key "$payload/keys/signer.pem" --cert "$payload/certs/signer.der" >/dev/null
  "$build/bpfsig" keygen --algo p256 --key "$payload/keys/other.pem" --cert "$payload/certs/other.der" >/dev/null
  for obj in "$build"/examples/*.bpf.o; do
    local name
    name=$(basename "$obj" .bpf.o)
    for scheme in loader-hash loadtime; do
      "$build/bpfsig" sign -k "$payload/keys/signer.pem" -i "$payload/certs/signer.der" --scheme "$scheme" \
        -o "$payload/bundles/$name.$scheme.bundle" "$obj" >/dev/null
    done
  done
  make_bpftool_header_programs "$payload"
  # The kernel model's corpus (tests/kmodel/corpus), for corpus_cases.cpp on 7.3.
  mkdir -p "$payload/corpus"
  for obj in "$build"/corpus/*.bpf.o; do
    [ -e "$obj" ] || continue
    "$build/bpfsig" sign -k "$payload/keys/signer.pem" -i "$payload/certs/signer.der" --scheme loadtime \
      -o "$payload/corpus/$(basename "$obj" .bpf.o).bundle" "$obj" >/dev/null
  done
  rm -rf "$payload/keys"
  # The enforcer as the build signed it, and an unsigned object for bpftool.
  mkdir -p "$payload/enforcer"
  cp "$build/enforcer/enforcer.bpfsig" "$build/enforcer/enforcer.loader-hash.bpfsig" \
    "$build/enforcer/enforcer-cert.der" "$payload/enforcer/"
  cp "$build/examples/xdpfilter.bpf.o" "$payload/enforcer/unsigned.bpf.o"
  # The README's journey (tests/qemu/runner/journey_cases.cpp): the README, a
  # checkout as the journey sees it (build/examples, examples/) and where this
  # build's bpfsig looks for its enforcer.
  mkdir -p "$payload/journey/checkout/build/examples" "$payload/journey/checkout/examples"
  cp "$here/../../README.md" "$payload/journey/"
  cp "$build"/examples/*.bpf.o "$payload/journey/checkout/build/examples/"
  cp "$here"/../../examples/*.pol "$payload/journey/checkout/examples/"
  echo "$build/enforcer" > "$payload/journey/enforcer-dir"
  install -m 0755 "$here/vm-run.sh" "$payload/run.sh"
}

# tests/skel/bpftool_header_program.c, a C program written for bpftool 7.8's
# execcount header, built here against (a) bpfsig's loadtime header and (b)
# bpftool 7.8's own, both with libbpf 1.8's unmodified skel_internal.h and
# linked statically (the VM has no libc of its own). The runner runs them in
# the VM; where bpftool 7.8 cannot be fetched, (b) is a file saying why.
make_bpftool_header_programs() {
  local payload=$1 out=$1/bpftool-header
  local deps libbpf work
  deps=$(sed -n 's/^BPFSIG_DEPS_DIR:[A-Z]*=//p' "$build/CMakeCache.txt")
  libbpf=$deps/libbpf-1.8
  work=$(mktemp -d)
  mkdir -p "$out" "$work/bpfsig" "$work/bpftool"
  cp "$build/examples/execcount.bpf.o" "$work/"
  "$build/bpfsig" sign --scheme loadtime -k "$payload/keys/signer.pem" -i "$payload/certs/signer.der" \
    -o "$work/execcount.bpfsig" --header "$work/bpfsig/execcount.lskel.h" "$work/execcount.bpf.o" >/dev/null
  build_header_program "$libbpf" "$work/bpfsig" "$out/bpfsig"
  local why
  if why=$("$here/../libbpf/fetch-bpftool.sh" "$deps" 2>&1 >/dev/null); then
    "$deps/bpftool-7.8/bpftool" gen skeleton -L -S -k "$payload/keys/signer.pem" -i "$payload/certs/signer.der" \
      "$work/execcount.bpf.o" > "$work/bpftool/execcount.lskel.h"
    build_header_program "$libbpf" "$work/bpftool" "$out/bpftool78"
  else
    echo "bpftool 7.8 could not be fetched (scripts/libbpf/fetch-bpftool.sh): $(echo "$why" | tail -n 1)" \
      | tee "$out/bpftool78.skipped" >&2
  fi
  rm -rf "$work"
}

# build_header_program LIBBPF HEADER_DIR OUT: only libbpf 1.8's headers and
# UAPI, so <bpf/skel_internal.h> is libbpf's own.
build_header_program() {
  cc -std=gnu11 -Wall -Werror -static -I "$1/include" -I "$1/include/uapi" -I "$2" \
    "$here/../../tests/skel/bpftool_header_program.c" -o "$3"
}

common=$vm/payload-common
rm -rf "$common"
make_bundles "$common"

status=0
for name in "${kernels[@]}"; do
  out=$vm/$name
  rm -rf "$out" && mkdir -p "$out"
  cp -a "$common" "$out/payload"
  echo "$name" > "$out/payload/kernel"
  "$here/make-initramfs.sh" "$out/initramfs.cpio.gz" "$out/payload" "$build/bpfsig" "$build/bpfsig_vm_runner" \
    "$(command -v bpftool || echo /usr/sbin/bpftool)"
  start=$(date +%s%N)
  if "$here/boot.sh" "$vm/kernels/$name/vmlinuz" "$out/initramfs.cpio.gz" "$out/console.txt" "$limit"; then
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000)) > "$out/boot-seconds"
    sed -n 's/^.*BPFSIG-RESULT //p' "$out/console.txt" | tr -d '\r' > "$out/results.jsonl"
    echo "run-suite: $name: $(wc -l < "$out/results.jsonl") results in $(cat "$out/boot-seconds") s"
  else
    echo "run-suite: $name: the VM failed (console: $out/console.txt)" >&2
    status=1
  fi
  rm -f "$out/initramfs.cpio.gz"
done
exit "$status"
