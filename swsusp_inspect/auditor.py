"""The audit: label every saved PFN, turn the labels into findings, build the Report.

References:
    kernel/power/snapshot.c ``saveable_page()`` / ``pfn_is_nosave()``; arch/x86/power/
    hibernate.c ``pfn_is_nosave()`` (``[PFN_DOWN(__pa_symbol(&__nosave_begin)),
    PFN_UP(__pa_symbol(&__nosave_end)))``); arch/x86/kernel/e820.c
    ``e820__register_nosave_regions()`` (both rule sets); include/linux/kernel-page-flags.h
    ``KPF_RESERVED`` = 32.  See :mod:`swsusp_inspect.classify` for labels and precedence.

Typical use::

    from swsusp_inspect import audit, load_memory_map, open_image

    with open_image("swap.img.xz") as img:
        report = audit(img, maps=[load_memory_map("dmesg.txt")], kpageflags="kpageflags.bin")
    report.labels, report.unsafe_pages, report.exit_code()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from swsusp_inspect import classify as cl
from swsusp_inspect.errors import FormatError
from swsusp_inspect.inputs.kpageflags import KPF_RESERVED, KPageFlags, load_kpageflags
from swsusp_inspect.model.details import UswsuspDetails
from swsusp_inspect.report import (
    AuditFinding,
    MapInfo,
    PfnRange,
    PfnStats,
    Report,
    Strip,
)
from swsusp_inspect.summary import check_map, summarize

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage
    from swsusp_inspect.inputs.system_map import SystemMap
    from swsusp_inspect.model import ArchRecord

__all__ = ["MAX_RANGES", "arch_limit_pfn", "audit"]

# ranges kept per finding (counts stay exact; JSON says how many there were)
MAX_RANGES = 256

# MAX_PHYSMEM_BITS, the widest each architecture can be built with (x86_64 5-level paging,
# i386 PAE, arm64 52-bit PA); a PFN at or above 2**bits / page_size cannot exist.
_PHYS_BITS = {"x86_64": 52, "i386": 36, "arm64": 52}

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

_CANNOT_SEE = {
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
    "e820-type-128": (
        "e820 type 128 (E820_RESERVED_KERN) covers only setup_data the kernel carved out of "
        "RAM; everything else reserved counts as normal."
    ),
    None: (
        "no evidence given: reserved RAM cannot be told from normal RAM and counts as normal "
        "(give --kpageflags, or an iomem map)."
    ),
}


def arch_limit_pfn(arch_name: str | None, word_size: int, page_size: int) -> int:
    """First PFN no machine of this architecture can have."""
    bits = _PHYS_BITS.get(arch_name or "", 8 * word_size - 1)
    return max(1, (1 << bits) // page_size)


def _evidence_kind(label: str) -> str:
    return "e820-type-128" if "RESERVED_KERN" in label else "iomem"


def _merge(maps: Sequence[MemoryMap]) -> tuple[MemoryMap, list[tuple[str, str]]]:
    inputs = [(m.source, m.format) for m in maps]
    if len(maps) == 1:
        return maps[0], inputs
    from swsusp_inspect.e820 import merge_evidence

    return merge_evidence(list(maps)), inputs


def _ram_differs(best: MemoryMap, maps: Sequence[MemoryMap]) -> list[AuditFinding]:
    """Maps whose RAM differs from the chosen one's, both as the firmware printed it and as the
    kernel edited it (iomem and sysfs show the edited view: page 0 reserved, ...)."""
    views = [best.ram_ranges()]
    if best.modified is not None:
        views.append(best.modified.ram_ranges())
    out = []
    for m in maps:
        if m.source == best.source and m.format == best.format:
            continue
        if m.ram_ranges() not in views:
            out.append(AuditFinding(
                "warning", "map-ram-differs",
                f"RAM in {m.source} ({m.format}) differs from {best.source} ({best.format}), "
                "also from its kernel-edited table: are they from the same machine and boot?"))
    return out


def _chunk_unreadable(how: str, error: str) -> AuditFinding:
    return AuditFinding("error", "chunk-unreadable", f"image data cannot be read ({how}): {error}")


def _symbol_phys(smap: SystemMap, name: str, arch: ArchRecord | None) -> int | None:
    """Physical address of a kernel-image symbol in the image's kernel (anchored by the arch
    record: x86 ``jump_address_phys``, arm64 ``ttbr1_el1``; see :class:`SystemMap`)."""
    return smap.physical(name, arch)


def _map_matches(smap: SystemMap, arch: ArchRecord | None) -> bool | None:
    """Whether the System.map is the image's kernel (x86: restore_registers == jump_address;
    arm64: _cpu_resume == reenter_kernel)."""
    return smap.matches(arch)


def _max_ram_pfn(m: MemoryMap, shift: int) -> int | None:
    ram = m.ram_mask
    if not np.any(ram):
        return None
    return (int(m.ends[ram].max()) + 1) >> shift


def _merge_runs(r: cl.Runs, table: cl.IntervalTable) -> cl.Runs:
    """Join runs that touch, share a code and lie in the same map area (split only by an
    overlay bound)."""
    if len(r) < 2:
        return r
    area = table.area[r.interval]
    cont = ((r.start[1:] == r.end[:-1] + np.uint64(1)) & (r.code[1:] == r.code[:-1])
            & (area[1:] == area[:-1]))
    head = np.concatenate(([True], ~cont))
    group = np.cumsum(head) - 1
    first = np.flatnonzero(head)
    last = np.concatenate((first[1:] - 1, [len(r) - 1]))
    count = np.bincount(group, weights=r.count).astype(np.int64)
    return cl.Runs(r.start[first], r.end[last], count, r.code[first], r.interval[first])


def _ranges(r: cl.Runs, table: cl.IntervalTable, sel: np.ndarray, page_size: int) -> \
        tuple[tuple[PfnRange, ...], int]:
    idx = np.flatnonzero(sel)
    out = []
    for i in idx[:MAX_RANGES]:
        a = int(table.area[int(r.interval[i])])
        area = table.areas[a] if a >= 0 else None
        out.append(PfnRange(int(r.start[i]), int(r.end[i]), int(r.count[i]),
                            area.describe() if area else None,
                            area.type if area else None, page_size))
    return tuple(out), int(idx.size)


def _value_ranges(values: np.ndarray, page_size: int, region: str | None = None) -> \
        tuple[tuple[PfnRange, ...], int]:
    """Runs of consecutive distinct sorted ``values`` (PFNs) as ranges."""
    if not values.size:
        return (), 0
    brk = np.flatnonzero(np.diff(values.astype(np.uint64)) != np.uint64(1)) + 1
    first = np.concatenate(([0], brk))
    last = np.concatenate((brk - 1, [values.size - 1]))
    out = tuple(PfnRange(int(values[a]), int(values[b]), int(b - a + 1), region, None, page_size)
                for a, b in zip(first[:MAX_RANGES], last[:MAX_RANGES], strict=True))
    return out, int(first.size)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _directory_findings(
    pfns: np.ndarray, c: cl.Classification, arch_name: str | None, word_size: int, n: int,
) -> tuple[list[AuditFinding], int, int]:
    """Order, duplicates and architecture limit of the PFN directory; with the duplicate
    count and the limit used."""
    out: list[AuditFinding] = []
    strictly = c.input_sorted and cl.is_sorted(c.pfns, strict=True)
    dup_count = 0
    if not c.input_sorted:
        nd, first = cl.descents(pfns)
        out.append(AuditFinding(
            "error", "pfn-unsorted",
            f"the PFN directory is not in ascending order ({_plural(nd, 'descent')}, the first "
            f"at entry {first}); the kernel writes it ascending (a memory-bitmap walk)",
            details={"descents": nd, "first_index": first}))
    if not strictly:
        dup_count, dup_vals = cl.duplicate_values(c.pfns)
        if dup_count:
            rng, total = _value_ranges(dup_vals, n)
            out.append(AuditFinding(
                "error", "pfn-duplicate",
                f"{_plural(dup_count, 'directory entry')} repeat a PFN already listed; the "
                "kernel lists each saved page once", pages=dup_count, ranges=rng,
                ranges_total=total))
    limit_pfn = arch_limit_pfn(arch_name, word_size, n)
    j = int(np.searchsorted(c.pfns, np.uint64(limit_pfn)))
    if j < c.pfns.size:
        vals = np.unique(c.pfns[j:][: MAX_RANGES * 64])
        rng, total = _value_ranges(vals, n)
        out.append(AuditFinding(
            "error", "pfn-beyond-arch",
            f"{_plural(int(c.pfns.size) - j, 'saved PFN')} at or above {limit_pfn:#x}, the "
            f"first PFN a {arch_name or 'machine of this word size'} can not address",
            pages=int(c.pfns.size) - j, ranges=rng, ranges_total=total, note=PHYSPAGES_NOTE))
    return out, dup_count, limit_pfn


def _label_findings(c: cl.Classification, counts: np.ndarray, by_evidence: dict[str, int],
                    map_end: int) -> list[AuditFinding]:
    """One finding per label code present, with its runs of PFNs."""
    t = c.table
    n = t.page_size
    out: list[AuditFinding] = []
    flagged = _merge_runs(cl.runs(c, [cl.RESERVED_RAM, cl.NOSAVE, cl.PARTLY_RAM, cl.NON_RAM,
                                      cl.BEYOND_MAP]), t)

    def pages_of(code: int) -> int:
        return int(counts[code])

    if t.has_map and pages_of(cl.NON_RAM):
        rng, total = _ranges(flagged, t, flagged.code == cl.NON_RAM, n)
        per_iv = np.diff(c.cuts)
        also = int(per_iv[(t.codes == cl.NON_RAM) & (t.nosave_source >= 0)].sum())
        regions = list(dict.fromkeys(r.region for r in rng if r.region))
        out.append(AuditFinding(
            "error", "saved-non-ram",
            f"{_plural(pages_of(cl.NON_RAM), 'saved page')} are not RAM per the map "
            f"({', '.join(regions[:4])}{', ...' if len(regions) > 4 else ''})",
            pages=pages_of(cl.NON_RAM), ranges=rng, ranges_total=total, note=NON_RAM_NOTE,
            details={"also_nosave": also}))
    if t.has_map and pages_of(cl.BEYOND_MAP):
        rng, total = _ranges(flagged, t, flagged.code == cl.BEYOND_MAP, n)
        out.append(AuditFinding(
            "error", "saved-beyond-map",
            f"{_plural(pages_of(cl.BEYOND_MAP), 'saved page')} lie beyond the end of the map "
            f"({map_end:#x})", pages=pages_of(cl.BEYOND_MAP), ranges=rng, ranges_total=total,
            note=PHYSPAGES_NOTE))
    if pages_of(cl.NOSAVE):
        rng, total = _ranges(flagged, t, flagged.code == cl.NOSAVE, n)
        srcs = sorted({t.nosave_sources[int(t.nosave_source[int(k)])]
                       for k in flagged.interval[flagged.code == cl.NOSAVE]
                       if t.nosave_source[int(k)] >= 0})
        out.append(AuditFinding(
            "error", "saved-nosave",
            f"{_plural(pages_of(cl.NOSAVE), 'saved page')} lie in the kernel's nosave regions "
            f"({', '.join(srcs)}): the kernel never saves them", pages=pages_of(cl.NOSAVE),
            ranges=rng, ranges_total=total, details={"sources": srcs}))
    if t.has_map and pages_of(cl.PARTLY_RAM):
        rng, total = _ranges(flagged, t, flagged.code == cl.PARTLY_RAM, n)
        out.append(AuditFinding(
            "warning", "saved-partly-ram",
            f"{_plural(pages_of(cl.PARTLY_RAM), 'saved page')} are only partly RAM",
            pages=pages_of(cl.PARTLY_RAM), ranges=rng, ranges_total=total, note=PARTLY_NOTE))
    if t.has_map and pages_of(cl.RESERVED_RAM):
        rng, total = _ranges(flagged, t, flagged.code == cl.RESERVED_RAM, n)
        ev = ", ".join(f"{k} {v:,}" for k, v in by_evidence.items())
        out.append(AuditFinding(
            "info", "saved-reserved-ram",
            f"{_plural(pages_of(cl.RESERVED_RAM), 'saved page')} are reserved RAM ({ev})",
            pages=pages_of(cl.RESERVED_RAM), ranges=rng, ranges_total=total, note=QUIESCE_NOTE,
            details={"by_evidence": by_evidence}))
    return out


def _strip_model(c: cl.Classification, top: int, width: int) -> Strip:
    sc = cl.strip(c, 0, top, width)
    cols = []
    for col in range(sc.saved.size):
        d = {lab: int(sc.per_label[col, i]) for i, lab in enumerate(cl.LABELS)}
        d["saved"] = int(sc.saved[col])
        d["ram_pages"] = int(sc.ram_pages[col])
        cols.append(d)
    return Strip(0, int(sc.bounds[-1]), tuple(cols), tuple(int(b) for b in sc.bounds))


# i386 registers e820 nosave regions from 2.6.23 (e820_mark_nosave_regions in arch/i386's
# setup code); x86_64 from 2.6.19, older than any 2.6.20+ layout
I386_E820_NOSAVE_SINCE = 0x020617


def _without_e820_nosave(image: HibernationImage) -> str | None:
    """What names the image's kernel as one that registered no e820 nosave regions, or None.

    Legacy eras (read by formats/legacy.py) are older than e820 nosave registration on both
    x86 word sizes.  A 2.6.20+ layout image without an arch record carries the generic header,
    whose ``version_code`` is the writer's ``LINUX_VERSION_CODE``: i386 2.6.20-2.6.22 kernels
    (``CONFIG_LBD``: 8-byte ``sector_t``) registered none either.
    """
    if image.era not in ("2.6.20+", "stream", "uswsusp", "unknown"):
        return f"this kernel era ({image.era})"
    info = image.info
    if info.arch is None and info.uts is not None and info.word_size == 4 \
            and (info.version_code >> 16) == 2 and info.version_code < I386_E820_NOSAVE_SINCE:
        v = info.version_code
        return (f"i386 {v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF} (before 2.6.23, by "
                "swsusp_info.version_code)")
    return None


def audit(
    image: HibernationImage,
    *,
    maps: Sequence[MemoryMap] | MemoryMap | None = None,
    kpageflags: KPageFlags | str | os.PathLike[str] | None = None,
    system_map: SystemMap | None = None,
    verify: bool = False,
    nosave_rules: str | None = None,
    strip_width: int = 64,
    progress: Any = None,
) -> Report:
    """Audit an opened image.

    Args:
        image: from :func:`swsusp_inspect.open_image`.
        maps: memory maps of the machine (several are merged: the firmware table from the best
            source, reserved-RAM evidence from all).  None: no labels, only map-free checks.
        kpageflags: a ``/proc/kpageflags`` copy (object or path): reserved-RAM evidence.
        system_map: the kernel's System.map: the ``.data..nosave`` section.
        verify: read and decompress every chunk, check the CRC32.
        nosave_rules: derive nosave from the map with "pre-2025" or "post-2025" rules instead
            of taking the log's ``Registered nosave memory`` lines (default: the log when it has
            them, else "post-2025").
        strip_width: columns of the address-space strip.
        progress: callable advanced by pages read while verifying.

    Raises:
        FormatError: the image's headers or PFN directory cannot be read, or the kpageflags
            file is malformed.
    """
    if maps is not None and not isinstance(maps, Sequence):
        maps = [maps]
    map_list = list(maps or [])
    findings: list[AuditFinding] = []

    # --- header, integrity -------------------------------------------------------------
    try:
        summary = summarize(image, verify=verify, system_map=system_map, maps=map_list,
                            progress=progress)
    except FormatError as exc:
        # a damaged data chunk met by --verify: the labels need only the headers and the
        # PFN directory, so the audit goes on; if those fail, this raises
        summary = summarize(image, verify=False, system_map=system_map, maps=map_list,
                            find_banner=False)
        findings.append(_chunk_unreadable("while verifying", str(exc)))
    else:
        # the banner search reports a damaged chunk in the summary instead of raising
        if summary.banner_error:
            findings.append(_chunk_unreadable("while looking for the kernel banner",
                                              summary.banner_error))
        if verify and summary.crc32.ok is False:
            findings.append(AuditFinding(
                "error", "crc32-mismatch",
                f"image CRC32 mismatch: stored {summary.crc32.stored:#010x}, computed "
                f"{summary.crc32.computed:#010x}: the data is not what the kernel wrote"))
        elif verify and isinstance(summary.details, UswsuspDetails) and \
                summary.details.checksum is not None and not summary.details.checksum.ok:
            md5 = summary.details.checksum
            findings.append(AuditFinding(
                "error", "md5-mismatch",
                f"uswsusp image MD5 mismatch: stored {md5.stored}, computed "
                f"{md5.computed}: the data is not what s2disk wrote"))
        elif verify and summary.verify_ok is False:
            findings.append(AuditFinding(
                "error", "verify-incomplete",
                f"verify read fewer stream pages than swsusp_info.pages ({summary.pages})"))

    n = image.page_size
    shift = n.bit_length() - 1
    pd = image.pagedir
    pfns = pd.pfns
    arch = image.info.arch

    # --- the map -----------------------------------------------------------------------
    mm: MemoryMap | None = None
    map_info: MapInfo | None = None
    if map_list:
        mm, inputs = _merge(map_list)
        chk = check_map(image, mm)
        meaningful = mm.has_checksum
        map_info = MapInfo(mm.source, mm.format, chk.matches, chk.kind, chk.image_value,
                           chk.map_value, meaningful, tuple(inputs), len(mm.starts),
                           _max_ram_pfn(mm, shift))
        if chk.matches is False:
            if meaningful:
                findings.append(AuditFinding(
                    "warning", "map-checksum-mismatch",
                    f"the map's e820 {chk.kind} {chk.map_value:#x} differs from the image's "
                    f"{chk.image_value:#x}: the labels may not describe the machine that "
                    "wrote this image"))
            else:
                findings.append(AuditFinding(
                    "info", "map-checksum-unverifiable",
                    f"{mm.source} ({mm.format}) is the kernel's view, not the firmware table: "
                    "its checksum cannot be compared with the image's; give the boot log to "
                    "check that the map belongs to this image"))
        findings += _ram_differs(mm, map_list)

    # --- nosave ------------------------------------------------------------------------
    nosave: list[tuple[int, int, str]] = []
    nosave_ev: list[dict[str, Any]] = []
    if system_map is not None:
        begin = _symbol_phys(system_map, "__nosave_begin", arch)
        end = _symbol_phys(system_map, "__nosave_end", arch)
        ranges = []
        if begin is not None and end is not None:
            lo, hi = begin >> shift, (end + n - 1) >> shift
            if hi > lo:
                ranges = [(lo, hi - 1)]
                nosave.append((lo, hi - 1, "System.map"))
        nosave_ev.append({
            "source": "System.map", "file": system_map.source,
            "what": "__nosave_begin..__nosave_end (.data..nosave), placed by the image's "
                    + ("ttbr1_el1 (swapper_pg_dir)" if arch is not None and arch.name == "arm64"
                       else "jump_address_phys (restore_registers)"),
            "usable": begin is not None and end is not None,
            "ranges": [{"start_pfn": a, "end_pfn": b} for a, b in ranges]})
        if _map_matches(system_map, arch) is False:
            findings.append(AuditFinding(
                "info", "system-map-mismatch",
                "the System.map does not match the image's kernel ("
                + ("_cpu_resume differs from reenter_kernel" if arch is not None
                   and arch.name == "arm64" else "no restore_registers at jump_address")
                + "): a map of another build, or KASLR; the nosave section is placed relative "
                "to that symbol anyway"))
    # e820 nosave registration is x86's; an arm64 kernel registers none from its memory map,
    # and neither did x86_64 before 2.6.19 nor i386 before 2.6.23 (every legacy era read by
    # formats/legacy.py): those kernels saved whatever their pagedir listed
    pre_nosave = _without_e820_nosave(image)
    pre_nosave_era = pre_nosave is not None
    x86_map = mm is not None and mm.format != "node-ranges" and (
        arch is None or arch.name in ("x86_64", "i386")) and (
        not pre_nosave_era or nosave_rules is not None)
    if mm is not None and pre_nosave_era and nosave_rules is None and mm.nosave_log is None:
        nosave_ev.append({
            "source": "none", "file": mm.source,
            "what": f"{pre_nosave} registered no e820 nosave regions",
            "usable": False, "ranges": []})
    if mm is not None and (x86_map or (nosave_rules is None and mm.nosave_log is not None)):
        if nosave_rules is None and mm.nosave_log is not None:
            ranges, name = mm.nosave_log, "log"
        else:
            rules = nosave_rules or "post-2025"
            ranges, name = mm.derive_nosave(rules), f"{rules} rules"
        nosave += [(a, b, name) for a, b in ranges]
        nosave_ev.append({
            "source": name, "file": mm.source,
            "what": "'Registered nosave memory' lines of the log" if name == "log"
            else f"derived from the map by the kernel's {name}",
            "usable": True,
            "ranges": [{"start_pfn": a, "end_pfn": b} for a, b in ranges]})

    # --- reserved-RAM evidence ---------------------------------------------------------
    range_ev: list[tuple[int, int, str]] = []
    if mm is not None:
        range_ev = [(int(a), int(b), str(lab)) for a, b, lab in mm.reserved_ram_evidence]
    kpf: KPageFlags | None = None
    if kpageflags is not None:
        if isinstance(kpageflags, KPageFlags):
            kpf = kpageflags
        else:
            limit = int(pfns.max()) + 1 if pfns.size else 1
            kpf = load_kpageflags(kpageflags, limit_pfns=limit)

    # --- classify ----------------------------------------------------------------------
    def table(with_ranges: bool) -> cl.IntervalTable:
        reserved = range_ev if with_ranges else []
        if mm is None:
            return cl.build_table(n, nosave=nosave, reserved=reserved)
        return cl.build_table(n, mm.starts, mm.ends, mm.types, nosave=nosave, reserved=reserved)

    use_ranges = kpf is None and mm is not None
    t = table(use_ranges)
    c = cl.classify(pfns, t)
    by_evidence: dict[str, int] = {}
    kpf_info: dict[str, Any] | None = None
    if mm is not None and kpf is not None:
        stats = cl.mark_reserved_flags(c, kpf.flags, reserved_bit=KPF_RESERVED)
        if stats.marked:
            by_evidence["kpageflags"] = stats.marked
        beyond = int(c.pfns.size) - stats.covered
        fallback_kind: str | None = None
        if beyond and range_ev:
            fb = table(True)
            cl.relabel_from(c, stats.covered, fb)
            for lab, cnt in cl.evidence_counts(c, fb, stats.covered).items():
                by_evidence[lab] = by_evidence.get(lab, 0) + cnt
            fallback_kind = "+".join(sorted({_evidence_kind(lab) for _, _, lab in range_ev}))
        if beyond:
            findings.append(AuditFinding(
                "info", "kpageflags-partial",
                f"{_plural(beyond, 'saved PFN')} lie at or beyond PFN {kpf.pfns:#x}, the end "
                f"of {kpf.source}: judged by "
                f"{fallback_kind or 'nothing (they count as normal)'}", pages=beyond))
        kpf_info = {"file": kpf.source, "pfns": kpf.pfns, "covered": stats.covered,
                    "reserved": stats.reserved, "nopage": stats.nopage, "buddy": stats.buddy}
    elif use_ranges:
        by_evidence = cl.evidence_counts(c, t)
    counts = c.code_counts()

    # --- directory checks --------------------------------------------------------------
    dir_findings, dup_count, limit_pfn = _directory_findings(
        pfns, c, arch.name if arch else None, image.word_size, n)
    findings += dir_findings

    # --- label findings ----------------------------------------------------------------
    map_end = int(mm.ends.max()) if mm is not None and mm.ends.size else 0
    findings += _label_findings(c, counts, by_evidence, map_end)

    # --- evidence ----------------------------------------------------------------------
    if kpf is not None and mm is not None:
        rr_source: str | None = "kpageflags"
    elif use_ranges and range_ev:
        rr_source = "+".join(sorted({_evidence_kind(lab) for _, _, lab in range_ev}))
    else:
        rr_source = None
    cannot = " ".join(_CANNOT_SEE.get(part) or "" for part in (rr_source or "").split("+")) \
        if rr_source else _CANNOT_SEE[None]
    evidence: dict[str, Any] = {
        "reserved-non-ram": None if map_info is None else {
            "map": mm.source if mm else None, "format": mm.format if mm else None,
            "inputs": [{"source": s, "format": f} for s, f in map_info.inputs],
            "what": "pages not fully covered by RAM entries (types 1 and 128) of the map"},
        "nosave": nosave_ev,
        "reserved-ram": {
            "source": rr_source,
            "files": [kpf.source] if rr_source == "kpageflags" and kpf else
            ([mm.source] if rr_source and mm else []),
            "pages_by_evidence": by_evidence,
            "ranges": [{"start": a, "end": b, "label": lab} for a, b, lab in range_ev],
            "kpageflags": kpf_info,
            "cannot_see": cannot.strip(),
        },
        "normal": "RAM per the map, outside nosave, not reserved per the evidence given"
        if mm is not None else None,
    }

    labels = cl.label_counts(counts) if t.has_map else None
    unsafe = int(counts[cl.NON_RAM] + counts[cl.BEYOND_MAP] + counts[cl.NOSAVE])

    info = image.info
    pfn_stats = PfnStats(
        saved=int(pfns.size), zero=pd.zero_pages,
        min_pfn=int(c.pfns[0]) if c.pfns.size else None,
        max_pfn=int(c.pfns[-1]) if c.pfns.size else None,
        num_physpages=info.num_physpages,
        above_num_physpages=int(c.pfns.size - np.searchsorted(c.pfns,
                                                              np.uint64(info.num_physpages))),
        sorted=c.input_sorted, duplicates=dup_count, arch_limit_pfn=limit_pfn)

    top = max(int(c.pfns[-1]) + 1 if c.pfns.size else 0,
              (map_info.max_ram_pfn or 0) if map_info else 0)
    strip_model = _strip_model(c, top, strip_width) if top else None

    return Report(summary, map_info, evidence, labels, unsafe, tuple(findings), pfn_stats,
                  strip_model, n, c)
