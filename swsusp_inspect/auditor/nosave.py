"""Stage 3, nosave: the kernel's nosave regions, from the System.map, the log or the map.

References:
    kernel/power/snapshot.c ``saveable_page()`` / ``pfn_is_nosave()``; arch/x86/power/
    hibernate.c ``pfn_is_nosave()`` (``[PFN_DOWN(__pa_symbol(&__nosave_begin)),
    PFN_UP(__pa_symbol(&__nosave_end)))``); arch/x86/kernel/e820.c
    ``e820__register_nosave_regions()`` (both rule sets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from swsusp_inspect.auditor.notes import finding
from swsusp_inspect.formats.swap import ERA_S4
from swsusp_inspect.model.findings import Finding
from swsusp_inspect.model.report import NosaveEvidence, PfnSpan

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage
    from swsusp_inspect.inputs.system_map import SystemMap

__all__ = ["I386_E820_NOSAVE_SINCE", "NosaveStage", "nosave_stage", "without_e820_nosave"]

# i386 registers e820 nosave regions from 2.6.23 (e820_mark_nosave_regions in arch/i386's
# setup code); x86_64 from 2.6.19, older than any 2.6.20+ layout
I386_E820_NOSAVE_SINCE = 0x020617


@dataclass(frozen=True)
class NosaveStage:
    ranges: tuple[tuple[int, int, str], ...]  # (first PFN, last PFN, source)
    evidence: tuple[NosaveEvidence, ...]
    findings: tuple[Finding, ...]


_NOSAVE_WHAT = {
    "log": "'Registered nosave memory' lines of the log",
    "image": "the kernel's nosave_regions list, read from the image",
}


def _spans(pairs: list[tuple[int, int]]) -> tuple[PfnSpan, ...]:
    return tuple(PfnSpan(a, b) for a, b in pairs)


def without_e820_nosave(image: HibernationImage) -> str | None:
    """What names the image's kernel as one that registered no e820 nosave regions, or None.

    Legacy eras (read by formats/legacy) are older than e820 nosave registration on both x86
    word sizes.  A 2.6.20+ layout image without an arch record carries the generic header,
    whose ``version_code`` is the writer's ``LINUX_VERSION_CODE``: i386 2.6.20-2.6.22 kernels
    (with ``CONFIG_LBD``, 8-byte ``sector_t``; without it their era says so) registered none
    either; the 4-byte ``sector_t`` images of 2.6.23-5.1 are judged like the 2.6.20+ ones.
    """
    if image.era not in ("2.6.20+", ERA_S4["2.6.23+"], "stream", "uswsusp", "unknown"):
        return f"this kernel era ({image.era})"
    info = image.info
    if (
        info.arch is None
        and info.uts is not None
        and info.word_size == 4
        and (info.version_code >> 16) == 2
        and info.version_code < I386_E820_NOSAVE_SINCE
    ):
        v = info.version_code
        return (
            f"i386 {v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF} (before 2.6.23, by "
            "swsusp_info.version_code)"
        )
    return None


def _from_system_map(
    image: HibernationImage, smap: SystemMap
) -> tuple[list[tuple[int, int, str]], NosaveEvidence, list[Finding]]:
    """``__nosave_begin..__nosave_end`` placed by the image's own arch record."""
    arch = image.info.arch
    n = image.page_size
    shift = n.bit_length() - 1
    begin = smap.physical("__nosave_begin", arch)
    end = smap.physical("__nosave_end", arch)
    ranges: list[tuple[int, int]] = []
    if begin is not None and end is not None:
        lo, hi = begin >> shift, (end + n - 1) >> shift
        if hi > lo:
            ranges = [(lo, hi - 1)]
    arm64 = arch is not None and arch.name == "arm64"
    ev = NosaveEvidence(
        "System.map",
        smap.source,
        "__nosave_begin..__nosave_end (.data..nosave), placed by the image's "
        + ("ttbr1_el1 (swapper_pg_dir)" if arm64 else "jump_address_phys (restore_registers)"),
        begin is not None and end is not None,
        _spans(ranges),
    )
    findings = []
    if smap.matches(arch) is False:
        findings.append(
            finding(
                "system-map-mismatch",
                "the System.map does not match the image's kernel ("
                + (
                    "_cpu_resume differs from reenter_kernel"
                    if arm64
                    else "no restore_registers at jump_address"
                )
                + "): a map of another build, or KASLR; the nosave section is placed relative "
                "to that symbol anyway",
            )
        )
    return [(a, b, "System.map") for a, b in ranges], ev, findings


def nosave_stage(
    image: HibernationImage,
    mm: MemoryMap | None,
    system_map: SystemMap | None,
    nosave_rules: str | None,
) -> NosaveStage:
    """Nosave regions from every source given.

    e820 nosave registration is x86's: an arm64 kernel registers none from its memory map, and
    neither did x86_64 before 2.6.19 nor i386 before 2.6.23 (every legacy era): those kernels
    saved whatever their pagedir listed.
    """
    ranges: list[tuple[int, int, str]] = []
    evidence: list[NosaveEvidence] = []
    findings: list[Finding] = []
    if system_map is not None:
        r, ev, f = _from_system_map(image, system_map)
        ranges += r
        evidence.append(ev)
        findings += f
    if mm is None:
        return NosaveStage(tuple(ranges), tuple(evidence), tuple(findings))
    arch = image.info.arch
    pre_nosave = without_e820_nosave(image)
    x86_map = (
        mm.format != "node-ranges"
        and (arch is None or arch.name in ("x86_64", "i386"))
        and (pre_nosave is None or nosave_rules is not None)
    )
    if pre_nosave is not None and nosave_rules is None and mm.nosave_log is None:
        evidence.append(
            NosaveEvidence(
                "none", mm.source, f"{pre_nosave} registered no e820 nosave regions", False, ()
            )
        )
    if x86_map or (nosave_rules is None and mm.nosave_log is not None):
        if nosave_rules is None and mm.nosave_log is not None:
            found, name = mm.nosave_ranges()
        else:
            rules = nosave_rules or "post-2025"
            found, name = mm.derive_nosave(rules), f"{rules} rules"
        ranges += [(a, b, name) for a, b in found]
        evidence.append(
            NosaveEvidence(
                name,
                mm.source,
                _NOSAVE_WHAT.get(name, f"derived from the map by the kernel's {name}"),
                True,
                _spans(list(found)),
            )
        )
    return NosaveStage(tuple(ranges), tuple(evidence), tuple(findings))
