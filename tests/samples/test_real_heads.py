"""Real i386, arm64 and KASLR x86_64 kernels' hibernation images, cut down to their heads.

The full images (Debian 6.1 686-pae and arm64 kernels, Debian 6.12 amd64 booted with KASLR on,
under QEMU, 16 to 25 MB) are too large to commit; tests/data/real-heads/make_heads.py keeps the
header page, every swap-map page, the swsusp_info page and the compressed chunks that hold the
whole PFN directory (and, where the sample recorded it, the chunk holding the VMCOREINFO note;
every other chunk keeps only its ``cmp_len`` word), byte for byte as the kernel wrote them.  See
the README there for provenance.

Expected values come from what the guest kernel printed or recorded (samples/<name>/console.log,
dmesg.txt, iomem.txt, vmcoreinfo*.txt, committed with the rest of the samples' evidence), from
its System.map (System.map-excerpt), from the provenance (samples/<name>/provenance.json), and
from the PFN directory as make_heads.py decoded it without the reader (heads.json).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    SAMPLES,
    arch_extra,
    assert_error_line,
    kaslr_offset,
    kernel_code_anchor,
    provenance,
    resume_md5,
    run_cli,
    s2disk_stream_pages,
)

from swsusp_inspect.e820 import load_memory_map
from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats import pagedir, snapshot, swap, swapmap, uswsusp
from swsusp_inspect.image import HibernationImage, open_image
from swsusp_inspect.inputs.system_map import load_system_map
from swsusp_inspect.summary import summarize

HEADS = Path(__file__).resolve().parents[1] / "data" / "real-heads"
# the samples' evidence (console.log, provenance.json) is committed; their images are not
I386 = "deb12-6.1-i386-lzo"
ARM64 = "deb12-6.1-arm64-lzo"
KASLR = "deb13-6.12-kaslr-lzo"  # x86_64, booted without nokaslr
# the page-table variants: i386 without PAE, arm64 with 16 KiB pages (heads present only once
# those samples were made: they are listed by their heads' directories)
NONPAE = "deb12-6.1-i386-nonpae-lzo"
ARM64_16K = "deb13-6.12-arm64-16k-lzo"
SID = "sid-7-lzo"  # 7.2: the current format
KERNEL_HEADS = [I386, ARM64, KASLR, SID] + [n for n in (NONPAE, ARM64_16K)
                                            if (HEADS / n).is_dir()]


class Head:
    def __init__(self, name: str) -> None:
        self.dir = HEADS / name
        self.console = (SAMPLES / name / "console.log").read_text(errors="replace")
        self.provenance = provenance(name)
        self.facts = json.loads((self.dir / "heads.json").read_text())
        self.system_map = load_system_map(self.dir / "System.map-excerpt")
        self.image: HibernationImage = open_image(self.dir / "heads.img.xz")
        # the kernel's page size, as the generator knew it (samples before it recorded one
        # had 4 KiB pages): the reader must find the same from the bytes
        self.page_size: int = self.provenance.get("page_size", 4096)
        assert self.image.page_size == self.page_size

    def logged(self) -> tuple[int, int]:
        """(pages copied, pages written) as the kernel logged them."""
        copied = re.search(r"Image created \((\d+) pages copied", self.console)
        written = re.search(r"Compressing and saving image data \((\d+) pages\)", self.console)
        assert copied and written, "console.log lacks the image lines"
        return int(copied.group(1)), int(written.group(1))

    def zero_pages(self) -> int:
        """All-zero pages the kernel listed without a data page (6.6+ logs them)."""
        m = re.search(r"Image created \(\d+ pages copied(?:, (\d+) zero pages)?\)", self.console)
        assert m, "console.log lacks the 'Image created' line"
        return int(m.group(1) or 0)

    def kernel_code(self) -> int:
        """Physical start of iomem's "Kernel code": __pa_symbol(_text) on x86, of _stext on
        arm64 (arch/*/kernel/setup.c)."""
        iomem = (SAMPLES / self.dir.name / "iomem.txt").read_text()
        m = re.search(r"^\s*([0-9a-f]+)-[0-9a-f]+ : Kernel code$", iomem, re.M)
        assert m, "iomem.txt lacks Kernel code"
        return int(m.group(1), 16)


@pytest.fixture(scope="module", params=KERNEL_HEADS)
def head(request: pytest.FixtureRequest) -> Head:
    h = Head(request.param)
    request.addfinalizer(h.image.close)
    return h


def test_heads_come_from_the_documented_image(head: Head) -> None:
    assert head.facts["full_image_sha256"] == head.provenance["swap_img_sha256"]
    assert head.facts["full_image_bytes"] == head.provenance["swap_img_bytes"]
    assert head.image.file_size == head.provenance["swap_img_bytes"]


def test_header_page(head: Head) -> None:
    hdr = head.image.header
    on_disk = head.provenance["on_disk"]
    assert hdr is not None
    assert (hdr.sig, hdr.orig_sig, hdr.layout, hdr.sector_size) == (
        "S1SUSPEND", "SWAPSPACE2", "2.6.23+", 8)  # 8-byte sector_t on i386 too (5.2+)
    assert hdr.flags == on_disk["flags"] == 4  # SF_CRC32_MODE
    assert hdr.image == on_disk["image"]
    assert hdr.crc32 == int(on_disk["crc32"], 16)
    assert hdr.hw_sig is None
    # the raw bytes, read without the decoders: image at N-24-S, flags at N-24 (N = the
    # kernel's page size: 0xfe0 and 0xfe8 with 4 KiB pages)
    raw = head.image.buf
    n = head.page_size
    assert int.from_bytes(raw[n - 32 : n - 24], "little") == hdr.image
    assert int.from_bytes(raw[n - 24 : n - 20], "little") == 4


def test_swap_map(head: Head) -> None:
    img = head.image
    assert img.map_pages == tuple(head.facts["map_pages"])
    assert len(img.map_pages) == head.provenance["on_disk"]["swap_map_pages"]
    assert img.entries.size == head.provenance["on_disk"]["map_entries"]
    assert int(img.entries[0]) == head.provenance["on_disk"]["swsusp_info_page"]
    # N / 8 - 1 sector_t entries + next_swap per map page (511 in 4 KiB), on i386 as on 64-bit
    per = head.page_size // 8 - 1
    assert swapmap.map_page_entries(head.page_size, 8) == per
    assert img.entries.size <= per * len(img.map_pages)


def test_swsusp_info_counts_equal_the_kernel_log(head: Head) -> None:
    copied, written = head.logged()
    info = head.image.info
    assert info.image_pages == copied
    assert info.pages - 1 == written  # swap.c logs snapshot_get_image_size() - 1
    assert info.size == info.pages * head.page_size
    assert info.cpus == 0 and info.version_code == 0  # arch header: uts/cpus left zero
    word = 4 if head.provenance["arch"] == "i386" else 8
    assert info.word_size == word == head.provenance["on_disk"]["info_long_bytes"]
    listed = copied + head.zero_pages()  # 6.6+ lists zero pages too
    # DIV_ROUND_UP(nr_pfns * L, N)
    assert info.meta_pages == -(-listed * word // head.page_size)


def test_pfn_directory(head: Head) -> None:
    copied, _ = head.logged()
    zero = head.zero_pages()
    pd = head.image.pagedir
    assert pd.saved_pfns == copied + zero == head.facts["pfns_listed"]
    assert pd.zero_pages == zero == head.facts["zero_pages"]  # 6.1: no zero-page flag
    # BM_END_OF_MAP after the last PFN, unless the PFNs fill the last page exactly
    assert pd.terminated is bool(pd.saved_pfns * head.image.word_size % head.page_size)
    # first and last as make_heads.py decoded them from the same bytes without the reader
    assert (int(pd.pfns[0]), int(pd.pfns[-1])) == (head.facts["first_pfn"],
                                                   head.facts["last_pfn"])
    assert bool(np.all(np.diff(pd.pfns.astype(np.int64)) > 0))  # bitmap order: ascending


def test_pfn_directory_raw_words(head: Head) -> None:
    """The metadata pages straight from the decompressed chunk: 4-byte PFNs on i386."""
    img = head.image
    page = bytes(img.stream_pages(1, 1))
    word = img.word_size
    flag = 1 << (8 * word - 1)  # ENCODED_PFN_ZERO_FLAG (6.6+)
    first = int.from_bytes(page[:word], "little")
    assert first & ~flag == head.facts["first_pfn"]
    # N / word PFNs per page; BM_END_OF_MAP (~0) right after the last one
    listed = head.facts["pfns_listed"]
    per_page = head.page_size // word
    last = bytes(img.stream_pages(img.meta_pages, 1))
    words = np.frombuffer(last, "<u4" if word == 4 else "<u8")
    at = listed % per_page
    assert at and int(words[at]) == (1 << 8 * word) - 1
    assert int(words[at - 1]) & ~flag == head.facts["last_pfn"]
    assert not words[at + 1 :].any()


@pytest.mark.parametrize("name", [n for n in KERNEL_HEADS if n in (I386, NONPAE)])
def test_i386_restore_record(name: str) -> None:
    h = Head(name)
    pae = h.provenance["kernel_release"].endswith("-pae")  # 686-pae or 686
    try:
        arch = h.image.info.arch
        assert arch is not None
        assert (arch.name, arch.layout, arch.magic) == ("i386", "5.13+ (CRC32 e820 checksum)",
                                                        0x12345679)
        # five 4-byte fields at 0, 4, 8, 12, 16 of swsusp_info (the raw bytes)
        info = h.image.buf[int(h.image.entries[0]) * 4096 :][:20]
        fields = [int.from_bytes(info[i : i + 4], "little") for i in range(0, 20, 4)]
        assert fields == [arch.jump_address, arch.jump_address_phys, arch.cr3, 0x12345679,
                          arch.e820_checksum]
        # jump_address = restore_registers (the global T symbol of hibernate_asm_32.S, not the
        # static one of acpi/wakeup_32.S listed first); phys = VA - PAGE_OFFSET (0xc0000000,
        # the 3G/1G split), which is also where iomem's "Kernel code" puts it
        assert arch.jump_address == h.system_map["restore_registers"]
        assert arch.jump_address_phys == arch.jump_address - 0xC0000000
        assert arch.jump_address_phys == h.kernel_code() + arch.jump_address - h.system_map[
            "_text"]
        # cr3: the page tables of the task that hibernated, saved like any page (PAE: the
        # 32-byte-aligned PDPT; without PAE: the page directory, a whole page)
        assert arch.cr3 % (32 if pae else 4096) == 0
        assert arch.cr3 >> 12 in set(h.image.pagedir.pfns.tolist())
        # e820 CRC32 = zlib.crc32 of the BIOS-e820 table the console printed
        table = load_memory_map(SAMPLES / name / "console.log")
        assert arch.e820_checksum == table.checksum_crc32()
        assert h.system_map.matches(arch) is True
        # System.map -> physical: lowmem is mapped at PAGE_OFFSET
        assert h.system_map.physical("linux_banner", arch) == h.system_map[
            "linux_banner"] - 0xC0000000
    finally:
        h.image.close()


@pytest.mark.parametrize("name", [n for n in KERNEL_HEADS if n in (ARM64, ARM64_16K)])
def test_arm64_header(name: str) -> None:
    h = Head(name)
    try:
        arch = h.image.info.arch
        assert arch is not None and (arch.name, arch.magic) == ("arm64", None)
        x = arch_extra(arch)
        banner = re.search(r"Linux version (\S+) \(.*\) (#1 .*)$", h.console, re.M)
        assert banner is not None
        assert x["uts_version"] == banner.group(2)  # init_utsname()->version, `uname -v`
        smap = h.system_map
        # ttbr1_el1 = __pa_symbol(swapper_pg_dir); iomem's "Kernel code" starts at _stext
        # (6.1) or _text (later)
        code = h.kernel_code()
        anchor = kernel_code_anchor(
            "arm64", (SAMPLES / name / "iomem.txt").read_text(), smap.symbols)
        assert x["ttbr1_el1"] == code + smap["swapper_pg_dir"] - smap[anchor]
        assert smap.physical("linux_banner", arch) == code + smap["linux_banner"] - smap[
            anchor]
        assert smap.physical("swapper_pg_dir", arch) == x["ttbr1_el1"]
        # VA of _cpu_resume, slid by KASLR where it is on
        assert x["reenter_kernel"] == smap["_cpu_resume"] + kaslr_offset(h.provenance)
        assert smap.matches(arch) is True
        assert x["hyp_stub_vectors"] == 0  # booted at EL1 (TCG without virtualization=on)
        assert x["sleep_cpu_mpidr"] == 0
        # the raw bytes: uts_version[65], 7 bytes of padding, then the u64 fields from 72
        info = bytes(h.image.buf[int(h.image.entries[0]) * h.page_size :][:104])
        assert info[: len(banner.group(2)) + 1] == banner.group(2).encode() + b"\0"
        assert info[65:72] == bytes(7)
        assert int.from_bytes(info[72:80], "little") == x["ttbr1_el1"]
        # no e820 on arm64; the record is recognised before any x86 magic could be
        assert snapshot.decode_arch(info.ljust(394, b"\0"), 8) == arch
        # release: the image header has none; it comes from the banner (data pages) only
        assert banner.group(1) == h.provenance["kernel_release"]
    finally:
        h.image.close()


def test_summary_without_data_pages(head: Head) -> None:
    s = summarize(head.image, find_banner=False)
    d = s.to_dict()
    copied, written = head.logged()
    assert (d["image_pages"], d["pages"] - 1, d["saved_pfns"]) == (
        copied, written, copied + head.zero_pages())
    assert d["arch"]["name"] == {"i386": "i386", "arm64": "arm64", "amd64": "x86_64"}[
        head.provenance["arch"]]
    assert d["crc32"]["stored"] == int(head.provenance["on_disk"]["crc32"], 16)


def test_system_map_keeps_the_global_symbol() -> None:
    """i386 has a static ``t restore_registers`` (acpi/wakeup_32.S) listed before the global
    ``T`` one the restore record points to: the loader keeps the global one."""
    smap = load_system_map(HEADS / I386 / "System.map-excerpt")
    lines = (HEADS / I386 / "System.map-excerpt").read_text().splitlines()
    found = [ln.split() for ln in lines if ln.endswith(" restore_registers")]
    assert [kind for _a, kind, _n in found] == ["t", "T"]
    assert smap["restore_registers"] == int(found[1][0], 16) != int(found[0][0], 16)
    assert smap.types["restore_registers"] == "T"
    h = Head(I386)
    try:
        assert h.image.info.arch is not None
        assert h.image.info.arch.jump_address == smap["restore_registers"]
    finally:
        h.image.close()


def test_kaslr_restore_record() -> None:
    """KASLR on: the record's addresses are System.map's slid by the offset the guest's
    kallsyms gave, and its physical address is where iomem and VMCOREINFO's phys_base put it."""
    h = Head(KASLR)
    try:
        arch = h.image.info.arch
        smap = h.system_map
        offset = kaslr_offset(h.provenance)
        assert offset != 0 and not h.provenance["nokaslr"]
        assert arch is not None and arch.name == "x86_64"
        rr = smap["restore_registers"]
        assert arch.jump_address == rr + offset
        assert smap.matches(arch) is False  # the map's address is the unslid one
        # __pa_symbol(x) = x - __START_KERNEL_map + phys_base (VMCOREINFO NUMBER(phys_base),
        # printed signed); iomem's "Kernel code" starts at __pa_symbol(_text)
        note = (SAMPLES / KASLR / "vmcoreinfo-note.txt").read_text()
        m = re.search(r"^NUMBER\(phys_base\)=(-?\d+)$", note, re.M)
        assert m is not None
        assert arch.jump_address_phys == arch.jump_address - 0xFFFFFFFF80000000 + int(m.group(1))
        assert arch.jump_address_phys == h.kernel_code() + rr - smap["_text"]
        # the reader places kernel symbols from that anchor: right under KASLR too
        assert smap.physical("linux_banner", arch) == h.kernel_code() + smap[
            "linux_banner"] - smap["_text"]
        table = load_memory_map(SAMPLES / KASLR / "dmesg.txt")
        assert arch.e820_checksum == table.checksum_crc32()
    finally:
        h.image.close()


@pytest.mark.parametrize("name", [p.name for p in sorted(HEADS.iterdir())
                                  if (p / "heads.json").is_file()
                                  and "vmcoreinfo_note" in json.loads(
                                      (p / "heads.json").read_text())])
def test_vmcoreinfo_note_in_the_head(name: str) -> None:
    """The chunk holding the VMCOREINFO note was kept: at the physical address the guest's
    /sys/kernel/vmcoreinfo gave, the reader finds the ELF note with the text the guest read
    through /proc/kcore."""
    h = Head(name)
    try:
        addr, _size = (SAMPLES / name / "vmcoreinfo.txt").read_text().split()
        at = int(addr, 16)
        assert h.facts["vmcoreinfo_note"]["phys_addr"] == at
        n = h.page_size
        assert at // n in h.facts["vmcoreinfo_note"]["pfns_saved"]
        page = h.image.read_page(at // n)
        off = at % n
        namesz, descsz, ntype = (int.from_bytes(page[off + i : off + i + 4], "little")
                                 for i in (0, 4, 8))
        assert (page[off + 12 : off + 12 + namesz], ntype) == (b"VMCOREINFO\0", 0)
        text = (SAMPLES / name / "vmcoreinfo-note.txt").read_bytes()
        assert page[off + 24 : off + 24 + descsz].rstrip(b"\0") == text
        if b"\nKERNELOFFSET=" in text:  # x86_64 and arm64 write it (i386 does not)
            assert f"\nKERNELOFFSET={kaslr_offset(h.provenance):x}\n".encode() in text
    finally:
        h.image.close()


def test_header_decoders_on_raw_bytes() -> None:
    """The format-level decoders on the heads, without HibernationImage."""
    import lzma

    raw = lzma.decompress((HEADS / I386 / "heads.img.xz").read_bytes())
    hdr = swap.decode_header(raw, 0, 4096)
    smap = swapmap.walk(raw, hdr.image, 4096)
    info = snapshot.decode_info(raw, int(smap.entries[0]) * 4096, 4096, 4)
    copied, written = _console_only(I386).logged()
    assert (info.image_pages, info.pages - 1) == (copied, written)
    # with 8-byte longs the same page is no swsusp_info: counts land elsewhere
    with pytest.raises(FormatError):
        snapshot.decode_info(raw, int(smap.entries[0]) * 4096, 4096, 8)


def _console_only(name: str) -> Head:
    h = Head.__new__(Head)
    h.console = (SAMPLES / name / "console.log").read_text(errors="replace")
    return h


# -- uswsusp: real s2disk images ---------------------------------------------------------------

USWSUSP = "deb12-6.1-uswsusp-lzo"
USWSUSP_ENC = "deb12-6.1-uswsusp-lzo-encrypted"
USWSUSP_RSA = "deb12-6.1-uswsusp-lzo-rsa"
USWSUSP_I386 = "deb12-6.1-i386-uswsusp-lzo"
USWSUSP_I386_ENC = "deb12-6.1-i386-uswsusp-lzo-encrypted"


class UswsuspHead:
    """A real s2disk image's head: swap header, image_header_info, extents page and the two
    LZO blocks holding swsusp_info and the PFN directory (the plain image's other blocks keep
    their size word; the encrypted image's are zeroed)."""

    def __init__(self, name: str) -> None:
        import lzma

        self.name = name
        self.dir = HEADS / name
        self.sample = SAMPLES / name
        self.raw = lzma.decompress((self.dir / "heads.img.xz").read_bytes())
        self.facts = json.loads((self.dir / "heads.json").read_text())
        self.provenance = provenance(name)
        self.passphrase: str | None = self.provenance.get("passphrase")
        self.word = 4 if self.provenance["arch"] == "i386" else 8  # s2disk's and the kernel's
        self.console = (self.sample / "console.log").read_text(errors="replace")
        self.resume_log = (self.sample / "resume.log").read_text(errors="replace")
        # the swap area mkswap made (union swap_header: u32 last_page at 0x404); the dump is
        # trimmed, and s2disk's extents reach past its end
        self.device_bytes = (int.from_bytes(self.raw[0x404:0x408], "little") + 1) * 4096
        assert self.device_bytes == self.provenance["swap_disk_mib"] << 20

    def logged(self) -> tuple[int, int]:
        """(pages the kernel copied, stream pages s2disk read from /dev/snapshot)."""
        copied = re.search(r"Image created \((\d+) pages copied\)", self.console)
        assert copied
        return int(copied.group(1)), s2disk_stream_pages(self.console)

    def header(self) -> Any:
        return uswsusp.decode_image_header_info(self.raw, self.facts["image_byte_offset"], 4096,
                                                self.device_bytes)

    def stream_head(self) -> bytes:
        """The buffers kept whole (32 stream pages each: swsusp_info and the PFN directory),
        decrypted and decompressed lazily."""
        blocks = uswsusp.stream_blocks(self.raw, self.header(), 4096, self.device_bytes,
                                       self.passphrase)
        return b"".join(next(blocks) for _ in range(self.facts["blocks_kept_whole"]))


@pytest.fixture(scope="module",
                params=[USWSUSP, USWSUSP_ENC, USWSUSP_RSA, USWSUSP_I386, USWSUSP_I386_ENC])
def ushead(request: pytest.FixtureRequest) -> UswsuspHead:
    return UswsuspHead(request.param)


def test_uswsusp_head_comes_from_the_documented_image(ushead: UswsuspHead) -> None:
    assert ushead.facts["full_image_sha256"] == ushead.provenance["swap_img_sha256"]
    assert len(ushead.raw) == ushead.provenance["swap_img_bytes"]
    assert ushead.provenance["writer"] == "uswsusp"


def test_uswsusp_headers_on_real_bytes(ushead: UswsuspHead) -> None:
    h = ushead
    tail = uswsusp.swsusp_header_struct(4096).parse(h.raw[:4096])
    assert (tail.sig, tail.orig_sig) == (b"ULSUSPEND\0", b"SWAPSPACE2")
    assert tail.image == h.provenance["on_disk"]["image_byte_offset"]
    hdr = h.header()
    flags = ["IMAGE_CHECKSUM", "IMAGE_COMPRESSED"]
    if h.passphrase is None:  # s2disk built without --enable-encrypt: 64 bytes (i386: 52)
        assert (hdr.word_size, hdr.encrypt_layout, hdr.size, hdr.encryption) == (
            h.word, False, 64 if h.word == 8 else 52, None)
    else:  # built --enable-encrypt: salt, RSA data and key slot make it 2432 bytes
        rsa = h.provenance.get("rsa_key") is not None
        assert (hdr.word_size, hdr.encrypt_layout, hdr.size, hdr.encryption) == (
            h.word, True, 2432 if h.word == 8 else 2416,
            "blowfish-cfb/rsa" if rsa else "blowfish-cfb/passphrase")
        flags += ["IMAGE_ENCRYPTED"] + (["IMAGE_USE_RSA"] if rsa else [])
        assert "encrypt = y" in h.provenance["suspend_conf"]
        if rsa:
            # s2disk copied the key file suspend-keygen wrote (struct RSA_data) into the
            # header, right after checksum[16] and salt[8]
            key = (h.sample / "suspend.key").read_bytes()
            assert hashlib.sha256(key).hexdigest() == h.provenance["rsa_key"]["sha256"]
            at = h.facts["image_byte_offset"] + 56
            assert h.raw[at : at + len(key)] == key
            assert hdr.rsa is not None and hdr.rsa["field"] == list("nedpqu")
    assert uswsusp.flag_names(hdr.flags) == flags
    _copied, stream_pages = h.logged()
    assert hdr.pages == stream_pages
    # the MD5 that suspend-utils' resume printed when it loaded the full image
    assert hdr.checksum.hex() == resume_md5(h.resume_log)
    assert hdr.map_start == h.provenance["on_disk"]["map_start"] == tail.image + 4096
    assert hdr.image_data_size == h.provenance["on_disk"]["image_data_size"]


def test_uswsusp_stream_inside_is_the_kernels(ushead: UswsuspHead) -> None:
    """Decrypted (Blowfish-CFB under the sample's passphrase) and decompressed, the first two
    buffers are the kernel's swsusp_info and PFN directory, as the kernel logged them."""
    h = ushead
    stream = h.stream_head()
    assert len(stream) == h.facts["blocks_kept_whole"] * 32 * 4096  # full 32-page buffers
    info = snapshot.decode_info(stream, 0, 4096, h.word)
    copied, stream_pages = h.logged()
    assert (info.image_pages, info.pages) == (copied, stream_pages)
    arch = info.arch
    assert arch is not None and arch.e820_checksum_kind == "crc32"
    assert arch.name == ("x86_64" if h.word == 8 else "i386")
    assert arch.e820_checksum == load_memory_map(h.sample / "dmesg.txt").checksum_crc32()
    assert arch.jump_address == load_system_map(h.dir / "System.map-excerpt")[
        "restore_registers"]
    # the PFN directory: every saved PFN once; the guest's marker pages among them
    meta = info.pages - info.image_pages - 1
    assert 1 + meta <= len(stream) // 4096
    pd = pagedir.decode(np.frombuffer(stream[4096 : (1 + meta) * 4096], np.uint8), h.word,
                        info.image_pages)
    assert pd.saved_pfns == copied and not pd.zero.any()
    markers = json.loads((h.sample / "markers.json").read_text())["markers"]
    assert {m["pfn"] for m in markers} <= set(pd.pfns.tolist())


def test_uswsusp_wrong_passphrase_is_named() -> None:
    h = UswsuspHead(USWSUSP_ENC)  # passphrase mode: only the data can tell
    with pytest.raises(FormatError, match=r"wrong passphrase\?"):
        next(uswsusp.stream_blocks(h.raw, h.header(), 4096, h.device_bytes, "not it"))
    h = UswsuspHead(USWSUSP_RSA)  # RSA mode: the key's key_test tells, before any data
    with pytest.raises(FormatError, match=r"key_test: .*: wrong passphrase$"):
        next(uswsusp.stream_blocks(h.raw, h.header(), 4096, h.device_bytes, "not it"))


def test_uswsusp_head_opens_to_one_error_line(ushead: UswsuspHead) -> None:
    # past the two blocks kept, the head's data is zeroed: the reader names the first block
    # it cannot read, at the first data page not kept
    h = ushead
    offsets, _ = uswsusp.data_offsets(h.raw, h.header().map_start,
                                      h.header().image_data_size // 4096, 4096, h.device_bytes)
    kept = set(h.facts["pages_kept_whole"])
    at = next(o for o in offsets.tolist() if o // 4096 not in kept)
    path = h.dir / "heads.img.xz"
    with pytest.raises(FormatError) as exc:
        open_image(path, passphrase=h.passphrase)
    block = f"buf_block {h.facts['blocks_kept_whole']}"
    assert (exc.value.structure, exc.value.offset) == (block, at)
    args = ["info", str(path)] + (["--passphrase", h.passphrase] if h.passphrase else [])
    r = run_cli(*args)
    assert_error_line(r, block, f"{at:#x}")
    # the blocks before it decoded, so the passphrase is right: no hint that it is not
    assert "passphrase" not in r.stderr
