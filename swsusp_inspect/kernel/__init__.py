"""The hibernated kernel's own memory, read out of an opened image.

A hibernation image is a copy of the kernel's RAM.  This package reads that kernel's memory by
physical address (:mod:`.memory`), finds its VMCOREINFO note (:mod:`.vmcoreinfo`), translates
virtual addresses through its own page tables (:mod:`.pagetables`), resolves symbols from its
kallsyms or a System.map (:mod:`.kallsyms`, :mod:`.symbols`), and decodes the printk log
(:mod:`.printk`; the 5.10+ ring buffer in :mod:`.printk_ringbuffer`), the e820 tables /
memblock (:mod:`.memmap`), the nosave list (:mod:`.nosave`) and ``page->flags``
(:mod:`.pageflags`, with :mod:`.btf` for ``PG_reserved``).  :func:`read_kernel` is the one
entry point most callers need::

    from swsusp_inspect import open_image
    from swsusp_inspect.kernel import read_kernel

    with open_image("swap.img") as img:
        k = read_kernel(img)
        k.osrelease, k.kernel_offset, k.e820, k.nosave, k.errors
        print("\\n".join(k.dmesg() or []))

It depends on the opened image only through :class:`ImageLike` (see :mod:`.memory`).

References:
    kernel/power/snapshot.c (what a hibernation image saves); the References of each module.
"""

from __future__ import annotations

from swsusp_inspect.kernel.excerpt import MemoryExcerpt, load_excerpt, write_excerpt
from swsusp_inspect.kernel.memory import (
    ImageLike,
    KernelDataError,
    KernelMemoryError,
    NotInImageError,
    PhysicalMemory,
    TranslationError,
)
from swsusp_inspect.kernel.printk import LogRecord, format_dmesg
from swsusp_inspect.kernel.state import KernelState, read_kernel
from swsusp_inspect.kernel.vmcoreinfo import NO_VMCOREINFO, VmcoreInfo

__all__ = [
    "NO_VMCOREINFO",
    "ImageLike",
    "KernelDataError",
    "KernelMemoryError",
    "KernelState",
    "LogRecord",
    "MemoryExcerpt",
    "NotInImageError",
    "PhysicalMemory",
    "TranslationError",
    "VmcoreInfo",
    "format_dmesg",
    "load_excerpt",
    "read_kernel",
    "write_excerpt",
]
