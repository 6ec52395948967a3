"""Where the kallsyms arrays are: :class:`KallsymsLocation`, and the addresses VMCOREINFO
gives for them (6.0+: "vmcoreinfo: include kallsyms symbols", 5fd8fea935a1, and
``kallsyms_num_syms``, f09bddbd8661).

References:
    kernel/vmcore_info.c (crash_core.c before 6.9) ``crash_save_vmcoreinfo_init()``;
    scripts/kallsyms.c ``write_src()`` (the order of the arrays, so the end of the names).
"""

from __future__ import annotations

from dataclasses import dataclass

from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo

__all__ = ["KallsymsLocation", "kallsyms_location"]


@dataclass(frozen=True)
class KallsymsLocation:
    """Where the kallsyms arrays are (kernel virtual addresses)."""

    num_syms: int
    names: int
    token_table: int
    token_index: int
    offsets: int | None = None
    relative_base: int | None = None
    addresses: int | None = None
    names_end: int | None = None  # an upper bound for the names (next array), if known
    found_by: str = "VMCOREINFO"


def kallsyms_location(info: VmcoreInfo) -> KallsymsLocation | None:
    """The arrays' addresses from VMCOREINFO (6.0+), or None when it has none."""
    sym = info.symbols
    need = ("kallsyms_num_syms", "kallsyms_names", "kallsyms_token_table", "kallsyms_token_index")
    if not all(k in sym for k in need):
        return None
    names = sym["kallsyms_names"]
    others = [v for k, v in sym.items() if k.startswith("kallsyms_") and v > names]
    return KallsymsLocation(
        num_syms=sym["kallsyms_num_syms"],
        names=names,
        token_table=sym["kallsyms_token_table"],
        token_index=sym["kallsyms_token_index"],
        offsets=sym.get("kallsyms_offsets"),
        relative_base=sym.get("kallsyms_relative_base"),
        addresses=sym.get("kallsyms_addresses"),
        names_end=min(others) if others else None,
    )
