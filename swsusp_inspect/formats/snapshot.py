"""``struct swsusp_info`` (stream page 0) and the architecture records that overlay it.

References:
    kernel/power/power.h ``struct swsusp_info { struct new_utsname uts; u32 version_code;
        unsigned long num_physpages; int cpus; unsigned long image_pages; unsigned long pages;
        unsigned long size; } __aligned(PAGE_SIZE)`` (2.6.17 -> now).
    kernel/power/snapshot.c ``init_header()`` (2.6.24+): with an arch header, ``uts`` and
        ``version_code`` are replaced by ``arch_hibernation_header_save()`` (at most
        ``MAX_ARCH_HEADER_SIZE`` = 394 bytes) and ``cpus`` is left 0.
    arch/x86/kernel/suspend_64.c 2.6.24, arch/x86/power/hibernate_64.c 2.6.25-4.19,
        arch/x86/power/hibernate.c 4.20 -> now: ``struct restore_data_record`` (all
        ``unsigned long``):
          2.6.24-4.6   jump_address, cr3, magic            RESTORE_MAGIC 0x0123456789ABCDEF
          4.7-4.9      jump_address, jump_address_phys, cr3, magic          0x123456789ABCDEF0
          4.9/10-5.12  + u8 e820_digest[16] (MD5)     x86_64 0x23456789ABCDEF01, i386 0x12345678
          5.13 -> now  + unsigned long e820_checksum (CRC32)  0x23456789ABCDEF02, i386 0x12345679
        (the CRC32 record was backported to 5.10.37+, 5.11.y, 5.12.4: choose by magic, never by
        version).
    arch/arm64/kernel/hibernate.c ``struct arch_hibernate_hdr`` (uts_version[65] at 0,
        ttbr1_el1 72, reenter_kernel 80, __hyp_stub_vectors 88, sleep_cpu_mpidr 96).
    arch/riscv/kernel/hibernate.c (6.4 -> now; torvalds/linux @42d3b66d, unchanged since the
        StarFive original): ``struct arch_hibernate_hdr { struct arch_hibernate_hdr_invariants
        { char uts_version[__NEW_UTS_LEN + 1]; } invariants; unsigned long hartid;
        unsigned long saved_satp; unsigned long restore_cpu_addr; }``: hartid 72, saved_satp 80
        (``csr_read(CSR_SATP)``), restore_cpu_addr 88 (VA of ``__hibernate_cpu_resume``) with
        8-byte longs; 68/72/76 with 4-byte longs (``ARCH_HIBERNATION_POSSIBLE`` does not exclude
        RV32).
    Architectures without ``CONFIG_ARCH_HIBERNATION_HEADER`` (arm, powerpc, mips, loongarch,
        sparc, x86 before 2.6.24 / i386 before 4.20, ...) keep the generic header:
        ``init_utsname()`` in ``uts`` and ``LINUX_VERSION_CODE`` in ``version_code``, checked by
        ``check_image_kernel()`` on resume (snapshot.c).
"""

from __future__ import annotations

from typing import Any

import construct as cs

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.formats.signatures import PAGE_SIZES
from swsusp_inspect.model import ArchRecord, SnapshotInfo, Utsname

UTS_LEN = 65  # __NEW_UTS_LEN + 1

X86_64_MAGICS = {
    0x0123456789ABCDEF: "2.6.24-4.6",
    0x123456789ABCDEF0: "4.7-4.9",
    0x23456789ABCDEF01: "4.9-5.12 (MD5 e820 digest)",
    0x23456789ABCDEF02: "5.13+ (CRC32 e820 checksum)",
}
I386_MAGICS = {0x12345678: "4.20-5.12 (MD5 e820 digest)", 0x12345679: "5.13+ (CRC32 e820 checksum)"}


def swsusp_info_struct(word_size: int = 8) -> Any:
    """``struct swsusp_info`` fields up to ``size`` for ``sizeof(long) == word_size``."""
    ulong = cs.Int64ul if word_size == 8 else cs.Int32ul
    return cs.Struct(
        "uts" / cs.Bytes(6 * UTS_LEN),
        cs.Padding(2),  # align u32
        "version_code" / cs.Int32ul,
        cs.Padding(4 if word_size == 8 else 0),
        "num_physpages" / ulong,
        "cpus" / cs.Int32sl,
        cs.Padding(4 if word_size == 8 else 0),
        "image_pages" / ulong,
        "pages" / ulong,
        "size" / ulong,
    )


def restore_record_struct(word_size: int, layout: str) -> Any:
    """x86 ``struct restore_data_record`` for one era (see module references)."""
    ulong = cs.Int64ul if word_size == 8 else cs.Int32ul
    if layout == "2.6.24-4.6":
        return cs.Struct("jump_address" / ulong, "cr3" / ulong, "magic" / ulong)
    fields = ["jump_address" / ulong, "jump_address_phys" / ulong, "cr3" / ulong, "magic" / ulong]
    if "MD5" in layout:
        fields.append("e820_digest" / cs.Bytes(16))
    elif "CRC32" in layout:
        fields.append("e820_checksum" / ulong)
    return cs.Struct(*fields)


arm64_hdr = cs.Struct(
    "uts_version" / cs.Bytes(UTS_LEN),
    cs.Padding(7),
    "ttbr1_el1" / cs.Int64ul,
    "reenter_kernel" / cs.Int64ul,
    "__hyp_stub_vectors" / cs.Int64ul,
    "sleep_cpu_mpidr" / cs.Int64ul,
)


def riscv_hdr_struct(word_size: int = 8) -> Any:
    """riscv ``struct arch_hibernate_hdr`` for ``sizeof(long) == word_size``."""
    ulong = cs.Int64ul if word_size == 8 else cs.Int32ul
    return cs.Struct(
        "uts_version" / cs.Bytes(UTS_LEN),
        cs.Padding(-UTS_LEN % word_size),  # 65 -> 72 (RV64) or 68 (RV32)
        "hartid" / ulong,
        "saved_satp" / ulong,
        "restore_cpu_addr" / ulong,
    )


# satp.MODE (RISC-V privileged spec): RV64 bits 63:60, RV32 bit 31
RISCV_SATP_MODES_64 = {8: "sv39", 9: "sv48", 10: "sv57"}
RISCV_SATP_MODES_32 = {1: "sv32"}


def _uts_version_slot(page: bytes, word_size: int) -> bool:
    """``uts_version`` ("#1 SMP ...") at 0, zero padding up to the next long."""
    end = UTS_LEN + (-UTS_LEN % word_size)
    return page[:1] == b"#" and page[UTS_LEN:end] == bytes(end - UTS_LEN)


def _riscv_record(page: bytes, word_size: int) -> ArchRecord | None:
    """The riscv record, told from arm64's (same uts_version head) by ``satp.MODE``: at
    offset 80 arm64 holds ``reenter_kernel``, a TTBR1 kernel address (top nibble 0xf)."""
    if not _uts_version_slot(page, word_size):
        return None
    hdr = riscv_hdr_struct(word_size).parse(page)
    satp = int(hdr.saved_satp)
    if word_size == 8:
        mode = RISCV_SATP_MODES_64.get(satp >> 60)
        ppn = satp & ((1 << 44) - 1)
    else:
        mode = RISCV_SATP_MODES_32.get(satp >> 31)
        ppn = satp & ((1 << 22) - 1)
    if mode is None:
        return None
    return ArchRecord(
        "riscv64" if word_size == 8 else "riscv32",
        "6.4+",
        None,
        uts_version=cstring(hdr.uts_version),
        hartid=int(hdr.hartid),
        saved_satp=satp,
        satp_mode=mode,
        # physical address of the root page table the image kernel ran on (PPN << 12)
        page_table_root=ppn << 12,
        restore_cpu_addr=int(hdr.restore_cpu_addr),
    )


def _magic_at(page: bytes, off: int, size: int) -> int:
    return int.from_bytes(page[off : off + size], "little")


def decode_arch(page: bytes, word_size: int) -> ArchRecord | None:  # noqa: PLR0911 - one return per record
    """Recognise the architecture record at the start of ``swsusp_info``, if any."""
    if word_size == 8:
        layout = X86_64_MAGICS.get(_magic_at(page, 16, 8))
        if layout == "2.6.24-4.6":
            rec = restore_record_struct(8, layout).parse(page)
            return ArchRecord(
                "x86_64",
                layout,
                int(rec.magic),
                jump_address=int(rec.jump_address),
                cr3=int(rec.cr3),
            )
        layout = X86_64_MAGICS.get(_magic_at(page, 24, 8))
        if layout is not None:
            return _x86_record(page, 8, "x86_64", layout)
        riscv = _riscv_record(page, 8)
        if riscv is not None:
            return riscv
        if _uts_version_slot(page, 8):
            hdr = arm64_hdr.parse(page)
            return ArchRecord(
                "arm64",
                "4.7+",
                None,
                uts_version=cstring(hdr.uts_version),
                ttbr1_el1=int(hdr.ttbr1_el1),
                reenter_kernel=int(hdr.reenter_kernel),
                hyp_stub_vectors=int(hdr.__hyp_stub_vectors),
                sleep_cpu_mpidr=int(hdr.sleep_cpu_mpidr),
            )
        return None
    layout = I386_MAGICS.get(_magic_at(page, 12, 4))
    if layout is not None:
        return _x86_record(page, 4, "i386", layout)
    return _riscv_record(page, 4)


def _x86_record(page: bytes, word_size: int, name: str, layout: str) -> ArchRecord:
    rec = restore_record_struct(word_size, layout).parse(page)
    kind = "md5" if "MD5" in layout else "crc32" if "CRC32" in layout else None
    digest = bytes(rec.e820_digest) if kind == "md5" else None
    checksum = (
        int(rec.e820_checksum)
        if kind == "crc32"
        else int.from_bytes(digest, "big")
        if digest is not None
        else None
    )
    return ArchRecord(
        name,
        layout,
        int(rec.magic),
        jump_address=int(rec.jump_address),
        jump_address_phys=int(rec.jump_address_phys),
        cr3=int(rec.cr3),
        e820_checksum=checksum,
        e820_checksum_kind=kind,
        e820_digest_hex=None if digest is None else digest.hex(),
    )


def _uts(raw: bytes) -> Utsname:
    parts = [cstring(raw[i * UTS_LEN : (i + 1) * UTS_LEN]) for i in range(6)]
    return Utsname(*parts)


def decode_info(buf: Any, offset: int, page_size: int, word_size: int = 8) -> SnapshotInfo:
    """Decode ``swsusp_info`` at file offset ``offset`` and check its counts.

    Raises:
        FormatError: counts that no kernel writes (pages <= image_pages, size != pages * N).
    """
    st = swsusp_info_struct(word_size)
    info = parse_at(st, buf, offset, "swsusp_info")
    page = bytes(buf[offset : offset + 394])
    arch = decode_arch(page, word_size)
    uts = None if arch is not None else _uts(bytes(info.uts))
    ulong_off = {8: (416, 424, 432), 4: (404, 408, 412)}[word_size]
    pages, image_pages, size = int(info.pages), int(info.image_pages), int(info.size)
    if pages < image_pages + 1:
        raise FormatError(
            "swsusp_info",
            offset + ulong_off[1],
            "pages",
            f">= image_pages + 1 = {image_pages + 1}",
            pages,
        )
    if size != pages * page_size:
        raise FormatError(
            "swsusp_info",
            offset + ulong_off[2],
            "size",
            f"pages * {page_size} = {pages * page_size:#x}",
            size,
        )
    return SnapshotInfo(
        offset=offset,
        word_size=word_size,
        num_physpages=int(info.num_physpages),
        cpus=int(info.cpus),
        image_pages=image_pages,
        pages=pages,
        size=size,
        version_code=int(info.version_code),
        uts=uts,
        arch=arch,
    )


def sniff_stream(buf: Any) -> tuple[int, int] | None:
    """``(page_size, word_size)`` if the file starts with a plausible ``swsusp_info``.

    A ``/dev/snapshot`` stream has no signature; ``size == pages * PAGE_SIZE`` with
    ``image_pages < pages`` is what identifies it.
    """
    for word_size in (8, 4):
        st = swsusp_info_struct(word_size)
        if len(buf) < st.sizeof():
            continue
        info = st.parse(bytes(buf[: st.sizeof()]))
        pages, image_pages, size = int(info.pages), int(info.image_pages), int(info.size)
        if not (0 <= image_pages < pages):
            continue
        for page_size in PAGE_SIZES:
            if size == pages * page_size:
                return page_size, word_size
    return None


def build_info(
    *,
    page_size: int,
    num_physpages: int,
    image_pages: int,
    pages: int,
    arch_record: bytes = b"",
    uts: bytes = b"",
    version_code: int = 0,
    cpus: int = 0,
    word_size: int = 8,
) -> bytes:
    """Build a ``swsusp_info`` page (for forged images): arch record or generic uts."""
    head = arch_record or uts
    st = swsusp_info_struct(word_size)
    data = st.build(
        {
            "uts": head.ljust(6 * UTS_LEN, b"\0"),
            "version_code": version_code,
            "num_physpages": num_physpages,
            "cpus": cpus,
            "image_pages": image_pages,
            "pages": pages,
            "size": pages * page_size,
        }
    )
    out: bytes = data.ljust(page_size, b"\0")
    return out


def build_restore_record(layout: str, word_size: int = 8, **fields: Any) -> bytes:
    magics = X86_64_MAGICS if word_size == 8 else I386_MAGICS
    magic = next(m for m, name in magics.items() if name == layout)
    st = restore_record_struct(word_size, layout)
    values = {
        "jump_address": 0,
        "jump_address_phys": 0,
        "cr3": 0,
        "magic": magic,
        "e820_digest": bytes(16),
        "e820_checksum": 0,
    }
    values.update(fields)
    data: bytes = st.build(values)
    return data
