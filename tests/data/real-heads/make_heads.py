#!/usr/bin/env python3
"""Cut small committed fixtures ("heads") out of real hibernation images too large to commit.

Usage: python tests/data/real-heads/make_heads.py [SAMPLES_DIR [NAME ...]]

SAMPLES_DIR (default: the checkout's samples/) holds one directory per sample as
``samples/generate.py`` writes them and ``systemmap/``.  The i386 and arm64 samples' evidence
(console.log, provenance.json, ...) is committed there; their swap.img.xz and System.map are not
(samples/.gitignore) and must be put in place first.  For each sample (or only the NAMEs given)
this writes, beside this script:

    <sample>/heads.img.xz        the swap disk with every page zeroed except the header page,
                                 every swap-map page, the swsusp_info page and the compressed
                                 chunks that hold the whole PFN directory; every other chunk keeps
                                 only its ``size_t cmp_len`` word (so the chunk table is the real
                                 one) and its payload reads as zeros.  Same length as the full
                                 trimmed disk; xz -9e.  Where the sample recorded where its
                                 VMCOREINFO note is (vmcoreinfo.txt), the chunk(s) holding the
                                 note's page(s) are kept whole too.
    <sample>/heads.json          what was kept and the sha256 of the full image it came from
    <sample>/System.map-excerpt  the few System.map lines the tests need, verbatim

It reads the structures with plain ``struct`` arithmetic, not with swsusp_inspect, so the
fixtures do not depend on the reader they test.  Offsets (kernel 6.1, 4 KiB pages):
swsusp_header.image = u64 at 0xfe0 of page 0; swap_map_page = 511 u64 entries + u64 next_swap;
swsusp_info pages/size at 424/432 (8-byte long) or 408/412 (4-byte long); chunk =
[long cmp_len][LZO][garbage to the page end], 32 stream pages each.  Kernel-written images
with other page sizes (arm64 16 KiB: the provenance's ``page_size``) are cut in their pages.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
N = 4096
UNC_PAGES = 32
SAMPLES = {
    # sample directory: the System.map symbols the tests use
    "deb12-6.1-i386-lzo": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
    ),
    "deb12-6.1-arm64-lzo": (
        "swapper_pg_dir",
        "_cpu_resume",
        "linux_banner",
        "_text",
        "_stext",
        "__nosave_begin",
        "__nosave_end",
        "__init_begin",
    ),
    "deb12-6.1-i386-uswsusp-lzo": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
    ),
    "deb12-6.1-i386-uswsusp-lzo-encrypted": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
    ),
    "sid-7-lzo": ("restore_registers", "linux_banner", "_text", "__nosave_begin", "__nosave_end"),
    "deb13-6.12-kaslr-lzo": (
        "restore_registers",
        "linux_banner",
        "_text",
        "_stext",
        "__nosave_begin",
        "__nosave_end",
    ),
    "deb12-6.1-i386-nonpae-lzo": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
        "swapper_pg_dir",
    ),
    "deb13-6.12-arm64-16k-lzo": (
        "swapper_pg_dir",
        "_cpu_resume",
        "linux_banner",
        "_text",
        "_stext",
        "__nosave_begin",
        "__nosave_end",
        "__init_begin",
    ),
    "deb12-6.1-uswsusp-lzo": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
    ),
    "deb12-6.1-uswsusp-lzo-encrypted": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
    ),
    "deb12-6.1-uswsusp-lzo-rsa": (
        "restore_registers",
        "linux_banner",
        "_text",
        "__nosave_begin",
        "__nosave_end",
    ),
}


def u64(buf: bytes, off: int) -> int:
    return int(struct.unpack_from("<Q", buf, off)[0])


def kept_pages(raw: bytes, keep: set[int], n: int = N) -> bytearray:
    """``raw`` with every page not in ``keep`` zeroed (same length)."""
    out = bytearray(len(raw))
    for p in keep:
        out[p * n : (p + 1) * n] = raw[p * n : (p + 1) * n]
    return out


def pfn_directory(
    raw: bytes, entries: list[int], chunks: list[tuple[int, int]], word: int, meta: int, n: int = N
) -> tuple[list[int], list[int]]:
    """PFNs with a data page, in data-page order, decoded from the PFN directory (stream
    pages 1..meta, in the first chunks): ~0 ends it; 6.6+ flags all-zero pages (no data page)
    with the top bit (kernel/power/snapshot.c, ENCODED_PFN_ZERO_FLAG)."""
    stream = b"".join(
        chunk_pages(raw, entries, c, word, n) for c in chunks[: -(-meta // UNC_PAGES)]
    )
    words = struct.unpack_from(f"<{meta * n // word}{'Q' if word == 8 else 'I'}", stream, 0)
    end, flag = (1 << 8 * word) - 1, 1 << (8 * word - 1)
    listed = list(words[: words.index(end)] if end in words else words)
    return [w for w in listed if not w & flag], [w & ~flag for w in listed]


def chunk_pages(
    raw: bytes, entries: list[int], chunk: tuple[int, int], word: int, n: int = N
) -> bytes:
    """The uncompressed pages of one kernel LZO chunk ([long cmp_len][LZO1X data])."""
    import lzallright

    first, npg = chunk
    data = b"".join(raw[entries[i] * n : (entries[i] + 1) * n] for i in range(first, first + npg))
    size = int.from_bytes(data[:word], "little")
    return bytes(lzallright.LZOCompressor.decompress(data[word : word + size]))


def cut(
    raw: bytes, keep_phys: tuple[int, int] | None = None, n: int = N
) -> tuple[bytearray, dict[str, object]]:
    assert raw[n - 10 : n] == b"S1SUSPEND\0", raw[n - 10 : n]
    image = u64(raw, n - 32)  # n - 32 (0xfe0): sector_t image (5.17+ header)
    entries: list[int] = []
    map_pages: list[int] = []
    page = image
    while page:
        assert page not in map_pages, "swap map loops"
        map_pages.append(page)
        per = n // 8  # swap_map_page: n / 8 - 1 sector_t entries, then next_swap
        words = struct.unpack_from(f"<{per}Q", raw, page * n)
        entries.extend(words[: per - 1])
        page = words[per - 1]
    entries = entries[: entries.index(0)] if 0 in entries else entries
    info = entries[0] * n
    if u64(raw, info + 424) and u64(raw, info + 432) == u64(raw, info + 424) * n:
        word = 8
        image_pages, pages = u64(raw, info + 416), u64(raw, info + 424)
    else:
        word = 4
        image_pages, pages, size = struct.unpack_from("<3I", raw, info + 404)
        assert size == pages * n
    meta = pages - image_pages - 1
    chunks = []  # (first entry, pages)
    idx = 1
    for _ in range(-(-(pages - 1) // UNC_PAGES)):
        cmp_len = int.from_bytes(raw[entries[idx] * n : entries[idx] * n + word], "little")
        npg = -(-(word + cmp_len) // n)
        chunks.append((idx, npg))
        idx += npg
    meta_chunks = -(-meta // UNC_PAGES)
    whole = set(range(meta_chunks))
    data_pfns, listed = pfn_directory(raw, entries, chunks, word, meta, n)
    extra: dict[str, object] = {}
    if keep_phys is not None:  # (address, bytes): the pages' chunks, by data-page order
        at, size = keep_phys
        pfns = list(range(at // n, (at + size - 1) // n + 1))
        # data page k is stream page 1 + meta + k, in chunk (stream page - 1) // 32
        found = [(p, (meta + data_pfns.index(p)) // UNC_PAGES) for p in pfns if p in data_pfns]
        whole.update(c for _p, c in found)
        extra = {
            "vmcoreinfo_note": {
                "phys_addr": at,
                "bytes": size,
                "pfns_saved": [p for p, _c in found],
                "chunks_kept_whole": sorted({c for _p, c in found}),
            }
        }
    keep = {0, *map_pages, entries[0]}
    for k in sorted(whole):
        first, npg = chunks[k]
        keep.update(entries[first : first + npg])
    out = kept_pages(raw, keep, n)
    for k, (first, _npg) in enumerate(chunks):
        if k not in whole:
            off = entries[first] * n
            out[off : off + word] = raw[off : off + word]
    facts = {
        "image": image,
        "map_pages": map_pages,
        "map_entries": len(entries),
        "swsusp_info_page": entries[0],
        "word_size": word,
        "pages": pages,
        "image_pages": image_pages,
        "meta_pages": meta,
        "chunks": len(chunks),
        "chunks_kept_whole": meta_chunks,
        "pages_kept_whole": sorted(keep),
        # the PFN directory as decoded here (lzallright + struct, not the reader)
        "first_pfn": listed[0],
        "last_pfn": listed[-1],
        "pfns_listed": len(listed),
        "zero_pages": len(listed) - len(data_pfns),
        **extra,
    }
    return out, facts


def cut_uswsusp(
    raw: bytes, passphrase: str | None, word: int = 8
) -> tuple[bytearray, dict[str, object]]:
    """s2disk's layout (suspend-utils swsusp.h, load.c): ``loff_t image`` (a byte offset) at
    N - 28; the image_header_info page there (x86_64: pages at 0, flags at 8, map_start at
    16, image_data_size at 24; i386, 4-byte long and 4-byte aligned loff_t: 0, 4, 8, 16);
    extents pages of 16-byte ``[start, end)`` byte ranges whose last slot's start is the next
    extents page; data in 32-page buffers, each written as ``[size_t size][LZO data]`` from a
    fresh page (size_t = ``word`` bytes)."""
    assert raw[N - 10 : N] == b"ULSUSPEND\0", raw[N - 10 : N]
    image = u64(raw, N - 28)
    if word == 8:
        pages, flags = u64(raw, image), struct.unpack_from("<I", raw, image + 8)[0]
        map_start, data_size = u64(raw, image + 16), u64(raw, image + 24)
    else:
        pages, flags = struct.unpack_from("<II", raw, image)
        map_start, data_size = u64(raw, image + 8), u64(raw, image + 16)
    offsets: list[int] = []  # byte offset of every data page, in read order
    ext_pages: list[int] = []
    ext = map_start
    while ext and len(offsets) * N < data_size:
        ext_pages.append(ext)
        for k in range(N // 16 - 1):
            start, end = u64(raw, ext + 16 * k), u64(raw, ext + 16 * k + 8)
            if start >= end:
                break
            offsets.extend(range(start, end, N))
        ext = u64(raw, ext + (N // 16 - 1) * 16)
    offsets = offsets[: data_size // N]
    if flags & 4:  # IMAGE_ENCRYPTED: block sizes are inside the Blowfish-CFB stream
        assert passphrase is not None, "an encrypted image needs the sample's passphrase"
        facts = {
            "image_byte_offset": image,
            "pages": pages,
            "flags": flags,
            "map_start": map_start,
            "image_data_size": data_size,
            "extents_pages": ext_pages,
        }
        if flags & 8:  # IMAGE_USE_RSA
            return cut_rsa(raw, image, ext_pages, offsets, facts, passphrase)
        return cut_encrypted(raw, image, ext_pages, offsets, facts, passphrase, word)
    blocks = []  # (first data page index, pages)
    idx = 0
    while idx < len(offsets):
        size = int.from_bytes(raw[offsets[idx] : offsets[idx] + word], "little")
        npg = -(-(word + size) // N)
        blocks.append((idx, npg))
        idx += npg
    # the kernel stream starts with swsusp_info; its meta pages are in the first blocks
    info = lzo_first_page(raw, offsets, blocks[0], word)
    if word == 8:
        image_pages, stream_pages = u64(info, 416), u64(info, 424)
    else:
        image_pages, stream_pages = struct.unpack_from("<II", info, 404)
    meta = stream_pages - image_pages - 1
    meta_blocks = -(-(1 + meta) // UNC_PAGES)
    keep = {0, image // N, *(e // N for e in ext_pages)}
    for first, npg in blocks[:meta_blocks]:
        keep.update(offsets[i] // N for i in range(first, first + npg))
    out = kept_pages(raw, keep)
    for first, _npg in blocks[meta_blocks:]:
        off = offsets[first]
        out[off : off + word] = raw[off : off + word]
    facts = {
        "image_byte_offset": image,
        "word_size": word,
        "pages": pages,
        "flags": flags,
        "map_start": map_start,
        "image_data_size": data_size,
        "extents_pages": ext_pages,
        "blocks": len(blocks),
        "blocks_kept_whole": meta_blocks,
        "stream_image_pages": image_pages,
        "meta_pages": meta,
        "pages_kept_whole": sorted(keep),
    }
    return out, facts


def cut_encrypted(
    raw: bytes,
    image: int,
    ext_pages: list[int],
    offsets: list[int],
    facts: dict[str, object],
    passphrase: str,
    word: int = 8,
) -> tuple[bytearray, dict[str, object]]:
    """Block sizes are inside the Blowfish-CFB stream (suspend-utils encrypt_init(): key =
    MD5(passphrase), IV = the passphrase's first 8 bytes, zero-padded, XOR header.salt, the
    salt right after checksum[16]: byte 48 of the 2432-byte x86_64 header, 40 of the
    2416-byte i386 one): decrypt just enough, with ``cryptography``, to find the first two
    blocks, and keep them whole; zero every other data page."""
    import hashlib

    from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
    from cryptography.hazmat.primitives.ciphers import Cipher

    try:  # cryptography >= 48 keeps CFB among the "decrepit" modes
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.modes import CFB

    secret = passphrase.encode()
    at = image + (48 if word == 8 else 40)
    salt = raw[at : at + 8]
    iv = bytes(a ^ b for a, b in zip(secret[:8].ljust(8, b"\0"), salt, strict=True))
    dec = Cipher(Blowfish(hashlib.md5(secret).digest()), CFB(iv)).decryptor()
    idx, kept_blocks = 0, 0
    while kept_blocks < 2:
        first = dec.update(raw[offsets[idx] : offsets[idx] + N])
        npg = -(-(word + int.from_bytes(first[:word], "little")) // N)
        for k in range(1, npg):  # keep the CFB stream in step
            dec.update(raw[offsets[idx + k] : offsets[idx + k] + N])
        idx += npg
        kept_blocks += 1
    keep = {0, image // N, *(e // N for e in ext_pages), *(o // N for o in offsets[:idx])}
    out = kept_pages(raw, keep)
    facts.update({"blocks_kept_whole": 2, "data_pages_kept": idx, "pages_kept_whole": sorted(keep)})
    return out, facts


def cut_rsa(
    raw: bytes,
    image: int,
    ext_pages: list[int],
    offsets: list[int],
    facts: dict[str, object],
    passphrase: str,
) -> tuple[bytearray, dict[str, object]]:
    """RSA mode: the Blowfish key is RSA-encrypted in the header under a private key that the
    passphrase unlocks.  Which data pages hold the first two blocks is found with the reader's
    own decryption here (the one exception to this script's independence: it only chooses
    pages; the bytes kept are s2disk's, and the tests' truth is the logs and resume's MD5)."""
    sys.path.insert(0, str(HERE.parent.parent.parent))
    from swsusp_inspect.formats import uswsusp

    hdr = uswsusp.decode_image_header_info(raw, image, N, 1 << 62)
    reader, _ = uswsusp._open_reader(raw, hdr, N, 1 << 62, passphrase)
    blocks = uswsusp._stream_pages(reader, hdr, N)
    next(blocks), next(blocks)
    keep = {0, image // N, *(e // N for e in ext_pages), *(o // N for o in offsets[: reader.pos])}
    out = kept_pages(raw, keep)
    facts.update(
        {"blocks_kept_whole": 2, "data_pages_kept": reader.pos, "pages_kept_whole": sorted(keep)}
    )
    return out, facts


def lzo_first_page(raw: bytes, offsets: list[int], block: tuple[int, int], word: int) -> bytes:
    """The first uncompressed page of a block (LZO1X, lzallright: the test extra's reader)."""
    import lzallright

    first, npg = block
    data = b"".join(raw[offsets[i] : offsets[i] + N] for i in range(first, first + npg))
    size = int.from_bytes(data[:word], "little")
    return bytes(lzallright.LZOCompressor.decompress(data[word : word + size]))[:N]


def vmcoreinfo_note(sdir: Path) -> tuple[int, int] | None:
    """(physical address, size) of the VMCOREINFO note as the guest's /sys/kernel/vmcoreinfo
    gave it ("%pa %x"), where the sample recorded it."""
    path = sdir / "vmcoreinfo.txt"
    text = path.read_text().split() if path.is_file() else []
    return (int(text[0], 16), int(text[1], 16)) if text else None


def main(src: Path, names: list[str]) -> None:
    for name, symbols in SAMPLES.items():
        if names and name not in names:
            continue
        sdir = src / name
        dest = HERE / name
        dest.mkdir(exist_ok=True)
        prov = json.loads((sdir / "provenance.json").read_text())
        packed = (sdir / "swap.img.xz").read_bytes()
        raw = lzma.decompress(packed)
        assert hashlib.sha256(packed).hexdigest() == prov["swap_img_xz_sha256"]
        assert hashlib.sha256(raw).hexdigest() == prov["swap_img_sha256"]
        out, facts = (
            cut_uswsusp(raw, prov.get("passphrase"), 4 if prov["arch"] == "i386" else 8)
            if raw[N - 10 : N] == b"ULSUSPEND\0"
            else cut(raw, vmcoreinfo_note(sdir), prov.get("page_size", N))
        )
        facts = {
            "sample": name,
            "full_image": "swap.img.xz of the sample (not committed: too large)",
            "full_image_xz_sha256": prov["swap_img_xz_sha256"],
            "full_image_sha256": prov["swap_img_sha256"],
            "full_image_bytes": len(raw),
            "heads_sha256": hashlib.sha256(out).hexdigest(),
            **facts,
        }
        (dest / "heads.img.xz").write_bytes(
            lzma.compress(bytes(out), preset=9 | lzma.PRESET_EXTREME)
        )
        (dest / "heads.json").write_text(json.dumps(facts, indent=1) + "\n")
        smap = lzma.decompress((src / prov["system_map"]).read_bytes()).decode()
        wanted = [
            line
            for line in smap.splitlines()
            if len(line.split()) == 3 and line.split()[2] in symbols
        ]
        (dest / "System.map-excerpt").write_text("".join(line + "\n" for line in wanted))
        print(
            f"{name}: {len(out)} bytes -> {(dest / 'heads.img.xz').stat().st_size} (xz); "
            f"kept {len(facts['pages_kept_whole'])} pages whole"
        )


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent.parent / "samples",
        sys.argv[2:],
    )
