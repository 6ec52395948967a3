"""Where ``extract`` writes: a file (pages placed with ``pwrite``, holes left sparse) or a
stream (stdout: every byte in order, holes written as zeros).

Writers hand a sink fixed pieces (headers) and data at absolute output offsets.  A file takes
them in any order; a stream takes data in increasing offsets and emits the pieces and the
zeros between them on the way, hashing as it goes.
"""

from __future__ import annotations

import hashlib
import os
from typing import IO, Any

from swsusp_inspect.errors import SwsuspError

__all__ = ["FileSink", "OutputError", "StreamSink", "file_sha256"]

_ZEROS = bytes(1 << 20)
_BLOCK = 1 << 20


class OutputError(SwsuspError):
    """The output cannot be written as asked (exists, is the input, out of order)."""


def file_sha256(path: str) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))  # evidence: read-only
    with os.fdopen(fd, "rb", buffering=0) as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


class FileSink:
    """A regular file: refused when it exists (unless ``force``) or is the input."""

    stream = False

    def __init__(self, path: str, input_path: str, *, force: bool = False) -> None:
        if os.path.exists(path):
            if os.path.exists(input_path) and os.path.samefile(path, input_path):
                raise OutputError(f"{path}: the output file is the input file")
            if not force:
                raise OutputError(f"{path}: exists (use --force to overwrite it)")
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def put(self, offset: int, data: bytes | memoryview) -> None:
        mv = memoryview(data)
        while mv:
            done = os.pwrite(self.fd, mv, offset)
            mv, offset = mv[done:], offset + done

    def pieces(self, items: list[tuple[int, bytes]]) -> None:
        for offset, data in items:
            self.put(offset, data)

    def restart(self) -> None:
        """Empty the file for a second pass."""
        os.ftruncate(self.fd, 0)

    def finish(self, size: int) -> str:
        """Set the size (holes stay sparse) and return the output's sha256."""
        os.ftruncate(self.fd, size)
        os.close(self.fd)
        self.fd = -1
        return file_sha256(self.path)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class StreamSink:
    """A stream written strictly in order (stdout)."""

    stream = True
    path = "-"

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.pos = 0
        self.hash = hashlib.sha256()
        self._pending: list[tuple[int, bytes]] = []

    def _emit(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.hash.update(data)
        self.pos += len(data)

    def _zeros_to(self, offset: int) -> None:
        while self.pos < offset:
            self._emit(_ZEROS[: min(len(_ZEROS), offset - self.pos)])

    def _flush_pieces(self, upto: int) -> None:
        while self._pending and self._pending[0][0] < upto:
            offset, data = self._pending.pop(0)
            self._zeros_to(offset)
            self._emit(data)

    def pieces(self, items: list[tuple[int, bytes]]) -> None:
        self._pending = sorted(items, key=lambda item: item[0])

    def put(self, offset: int, data: bytes | memoryview) -> None:
        self._flush_pieces(offset + 1)
        if offset < self.pos:
            raise OutputError(
                f"output offset {offset:#x} after {self.pos:#x}: a stream is written in order "
                "(the PFN directory is not ascending: write to a file)"
            )
        self._zeros_to(offset)
        self._emit(data)

    def restart(self) -> None:  # pragma: no cover - a stream is checked before it is written
        raise OutputError("a stream cannot be written twice")

    def finish(self, size: int) -> str:
        self._flush_pieces(size + 1)
        self._zeros_to(size)
        self.out.flush()
        return self.hash.hexdigest()

    def close(self) -> None:
        return None


Sink = FileSink | StreamSink


def open_sink(output: str, input_path: str, *, force: bool, stdout: Any = None) -> Sink:
    """``-`` is stdout; anything else a file."""
    if output == "-":
        import sys

        return StreamSink(stdout if stdout is not None else sys.stdout.buffer)
    return FileSink(output, input_path, force=force)
