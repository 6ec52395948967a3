"""System.map: kernel symbol addresses, and their physical addresses inside an image.

References:
    ``System.map`` lines are ``%016lx %c %s`` (nm output).  Debian ships the real one in the
    ``linux-image-*-dbg`` package (the ``linux-image-*`` one is a placeholder).
    x86 ``restore_data_record``: ``jump_address = restore_registers`` (virtual) and
    ``jump_address_phys = __pa_symbol(restore_registers)``; the kernel image is physically
    contiguous, so any kernel-image symbol's physical address is
    ``jump_address_phys + (sym - restore_registers)``, whatever KASLR did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from swsusp_inspect.errors import MapError
from swsusp_inspect.model import ArchRecord


@dataclass(frozen=True)
class SystemMap:
    source: str
    symbols: dict[str, int]

    def __getitem__(self, name: str) -> int:
        return self.symbols[name]

    def get(self, name: str) -> int | None:
        return self.symbols.get(name)

    def physical(self, name: str, arch: ArchRecord | None) -> int | None:
        """Physical address of kernel-image symbol ``name`` in the image's kernel."""
        sym = self.symbols.get(name)
        anchor = self.symbols.get("restore_registers")
        if sym is None or arch is None or anchor is None:
            return None
        if arch.jump_address_phys is None or arch.jump_address is None:
            return None
        return arch.jump_address_phys + (sym - anchor)

    def matches(self, arch: ArchRecord | None) -> bool | None:
        """Whether this map's ``restore_registers`` equals the image's ``jump_address``.

        None when either side is unknown; False also when KASLR moved the kernel.
        """
        anchor = self.symbols.get("restore_registers")
        if arch is None or arch.jump_address is None or anchor is None:
            return None
        return anchor == arch.jump_address


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

    Raises:
        MapError: a line that is not ``ADDRESS TYPE NAME``, or no symbols at all.
    """
    spath = os.fspath(path)
    symbols: dict[str, int] = {}
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
        symbols.setdefault(parts[2], addr)
    if not symbols:
        raise MapError(spath, None, "no symbols: not a System.map")
    return SystemMap(spath, symbols)
