"""kallsyms: the kernel's own symbol table, decoded from the saved memory.

``scripts/kallsyms`` compiles the symbol table into the kernel's .rodata:

``kallsyms_num_syms``
    ``unsigned int`` count.
``kallsyms_names``
    per symbol: a length byte (6.1+ "big symbols": ULEB128, two bytes when the high bit is
    set, ``len = (b0 & 0x7f) | (b1 << 7)``), then ``len`` token numbers.
``kallsyms_markers``
    ``unsigned int`` offset into ``kallsyms_names`` of every 256th symbol.
``kallsyms_token_table`` / ``kallsyms_token_index``
    256 NUL-terminated token strings, and a ``u16`` offset of each.  A name is the
    concatenation of its tokens; its first character is the symbol's type letter (``T``,
    ``t``, ``D``, ``b``, ...).
``kallsyms_offsets`` + ``kallsyms_relative_base`` (CONFIG_KALLSYMS_BASE_RELATIVE, 4.6+; the
only form from 6.11)
    ``int`` per symbol: ``relative_base + (u32)offset``, or with
    CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP until 6.15) a non-negative offset is the
    absolute value itself (per-CPU symbols) and a negative one is ``relative_base - 1 -
    offset``.  The mode is not recorded anywhere: a table with any negative offset is read
    as absolute-percpu (relative offsets are below 2 GiB, so never negative in the other
    mode); the caller checks the result against VMCOREINFO's ``SYMBOL(_stext)``.
``kallsyms_offsets`` without ``kallsyms_relative_base`` (7.x; seen on Debian 7.2.13)
    PC-relative: symbol ``i`` is at ``&kallsyms_offsets[i] + (s32)kallsyms_offsets[i]``
    (``offset_to_ptr()``); neither the table nor VMCOREINFO has a base any more.  Checked on
    the 7.2 sample: ``_text``, ``linux_banner``, ``e820_table_firmware`` land on System.map.
``kallsyms_addresses`` (before 4.6, and later configurations without BASE_RELATIVE)
    ``unsigned long`` address per symbol.

``relative_base`` and ``kallsyms_addresses`` are relocated at boot, so the decoded addresses
are the running (KASLR-slid) ones.  From 6.0 VMCOREINFO gives the addresses of these arrays
("vmcoreinfo: include kallsyms symbols", 5fd8fea935a1, and ``kallsyms_num_syms``,
f09bddbd8661).  Older kernels: :func:`find_kallsyms` looks for the table by its shape (as
vmlinux-to-elf does): the token table holds the ten digits as single-character tokens in a
row (``"0\\0" "1\\0" ... "9\\0"``), the token index that follows it gives each token's
offset, and the names end where the markers begin.

Debian's i386 and arm64 kernels are built without CONFIG_KALLSYMS_ALL: their kallsyms has the
text symbols (and a few linker symbols) only.

Modules: :mod:`.location` (where the arrays are: :class:`KallsymsLocation`, from VMCOREINFO),
:mod:`.decode` (the whole table at once, vectorised: :func:`decode_kallsyms`,
:class:`KallsymsTable`), :mod:`.reader` (:class:`Kallsyms`: lookups by name that decode a few
names), :mod:`.search` (:func:`find_kallsyms`: the table found by its shape).

References:
    scripts/kallsyms.c ``write_src()`` (2.6.x -> now; big symbols 6.1, 73bbb94466fd;
    ``kallsyms_seqs_of_names`` 6.2 and 6.1.y stable; ``kallsyms_addresses`` gone in 6.11),
    kernel/kallsyms.c ``kallsyms_expand_symbol()``, ``kallsyms_sym_address()``,
    kernel/kallsyms_internal.h; kernel/vmcore_info.c (crash_core.c before 6.9)
    ``crash_save_vmcoreinfo_init()``.  drgn ``libdrgn/kallsyms.c``; vmlinux-to-elf
    ``kallsyms_finder.py`` (read, not copied).
"""

from __future__ import annotations

from swsusp_inspect.kernel.kallsyms.decode import KallsymsTable, decode_kallsyms
from swsusp_inspect.kernel.kallsyms.location import KallsymsLocation, kallsyms_location
from swsusp_inspect.kernel.kallsyms.reader import Kallsyms, read_kallsyms
from swsusp_inspect.kernel.kallsyms.search import find_kallsyms

__all__ = [
    "Kallsyms",
    "KallsymsLocation",
    "KallsymsTable",
    "decode_kallsyms",
    "find_kallsyms",
    "kallsyms_location",
    "read_kallsyms",
]
