#!/usr/bin/env python3
"""Marks a shared library's need for a GLIBCXX symbol version weak, in place (stdlib only).

TorchSharp 0.107's libLibTorchSharp.so was linked with GCC 13 and asks libstdc++ for GLIBCXX_3.4.32
for one symbol only, std::ios_base_library_init(): GCC 13's <iostream> names it to pull in the
stream initialisation and never calls it (the library has no relocation against it). Debian 12's
libstdc++ stops at GLIBCXX_3.4.30, so the loader refuses the whole library. With the version need
marked VER_FLG_WEAK the loader accepts it; nothing binds the symbol, so nothing else changes.
Run only on the copy in the build output, never on the NuGet cache.

Usage: weak-glibcxx.py LIB.so [VERSION ...]   (default GLIBCXX_3.4.31 GLIBCXX_3.4.32)
"""
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def patch(path, versions):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit(f"{path}: not a 64-bit little-endian ELF file")
        e_shoff, = struct.unpack_from("<Q", data, 0x28)
        e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
        changed = []
        for sh in sections:
            if sh[1] != SHT_GNU_VERNEED:
                continue
            strtab = sections[sh[6]][4]  # sh_link names the string table; [4] is its file offset
            name = lambda off: bytes(data[strtab + off:data.index(0, strtab + off)]).decode()
            need = sh[4]
            for _ in range(sh[7]):  # sh_info: number of Verneed entries
                _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", data, need)
                a = need + aux
                for _ in range(cnt):
                    _, flags, other, vname, anext = struct.unpack_from("<IHHII", data, a)
                    if name(vname) in versions and not flags & VER_FLG_WEAK:
                        struct.pack_into("<H", data, a + 4, flags | VER_FLG_WEAK)
                        changed.append(name(vname))
                    a += anext
                need += nxt
        if changed:
            f.seek(0)
            f.write(data)
    print(f"{path}: {'weak now: ' + ', '.join(changed) if changed else 'nothing to change'}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    patch(sys.argv[1], set(sys.argv[2:]) or {"GLIBCXX_3.4.31", "GLIBCXX_3.4.32"})
