"""One memory-map model for every source: :class:`MemoryMap`.

References:
    arch/x86/kernel/e820.c: ``e820_table_firmware`` (what ``BIOS-e820:``/``extended:`` print and
    what hibernation hashes) versus ``e820_table`` (edited by ``e820: update``/``remove``, by
    ``mem=``/``memmap=``; what ``e820__register_nosave_regions()`` walks).
    arch/x86/power/hibernate.c ``get_e820_md5()`` (4.9/4.10 -> 5.12, MD5) and
    ``compute_e820_crc32()`` (5.13 -> now, backported to 5.10.37+, 5.11.y, 5.12.4): both hash
    ``offsetof(struct e820_table, entries) + sizeof(struct e820_entry) * nr_entries`` bytes of
    ``e820_table_firmware``, i.e. ``u32 nr_entries`` + packed ``<QQI`` (addr, size, type) entries.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from swsusp_inspect.e820 import nosave as _nosave
from swsusp_inspect.e820.sanitize import sanitize
from swsusp_inspect.e820.types import RAM_TYPES, dmesg_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Finding, Severity
from swsusp_inspect.model.maps import BootChoice, MapChecksums, MapDocument, MapEntry
from swsusp_inspect.model.report import PfnSpan, ReservedRange
from swsusp_inspect.model.serialize import json_field, record

__all__ = ["Finding", "MemoryMap", "RawEntry", "Region", "ReservedRam", "check_entries", "clip"]

PAGE_SIZE = 4096


@record
class RawEntry:
    """One entry as read, before sanitizing; ``size`` may be 0, ``end`` is inclusive."""

    start: int
    size: int
    type: int
    name: str
    source: str
    line: int | None

    @property
    def end(self) -> int:
        return self.start + self.size - 1

    @property
    def end_excl(self) -> int:
        return self.start + self.size


@record
class Region:
    """One region of the sanitized map, ``end`` inclusive, with the line it came from."""

    start: int
    end: int
    type: int
    name: str
    source: str = json_field(skip=True)
    line: int | None = json_field(skip=True)

    @property
    def size(self) -> int:
        return self.end - self.start + 1


@record
class ReservedRam:
    """Evidence that a RAM range is reserved (kernel image, crash kernel, RESERVED_KERN)."""

    start: int
    end: int
    label: str

    def __iter__(self) -> Any:  # unpacks as (start, end_inclusive, label)
        return iter((self.start, self.end, self.label))


@record
class NosaveLog:
    """The nosave lines of a log: the printed pieces (if any) and the merged ranges."""

    calls: tuple[tuple[int, int], ...] | None  # (start_pfn, end_pfn exclusive) per line
    ranges: tuple[tuple[int, int], ...]  # merged, end inclusive
    kind: str  # "registered" or "marking"
    lines: tuple[int, ...] = ()


def clip(text: str, limit: int = 40) -> str:
    """``text`` for an error line: at most ``limit`` characters, the cut marked."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_entries(entries: Iterable[RawEntry]) -> None:
    """Raise :class:`MapError` (naming the entry's file and line) for an entry a u64 table
    cannot hold: start, size or type out of range, or an end at or past 2**64.

    arch/x86/kernel/e820.c ``e820__update_table()`` bails out on an entry whose
    ``addr + size`` wraps ("unreasonable addresses"), which an entry ending at the last byte of
    the 64-bit space does (its exclusive end is 2**64): the kernel never sanitizes such a table.
    """
    for e in entries:
        if not (0 <= e.start < 1 << 64 and 0 <= e.size <= 1 << 64 and 0 <= e.type < 1 << 32):
            raise MapError(
                e.source,
                e.line,
                f"e820 entry {e.start:#x} size {e.size:#x} type "
                f"{e.type:#x}: out of range for u64/u32 fields",
            )
        if e.start + e.size >= 1 << 64:
            raise MapError(
                e.source,
                e.line,
                f"{e.name} {e.start:#x}-{e.end:#x} reaches the end "
                "of the 64-bit address space: addr + size wraps, "
                "and the kernel's e820__update_table() refuses "
                "such a table",
            )


def _arrays(
    entries: Sequence[RawEntry],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
    s = np.fromiter((e.start for e in entries), dtype=np.uint64, count=len(entries))
    z = np.fromiter((e.size for e in entries), dtype=np.uint64, count=len(entries))
    t = np.fromiter((e.type for e in entries), dtype=np.uint32, count=len(entries))
    return s, s + z, t


def _overlap_findings(
    s: npt.NDArray[np.uint64],
    e: npt.NDArray[np.uint64],
    t: npt.NDArray[np.uint32],
    raw: Sequence[RawEntry],
) -> list[Finding]:
    """The first 20 entries that overlap an earlier one (in start order)."""
    out: list[Finding] = []
    order = np.argsort(s, kind="stable")
    so, eo, to = s[order], e[order], t[order]
    run_end = np.maximum.accumulate(eo)
    overlap = np.flatnonzero(so[1:] < run_end[:-1]) + 1
    for i in overlap[:20]:
        j = int(order[i])
        out.append(
            Finding(
                Severity.WARNING,
                "overlap",
                f"{dmesg_name(int(to[i]))} {int(so[i]):#x}-{int(eo[i]) - 1:#x} "
                f"overlaps an earlier entry; the higher type wins",
                raw[j].line,
            )
        )
    return out


def _unaligned_findings(
    s: npt.NDArray[np.uint64],
    e: npt.NDArray[np.uint64],
    t: npt.NDArray[np.uint32],
    raw: Sequence[RawEntry],
) -> list[Finding]:
    """The first 20 entries not page-aligned, and how many more there are."""
    out: list[Finding] = []
    unaligned = np.flatnonzero(((s % PAGE_SIZE) != 0) | ((e % PAGE_SIZE) != 0))
    for i in unaligned[:20]:
        out.append(
            Finding(
                Severity.INFO,
                "unaligned",
                f"{dmesg_name(int(t[i]))} {int(s[i]):#x}-{int(e[i]) - 1:#x} is not page-aligned",
                raw[i].line,
            )
        )
    if len(unaligned) > 20:
        out.append(
            Finding(Severity.INFO, "unaligned", f"{len(unaligned) - 20} more unaligned entries")
        )
    return out


class MemoryMap:
    """A memory map from any source, sanitized as the kernel sanitizes it.

    Attributes:
        source: file the map came from.
        format: reader that produced it ("dmesg", "iomem", "sysfs", "boot_params", "e820_raw",
            "json", "node-ranges").
        raw_entries: entries as read (for logs: the firmware table as printed).
        starts, ends, types: the sanitized map, ``np.uint64`` starts, ``np.uint64`` inclusive
            ends, ``np.uint32`` type codes, sorted and non-overlapping.
        modified: the kernel-edited table (a MemoryMap) when the input shows edits, else None.
        nosave_log: merged nosave PFN ranges (end inclusive) from the log, or None.
        reserved_ram_evidence: ``(start, end_inclusive, label)`` triples.
        findings: oddities met while reading and sanitizing.
        boot: 1-based index of the boot read from a multi-boot log, and ``boots`` their count;
            ``boot_reason`` says why that boot, ``boot_given`` whether ``--boot`` chose it.
    """

    def __init__(
        self,
        source: str,
        format: str,
        raw_entries: Sequence[RawEntry],
        *,
        printed: bool = False,
        modified: MemoryMap | None = None,
        nosave_log: NosaveLog | None = None,
        reserved_ram_evidence: Iterable[ReservedRam] = (),
        findings: Iterable[Finding] = (),
        boot: int | None = None,
        boots: int | None = None,
        has_checksum: bool = True,
    ) -> None:
        self.source = source
        self.format = format
        self.raw_entries: tuple[RawEntry, ...] = tuple(raw_entries)
        check_entries(self.raw_entries)
        self.modified = modified
        self._nosave_log = nosave_log
        self.boot = boot
        self.boots = boots
        self.boot_reason: str | None = None
        self.boot_given = False
        self._boot_reader: Callable[[int], MemoryMap] | None = None
        self._printed = printed
        self._has_checksum = has_checksum
        s, e, t = _arrays(self.raw_entries)
        ss, se, st = sanitize(s, e, t)
        self.starts: npt.NDArray[np.uint64] = ss
        self.ends: npt.NDArray[np.uint64] = se - np.uint64(1)
        self.types: npt.NDArray[np.uint32] = st
        self._ends_excl = se
        self.findings: list[Finding] = list(findings) + self._check_raw(s, e, t)
        evidence = list(reserved_ram_evidence)
        table = modified if modified is not None else None
        if table is not None:
            for start, end, typ in zip(table.starts, table.ends, table.types, strict=True):
                if int(typ) == 128:
                    evidence.append(ReservedRam(int(start), int(end), "e820 RESERVED_KERN"))
        self.reserved_ram_evidence: list[ReservedRam] = evidence
        self._regions: list[Region] | None = None

    # ------------------------------------------------------------------ construction helpers
    def _check_raw(
        self, s: npt.NDArray[np.uint64], e: npt.NDArray[np.uint64], t: npt.NDArray[np.uint32]
    ) -> list[Finding]:
        out: list[Finding] = []
        raw = self.raw_entries
        if not raw:
            return out
        zero = np.flatnonzero(e <= s)
        for i in zero:
            out.append(
                Finding(
                    Severity.WARNING,
                    "zero-size",
                    f"zero-size entry at {int(s[i]):#x} is ignored, as the kernel does",
                    raw[i].line,
                )
            )
        if np.any(s[1:] < s[:-1]):
            k = int(np.flatnonzero(s[1:] < s[:-1])[0]) + 1
            out.append(
                Finding(
                    Severity.WARNING,
                    "unsorted",
                    f"entries are not sorted (entry at {int(s[k]):#x} follows "
                    f"{int(s[k - 1]):#x}); sorted as the kernel sorts",
                    raw[k].line,
                )
            )
        out += _overlap_findings(s, e, t, raw)
        out += _unaligned_findings(s, e, t, raw)
        if self._printed and (len(self.starts) != len(raw) or not np.array_equal(self.starts, s)):
            out.append(
                Finding(
                    Severity.INFO,
                    "sanitized",
                    f"sanitizing changed the printed table ({len(raw)} entries -> "
                    f"{len(self.starts)}); the checksum uses the table as printed",
                )
            )
        return out

    # ------------------------------------------------------------------ boots of a log
    def set_boots(
        self, reason: str, *, given: bool, reader: Callable[[int], MemoryMap] | None = None
    ) -> None:
        """Why this boot of a multi-boot log was read; ``reader(k)`` reads boot ``k``."""
        self.boot_reason = reason
        self.boot_given = given
        if reader is not None:
            self._boot_reader = reader

    def at_boot(self, k: int) -> MemoryMap:
        """Boot ``k`` (1-based) of the same log (raises MapError when it holds no map)."""
        if k == self.boot or self._boot_reader is None:
            return self
        other = self._boot_reader(k)
        other.set_boots(self.boot_reason or "", given=self.boot_given, reader=self._boot_reader)
        return other

    # ------------------------------------------------------------------ map views
    @property
    def regions(self) -> list[Region]:
        """The sanitized regions, each with the source line of the entry it starts in."""
        if self._regions is None:
            regions = []
            raw = self.raw_entries
            for start, end, typ in zip(self.starts, self.ends, self.types, strict=True):
                line = None
                for r in raw:
                    if r.type == typ and r.start <= start < r.end_excl:
                        line = r.line
                        break
                regions.append(
                    Region(int(start), int(end), int(typ), dmesg_name(int(typ)), self.source, line)
                )
            self._regions = regions
        return self._regions

    @staticmethod
    def is_ram(type_code: int) -> bool:
        """RAM for hibernation: e820 type 1 and 128 (RESERVED_KERN)."""
        return int(type_code) in RAM_TYPES

    @property
    def ram_mask(self) -> npt.NDArray[np.bool_]:
        """Boolean mask over the sanitized regions: True where the region is RAM."""
        return np.isin(self.types, np.array(RAM_TYPES, dtype=np.uint32))

    def ram_ranges(self) -> list[tuple[int, int]]:
        """RAM as (start, end inclusive), adjacent RAM regions joined."""
        out: list[list[int]] = []
        for start, end in zip(self.starts[self.ram_mask], self.ends[self.ram_mask], strict=True):
            if out and out[-1][1] + 1 == int(start):
                out[-1][1] = int(end)
            else:
                out.append([int(start), int(end)])
        return [(a, b) for a, b in out]

    # ------------------------------------------------------------------ checksum
    def firmware_entries(self) -> list[tuple[int, int, int]]:
        """The firmware table as (addr, size, type): as printed for logs, else sanitized."""
        if self._printed:
            return [(r.start, r.size, r.type) for r in self.raw_entries]
        return [
            (int(s), int(e) - int(s), int(t))
            for s, e, t in zip(self.starts, self._ends_excl, self.types, strict=True)
        ]

    def firmware_table_bytes(self) -> bytes:
        """``u32 nr_entries`` + 20-byte ``<QQI`` entries: the bytes the kernel hashes."""
        entries = self.firmware_entries()
        # 4 = nr_entries (u32); 20 = addr (u64) + size (u64) + type (u32), packed
        return struct.pack("<I", len(entries)) + b"".join(
            struct.pack("<QQI", a, z, t) for a, z, t in entries
        )

    def checksum_crc32(self) -> int:
        """The 5.13+ (and stable backports) checksum: ``~crc32_le(~0, table)`` == zlib.crc32."""
        return zlib.crc32(self.firmware_table_bytes())

    def checksum_md5(self) -> bytes:
        """The 4.9/4.10 - 5.12 digest: MD5 of the same bytes."""
        return hashlib.md5(self.firmware_table_bytes()).digest()

    # ------------------------------------------------------------------ nosave
    def _nosave_table(self) -> MemoryMap:
        return self.modified if self.modified is not None else self

    @property
    def nosave_log(self) -> list[tuple[int, int]] | None:
        """Merged nosave ranges (start_pfn, end_pfn inclusive) from the log, or None."""
        return None if self._nosave_log is None else list(self._nosave_log.ranges)

    @property
    def nosave_log_calls(self) -> list[tuple[int, int]] | None:
        """The printed ``Registered nosave memory`` pieces as (start_pfn, end_pfn exclusive)."""
        if self._nosave_log is None or self._nosave_log.calls is None:
            return None
        return list(self._nosave_log.calls)

    def default_limit_pfn(self) -> int:
        """``max_pfn`` as the kernel computes it from its edited table."""
        t = self._nosave_table()
        return _nosave.end_of_ram_pfn(t.starts, t._ends_excl, t.types)

    def derive_nosave_calls(
        self, rules: str = "post-2025", limit_pfn: int | None = None
    ) -> list[tuple[int, int]]:
        """``register_nosave_region()`` calls (end exclusive) the kernel makes for this map."""
        t = self._nosave_table()
        limit = self.default_limit_pfn() if limit_pfn is None else limit_pfn
        return _nosave.nosave_calls(t.starts, t._ends_excl, t.types, limit, rules)

    def derive_nosave(
        self, rules: str = "post-2025", limit_pfn: int | None = None
    ) -> list[tuple[int, int]]:
        """Nosave PFN ranges (end inclusive) under ``rules`` ("pre-2025" or "post-2025").

        Applied, as the kernel applies them, to the edited table when the log shows edits.
        """
        return _nosave.merge_calls(self.derive_nosave_calls(rules, limit_pfn))

    def nosave_ranges(self) -> tuple[list[tuple[int, int]], str]:
        """The log's ranges when it has them (an image map: the kernel's own list), else the
        post-2025 rules; with the source ("log", "image", or the rules)."""
        log = self.nosave_log
        if log is not None:
            return log, "image" if self.format == "image" else "log"
        return self.derive_nosave("post-2025"), "post-2025 rules"

    def nosave_matches(self) -> list[_nosave.NosaveMatch]:
        """How each rule set compares with the log's nosave lines ([] without such lines)."""
        if self._nosave_log is None:
            return []
        derived = {r: self.derive_nosave_calls(r) for r in _nosave.RULES}
        return _nosave.compare_with_log(
            derived, self.nosave_log_calls, list(self._nosave_log.ranges)
        )

    def nosave_rules_matched(self) -> str | None:
        """The rule set the log matches: printed pieces first, then merged ranges."""
        matches = self.nosave_matches()
        for m in matches:
            if m.lines:
                return m.rules
        for attr in ("ranges", "prefix"):
            hits = [m.rules for m in matches if getattr(m, attr)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) == 2:
                return "both"
        return None

    # ------------------------------------------------------------------ export
    def _entries(self) -> tuple[MapEntry, ...]:
        return tuple(
            MapEntry(a, a + z - 1, t, dmesg_name(t)) for a, z, t in self.firmware_entries()
        )

    @property
    def boot_choice(self) -> BootChoice | None:
        """Which boot of a multi-boot log this is, and why (None: one boot)."""
        if self.boot is None or self.boots is None:
            return None
        return BootChoice(self.boot, self.boots, self.boot_reason or "")

    @property
    def has_checksum(self) -> bool:
        """Whether this map is a firmware table whose e820 checksum means something (False
        for iomem and node ranges, which show the kernel's view)."""
        return self._has_checksum

    def document(self) -> MapDocument:
        """The ``map --json`` document of this map."""
        ranges, source = self.nosave_ranges()

        def spans(pairs: Iterable[tuple[int, int]]) -> tuple[PfnSpan, ...]:
            return tuple(PfnSpan(a, b) for a, b in pairs)

        return MapDocument(
            source=self.source,
            format=self.format,
            boot=self.boot_choice,
            entries=self._entries(),
            modified=None if self.modified is None else self.modified._entries(),
            checksum=MapChecksums(
                self.checksum_crc32(), self.checksum_md5().hex(), self.has_checksum
            ),
            nosave=spans(ranges),
            nosave_source=source,
            nosave_rules=self.nosave_rules_matched(),
            nosave_derived={rules: spans(self.derive_nosave(rules)) for rules in _nosave.RULES},
            reserved_ram_evidence=tuple(
                ReservedRange(r.start, r.end, r.label) for r in self.reserved_ram_evidence
            ),
            findings=tuple(self.findings),
        )

    def __repr__(self) -> str:
        return (
            f"MemoryMap(source={self.source!r}, format={self.format!r}, regions={len(self.starts)})"
        )
