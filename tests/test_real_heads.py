"""Real i386 and arm64 kernels' hibernation images, cut down to their heads.

The full images (Debian 6.1 686-pae and arm64 kernels under QEMU, 16 and 22 MB) are too large to
commit; tests/data/real-heads/make_heads.py keeps the header page, every swap-map page, the
swsusp_info page and the compressed chunks that hold the whole PFN directory (every other chunk
keeps only its ``cmp_len`` word), byte for byte as the kernel wrote them.  See the README there
for provenance.

Expected values come from what the guest kernel printed (samples/<name>/console.log, committed
with the rest of the samples' evidence), from its System.map (System.map-excerpt) and from the
provenance (samples/<name>/provenance.json); the few that neither gives (first/last PFN, cr3,
load address) were read once off the *full* images with ``swsusp-inspect`` and are typed in
below, marked so.
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

HEADS = Path(__file__).resolve().parent / "data" / "real-heads"
# the samples' evidence (console.log, provenance.json) is committed; their images are not
I386 = "deb12-6.1-i386-lzo"
ARM64 = "deb12-6.1-arm64-lzo"

# Read once off the full images (`swsusp-inspect info --json`, PFN directory in stream order)
# and typed in here: the kernel logs none of these.
FULL_IMAGE_FACTS: dict[str, dict[str, Any]] = {
    I386: {"first_pfn": 0x1, "last_pfn": 0x5FD9, "banner_phys": 0x1A2C180, "cr3": 0x30E8000},
    ARM64: {"first_pfn": 0x40210, "last_pfn": 0x4FFFF, "banner_phys": 0x410F3BE0},
}


class Head:
    def __init__(self, name: str) -> None:
        self.dir = HEADS / name
        self.console = (SAMPLES / name / "console.log").read_text(errors="replace")
        self.provenance = provenance(name)
        self.facts = json.loads((self.dir / "heads.json").read_text())
        self.system_map = load_system_map(self.dir / "System.map-excerpt")
        self.image: HibernationImage = open_image(self.dir / "heads.img.xz")

    def logged(self) -> tuple[int, int]:
        """(pages copied, pages written) as the kernel logged them."""
        copied = re.search(r"Image created \((\d+) pages copied\)", self.console)
        written = re.search(r"Compressing and saving image data \((\d+) pages\)", self.console)
        assert copied and written, "console.log lacks the image lines"
        return int(copied.group(1)), int(written.group(1))


@pytest.fixture(scope="module", params=[I386, ARM64])
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
    # the raw bytes, read without the decoders: image at N-24-S, flags at N-24
    raw = head.image.buf
    assert int.from_bytes(raw[0xFE0:0xFE8], "little") == hdr.image
    assert int.from_bytes(raw[0xFE8:0xFEC], "little") == 4


def test_swap_map(head: Head) -> None:
    img = head.image
    assert img.map_pages == tuple(head.facts["map_pages"])
    assert len(img.map_pages) == head.provenance["on_disk"]["swap_map_pages"]
    assert img.entries.size == head.provenance["on_disk"]["map_entries"]
    assert int(img.entries[0]) == head.provenance["on_disk"]["swsusp_info_page"]
    # 511 sector_t entries + next_swap per 4 KiB map page, on i386 as on 64-bit
    assert swapmap.map_page_entries(4096, 8) == 511
    assert img.entries.size <= 511 * len(img.map_pages)


def test_swsusp_info_counts_equal_the_kernel_log(head: Head) -> None:
    copied, written = head.logged()
    info = head.image.info
    assert info.image_pages == copied
    assert info.pages - 1 == written  # swap.c logs snapshot_get_image_size() - 1
    assert info.size == info.pages * 4096
    assert info.cpus == 0 and info.version_code == 0  # arch header: uts/cpus left zero
    word = 4 if head.dir.name == I386 else 8
    assert info.word_size == word == head.provenance["on_disk"]["info_long_bytes"]
    assert info.meta_pages == -(-copied * word // 4096)  # DIV_ROUND_UP(nr_pfns * L, N)


def test_pfn_directory(head: Head) -> None:
    copied, _ = head.logged()
    pd = head.image.pagedir
    facts = FULL_IMAGE_FACTS[head.dir.name]
    assert pd.saved_pfns == copied  # 6.1: no zero-page flag, every PFN has a data page
    assert pd.zero_pages == 0
    assert pd.terminated  # BM_END_OF_MAP after the last PFN
    assert (int(pd.pfns[0]), int(pd.pfns[-1])) == (facts["first_pfn"], facts["last_pfn"])
    assert bool(np.all(np.diff(pd.pfns.astype(np.int64)) > 0))  # bitmap order: ascending


def test_pfn_directory_raw_words(head: Head) -> None:
    """The first metadata page straight from the decompressed chunk: 4-byte PFNs on i386."""
    img = head.image
    page = bytes(img.stream_pages(1, 1))
    word = img.word_size
    first = int.from_bytes(page[:word], "little")
    assert first == FULL_IMAGE_FACTS[head.dir.name]["first_pfn"]
    if head.dir.name == I386:
        # 1024 PFNs per page; 7092 = 6 * 1024 + 948: BM_END_OF_MAP (0xffffffff) in the 7th page
        last = bytes(img.stream_pages(img.meta_pages, 1))
        words = np.frombuffer(last, "<u4")
        assert int(words[948]) == 0xFFFFFFFF
        assert int(words[947]) == FULL_IMAGE_FACTS[I386]["last_pfn"]
        assert not words[949:].any()


def test_i386_restore_record() -> None:
    h = Head(I386)
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
        # static one of acpi/wakeup_32.S listed first); phys = VA - PAGE_OFFSET (0xc0000000)
        assert arch.jump_address == 0xC18BF000 == h.system_map["restore_registers"]
        assert arch.jump_address_phys == 0x018BF000 == arch.jump_address - 0xC0000000
        assert arch.cr3 == FULL_IMAGE_FACTS[I386]["cr3"]
        # e820 CRC32 = zlib.crc32 of the BIOS-e820 table the console printed
        table = load_memory_map(SAMPLES / I386 / "console.log")
        assert arch.e820_checksum == table.checksum_crc32() == 0x19A554FF
        assert h.system_map.matches(arch) is True
        # System.map -> physical: where the reader found the banner in the full image
        assert h.system_map.physical("linux_banner", arch) == FULL_IMAGE_FACTS[I386][
            "banner_phys"] == h.system_map["linux_banner"] - 0xC0000000
    finally:
        h.image.close()


def test_arm64_header() -> None:
    h = Head(ARM64)
    try:
        arch = h.image.info.arch
        assert arch is not None and (arch.name, arch.magic) == ("arm64", None)
        x = arch_extra(arch)
        banner = re.search(r"Linux version (\S+) \(.*\) (#1 .*)$", h.console, re.M)
        assert banner is not None
        assert x["uts_version"] == banner.group(2)  # init_utsname()->version, `uname -v`
        smap = h.system_map
        # ttbr1_el1 = __pa_symbol(swapper_pg_dir): the kernel image starts 2 MiB into RAM
        # (QEMU virt RAM at 0x40000000; read off the full image, like the banner address)
        load = x["ttbr1_el1"] - (smap["swapper_pg_dir"] - smap["_text"])
        assert (x["ttbr1_el1"], load) == (0x41858000, 0x40200000)
        assert smap.physical("linux_banner", arch) == FULL_IMAGE_FACTS[ARM64]["banner_phys"]
        assert smap.physical("swapper_pg_dir", arch) == x["ttbr1_el1"]
        assert x["reenter_kernel"] == smap["_cpu_resume"]  # VA of _cpu_resume (nokaslr)
        assert smap.matches(arch) is True
        assert x["hyp_stub_vectors"] == 0  # booted at EL1 (TCG without virtualization=on)
        assert x["sleep_cpu_mpidr"] == 0
        # the raw bytes: uts_version[65], 7 bytes of padding, then the u64 fields from 72
        info = bytes(h.image.buf[int(h.image.entries[0]) * 4096 :][:104])
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
    assert (d["image_pages"], d["pages"] - 1, d["saved_pfns"]) == (copied, written, copied)
    assert d["arch"]["name"] == ("i386" if head.dir.name == I386 else "arm64")
    assert d["crc32"]["stored"] == int(head.provenance["on_disk"]["crc32"], 16)


def test_system_map_keeps_the_global_symbol() -> None:
    smap = load_system_map(HEADS / I386 / "System.map-excerpt")
    lines = (HEADS / I386 / "System.map-excerpt").read_text().splitlines()
    assert [ln for ln in lines if ln.endswith(" restore_registers")] == [
        "c1055403 t restore_registers", "c18bf000 T restore_registers"]
    assert smap["restore_registers"] == 0xC18BF000
    assert smap.types["restore_registers"] == "T"


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
