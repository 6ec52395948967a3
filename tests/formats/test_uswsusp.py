"""uswsusp (suspend-utils s2disk) images: header layouts, extents, LZO blocks, MD5, encryption.

Hexdumps are transcribed by hand from suspend-utils' headers (bircoph/suspend @84d75e60,
2020-09-24, the 1.0 format of 0.8+; offsets worked out from the C types with gcc's x86_64 and
i386 alignment rules, never produced by our builders):
    swsusp.h   struct swsusp_header { loff_t image; char orig_sig[10]; char sig[10]; } packed
               struct image_header_info { unsigned long pages; uint32_t flags; loff_t map_start;
                   loff_t image_data_size; unsigned char checksum[16];
                   #ifdef CONFIG_ENCRYPT unsigned char salt[8]; struct RSA_data rsa;
                   struct encrypted_key key; #endif double writeout_time; int resume_pause; }
               struct extent { loff_t start; loff_t end; }
               struct buf_block { size_t size; char data[1]; } packed
    encrypt.h  struct RSA_data { char field[6][2]; unsigned short size[6];
                   unsigned char key_test[8]; unsigned char data[1808]; }   (1840 bytes)
               struct encrypted_key { size_t size; unsigned char data[512]; }
Everything else about the kernel stream inside is built with the kernel-format builders, which
have hexdumps of their own in test_structs.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import lzma
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import assert_error_line, examples, run_cli, slow_but, unhex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsusp_inspect.errors import FormatError, SwsuspError
from swsusp_inspect.forge import uswsusp as forge_uswsusp
from swsusp_inspect.forge.kernel import pattern_pages
from swsusp_inspect.formats import pagedir, snapshot, uswsusp
from swsusp_inspect.image import open_image
from swsusp_inspect.model import to_data
from swsusp_inspect.summary import summarize

N = 4096
HYP = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def kernel_stream(pfn_arr: np.ndarray, word: int = 8, page_size: int = N) -> bytes:
    """A /dev/snapshot stream as the kernel's snapshot_read_next() yields it."""
    meta = pagedir.build(pfn_arr, None, word, page_size)
    pages = 1 + len(meta) // page_size + pfn_arr.size
    record = snapshot.build_restore_record(
        "5.13+ (CRC32 e820 checksum)", word, jump_address_phys=0x1000000
    )
    info = snapshot.build_info(
        page_size=page_size,
        num_physpages=0x8000,
        image_pages=int(pfn_arr.size),
        pages=pages,
        arch_record=record,
        word_size=word,
    )
    return info + meta + pattern_pages(pfn_arr, page_size)


PFNS = np.arange(0x100, 0x100 + 300, dtype=np.uint64)  # 300 data pages: 10 buffers of 32


def write(tmp_path: Path, built: forge_uswsusp.Built, name: str = "swap.img") -> Path:
    path = tmp_path / name
    path.write_bytes(built.data)
    return path


# -- struct sizes and round trips ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "encrypt", "size", "offsets"),
    [
        (
            8,
            False,
            64,
            {
                "flags": 8,
                "map_start": 16,
                "image_data_size": 24,
                "checksum": 32,
                "writeout_time": 48,
                "resume_pause": 56,
            },
        ),
        (
            8,
            True,
            2432,
            {
                "flags": 8,
                "map_start": 16,
                "image_data_size": 24,
                "checksum": 32,
                "salt": 48,
                "rsa": 56,
                "key": 1896,
                "writeout_time": 2416,
                "resume_pause": 2424,
            },
        ),
        (
            4,
            False,
            52,
            {
                "flags": 4,
                "map_start": 8,
                "image_data_size": 16,
                "checksum": 24,
                "writeout_time": 40,
                "resume_pause": 48,
            },
        ),
        (
            4,
            True,
            2416,
            {
                "flags": 4,
                "map_start": 8,
                "image_data_size": 16,
                "checksum": 24,
                "salt": 40,
                "rsa": 48,
                "key": 1888,
                "writeout_time": 2404,
                "resume_pause": 2412,
            },
        ),
    ],
)
def test_image_header_info_layouts(
    word: int, encrypt: bool, size: int, offsets: dict[str, int]
) -> None:
    st_ = uswsusp.image_header_info_struct(word, encrypt)
    assert st_.sizeof() == size
    # each field where gcc puts it: build with one field set to a marker, find the marker
    base: dict[str, Any] = {
        "pages": 0,
        "flags": 0,
        "map_start": 0,
        "image_data_size": 0,
        "checksum": bytes(16),
        "writeout_time": 0.0,
        "resume_pause": 0,
    }
    if encrypt:
        base.update(
            salt=bytes(8),
            rsa={
                "field": [b"\0\0"] * 6,
                "size": [0] * 6,
                "key_test": bytes(8),
                "data": bytes(1808),
            },
            key={"size": 0, "data": bytes(512)},
        )
    markers = {
        "flags": 0x1F,
        "map_start": 0x7E57000,
        "image_data_size": 0x7E57000,
        "checksum": b"\xc5" * 16,
        "writeout_time": 2.5,
        "resume_pause": 0x3C,
        "salt": b"\xc5" * 8,
    }
    for name, off in offsets.items():
        obj = dict(base)
        if name == "rsa":
            obj["rsa"] = dict(base["rsa"], field=[b"n\0"] + [b"\0\0"] * 5)
            assert st_.build(obj).index(b"n") == off
            continue
        if name == "key":
            obj["key"] = {"size": 0x1F, "data": bytes(512)}
            assert st_.build(obj).index(b"\x1f") == off
            continue
        obj[name] = markers[name]
        data = st_.build(obj)
        assert st_.parse(data)[name] == markers[name]
        first = next(i for i, b in enumerate(data) if b)
        want = {"writeout_time": 6, "map_start": 1, "image_data_size": 1}.get(name, 0)
        assert first == off + want, name  # 2.5 = 0x4004000000000000; 0x7e57000 = 00 70 e5 07


@given(size=st.integers(1, 3000), word=st.sampled_from([4, 8]))
@HYP
def test_buf_block_round_trip(size: int, word: int) -> None:
    fmt = uswsusp.buf_block_struct(word)
    data = bytes(range(256)) * (size // 256 + 1)
    built = fmt.build({"data": data[:size]})
    assert built[:word] == size.to_bytes(word, "little")  # Rebuild fills size_t
    assert fmt.parse(built).data == data[:size]
    assert len(built) == word + size  # packed: no padding after size_t


@pytest.mark.parametrize("page_size", [4096, 16384, 65536])
def test_extents_page_round_trip(page_size: int) -> None:
    fmt = uswsusp.extents_page_struct(page_size)
    assert fmt.sizeof() == page_size
    slots = page_size // 16 - 1
    obj = {
        "extents": [
            {"start": (2 * i + 1) * page_size, "end": (2 * i + 2) * page_size} for i in range(slots)
        ],
        "next": 0x123 * page_size,
    }
    data = fmt.build(obj)
    parsed = fmt.parse(data)
    assert parsed.next == obj["next"]
    assert [(e.start, e.end) for e in parsed.extents] == [
        (e["start"], e["end"]) for e in obj["extents"]
    ]
    assert int.from_bytes(data[page_size - 16 : page_size - 8], "little") == obj["next"]


# -- hand-written hexdumps ----------------------------------------------------------------------

SWAP_TAIL = """
    # union swap_header kept by mark_swap() (it rewrites only the last 28 bytes)
    0400: 01 00 00 00                    # 0x400: info.version = 1
    0404: 07 00 00 00                    # 0x404: info.last_page = 7 (an 8-page device)
    # struct swsusp_header (swsusp.h), packed, at (resume_offset + 1) * 4096 - 28
    0fe4: 00 10 00 00 00 00 00 00        # 0xfe4: loff_t image = 0x1000 (bytes, not pages)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0xfec: orig_sig[10] = "SWAPSPACE2"
    0ff6: 55 4c 53 55 53 50 45 4e 44 00  # 0xff6: sig[10] = SWSUSP_SIG "ULSUSPEND\\0"
"""

HEADER_X86_64 = """
    # struct image_header_info, s2disk without CONFIG_ENCRYPT, x86_64 (64 bytes)
    1000: 03 00 00 00 00 00 00 00        # 0x00: unsigned long pages = 3 (whole stream)
    1008: 01 00 00 00                    # 0x08: uint32_t flags = IMAGE_CHECKSUM
    #                                      0x0c: 4 bytes of padding (loff_t is 8-aligned)
    1010: 00 20 00 00 00 00 00 00        # 0x10: loff_t map_start = 0x2000
    1018: 00 30 00 00 00 00 00 00        # 0x18: loff_t image_data_size = 0x3000 (3 pages)
    #                                      0x20: checksum[16]: MD5, filled in by the test
    1030: 00 00 00 00 00 00 04 40        # 0x30: double writeout_time = 2.5
    1038: 07 00 00 00                    # 0x38: int resume_pause = 7
    # extents page at map_start: struct extent { loff_t start; loff_t end; } x 255 + next
    2000: 00 30 00 00 00 00 00 00        # extents[0].start = 0x3000
    2008: 00 40 00 00 00 00 00 00        # extents[0].end   = 0x4000 (exclusive)
    2010: 00 60 00 00 00 00 00 00        # extents[1].start = 0x6000
    2018: 00 80 00 00 00 00 00 00        # extents[1].end   = 0x8000
    #                                      extents[2] = {0, 0}: end of this page's list
    2ff0: 00 00 00 00 00 00 00 00        # slot 255 .start = next extents page: 0, none
"""


def test_whole_image_hexdump(tmp_path: Path) -> None:
    """Device pages 0-7: header, image_header_info, extents, and the stream in the pool
    {0x3000}, {0x6000, 0x7000}; 0x4000-0x5fff belong to no extent."""
    pfn_arr = np.array([0x1234], np.uint64)
    stream = kernel_stream(pfn_arr)  # swsusp_info, 1 metadata page, 1 data page
    assert len(stream) == 3 * N
    dev = bytearray(unhex(8 * N, SWAP_TAIL + HEADER_X86_64))
    dev[0x1020:0x1030] = hashlib.md5(stream).digest()  # checksum[16] at 0x20
    dev[0x3000:0x4000] = stream[:N]
    dev[0x6000:0x8000] = stream[N:]
    dev[0x4000:0x6000] = b"\xee" * 2 * N  # outside the pool: never read
    path = tmp_path / "hexdump.img"
    path.write_bytes(bytes(dev))
    with open_image(path) as img:
        assert (img.container, img.era, img.page_size) == ("stream", "uswsusp", N)
        assert img.info.pages == 3 and img.info.image_pages == 1
        assert img.pagedir.pfns.tolist() == [0x1234]
        assert img.read_page(0x1234) == pattern_pages(pfn_arr, N)
        d = to_data(img.details)
        assert (
            d["signature"],
            d["orig_sig"],
            d["image"],
            d["map_start"],
            d["image_data_size"],
            d["pages"],
        ) == ("ULSUSPEND", "SWAPSPACE2", 0x1000, 0x2000, 0x3000, 3)
        assert d["header_layout"] == "x86_64 without CONFIG_ENCRYPT (64 bytes)"
        assert (d["flags"], d["flag_names"], d["compression"], d["encryption"]) == (
            1,
            ["IMAGE_CHECKSUM"],
            "none",
            None,
        )
        assert (d["writeout_time"], d["resume_pause"], d["extents_pages"]) == (2.5, 7, [0x2000])
        assert d["checksum"] == {
            "kind": "md5",
            "stored": hashlib.md5(stream).hexdigest(),
            "computed": hashlib.md5(stream).hexdigest(),
            "ok": True,
        }
        assert img.verify().ok
    # one changed byte of the data page: the MD5 no longer matches, verify says so
    dev[0x7000] ^= 0xFF
    path.write_bytes(bytes(dev))
    with open_image(path) as img:
        assert img.details.checksum.ok is False
        assert img.verify().ok is False


HEADER_I386_ENCRYPT = """
    # struct image_header_info, s2disk with CONFIG_ENCRYPT, i386 (2416 bytes: loff_t and
    # double are 4-byte aligned in i386 structs, so no padding after flags)
    0000: 34 12 00 00                    # 0x000: unsigned long pages = 0x1234
    0004: 17 00 00 00                    # 0x004: flags = CHECKSUM|COMPRESSED|ENCRYPTED|PLATFORM
    0008: 00 20 00 00 00 00 00 00        # 0x008: loff_t map_start = 0x2000
    0010: 00 50 02 00 00 00 00 00        # 0x010: loff_t image_data_size = 0x25000
    0018: 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff  # 0x018: checksum[16]
    0028: 5a 17 c0 de 01 02 03 04        # 0x028: salt[CIPHER_BLOCK = 8]
    #                                      0x030: struct RSA_data rsa (1840 bytes), zero:
    #                                             passphrase mode copies nothing into it
    0760: 00 00 00 00                    # 0x760: struct encrypted_key key.size (size_t = 4)
    0964: 00 00 00 00 00 00 f8 3f        # 0x964: double writeout_time = 1.5
    096c: 3c 00 00 00                    # 0x96c: int resume_pause = 60 (RESUME_PAUSE_MAX)
"""

HEADER_X86_64_ENCRYPT_PLAIN = """
    # the CONFIG_ENCRYPT layout on x86_64 (2432 bytes), image not encrypted: salt/rsa/key 0
    0000: 00 01 00 00 00 00 00 00        # 0x000: pages = 0x100
    0008: 03 00 00 00                    # 0x008: flags = IMAGE_CHECKSUM|IMAGE_COMPRESSED
    0010: 00 20 00 00 00 00 00 00        # 0x010: map_start = 0x2000
    0018: 00 a0 00 00 00 00 00 00        # 0x018: image_data_size = 0xa000
    0970: 00 00 00 00 00 00 10 40        # 0x970: double writeout_time = 4.0 (2416)
    0978: 02 00 00 00                    # 0x978: int resume_pause = 2 (2424)
"""


@pytest.mark.parametrize(
    ("dump", "expected"),
    [
        (
            HEADER_I386_ENCRYPT,
            {
                "word_size": 4,
                "encrypt_layout": True,
                "size": 2416,
                "pages": 0x1234,
                "flags": 0x17,
                "map_start": 0x2000,
                "image_data_size": 0x25000,
                "writeout_time": 1.5,
                "resume_pause": 60,
                "salt": bytes.fromhex("5a17c0de01020304"),
                "checksum": bytes.fromhex("00112233445566778899aabbccddeeff"),
                "encryption": "blowfish-cfb/passphrase",
            },
        ),
        (
            HEADER_X86_64_ENCRYPT_PLAIN,
            {
                "word_size": 8,
                "encrypt_layout": True,
                "size": 2432,
                "pages": 0x100,
                "flags": 3,
                "map_start": 0x2000,
                "image_data_size": 0xA000,
                "writeout_time": 4.0,
                "resume_pause": 2,
                "salt": bytes(8),
                "checksum": bytes(16),
                "encryption": None,
            },
        ),
    ],
    ids=["i386-encrypt", "x86_64-encrypt-layout-plain"],
)
def test_image_header_info_hexdump(dump: str, expected: dict[str, Any]) -> None:
    hdr = uswsusp.decode_image_header_info(unhex(N, dump), 0, N, 0x100000)
    got = {name: getattr(hdr, name) for name in expected}
    assert got == expected


def test_header_layout_not_found_is_a_format_error() -> None:
    page = bytearray(unhex(N, HEADER_X86_64_ENCRYPT_PLAIN))
    page[0xF00] = 1  # a byte no layout writes
    with pytest.raises(FormatError) as exc:
        uswsusp.decode_image_header_info(bytes(page), 0, N, 0x100000)
    assert exc.value.offset == 0 and "layouts" in str(exc.value)


# -- forged images: every layout, compression, encryption ---------------------------------------

CASES = {
    "lzo": {},
    "plain": {"compress": False},
    "lzo-no-md5": {"checksum": False},
    "encrypt-layout": {"encrypt_layout": True},
    "passphrase": {"passphrase": b"correct horse"},
    "passphrase-plain": {"passphrase": b"pw", "compress": False},
    "i386": {"word_size": 4},
    "i386-passphrase": {"word_size": 4, "passphrase": b"s3cret!"},
}


# "lzo", "passphrase" and "i386" are also parts of the combined cases: -m slow
@pytest.mark.parametrize("case", slow_but(list(CASES), set(CASES) - {"lzo", "passphrase", "i386"}))
def test_forged_reads_back(tmp_path: Path, case: str) -> None:
    kw: dict[str, Any] = CASES[case]
    word = kw.get("word_size", 8)
    stream = kernel_stream(PFNS, word)
    built = forge_uswsusp.build_image(stream, **kw)
    path = write(tmp_path, built)
    with open_image(path, passphrase=kw.get("passphrase")) as img:
        assert img.info.word_size == word
        assert img.pagedir.pfns.tolist() == PFNS.tolist()
        for pfn in (0x100, 0x17F, 0x100 + 299):
            assert img.read_page(pfn) == pattern_pages(np.array([pfn], np.uint64), N)
        d = to_data(img.details)
        assert d["pages"] == len(stream) // N == img.info.pages
        assert d["image_data_size"] == built.image_data_size
        assert d["compression"] == ("lzo" if kw.get("compress", True) else "none")
        # the block count is ceil(pages / 32): the kernel header page is in the first buffer
        assert d["blocks"] == (-(-img.info.pages // 32) if kw.get("compress", True) else None)
        assert d["encryption"] == ("blowfish-cfb/passphrase" if "passphrase" in kw else None)
        if kw.get("checksum", True):
            assert d["checksum"]["stored"] == hashlib.md5(stream).hexdigest()
            assert d["checksum"]["ok"] is True
        else:
            assert d["checksum"] is None
        s = summarize(img, verify=True)
        assert s.integrity.verify_ok is True
        lay = s.layout
        assert (lay.signature, lay.orig_sig, lay.era, lay.container) == (
            "ULSUSPEND",
            "SWAPSPACE2",
            "uswsusp",
            "stream",
        )
        assert s.stream.image_pages == PFNS.size and s.directory.saved_pfns == PFNS.size


def test_encrypted_data_really_is_encrypted(tmp_path: Path) -> None:
    stream = kernel_stream(PFNS)
    plain = forge_uswsusp.build_image(stream, compress=False)
    enc = forge_uswsusp.build_image(stream, compress=False, passphrase=b"pw")
    # same places, different bytes; the header and extents pages stay in clear
    assert plain.data[3 * N : 4 * N] == stream[:N]
    assert enc.data[3 * N : 4 * N] != stream[:N]
    assert enc.data[2 * N : 3 * N] == plain.data[2 * N : 3 * N]


def test_no_passphrase_names_the_header(tmp_path: Path) -> None:
    built = forge_uswsusp.build_image(kernel_stream(PFNS), passphrase=b"pw")
    path = write(tmp_path, built)
    with pytest.raises(uswsusp.PassphraseRequired) as exc:
        open_image(path)
    msg = str(exc.value)
    for fact in (
        "image_header_info at 0x1000",
        "IMAGE_ENCRYPTED",
        "extents at 0x2000",
        f"image_data_size {built.image_data_size:#x}",
        "blowfish-cfb/passphrase",
        "data pages need the passphrase",
    ):
        assert fact in msg, fact
    result = run_cli("info", str(path))
    assert_error_line(result, "passphrase", "IMAGE_ENCRYPTED", expected_vs_found=False)


@pytest.mark.parametrize("compress", [True, False])
def test_wrong_passphrase(tmp_path: Path, compress: bool) -> None:
    built = forge_uswsusp.build_image(kernel_stream(PFNS), passphrase=b"right", compress=compress)
    path = write(tmp_path, built)
    with pytest.raises(FormatError) as exc:
        open_image(path, passphrase="wrong")
    assert "wrong passphrase?" in str(exc.value)
    assert "Traceback" not in str(exc.value)


def test_passphrase_is_what_read_password_keeps(tmp_path: Path) -> None:
    # fgets(pass_buf, 128): at most 127 bytes; str passphrases are UTF-8
    long = "é" * 100  # 200 bytes in UTF-8
    assert uswsusp.passphrase_bytes(long) == long.encode()[:127]
    built = forge_uswsusp.build_image(kernel_stream(PFNS), passphrase=long.encode()[:127])
    with open_image(write(tmp_path, built), passphrase=long) as img:
        assert img.info.image_pages == PFNS.size


def test_md5_mismatch_fails_verify_with_exit_1(tmp_path: Path) -> None:
    built = forge_uswsusp.build_image(kernel_stream(PFNS), compress=False)
    dev = bytearray(built.data)
    dev[0x1020] ^= 1  # checksum[0]
    path = tmp_path / "bad-md5.img"
    path.write_bytes(bytes(dev))
    result = run_cli("verify", "--json", str(path))
    assert result.exit_code == 1, result.stderr
    d = json.loads(result.stdout)
    assert d["verify_ok"] is False
    assert d["details"]["checksum"]["ok"] is False
    assert d["details"]["checksum"]["computed"] == built.md5.hex()
    ok = run_cli("verify", "--json", str(write(tmp_path, built, "good.img")))
    assert ok.exit_code == 0 and json.loads(ok.stdout)["details"]["checksum"]["ok"] is True


def test_scattered_extents_over_several_extents_pages(tmp_path: Path) -> None:
    # every other device page: more than 255 extents, so the list continues on a second
    # extents page reached through slot 255
    stream = kernel_stream(PFNS)
    n_units = len(forge_uswsusp.build_image(stream, compress=False).data) // N - 3
    extents = [(3 + 2 * i, 4 + 2 * i) for i in range(n_units)]
    assert len(extents) > 255
    built = forge_uswsusp.build_image(stream, compress=False, extents=extents)
    assert len(built.extents_pages) == 2
    with open_image(write(tmp_path, built)) as img:
        assert list(img.details.extents_pages) == built.extents_pages
        assert img.read_page(0x100 + 299) == pattern_pages(np.array([0x100 + 299]), N)
        assert img.verify().ok


@pytest.mark.parametrize("page_size", [16384, pytest.param(65536, marks=pytest.mark.slow)])
def test_large_pages(tmp_path: Path, page_size: int) -> None:
    pfn_arr = np.arange(0x10000, 0x10000 + 40, dtype=np.uint64)
    stream = kernel_stream(pfn_arr, 8, page_size)
    built = forge_uswsusp.build_image(stream, page_size=page_size, passphrase=b"big pages")
    with open_image(write(tmp_path, built), passphrase="big pages") as img:
        assert img.page_size == page_size
        assert img.read_page(0x10000 + 39) == pattern_pages(pfn_arr[-1:], page_size)


def test_rsa_mode(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import rsa

    priv = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    nums = priv.private_numbers()
    p, q = sorted((nums.p, nums.q))
    fields = {
        "n": nums.public_numbers.n,
        "e": nums.public_numbers.e,
        "d": nums.d,
        "p": p,
        "q": q,
        "u": pow(p, -1, q),
    }  # libgcrypt: p < q, u = p^-1 mod q
    key, iv = bytes(range(1, 17)), bytes(range(100, 108))
    stream = kernel_stream(PFNS)
    built = forge_uswsusp.build_image(stream, passphrase=b"unlock", rsa=(fields, key, iv))
    path = write(tmp_path, built)
    with open_image(path, passphrase="unlock") as img:
        assert img.details.encryption == "blowfish-cfb/rsa"
        assert "IMAGE_USE_RSA" in img.details.flag_names
        assert img.details.checksum.ok is True
        assert img.read_page(0x101) == pattern_pages(np.array([0x101]), N)
    with pytest.raises(FormatError) as exc:
        open_image(path, passphrase="not it")
    assert "key_test" in str(exc.value) and "wrong passphrase" in str(exc.value)


def _libgcrypt() -> Any:
    name = ctypes.util.find_library("gcrypt")
    if name is None:
        pytest.skip("libgcrypt not installed")
    lib = ctypes.CDLL(name)
    lib.gcry_check_version.restype = ctypes.c_char_p
    assert lib.gcry_check_version(None)
    return lib


@pytest.mark.parametrize(
    ("algo", "key_size", "block"), [(4, 16, 8), (7, 16, 16)], ids=["blowfish", "aes128"]
)
def test_cfb_equals_libgcrypt(algo: int, key_size: int, block: int) -> None:
    """Independent truth for the cipher: libgcrypt itself (GCRY_CIPHER_MODE_CFB = 2, as
    s2disk opens it), fed in page-sized pieces like encrypt_and_save_page()."""
    lib = _libgcrypt()
    hd = ctypes.c_void_p()
    assert lib.gcry_cipher_open(ctypes.byref(hd), algo, 2, 0) == 0
    try:
        key = hashlib.md5(b"passphrase").digest()[:key_size]
        iv = b"passphra"[:block].ljust(block, b"\0")
        assert lib.gcry_cipher_setkey(hd, key, ctypes.c_size_t(key_size)) == 0
        assert lib.gcry_cipher_setiv(hd, iv, ctypes.c_size_t(block)) == 0
        data = bytes(range(256)) * 48  # three 4 KiB pages
        theirs = b""
        for i in range(0, len(data), N):
            out = ctypes.create_string_buffer(N)
            assert (
                lib.gcry_cipher_encrypt(
                    hd, out, ctypes.c_size_t(N), data[i : i + N], ctypes.c_size_t(N)
                )
                == 0
            )
            theirs += out.raw
    finally:
        lib.gcry_cipher_close(hd)
    ours = uswsusp.crypto.cipher("blowfish" if algo == 4 else "aes", key, iv).encryptor()
    mine = b"".join(ours.update(data[i : i + N]) for i in range(0, len(data), N))
    assert mine == theirs


# -- robustness ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    stream = kernel_stream(PFNS[:40])
    return {
        "lzo": forge_uswsusp.build_image(stream).data,
        "enc": forge_uswsusp.build_image(stream, passphrase=b"pw").data,
    }


@given(data=st.data())
@HYP
def test_flipped_or_cut_images_fail_cleanly(
    tmp_path: Path, small_images: dict[str, bytes], data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(sorted(small_images)))
    dev = bytearray(small_images[kind])
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(dev) - 1))
        dev[at] ^= data.draw(st.integers(1, 255))
    else:
        dev = dev[: data.draw(st.integers(N, len(dev) - 1))]
    path = tmp_path / "x.img"
    path.write_bytes(bytes(dev))
    try:
        with open_image(path, passphrase="pw") as img:
            img.verify()
    except SwsuspError:
        pass


def test_header_pointing_outside_the_device(tmp_path: Path) -> None:
    built = forge_uswsusp.build_image(kernel_stream(PFNS[:10]))
    dev = bytearray(built.data)
    dev[N - 28 : N - 20] = (len(dev) + N).to_bytes(8, "little")
    path = tmp_path / "x.img"
    path.write_bytes(bytes(dev))
    result = run_cli("info", str(path))
    assert_error_line(result, "uswsusp swsusp_header", "image")


def test_extents_loop_is_reported(tmp_path: Path) -> None:
    stream = kernel_stream(PFNS)
    n_units = len(forge_uswsusp.build_image(stream, compress=False).data) // N - 3
    extents = [(3 + 2 * i, 4 + 2 * i) for i in range(n_units)]
    built = forge_uswsusp.build_image(stream, compress=False, extents=extents)
    dev = bytearray(built.data)
    second = built.extents_pages[1]
    dev[second + N - 16 : second + N - 8] = (2 * N).to_bytes(8, "little")  # back to the first
    # the second page ends the list early, so the chain must go on: and it loops
    dev[second + 16 * 10 : second + N - 16] = bytes(N - 16 - 160)
    path = tmp_path / "loop.img"
    path.write_bytes(bytes(dev))
    with pytest.raises(FormatError) as exc:
        open_image(path)
    assert "loops" in str(exc.value)


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_passphrase_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = forge_uswsusp.build_image(kernel_stream(PFNS), passphrase=b"pw")
    path = str(write(tmp_path, built))
    info = run_cli("info", "--json", "--passphrase", "pw", path)
    assert info.exit_code == 0, info.stderr
    d = json.loads(info.stdout)
    assert (d["era"], d["signature"], d["image_pages"]) == ("uswsusp", "ULSUSPEND", PFNS.size)
    assert d["details"]["encryption"] == "blowfish-cfb/passphrase"
    out = tmp_path / "phys.raw"
    ex = run_cli("extract", "--passphrase", "pw", "-o", str(out), path)
    assert ex.exit_code == 0, ex.stderr
    with open(out, "rb") as fh:
        fh.seek(0x150 * N)
        assert fh.read(N) == pattern_pages(np.array([0x150]), N)
    audit = run_cli("audit", "--json", "--passphrase", "pw", path)
    assert audit.exit_code == 0, audit.stderr
    monkeypatch.setenv("SWSUSP_INSPECT_PASSPHRASE", "pw")
    verify = run_cli("verify", "--json", path)
    assert verify.exit_code == 0, verify.stderr
    assert json.loads(verify.stdout)["details"]["checksum"]["ok"] is True


# -- the committed forged samples ------------------------------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "forged-uswsusp"


@pytest.mark.parametrize(
    ("name", "passphrase"),
    [("uswsusp-lzo.img.xz", None), ("uswsusp-lzo-encrypted.img.xz", "hibernate me")],
)
def test_committed_samples(name: str, passphrase: str | None) -> None:
    facts = json.loads((SAMPLES / "facts.json").read_text())[name]
    path = SAMPLES / name
    assert path.stat().st_size < 100_000
    with open_image(path, passphrase=passphrase) as img:
        s = summarize(img, verify=True)
        assert s.integrity.verify_ok is True
        assert img.details.checksum.stored == facts["md5"]
        assert (s.stream.image_pages, s.stream.pages, s.directory.pfn_min, s.directory.pfn_max) == (
            facts["image_pages"],
            facts["pages"],
            facts["pfn_min"],
            facts["pfn_max"],
        )
        assert s.kernel_release == facts["release"]
    raw = lzma.decompress(path.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == facts["sha256"]
