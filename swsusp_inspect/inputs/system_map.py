"""System.map: kernel symbol addresses, and their physical addresses inside an image.

References:
    ``System.map`` lines are ``%016lx %c %s`` (nm output).  Debian ships the real one in the
    ``linux-image-*-dbg`` package (the ``linux-image-*`` one is a placeholder).  A name can
    appear more than once: a global (upper-case type) symbol wins over local ones, which are
    file-scope statics of the same name elsewhere (i386 6.1: ``t restore_registers`` in
    arch/x86/kernel/acpi/wakeup_32.S at 0xc1055403 before the ``T restore_registers`` of
    arch/x86/power/hibernate_asm_32.S at 0xc18bf000 that the restore record points to).

    The kernel image is physically contiguous, so any kernel-image symbol's physical address
    is ``anchor_phys + (sym - anchor)`` for one symbol whose physical address the image's arch
    record gives, whatever KASLR did:

    x86_64 / i386 (arch/x86/power/hibernate.c, 4.7+ and 4.20+): ``jump_address_phys =
        __pa_symbol(restore_registers)`` (i386 6.1: 0x018bf000 for 0xc18bf000, i.e. VA -
        PAGE_OFFSET 0xc0000000).
    arm64 (arch/arm64/kernel/hibernate.c): ``ttbr1_el1 = __pa_symbol(swapper_pg_dir)``.
    riscv has no physical anchor in its record (``saved_satp`` is whichever page table was
    live, ``restore_cpu_addr`` a virtual address): no physical addresses there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from swsusp_inspect.errors import MapError
from swsusp_inspect.model import ArchRecord


@dataclass(frozen=True)
class _Anchor:
    symbol: str  # System.map name of the anchor symbol
    phys: int  # its physical address in the image's kernel
    virt: int | None  # its virtual address in the image's kernel, when the record has it


def _anchor(arch: ArchRecord | None) -> _Anchor | None:
    """The symbol whose physical address the arch record gives."""
    if arch is None:
        return None
    if arch.name in ("x86_64", "i386"):
        if arch.jump_address_phys is None:
            return None  # 2.6.24-4.6 records have no physical address
        return _Anchor("restore_registers", arch.jump_address_phys, arch.jump_address)
    if arch.name == "arm64" and arch.ttbr1_el1:
        return _Anchor("swapper_pg_dir", arch.ttbr1_el1, None)
    return None


# symbol each arch record holds the (virtual) address of, for ``matches()``
_VIRTUAL_ANCHORS = {
    "x86_64": ("restore_registers", "jump_address"),
    "i386": ("restore_registers", "jump_address"),
    "arm64": ("_cpu_resume", "reenter_kernel"),
    "riscv64": ("__hibernate_cpu_resume", "restore_cpu_addr"),
    "riscv32": ("__hibernate_cpu_resume", "restore_cpu_addr"),
}


@dataclass(frozen=True)
class SystemMap:
    source: str
    symbols: dict[str, int]
    types: dict[str, str] = field(default_factory=dict)  # nm type letter of the kept entry

    def __getitem__(self, name: str) -> int:
        return self.symbols[name]

    def get(self, name: str) -> int | None:
        return self.symbols.get(name)

    def physical(self, name: str, arch: ArchRecord | None) -> int | None:
        """Physical address of kernel-image symbol ``name`` in the image's kernel.

        None when the map lacks ``name`` or the anchor, or the record has no physical anchor
        (riscv, x86 records before 4.7, generic headers).
        """
        sym = self.symbols.get(name)
        anchor = _anchor(arch)
        if sym is None or anchor is None:
            return None
        base = self.symbols.get(anchor.symbol)
        if base is None:
            return None
        return anchor.phys + (sym - base)

    def matches(self, arch: ArchRecord | None) -> bool | None:
        """Whether this map's address of the symbol the arch record names equals the record's
        (x86 ``restore_registers`` / ``jump_address``, arm64 ``_cpu_resume`` /
        ``reenter_kernel``, riscv ``__hibernate_cpu_resume`` / ``restore_cpu_addr``).

        None when either side is unknown; False also when KASLR moved the kernel.
        """
        if arch is None or arch.name not in _VIRTUAL_ANCHORS:
            return None
        name, slot = _VIRTUAL_ANCHORS[arch.name]
        value = getattr(arch, slot, None)
        mine = self.symbols.get(name)
        if value is None or mine is None:
            return None
        return bool(mine == value)


def _read_text(path: str) -> str:
    with open(path, "rb") as fh:
        head = fh.read(6)
    if head.startswith(b"\xfd7zXZ"):
        import lzma

        with lzma.open(path, "rt", encoding="ascii", errors="replace") as fh:
            return fh.read()
    if head.startswith(b"\x1f\x8b"):
        import gzip

        with gzip.open(path, "rt", encoding="ascii", errors="replace") as fh:
            return fh.read()
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read()


def load_system_map(path: str | os.PathLike[str]) -> SystemMap:
    """Read a System.map (plain, xz or gzip).

    A name listed more than once keeps its first global (upper-case type) entry, else its
    first entry.

    Raises:
        MapError: a line that is not ``ADDRESS TYPE NAME``, or no symbols at all.
    """
    spath = os.fspath(path)
    symbols: dict[str, int] = {}
    types: dict[str, str] = {}
    for lineno, line in enumerate(_read_text(spath).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3 or len(parts[1]) != 1:
            raise MapError(spath, lineno, f"expected 'ADDRESS TYPE NAME', got {line[:60]!r}")
        try:
            addr = int(parts[0], 16)
        except ValueError:
            raise MapError(spath, lineno, f"address is not hex: {parts[0][:40]!r}") from None
        name, kind = parts[2], parts[1]
        kept = types.get(name)
        if kept is None or (kept.islower() and kind.isupper()):
            symbols[name] = addr
            types[name] = kind
    if not symbols:
        raise MapError(spath, None, "no symbols: not a System.map")
    return SystemMap(spath, symbols, types)
