"""Structure-aware mutations, each a pure function of (seed bytes, random.Random).

Images: every parsed integer field set to boundary values, truncation at every structure
boundary, chunk-length and pointer corruption, swap-map cycles, PFN-directory disorder, page
duplication, bit flips in a structure.  Text maps: line deletions and duplications, number
mangling (boundary values, 17+ and 5,000-digit numbers, signs, underscores), type-name mangling,
binary junk, very long lines, truncation.  Binary maps and kpageflags: boundary values in their
fields, odd sizes, damaged compression.

Every mutator returns the new bytes and a short description (recorded with a failure).
"""

from __future__ import annotations

import random
import re
import struct

from fuzz.seeds import Field, Layout

__all__ = ["mutate_binary_map", "mutate_image", "mutate_kpageflags", "mutate_text"]


def boundary_values(width: int, current: int, extra: tuple[int, ...] = ()) -> list[int]:
    top = (1 << (8 * width)) - 1
    half = 1 << (8 * width - 1)
    vals = [
        0,
        1,
        2,
        top,
        top - 1,
        half,
        half - 1,
        current + 1,
        max(0, current - 1),
        (current * 2) & top,
        current ^ 0xFF,
        0xFFFFFFFF & top,
        0x100000000 & top,
        0x7FFFFFFF & top,
        4096,
        4095,
        4097,
    ]
    vals += [v & top for v in extra]
    return vals


def _get(data: bytearray, f: Field) -> int:
    return int.from_bytes(data[f.offset : f.offset + f.width], "little")


def _put(data: bytearray, f: Field, value: int) -> None:
    top = (1 << (8 * f.width)) - 1
    data[f.offset : f.offset + f.width] = (value & top).to_bytes(f.width, "little")


def mutate_image(data: bytes, lay: Layout, rnd: random.Random) -> tuple[bytes, str]:
    """1-3 structure-aware mutations of an image seed."""
    buf = bytearray(data)
    n = lay.page_size
    file_pages = len(buf) // n
    notes: list[str] = []
    truncate_at: int | None = None
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        op = rnd.choices(
            (
                "field",
                "truncate",
                "map-cycle",
                "map-dup",
                "chunk-len",
                "pagedir",
                "page-dup",
                "bitflip",
                "zero-page",
            ),
            weights=(30, 12, 8, 8, 10, 8, 5, 12, 4),
        )[0]
        if op == "field" and lay.fields:
            f = rnd.choice(lay.fields)
            extra = (
                file_pages,
                file_pages - 1,
                file_pages + 1,
                len(buf),
                len(buf) // 2,
                *(lay.map_pages[:2]),
                *(lay.stream_pages[:2]),
            )
            v = rnd.choice(boundary_values(f.width, _get(buf, f), extra))
            _put(buf, f, v)
            notes.append(f"{f.kind}@{f.offset:#x}/{f.width}={v:#x}")
        elif op == "truncate":
            cands = lay.boundaries or [len(buf) // 2]
            b = rnd.choice(cands) + rnd.choice((0, 0, 0, -1, 1, -8, 8, n // 2))
            truncate_at = max(0, min(len(buf), b))
            notes.append(f"truncate@{truncate_at:#x}")
        elif op == "map-cycle" and lay.map_pages:
            i = rnd.randrange(len(lay.map_pages))
            target = rnd.choice(
                (
                    lay.map_pages[i],
                    lay.map_pages[0],
                    lay.map_pages[max(0, i - 1)],
                    0,
                    file_pages + 7,
                )
            )
            f = Field(lay.map_pages[i] * n + n - lay.sector, lay.sector, "map-next")
            if f.offset + f.width <= len(buf):
                _put(buf, f, target)
                notes.append(f"map-next[{i}]={target:#x}")
        elif op == "map-dup" and lay.map_pages:
            p = rnd.choice(lay.map_pages)
            k = rnd.randrange(max(1, n // lay.sector - 1))
            f = Field(p * n + k * lay.sector, lay.sector, "map-entry")
            pool = [*lay.map_pages[:4], *lay.stream_pages[:4], 0, file_pages - 1, file_pages]
            if f.offset + f.width <= len(buf):
                v = rnd.choice(pool)
                _put(buf, f, v)
                notes.append(f"map-entry@{f.offset:#x}={v:#x}")
        elif op == "chunk-len":
            fs = [f for f in lay.fields if f.kind == "chunk-len"]
            if fs:
                f = rnd.choice(fs)
                v = rnd.choice(boundary_values(f.width, _get(buf, f), (n, 32 * n, 33 * n)))
                _put(buf, f, v)
                notes.append(f"chunk-len@{f.offset:#x}={v:#x}")
        elif op == "pagedir" and lay.pagedir_pages:
            p = rnd.choice(lay.pagedir_pages) * n
            words = n // 8
            how = rnd.choice(("swap", "dup", "huge", "reverse", "zero"))
            i, j = rnd.randrange(words), rnd.randrange(words)
            wi = bytes(buf[p + 8 * i : p + 8 * i + 8])
            wj = bytes(buf[p + 8 * j : p + 8 * j + 8])
            if how == "swap":
                buf[p + 8 * i : p + 8 * i + 8] = wj
                buf[p + 8 * j : p + 8 * j + 8] = wi
            elif how == "dup":
                buf[p + 8 * j : p + 8 * j + 8] = wi
            elif how == "huge":
                struct.pack_into(
                    "<Q",
                    buf,
                    p + 8 * i,
                    rnd.choice(((1 << 64) - 1, 1 << 52, 1 << 63, 1 << 40, 0xFFFFFFFF)),
                )
            elif how == "reverse":
                lo, hi = sorted((i, j))
                seg = [bytes(buf[p + 8 * k : p + 8 * k + 8]) for k in range(lo, hi + 1)]
                for k, w in zip(range(lo, hi + 1), reversed(seg), strict=True):
                    buf[p + 8 * k : p + 8 * k + 8] = w
            else:
                buf[p : p + n] = bytes(n)
            notes.append(f"pagedir-{how}@{p:#x}[{i},{j}]")
        elif op == "page-dup":
            pages = lay.data_pages + lay.map_pages + lay.stream_pages[:4]
            if len(pages) >= 2:
                a_, b_ = rnd.sample(pages, 2)
                if (max(a_, b_) + 1) * n <= len(buf):
                    buf[b_ * n : (b_ + 1) * n] = buf[a_ * n : (a_ + 1) * n]
                    notes.append(f"page-dup {a_:#x}->{b_:#x}")
        elif op == "zero-page":
            pages = [0, *lay.map_pages[:4], *lay.stream_pages[:2], *lay.data_pages[:4]]
            p = rnd.choice(pages)
            if (p + 1) * n <= len(buf):
                buf[p * n : (p + 1) * n] = bytes(n)
                notes.append(f"zero-page {p:#x}")
        else:  # bitflip inside a structure (or anywhere)
            if lay.fields and rnd.random() < 0.8:
                f = rnd.choice(lay.fields)
                pos = f.offset + rnd.randrange(f.width)
            else:
                pos = rnd.randrange(len(buf))
            buf[pos] ^= 1 << rnd.randrange(8)
            notes.append(f"bitflip@{pos:#x}")
    if truncate_at is not None:
        del buf[truncate_at:]
    return bytes(buf), "; ".join(notes) or "unchanged"


_NUM = re.compile(r"(0x)?[0-9a-fA-F]{4,}")
_TYPES = (
    "usable",
    "reserved",
    "ACPI data",
    "ACPI NVS",
    "unusable",
    "type 12",
    "type 4294967296",
    "System RAM",
    "persistent (type 12)",
    "soft reserved",
    "",
    "usable usable",
    "(",
    "Reserved",
    "Unknown E820 type",
    "é",
    "\x00",
)


def _mangle_number(tok: str, rnd: random.Random) -> str:
    hexp = tok[:2].lower() == "0x"
    return rnd.choice(
        (
            "0x0" if hexp else "0",
            "0xffffffffffffffff" if hexp else "ffffffffffffffff",
            "0x" + "f" * 17 if hexp else "f" * 17,
            "0x10000000000000000" if hexp else "1" + "0" * 16,
            ("0x" if hexp else "") + "1" * 5000,
            "-" + tok,
            tok + "_0",
            "0x",
            "",
            ("0x" if hexp else "") + "0" * 4000 + "1",
            tok[::-1],
            tok + tok,
            ("0x" if hexp else "") + "fffffffffffff000",
            "9" * 30,
        )
    )


def mutate_text(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """1-4 line-level mutations of a text map (or System.map)."""
    text = data.decode("latin-1")
    lines = text.splitlines()
    notes: list[str] = []
    for _ in range(rnd.choice((1, 1, 2, 3, 4))):
        if not lines:
            lines = [""]
        i = rnd.randrange(len(lines))
        op = rnd.choices(
            (
                "delete",
                "number",
                "type",
                "junk",
                "long",
                "dup",
                "swap",
                "truncate",
                "insert-binary",
                "nest",
                "empty-range",
            ),
            weights=(12, 30, 10, 8, 8, 8, 6, 6, 5, 3, 4),
        )[0]
        if op == "delete":
            k = rnd.choice((1, 1, 2, 10))
            del lines[i : i + k]
            notes.append(f"delete {i}+{k}")
        elif op == "number":
            ms = list(_NUM.finditer(lines[i]))
            if ms:
                m = rnd.choice(ms)
                lines[i] = (
                    lines[i][: m.start()] + _mangle_number(m.group(0), rnd) + lines[i][m.end() :]
                )
                notes.append(f"number line {i + 1}")
        elif op == "type":
            line = lines[i]
            for old in ("usable", "reserved", "ACPI data", "ACPI NVS", "System RAM", "Reserved"):
                if old in line:
                    lines[i] = line.replace(old, rnd.choice(_TYPES), 1)
                    notes.append(f"type line {i + 1}")
                    break
        elif op == "junk":
            junk = bytes(rnd.randrange(256) for _ in range(rnd.choice((1, 8, 64, 512))))
            lines[i] = lines[i] + junk.decode("latin-1")
            notes.append(f"junk line {i + 1}")
        elif op == "long":
            n = rnd.choice((4097, 5000, 20000))
            base = lines[i] or "x"
            lines[i] = (
                (base * (n // len(base) + 1))[:n] if rnd.random() < 0.5 else lines[i] + " " * n
            )
            notes.append(f"long line {i + 1} ({n})")
        elif op == "dup":
            lines[i:i] = [lines[i]] * rnd.choice((1, 2, 100))
            notes.append(f"dup line {i + 1}")
        elif op == "swap" and len(lines) > 1:
            j = rnd.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            notes.append(f"swap {i + 1},{j + 1}")
        elif op == "truncate":
            cut = rnd.randrange(len(lines[i]) + 1)
            lines = [*lines[:i], lines[i][:cut]]
            notes.append(f"truncate line {i + 1} at {cut}")
        elif op == "insert-binary":
            lines.insert(i, bytes(rnd.randrange(256) for _ in range(32)).decode("latin-1"))
            notes.append(f"binary before {i + 1}")
        elif op == "nest":
            depth = rnd.choice((100, 5000, 200000))
            lines.insert(i, "[" * depth + "]" * depth)
            notes.append(f"nest {depth}")
        elif op == "empty-range":
            lines[i] = re.sub(
                r"0x[0-9a-fA-F]+-0x[0-9a-fA-F]+", "0xffffffffffffffff-0x0", lines[i], count=1
            )
            notes.append(f"reverse range line {i + 1}")
    out = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    return out.encode("latin-1", "replace"), "; ".join(notes) or "unchanged"


def mutate_binary_map(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """boot_params / raw e820 / tar / JSON: field boundary values, truncation, bit flips."""
    buf = bytearray(data)
    notes: list[str] = []
    for _ in range(rnd.choice((1, 2, 3))):
        op = rnd.choice(("u64", "u32", "u8", "truncate", "bitflip", "extend"))
        if not buf:
            break
        if op in ("u64", "u32", "u8"):
            w = {"u64": 8, "u32": 4, "u8": 1}[op]
            if len(buf) < w:
                continue
            # aligned to the 20-byte e820 entries of either binary form
            if rnd.random() < 0.6 and len(buf) >= 0x2D0 + 20:
                base = (0x2D0 if len(buf) == 4096 else 0) + 20 * rnd.randrange(
                    max(1, (len(buf) - (0x2D0 if len(buf) == 4096 else 0)) // 20)
                )
                off = min(len(buf) - w, base + rnd.choice((0, 8, 16)))
            elif len(buf) == 4096 and rnd.random() < 0.5:
                off = 0x1E8  # e820_entries
                w = 1
            else:
                off = rnd.randrange(len(buf) - w + 1)
            f = Field(off, w, "bin")
            v = rnd.choice(boundary_values(w, _get(buf, f)))
            _put(buf, f, v)
            notes.append(f"{op}@{off:#x}={v:#x}")
        elif op == "truncate":
            cut = rnd.choice((rnd.randrange(len(buf)), len(buf) - 1, len(buf) - 20, 512, 0x2D0))
            del buf[max(0, cut) :]
            notes.append(f"truncate@{cut:#x}")
        elif op == "extend":
            buf += bytes(rnd.choice((1, 20, 4096)))
            notes.append("extend")
        else:
            pos = rnd.randrange(len(buf))
            buf[pos] ^= 1 << rnd.randrange(8)
            notes.append(f"bitflip@{pos:#x}")
    return bytes(buf), "; ".join(notes) or "unchanged"


def mutate_kpageflags(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """Raw kpageflags: odd sizes, boundary flag words, empty; sometimes xz/gzip (maybe cut)."""
    buf = bytearray(data)
    notes: list[str] = []
    op = rnd.choice(("odd", "words", "empty", "compressed", "compressed-cut", "bits"))
    if op == "odd":
        del buf[rnd.randrange(len(buf)) :]
        notes.append(f"truncate {len(buf)}")
    elif op == "words":
        for _ in range(rnd.choice((1, 16, 256))):
            i = rnd.randrange(max(1, len(buf) // 8))
            struct.pack_into("<Q", buf, 8 * i, rnd.choice((0, (1 << 64) - 1, 1 << 32, 1 << 20)))
        notes.append("words")
    elif op == "empty":
        buf = bytearray()
        notes.append("empty")
    elif op == "bits":
        for _ in range(8):
            pos = rnd.randrange(len(buf))
            buf[pos] ^= 1 << rnd.randrange(8)
        notes.append("bits")
    else:
        import gzip
        import lzma

        comp = lzma.compress(bytes(buf)) if rnd.random() < 0.5 else gzip.compress(bytes(buf))
        if op == "compressed-cut":
            comp = comp[: rnd.randrange(len(comp))]
        buf = bytearray(comp)
        notes.append(op)
    return bytes(buf), "; ".join(notes)
