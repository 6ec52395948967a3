"""One verdict on the e820 checksum question, worded once for `info`, `audit` and `map diff`.

The question: would the kernel that wrote the image (or that booted on one map) resume on this
map?  arch/x86/power/hibernate.c ``arch_hibernation_header_restore()`` refuses an image whose
e820 checksum differs from the booting kernel's ("Hibernate inconsistent memory map
detected!").  The checksum covers the firmware table (``e820_table_firmware``); /proc/iomem and
node ranges show the kernel's view, so their checksum cannot answer it.
"""

from __future__ import annotations

import enum

from swsusp_inspect.model.serialize import record

__all__ = [
    "INCONSISTENT_MAP",
    "BootChoice",
    "ChecksumVerdict",
    "diff_text",
    "image_text",
    "verdict",
]

INCONSISTENT_MAP = "Hibernate inconsistent memory map detected!"


class ChecksumVerdict(enum.Enum):
    """The answer, in JSON as its value."""

    MATCH = "match"  # the same firmware table
    MISMATCH = "mismatch"  # another firmware table: resume refuses
    UNVERIFIABLE = "unverifiable"  # a map that is not a firmware table (iomem, node ranges)
    ABSENT = "absent"  # the image carries no e820 checksum (older kernels, not x86)


@record
class BootChoice:
    """Which boot of a multi-boot log a map was read from (1-based), and why that one."""

    index: int
    count: int
    reason: str  # "--boot 2", "its e820 crc32 equals the image's", "the last boot with a map"


def verdict(expected: int | None, found: int | None, comparable: bool) -> ChecksumVerdict:
    """``expected`` (the image's or the old map's checksum, None: there is none) against
    ``found``; ``comparable`` is False when either map is not a firmware table."""
    if expected is None:
        return ChecksumVerdict.ABSENT
    if not comparable or found is None:
        return ChecksumVerdict.UNVERIFIABLE
    return ChecksumVerdict.MATCH if expected == found else ChecksumVerdict.MISMATCH


def _value(kind: str | None, v: int | None) -> str:
    return "-" if v is None else f"{v:#010x}" if kind == "crc32" else f"{v:#034x}"


def image_text(
    v: ChecksumVerdict, *, kind: str | None, image: int | None, found: int | None, fmt: str
) -> str:
    """A map against an image (``info --map``, ``audit --map``)."""
    if v is ChecksumVerdict.MATCH:
        return f"e820 {kind} {_value(kind, found)} equals the image's: the map it was made with"
    if v is ChecksumVerdict.MISMATCH:
        return (
            f"e820 {kind} {_value(kind, found)} differs from the image's "
            f"{_value(kind, image)}: the kernel that wrote the image would refuse to resume "
            f'on this map ("{INCONSISTENT_MAP}")'
        )
    if v is ChecksumVerdict.UNVERIFIABLE:
        return (
            f"this map ({fmt}) is the kernel's view, not the firmware table: no e820 "
            "checksum to compare with the image's (the boot log has it)"
        )
    return "the image carries no e820 checksum to compare"


def diff_text(v: ChecksumVerdict, *, old: int, new: int, sources: tuple[str, ...]) -> str:
    """Two maps (``map diff``): would an image written on OLD resume on NEW?"""
    if v is ChecksumVerdict.MATCH:
        return f"checksum unchanged: crc32 {old:#010x} (an image resumes across these maps)"
    if v is ChecksumVerdict.MISMATCH:
        return (
            f"checksum changed: crc32 {old:#010x} -> {new:#010x} (resume would refuse an "
            "image written on the other map)"
        )
    names = " and ".join(sources)
    verb = "is" if len(sources) == 1 else "are"
    return (
        f"checksum not comparable: {names} {verb} the kernel's view, not the firmware "
        "table (the boot log has it)"
    )
