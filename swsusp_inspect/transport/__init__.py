"""Opening inputs read-only: plain files, block devices, pipes, and xz/gzip/zstd-compressed
evidence, with bounded work whatever the input.

What each kind of input gets:

- a regular file or a block device is mapped (``mmap`` ``ACCESS_READ``), as it is;
- a pipe or FIFO (``<(xz -dc img.xz)``) is opened ``O_NONBLOCK`` (a FIFO with no writer never
  blocks the open, and reads as empty), then copied into a bounded spool;
- a character device (``/dev/zero``), a socket or a directory is refused with one line;
- a compressed input (or a compressed stream in a pipe) is expanded into a private, already
  unlinked temporary file in ``$TMPDIR`` (never next to the input), sparse where the data are
  zeros, closed and gone on every exit path.

Sniffed before expanded: the first :data:`HEAD_BYTES` of the expanded stream decide what it is
(signatures.sniff / snapshot.sniff_stream, read-only), and so how far it may expand:

- a plain swap area or TuxOnIce: refused at once (the messages :mod:`swsusp_inspect.image` gives);
- a hibernation or uswsusp signature over a version-1 swap header: at most ``last_page + 1``
  pages (the kernel reads nothing past the swap area), a clear error past it;
- a ``/dev/snapshot`` stream: at most ``swsusp_info.pages`` pages;
- anything else (a legacy header without ``last_page``, or a partition image holding a swap
  file at ``resume_offset``): at most ``max_expanded`` (:data:`DEFAULT_MAX_EXPANDED`, 1 TiB),
  but a stream whose first :data:`ZERO_HEAD_LIMIT` bytes are all zeros is refused there (no
  image, no file system, no partition table starts with 1 MiB of nothing);
- always: the non-zero data written to ``$TMPDIR`` stay :data:`TMP_RESERVE` below its free
  space at the start.

The input itself is only ever opened ``O_RDONLY``.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from swsusp_inspect.errors import NotAnImageError, SwsuspError
from swsusp_inspect.transport.cache import Entry, discard, entry_for, publish
from swsusp_inspect.transport.codecs import (
    BLOCK,
    Prefixed,
    expand_blocks,
    raw_blocks,
    read_expanded,
    read_head,
    sniff_transport,
)
from swsusp_inspect.transport.spool import (
    DEFAULT_MAX_EXPANDED,
    HEAD_BYTES,
    SPARSE_GRAIN,
    TMP_RESERVE,
    ZERO_HEAD_LIMIT,
    spool,
)

__all__ = [
    "DEFAULT_MAX_EXPANDED",
    "HEAD_BYTES",
    "SPARSE_GRAIN",
    "TMP_RESERVE",
    "ZERO_HEAD_LIMIT",
    "Expansion",
    "Source",
    "open_input",
    "open_source",
    "read_capped",
    "read_expanded",
    "sniff_transport",
]

# -- opening any path read-only, refusing what cannot be evidence ----------------------------


def _kind(mode: int) -> str | None:
    """What a non-regular, non-block, non-FIFO file is (None for those three)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        return None
    return "not a regular file"


def open_input(path: str, refuse: Callable[[str], SwsuspError]) -> tuple[int, os.stat_result]:
    """Open ``path`` ``O_RDONLY`` without ever blocking, and ``fstat`` it.

    A directory, character device or socket is refused (``refuse(reason)`` is raised) before it
    is opened; a FIFO opens at once even with no writer (``O_NONBLOCK``, then back to blocking
    reads: with no writer they read as end of file).  Returns the descriptor and its stat.

    Raises:
        OSError: ``path`` does not exist or cannot be opened.
    """
    what = _kind(os.stat(path).st_mode)
    if what is not None:
        raise refuse(f"{what}, not a file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        what = _kind(st.st_mode)  # it may have changed between stat and open
        if what is not None:
            raise refuse(f"{what}, not a file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_capped(path: str, limit: int, refuse: Callable[[str], SwsuspError]) -> bytes:
    """The whole content of ``path``, at most ``limit`` bytes (else ``refuse``).

    Regular files are checked by size first; files that report size 0 (procfs) and pipes are
    read in blocks until ``limit + 1`` bytes.
    """
    fd, st = open_input(path, refuse)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise refuse(f"{st.st_size} bytes: more than {limit} ({limit >> 20} MiB)")
        parts: list[bytes] = []
        got = 0
        while got <= limit:
            block = fh.read(min(BLOCK, limit + 1 - got))
            if not block:
                break
            parts.append(block)
            got += len(block)
        if got > limit:
            raise refuse(f"more than {limit} bytes ({limit >> 20} MiB): not read further")
        return b"".join(parts)


@dataclass
class Source:
    """A read-only byte view of an input (``buf`` supports len() and slicing)."""

    path: str
    buf: Any
    transport: str | None  # None, "xz", "gzip", "zstd"
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        while self._closers:
            obj = self._closers.pop()
            with contextlib.suppress(BufferError, OSError):  # views may still be alive
                obj.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Expansion:
    """How a compressed image is expanded: the opt-in cache of expanded copies
    (:mod:`.cache`), and who hears how far the decompression is."""

    cache_dir: str | None = None
    progress: Callable[[int, int], None] | None = None  # (compressed bytes just read, total)


class _Counted:
    """A compressed file whose reads are reported as progress (bytes consumed, of total)."""

    def __init__(self, raw: IO[bytes], progress: Callable[[int, int], None], total: int) -> None:
        self._raw = raw
        self._progress = progress
        self._total = total

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._progress(len(data), self._total)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass  # the caller closes the file


def _mapped(spath: str, f: IO[bytes], transport: str | None, owners: list[Any]) -> Source:
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        what = "is empty" if transport is None else "decompresses to nothing"
        raise NotAnImageError(f"no hibernation image: {spath} {what} (ends at 0x0)")
    mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    return Source(spath, mm, transport, [mm, *owners])


def _cached(spath: str, image: Any, transport: str) -> Source:
    """The cache's expanded copy, opened read-only and mapped."""
    f = open(image, "rb")  # noqa: SIM115 - lives with the map
    try:
        return _mapped(spath, f, transport, [f])
    except BaseException:
        f.close()
        raise


def _stream(
    raw: IO[bytes],
    head: bytes,
    transport: str | None,
    *,
    fifo: bool,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[str, Iterator[bytes]]:
    """The label and the expanded blocks of a compressed file or a pipe."""
    if fifo:
        label = f"{transport} stream in a pipe" if transport else "pipe"
        return label, expand_blocks(
            transport, cast(IO[bytes], Prefixed(head, raw))
        ) if transport else raw_blocks(raw, head)
    raw.seek(0)
    assert transport is not None
    src: Any = raw if progress is None else _Counted(raw, progress, total)
    return f"{transport} stream", expand_blocks(transport, src)


def open_source(
    path: str | os.PathLike[str],
    *,
    max_expanded: int = DEFAULT_MAX_EXPANDED,
    expansion: Expansion | None = None,
) -> Source:
    """Open ``path`` read-only and map it; expand xz/gzip/zstd transports and pipes into a
    temporary file (or ``expansion.cache_dir``'s entry, reused while the input is the same),
    bounded as the module docstring says.

    Raises:
        NotAnImageError: empty input, a directory, a character device, a plain swap area or
            all-zero stream met while expanding.
        UnsupportedFormatError: TuxOnIce, met while expanding.
        FormatError: a damaged compressed stream, or one that expands past its bound.
        CacheError: the cache directory cannot be used.
        OSError: the path does not exist or cannot be opened.
    """
    spath = os.fspath(path)

    def refuse(reason: str) -> SwsuspError:
        return NotAnImageError(f"no hibernation image: {spath} is {reason}")

    fd, st = open_input(spath, refuse)
    raw = os.fdopen(fd, "rb", buffering=0)
    try:
        fifo = stat.S_ISFIFO(st.st_mode)
        head = read_head(raw, 8) if fifo else raw.read(8)
        transport = sniff_transport(head)
        if transport is None and not fifo:
            return _mapped(spath, raw, None, [raw])
        exp = expansion or Expansion()
        entry = None
        if exp.cache_dir and transport is not None and not fifo:
            entry = entry_for(spath, raw.fileno(), st, exp.cache_dir, transport)
            hit = entry.lookup()
            if hit is not None:
                raw.close()
                return _cached(spath, hit, transport)
        label, blocks = _stream(
            raw, head, transport, fifo=fifo, total=st.st_size, progress=exp.progress
        )
        source = _expand(spath, label, transport, blocks, entry=entry, max_expanded=max_expanded)
        raw.close()
        return source
    except BaseException:
        raw.close()
        raise


def _expand(
    spath: str,
    label: str,
    transport: str | None,
    blocks: Iterator[bytes],
    *,
    entry: Entry | None,
    max_expanded: int,
) -> Source:
    """Spool ``blocks`` into a private temporary file, or into the cache entry (then
    published and mapped from there)."""
    out = entry.partial() if entry is not None else tempfile.TemporaryFile(prefix="swsusp-inspect-")  # noqa: SIM115 - lives with the map
    try:
        spool(spath, label, transport, blocks, out, max_expanded=max_expanded)
        size = out.seek(0, os.SEEK_END)
        if size == 0 and transport is None:
            raise NotAnImageError(
                f"no hibernation image: {spath} is an empty pipe (no writer?) (ends at 0x0)"
            )
        if entry is None:
            return _mapped(spath, out, transport, [out])
        if size == 0:
            raise NotAnImageError(
                f"no hibernation image: {spath} decompresses to nothing (ends at 0x0)"
            )
        assert transport is not None
        publish(entry, out, spath, size)
    except BaseException:
        if entry is not None:
            discard(out)
        else:
            out.close()
        raise
    out.close()
    return _cached(spath, entry.image, transport)
