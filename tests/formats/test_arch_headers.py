"""Arch records other than x86: riscv, the generic utsname header, arm64 with 16/64 KiB pages,
and System.map -> physical addresses per architecture.

Hexdumps are written by hand from the kernel's struct definitions (offsets worked out from the
C types, never produced by our builders):
    arch/riscv/kernel/hibernate.c (torvalds/linux @42d3b66d; same struct in the 6.4 StarFive
        original): struct arch_hibernate_hdr { struct arch_hibernate_hdr_invariants
        { char uts_version[__NEW_UTS_LEN + 1]; } invariants; unsigned long hartid;
        unsigned long saved_satp; unsigned long restore_cpu_addr; }.
    kernel/power/power.h struct swsusp_info; snapshot.c init_header() without
        CONFIG_ARCH_HIBERNATION_HEADER: memcpy(&info->uts, init_utsname(), ...),
        info->version_code = LINUX_VERSION_CODE.
    arch/arm64/kernel/hibernate.c: struct arch_hibernate_hdr (for the forged arm64 images).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import arch_extra, examples, forge_to, run_cli, unhex
from hypothesis import given, settings
from hypothesis import strategies as st

from swsusp_inspect.forge.kernel import pattern_pages
from swsusp_inspect.formats import snapshot
from swsusp_inspect.image import open_image
from swsusp_inspect.inputs.system_map import load_system_map
from swsusp_inspect.model import ArchRecord
from swsusp_inspect.summary import summarize

HYP = settings(max_examples=examples(40), deadline=None)
u64 = st.integers(0, 2**64 - 1)

# -- riscv ---------------------------------------------------------------------------------------

RISCV64_HDR = """
    # struct arch_hibernate_hdr (arch/riscv/kernel/hibernate.c), RV64: long = 8 bytes
    0000: 23 31 20 53 4d 50 20 44 65 62 69 61 6e 20 36 2e 31 32 2e 33 33 2d 31
    #     0x00: invariants.uts_version[65] = "#1 SMP Debian 6.12.33-1"
    0048: 03 00 00 00 00 00 00 00        # 0x48: hartid = 3 (65 -> 72: 7 bytes of padding)
    0050: 5a 2c 08 00 00 00 00 80        # 0x50: saved_satp = MODE 8 (Sv39) | PPN 0x82c5a
    0058: 00 10 c3 80 ff ff ff ff        # 0x58: restore_cpu_addr = 0xffffffff80c31000
"""

RISCV32_HDR = """
    # the same struct with RV32 longs (4 bytes): 65 -> 68, then 68, 72, 76
    0000: 23 32 20 53 4d 50              # 0x00: uts_version = "#2 SMP"
    0044: 00 00 00 00                    # 0x44: hartid = 0
    0048: 34 12 08 80                    # 0x48: saved_satp = MODE 1 (Sv32) | PPN 0x81234
    004c: 00 20 00 c0                    # 0x4c: restore_cpu_addr = 0xc0002000
"""


def test_riscv64_header_hexdump() -> None:
    arch = snapshot.decode_arch(unhex(4096, RISCV64_HDR), 8)
    assert arch is not None
    assert (arch.name, arch.layout, arch.magic) == ("riscv64", "6.4+", None)
    assert arch_extra(arch) == {
        "uts_version": "#1 SMP Debian 6.12.33-1",
        "hartid": 3,
        "saved_satp": 0x8000000000082C5A,
        "satp_mode": "sv39",
        "page_table_root": 0x82C5A000,
        "restore_cpu_addr": 0xFFFFFFFF80C31000,
    }
    assert arch.jump_address_phys is None and arch.e820_checksum_kind is None


def test_riscv32_header_hexdump() -> None:
    arch = snapshot.decode_arch(unhex(4096, RISCV32_HDR), 4)
    assert arch is not None
    assert arch.name == "riscv32"
    assert (
        arch_extra(arch)["satp_mode"],
        arch_extra(arch)["page_table_root"],
        arch_extra(arch)["restore_cpu_addr"],
    ) == ("sv32", 0x81234000, 0xC0002000)


@pytest.mark.parametrize(("word", "size"), [(8, 96), (4, 80)])
@given(
    version=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=63),
    hartid=st.integers(0, 2**32 - 1),
    mode=st.sampled_from([8, 9, 10]),
    ppn=st.integers(0, 2**44 - 1),
    addr=st.integers(0, 2**32 - 1),
)
@HYP
def test_riscv_header_round_trip(
    word: int, size: int, version: str, hartid: int, mode: int, ppn: int, addr: int
) -> None:
    fmt = snapshot.riscv_hdr_struct(word)
    satp = (mode << 60 | ppn) if word == 8 else (1 << 31 | ppn & 0x3FFFFF)
    obj = {
        "uts_version": ("#" + version).encode().ljust(65, b"\0"),
        "hartid": hartid,
        "saved_satp": satp,
        "restore_cpu_addr": addr,
    }
    data = fmt.build(obj)
    assert fmt.parse(data) == obj
    assert fmt.sizeof() == size == len(data)
    arch = snapshot.decode_arch(data.ljust(394, b"\0"), word)
    assert arch is not None and arch.name == ("riscv64" if word == 8 else "riscv32")
    x = arch_extra(arch)
    assert (x["uts_version"], x["hartid"], x["saved_satp"]) == ("#" + version, hartid, satp)


@given(ttbr=u64, reenter=st.integers(0xFFFF000000000000, 2**64 - 1), hyp=u64, mpidr=u64)
@HYP
def test_arm64_is_never_taken_for_riscv(ttbr: int, reenter: int, hyp: int, mpidr: int) -> None:
    # offset 80 holds reenter_kernel on arm64, a TTBR1 address: top nibble 0xf, no satp.MODE
    data = snapshot.arm64_hdr.build(
        {
            "uts_version": b"#1 SMP".ljust(65, b"\0"),
            "ttbr1_el1": ttbr,
            "reenter_kernel": reenter,
            "__hyp_stub_vectors": hyp,
            "sleep_cpu_mpidr": mpidr,
        }
    )
    arch = snapshot.decode_arch(data.ljust(394, b"\0"), 8)
    assert arch is not None and arch.name == "arm64"


def test_unknown_satp_mode_is_no_riscv_record() -> None:
    page = bytearray(unhex(4096, RISCV64_HDR))
    page[0x57] = 0x10  # satp.MODE 1: reserved on RV64
    arch = snapshot.decode_arch(bytes(page), 8)
    # the same uts_version head then reads as arm64's (whose detection is by that head alone)
    assert arch is None or not arch.name.startswith("riscv")


# -- generic utsname header ----------------------------------------------------------------------

GENERIC_ARM32 = """
    # struct swsusp_info written by init_header() without an arch header (e.g. 32-bit arm,
    # 2.6.24+): uts = init_utsname(), version_code = LINUX_VERSION_CODE; long = 4 bytes
    0000: 4c 69 6e 75 78                 # 0x000: uts.sysname = "Linux"
    0041: 62 65 61 67 6c 65              # 0x041: uts.nodename = "beagle"
    0082: 35 2e 31 30 2e 30 2d 33 30 2d 61 72 6d 6d 70
    #                                      0x082: uts.release = "5.10.0-30-armmp"
    00c3: 23 31 20 53 4d 50 20 44 65 62 69 61 6e 20 35 2e 31 30 2e 32 31 38 2d 31
    #                                      0x0c3: uts.version = "#1 SMP Debian 5.10.218-1"
    0104: 61 72 6d 76 37 6c              # 0x104: uts.machine = "armv7l"
    0145: 28 6e 6f 6e 65 29              # 0x145: uts.domainname = "(none)"
    0188: 00 0a 05 00                    # 0x188: version_code = KERNEL_VERSION(5,10,0)
    018c: 00 00 02 00                    # 0x18c: num_physpages = 0x20000 (512 MiB)
    0190: 00 00 00 00                    # 0x190: cpus = 0 (not set since 2.6.24)
    0194: 10 27 00 00                    # 0x194: image_pages = 0x2710
    0198: 25 27 00 00                    # 0x198: pages = 0x2725 = 0x2710 + 20 meta + 1
    019c: 00 50 72 02                    # 0x19c: size = pages << 12 = 0x2725000
"""


def test_generic_header_hexdump() -> None:
    info = snapshot.decode_info(unhex(4096, GENERIC_ARM32), 0, 4096, 4)
    assert info.arch is None
    assert info.uts is not None
    assert (
        info.uts.sysname,
        info.uts.nodename,
        info.uts.release,
        info.uts.version,
        info.uts.machine,
        info.uts.domainname,
    ) == ("Linux", "beagle", "5.10.0-30-armmp", "#1 SMP Debian 5.10.218-1", "armv7l", "(none)")
    assert (
        info.version_code,
        info.num_physpages,
        info.image_pages,
        info.pages,
        info.meta_pages,
    ) == (0x50A00, 0x20000, 0x2710, 0x2725, 20)


def _uts(sysname: str, release: str, version: str, machine: str) -> bytes:
    fields = [sysname, "host", release, version, machine, "(none)"]
    return b"".join(f.encode().ljust(65, b"\0") for f in fields)


def test_generic_header_in_a_forged_image(tmp_path: Path) -> None:
    uts = _uts("Linux", "6.6.0-loong", "#1 SMP PREEMPT 2024", "loongarch64")
    forged = forge_to(tmp_path, uts=uts, compression="lzo")
    with open_image(forged.path) as img:
        s = summarize(img, find_banner=False)
    assert s.arch is None
    assert s.uts is not None
    assert vars(s.uts) == {
        "sysname": "Linux",
        "nodename": "host",
        "release": "6.6.0-loong",
        "version": "#1 SMP PREEMPT 2024",
        "machine": "loongarch64",
        "domainname": "(none)",
    }
    assert s.kernel_release == "6.6.0-loong"
    out = run_cli("info", "--json", str(forged.path))
    assert out.exit_code == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["kernel"]["release"] == "6.6.0-loong"
    assert d["uts"]["machine"] == "loongarch64"


# -- arm64 with 4, 16 and 64 KiB pages -----------------------------------------------------------

BANNER = (
    b"Linux version 6.1.0-99-arm64 (debian-kernel@lists.debian.org) (gcc-12) "
    b"#1 SMP Debian 6.1.999-1 (2026-01-01)\n\0"
)


def arm64_record(ttbr1: int) -> bytes:
    data: bytes = snapshot.arm64_hdr.build(
        {
            "uts_version": b"#1 SMP Debian 6.1.999-1 (2026-01-01)".ljust(65, b"\0"),
            "ttbr1_el1": ttbr1,
            "reenter_kernel": 0xFFFF8000080320DC,
            "__hyp_stub_vectors": 0,
            "sleep_cpu_mpidr": 0x80000000,
        }
    )
    return data


@pytest.mark.parametrize(
    ("page_size", "compression"),
    [  # LZO at 16 and 64 KiB: -m slow
        pytest.param(p, c, id=f"{c}-{p}", marks=pytest.mark.slow if c == "lzo" and p > 4096 else ())
        for c in ("lzo", "lz4", "none")
        for p in (4096, 16384, 65536)
    ],
)
def test_arm64_page_sizes(tmp_path: Path, page_size: int, compression: str) -> None:
    # RAM from 0x40000000 (QEMU virt); linux_banner at physical 0x410f3be0 as on the real image
    ram = 0x40000000 // page_size
    pfn_arr = np.arange(ram, ram + 70, dtype=np.uint64)
    banner_phys = 0x40000000 + 37 * page_size + 0xBE0
    banner_pfn, banner_off = divmod(banner_phys, page_size)

    def content(p: np.ndarray) -> bytes:
        data = bytearray(pattern_pages(p, page_size))
        for i, pfn in enumerate(p.tolist()):
            if pfn == banner_pfn:
                at = i * page_size + banner_off
                data[at : at + len(BANNER)] = BANNER
        return bytes(data)

    ttbr1 = 0x40000000 + 50 * page_size
    forged = forge_to(
        tmp_path,
        pfns=pfn_arr,
        page_size=page_size,
        compression=compression,
        arch_record=arm64_record(ttbr1),
        content=content,
    )
    with open_image(forged.path) as img:
        assert img.page_size == page_size
        arch = img.info.arch
        assert arch is not None and arch.name == "arm64"
        assert arch_extra(arch)["ttbr1_el1"] == ttbr1
        assert img.pagedir.pfns.tolist() == pfn_arr.tolist()
        assert img.read_page(ram + 5) == pattern_pages(np.array([ram + 5]), page_size)
        result = img.verify()
        assert result.ok and result.stream_pages_read == forged.pages - 1
        s = summarize(img)
        assert s.kernel_release == "6.1.0-99-arm64"  # from the banner in the data pages
        assert s.kernel.banner is not None and s.kernel.physical_address == banner_phys
        # System.map: linux_banner's physical address from ttbr1_el1 = PA of swapper_pg_dir
        smap_path = tmp_path / "System.map"
        text = 0xFFFF800008000000
        smap_path.write_text(
            f"{text:016x} T _text\n"
            f"{text + 50 * page_size:016x} T swapper_pg_dir\n"
            f"{text + 37 * page_size + 0xBE0:016x} D linux_banner\n"
            "ffff8000080320dc T _cpu_resume\n"
        )
        smap = load_system_map(smap_path)
        with_map = summarize(img, system_map=smap)
        assert with_map.kernel.expected_physical_address == banner_phys
        assert with_map.kernel.physical_address == banner_phys
        assert smap.matches(arch) is True


# -- System.map anchors per architecture ---------------------------------------------------------


def _map(tmp_path: Path, lines: str) -> Any:
    path = tmp_path / "System.map"
    path.write_text(lines)
    return load_system_map(path)


def test_x86_anchor_prefers_the_global_symbol(tmp_path: Path) -> None:
    # i386 6.1: a static restore_registers (ACPI S3 wakeup code) is listed before the global
    smap = _map(
        tmp_path,
        "c1055403 t restore_registers\nc18bf000 T restore_registers\nc1a2c180 D linux_banner\n",
    )
    arch = ArchRecord(
        "i386",
        "5.13+ (CRC32 e820 checksum)",
        0x12345679,
        jump_address=0xC18BF000,
        jump_address_phys=0x018BF000,
    )
    assert smap["restore_registers"] == 0xC18BF000
    assert smap.physical("linux_banner", arch) == 0x01A2C180
    assert smap.matches(arch) is True


def test_a_global_listed_first_is_kept(tmp_path: Path) -> None:
    smap = _map(tmp_path, "c18bf000 T restore_registers\nc1055403 t restore_registers\n")
    assert smap["restore_registers"] == 0xC18BF000


def test_x86_anchor_moves_with_kaslr(tmp_path: Path) -> None:
    smap = _map(tmp_path, "ffffffff81a00000 T restore_registers\nffffffff82000100 D linux_banner\n")
    # KASLR: the running kernel sat 0x1e000000 higher, physically at 0x40a00000
    arch = ArchRecord(
        "x86_64",
        "5.13+ (CRC32 e820 checksum)",
        0x23456789ABCDEF02,
        jump_address=0xFFFFFFFF9FA00000,
        jump_address_phys=0x40A00000,
    )
    assert smap.physical("linux_banner", arch) == 0x41000100
    assert smap.matches(arch) is False


def test_no_physical_anchor(tmp_path: Path) -> None:
    smap = _map(
        tmp_path,
        "ffffffff80c31000 T __hibernate_cpu_resume\n"
        "ffffffff81000000 D linux_banner\nffffffff81a00000 T restore_registers\n",
    )
    riscv = snapshot.decode_arch(unhex(4096, RISCV64_HDR), 8)
    assert smap.physical("linux_banner", riscv) is None
    assert smap.matches(riscv) is True
    old_x86 = ArchRecord("x86_64", "2.6.24-4.6", 0x0123456789ABCDEF, jump_address=1, cr3=2)
    assert smap.physical("linux_banner", old_x86) is None
    assert smap.physical("linux_banner", None) is None
    assert smap.matches(None) is None
