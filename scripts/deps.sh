#!/usr/bin/env bash
# Installs the Debian 12 packages bpfsig builds and tests with, when missing.
# Run as root (or it only reports what is missing).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang llvm
  libssl-dev openssl
  libbpf-dev libelf-dev zlib1g-dev bpftool linux-libc-dev   # libbpf-dev: only the examples' <bpf/bpf_helpers.h>
  xz-utils python3 util-linux dpkg   # libbpf 1.8 from linux-source-7.3 (scripts/libbpf/fetch-build.sh)
  libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  keyutils
  softhsm2 libengine-pkcs11-openssl libp11-kit-dev   # keys in a PKCS#11 token: the engine, p11-kit's pkcs11.h, SoftHSM2 for the tests
  libtomlplusplus-dev
  python3-jsonschema   # tests/verify/test_deep.cpp validates verify --deep's manifest against docs/manifest.schema.json
  qemu-system-x86 busybox-static   # the VM suite (docs/vm-tests.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
