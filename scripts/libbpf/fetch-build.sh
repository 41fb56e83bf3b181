#!/usr/bin/env bash
# Builds libbpf 1.8 (static, -fPIC) from the tools/lib/bpf of Debian's
# linux-source-7.3 (trixie-backports) into DEPS/libbpf-1.8, once.
# Usage: fetch-build.sh DEPS
#
# DEPS/libbpf-1.8/include/bpf/*.h      libbpf's headers (skel_internal.h too)
# DEPS/libbpf-1.8/include/uapi/linux/  bpf.h, bpf_common.h, btf.h of the
#                                       tarball's tools/include/uapi (the
#                                       linux/bpf.h libbpf 1.8's headers want)
# DEPS/libbpf-1.8/lib/libbpf.a         position-independent, no sanitizer or
#                                       coverage flags: links into every build
#                                       (gcc, ASan, clang -fsanitize=fuzzer)
# DEPS/libbpf-1.8/source/              the few kernel files bpfsig's tests and
#                                       docs read (gen_loader.c, bpftool/gen.c)
# DEPS/libbpf-1.8/timings              seconds spent fetching and building
#
# The package is fetched through a private apt state under DEPS/apt
# (scripts/lib/private-apt.sh); the system's apt configuration is untouched.
# A second run with the result present does nothing; concurrent runs (three
# build dirs configuring at once) wait for each other.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
deps=${1:?usage: fetch-build.sh DEPS}
mkdir -p "$deps"
deps=$(cd "$deps" && pwd)
out=$deps/libbpf-1.8
package=linux-source-7.3
suite=trixie-backports
stamp=$out/.complete

[ -e "$stamp" ] && exit 0
exec 9> "$deps/.libbpf.lock"
flock 9
[ -e "$stamp" ] && exit 0

for tool in xz make cc dpkg-deb flock python3; do
  command -v "$tool" >/dev/null || { echo "libbpf: '$tool' is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

t0=$(date +%s.%N)
apt_dir=$deps/apt
deb=""
. "$here/../lib/private-apt.sh"
deb=$(private_apt_deb "$apt_dir" "$package")
if [ -z "$deb" ]; then
  echo "libbpf: fetching $package from $suite (about 170 MB, once)"
  private_apt_init "$apt_dir" "$suite"
  private_apt_download "$apt_dir" "$package/$suite"
  deb=$(private_apt_deb "$apt_dir" "$package")
fi
[ -n "$deb" ] || { echo "libbpf: $package was not downloaded" >&2; exit 1; }
t1=$(date +%s.%N)

# Only what libbpf's Makefile needs, straight from the .deb's tarball (no
# 1.4 GB kernel tree on disk), plus the files the project reads for facts.
work=$deps/libbpf-src
rm -rf "$work" && mkdir -p "$work"
tarball=./usr/src/$package.tar.xz
top=$package
dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" | tar -xJ -C "$work" --wildcards \
  "$top/tools/lib/bpf/*" "$top/tools/include/*" "$top/tools/scripts/*" "$top/tools/build/*" \
  "$top/tools/arch/x86/include/*" "$top/scripts/bpf_doc.py" \
  "$top/tools/bpf/bpftool/gen.c"
src=$work/$top
t2=$(date +%s.%N)

echo "libbpf: building $(awk '/LIBBPF_(MAJOR|MINOR)_VERSION/ {printf "%s%s", sep, $3; sep="."}' "$src/tools/lib/bpf/libbpf_version.h") (static, -fPIC)"
rm -rf "$out.tmp" && mkdir -p "$out.tmp/obj"
# CC/CFLAGS from the environment (a sanitizer build's) must not leak in: the
# archive is plain code that every build links.
env -u CFLAGS -u CPPFLAGS -u LDFLAGS -u CC \
  make -s -C "$src/tools/lib/bpf" -j"$(nproc)" BUILD_STATIC_ONLY=1 OUTPUT="$out.tmp/obj/" \
    CC=cc EXTRA_CFLAGS="-g -O2 -fPIC" DESTDIR="$out.tmp" prefix=/ libdir_relative=lib \
    install_lib install_headers >"$out.tmp/build.log" 2>&1 \
  || { cat "$out.tmp/build.log" >&2; echo "libbpf: build failed" >&2; exit 1; }
# Only the UAPI headers libbpf's public headers include: anything more would
# shadow Debian's <linux/*.h> for every file of the project.
mkdir -p "$out.tmp/include/uapi/linux"
cp "$src"/tools/include/uapi/linux/{bpf.h,bpf_common.h,btf.h} "$out.tmp/include/uapi/linux/"
mkdir -p "$out.tmp/source"
cp "$src/tools/lib/bpf/gen_loader.c" "$src/tools/lib/bpf/skel_internal.h" "$src/tools/bpf/bpftool/gen.c" "$out.tmp/source/"
rm -rf "$out.tmp/obj"
[ -s "$out.tmp/lib/libbpf.a" ] || { echo "libbpf: no libbpf.a" >&2; exit 1; }
t3=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
  'BEGIN { printf "fetch %.1f\nextract %.1f\nbuild %.1f\n", b - a, c - b, d - c }' > "$out.tmp/timings"
basename "$deb" > "$out.tmp/package"
rm -rf "$out" "$work"
mv "$out.tmp" "$out"
touch "$stamp"
echo "libbpf: $(tr '\n' ' ' < "$out/timings")s; installed in $out"
