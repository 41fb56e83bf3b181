#!/usr/bin/env bash
# The main job on a bundled example: a throwaway key, the example compiled by
# the build, signed, verified, inspected, and loaded when the kernel allows.
set -uo pipefail
build=${1:-build}
bpfsig="$build/bpfsig"
object="$build/examples/execcount.bpf.o"
work=$(mktemp -d /tmp/bpfsig-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. a throwaway signing key and certificate"
run "$bpfsig" keygen --key "$work/signer.pem" --cert "$work/signer.der" --subject "CN=bpfsig demo" --days 1 || exit 1

step "2. sign the example (compiled by the build: $object) in the default scheme, loadtime (what bpftool 7.8 signs)"
run "$bpfsig" sign -k "$work/signer.pem" -i "$work/signer.der" -o "$work/execcount.bpfsig" \
  --header "$work/execcount.lskel.h" "$object" || exit 1

step "3. verify it offline, with the kernel's rules"
run "$bpfsig" verify -i "$work/signer.der" "$work/execcount.bpfsig" || exit 1

step "4. a tampered copy (one metadata byte flipped) is refused"
perl -e '
  open(my $in, "<:raw", $ARGV[0]) or die; local $/; my $b = <$in>;
  my $off = 24;
  while ($off < length $b) {
    my ($type, $len) = unpack("VV", substr($b, $off, 8));
    if ($type == 2) {   # the metadata section: flip one bit in its middle
      my $at = $off + 8 + int($len / 2);
      substr($b, $at, 1) = chr(ord(substr($b, $at, 1)) ^ 1);
      last;
    }
    $off += 8 + (($len + 7) & ~7);
  }
  open(my $out, ">:raw", $ARGV[1]) or die; print $out $b;
' "$work/execcount.bpfsig" "$work/tampered.bpfsig" || exit 1
"$bpfsig" verify -i "$work/signer.der" "$work/tampered.bpfsig" && { echo "demo: tampered copy was accepted" >&2; exit 1; }

step "5. inspect it"
run "$bpfsig" inspect --no-disasm "$work/execcount.bpfsig" || exit 1

step "6. load it into the running kernel"
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: loading needs root"
  exit 0
fi
if run "$bpfsig" load -i "$work/signer.der" "$work/execcount.bpfsig"; then
  exit 0
fi
echo "(the kernel refused the signed load; checking the signature in user space instead)"
run "$bpfsig" load --userspace-verify -i "$work/signer.der" "$work/execcount.bpfsig" || exit 1
