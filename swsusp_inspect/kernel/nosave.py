"""The nosave regions the hibernated kernel registered (``nosave_regions``).

kernel/power/snapshot.c keeps a list of ``struct nosave_region { struct list_head list;
unsigned long start_pfn; unsigned long end_pfn; }`` (``end_pfn`` exclusive) headed by ``static
LIST_HEAD(nosave_regions)``.  ``__register_nosave_region()`` ignores an empty range and
*extends the last region* when the new one starts where it ends, so the list holds merged
ranges while the boot log prints every call (``Registered nosave memory: [mem A-B]``, 3.11+,
inclusive bytes).  Regions are allocated with ``memblock_alloc()`` (early boot) or
``kzalloc()``; on x86 they come from ``e820__register_nosave_regions()``, on arm64 usually
none.  ``mark_nosave_pages()`` turns them into the forbidden bitmap at hibernation.

The walk follows ``list.next`` from the head and stops when it returns to the head; a loop
that does not, or more than :data:`MAX_REGIONS` entries, is an error.

References:
    kernel/power/snapshot.c ``__register_nosave_region()``, ``mark_nosave_pages()`` (2.6.22
    -> now; ``nosave_regions`` since 2.6.19), include/linux/list.h.
"""

from __future__ import annotations

from collections.abc import Callable

from swsusp_inspect.kernel.memory import KernelDataError
from swsusp_inspect.kernel.pagetables import VirtualMemory

__all__ = ["MAX_REGIONS", "read_nosave_regions"]

MAX_REGIONS = 1 << 16


def read_nosave_regions(
    vm: VirtualMemory, lookup: Callable[[str], int | None]
) -> list[tuple[int, int]]:
    """The kernel's nosave regions as ``(start_pfn, end_pfn inclusive)``, in list order.

    Raises:
        KernelDataError: no ``nosave_regions`` symbol, a loop, or ``end_pfn <= start_pfn``.
        KernelMemoryError: a list entry is not in the image.
    """
    head = lookup("nosave_regions")
    if head is None:
        raise KernelDataError(
            "nosave_regions",
            None,
            "symbol",
            "nosave_regions",
            "absent (kallsyms without data symbols needs a System.map)",
        )
    w = vm.word_size
    out: list[tuple[int, int]] = []
    seen = {head}
    node = vm.read_word(head, "nosave_regions.next")
    while node != head:
        if node in seen or len(out) >= MAX_REGIONS:
            raise KernelDataError(
                "nosave_regions",
                head,
                "list",
                "a list back to its head",
                f"a loop at {node:#x} after {len(out)} regions",
            )
        seen.add(node)
        start = vm.read_word(node + 2 * w, "nosave_region.start_pfn")
        end = vm.read_word(node + 3 * w, "nosave_region.end_pfn")
        if end <= start:
            raise KernelDataError(
                "nosave_region",
                node,
                "start_pfn / end_pfn",
                "start < end",
                f"{start:#x} / {end:#x}",
            )
        out.append((start, end - 1))
        node = vm.read_word(node, "nosave_region.list.next")
    return out
