#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/<target>/ from the example
programs: signed bundles and headers (bpfsig sign with a throwaway P-256 key),
their CMS signatures, loader instruction streams, and kernel-model scripts.

    scripts/make-fuzz-corpus.py [BUILD_DIR]     (default: build; needs bpfsig and examples built)

Seeds are small real inputs; the fuzzers mutate from there. Re-running
replaces the generated files (names are stable) and keeps any other file,
such as reproducers of fixed crashes (crash-*), which must stay.
"""
import os, struct, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build"))
cli = os.path.join(build, "bpfsig")
examples = ["execcount", "multimap", "xdpfilter"]


def sections(bundle):
    count = struct.unpack_from("<I", bundle, 12)[0]
    off, out = 24, {}
    for _ in range(count):
        t, n = struct.unpack_from("<II", bundle, off)
        out[t] = bundle[off + 8: off + 8 + n]
        off += 8 + ((n + 7) & ~7)
    return out


def put(target, name, data):
    d = os.path.join(root, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def kmodel_scripts(insns):
    # profile byte, then (command byte, operands...) as fuzz_kmodel.cpp reads them.
    array = bytes([0, 0, 4, 0x40, 0, 1, 0, 0])           # map_create ARRAY key 4 value 64, 1 entry, no flags, no name
    update = bytes([1, 0, 4, 0, 0, 0, 0, 8, 0]) + bytes(8) + bytes([0])
    freeze, gethash = bytes([4, 0]), bytes([5, 0, 1])
    load = bytes([7, 0x01, 3, 0, 1, 1, 0, 1, 0])          # prog_load SYSCALL, a few generated insns
    run = bytes([8, 1, 24]) + bytes(24)
    yield "array_freeze_hash", bytes([0]) + array + update + freeze + gethash
    yield "load_and_run", bytes([0]) + array + load + run
    yield "toctou_profile", bytes([1]) + array + gethash + update + freeze + gethash
    yield "loadtime_profile", bytes([2]) + array + update + freeze + load + run
    yield "btf_and_mmap", bytes([0, 6, 16]) + insns[:16] + array + bytes([13, 0, 1, 14, 0, 8, 0, 4, 1, 2, 3, 4, 15])
    yield "signed_load", bytes([0]) + array + bytes([7, 0x41, 3, 0, 1, 1, 0, 1, 0, 32]) + insns[:32] + bytes([0])


def main():
    if not os.access(cli, os.X_OK):
        sys.exit(f"{cli} is missing: build first")
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.der")
        subprocess.run([cli, "keygen", "--key", key, "--cert", cert, "--algo", "p256", "--subject", "CN=bpfsig corpus"],
                       check=True, stdout=subprocess.DEVNULL)
        for ex in examples:
            obj = os.path.join(build, "examples", ex + ".bpf.o")
            b, h = os.path.join(tmp, ex + ".bpfsig"), os.path.join(tmp, ex + ".lskel.h")
            # The scheme and block the corpus was made with (sign's defaults before issue 12).
            subprocess.run([cli, "sign", "-k", key, "-i", cert, "--scheme", "loader-hash", "--layout", "excl",
                            "--mismatch-target", "cleanup", "-o", b, "--header", h, obj], check=True,
                           stdout=subprocess.DEVNULL)
            bundle = open(b, "rb").read()
            put("fuzz_bundle", ex + ".bpfsig", bundle)
            put("fuzz_header", ex + ".lskel.h", open(h, "rb").read())
            s = sections(bundle)
            insns, sig = s[1], s[3]
            put("fuzz_cms", ex + ".sig", b"\x00" + sig)
            put("fuzz_isa", ex + ".insns", insns)
            put("fuzz_vm", ex + ".insns", insns)
            put("fuzz_vm", ex + ".prefix", insns[:256])
            if ex == examples[0]:
                b2 = os.path.join(tmp, "nocert.bpfsig")
                subprocess.run([cli, "sign", "-k", key, "-i", cert, "--scheme", "loader-hash", "--layout", "6.18",
                                "--mismatch-target", "cleanup", "--no-embed-cert", "-o", b2, obj],
                               check=True, stdout=subprocess.DEVNULL)
                put("fuzz_bundle", ex + "-6.18-nocert.bpfsig", open(b2, "rb").read())
                for name, script in kmodel_scripts(insns):
                    put("fuzz_kmodel", name, script)
        # Modes 1 and 2 of fuzz_cms patch the built-in seeds with (offset hi, offset lo, xor) triples.
        put("fuzz_cms", "bpftool-seed", b"\x01")
        put("fuzz_cms", "attrs-seed", b"\x02")
        put("fuzz_cms", "bpftool-flip-version", b"\x01\x00\x16\x01")
        put("fuzz_cms", "attrs-flip-digest", b"\x02\x02\x30\x80")


main()
