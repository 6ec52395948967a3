"""Helpers shared by the reader's tests: hand-written hexdumps, forged images, CLI runs, and
the real-kernel samples' provenance and log lines."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import mmap
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from swsusp_inspect.cli import cli
from swsusp_inspect.forge.kernel import Forged, ForgeSpec, forge, forge_stream
from swsusp_inspect.image import HibernationImage

_LINE = re.compile(r"^\s*([0-9a-fA-F]+):((?:\s+[0-9a-fA-F]{2})+)\s*(?:#.*)?$")


def unhex(size: int, dump: str) -> bytes:
    """Bytes from an annotated hexdump: ``OFFSET: xx xx ...  # comment`` lines.

    Bytes not listed are zero; comment-only and blank lines are skipped.  A line that is
    neither is an error in the test itself.
    """
    out = bytearray(size)
    for line in dump.splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, f"bad hexdump line: {line!r}"
        off = int(m.group(1), 16)
        data = bytes.fromhex(m.group(2))
        assert off + len(data) <= size, f"hexdump line past {size:#x}: {line!r}"
        out[off : off + len(data)] = data
    return bytes(out)


def pfns(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.uint64)


def forge_to(directory: Path, name: str = "image", *, stream: bool = False, **spec: Any) -> Forged:
    """Forge an image into ``directory/name``; ``spec`` are ForgeSpec fields (pfns default)."""
    spec.setdefault("pfns", pfns(0x100, 0x100 + 80))
    writer = forge_stream if stream else forge
    return writer(ForgeSpec(**spec), directory / name)


def run_cli(*args: str) -> Result:
    """Run the click group as the console script would (stderr kept apart)."""
    return CliRunner().invoke(cli, list(args))


def assert_error_line(
    result: Result, *names: str, exit_code: int = 2, expected_vs_found: bool = True
) -> str:
    """One line on stderr with every name in ``names`` and a hex offset; no traceback.

    ``expected_vs_found``: the line also says what was expected and what was found (format
    errors; "not an image" and "unsupported" answers name what was found only).
    """
    assert result.exit_code == exit_code, (result.exit_code, result.stderr, result.exception)
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("swsusp-inspect: error: "), line
    for name in names:
        assert name in line, (name, line)
    assert re.search(r"0x[0-9a-f]+", line), line
    if expected_vs_found:
        assert re.search(r"expected .+, got .+", line), line
    return line


# -- real-kernel samples (samples/<name>/, made by samples/generate.py) -----------------------

# (addr, size, type) of the QEMU pc guests in samples/, as their BIOS-e820 lines
QEMU_E820 = [
    (0x0, 0x9FC00, 1),
    (0x9FC00, 0x400, 2),
    (0xF0000, 0x10000, 2),
    (0x100000, 0xBEDA000, 1),
    (0xBFDA000, 0x26000, 2),
    (0xFFFC0000, 0x40000, 2),
    (0xFD00000000, 0x300000000, 2),
]


def e820_table_bytes(entries: list[tuple[int, int, int]]) -> bytes:
    """``struct e820_table``: u32 nr_entries, then packed 20-byte {u64 addr; u64 size; u32 type}."""
    return struct.pack("<I", len(entries)) + b"".join(struct.pack("<QQI", *e) for e in entries)


SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def provenance(name: str) -> dict[str, Any]:
    """The generator's record of a real sample (forged samples have none)."""
    return dict(json.loads((SAMPLES / name / "provenance.json").read_text()))


def real_samples() -> list[str]:
    """Real samples whose image is in place (some are git-ignored: samples/.gitignore)."""
    return sorted(
        p.parent.name
        for p in SAMPLES.glob("*/swap.img.xz")
        if (p.parent / "provenance.json").is_file()
    )


# Real samples that repeat another in the default run: deb12-6.1-nocompress is
# deb12-6.1-lzo's kernel saved without compression (forged images read the uncompressed
# layout in the default run); its cases run with -m slow.
REPEATED_SAMPLES = frozenset({"deb12-6.1-nocompress"})


def sample_params(names: Any, ids: Any = None) -> list[Any]:
    """``names`` (or the values ``ids`` name) as parameters, REPEATED_SAMPLES' marked slow."""
    names = list(names)
    keys = [str(n) for n in (ids if ids is not None else names)]
    return slow_but(names, {k for k in keys if k not in REPEATED_SAMPLES}, keys)


def resume_md5(resume_log: str) -> str:
    """The MD5 suspend-utils' ``resume`` printed when it loaded an s2disk image (hex)."""
    m = re.search(r"resume: MD5 checksum ((?:[0-9a-f]{2} ){16})", resume_log)
    assert m, "resume.log lacks resume's MD5 line"
    return m.group(1).replace(" ", "")


def s2disk_stream_pages(console: str) -> int:
    """Stream pages s2disk read from /dev/snapshot (``Saving N image data pages``)."""
    m = re.search(r"s2disk: Saving (\d+) image data pages", console)
    assert m, "console.log lacks s2disk's 'Saving N image data pages' line"
    return int(m.group(1))


_ARCH_SPECIFIC = (
    "uts_version",
    "ttbr1_el1",
    "reenter_kernel",
    "hyp_stub_vectors",
    "sleep_cpu_mpidr",
    "hartid",
    "saved_satp",
    "satp_mode",
    "page_table_root",
    "restore_cpu_addr",
)


def arch_extra(arch: Any) -> dict[str, Any]:
    """The arm64/riscv record's own fields that are set (those x86 records do not have)."""
    return {k: getattr(arch, k) for k in _ARCH_SPECIFIC if getattr(arch, k) is not None}


def kaslr_offset(prov: dict[str, Any]) -> int:
    """How far KASLR slid the sample's kernel: the generator's ``kaslr.offset`` (kallsyms
    ``_text`` - System.map ``_text``); samples made before it recorded that booted with
    ``nokaslr`` (their command line says so), i.e. 0."""
    if "kaslr" in prov:
        return int(prov["kaslr"]["offset"])
    assert "nokaslr" in prov["kernel_cmdline"].split(), prov["sample"]
    return 0


def kernel_code_anchor(arch: str, iomem: str, symbols: dict[str, int]) -> str:
    """The kernel symbol whose physical address iomem's "Kernel code" line starts at.

    x86: ``__pa_symbol(_text)`` (arch/x86/kernel/setup.c).  arm64: ``__pa_symbol(_stext)`` in
    6.1, ``__pa_symbol(_text)`` in later kernels (arch/arm64/kernel/setup.c changed it); the
    resource ends at ``__pa_symbol(__init_begin - 1)`` there, so, as kexec-tools does, the
    line's length tells which (``symbols`` needs ``_text``, ``_stext`` and ``__init_begin``).
    """
    if arch != "arm64":
        return "_text"
    m = re.search(r"^\s*([0-9a-f]+)-([0-9a-f]+) : Kernel code$", iomem, re.M)
    assert m, "iomem lacks Kernel code"
    length = int(m.group(2), 16) + 1 - int(m.group(1), 16)
    (anchor,) = [s for s in ("_stext", "_text") if symbols["__init_begin"] - symbols[s] == length]
    return anchor


@functools.cache
def parsed(source: str) -> ast.Module:
    """``ast.parse(source)``, once a session (the structure and architecture tests walk every
    module of the package; the trees are only read)."""
    return ast.parse(source)


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def child_statements(node: ast.AST) -> Iterator[ast.stmt]:
    """The statements directly inside ``node``'s blocks (an ``except`` clause's or a ``case``'s
    included): imports, functions and classes are statements, so walking these alone finds
    them all without visiting the expressions, nine in ten of a module's nodes."""
    for name in _BLOCKS:
        for child in getattr(node, name, None) or ():
            if isinstance(child, ast.ExceptHandler | ast.match_case):
                yield from child_statements(child)
            else:
                yield child


def statements(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every statement in ``tree``, nested ones included, depth first in source order."""
    for child in child_statements(tree):
        yield child
        yield from statements(child)


THOROUGH = os.environ.get("SWSUSP_INSPECT_TESTS") == "thorough"


def examples(n: int) -> int:
    """Hypothesis examples for a property: a sixth in the default run (which is kept to about
    half a minute of CPU), three times as many in CI's thorough step
    (``SWSUSP_INSPECT_TESTS=thorough``)."""
    return n * 3 if THOROUGH else max(10, n // 6)


def slow_but(values: Any, keep: Any, ids: Any = None) -> list[Any]:
    """``values`` as parameters, every one but those in ``keep`` (values, or ids when ``ids``
    are given) marked slow: the default run checks the behaviour once, CI's thorough step
    (``-m "slow or not slow"``) on every value.  A tuple is one value per argument name."""
    out = []
    for i, v in enumerate(values):
        name = ids[i] if ids is not None else v
        marks = () if name in keep else (pytest.mark.slow,)
        args = v if isinstance(v, tuple) else (v,)
        out.append(pytest.param(*args, marks=marks, id=None if ids is None else ids[i]))
    assert len(out) - sum(1 for p in out if p.marks) == len(keep), "keep names no value"
    return out


def round_trip(fmt: Any, obj: dict[str, Any], size: int, data: bytes | None = None) -> None:
    """construct's own round-trip check, with the equalities asserted: ``parse(data) == obj``,
    ``build(obj) == data``, ``sizeof() == size == len(data)``; without ``data``, the bytes
    ``build(obj)`` gives (whose parse must give ``obj`` back)."""
    if data is None:
        data = fmt.build(obj)
    else:
        assert fmt.build(obj) == data
    parsed = fmt.parse(data)
    # construct adds hidden "_..." keys (the stream, padding) that obj does not name
    assert {k: v for k, v in parsed.items() if k in obj or not k.startswith("_")} == obj
    assert fmt.build(parsed) == data
    assert fmt.sizeof() == size == len(data)


# -- an ELF core reader independent of the package's writer (export and salvage tests) -------


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (a raw output is mostly holes, a sample 80 MB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def elf_loads(path: Path) -> tuple[int, int, list[tuple[int, int, int, int, int]], bytes]:
    """``(class, machine, [(type, offset, paddr, filesz, memsz)], note bytes)``."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _elf_loads(data)  # mapped: only the headers and the note are read


def _elf_loads(data: mmap.mmap) -> tuple[int, int, list[tuple[int, int, int, int, int]], bytes]:
    assert data[:4] == b"\x7fELF"
    cls = 64 if data[4] == 2 else 32
    if cls == 64:
        e_type, machine, _, _, phoff, _, _, _, phsz, phnum = struct.unpack_from(
            "<HHIQQQIHHH", data, 16
        )
        rows = [struct.unpack_from("<IIQQQQQQ", data, phoff + i * phsz) for i in range(phnum)]
        segs = [(t, off, pa, fs, ms) for t, _, off, _, pa, fs, ms, _ in rows]
    else:
        e_type, machine, _, _, phoff, _, _, _, phsz, phnum = struct.unpack_from(
            "<HHIIIIIHHH", data, 16
        )
        rows = [struct.unpack_from("<IIIIIIII", data, phoff + i * phsz) for i in range(phnum)]
        segs = [(t, off, pa, fs, ms) for t, off, _, pa, fs, ms, _, _ in rows]
    assert e_type == 4  # ET_CORE
    notes = [(off, fs) for t, off, _, fs, _ in segs if t == 4]
    assert len(notes) == 1
    return cls, machine, segs, data[notes[0][0] : notes[0][0] + notes[0][1]]


def elf_page(path: Path, phys: int, n: int) -> bytes | None:
    """The page at ``phys`` as an ELF core reader sees it (None: in no segment)."""
    _, _, segs, _ = elf_loads(path)
    for t, off, pa, fs, ms in segs:
        if t == 1 and pa <= phys < pa + ms:
            if phys - pa >= fs:
                return bytes(n)  # memory with no file bytes: zeros
            with open(path, "rb") as f:
                f.seek(off + phys - pa)
                return f.read(n)
    return None


def check_verify(img: HibernationImage, forged: Forged) -> None:
    """A forged image verifies: every stream page read, the CRC32 the forger wrote."""
    result = img.verify()
    assert result.ok is True
    assert result.stream_pages_read == forged.pages - 1
    assert result.crc32.stored == forged.crc32
    if forged.crc32 is not None:
        assert result.crc32.computed == forged.crc32
