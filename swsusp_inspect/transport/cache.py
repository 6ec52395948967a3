"""An opt-in cache of expanded images, so several commands on one compressed image pay its
decompression once (``--cache DIR`` or ``SWSUSP_INSPECT_CACHE``).

An entry is keyed by the input's identity: device, inode, size, modification time (ns) and a
SHA-256 of its first 64 KiB (an inode reused for another file does not match).  It holds the
expanded bytes (``KEY.img``, sparse where they are zeros) and what they came from
(``KEY.json``); it is used only when both still agree with the input.  The input itself is only
ever read: the cache is a directory of its own, never the input's directory, and an entry is
written under a temporary name and renamed once complete, so an interrupted or concurrent run
never leaves a partial entry in use.  Nothing is evicted: delete the directory to reclaim it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from swsusp_inspect.errors import CacheError

__all__ = ["CACHE_ENV", "Entry", "discard", "entry_for", "publish"]

CACHE_ENV = "SWSUSP_INSPECT_CACHE"
_HEAD = 1 << 16


@dataclass(frozen=True)
class Entry:
    """The cache entry of one input: where its expanded copy is, and what it must match."""

    image: Path
    meta: Path
    identity: dict[str, int | str]

    def lookup(self) -> Path | None:
        """The expanded copy when the entry is complete and still the input's."""
        try:
            meta = json.loads(self.meta.read_text())
            size = self.image.stat().st_size
        except (OSError, ValueError):
            return None
        if meta.get("identity") != self.identity or meta.get("expanded_size") != size:
            return None
        return self.image

    def partial(self) -> IO[bytes]:
        """A new file for the expansion, in the cache (published by :func:`publish`)."""
        return open(f"{self.image}.{os.getpid()}.partial", "w+b")


def entry_for(spath: str, fd: int, st: os.stat_result, cache_dir: str, transport: str) -> Entry:
    """The entry ``spath`` (open as ``fd``, ``st`` its stat) has in ``cache_dir``."""
    d = Path(cache_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cache {cache_dir}: cannot be created ({exc.strerror})") from None
    if d.resolve() == Path(spath).resolve().parent:
        raise CacheError(
            f"cache {cache_dir}: the input's own directory; the evidence's "
            "directory is never written: give another"
        )
    head = os.pread(fd, _HEAD, 0)
    identity: dict[str, int | str] = {
        "device": st.st_dev,
        "inode": st.st_ino,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "head_sha256": hashlib.sha256(head).hexdigest(),
        "transport": transport,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    return Entry(d / f"{key}.img", d / f"{key}.json", identity)


def publish(entry: Entry, out: IO[bytes], source: str, size: int) -> None:
    """Make the expansion written to ``out`` (from :meth:`Entry.partial`) the entry."""
    out.flush()
    os.fsync(out.fileno())
    meta = {"identity": entry.identity, "expanded_size": size, "source": source}
    tmp_meta = Path(f"{entry.meta}.{os.getpid()}.partial")
    tmp_meta.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(out.name, entry.image)
    os.replace(tmp_meta, entry.meta)


def discard(out: IO[bytes]) -> None:
    """Remove a partial expansion (an error, or an interrupted run)."""
    out.close()
    with contextlib.suppress(OSError):
        os.unlink(out.name)
