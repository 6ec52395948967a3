"""Kernel symbols of the hibernated kernel: its own kallsyms, or a System.map slid by KASLR.

Sources, best first:

``kallsyms``
    the kernel's table read from the image, located through VMCOREINFO (6.0+); checked
    against VMCOREINFO's ``SYMBOL(_stext)``.
``kallsyms-structure``
    the same table found by its shape in the kernel image (older kernels; see
    :func:`swsusp_inspect.kernel.kallsyms.find_kallsyms`).
``system-map``
    a System.map given by the user, every kernel-image symbol (at or above the map's
    ``_text``) moved by the KASLR offset; absolute and per-CPU symbols (below ``_text``) are
    not relocated by the kernel and stay as they are.

Both can be used at once (``kallsyms+system-map``): kernels built without
CONFIG_KALLSYMS_ALL (Debian i386 and arm64) list only text symbols in kallsyms, so data
symbols (``e820_table_firmware``, ``nosave_regions``, ``memblock``) come from the map.  A map
that disagrees with kallsyms about ``_text`` is for another kernel and is not used.

The KASLR offset: VMCOREINFO ``KERNELOFFSET`` (x86_64, arm64); else the arch record's
running address of a known symbol minus the map's (x86 ``jump_address`` =
``restore_registers``, arm64 ``reenter_kernel`` = ``_cpu_resume``); else kallsyms' ``_text``
minus the map's.

References:
    arch/x86/kernel/vmcore_info_64.c / arch/arm64/kernel/vmcore_info.c (``KERNELOFFSET`` =
    ``kaslr_offset()``); arch/x86/power/hibernate.c (``jump_address``);
    arch/arm64/kernel/hibernate.c (``reenter_kernel``); scripts/kallsyms.c (``_text``
    relative base); swsusp_inspect/symbols.py (System.map reading).
"""

from __future__ import annotations

from dataclasses import dataclass

from swsusp_inspect.inputs.system_map import SystemMap
from swsusp_inspect.kernel.kallsyms import Kallsyms
from swsusp_inspect.model import ArchRecord

__all__ = ["KernelSymbols", "kaslr_offset_from_map"]

_RECORD_ANCHORS = {
    "x86_64": ("restore_registers", "jump_address"),
    "i386": ("restore_registers", "jump_address"),
    "arm64": ("_cpu_resume", "reenter_kernel"),
}


def kaslr_offset_from_map(system_map: SystemMap, arch: ArchRecord | None) -> int | None:
    """The KASLR offset from the arch record's running address of a known symbol."""
    if arch is None or arch.name not in _RECORD_ANCHORS:
        return None
    name, slot = _RECORD_ANCHORS[arch.name]
    running: int | None = getattr(arch, slot)
    linked = system_map.get(name)
    if running is None or linked is None:
        return None
    return int(running) - linked


@dataclass
class KernelSymbols:
    """Name -> running address from kallsyms and/or a System.map.

    Attributes:
        kallsyms: the image's own table, or None.
        kallsyms_how: ``"kallsyms"`` (VMCOREINFO) or ``"kallsyms-structure"``.
        system_map: the user's map, or None.
        offset: the KASLR offset applied to the map's kernel-image symbols.
    """

    kallsyms: Kallsyms | None
    kallsyms_how: str
    system_map: SystemMap | None
    offset: int

    @property
    def source(self) -> str | None:
        """``"kallsyms"``, ``"kallsyms-structure"``, ``"system-map"``,
        ``"kallsyms+system-map"`` (or ``"kallsyms-structure+system-map"``), or None."""
        parts = []
        if self.kallsyms is not None:
            parts.append(self.kallsyms_how)
        if self.system_map is not None:
            parts.append("system-map")
        return "+".join(parts) or None

    def _from_map(self, name: str) -> int | None:
        if self.system_map is None:
            return None
        addr = self.system_map.get(name)
        if addr is None:
            return None
        text = self.system_map.get("_text")
        if text is not None and addr >= text:
            return (addr + self.offset) & 0xFFFFFFFFFFFFFFFF
        return addr

    def lookup(self, name: str) -> int | None:
        """Running address of ``name`` (kallsyms first, then the map), or None."""
        if self.kallsyms is not None:
            addr = self.kallsyms.lookup(name)
            if addr is not None:
                return addr
        return self._from_map(name)

    def source_of(self, name: str) -> str | None:
        """Which source resolves ``name``."""
        if self.kallsyms is not None and self.kallsyms.lookup(name) is not None:
            return self.kallsyms_how
        if self._from_map(name) is not None:
            return "system-map"
        return None
