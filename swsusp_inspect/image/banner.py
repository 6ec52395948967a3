"""The kernel's ``linux_banner`` ("Linux version ...\\n\\0") among an image's saved pages.

The x86 header does not name the kernel release; its banner sits in .rodata, after .text, so
the search starts at the kernel's physical text address the arch record gives
(``jump_address_phys``) and stays within bounded windows: ``info`` costs the same whatever the
image's size.  Only matches ending in "\\n\\0" count (the printk ring buffer's copy of the line
has neither); 6.1+ kernels also keep a weak placeholder banner without the build number
("# SMP ..." instead of "#1 SMP ..."): a banner with a build number wins.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.model.image import Banner

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = [
    "WINDOW",
    "banner_at",
    "banner_near",
    "banners_in",
    "best_banner",
    "find_banner",
    "has_build_number",
    "search_windows",
]

WINDOW = 64 << 20  # bytes of physical address space searched from each start

_BANNER_RE = re.compile(rb"Linux version ([^\s\0]+) [\x20-\x7e]{0,400}\n\0")
_BUILD_NUMBER_RE = re.compile(r"\) #\d+ ")


def has_build_number(banner: Banner) -> bool:
    return _BUILD_NUMBER_RE.search(banner.banner) is not None


def best_banner(candidates: list[Banner] | tuple[Banner, ...]) -> Banner | None:
    """The real ``linux_banner`` among candidates: one with a build number ("#1 SMP") wins
    over the weak placeholder 6.1+ kernels also carry ("# SMP")."""
    for cand in candidates:
        if has_build_number(cand):
            return cand
    return candidates[0] if candidates else None


def search(pfns: np.ndarray, data: bytes | memoryview, page_size: int) -> list[Banner]:
    """Banners inside ``data`` (the pages of ``pfns``, in order), each within one page."""
    n = page_size
    found = []
    for m in _BANNER_RE.finditer(data):
        page = m.start() // n
        if m.end() > (page + 1) * n:
            continue  # spans two saved pages that need not be adjacent in memory
        pfn = int(pfns[page])
        text = m.group(0)[:-2].decode("ascii", "replace")
        found.append(
            Banner(m.group(1).decode("ascii", "replace"), text, pfn, pfn * n + m.start() % n)
        )
    return found


def search_windows(image: HibernationImage, window: int = WINDOW) -> list[tuple[int, int]]:
    """PFN ranges ``[lo, hi)`` where the banner is looked for: from the kernel's text (the
    arch record's ``jump_address_phys``), then from the lowest saved PFN (the only one
    without an arch record)."""
    data_pfns = image.pagedir.data_pfns
    if not data_pfns.size:
        return []
    span = window // image.page_size
    arch = image.info.arch
    starts = []
    if arch is not None and arch.jump_address_phys:
        i = int(np.searchsorted(data_pfns, np.uint64(arch.jump_address_phys // image.page_size)))
        if i < data_pfns.size:
            starts.append(int(data_pfns[i]))
    starts.append(int(data_pfns.min()))
    return [(lo, lo + span) for lo in starts]


def banners_in(
    image: HibernationImage, s: int, data: bytes | memoryview, windows: list[tuple[int, int]]
) -> list[Banner]:
    """Banners in stream pages ``s..`` held in ``data``, if they fall in a search window."""
    n = image.page_size
    first_data = 1 + image.meta_pages
    npages = len(data) // n
    if s + npages <= first_data:
        return []
    skip = max(0, first_data - s)
    d0 = s + skip - first_data
    pfns = image.pagedir.data_pfns[d0 : d0 + npages - skip]
    if not pfns.size:
        return []
    lo, hi = int(pfns.min()), int(pfns.max())
    if not any(lo < w_hi and hi >= w_lo for w_lo, w_hi in windows):
        return []
    # bytes.find is a fast memmem; a regex scan of every chunk costs a quarter of `verify`
    raw = data if isinstance(data, bytes) else bytes(data)
    if raw.find(b"Linux version ") < 0:
        return []
    return search(pfns, memoryview(data)[skip * n :], n)


def find_banner(
    image: HibernationImage, start_pfn: int | None = None, *, window: int = WINDOW
) -> Banner | None:
    """Find ``linux_banner`` in the saved pages.

    Scans data pages from the first one at or above ``start_pfn`` (default: the kernel's
    physical text address from the arch record) through ``window`` bytes of physical address
    space, then the first ``window`` bytes from the lowest PFN if nothing was found (``verify``
    meets every banner on its way instead); it stops at the first banner with a build number,
    the real one.
    """
    data_pfns = image.pagedir.data_pfns
    if not data_pfns.size:
        return None
    if start_pfn is None:
        arch = image.info.arch
        start_pfn = ((arch.jump_address_phys or 0) // image.page_size) if arch else 0
    start = int(np.searchsorted(data_pfns, np.uint64(start_pfn)))
    if start >= data_pfns.size:
        start = 0
    span = window // image.page_size
    candidates: list[Banner] = []
    for first in (start, 0):
        stop = int(data_pfns[first]) + span
        for _, pfns, data in image.iter_readable(first):  # salvaging: what can be read
            if int(pfns[0]) >= stop:
                break
            candidates.extend(search(pfns, data, image.page_size))
            if any(has_build_number(b) for b in candidates):
                break  # the real linux_banner: nothing after it can be better
        if candidates or start == 0:
            break
    return best_banner(candidates)


def banner_near(image: HibernationImage, phys: int) -> Banner | None:
    """The banner at physical address ``phys`` (e.g. System.map's linux_banner), if saved."""
    pfn = phys // image.page_size
    try:
        page = image.read_page(pfn)
    except KeyError:
        return None
    found = search(np.array([pfn], np.uint64), page, image.page_size)
    return next((b for b in found if b.physical_address == phys), None)


def banner_at(image: HibernationImage, phys: int, length: int = 512) -> str | None:
    """The NUL-terminated string at physical address ``phys``, if that page is saved."""
    pfn, off = divmod(phys, image.page_size)
    try:
        page = image.read_page(pfn)
    except KeyError:
        return None
    raw = page[off : off + length].split(b"\0", 1)[0]
    return raw.decode("ascii", "replace")
