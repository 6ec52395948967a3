"""Memory excerpts: the real bytes of the few pages the kernel layer reads from an image.

A full real image is 10-15 MB compressed and not committed; the kernel layer reads only a few
hundred of its pages (the VMCOREINFO note, page tables, kallsyms probes, the log ring, the
e820 tables, the nosave list, the struct pages of the saved PFNs, a little BTF).  An excerpt
keeps exactly those pages, recorded by a :class:`~swsusp_inspect.kernel.memory.PhysicalMemory`
with ``record=True``, plus the image's PFN directory and arch record, so that
:func:`~swsusp_inspect.kernel.read_kernel` runs on it as on the image (it satisfies
:class:`~swsusp_inspect.kernel.memory.ImageLike`).  A page the image saved but the excerpt
did not record reads as "not in the image".

File format (``.kexc.xz``; xz of)::

    b"SWSKEXC1"  u32 header length  header (UTF-8 JSON: page_size, word_size, version_code,
    arch record, provenance, counts)
    saved PFN runs   (u64 start, u64 count) x saved_runs      -- the PFN directory, sorted
    zero PFN runs    (u64 start, u64 count) x zero_runs       -- 6.6+ zero pages
    page PFNs        u64 x pages (sorted)
    page data        pages x page_size bytes

References:
    swsusp_inspect/kernel/memory.py (the ImageLike surface).
"""

from __future__ import annotations

import dataclasses
import json
import lzma
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from swsusp_inspect.arrays import unique
from swsusp_inspect.errors import FormatError
from swsusp_inspect.kernel.memory import ImageLike
from swsusp_inspect.model import ArchRecord, Utsname, to_data

__all__ = ["MemoryExcerpt", "load_excerpt", "write_excerpt"]

MAGIC = b"SWSKEXC1"
MAX_EXCERPT = 256 << 20  # decompressed; an excerpt is a few MiB


def _runs(pfns: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    p = unique(np.asarray(pfns, dtype=np.uint64))
    if p.size == 0:
        return np.zeros((0, 2), dtype=np.uint64)
    brk = np.flatnonzero(np.diff(p) != 1) + 1
    starts = np.concatenate(([0], brk))
    ends = np.concatenate((brk, [p.size]))
    return np.stack([p[starts], (ends - starts).astype(np.uint64)], axis=1).astype(np.uint64)


def _unruns(runs: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    if runs.size == 0:
        return np.zeros(0, dtype=np.uint64)
    counts = runs[:, 1].astype(np.int64)
    offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return (np.repeat(runs[:, 0], counts) + offs.astype(np.uint64)).astype(np.uint64)


def _arch_to_json(arch: ArchRecord | None) -> dict[str, Any] | None:
    return None if arch is None else dict(to_data(arch))


def _arch_from_json(d: dict[str, Any] | None) -> ArchRecord | None:
    """The record as :func:`_arch_to_json` wrote it (or as the first excerpts did: arm64 and
    riscv fields under ``extra``, the MD5 digest as ``e820_digest``)."""
    if d is None:
        return None
    fields = {f.name for f in dataclasses.fields(ArchRecord) if f.init}
    values = {k: v for k, v in {**d, **(d.get("extra") or {})}.items() if k in fields}
    digest = d.get("e820_digest")
    if digest is not None:
        values["e820_digest_hex"] = digest
        values["e820_checksum"] = int(digest, 16)
    return ArchRecord(**values)


@dataclass(frozen=True)
class ExcerptInfo:
    arch: ArchRecord | None
    version_code: int
    uts: Utsname | None = None  # excerpts keep the arch record; the generic header's uts not


@dataclass(frozen=True)
class ExcerptPagedir:
    pfns: npt.NDArray[np.uint64]
    zero: npt.NDArray[np.bool_]


@dataclass
class MemoryExcerpt:
    """Recorded pages of a real image (an :class:`ImageLike`).

    Attributes:
        page_size, word_size, info, pagedir: as the image had them.
        pages: PFN -> page bytes for the recorded pages.
        provenance: where the pages came from (sample, image sha256, tool version...).
        source: the file read, if any.
    """

    page_size: int
    word_size: int
    info: ExcerptInfo
    pagedir: ExcerptPagedir
    pages: dict[int, bytes]
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        order = np.argsort(self.pagedir.pfns, kind="stable")
        self._sorted = self.pagedir.pfns[order]
        self._zero_sorted = self.pagedir.zero[order]

    def read_page(self, pfn: int) -> bytes:
        """The recorded page; zeros for a saved zero page; KeyError otherwise."""
        data = self.pages.get(pfn)
        if data is not None:
            return data
        i = int(np.searchsorted(self._sorted, np.uint64(pfn)))
        if i < self._sorted.size and int(self._sorted[i]) == pfn:
            if bool(self._zero_sorted[i]):
                return bytes(self.page_size)
            raise KeyError(f"PFN {pfn:#x} is saved in the image but not in this excerpt")
        raise KeyError(f"PFN {pfn:#x} is not saved in this image")

    def iter_data_pages(self) -> Iterator[tuple[npt.NDArray[np.uint64], bytes | memoryview]]:
        """The recorded data pages in PFN order (runs of up to 32)."""
        keys = sorted(self.pages)
        for k in range(0, len(keys), 32):
            run = keys[k : k + 32]
            yield np.array(run, dtype=np.uint64), b"".join(self.pages[p] for p in run)


def write_excerpt(
    path: str | os.PathLike[str],
    image: ImageLike,
    pfns: Iterable[int],
    *,
    provenance: dict[str, Any] | None = None,
) -> int:
    """Write the pages ``pfns`` of ``image`` (with its PFN directory and arch record).

    Returns the number of bytes written.
    """
    pd = image.pagedir
    pfn_list = sorted({int(p) for p in pfns})
    data = [image.read_page(p) for p in pfn_list]
    header = {
        "page_size": int(image.page_size),
        "word_size": int(image.word_size),
        "version_code": int(image.info.version_code),
        "arch": _arch_to_json(image.info.arch),
        "provenance": provenance or {},
    }
    saved = _runs(np.asarray(pd.pfns, dtype=np.uint64))
    zero = _runs(np.asarray(pd.pfns, dtype=np.uint64)[np.asarray(pd.zero, dtype=bool)])
    header.update(saved_runs=int(saved.shape[0]), zero_runs=int(zero.shape[0]), pages=len(pfn_list))
    blob = json.dumps(header, sort_keys=True).encode()
    body = b"".join(
        [
            MAGIC,
            struct.pack("<I", len(blob)),
            blob,
            saved.astype("<u8").tobytes(),
            zero.astype("<u8").tobytes(),
            np.array(pfn_list, dtype="<u8").tobytes(),
            b"".join(data),
        ]
    )
    packed = lzma.compress(body, preset=9 | lzma.PRESET_EXTREME)
    with open(path, "wb") as fh:
        fh.write(packed)
    return len(packed)


def load_excerpt(path: str | os.PathLike[str]) -> MemoryExcerpt:
    """Read an excerpt written by :func:`write_excerpt`.

    Raises:
        FormatError: not an excerpt, or counts that do not fit the file.
    """
    spath = os.fspath(path)
    try:
        with lzma.open(spath) as fh:
            body = fh.read(MAX_EXCERPT + 1)
    except lzma.LZMAError as exc:
        raise FormatError("memory excerpt", 0, None, "xz data", str(exc), path=spath) from exc
    if len(body) > MAX_EXCERPT or not body.startswith(MAGIC) or len(body) < 12:
        raise FormatError("memory excerpt", 0, "magic", MAGIC.decode(), body[:8], path=spath)
    (hlen,) = struct.unpack_from("<I", body, 8)
    try:
        header = json.loads(body[12 : 12 + hlen])
        ps, ws = int(header["page_size"]), int(header["word_size"])
        ns, nz, npg = int(header["saved_runs"]), int(header["zero_runs"]), int(header["pages"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError("memory excerpt", 12, "header", "JSON", str(exc), path=spath) from exc
    pos = 12 + hlen
    need = pos + 16 * (ns + nz) + npg * (8 + ps)
    if need != len(body):
        raise FormatError("memory excerpt", pos, "size", need, len(body), path=spath)
    saved = np.frombuffer(body, "<u8", 2 * ns, pos).reshape(-1, 2).astype(np.uint64)
    pos += 16 * ns
    zero_runs = np.frombuffer(body, "<u8", 2 * nz, pos).reshape(-1, 2).astype(np.uint64)
    pos += 16 * nz
    page_pfns = np.frombuffer(body, "<u8", npg, pos).astype(np.uint64)
    pos += 8 * npg
    pages = {
        int(p): body[pos + i * ps : pos + (i + 1) * ps] for i, p in enumerate(page_pfns.tolist())
    }
    pfns = _unruns(saved)
    zero = np.isin(pfns, _unruns(zero_runs))
    return MemoryExcerpt(
        ps,
        ws,
        ExcerptInfo(_arch_from_json(header.get("arch")), int(header.get("version_code") or 0)),
        ExcerptPagedir(pfns, zero),
        pages,
        header.get("provenance") or {},
        spath,
    )
