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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from swsusp_inspect.errors import MapError
from swsusp_inspect.model import ArchRecord
from swsusp_inspect.transport import open_input
from swsusp_inspect.transport.codecs import codec_errors, open_expanded, sniff_transport


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

        None when the map lacks ``name`` or the anchor, the record has no physical anchor
        (riscv, x86 records before 4.7, generic headers), or the address would fall outside
        0 .. 2**64 - 1.
        """
        sym = self.symbols.get(name)
        anchor = _anchor(arch)
        if sym is None or anchor is None:
            return None
        base = self.symbols.get(anchor.symbol)
        if base is None:
            return None
        phys = anchor.phys + (sym - base)
        # a symbol that would sit below physical 0 or past 2**64 is not in the image's kernel
        # (a map of another build, or a damaged one): no address, rather than a wrong one
        return phys if 0 <= phys < _ADDRESS_LIMIT else None

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


# Bounds on a System.map: nm prints one symbol per line, a C identifier is rarely longer than a
# few hundred characters (Rust's mangled names reach about 1,000), and the biggest kernels' maps
# are tens of MiB.  Past these the input is not a System.map.
MAX_LINE = 4096
MAX_BYTES = 1 << 30  # after decompression
# nm prints an address of the target's word size: 8 or 16 hex digits
_HEX = re.compile(r"[0-9a-fA-F]{1,16}")
_HEXRUN = re.compile(r"[0-9a-fA-F]+")
_ADDRESS_LIMIT = 1 << 64


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a plain, xz, gzip or zstd System.map, bounded (see MAX_LINE,
    MAX_BYTES); a directory, character device or socket is refused, a FIFO never blocks."""

    def refuse(why: str) -> MapError:
        return MapError(path, None, f"{why}: not a System.map")

    fd, _ = open_input(path, refuse)
    with os.fdopen(fd, "rb") as raw:
        transport = sniff_transport(raw.peek(8)[:8])
        stream = open_expanded(raw, transport)
        total = 0
        lineno = 0
        try:
            with stream:
                while True:
                    line = stream.readline(MAX_LINE + 1)
                    if not line:
                        return
                    lineno += 1
                    total += len(line)
                    if len(line) > MAX_LINE:
                        raise MapError(
                            path, lineno, f"line longer than {MAX_LINE} bytes: not a System.map"
                        )
                    if total > MAX_BYTES:
                        raise MapError(
                            path, lineno, f"more than {MAX_BYTES >> 20} MiB: not a System.map"
                        )
                    yield lineno, line.decode("ascii", "replace")
        except codec_errors(transport) as exc:
            raise MapError(path, lineno + 1, f"damaged compressed stream ({exc})") from None


def load_system_map(path: str | os.PathLike[str]) -> SystemMap:
    """Read a System.map (plain, xz, gzip or zstd).

    A name listed more than once keeps its first global (upper-case type) entry, else its
    first entry.

    Raises:
        MapError: a line that is not ``ADDRESS TYPE NAME`` (an address of at most 16 hex
            digits, no sign), a line or a file past the bounds above, a damaged compressed
            stream, a directory or device, or no symbols at all.
    """
    spath = os.fspath(path)
    symbols: dict[str, int] = {}
    types: dict[str, str] = {}
    for lineno, line in _lines(spath):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3 or len(parts[1]) != 1:
            raise MapError(spath, lineno, f"expected 'ADDRESS TYPE NAME', got {line[:60]!r}")
        if _HEX.fullmatch(parts[0]) is None:
            what = "wider than 64 bits" if _HEXRUN.fullmatch(parts[0]) else "not hex"
            raise MapError(spath, lineno, f"address is {what}: {parts[0][:40]!r}")
        addr = int(parts[0], 16)
        name, kind = parts[2], parts[1]
        kept = types.get(name)
        if kept is None or (kept.islower() and kind.isupper()):
            symbols[name] = addr
            types[name] = kind
    if not symbols:
        raise MapError(spath, None, "no symbols: not a System.map")
    return SystemMap(spath, symbols, types)
