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

# One vCPU: under multi-threaded TCG, a second vCPU can run code that the
# kernel is patching (int3-based text_poke) and oops early in boot (seen:
# "Oops: int3" in kthreadd on 7.2). The suite's cases run one at a time anyway.
accel=(-accel tcg -cpu max -smp 1)
if [ -w /dev/kvm ]; then accel=(-accel kvm -cpu host -smp 2); fi

boot() {
  timeout --kill-after=5 "$limit" "$qemu" "${accel[@]}" -m 2048 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet" \
    -serial "file:$console" -monitor none -display none -nodefaults </dev/null >/dev/null 2>&1
}

boot
rc=$?
# A kernel that died before the suite started is the emulator's fault, not a
# result: boot once more, and say so.
if ! grep -aq 'BPFSIG-VM-BEGIN' "$console" 2>/dev/null; then
  echo "boot: $(basename "$kernel") died before the suite started (qemu exit $rc); booting once more. Console tail:" >&2
  tail -n 5 "$console" >&2
  boot
  rc=$?
fi
if grep -aq '^BPFSIG-VM-END' "$console" 2>/dev/null; then exit 0; fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "boot: $(basename "$kernel") did not finish within ${limit}s; console tail:" >&2; rc=124
else
  echo "boot: the VM stopped (qemu exit $rc) before the suite's end marker; console tail:" >&2; rc=1
fi
tail -n 30 "$console" >&2
exit "$rc"
