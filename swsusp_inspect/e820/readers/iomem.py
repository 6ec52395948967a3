"""/proc/iomem text.

References:
    kernel/resource.c ``r_show()``: ``"%*s%0*llx-%0*llx : %s\\n"``, two spaces of indent per
    depth, lowercase hex, inclusive end; readers without CAP_SYS_ADMIN see ``00000000-00000000``
    (4.15+).  arch/x86/kernel/e820.c ``e820_type_to_string()`` names the e820 resources
    (``System RAM``, ``Reserved``/``reserved``, ``ACPI Tables``, ``ACPI Non-volatile Storage``,
    ``Unusable memory``, ``Persistent Memory``, ``Persistent Memory (legacy)``, ``Soft
    Reserved``, ``Unknown E820 type``); kernel/resource.c / arch/x86/kernel/setup.c nest
    ``Kernel code``/``rodata``/``data``/``bss`` and ``Crash kernel`` inside System RAM.

The map is every e820-named resource with no e820-named ancestor: top level normally, but also
e820 ``reserved`` ranges pushed under ``PCI MMCONFIG``/``PCI Bus`` windows; a ``System RAM``
inside ``Persistent Memory`` (dax/kmem hot-plug) or inside ``System RAM`` is not a new entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swsusp_inspect.e820.model import Finding, MemoryMap, RawEntry, ReservedRam, clip
from swsusp_inspect.e820.types import dmesg_name, type_from_iomem_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Severity

__all__ = ["looks_like_iomem", "read_iomem"]

RE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<a>[0-9a-fA-F]+)-(?P<b>[0-9a-fA-F]+) : (?P<name>.*)$")
_EVIDENCE = ("Kernel code", "Kernel rodata", "Kernel data", "Kernel bss", "Crash kernel")


def looks_like_iomem(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip() and ln.strip() != "..."]
    if not lines:
        return False
    hits = sum(1 for ln in lines[:200] if RE_LINE.match(ln))
    return hits * 2 > min(len(lines), 200)


def read_iomem(source: str, text: str) -> MemoryMap:
    """Read /proc/iomem text into a MemoryMap (format "iomem")."""
    lines = text.splitlines()
    findings: list[Finding] = []
    parsed = _parse(source, lines, findings)
    if not parsed:
        raise MapError(source, len(lines) or None, "no memory map: no iomem lines")
    if all(p.start == 0 and p.end == 0 for p in parsed):
        raise MapError(
            source,
            parsed[0].line,
            "every address is 0: /proc/iomem was read without CAP_SYS_ADMIN (read it as root)",
        )
    entries, evidence, placeholders = _e820_resources(source, parsed)
    if placeholders:
        findings.append(
            Finding(
                Severity.INFO,
                "placeholder",
                f"{placeholders} 00000000-00000000 placeholder lines skipped",
            )
        )
    if not entries:
        raise MapError(
            source,
            parsed[-1].line,
            "no memory map: no e820 resource (System RAM, Reserved, ACPI ...) in this iomem",
        )
    findings.append(
        Finding(
            Severity.INFO,
            "not-firmware-table",
            "iomem shows the kernel's resources, not the firmware table: the "
            "checksum is a guess; use the boot log for it",
        )
    )
    return MemoryMap(
        source,
        "iomem",
        entries,
        reserved_ram_evidence=evidence,
        findings=findings,
        has_checksum=False,
    )


@dataclass(frozen=True)
class _Resource:
    """One iomem line: ``indent`` as written, ``end`` inclusive."""

    line: int
    indent: str
    start: int
    end: int
    name: str


def _parse(source: str, lines: list[str], findings: list[Finding]) -> list[_Resource]:
    """The resource lines, checked; blank lines skipped, elisions (``...``) noted."""
    parsed: list[_Resource] = []
    for i, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        if raw.strip() in ("...", "…"):
            findings.append(Finding(Severity.INFO, "elided", "the capture elides lines here", i))
            continue
        m = RE_LINE.match(raw)
        if m is None:
            raise MapError(source, i, f"not an iomem line: {raw.strip()[:60]!r}")
        a, b = m.group("a"), m.group("b")
        if len(a.lstrip("0")) > 16 or len(b.lstrip("0")) > 16:
            raise MapError(source, i, f"address {clip(a)}-{clip(b)} does not fit in 64 bits")
        start, end = int(a, 16), int(b, 16)
        if end < start:
            raise MapError(source, i, f"end {b} is before start {a}")
        parsed.append(_Resource(i, m.group("indent"), start, end, m.group("name").strip()))
    return parsed


def _e820_resources(
    source: str, parsed: list[_Resource]
) -> tuple[list[RawEntry], list[ReservedRam], int]:
    """Walk the resource tree: the e820-named resources with no e820-named ancestor, the
    kernel's own ranges inside RAM (evidence of reserved RAM), and the count of
    ``00000000-00000000`` placeholders."""
    # indentation relative to the shallowest line (excerpts may indent everything by a tab)
    base = min(len(p.indent.expandtabs(8)) for p in parsed)
    entries: list[RawEntry] = []
    evidence: list[ReservedRam] = []
    stack: list[tuple[int, bool]] = []  # (depth, is e820-named) of the current ancestors
    placeholders = 0
    for p in parsed:
        depth = (len(p.indent.expandtabs(8)) - base) // 2
        while stack and stack[-1][0] >= depth:
            stack.pop()
        code = type_from_iomem_name(p.name)
        if p.start == 0 and p.end == 0:
            placeholders += 1
            stack.append((depth, False))
            continue
        under_e820 = any(is_e820 for _, is_e820 in stack)
        if code is not None and not under_e820:
            entries.append(
                RawEntry(p.start, p.end - p.start + 1, code, dmesg_name(code), source, p.line)
            )
        if p.name in _EVIDENCE:
            evidence.append(ReservedRam(p.start, p.end, p.name))
        stack.append((depth, code is not None))
    return entries, evidence, placeholders
