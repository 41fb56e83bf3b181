#!/usr/bin/env bash
# Fetches the kernels of kernels.list into CACHE/NAME/vmlinuz, once.
# Usage: fetch-kernels.sh CACHE
# The Debian suites are reached through a private sources list and lists
# directory under CACHE/apt, never by changing the system's apt
# configuration; the mirror is the one the system's own sources name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: fetch-kernels.sh CACHE}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

missing_kernels() {
  grep -v '^#' "$here/kernels.list" | while read -r name suite package; do
    [ -n "$name" ] || continue
    [ -s "$cache/$name/vmlinuz" ] || echo "$name $suite $package"
  done
}

todo=$(missing_kernels)
if [ -z "$todo" ]; then
  echo "fetch-kernels: all kernels cached in $cache"
  exit 0
fi

apt_dir=$cache/apt
. "$here/../lib/private-apt.sh"
private_apt_init "$apt_dir" $(echo "$todo" | awk '{print $2}' | sort -u)
echo "$todo" | while read -r name suite package; do
  echo "fetch-kernels: $name: $package ($suite)"
  private_apt_download "$apt_dir" "$package/$suite"
  unpacked=$apt_dir/unpacked/$name
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  dpkg -x "$apt_dir"/debs/"${package}"_*.deb "$unpacked"
  vmlinuz=$(find "$unpacked" -name vmlinuz -o -name 'vmlinuz-*' | sed -n 1p)  # sed reads all: no SIGPIPE under pipefail
  [ -n "$vmlinuz" ] || { echo "fetch-kernels: no vmlinuz in $package" >&2; exit 1; }
  mkdir -p "$cache/$name"
  cp "$vmlinuz" "$cache/$name/vmlinuz.tmp" && mv "$cache/$name/vmlinuz.tmp" "$cache/$name/vmlinuz"
  echo "$package" > "$cache/$name/package"
  rm -rf "$unpacked"
done
echo "fetch-kernels: cached in $cache"
