"""The swap area's first page: ``union swap_header`` with ``struct swsusp_header`` in its tail.

References:
    include/linux/swap.h ``union swap_header`` (``info.version`` at 1024, ``last_page`` 1028,
        ``nr_badpages`` 1032, ``sws_uuid`` 1036, ``sws_volume`` 1052; magic at PAGE_SIZE-10),
        unchanged 2.6.x -> now.
    kernel/power/swap.c ``struct swsusp_header`` (``__packed``), tail of the same page:
        2.6.20-2.6.22  ``sector_t image; char orig_sig[10]; char sig[10];``
        2.6.23-3.1     ``+ unsigned int flags`` between image and orig_sig
        3.2-5.16       ``+ u32 crc32`` before image
        5.17-now       ``+ u32 hw_sig`` before crc32
    The slots added later sit in what older kernels left as ``reserved`` (the old swap header's
    zero padding), so the 5.17 layout reads every 2.6.23+ image; ``crc32``/``hw_sig`` mean
    something only when ``SF_CRC32_MODE``/``SF_HW_SIG`` is set (they are not cleared otherwise).
"""

from __future__ import annotations

from typing import Any

import construct as cs

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.model import SF_CRC32_MODE, SF_HW_SIG, SwsuspHeader, flag_names

LAYOUTS = ("2.6.23+", "2.6.20-2.6.22")

# union swap_header, version-1 info block (the part hibernation keeps intact)
swap_header_info = cs.Struct(
    "bootbits" / cs.Bytes(1024),
    "version" / cs.Int32ul,
    "last_page" / cs.Int32ul,
    "nr_badpages" / cs.Int32ul,
    "sws_uuid" / cs.Bytes(16),
    "sws_volume" / cs.Bytes(16),
)


def swsusp_header_struct(page_size: int, sector_size: int = 8, layout: str = "2.6.23+") -> Any:
    """``struct swsusp_header`` covering the whole page, for one layout.

    The ``reserved`` bytes are the swap header the kernel read and wrote back unchanged.
    """
    sector = cs.Int64ul if sector_size == 8 else cs.Int32ul
    if layout == "2.6.23+":
        # 4 + 4 + S + 4 = hw_sig + crc32 + image + flags
        tail: list[Any] = [
            "hw_sig" / cs.Int32ul,
            "crc32" / cs.Int32ul,
            "image" / sector,
            "flags" / cs.Int32ul,
        ]
        tail_size = 12 + sector_size
    elif layout == "2.6.20-2.6.22":
        tail = ["image" / sector]
        tail_size = sector_size
    else:  # pragma: no cover - programming error
        raise ValueError(layout)
    # 20 = orig_sig[10] + sig[10]
    return cs.Struct(
        "reserved" / cs.Bytes(page_size - 20 - tail_size),
        *tail,
        "orig_sig" / cs.Bytes(10),
        "sig" / cs.Bytes(10),
    )


def decode_swap_info(buf: Any, base: int) -> tuple[int, int]:
    """``(version, last_page)`` of the swap header at ``base``."""
    info = parse_at(swap_header_info, buf, base, "swap header")
    return int(info.version), int(info.last_page)


def decode_header(buf: Any, base: int, page_size: int, sector_size: int = 8) -> SwsuspHeader:
    """Decode the hibernation header page at file offset ``base``.

    Chooses between the 2.6.23+ layout and the 2.6.20-2.6.22 one.  The two ``image`` slots
    overlap: with an 8-byte ``sector_t`` the old ``image`` (at N-28) reads through the new
    layout's ``image`` (at N-32) as ``image << 32``, and the new ``flags`` read as the old
    ``image``'s high half.  The old layout is taken when its ``image`` is below 2**32 (no
    2.6.20-2.6.22 swap device was 16 TiB) and the new ``image`` is zero or has zero low 32 bits
    (a new ``image`` that is a nonzero multiple of 2**32 pages would need a 16 TiB partition).
    """
    hdrs = {layout: parse_at(swsusp_header_struct(page_size, sector_size, layout), buf, base,
                             "swsusp_header")
            for layout in LAYOUTS}
    new, old = int(hdrs["2.6.23+"].image), int(hdrs["2.6.20-2.6.22"].image)
    if sector_size == 8:
        use_old = 0 < old < 1 << 32 and new & 0xFFFFFFFF == 0
    else:
        use_old = new == 0 and old != 0
    if use_old:
        layout = "2.6.20-2.6.22"
    elif new:
        layout = "2.6.23+"
    else:
        img_off = base + page_size - 20 - (12 + sector_size) + 8
        raise FormatError("swsusp_header", img_off, "image",
                          "nonzero first swap-map page", 0)
    hdr = hdrs[layout]
    flags = int(hdr.flags) if layout == "2.6.23+" else None
    return SwsuspHeader(
        offset=base,
        page_size=page_size,
        sector_size=sector_size,
        layout=layout,
        sig=cstring(hdr.sig),
        orig_sig=cstring(hdr.orig_sig),
        flags=flags,
        image=int(hdr.image),
        crc32=int(hdr.crc32) if flags is not None and flags & SF_CRC32_MODE else None,
        hw_sig=int(hdr.hw_sig) if flags is not None and flags & SF_HW_SIG else None,
    )


def build_header(
    page_size: int,
    *,
    image: int,
    flags: int = 0,
    crc32: int = 0,
    hw_sig: int = 0,
    sig: bytes = b"S1SUSPEND\0",
    orig_sig: bytes = b"SWAPSPACE2",
    last_page: int = 0,
    sector_size: int = 8,
    layout: str = "2.6.23+",
) -> bytes:
    """Build a header page (for forged test images)."""
    front = swap_header_info.build(
        {
            "bootbits": bytes(1024),
            "version": 1,
            "last_page": last_page,
            "nr_badpages": 0,
            "sws_uuid": bytes(16),
            "sws_volume": bytes(16),
        }
    )
    st = swsusp_header_struct(page_size, sector_size, layout)
    reserved_len = st.subcons[0].sizeof()
    fields: dict[str, Any] = {
        "reserved": front + bytes(reserved_len - len(front)),
        "image": image,
        "orig_sig": orig_sig,
        "sig": sig,
    }
    if layout == "2.6.23+":
        fields.update(flags=flags, crc32=crc32, hw_sig=hw_sig)
    data: bytes = st.build(fields)
    return data


__all__ = ["build_header", "decode_header", "decode_swap_info", "flag_names",
           "swsusp_header_struct"]
