#!/usr/bin/env bash
# Builds the VM suite's initramfs: busybox, the given programs with the
# shared libraries they need (found with ldd), a payload directory, and an
# /init that mounts what BPF needs, runs /payload/run.sh with its output on
# the console, and powers off.
# Usage: make-initramfs.sh OUT.cpio.gz PAYLOAD_DIR PROGRAM...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: make-initramfs.sh OUT.cpio.gz PAYLOAD_DIR PROGRAM...}
payload=${2:?payload directory}
shift 2

busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
  busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-initramfs: busybox-static is not installed" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,payload}
cp "$busybox" "$root/bin/busybox"

copy_with_libs() {
  local prog=$1
  # Debug info is most of a RelWithDebInfo binary and only slows the boot.
  objcopy --strip-debug "$prog" "$root/bin/$(basename "$prog")"
  chmod 0755 "$root/bin/$(basename "$prog")"
  # Every library at the path the dynamic loader will look for it.
  ldd "$prog" | awk '/=> \// {print $3} /^[ \t]*\/.*ld-linux/ {print $1}' | while read -r lib; do
    [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}
for prog in "$@"; do copy_with_libs "$prog"; done
cp -a "$payload"/. "$root/payload/"
install -m 0755 "$here/init" "$root/init"

(cd "$root" && find . -print0 | sort -z | "$busybox" cpio -o -H newc -0 2>/dev/null) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
