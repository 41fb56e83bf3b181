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

# The mirror the machine already uses (deb822 or one-line format).
system_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
          /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { echo "fetch-kernels: no Debian mirror in the system's apt sources" >&2; return 1; }
  echo "$uri"
}

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
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache" "$apt_dir/debs"
mirror=$(system_mirror)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
suites=$(echo "$todo" | awk '{print $2}' | sort -u)
: > "$apt_dir/sources.list"
for suite in $suites; do
  echo "deb [signed-by=$keyring] $mirror $suite main" >> "$apt_dir/sources.list"
done
apt_opts=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
          -o Dir::Cache::archives="$apt_dir/archives"
          -o APT::Sandbox::User=root -o Debug::NoLocking=1)
apt-get "${apt_opts[@]}" -q update >/dev/null
echo "$todo" | while read -r name suite package; do
  echo "fetch-kernels: $name: $package ($suite)"
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -q download "$package/$suite" >/dev/null)
  unpacked=$apt_dir/unpacked/$name
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  dpkg -x "$apt_dir"/debs/"${package}"_*.deb "$unpacked"
  vmlinuz=$(find "$unpacked" -name vmlinuz -o -name 'vmlinuz-*' | head -n 1)
  [ -n "$vmlinuz" ] || { echo "fetch-kernels: no vmlinuz in $package" >&2; exit 1; }
  mkdir -p "$cache/$name"
  cp "$vmlinuz" "$cache/$name/vmlinuz.tmp" && mv "$cache/$name/vmlinuz.tmp" "$cache/$name/vmlinuz"
  echo "$package" > "$cache/$name/package"
  rm -rf "$unpacked"
done
echo "fetch-kernels: cached in $cache"
