#!/usr/bin/env bash
# Fetches bpftool 7.8 (trixie-backports, built with libbpf 1.8) and the
# trixie libraries it needs, and writes DEPS/bpftool-7.8/bpftool: a wrapper
# that runs it through trixie's own dynamic loader (bpftool 7.8 wants glibc
# 2.38+; Debian 12 has 2.36). Once; a second run does nothing.
# Usage: fetch-bpftool.sh DEPS
# Exit status 0: DEPS/bpftool-7.8/bpftool runs and says 7.8; otherwise the
# reason is on stderr (tests skip with it, or fail under CI).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deps=${1:?usage: fetch-bpftool.sh DEPS}
mkdir -p "$deps"
deps=$(cd "$deps" && pwd)
out=$deps/bpftool-7.8
stamp=$out/.complete
packages=(bpftool/trixie-backports libc6/trixie libelf1t64/trixie libssl3t64/trixie zlib1g/trixie
          libcap2/trixie libzstd1/trixie)

[ -e "$stamp" ] && exit 0
exec 9> "$deps/.bpftool.lock"
flock 9
[ -e "$stamp" ] && exit 0

apt_dir=$deps/apt
. "$here/../lib/private-apt.sh"
# Three tries: a fresh machine's first fetch is the one that meets a mirror's
# hiccup (apt retries each file too, Acquire::Retries).
fetch_missing() {
  local p todo=()
  for p in "${packages[@]}"; do
    [ -n "$(private_apt_deb "$apt_dir" "${p%/*}")" ] || todo+=("$p")
  done
  [ ${#todo[@]} -gt 0 ] || return 0
  echo "bpftool: fetching ${todo[*]}"
  private_apt_init "$apt_dir" trixie trixie-backports && private_apt_download "$apt_dir" "${todo[@]}"
}
for try in 1 2 3; do
  fetch_missing && break
  [ "$try" -lt 3 ] || { echo "bpftool: the Debian archive did not give ${packages[*]} (3 tries)" >&2; exit 1; }
  echo "bpftool: fetch failed (try $try of 3), trying again" >&2
  sleep $((try * 5))
done
rm -rf "$out.tmp" && mkdir -p "$out.tmp/root"
for p in "${packages[@]}"; do
  deb=$(private_apt_deb "$apt_dir" "${p%/*}")
  [ -n "$deb" ] || { echo "bpftool: ${p%/*} was not downloaded" >&2; exit 1; }
  dpkg -x "$deb" "$out.tmp/root"
  basename "$deb" >> "$out.tmp/packages"
done
root=$out/root
cat > "$out.tmp/bpftool" <<WRAP
#!/bin/sh
# bpftool 7.8 through trixie's loader and libraries (scripts/libbpf/fetch-bpftool.sh).
exec "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" \\
  "$root/usr/sbin/bpftool" "\$@"
WRAP
chmod +x "$out.tmp/bpftool"
rm -rf "$out" && mv "$out.tmp" "$out"
# The whole output, then its first line: `| head -n 1` under pipefail fails
# whenever bpftool is still writing when head exits (SIGPIPE), which once
# failed a CI configure with "does not run: bpftool v7.8.0".
status=0
output=$("$out/bpftool" version 2>&1) || status=$?
[ "$status" -eq 0 ] || { echo "bpftool: does not run (exit status $status): $output" >&2; exit 1; }
version=${output%%$'\n'*}
case "$version" in
  *v7.8*) ;;
  *) echo "bpftool: unexpected version: $version" >&2; exit 1 ;;
esac
touch "$stamp"
echo "bpftool: $version in $out"
