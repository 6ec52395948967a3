"""Which boot of a multi-boot log belongs to an image: the one whose firmware table has the
image's e820 checksum.

A console capture or a journal holds every boot of a machine; the image was written by one of
them.  Resume compares the e820 checksum in the image with the booting kernel's
(arch/x86/power/hibernate.c), so the boot whose firmware table hashes to the image's checksum
is the one that wrote it (or one with the very same table).  Without such a boot, or without a
checksum in the image, the last boot with a map is read, as without an image.
"""

from __future__ import annotations

from collections.abc import Callable

from swsusp_inspect.e820.model import MemoryMap
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.checksum import ChecksumVerdict

__all__ = ["choose_boot"]


def _boots(m: MemoryMap) -> list[MemoryMap]:
    out = []
    for k in range(1, (m.boots or 1) + 1):
        try:
            out.append(m.at_boot(k))
        except MapError:  # a boot without a memory map
            continue
    return out


_LAST = "the last boot with a memory map"


def choose_boot(
    m: MemoryMap, verdict_of: Callable[[MemoryMap], ChecksumVerdict], what: str
) -> MemoryMap:
    """``m``'s boot whose firmware table has the image's checksum, else ``m`` (the last boot
    with a map), its ``boot_reason`` saying which and why.

    ``verdict_of`` compares one boot's map with the image; ``what`` names the image's checksum
    in the reason ("e820 crc32 0x92315679").  A boot given with ``--boot`` is kept.
    """
    if m.boots is None or m.boot_given:
        return m
    answers = [(b, verdict_of(b)) for b in _boots(m)]
    found = {v for _, v in answers}
    if ChecksumVerdict.ABSENT in found:
        m.set_boots(f"the image carries no e820 checksum: {_LAST}", given=False)
        return m
    if ChecksumVerdict.UNVERIFIABLE in found:
        m.set_boots(
            f"no firmware table in the log to check against the image: {_LAST}", given=False
        )
        return m
    hits = [b for b, v in answers if v is ChecksumVerdict.MATCH]
    if not hits:
        m.set_boots(f"no boot's firmware table has the image's {what}: {_LAST}", given=False)
        return m
    chosen = hits[-1]
    also = [str(b.boot) for b in hits[:-1]]
    same = (
        (
            f" (so do{'' if len(also) > 1 else 'es'} boot{'s' if len(also) > 1 else ''} "
            f"{', '.join(also)}: the same table)"
        )
        if also
        else ""
    )
    chosen.set_boots(f"its firmware table has the image's {what}{same}", given=False)
    return chosen
