"""The image's own structures as model objects: swap header, swsusp_info, arch records.

Field names keep the kernel's spelling (``orig_sig``, ``image_pages``); numbers are plain
``int`` (numpy scalars are converted where these objects are built).
"""

from __future__ import annotations

from swsusp_inspect.model.serialize import json_field, record

# swsusp_header.flags bits (kernel/power/power.h)
SF_FLAGS: tuple[tuple[int, str], ...] = (
    (1, "SF_PLATFORM_MODE"),
    (2, "SF_NOCOMPRESS_MODE"),
    (4, "SF_CRC32_MODE"),
    (8, "SF_HW_SIG"),
    (16, "SF_COMPRESSION_ALG_LZ4"),
)
SF_PLATFORM_MODE = 1
SF_NOCOMPRESS_MODE = 2
SF_CRC32_MODE = 4
SF_HW_SIG = 8
SF_COMPRESSION_ALG_LZ4 = 16


def flag_names(flags: int, table: tuple[tuple[int, str], ...] = SF_FLAGS) -> list[str]:
    """Names of the bits of ``table`` (default: SF_*) set in ``flags``; unknown bits as ``0x..``."""
    names = [name for bit, name in table if flags & bit]
    known = sum(bit for bit, _ in table)
    if flags & ~known:
        names.append(f"{flags & ~known:#x}")
    return names


@record
class SwsuspHeader:
    """``struct swsusp_header`` at the end of the swap area's first page."""

    offset: int  # file offset of the header page
    page_size: int
    sector_size: int  # sizeof(sector_t) on disk
    layout: str  # e.g. "2.6.23+" (flags, crc32, hw_sig slots)
    sig: str
    orig_sig: str
    flags: int | None
    image: int  # first swap-map page, in pages from the start of the device
    crc32: int | None  # None when SF_CRC32_MODE is clear (the slot may hold a stale value)
    hw_sig: int | None  # None when SF_HW_SIG is clear

    @property
    def flag_names(self) -> list[str]:
        return flag_names(self.flags or 0)


@record
class Utsname:
    sysname: str
    nodename: str
    release: str
    version: str
    machine: str
    domainname: str


@record
class ArchRecord:
    """The architecture record overlaying the start of ``swsusp_info`` (x86, arm64, riscv).

    x86 records (arch/x86/power/hibernate.c ``struct restore_data_record``) carry the
    addresses and the e820 checksum; arm64 and riscv (``struct arch_hibernate_hdr``) their own
    fields; a field a record does not have is None (and left out of the JSON).
    """

    name: str  # "x86_64" | "i386" | "arm64" | "riscv64" | "riscv32"
    layout: str  # which kernel era's record
    magic: int | None
    e820_checksum: int | None = json_field(
        default=None, doc="CRC32, or the MD5 digest as an integer (e820_checksum_kind)"
    )
    e820_checksum_kind: str | None = None  # "crc32" | "md5" | None
    jump_address: int | None = None
    jump_address_phys: int | None = None
    cr3: int | None = None
    e820_digest_hex: str | None = json_field(default=None, omit="none")
    # arm64 and riscv: the kernel's uts version string and their own fields
    uts_version: str | None = json_field(default=None, omit="none")
    ttbr1_el1: int | None = json_field(default=None, omit="none")
    reenter_kernel: int | None = json_field(default=None, omit="none")
    hyp_stub_vectors: int | None = json_field(default=None, omit="none")
    sleep_cpu_mpidr: int | None = json_field(default=None, omit="none")
    hartid: int | None = json_field(default=None, omit="none")
    saved_satp: int | None = json_field(default=None, omit="none")
    satp_mode: str | None = json_field(default=None, omit="none")
    page_table_root: int | None = json_field(default=None, omit="none")
    restore_cpu_addr: int | None = json_field(default=None, omit="none")

    @property
    def e820_digest(self) -> bytes | None:
        """The MD5-era record's 16-byte digest (all zero: the kernel had none)."""
        return None if self.e820_digest_hex is None else bytes.fromhex(self.e820_digest_hex)


@record
class SnapshotInfo:
    """``struct swsusp_info`` (stream page 0)."""

    offset: int  # file offset
    word_size: int  # sizeof(long) of the writer
    num_physpages: int
    cpus: int
    image_pages: int
    pages: int
    size: int
    version_code: int
    uts: Utsname | None  # generic header (no arch record)
    arch: ArchRecord | None

    @property
    def meta_pages(self) -> int:
        # load_header(): nr_meta_pages = pages - image_pages - 1
        return self.pages - self.image_pages - 1


@record
class Banner:
    """The ``Linux version ...`` banner found in the saved pages."""

    release: str
    banner: str
    found_at_pfn: int
    physical_address: int


@record
class Crc32Result:
    """The image CRC32 (``swsusp_header.crc32``) and, once verified, the computed one."""

    stored: int | None  # None when SF_CRC32_MODE is clear
    computed: int | None = None  # None until verified
    ok: bool | None = json_field(init=False, default=None)

    def __post_init__(self) -> None:
        ok = None if self.computed is None or self.stored is None else self.computed == self.stored
        object.__setattr__(self, "ok", ok)
