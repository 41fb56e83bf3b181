#!/usr/bin/env bash
# Boots KERNEL with INITRD under QEMU (KVM when /dev/kvm is usable, else
# TCG), writes the serial console to CONSOLE, and kills the VM after
# TIMEOUT seconds. Exits 0 when the console shows the suite's end marker,
# 124 on a time-out, 1 otherwise; the console's tail goes to stderr then.
# Usage: boot.sh KERNEL INITRD CONSOLE [TIMEOUT]
set -uo pipefail
kernel=${1:?usage: boot.sh KERNEL INITRD CONSOLE [TIMEOUT]}
initrd=${2:?initrd}
console=${3:?console file}
limit=${4:-60}
qemu=$(command -v qemu-system-x86_64) || { echo "boot: qemu-system-x86_64 is not installed" >&2; exit 1; }

accel=(-accel tcg,thread=multi -cpu max)
if [ -w /dev/kvm ]; then accel=(-accel kvm -cpu host); fi
timeout --kill-after=5 "$limit" "$qemu" "${accel[@]}" -m 2048 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet" \
  -serial "file:$console" -monitor none -display none -nodefaults </dev/null >/dev/null 2>&1
rc=$?
if grep -q '^BPFSIG-VM-END' "$console" 2>/dev/null; then exit 0; fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "boot: $(basename "$kernel") did not finish within ${limit}s; console tail:" >&2; rc=124
else
  echo "boot: the VM stopped (qemu exit $rc) before the suite's end marker; console tail:" >&2; rc=1
fi
tail -n 30 "$console" >&2
exit "$rc"
