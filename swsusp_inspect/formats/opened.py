"""What a format's opener hands over: one frozen :class:`OpenedImage` per input.

Every family (the current kernel layout, the legacy eras, uswsusp) exposes openers of the same
shape, :data:`Opener`: ``opener(buf, hit, base, options, probe=...)`` returns the image it read,
None when ``probe`` is set and the layout is not its own, or raises
:class:`~swsusp_inspect.errors.FormatError` for its own layout, damaged.
:class:`~swsusp_inspect.image.HibernationImage` is built from the result and never changed
from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from swsusp_inspect.formats.pagedir import PfnDirectory
from swsusp_inspect.formats.signatures import SignatureHit
from swsusp_inspect.model.details import FormatDetails
from swsusp_inspect.model.image import SnapshotInfo, SwsuspHeader

__all__ = ["OpenOptions", "OpenedImage", "Opener", "PageTransform"]


class PageTransform(Protocol):
    """Turns raw stream pages into what the kernel saved (e.g. decrypts them)."""

    def __call__(
        self, entries: np.ndarray, start: int, count: int, data: bytes | memoryview
    ) -> bytes:
        """``count`` pages from stream page ``start``; ``entries`` locates every stream page."""
        ...


@dataclass(frozen=True)
class OpenOptions:
    """What the user says about an input that its content cannot say."""

    resume_offset: int = 0  # pages from the start of the file to the swap area
    passphrase: str | bytes | None = None  # encrypted uswsusp images
    page_offset: int | None = None  # PAGE_OFFSET for eras that list virtual addresses
    salvage: bool = False  # keep what a damaged swap map still says (formats/swapmap.py)


@dataclass(frozen=True)
class OpenedImage:
    """An image's structures as its opener read them.

    Attributes:
        container: ``"swap"`` (a swap device) or ``"stream"`` (a /dev/snapshot stream, or the
            stream uswsusp's container was decoded into).
        era: the writer family (``"2.6.20+"``, ``"stream"``, ``"uswsusp"``, a legacy era).
        buf: the bytes the stream pages are read from (the input's map, or a decoded stream).
        entries: for each stream page, the page of ``buf`` that holds it.
        pagedir: the PFN directory when the opener decoded it (legacy eras); None: read from
            the metadata pages on first use.
        transform: applied to raw stream pages read from ``buf`` (decryption), or None.
        closers: resources to close with the image (a decoded stream's map and file).
        problems: what a salvaging opener found wrong and read around (one line each);
            entries it could not trust are 0.
        end_known: whether the last entry is the stream's last page (the map is whole).
        gaps: entries (0) that stand for an unknown number of lost ones (a broken chain
            continued elsewhere); every other 0 entry is one slot whose value was lost.
        cut: the file ends before the image does (a map page past its end): stream pages
            past the end are lost, not the zeros of a trimmed dump.
    """

    container: Literal["swap", "stream"]
    era: str
    page_size: int
    buf: Any
    header: SwsuspHeader | None
    info: SnapshotInfo
    entries: np.ndarray
    map_pages: tuple[int, ...] = ()
    device_pages: int | None = None
    pagedir: PfnDirectory | None = None
    transform: PageTransform | None = None
    closers: tuple[Any, ...] = ()
    details: FormatDetails | None = None
    problems: tuple[str, ...] = ()
    end_known: bool = True
    cut: bool = False
    gaps: tuple[int, ...] = ()


class Opener(Protocol):
    """A format family's entry point (see the module docstring)."""

    def __call__(
        self,
        buf: Any,
        hit: SignatureHit | None,
        base: int,
        options: OpenOptions,
        *,
        probe: bool = False,
    ) -> OpenedImage | None: ...
