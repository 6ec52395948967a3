"""Which format an input holds, by content alone (never a version flag), and its opener.

The signature at the end of the swap area's first page (4 KiB .. 64 KiB pages) picks a
family; ``S1SUSPEND`` was written by both the current layout and 2.6.9-2.6.19, so consistency
decides between them; a file with no signature may be a ``/dev/snapshot`` stream, or a 64-bit
2.5.48-2.6.8 image whose ``link.next`` left only two letters of its magic.
"""

from __future__ import annotations

import importlib
from typing import Any

from swsusp_inspect.errors import FormatError, NotAnImageError, UnsupportedFormatError
from swsusp_inspect.formats import current, signatures
from swsusp_inspect.formats.opened import OpenedImage, Opener, OpenOptions

__all__ = ["SIGNATURE_OPENERS", "detect", "opener"]

# openers of the families other than the current layout, by signature name: module (in
# swsusp_inspect.formats) and function, imported when an image of that family is met (a current
# image never pays for the older formats' definitions)
SIGNATURE_OPENERS: dict[str, tuple[str, str]] = {
    "S1SUSP": ("legacy", "open_link_era"),
    "S2SUSP": ("legacy", "open_link_era"),
    "SUSP1R": ("legacy", "open_link_era"),
    "SUSP2R": ("legacy", "open_link_era"),
    "pmdisk": ("legacy", "open_pmdisk"),
    "ULSUSPEND": ("uswsusp", "open_uswsusp"),
}


def opener(name: str) -> Opener | None:
    """The opener registered for signature ``name``, imported now (None: no opener)."""
    target = SIGNATURE_OPENERS.get(name)
    if target is None:
        return None
    module = importlib.import_module(f"swsusp_inspect.formats.{target[0]}")
    fn: Opener = getattr(module, target[1])
    return fn


def _sniff(buf: Any, resume_offset: int) -> signatures.SignatureHit | None:
    if not resume_offset:
        return signatures.sniff(buf, 0)
    for ps in signatures.PAGE_SIZES:
        hit = signatures.sniff(buf, resume_offset * ps)
        if hit is not None and hit.page_size == ps:
            return hit
    return None


def _older_s1suspend(
    buf: Any, hit: signatures.SignatureHit, base: int, options: OpenOptions
) -> OpenedImage | None:
    from swsusp_inspect.formats import legacy

    return legacy.open_s1suspend_legacy(buf, hit, base, options, probe=True)


def _kernel_layout(
    buf: Any, hit: signatures.SignatureHit, base: int, options: OpenOptions
) -> OpenedImage:
    """``S1SUSPEND`` / ``LINHIB0001``: the current layout, else a 2.6.9-2.6.19 one."""
    try:
        opened = current.open_swap(buf, hit, base, options)
    except FormatError:
        # S1SUSPEND was also written by 2.6.9-2.6.19, whose headers and maps differ
        older = _older_s1suspend(buf, hit, base, options)
        if older is None:
            raise
        return older
    assert opened is not None and opened.header is not None
    if opened.header.layout == "2.6.20-2.6.22":
        # 64-bit 2.6.17-2.6.18 share this header and map but list virtual addresses
        older = _older_s1suspend(buf, hit, base, options)
        if older is not None:
            return older
    return opened


def detect(buf: Any, options: OpenOptions) -> OpenedImage:
    """Open whatever hibernation image ``buf`` holds.

    Raises:
        NotAnImageError: a plain swap area or unrelated data.
        UnsupportedFormatError: a recognised format no opener reads (TuxOnIce, S2SUSPEND).
        FormatError: a damaged image (structure, file offset, expected vs found).
    """
    hit = _sniff(buf, options.resume_offset)
    base = 0 if hit is None else hit.offset + 10 - hit.page_size
    if signatures.is_tuxonice(buf, base):
        raise UnsupportedFormatError(
            "TuxOnIce hibernation image (magic ed c3 02 e9 98 56 e5 0c at offset "
            f"{base:#x}): recognised, not supported"
        )
    if hit is not None:
        kind = hit.signature.kind
        if kind == "swap":
            raise NotAnImageError(
                f"no hibernation image: page {options.resume_offset} ends with "
                f"{hit.raw.decode('ascii', 'replace')!r} at {hit.offset:#x} (plain swap area)"
            )
        if kind == "kernel":
            return _kernel_layout(buf, hit, base, options)
        open_family = opener(hit.signature.name)
        if open_family is None:
            raise UnsupportedFormatError(
                f"{hit.signature.name} signature at {hit.offset:#x}: {hit.signature.era}; "
                "recognised, not readable by this version"
            )
        opened = open_family(buf, hit, base, options)
        assert opened is not None  # not a probe: its own layout, read or raised
        return opened
    stream = current.open_stream(buf, options)
    if stream is not None:
        return stream
    # 64-bit 2.5.48-2.6.8: link.next overwrote all of "S1SUSP...." but "S1"/"S2"
    from swsusp_inspect.formats import legacy

    short = legacy.open_link_era_short(buf, None, 0, options, probe=True)
    if short is not None:
        return short
    base = options.resume_offset * 4096
    tail = bytes(buf[base + 4086 : base + 4096]) if len(buf) >= base + 4096 else b""
    shown = (
        f"page {options.resume_offset} ends with {tail!r} at {base + 4086:#x}"
        if tail
        else f"file ends at {len(buf):#x}"
    )
    raise NotAnImageError(
        f"no hibernation image: {shown}; no swap or hibernation signature at the end of the "
        "first 4-64 KiB and no swsusp_info at offset 0"
    )
