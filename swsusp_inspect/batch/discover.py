"""Which files of a directory are hibernation images: by content, never by name.

A user's folder holds images beside everything else (``evidence.tar.xz``, a kernel's
``config.xz``, logs, notes).  Each file's first 64 KiB decide, read through its compression when
it has one (xz, gzip, zstd: the head only, never the whole stream): a hibernation or s2disk
signature at the end of the first page of any size Linux uses, TuxOnIce's magic, or a
``/dev/snapshot`` stream header.  A plain swap area (a swap signature, no image) is skipped and
counted apart from the other files that are not images.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from swsusp_inspect.formats import signatures
from swsusp_inspect.transport.codecs import codec_errors, expand_blocks, sniff_transport

__all__ = ["HEAD", "Survey", "expanded_head", "looks_like_image", "sniff_file"]

HEAD = 65536  # the largest page size Linux uses: its signature ends the first page


def expanded_head(fh: IO[bytes], transport: str, n: int = HEAD) -> bytes:
    """The first ``n`` bytes a compressed stream expands to (less when it is shorter or
    damaged: a head that cannot be read is no image's).  Only the first block is expanded."""
    head = b""
    expanded = expand_blocks(transport, fh)
    unreadable: tuple[type[BaseException], ...] = (*codec_errors(transport), OSError, ValueError)
    try:
        for block in expanded:
            head += block
            if len(head) >= n:
                break
    except unreadable:
        pass
    finally:
        expanded.close()
    return head[:n]


def sniff_file(path: Path) -> str:
    """``"image"``, ``"plain-swap"``, ``"not-image"`` or ``"unreadable"``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
            transport = sniff_transport(head)
            if transport is not None:
                fh.seek(0)
                head = expanded_head(fh, transport)
    except OSError:
        return "unreadable"
    hit = signatures.sniff(head)
    if hit is not None:
        return "plain-swap" if hit.signature.kind == "swap" else "image"
    if signatures.is_tuxonice(head):
        return "image"
    from swsusp_inspect.formats.snapshot import sniff_stream

    if sniff_stream(head) is not None or _link_era_short(head):
        return "image"
    return "not-image"


def _link_era_short(head: bytes) -> bool:
    """64-bit 2.5.48-2.6.8: ``link.next`` (a non-zero swap entry) overwrote all of the magic
    but ``S1``/``S2``, in a version-1 swap header (the reader follows the chain to be sure;
    a head cannot hold it)."""
    from swsusp_inspect.formats.legacy.context import swap_info

    for n in signatures.PAGE_SIZES:
        if len(head) < n:
            break
        if (
            head[n - 10 : n - 8] in (b"S1", b"S2")
            and any(head[n - 8 : n])
            and swap_info(head, 0, n)[0] == 1
        ):
            return True
    return False


def looks_like_image(path: Path) -> bool:
    """Whether ``path`` holds a hibernation image, by content (see the module docstring)."""
    return sniff_file(path) == "image"


@dataclass
class Survey:
    """Images found in the paths given, what was skipped, and each directory's images."""

    images: list[Path] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # sniff verdict -> files
    _seen: set[Path] = field(default_factory=set)
    _dirs: dict[Path, list[Path]] = field(default_factory=dict)

    def images_in(self, directory: Path) -> list[Path]:
        """The images directly inside ``directory`` (sniffed once per directory)."""
        key = directory.resolve()
        if key not in self._dirs:
            try:
                files = sorted(p for p in directory.iterdir() if p.is_file())
            except OSError:
                files = []
            self._dirs[key] = [p for p in files if sniff_file(p) == "image"]
        return self._dirs[key]

    def _add(self, p: Path) -> None:
        rp = p.resolve()
        if rp not in self._seen:
            self._seen.add(rp)
            self.images.append(p)

    def _walk(self, top: Path) -> None:
        for root, dirs, files in os.walk(top):
            dirs.sort()
            found = []
            for f in sorted(files):
                fp = Path(root) / f
                if fp.is_file() and self._take(fp):
                    found.append(fp)
            self._dirs[Path(root).resolve()] = found

    def expand(self, paths: Iterable[str]) -> None:
        """Files named (always taken: errors become rows), directories searched recursively
        and files matched by globs (expanded even when quoted): images only, by content."""
        for raw in paths:
            if any(ch in raw for ch in "*?[") and not os.path.exists(raw):
                matches = sorted(glob.glob(raw, recursive=True))
                if not matches:
                    self._add(Path(raw))  # its row says it does not exist
                for c in map(Path, matches):
                    if c.is_dir():
                        self._walk(c)
                    else:
                        self._take(c)
            elif Path(raw).is_dir():
                self._walk(Path(raw))
            else:
                self._add(Path(raw))

    def _take(self, p: Path) -> bool:
        """A file found by a search: taken when it holds an image, else counted as skipped."""
        verdict = sniff_file(p)
        if verdict == "image":
            self._add(p)
            return True
        self.skipped[verdict] = self.skipped.get(verdict, 0) + 1
        return False
