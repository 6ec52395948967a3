"""The swap area's first page: ``union swap_header`` with ``struct swsusp_header`` in its tail.

References:
    include/linux/swap.h ``union swap_header`` (``info.version`` at 1024, ``last_page`` 1028,
        ``nr_badpages`` 1032, ``sws_uuid`` 1036, ``sws_volume`` 1052; magic at PAGE_SIZE-10),
        unchanged 2.6.x -> now.
    kernel/power/swap.c ``struct swsusp_header`` (``__packed``), tail of the same page:
        2.6.20-2.6.22  ``sector_t image; char orig_sig[10]; char sig[10];``
        2.6.23-3.1     ``+ unsigned int flags`` between image and orig_sig (read at 2.6.24)
        3.2-5.16       ``+ u32 crc32`` before image (read at 3.6)
        5.17-now       ``+ u32 hw_sig`` before crc32
    The slots added later sit in what older kernels left as ``reserved`` (the old swap header's
    zero padding), so the 5.17 layout reads every 2.6.23+ image; ``crc32``/``hw_sig`` mean
    something only when ``SF_CRC32_MODE``/``SF_HW_SIG`` is set (they are not cleared otherwise).
    ``sector_t`` (include/linux/types.h): ``u64`` with ``CONFIG_LBDAF`` (``CONFIG_LBD`` in
        2.6.x, which had no default), else ``unsigned long``: 4 bytes on 32-bit kernels built
        without it, 2.6.20 to 5.1 (5.2 made ``sector_t`` always ``u64``).  With S = 4
        (offsets from the page end): ``flags`` N-24, ``image`` N-28, ``crc32`` N-32; there is
        no ``hw_sig`` (5.17 is later than 5.1) and no flag above ``SF_CRC32_MODE``.  With
        S = 8: ``flags`` N-24, ``image`` N-32, ``crc32`` N-36, ``hw_sig`` N-40.  The
        2.6.20-2.6.22 ``image`` is at N-20-S.
"""

from __future__ import annotations

import struct
from typing import Any

import construct as cs

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.model import (
    SF_CRC32_MODE,
    SF_HW_SIG,
    SF_NOCOMPRESS_MODE,
    SF_PLATFORM_MODE,
    SwsuspHeader,
    flag_names,
)

LAYOUTS = ("2.6.23+", "2.6.20-2.6.22")
# The era (``info --json`` ``era``) of an image whose header has a 4-byte sector_t; with an
# 8-byte one both layouts are the "2.6.20+" family.
ERA_S4 = {
    "2.6.20-2.6.22": "2.6.20-2.6.22, 4-byte sector_t",
    "2.6.23+": "2.6.23-5.1, 4-byte sector_t",
}
# The flags a kernel with a 4-byte sector_t could write (SF_HW_SIG is 5.17, LZ4 6.9)
S4_FLAGS = SF_PLATFORM_MODE | SF_NOCOMPRESS_MODE | SF_CRC32_MODE

Reading = tuple[int, str]  # (sizeof(sector_t), layout)

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
    """``struct swsusp_header`` covering the whole page, for one layout and ``sector_t`` size.

    The ``reserved`` bytes are the swap header the kernel read and wrote back unchanged.
    ``hw_sig`` (5.17+) exists only with an 8-byte ``sector_t`` (always so from 5.2).
    """
    sector = cs.Int64ul if sector_size == 8 else cs.Int32ul
    if layout == "2.6.23+":
        tail: list[Any] = ["crc32" / cs.Int32ul, "image" / sector, "flags" / cs.Int32ul]
        if sector_size == 8:
            tail.insert(0, "hw_sig" / cs.Int32ul)
    elif layout == "2.6.20-2.6.22":
        tail = ["image" / sector]
    else:  # pragma: no cover - programming error
        raise ValueError(layout)
    tail_size = cs.Struct(*tail).sizeof()  # [hw_sig +] crc32 + image + flags, or image
    # 20 = orig_sig[10] + sig[10]
    return cs.Struct(
        "reserved" / cs.Bytes(page_size - 20 - tail_size),
        *tail,
        "orig_sig" / cs.Bytes(10),
        "sig" / cs.Bytes(10),
    )


def image_slot(page_size: int, sector_size: int, layout: str) -> int:
    """Offset of ``image`` in the header page: N-24-S (2.6.23+) or N-20-S (2.6.20-2.6.22)."""
    return page_size - 20 - (4 if layout == "2.6.23+" else 0) - sector_size


def decode_swap_info(buf: Any, base: int) -> tuple[int, int]:
    """``(version, last_page)`` of the swap header at ``base``."""
    info = parse_at(swap_header_info, buf, base, "swap header")
    return int(info.version), int(info.last_page)


def header_readings(buf: Any, base: int, page_size: int) -> tuple[Reading, ...]:
    """The ``(sector_size, layout)`` readings the header's tail allows, most plausible first.

    With u32 words w32, w28, w24 at N-32, N-28, N-24 (N-20 is ``orig_sig``):

    ====================  ============================  =====================================
    reading               w32  w28  w24                 told apart by
    ====================  ============================  =====================================
    8-byte, 2.6.23+       image   0   flags             ``image`` < 2**32: its high half is 0
    8-byte, 2.6.20-2.6.22 0       image  0              (``reserved``, image, its high half)
    4-byte, 2.6.23+       crc32   image  flags          flags within SF_PLATFORM|NOCOMPRESS|CRC32
    4-byte, 2.6.20-2.6.22 0       0      image          left to formats/legacy (2.6.19's bytes)
    ====================  ============================  =====================================

    No swap device of those kernels had 2**32 pages (16 TiB).  ``(0, image, 0)`` fits both the
    8-byte 2.6.20-2.6.22 header and a 4-byte 2.6.23+ one with flags 0 and no CRC32 (2.6.23-3.1):
    both are returned and the swap map decides (4-byte entries read as 8-byte ones point past
    the device; 8-byte ones read as 4-byte ones leave a 0 after the first entry).  Anything
    else is read as the 8-byte 2.6.23+ header, whose checks then name the fault.
    """
    off = base + page_size - 32
    if off < 0 or off + 12 > len(buf):
        return ((8, "2.6.23+"),)  # the decoder reports the truncation
    w32, w28, w24 = struct.unpack("<3I", bytes(buf[off : off + 12]))
    new8, old8, new4 = (8, "2.6.23+"), (8, "2.6.20-2.6.22"), (4, "2.6.23+")
    if w28 and not w24 and not w32:
        return (old8, new4)
    if w32 and not w28:
        return (new8,)
    if w28 and not w24 & ~S4_FLAGS:
        return (new4, old8) if not w24 else (new4,)
    return (new8,)


def _decode(buf: Any, base: int, page_size: int, reading: Reading) -> SwsuspHeader:
    sector_size, layout = reading
    hdr = parse_at(swsusp_header_struct(page_size, sector_size, layout), buf, base, "swsusp_header")
    if not hdr.image:
        raise FormatError(
            "swsusp_header",
            base + image_slot(page_size, sector_size, layout),
            "image",
            "nonzero first swap-map page",
            0,
        )
    flags = int(hdr.flags) if layout == "2.6.23+" else None
    hw_sig = flags is not None and flags & SF_HW_SIG and sector_size == 8
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
        hw_sig=int(hdr.hw_sig) if hw_sig else None,
    )


def decode_headers(buf: Any, base: int, page_size: int) -> tuple[SwsuspHeader, ...]:
    """Every plausible reading of the header page at ``base`` (see :func:`header_readings`),
    most plausible first; raises the first reading's error when none decodes."""
    out: list[SwsuspHeader] = []
    first: FormatError | None = None
    for reading in header_readings(buf, base, page_size):
        try:
            out.append(_decode(buf, base, page_size, reading))
        except FormatError as exc:
            first = first or exc
    if not out:
        assert first is not None
        raise first
    return tuple(out)


def decode_header(
    buf: Any, base: int, page_size: int, sector_size: int | None = None
) -> SwsuspHeader:
    """Decode the hibernation header page at file offset ``base``.

    Args:
        sector_size: None: the most plausible reading of :func:`decode_headers`.  4 or 8: that
            ``sector_t``, with the 2.6.20-2.6.22 layout taken when its ``image`` is all there
            is: with S = 8 below 2**32 and the 2.6.23+ ``image`` (at N-32, reading it as
            ``image << 32``) zero in its low half; with S = 4 when the 2.6.23+ ``image`` (N-28)
            is zero.
    """
    if sector_size is None:
        return decode_headers(buf, base, page_size)[0]
    new, old = (
        parse_at(
            swsusp_header_struct(page_size, sector_size, layout), buf, base, "swsusp_header"
        ).image
        for layout in LAYOUTS
    )
    if sector_size == 8:
        use_old = 0 < old < 1 << 32 and new & 0xFFFFFFFF == 0
    else:
        use_old = new == 0 and old != 0
    return _decode(buf, base, page_size, (sector_size, LAYOUTS[1] if use_old else LAYOUTS[0]))


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


__all__ = [
    "ERA_S4",
    "LAYOUTS",
    "S4_FLAGS",
    "build_header",
    "decode_header",
    "decode_headers",
    "decode_swap_info",
    "flag_names",
    "header_readings",
    "image_slot",
    "swsusp_header_struct",
]
