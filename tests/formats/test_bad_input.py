"""Bad input: one line on stderr (structure, hex file offset, expected vs found), exit code 2.

``verify`` exits 1 for a CRC32 mismatch, or for data pages it read around (it salvages: the
same one line names the first damage, with how many saved pages cannot be read; issue 11); 2
when the image cannot be read at all.  Never a traceback.  Cut points
and corrupted fields are computed from the forged image's layout (``Forged.info_page``,
``map_pages``, ``chunk_pages``), so every structure boundary is covered by construction.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import lzma
import os
import random
import struct
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import zstandard
from helpers import assert_error_line, examples, forge_to, pfns, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsusp_inspect.errors import SwsuspError
from swsusp_inspect.forge.kernel import Forged
from swsusp_inspect.formats import chunks
from swsusp_inspect.image import open_image
from swsusp_inspect.model import SF_CRC32_MODE

Forger = Callable[..., Forged]
N = 4096
LAST_PAGE = 0x404  # union swap_header: info.last_page


def write(path: Path, data: bytes | bytearray) -> str:
    path.write_bytes(bytes(data))
    return str(path)


def put_u64(data: bytearray, offset: int, value: int) -> None:
    struct.pack_into("<Q", data, offset, value)


def swap_page(signature: bytes, *, pages: int = 4) -> bytearray:
    """A mkswap-like area: version 1, last_page, ``signature`` at 0xff6."""
    area = bytearray(N * pages)
    struct.pack_into("<II", area, 0x400, 1, pages - 1)
    area[0xFF6:0x1000] = signature
    return area


# -- not an image, recognised but unsupported -----------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    line = assert_error_line(
        run_cli("info", write(tmp_path / "empty", b"")),
        "no hibernation image",
        "empty",
        expected_vs_found=False,
    )
    assert "0x0" in line


def test_random_bytes(tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(5 * N)
    for cmd in ("info", "verify"):
        assert_error_line(
            run_cli(cmd, write(tmp_path / "noise", noise)),
            "no hibernation image",
            "0xff6",
            expected_vs_found=False,
        )


def test_short_file(tmp_path: Path) -> None:
    assert_error_line(
        run_cli("info", write(tmp_path / "short", b"\1" * 100)),
        "no hibernation image",
        "0x64",
        expected_vs_found=False,
    )


@pytest.mark.parametrize("magic", [b"SWAPSPACE2", b"SWAP-SPACE"])
def test_plain_swap_area(tmp_path: Path, magic: bytes) -> None:
    line = assert_error_line(
        run_cli("info", write(tmp_path / "swap", swap_page(magic))),
        "no hibernation image",
        "0xff6",
        "(plain swap area)",
        expected_vs_found=False,
    )
    assert magic.decode() in line


@pytest.mark.parametrize(
    ("signature", "name", "says"),
    [
        # read by formats/uswsusp.py and formats/legacy.py: a signature page with nothing behind
        # it is a damaged image of that format, named with the structure that is missing
        (b"ULSUSPEND\0", "ULSUSPEND", "uswsusp swsusp_header"),
        (b"S1SUSP\x05\0\0\0", "S1SUSP", "suspend_header"),  # i386: link.next in the last 4 bytes
        (b"S2SUSP\x05\0\0\0", "S2SUSP", "suspend_header"),
        (b"SUSP1R\x05\0\0\0", "SUSP1R", "SUSP1R"),
        (b"SUSP2R\x05\0\0\0", "SUSP2R", "SUSP2R"),
        (b"pmdisk-swa", "pmdisk", "pmdisk_header"),
        # recognised only
        (b"S2SUSPEND\0", "S2SUSPEND", "not readable"),
    ],
)
def test_other_format_signature(tmp_path: Path, signature: bytes, name: str, says: str) -> None:
    path = write(tmp_path / "sig", swap_page(signature))
    for cmd in ("info", "verify"):
        assert_error_line(run_cli(cmd, path), name, "0xff6", says, expected_vs_found=False)


def test_tuxonice(tmp_path: Path) -> None:
    area = swap_page(b"SWAPSPACE2")  # TuxOnIce keeps a valid swap signature
    area[:8] = b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c"
    assert_error_line(
        run_cli("info", write(tmp_path / "toi", area)), "TuxOnIce", "0x0", expected_vs_found=False
    )


def test_unsupported_signature_with_large_pages(tmp_path: Path) -> None:
    area = bytearray(64 * 1024)
    area[0xFFF6:0x10000] = b"ULSUSPEND\0"
    assert_error_line(
        run_cli("info", write(tmp_path / "ul64", area)),
        "ULSUSPEND",
        "0xfff6",
        expected_vs_found=False,
    )


# -- truncation at every structure boundary ---------------------------------------------------


def lzo_cuts(forged: Forged, size: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Cut points inside an LZO image and what the error must name."""
    yield N // 2, ("no hibernation image",)  # inside the header page
    for m in forged.map_pages:
        yield m * N, ("swap map page", hex(m * N))
        yield m * N + 8, ("swap map page", hex(m * N))
    info = forged.info_page * N
    yield info, ("swsusp_info", hex(info))
    yield info + 0x1B0, ("swsusp_info", hex(info))  # before swsusp_info.size
    ends = [*forged.chunk_pages[1:], size // N]
    for k, (first, end) in enumerate(zip(forged.chunk_pages, ends, strict=True)):
        yield first * N, (f"compressed chunk {k} header", hex(first * N))
        yield first * N + 4, (f"compressed chunk {k} header", hex(first * N))
        yield first * N + 9, (f"compressed chunk {k} at", hex(first * N))  # in the data
        mid = (first + end) // 2
        yield mid * N + 100, (f"compressed chunk {k} at", hex(mid * N))
        yield end * N - 1, (f"compressed chunk {k} at", hex((end - 1) * N))


@pytest.mark.parametrize("compression", ["lzo", "lz4"])
def test_truncated_compressed_image(forged_image: Forger, tmp_path: Path, compression: str) -> None:
    forged = forged_image(pfns=pfns(0x100, 0x100 + 90), zero=None, compression=compression)
    data = Path(forged.path).read_bytes()
    assert len(forged.chunk_pages) == 3
    for cut, names in lzo_cuts(forged, len(data)):
        path = write(tmp_path / "cut", data[:cut])
        # chunk 0 holds the PFN directory: without it nothing can be placed
        data_lost = names[0].startswith("compressed chunk") and "chunk 0 " not in names[0]
        line = assert_error_line(
            run_cli("verify", path),
            *names,
            exit_code=1 + (not data_lost),
            expected_vs_found=names[0] != "no hibernation image",
        )
        assert f"end of file at {cut:#x}" in line or "no hibernation image" in line


def test_truncated_uncompressed_image(forged_image: Forger, tmp_path: Path) -> None:
    # 600 PFNs: two swap-map pages, two metadata pages.  With the swap area's size unknown
    # (last_page 0), a page past the end of the file is a truncation, not a trimmed zero page.
    forged = forged_image(pfns=pfns(0x100, 0x100 + 600), compression="none")
    data = bytearray(Path(forged.path).read_bytes())
    struct.pack_into("<I", data, LAST_PAGE, 0)
    assert len(forged.map_pages) == 2
    # (cut, names, exit code): 2 where nothing can be placed (the first map page, swsusp_info,
    # the PFN directory), 1 where data pages are lost and named (salvaged)
    cuts = [(m * N + 100, ("swap map page", hex(m * N))) for m in forged.map_pages]
    cuts.append((forged.info_page * N + 8, ("swsusp_info", hex(forged.info_page * N))))
    with open_image(forged.path) as img:
        stream_pages = [int(p) for p in img.entries[1:]]
        # what nothing can be placed without: the chain's first page, swsusp_info, the
        # PFN directory; a cut past them loses data pages only, read around (exit 1)
        needed = [img.map_pages[0], *(int(p) for p in img.entries[: 1 + img.meta_pages])]
    # metadata pages (stream pages 1, 2), the first and the last data pages
    for page in (stream_pages[0], stream_pages[1], stream_pages[2], stream_pages[-1]):
        cuts.append((page * N, ("image data page", hex(page * N))))
        cuts.append((page * N + 0x800, ("image data page", hex(page * N))))
    for cut, names in cuts:
        code = 2 if any((p + 1) * N > cut for p in needed) else 1
        line = assert_error_line(
            run_cli("verify", write(tmp_path / "cut", data[:cut])), *names, exit_code=code
        )
        assert f"end of file at {cut:#x}" in line


def test_truncated_stream(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image(pfns=pfns(0x10, 0x60), stream=True)
    data = Path(forged.path).read_bytes()
    for cut in (N + 8, 2 * N, len(data) - N, len(data) - 1):
        # stream page 1 is the PFN directory (exit 2); data pages are read around (exit 1)
        line = assert_error_line(
            run_cli("verify", write(tmp_path / "cut", data[:cut])),
            "image",
            hex(cut // N * N),
            exit_code=2 if cut < 2 * N else 1,
        )
        assert f"end of file at {cut:#x}" in line


# -- the swap-map chain ---------------------------------------------------------------------


@pytest.fixture
def two_map_pages(forged_image: Forger) -> tuple[Forged, bytearray]:
    forged = forged_image(pfns=pfns(0x100, 0x100 + 600), compression="none", scatter=True)
    assert len(forged.map_pages) == 2
    return forged, bytearray(Path(forged.path).read_bytes())


def next_swap_at(map_page: int) -> int:
    return map_page * N + N - 8  # entries[511] is next_swap


def test_swap_map_loop_to_itself(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image()
    data = bytearray(Path(forged.path).read_bytes())
    m = forged.map_pages[0]
    put_u64(data, next_swap_at(m), m)
    assert_error_line(
        run_cli("info", write(tmp_path / "loop", data)),
        "swap map page",
        hex(m * N),
        "next_swap",
        "loops",
    )


def test_swap_map_loop_back(two_map_pages: tuple[Forged, bytearray], tmp_path: Path) -> None:
    forged, data = two_map_pages
    first, second = forged.map_pages
    put_u64(data, next_swap_at(second), first)
    line = assert_error_line(
        run_cli("info", write(tmp_path / "loop", data)),
        "swap map page",
        hex(second * N),
        "next_swap",
        "loops",
    )
    assert f"got {first:#x}" in line


def test_next_swap_past_the_device(two_map_pages: tuple[Forged, bytearray], tmp_path: Path) -> None:
    forged, data = two_map_pages
    device_pages = struct.unpack_from("<I", data, LAST_PAGE)[0] + 1
    first = forged.map_pages[0]
    put_u64(data, next_swap_at(first), device_pages)
    line = assert_error_line(
        run_cli("info", write(tmp_path / "past", data)),
        "swap map page",
        hex(first * N),
        "next_swap",
        f"< {device_pages:#x} (device pages)",
    )
    assert f"got {device_pages:#x}" in line


def test_next_swap_past_the_end_of_the_file(
    two_map_pages: tuple[Forged, bytearray], tmp_path: Path
) -> None:
    forged, data = two_map_pages
    struct.pack_into("<I", data, LAST_PAGE, 0)  # device size unknown: only the file bounds it
    target = len(data) // N + 5
    put_u64(data, next_swap_at(forged.map_pages[0]), target)
    assert_error_line(
        run_cli("info", write(tmp_path / "past", data)),
        "swap map page",
        hex(target * N),
        f"end of file at {len(data):#x}",
    )


def test_image_pointer_past_the_device(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image()
    data = bytearray(Path(forged.path).read_bytes())
    put_u64(data, 0xFE0, 0x7FFFFFFF)  # swsusp_header.image
    assert_error_line(
        run_cli("info", write(tmp_path / "img", data)),
        "swsusp_header",
        "0xfe0",
        "image",
        "(device pages)",
    )


@pytest.mark.parametrize("compression", ["none", "lzo"])
def test_entry_past_the_device(forged_image: Forger, tmp_path: Path, compression: str) -> None:
    forged = forged_image(compression=compression)
    data = bytearray(Path(forged.path).read_bytes())
    device_pages = struct.unpack_from("<I", data, LAST_PAGE)[0] + 1
    m = forged.map_pages[0]
    put_u64(data, m * N + 3 * 8, device_pages + 10)
    # entry 3 is a data page uncompressed (read around: exit 1), in chunk 0 (the PFN
    # directory) compressed (exit 2)
    line = assert_error_line(
        run_cli("verify", write(tmp_path / "entry", data)),
        "swap map page",
        hex(m * N + 3 * 8),
        "entries[3]",
        f"< {device_pages:#x}",
        exit_code=1 if compression == "none" else 2,
    )
    assert f"got {device_pages + 10:#x}" in line


@pytest.mark.parametrize(
    ("compression", "entry", "structure"),
    [
        ("none", 3, "image data page"),
        ("lzo", 1, "compressed chunk 0 header"),
        ("lzo", 2, "compressed chunk 0 at"),
    ],
)
def test_entry_past_the_end_of_the_file(
    forged_image: Forger, tmp_path: Path, compression: str, entry: int, structure: str
) -> None:
    forged = forged_image(compression=compression)
    data = bytearray(Path(forged.path).read_bytes())
    struct.pack_into("<I", data, LAST_PAGE, 0)
    target = len(data) // N + 3
    put_u64(data, forged.map_pages[0] * N + entry * 8, target)
    # a data page is read around (exit 1); chunk 0 holds the PFN directory (exit 2)
    assert_error_line(
        run_cli("verify", write(tmp_path / "entry", data)),
        structure,
        hex(target * N),
        f"end of file at {len(data):#x}",
        exit_code=1 if compression == "none" else 2,
    )


def test_swap_map_ends_before_the_data(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image(compression="lzo")
    data = bytearray(Path(forged.path).read_bytes())
    m = forged.map_pages[0]
    first_of_chunk_2 = 1 + forged.chunk_pages[2] - forged.chunk_pages[0]
    # clear entries[first_of_chunk_2:]: the map now ends before chunk 2
    data[m * N + first_of_chunk_2 * 8 : m * N + 511 * 8] = bytes(8 * (511 - first_of_chunk_2))
    line = assert_error_line(
        run_cli("verify", write(tmp_path / "short", data)),
        "swap map page",
        hex(m * N + first_of_chunk_2 * 8),
        "compressed chunk 2",
        exit_code=1,
    )
    assert "end of the swap map" in line


# -- chunk headers and data -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmp_len", "shown"),
    [
        (0, "got 0x0"),
        (chunks.worst_compress(N) + 1, f"got {chunks.worst_compress(N) + 1:#x}"),
        (2**64 - 1, "got 0xffffffffffffffff"),
    ],
)
@pytest.mark.parametrize("k", [0, 1])
def test_bad_cmp_len(
    forged_image: Forger, tmp_path: Path, cmp_len: int, shown: str, k: int
) -> None:
    forged = forged_image(compression="lzo")
    data = bytearray(Path(forged.path).read_bytes())
    at = forged.chunk_pages[k] * N
    put_u64(data, at, cmp_len)
    path = write(tmp_path / "cmp", data)
    # chunk 0 holds the PFN directory, which `info` needs; chunk 1 is data, which only
    # `verify` (and the banner search, on the report's kernel line) reads
    for cmd in ("info", "verify") if k == 0 else ("verify",):
        line = assert_error_line(
            run_cli(cmd, path),
            f"compressed chunk {k} at",
            hex(at),
            "cmp_len",
            shown,
            exit_code=1 if k and cmd == "verify" else 2,
        )
        assert f"1..{chunks.worst_compress(N):#x}" in line
    if k:
        result = run_cli("info", "--json", path)
        assert result.exit_code == 0
        error = json.loads(result.stdout)["kernel"]["error"]
        assert f"compressed chunk {k} at {hex(at)}" in error and shown in error


def test_last_chunk_longer_than_the_map(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image(compression="lz4")
    data = bytearray(Path(forged.path).read_bytes())
    at = forged.chunk_pages[-1] * N
    put_u64(data, at, chunks.worst_compress(N))  # legal length, but more pages than listed
    assert_error_line(
        run_cli("verify", write(tmp_path / "long", data)),
        f"compressed chunk {len(forged.chunk_pages) - 1} at",
        hex(at),
        "cmp_len",
        "swap-map entries left",
        exit_code=1,
    )


def incompressible(pfn_arr: np.ndarray) -> bytes:
    """Half-random pages: every flip of a literal byte changes the decompressed data."""
    out = bytearray()
    for pfn in pfn_arr.tolist():
        rnd = random.Random(pfn).randbytes(N // 2)
        out += rnd + bytes(N // 2)
    return bytes(out)


def flip_outcome(compression: str, payload: bytes, original: bytes) -> int:
    """What a flipped chunk must give: 2 (decompression fails) or 1 (data, hence CRC, differ)."""
    try:
        out = chunks.Decompressor(compression, N).decompress(payload, 32, where="t", offset=0)
    except SwsuspError:
        return 2
    return 0 if out == original else 1


@pytest.mark.parametrize("compression", ["lzo", "lz4"])
def test_bit_flip_in_compressed_data(
    forged_image: Forger, tmp_path: Path, compression: str
) -> None:
    pfn_arr = pfns(0x100, 0x100 + 70)
    forged = forged_image(pfns=pfn_arr, compression=compression, content=incompressible)
    data = Path(forged.path).read_bytes()
    at = forged.chunk_pages[1] * N
    cmp_len = int.from_bytes(data[at : at + 8], "little")
    payload = data[at + 8 : at + 8 + cmp_len]
    original = chunks.Decompressor(compression, N).decompress(payload, 32, where="t", offset=0)
    seen = set()
    for pos in (0, 1, 2, 17, cmp_len // 3, cmp_len // 2, cmp_len - 3, cmp_len - 1):
        flipped = bytearray(data)
        flipped[at + 8 + pos] ^= 0x04
        expected = flip_outcome(compression, bytes(flipped[at + 8 : at + 8 + cmp_len]), original)
        assert expected in (1, 2), pos  # a flip that changes nothing would test nothing
        seen.add(expected)
        result = run_cli("verify", "--json", write(tmp_path / "flip", flipped))
        if expected == 2:  # the chunk's 32 pages are read around and named
            assert_error_line(
                result, "compressed chunk 1 at", hex(at), "32 saved pages", exit_code=1
            )
            assert json.loads(result.stdout)["unreadable_pages"] == 32
        else:
            assert result.exit_code == 1, (pos, result.stderr)
            assert result.stderr == ""
            doc = json.loads(result.stdout)
            assert doc["crc32"]["ok"] is False
            assert doc["crc32"]["stored"] == forged.crc32
            assert doc["crc32"]["computed"] != forged.crc32
    assert seen == {1, 2}


def test_stored_crc32_mismatch(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image(compression="lzo", crc32_override=0x12345678)
    assert forged.crc32 != 0x12345678
    result = run_cli("verify", forged.path)
    assert result.exit_code == 1, result.stderr
    assert result.stderr == ""
    assert "MISMATCH" in result.stdout
    assert run_cli("info", forged.path).exit_code == 0  # info reads no chunk beyond the first


# -- the PFN directory ---------------------------------------------------------------------


def test_pfn_directory_without_terminator(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image(pfns=pfns(0x100, 0x100 + 600), compression="none", scatter=True)
    data = bytearray(Path(forged.path).read_bytes())
    with open_image(forged.path) as img:
        second_meta = int(img.entries[2])  # stream page 2: PFNs 512..1023
    at = second_meta * N + (600 - 512) * 8  # where BM_END_OF_MAP is
    assert data[at : at + 8] == b"\xff" * 8
    put_u64(data, at, 0x5000)
    line = assert_error_line(
        run_cli("info", write(tmp_path / "noterm", data)),
        "PFN directory",
        f"at {at:#x}",
        "entry 600",
        "BM_END_OF_MAP",
        "got 0x5000",
    )
    assert "image_pages" in line


def test_pfn_directory_garbage_after_terminator(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image(pfns=pfns(0x100, 0x100 + 600), compression="none", scatter=True)
    data = bytearray(Path(forged.path).read_bytes())
    with open_image(forged.path) as img:
        second_meta = int(img.entries[2])
    at = second_meta * N + (603 - 512) * 8
    put_u64(data, at, 7)
    assert_error_line(
        run_cli("info", write(tmp_path / "garbage", data)),
        "PFN directory",
        f"at {at:#x}",
        "entry 603",
        "0 after BM_END_OF_MAP",
        "got 0x7",
    )


def test_pfn_directory_without_terminator_compressed(
    forged_image: Forger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swsusp_inspect.forge import kernel as forge_module

    real_build = forge_module.fpagedir.build

    def no_terminator(*args: object, **kwargs: object) -> bytes:
        meta = bytearray(real_build(*args, **kwargs))  # type: ignore[arg-type]
        end = meta.find(b"\xff" * 8)
        put_u64(meta, end, 0x4242)
        return bytes(meta)

    monkeypatch.setattr(forge_module.fpagedir, "build", no_terminator)
    forged = forged_image(pfns=pfns(0x100, 0x100 + 100), compression="lzo")
    monkeypatch.undo()
    at = forged.chunk_pages[0] * N
    assert_error_line(
        run_cli("info", forged.path),
        "PFN directory",
        "stream page 1 + 0x320",
        "compressed chunk 0",
        f"at {at:#x}",
        "entry 100",
        "got 0x4242",
    )


@pytest.mark.parametrize("pfn", [2**63 - 1, 2**40])
def test_pfn_beyond_physical_addresses(forged_image: Forger, tmp_path: Path, pfn: int) -> None:
    # (2**63 - 1) * 4096 does not even fit the offset of a sparse output file
    forged = forged_image(pfns=np.array([5, 6, pfn], np.uint64), compression="none")
    meta = forged.info_page + 1  # contiguous layout: the metadata page follows swsusp_info
    for args in (["info", forged.path], ["extract", forged.path, "-o", str(tmp_path / "o")]):
        assert_error_line(
            run_cli(*args), "PFN directory", f"at {meta * N + 16:#x}", "entry 2", f"got {pfn:#x}"
        )


def test_swsusp_info_counts(forged_image: Forger, tmp_path: Path) -> None:
    forged = forged_image()
    info = forged.info_page * N
    data = bytearray(Path(forged.path).read_bytes())
    put_u64(data, info + 424, 2)  # pages < image_pages + 1
    put_u64(data, info + 432, 2 * N)
    assert_error_line(
        run_cli("info", write(tmp_path / "counts", data)),
        "swsusp_info",
        hex(info + 424),
        "pages",
        "image_pages",
    )


# -- compressed transports ------------------------------------------------------------------


@functools.cache
def small_image_bytes(compression: str = "lzo") -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        forged = forge_to(
            Path(tmp),
            pfns=pfns(0x100, 0x100 + 40),
            compression=compression,
            zero=pfns(0, 40) % 9 == 4,
        )
        return Path(forged.path).read_bytes()


TRANSPORTS = {
    "xz": (".xz", lambda b: lzma.compress(b, preset=0)),
    "gzip": (".gz", lambda b: gzip.compress(b, 1)),
    # the zstd tool writes a checksum by default (--check)
    "zstd": (".zst", lambda b: zstandard.ZstdCompressor(level=1, write_checksum=True).compress(b)),
}


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@pytest.mark.parametrize("damage", ["truncated", "corrupt", "garbage"])
def test_bad_transport(tmp_path: Path, transport: str, damage: str) -> None:
    suffix, pack = TRANSPORTS[transport]
    packed = bytearray(pack(small_image_bytes()))
    if damage == "truncated":
        packed = packed[: len(packed) * 2 // 3]
    elif damage == "corrupt":
        for i in range(len(packed) // 3, len(packed) // 3 + 64):
            packed[i] ^= 0x5A
    else:
        packed = packed[:6] + bytearray(random.Random(3).randbytes(300))
    path = write(tmp_path / f"image{suffix}", packed)
    for cmd in ("info", "verify"):
        line = assert_error_line(
            run_cli(cmd, path), f"{transport} stream at 0x0", f"a complete {transport} stream"
        )
        assert path in line


# -- robustness properties ------------------------------------------------------------------

ROBUST = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def read_everything(path: Path) -> None:
    """What info/verify/extract do, through the library."""
    with open_image(path) as img:
        pd = img.pagedir
        img.verify()
        for pfn in pd.pfns[:4].tolist():
            img.read_page(pfn)


@contextlib.contextmanager
def work_budget(path: Path) -> Iterator[None]:
    """No reader crawls on a corrupt image: the pages it gathers from the file and the chunks
    it decompresses stay within a few times what the file holds (an operation budget, not a
    wall-clock one: a busy machine must not fail the test)."""
    from swsusp_inspect.formats import chunks
    from swsusp_inspect.image.hibernation import HibernationImage

    # raw pages past the end of a trimmed dump read as zeros: budget at least a small image
    file_pages = max(path.stat().st_size // N, 64)
    counts = {"gathered": 0, "decompressed": 0}
    gather, decompress = chunks.gather, HibernationImage.decompress_chunk

    def counted_gather(
        buf: object, entries: np.ndarray, first: int, count: int, *args: object, **kwargs: object
    ) -> object:
        counts["gathered"] += count
        assert counts["gathered"] <= 8 * file_pages, counts
        return gather(buf, entries, first, count, *args, **kwargs)  # type: ignore[arg-type]

    def counted_decompress(self: HibernationImage, k: int, **kwargs: bool) -> bytes:
        counts["decompressed"] += 1
        assert counts["decompressed"] <= 4 * file_pages, counts
        return decompress(self, k, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(chunks, "gather", counted_gather)
        mp.setattr(HibernationImage, "decompress_chunk", counted_decompress)
        yield


def only_swsusp_errors(path: Path) -> None:
    with work_budget(path), contextlib.suppress(SwsuspError):
        read_everything(path)


@st.composite
def structural_offsets(draw: st.DrawFn, size: int) -> int:
    """Bytes that matter more often than the data bulk: header tail, map, info, chunk heads."""
    hot = st.one_of(
        st.integers(0xFC0, 0xFFF),
        st.integers(N, 2 * N - 1),
        st.integers(2 * N, 2 * N + 0x1C0),
        st.integers(3 * N, 3 * N + 16),
    )
    return draw(st.one_of(hot, st.integers(0, size - 1)))


@pytest.mark.parametrize("compression", ["none", "lzo", "lz4"])
@given(data=st.data())
@ROBUST
def test_truncate_anywhere(tmp_path: Path, compression: str, data: st.DataObject) -> None:
    image = small_image_bytes(compression)
    cut = data.draw(st.integers(0, len(image) - 1))
    only_swsusp_errors(Path(write(tmp_path / "t", image[:cut])))


@pytest.mark.parametrize("compression", ["none", "lzo", "lz4"])
@given(data=st.data())
@ROBUST
def test_flip_any_byte(tmp_path: Path, compression: str, data: st.DataObject) -> None:
    image = bytearray(small_image_bytes(compression))
    at = data.draw(structural_offsets(len(image)))
    image[at] = data.draw(st.integers(0, 255).filter(lambda v: v != image[at]))
    only_swsusp_errors(Path(write(tmp_path / "f", image)))


@given(cut=st.integers(0, 60 * N), flip=st.integers(0, 60 * N), value=st.integers(0, 255))
@ROBUST
def test_stream_truncate_and_flip(tmp_path: Path, cut: int, flip: int, value: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        forged = forge_to(Path(tmp), pfns=pfns(0x100, 0x100 + 40), stream=True)
        image = bytearray(Path(forged.path).read_bytes())
    image = image[: max(cut, 1)]
    image[flip % len(image)] = value
    only_swsusp_errors(Path(write(tmp_path / "s", image)))


# -- memory stays bounded -----------------------------------------------------------------


def hostile(
    tmp_path: Path, *, compression: str, pages: int, image_pages: int, stream: bool = False
) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        forged = forge_to(
            Path(tmp), pfns=pfns(0x100, 0x100 + 40), compression=compression, stream=stream
        )
        data = bytearray(Path(forged.path).read_bytes())
    info = 0 if stream else forged.info_page * N
    # image_pages, pages, size = pages << 12: a self-consistent swsusp_info that lies
    struct.pack_into("<QQQ", data, info + 416, image_pages, pages, (pages * N) % 2**64)
    return Path(write(tmp_path / "hostile", data))


@pytest.mark.parametrize(
    ("compression", "stream"), [("lzo", False), ("lz4", False), ("none", False), ("none", True)]
)
@pytest.mark.parametrize(
    ("pages", "image_pages"),
    [
        (2**40, 5),  # a header claiming 2**40 pages: 2**40 - 6 metadata pages
        (2**40, 2**40 - 2),  # a PFN directory claiming 2**40 data pages
        (2**30, 2**29),
    ],
)
def test_memory_stays_bounded(
    tmp_path: Path, compression: str, stream: bool, pages: int, image_pages: int
) -> None:
    path = hostile(
        tmp_path, compression=compression, pages=pages, image_pages=image_pages, stream=stream
    )
    tracemalloc.start()
    try:
        with work_budget(path), pytest.raises(SwsuspError) as exc:
            read_everything(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak:,} bytes allocated for a {path.stat().st_size:,}-byte file"
    assert "0x" in str(exc.value)
    result = run_cli("verify", str(path))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1


def test_huge_device_and_chain_stay_bounded(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        forged = forge_to(Path(tmp), pfns=pfns(0x100, 0x100 + 40))
        data = bytearray(Path(forged.path).read_bytes())
    struct.pack_into("<I", data, LAST_PAGE, 0xFFFFFFFF)  # a 16 TiB swap area
    put_u64(data, next_swap_at(forged.map_pages[0]), 0xFFFFFFF0)
    path = Path(write(tmp_path / "huge", data))
    tracemalloc.start()
    try:
        with pytest.raises(SwsuspError):
            read_everything(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


# -- evidence untouched -------------------------------------------------------------------


def fingerprint(path: Path) -> tuple[str, int, int, int]:
    st_ = path.stat()
    return (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        st_.st_mtime_ns,
        st_.st_size,
        st_.st_mode,
    )


@pytest.mark.parametrize("transport", [None, "xz"])
def test_evidence_untouched(
    forged_image: Forger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str | None
) -> None:
    forged = forged_image(pfns=pfns(0x100, 0x100 + 80), zero=pfns(0, 80) % 5 == 0)
    evidence_dir = tmp_path / "evidence"
    evidence_dir.mkdir()
    evidence = evidence_dir / ("swap.img" + (".xz" if transport else ""))
    raw = Path(forged.path).read_bytes()
    evidence.write_bytes(lzma.compress(raw, preset=0) if transport else raw)
    os.utime(evidence, ns=(1_000_000_000, 1_000_000_000))
    evidence.chmod(0o444)
    evidence_dir.chmod(0o555)  # nothing may be created next to the evidence either
    before = fingerprint(evidence)

    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, *args: object, **kw: object) -> int:
        opened.append((os.fspath(path), flags))
        return real_open(path, flags, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    try:
        for args in (
            ["info", str(evidence)],
            ["verify", str(evidence)],
            ["extract", str(evidence), "-o", str(tmp_path / "out.raw")],
        ):
            result = run_cli(*args)
            assert result.exit_code == 0, (args, result.stderr)
    finally:
        monkeypatch.undo()
        evidence_dir.chmod(0o755)
    assert fingerprint(evidence) == before
    assert sorted(p.name for p in evidence_dir.iterdir()) == [evidence.name]
    mine = [flags for p, flags in opened if os.path.realpath(p) == str(evidence.resolve())]
    assert mine, "the evidence was opened some other way than os.open"
    assert all(flags & os.O_ACCMODE == os.O_RDONLY for flags in mine)
    assert not any(flags & (os.O_TRUNC | os.O_CREAT | os.O_APPEND) for flags in mine)


def test_input_is_not_rewritten_on_error(tmp_path: Path) -> None:
    data = bytearray(small_image_bytes())
    put_u64(data, 3 * N, 0)  # cmp_len 0
    path = tmp_path / "bad.img"
    path.write_bytes(bytes(data))
    path.chmod(0o444)
    before = fingerprint(path)
    assert run_cli("verify", str(path)).exit_code == 2
    assert fingerprint(path) == before


def test_sf_crc32_mode_is_what_the_forged_images_carry() -> None:
    # guards the tests above: the LZO images they corrupt do carry a CRC32
    flags = struct.unpack_from("<I", small_image_bytes(), 0xFE8)[0]
    assert flags & SF_CRC32_MODE


@pytest.fixture(scope="module", params=["lzo", "lz4"])
def damaged_chunk_30(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """40 chunks (enough for `--jobs 2` to hand ranges to workers: threads for LZO, forked
    processes for LZ4), chunk 30 not valid data any more."""
    tmp = tmp_path_factory.mktemp("damaged")
    forged = forge_to(tmp, pfns=pfns(0x100, 0x100 + 32 * 40), compression=request.param)
    data = bytearray(Path(forged.path).read_bytes())
    at = forged.chunk_pages[30] * N
    data[at + 8 : at + 8 + 256] = bytes(256)
    return write(tmp / "flip", data)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_damaged_chunk_with_parallel_workers_is_one_line(damaged_chunk_30: str, jobs: str) -> None:
    # workers' errors (a thread's, or a forked process's, pickled) must come back whole and
    # end as the same one line as the serial sweep's
    k, path = 30, damaged_chunk_30
    result = run_cli("verify", "--jobs", jobs, path)
    line = assert_error_line(result, f"compressed chunk {k}", expected_vs_found=False, exit_code=1)
    assert "Traceback" not in result.output and path in line


def test_an_unanticipated_exception_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug is neither a finding (1) nor bad input (2): one line naming the command and its
    input, exit code 3; --debug gives the traceback."""
    from swsusp_inspect import summary

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(summary, "summarize", broken)
    forged = forge_to(tmp_path)
    result = run_cli("info", str(forged.path))
    assert result.exit_code == 3, (result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("swsusp-inspect: error: internal error in `info` reading ")
    assert str(forged.path) in lines[0] and "KeyError: 'boom'" in lines[0]
    assert "--debug" in lines[0]
    debug = run_cli("--debug", "info", str(forged.path))
    assert isinstance(debug.exception, KeyError)


def test_batch_row_of_an_unanticipated_exception_is_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from swsusp_inspect import batch

    def broken(job: object) -> None:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(batch.runner, "audit_job", broken)
    forged = forge_to(tmp_path)
    row = batch.run_job(batch.BatchJob(str(forged.path)))
    assert row.exit_code == 3 and row.report.image is None
    assert row.error is not None and row.error.startswith("internal error: ZeroDivisionError")
