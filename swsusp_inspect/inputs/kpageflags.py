"""``/proc/kpageflags``: one u64 of page flags per PFN, read raw or xz/gzip/zstd-compressed.

References:
    fs/proc/page.c ``kpageflags_read()`` (2.6.25 -> now): the file is an array of u64 indexed by
    PFN from PFN 0; reads must be 8-byte aligned; PFNs without a ``struct page`` read as
    ``KPF_NOPAGE``.  include/uapi/linux/kernel-page-flags.h: ``KPF_NOPAGE`` = 20,
    ``KPF_BUDDY`` = 10, ``KPF_OFFLINE`` = 23; include/linux/kernel-page-flags.h (kernel-hacking
    bits, exported since 2.6.32): ``KPF_RESERVED`` = 32 (``PG_reserved``).

The reader is bounded: it never holds more than ``limit_pfns`` entries (the audit passes the
highest saved PFN + 1), so a huge or hostile file costs at most what the image can use.  A raw
file is mapped, not read; a compressed one is decompressed only as far as needed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from swsusp_inspect.errors import FormatError
from swsusp_inspect.transport import open_input
from swsusp_inspect.transport.codecs import codec_errors, open_expanded, sniff_transport

__all__ = [
    "KPF_BUDDY",
    "KPF_NOPAGE",
    "KPF_OFFLINE",
    "KPF_RESERVED",
    "KPageFlags",
    "load_kpageflags",
]

KPF_BUDDY = 10
KPF_NOPAGE = 20
KPF_OFFLINE = 23
KPF_RESERVED = 32

# Without a limit: 2**32 PFNs (16 TiB of 4 KiB pages, 32 GiB of flags) is the most we map.
DEFAULT_LIMIT_PFNS = 1 << 32
# A compressed copy, a pipe or procfs is read into memory: at most 2**27 PFNs (512 GiB of RAM,
# 1 GiB of flags) of it, whatever the limit asked (the rest reads as "not covered", as past the
# end of a short file).  A raw file is mapped, never read.
MAX_STREAMED_PFNS = 1 << 27
_BLOCK = 1 << 20


@dataclass(frozen=True)
class KPageFlags:
    """Page flags per PFN.

    Attributes:
        source: the file read.
        flags: ``uint64`` array (little-endian), index = PFN, possibly a read-only memory map.
        file_pfns: how many PFNs the file holds (None when it was not read to its end).
        transport: ``None``, ``"xz"``, ``"gzip"`` or ``"zstd"``.
    """

    source: str
    flags: npt.NDArray[np.uint64]
    file_pfns: int | None
    transport: str | None

    @property
    def pfns(self) -> int:
        """Number of PFNs covered (PFN 0 .. pfns - 1)."""
        return int(self.flags.size)

    def bit(self, pfns: npt.NDArray[np.uint64], bit: int) -> npt.NDArray[np.bool_]:
        """Whether ``bit`` is set for each of ``pfns``; False where the file does not reach."""
        out = np.zeros(pfns.shape, dtype=bool)
        inside = pfns < np.uint64(self.flags.size)
        vals = self.flags[pfns[inside].astype(np.intp)]
        out[inside] = ((vals >> np.uint64(bit)) & np.uint64(1)).astype(bool)
        return out


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_stream(stream: _Readable, limit_bytes: int) -> tuple[bytes, bool]:
    """Up to ``limit_bytes`` from ``stream``; and whether the stream ended within them."""
    parts: list[bytes] = []
    got = 0
    while got < limit_bytes:
        block = stream.read(min(_BLOCK, limit_bytes - got))
        if not block:
            return b"".join(parts), True
        parts.append(block)
        got += len(block)
    return b"".join(parts), stream.read(1) == b""


def load_kpageflags(path: str | os.PathLike[str], *, limit_pfns: int | None = None) -> KPageFlags:
    """Read a ``/proc/kpageflags`` copy (raw, ``.xz``, ``.gz`` or ``.zst``; sniffed by content).

    Args:
        path: the file; ``/proc/kpageflags`` itself works too (it reports size 0 and is streamed).
        limit_pfns: read at most this many PFNs (default 2**32).

    Raises:
        FormatError: the size is not a multiple of 8 bytes, the compressed stream is damaged,
            the file is empty, or it is a directory, character device or socket.
        OSError: the file cannot be opened.
    """
    spath = os.fspath(path)
    limit = DEFAULT_LIMIT_PFNS if limit_pfns is None else max(0, int(limit_pfns))
    limit_bytes = min(limit, MAX_STREAMED_PFNS) * 8  # for streamed inputs only

    def refuse(why: str) -> FormatError:
        return FormatError("kpageflags", None, None, "a copy of /proc/kpageflags", why, path=spath)

    fd, st = open_input(spath, refuse)
    with os.fdopen(fd, "rb") as fh:
        transport = sniff_transport(fh.peek(8)[:8])
        # a pipe streams like a procfs file (both report size 0)
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        if transport is None and size > 0:
            if size % 8:
                raise FormatError(
                    "kpageflags",
                    size,
                    None,
                    "a multiple of 8 bytes (u64 per PFN)",
                    f"{size} bytes",
                    path=spath,
                )
            n = min(size // 8, limit)
            if n == 0:
                raise FormatError("kpageflags", 0, None, "at least one u64", "0 bytes", path=spath)
            mm = np.memmap(spath, dtype="<u8", mode="r", shape=(n,))
            return KPageFlags(spath, mm, size // 8, None)
        try:  # compressed, or a procfs file or pipe (size 0): streamed
            data, ended = _read_stream(open_expanded(fh, transport), limit_bytes)
        except codec_errors(transport) as exc:
            raise FormatError(
                f"kpageflags {transport} stream",
                None,
                None,
                f"a complete {transport} stream",
                f"damaged ({exc})",
                path=spath,
            ) from exc
    if len(data) % 8 and ended:
        raise FormatError(
            "kpageflags",
            len(data),
            None,
            "a multiple of 8 bytes (u64 per PFN)",
            f"{len(data)} bytes",
            path=spath,
        )
    if len(data) < 8:
        raise FormatError(
            "kpageflags", 0, None, "at least one u64", f"{len(data)} bytes", path=spath
        )
    arr = np.frombuffer(data, dtype="<u8", count=len(data) // 8)
    return KPageFlags(spath, arr, arr.size if ended else None, transport)
