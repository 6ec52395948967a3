"""The words the audit attaches to its findings and evidence."""

from __future__ import annotations

from typing import Any

from swsusp_inspect.model.findings import Finding, Severity
from swsusp_inspect.model.words import agree, plural

__all__ = [
    "CANNOT_SEE",
    "FINDING_CODES",
    "NON_RAM_NOTE",
    "PARTLY_NOTE",
    "PHYSPAGES_NOTE",
    "QUIESCE_NOTE",
    "agree",
    "finding",
    "plural",
]

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# every audit finding: code -> (severity, one-line meaning); docs/audit.md's table says the same
FINDING_CODES: dict[str, tuple[Severity, str]] = {
    "saved-non-ram": (
        ERR,
        "saved pages that are not RAM in the map (reserved, ACPI, NVS, "
        "unusable, PMEM, soft-reserved, holes)",
    ),
    "saved-beyond-map": (ERR, "saved pages past the last entry of the map"),
    "saved-nosave": (ERR, "saved pages inside the kernel's nosave regions"),
    "saved-partly-ram": (WARN, "saved pages only partly covered by RAM"),
    "saved-reserved-ram": (INFO, "saved RAM pages that are reserved (counts by evidence)"),
    "pfn-beyond-arch": (ERR, "PFNs above the highest PFN the architecture can address"),
    "pfn-duplicate": (ERR, "a PFN listed more than once in the directory"),
    "pfn-unsorted": (ERR, "the PFN directory is not in ascending order"),
    "map-checksum-mismatch": (
        WARN,
        "the map's e820 checksum differs from the image's: the "
        "labels may not describe the machine that wrote it",
    ),
    "map-checksum-unverifiable": (
        INFO,
        "the map is the kernel's view (iomem), not the firmware "
        "table: its checksum cannot be compared",
    ),
    "map-ram-differs": (WARN, "the maps given disagree about RAM"),
    "crc32-mismatch": (ERR, "--verify: the image CRC32 does not match its data"),
    "md5-mismatch": (
        ERR,
        "--verify on a uswsusp image: the MD5 over the uncompressed stream does not match",
    ),
    "chunk-unreadable": (
        ERR,
        "a data chunk cannot be read or decompressed (found by --verify or "
        "by the kernel-banner search)",
    ),
    "verify-incomplete": (ERR, "--verify: fewer stream pages than swsusp_info.pages"),
    "kpageflags-partial": (INFO, "the kpageflags file does not cover every saved PFN"),
    "map-from-image": (
        INFO,
        "no --map: the labels rest on the memory map the image's own "
        "kernel held (e820 tables, or memblock on arm64)",
    ),
    "map-differs-from-image": (
        WARN,
        "the map given and the one the image's kernel held "
        "differ (a map of another boot or machine?)",
    ),
    "nosave-differs-from-image": (
        WARN,
        "the log's nosave regions and the kernel's own nosave_regions list in the image differ",
    ),
    "kpageflags-differs-from-image": (
        INFO,
        "kpageflags and the image's own page flags disagree about PG_reserved for some saved pages",
    ),
    "kernel-memory-partial": (
        INFO,
        "parts of the kernel's memory could not be read from the "
        "image (what is missing and why, one line each)",
    ),
    "page-flags-partial": (
        INFO,
        "saved pages whose struct page is not in the image: no "
        "reserved-RAM evidence from the image for them",
    ),
    "system-map-mismatch": (
        INFO,
        "the System.map is not the image's kernel (x86: no "
        "restore_registers at jump_address; arm64: _cpu_resume differs "
        "from reenter_kernel)",
    ),
}


def finding(code: str, message: str, **kwargs: Any) -> Finding:
    """A finding of a catalogued code, with the catalogue's severity."""
    return Finding(FINDING_CODES[code][0], code, message, **kwargs)


QUIESCE_NOTE = (
    "Reserved RAM is saved by design (kernel image, memblock and driver reservations). Such a "
    "page is only safe when its owner quiesces it: a device still writing a reserved buffer "
    "while the image is made, or after it is restored, leaves it inconsistent."
)
PHYSPAGES_NOTE = (
    "num_physpages is a page count, not the highest PFN: real images save PFNs above it "
    "(holes below the top of RAM are not counted)."
)
PARTLY_NOTE = (
    "The e820 nosave rules exclude pages that are only partly RAM, both before and after the "
    "April 2025 fix; kernels without e820 nosave registration (x86_64 before 2.6.19, i386 "
    "before 2.6.23) saved them. Restoring such a page writes its non-RAM part too."
)
NON_RAM_NOTE = (
    "PG_reserved marks these pages exactly like reserved RAM; only the firmware map tells them "
    "apart. Restoring them writes to whatever sits there: BIOS and ACPI areas, video memory, "
    "device registers."
)

# what each kind of reserved-RAM evidence cannot see (None: no evidence at all)
CANNOT_SEE: dict[str | None, str] = {
    "kpageflags": (
        "kpageflags is a copy taken before hibernation: pages reserved or released between the "
        "copy and the snapshot (the image's own allocations come after it) are judged by their "
        "state at the copy; it does not say who reserved a page."
    ),
    "iomem": (
        "iomem shows only the kernel image (code, rodata, data, bss) and the crash kernel: "
        "memblock reservations (page tables, the low 1 MiB on 5.13+, firmware tables inside "
        "RAM, initrd) and pages drivers reserve at run time count as normal."
    ),
    "image": (
        "the image's own page flags are the kernel's at the snapshot (PG_reserved): they do "
        "not say who reserved a page, and saved pages whose struct page is not in the image "
        "count as normal."
    ),
    "e820-type-128": (
        "e820 type 128 (E820_RESERVED_KERN) covers only setup_data the kernel carved out of "
        "RAM; everything else reserved counts as normal."
    ),
    None: (
        "no evidence given: reserved RAM cannot be told from normal RAM and counts as normal "
        "(give --kpageflags, or an iomem map)."
    ),
}
