"""kallsyms tables laid out as scripts/kallsyms.c write_src() lays them out, in every address
form and layout, decoded and searched; and corrupt ones.

The expected names and addresses are literal here; the little encoder only turns them into
the compressed form (length byte(s), token numbers) the kernel's tool writes.
"""

from __future__ import annotations

import struct

import pytest
from kernel_helpers import SynthKernel

from swsusp_inspect.kernel import KernelDataError
from swsusp_inspect.kernel.kallsyms import (
    Kallsyms,
    KallsymsLocation,
    decode_kallsyms,
    find_kallsyms,
    read_kallsyms,
)

BASE = 0xFFFFFFFF81000000
AT = 0xFFFFFFFF82000000  # where the arrays are placed (.rodata)

# multi-character tokens at byte values no name uses, as the compressor assigns them
TOKENS = {1: b"__", 2: b"init", 3: b"sym_", 4: b"lin", 5: b"ux_"}


def token_table() -> list[bytes]:
    toks = []
    for c in range(256):
        if c in TOKENS:
            toks.append(TOKENS[c])
        elif 0x20 < c < 0x7F:
            toks.append(bytes([c]))
        else:
            toks.append(b"~" + bytes([0x41 + c % 26]))  # unused codes still hold a token
    return toks


def encode(kind: str, name: str) -> bytes:
    text = (kind + name).encode()
    out = []
    i = 0
    by_len = sorted(TOKENS.items(), key=lambda kv: -len(kv[1]))
    while i < len(text):
        for code, tok in by_len:
            if text.startswith(tok, i):
                out.append(code)
                i += len(tok)
                break
        else:
            out.append(text[i])
            i += 1
    n = len(out)
    head = bytes([n]) if n <= 0x7F else bytes([(n & 0x7F) | 0x80, n >> 7])
    return head + bytes(out)


def symbols() -> list[tuple[int, str, str]]:
    """(address, type, name) sorted by address, > 256 of them, one 'big' name."""
    syms = [
        (BASE, "T", "_stext"),
        (BASE, "T", "_text"),
        (BASE + 0x40, "T", "startup_64"),
        (BASE + 0x80, "t", "__init_cpu"),
        (BASE + 0xC0, "t", "event_function"),
    ]
    syms += [(BASE + 0x1000 + 0x10 * i, "T" if i % 3 else "t", f"sym_{i:04d}") for i in range(600)]
    syms += [
        (BASE + 0x9000, "T", "x" * 150),  # 151 tokens: a two-byte length (6.1+)
        (BASE + 0x100000, "D", "linux_banner"),
        (BASE + 0x100100, "D", "event_function"),
        (BASE + 0x100200, "d", "nosave_regions"),
    ]
    return syms


def align(x: int, a: int = 8) -> int:
    return -(-x // a) * a


def compressed_names(syms: list[tuple[int, str, str]]) -> tuple[bytes, bytes]:
    """kallsyms_names and kallsyms_markers (the offset of every 256th name)."""
    names = b""
    markers = []
    for i, (_a, t, n) in enumerate(syms):
        if i % 256 == 0:
            markers.append(len(names))
        names += encode(t, n)
    return names, b"".join(struct.pack("<I", m) for m in markers)


def token_arrays() -> tuple[bytes, bytes]:
    """kallsyms_token_table and kallsyms_token_index."""
    toks = token_table()
    index = []
    off = 0
    for t in toks:
        index.append(off)
        off += len(t) + 1
    return b"".join(t + b"\0" for t in toks), b"".join(struct.pack("<H", i) for i in index)


def seqs_of_names(syms: list[tuple[int, str, str]]) -> bytes:
    """kallsyms_seqs_of_names: symbol numbers sorted by name, 3 big-endian bytes each."""
    order = sorted(range(len(syms)), key=lambda i: (syms[i][2], syms[i][0], i))
    return b"".join(struct.pack(">I", i)[1:] for i in order)


class Rodata:
    """The arrays laid out from AT, each label aligned to 8 as write_src() aligns them."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.where: dict[str, int] = {}

    def label(self, name: str, data: bytes) -> None:
        self.blob.extend(bytes(align(len(self.blob)) - len(self.blob)))
        self.where[name] = AT + len(self.blob)
        self.blob.extend(data)

    def addresses(self, mode: str, syms: list[tuple[int, str, str]]) -> None:
        """kallsyms_offsets (+ kallsyms_relative_base) or kallsyms_addresses, per ``mode``."""
        # scripts/kallsyms.c record_relative_base(): the lowest non-absolute address
        relative_base = min(a for a, t, _n in syms if t != "A")
        if mode == "relative":
            self.label(
                "offsets", b"".join(struct.pack("<I", a - relative_base) for a, _t, _n in syms)
            )
        elif mode == "absolute-percpu":
            vals = [a if t == "A" else relative_base - 1 - a for a, t, _n in syms]
            self.label("offsets", b"".join(struct.pack("<i", v) for v in vals))
        elif mode == "pc-relative":
            self.label("offsets", b"")
            start = self.where["offsets"]
            self.blob.extend(
                b"".join(
                    struct.pack("<i", a - (start + 4 * i)) for i, (a, _t, _n) in enumerate(syms)
                )
            )
        else:
            self.label("addresses", b"".join(struct.pack("<Q", a) for a, _t, _n in syms))
        if mode in ("relative", "absolute-percpu"):
            self.label("relative_base", struct.pack("<Q", relative_base))


def build(
    mode: str = "relative",
    layout: str = "6.2",
    *,
    seqs: bool = True,
    syms: list[tuple[int, str, str]] | None = None,
) -> tuple[SynthKernel, KallsymsLocation]:
    """Lay the arrays out at AT as write_src() does; returns the kernel and where they are."""
    syms = syms or symbols()
    names, markers = compressed_names(syms)
    table, index = token_arrays()
    ro = Rodata()
    if layout == "6.1":  # offsets relative_base num_syms names markers [seqs] tokens index
        ro.addresses(mode, syms)
    ro.label("num_syms", struct.pack("<I", len(syms)))
    ro.label("names", names)
    ro.label("markers", markers)
    if layout == "6.1" and seqs:
        ro.label("seqs", seqs_of_names(syms))
    ro.label("token_table", table)
    ro.label("token_index", index)
    if layout != "6.1":  # 6.2+: num_syms names markers tokens index offsets relative_base seqs
        ro.addresses(mode, syms)
        if seqs:
            ro.label("seqs", seqs_of_names(syms))
    k = SynthKernel()
    k.place(AT, bytes(ro.blob))
    where = ro.where
    loc = KallsymsLocation(
        num_syms=where["num_syms"],
        names=where["names"],
        token_table=where["token_table"],
        token_index=where["token_index"],
        offsets=where.get("offsets"),
        relative_base=where.get("relative_base"),
        addresses=where.get("addresses"),
        names_end=where["markers"],
    )
    return k, loc


@pytest.mark.parametrize("mode", ["relative", "absolute-percpu", "pc-relative", "absolute"])
@pytest.mark.parametrize("layout", ["6.1", "6.2"])
def test_lookups_and_whole_table(mode, layout):
    syms = symbols()
    if mode == "absolute-percpu":  # per-CPU symbols first, absolute (type A), low values
        syms = [(0x0, "A", "fixed_percpu_data"), (0x2000, "A", "irq_stack_backing_store"), *syms]
    k, loc = build(mode, layout, syms=syms)
    ks = Kallsyms(k.vm, loc)
    assert ks.count == len(syms)
    assert ks.lookup("_stext") == BASE
    assert ks.lookup("startup_64") == BASE + 0x40
    assert ks.lookup("linux_banner") == BASE + 0x100000
    assert ks.lookup("sym_0433") == BASE + 0x1000 + 0x10 * 433
    assert ks.lookup("x" * 150) == BASE + 0x9000
    assert ks.lookup("nonexistent") is None
    # a global entry wins over a local one of the same name, as System.map is read
    assert ks.lookup_all("event_function") == [(BASE + 0xC0, "t"), (BASE + 0x100100, "D")]
    assert ks.lookup("event_function") == BASE + 0x100100
    assert ks._ensure_index()  # markers and seqs_of_names were found: binary search used
    table = ks.table()
    assert list(table) == syms
    assert table.mode == mode
    if mode == "absolute-percpu":
        assert ks.lookup("irq_stack_backing_store") == 0x2000


def test_without_seqs_of_names_a_lookup_decodes_the_whole_table():
    """Kernels before 6.2 (and 6.1.y) have no kallsyms_seqs_of_names."""
    k, loc = build("relative", "6.1", seqs=False)
    ks = Kallsyms(k.vm, loc)
    assert not ks._ensure_index()
    assert ks.lookup("linux_banner") == BASE + 0x100000
    assert ks.lookup("event_function") == BASE + 0x100100


@pytest.mark.parametrize("layout", ["6.1", "6.2"])
def test_found_by_its_shape(layout):
    k, loc = build("relative", layout)
    found = find_kallsyms(k.vm, AT, 1 << 20, word_size=8)
    for field in ("num_syms", "names", "token_table", "token_index", "offsets", "relative_base"):
        assert getattr(found, field) == getattr(loc, field), field
    assert found.found_by == "structure"
    assert read_kallsyms(k.vm, found).names[:3] == ("_stext", "_text", "startup_64")


def test_nothing_shaped_like_kallsyms():
    k = SynthKernel()
    k.place(AT, b"0\x001\x002\x00" * 1000)
    with pytest.raises(KernelDataError, match="ten digit tokens"):
        find_kallsyms(k.vm, AT, 4096, word_size=8)


def test_decode_names_directly():
    toks = token_table()
    names = encode("T", "sym_init") + encode("d", "__lin")
    got, types, used = decode_kallsyms(names, 2, toks)
    assert got == ["sym_init", "__lin"] and types == "Td" and used == len(names)


@pytest.mark.parametrize(
    ("patch", "says"),
    [
        ("num_syms=0", "kallsyms_num_syms"),
        ("num_syms=0x7fffffff", "kallsyms_num_syms"),
        ("token_index", "kallsyms_token_index"),
        ("empty_token", "kallsyms_token_table"),
    ],
)
def test_corrupt_headers(patch, says):
    k, loc = build()
    mem = k.vm.phys
    if patch.startswith("num_syms"):
        value = int(patch.split("=")[1], 16)
        k.img.write(k.vm.translate(loc.num_syms), struct.pack("<I", value))
    elif patch == "token_index":
        k.img.write(k.vm.translate(loc.token_index + 20), struct.pack("<H", 0))
    else:
        k.img.write(k.vm.translate(loc.token_table), b"\0")
    mem.clear_cache()
    with pytest.raises(KernelDataError, match=says):
        Kallsyms(k.vm, loc)


def test_names_cut_short():
    k, loc = build()
    k.img.write(k.vm.translate(loc.num_syms), struct.pack("<I", 100000))
    k.vm.phys.clear_cache()
    ks = Kallsyms(k.vm, loc)
    with pytest.raises(KernelDataError, match="kallsyms_names"):
        ks.table()
    assert not ks._ensure_index()  # the markers no longer fit the count
