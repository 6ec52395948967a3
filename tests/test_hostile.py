"""Hostile input (issue 14): every failure the fuzzing campaign found, with its minimised input;
bounded work on special files, long lines, huge and compressed inputs.

Each regression input below is the smallest form of what the campaign (``python -m fuzz``) or
the issue's table hit: it raised an undocumented exception (or ran unbounded) before the fix,
and now gives one documented error line (read_page takes any integer; the CLI lets the
library name a directory or a missing file in one line instead of click's usage error).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SAMPLES, examples, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsusp_inspect.e820 import load_memory_map
from swsusp_inspect.e820.readers.logpatterns import MAX_LINE
from swsusp_inspect.e820.readers.logtext import read_log
from swsusp_inspect.errors import FormatError, MapError, NotAnImageError, SwsuspError
from swsusp_inspect.image import open_image
from swsusp_inspect.inputs.kpageflags import load_kpageflags
from swsusp_inspect.inputs.system_map import load_system_map
from swsusp_inspect.summary import summarize
from swsusp_inspect.transport import SPARSE_GRAIN, ZERO_HEAD_LIMIT, open_source

ROOT = Path(__file__).resolve().parent.parent
HEADS = ROOT / "tests" / "data" / "real-heads"
I386_HEAD = HEADS / "deb12-6.1-i386-lzo"
SEED_2004 = SAMPLES / "forged-seed-2004"


def write(path: Path, data: bytes | str) -> str:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def one_line_exit_2(*args: str) -> str:
    """Run the CLI: exit 2, exactly one line on stderr, no traceback; return that line."""
    result = run_cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit | type(None)), result.exception
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("swsusp-inspect: error: "), lines[0]
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


# -- the table, one row at a time -----------------------------------------------------

# e820/readers/logtext.py:423 _arrays_of, OverflowError (248 hits): a range that ends at the
# last byte of the 64-bit space has an exclusive end of 2**64, which no u64 holds (and which the
# kernel's e820__update_table() refuses: addr + size wraps).
LOG_TOP = [
    "BIOS-e820: [mem 0xfffffffffffff000-0xffffffffffffffff] usable\n",
    "(XEN)  [fffffffffffff000, ffffffffffffffff] (usable)\n",
    " node   0: [mem 0xfffffffffffff000-0xffffffffffffffff]\n",
    "BIOS-e820: [mem 0x0-0x9fbff] usable\n"
    "e820: update [mem 0xfffffffffffff000-0xffffffffffffffff] usable ==> reserved\n",
]


@pytest.mark.parametrize("text", LOG_TOP)
def test_log_range_ending_at_2_64_is_a_line_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "dmesg.txt", text)
    with pytest.raises(MapError, match=r"dmesg.txt:\d: .*wraps") as err:
        load_memory_map(path)
    assert err.value.line == text.count("\n")
    line = one_line_exit_2("map", path)
    assert f"dmesg.txt:{text.count(chr(10))}:" in line


def test_log_oversized_hex_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "dmesg.txt", "BIOS-e820: [mem 0x0-0x" + "f" * 40 + "] usable\n")
    with pytest.raises(
        MapError,
        match=r":1: address 0x[f]{38}\.\.\. \(42 characters\) does "
        r"not fit in 64 bits",
    ):
        load_memory_map(path)


# e820/readers/sysfs.py:83 read_sysfs_text, ValueError: 4300-digit limit (40 hits): int() of a
# 5,000-digit entry index.  Indices are refused past 6 digits, hex values past 16.
def test_sysfs_long_index_and_value(tmp_path: Path) -> None:
    long_index = write(tmp_path / "idx", "/sys/firmware/memmap/" + "1" * 5000 + "/start:0x0\n")
    with pytest.raises(MapError):
        load_memory_map(long_index, fmt="sysfs")
    one_line_exit_2("map", long_index)
    long_value = write(
        tmp_path / "val",
        "/sys/firmware/memmap/0/start:0x" + "1" * 5000 + "\n"
        "/sys/firmware/memmap/0/end:0x1000\n"
        "/sys/firmware/memmap/0/type:System RAM\n",
    )
    with pytest.raises(MapError, match=r"val:1: 0x1+\.\.\. \(5002 characters\) does not fit"):
        load_memory_map(long_value)


# e820/model.py:115/116 _arrays, OverflowError for uint64 (19 hits): a signed value int() took
# ("-0xbfda000", from the campaign's mangling of a real memmap.txt), and an entry whose end is
# the last byte of the 64-bit space, from a sysfs tar and from JSON.
def test_sysfs_signed_value_is_not_hex(tmp_path: Path) -> None:
    path = write(
        tmp_path / "memmap.txt",
        "/sys/firmware/memmap/4/start:-0xbfda000\n"
        "/sys/firmware/memmap/4/end:0xbfdfffff\n"
        "/sys/firmware/memmap/4/type:Reserved\n",
    )
    with pytest.raises(MapError, match=r"memmap.txt:1: not a hex number: '-0xbfda000'"):
        load_memory_map(path)


def _memmap_tar(entries: list[tuple[str, str, str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i, (start, end, typ) in enumerate(entries):
            for name, value in (("start", start), ("end", end), ("type", typ)):
                data = (value + "\n").encode()
                info = tarfile.TarInfo(f"sys/firmware/memmap/{i}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_sysfs_tar_and_json_entry_to_the_top(tmp_path: Path) -> None:
    tar = write(tmp_path / "memmap.tar", _memmap_tar([("0x0", "0xffffffffffffffff", "System RAM")]))
    with pytest.raises(MapError, match=r"reaches the end of the 64-bit address space"):
        load_memory_map(tar)
    one_line_exit_2("map", tar)
    doc = '{"entries": [{"start": 0, "end": 18446744073709551615, "type": 1}]}'
    js = write(tmp_path / "map.json", doc)
    with pytest.raises(MapError, match=r"reaches the end of the 64-bit address space"):
        load_memory_map(js)
    # the same end with a later start was silently dropped (s + size wrapped to 0 in numpy)
    doc = '{"entries": [{"start": 18446744073709547520, "end": 18446744073709551615, "type": 1}]}'
    with pytest.raises(MapError, match=r"wraps"):
        load_memory_map(write(tmp_path / "top.json", doc))


# e820/readers/jsonmap.py:36 read_json: 4300-digit limit and RecursionError; :21 and :50 float
# infinity (12 + 4 hits).
@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ('{"entries": [{"start": ' + "1" * 5000 + ', "end": 1, "type": 1}]}', "5000 digits"),
        ('{"entries": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
        ('{"entries": [{"start": 1e999, "end": 1, "type": 1}]}', "1e999"),
        (
            '{"entries": [{"start": 0, "end": 4095, "type": 1}], "nosave_source": "log", '
            '"nosave": [{"start_pfn": 1e999, "end_pfn": 1}]}',
            "1e999",
        ),
        (
            '{"entries": [{"start": 0, "end": 4095, "type": 1}], "nosave_source": "log", '
            '"nosave": [{"start_pfn": -5, "end_pfn": 3}]}',
            "nosave\\[0\\]",
        ),
        ('{"entries": [{"start": NaN, "end": 1, "type": 1}]}', "NaN"),
        ('{"entries": [{"start": 0.5, "end": 1, "type": 1}]}', "integers only"),
        ('{"entries": [{"start": true, "end": 1, "type": 1}]}', "needs integer"),
    ],
)
def test_json_numbers_and_nesting(tmp_path: Path, doc: str, why: str) -> None:
    path = write(tmp_path / "map.json", doc)
    with pytest.raises(MapError, match=why):
        load_memory_map(path)
    one_line_exit_2("map", "--json", path)


# image.py:539 read_page, OverflowError (25 hits): a System.map whose anchor symbol is far from
# linux_banner placed the banner below physical 0 (the campaign's input: the real i386 excerpt
# with restore_registers at c18bf000c18bf000).  SystemMap.physical() now answers None outside
# 0 .. 2**64-1, and an address that is no 64-bit hex number is a line error.
I386_MAP_FAR_ANCHOR = (
    "c1000000 T _text\n"
    "c18bf000c18bf000 T restore_registers\n"
    "c1a2c180 D linux_banner\n"
    "c1c54000 D __nosave_begin\n"
    "c1c55000 D __nosave_end\n"
)


def test_system_map_anchor_far_away(tmp_path: Path) -> None:
    path = write(tmp_path / "System.map", I386_MAP_FAR_ANCHOR)
    smap = load_system_map(path)
    with open_image(I386_HEAD / "heads.img.xz") as img:
        assert smap.physical("linux_banner", img.info.arch) is None
        s = summarize(img, system_map=smap)
        plain = summarize(img)
        assert s.kernel == plain.kernel  # searched for, as without a map
    one_line_or_ok = run_cli("info", str(I386_HEAD / "heads.img.xz"), "--system-map", path)
    assert one_line_or_ok.exit_code == 0, one_line_or_ok.stderr


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("-ffffffff825d0e60 D linux_banner", "address is not hex: '-ffffffff825d0e60'"),
        ("1_0 T x", "address is not hex: '1_0'"),
        ("f" * 40 + " T restore_registers", "address is wider than 64 bits"),
        ("0x10 T x", "address is not hex"),
    ],
)
def test_system_map_address_must_be_64_bit_hex(tmp_path: Path, line: str, why: str) -> None:
    path = write(tmp_path / "System.map", "c1000000 T _text\n" + line + "\n")
    with pytest.raises(MapError, match=f"System.map:2: {why}"):
        load_system_map(path)
    one_line_exit_2("info", str(I386_HEAD / "heads.img.xz"), "--system-map", path)


@pytest.mark.parametrize("pfn", [-1, 1 << 64])
def test_read_page_out_of_range_pfn_is_not_saved(pfn: int) -> None:
    with open_image(I386_HEAD / "heads.img.xz") as img, pytest.raises(KeyError):
        img.read_page(pfn)


# e820/readers/logtext.py:152 _complete: 15-20 s for a 26 MB log of 5,000-character lines.
def _long_line_log(line_len: int, total: int, line: str) -> str:
    body = (line * (line_len // len(line) + 1))[:line_len]
    real = (SAMPLES / "deb12-6.1-lzo" / "dmesg.txt").read_text()
    return real + (body + "\n") * (total // (line_len + 1))


# 3 MB of such lines in the default run, 30 MB with -m slow
LOG_SIZES = [3 << 20, pytest.param(30 << 20, marks=pytest.mark.slow)]


@pytest.mark.parametrize("size", LOG_SIZES, ids=["3MB", "30MB"])
def test_log_line_longer_than_any_kernel_line_is_refused_at_once(tmp_path: Path, size: int) -> None:
    text = _long_line_log(5000, size, "e820: update [mem 0x00000000-0x00000fff] usable ")
    path = write(tmp_path / "big.log", text)
    with pytest.raises(
        MapError,
        match=rf"big.log:\d+: line of 5000 characters: longer than "
        rf"any kernel log line \({MAX_LINE} at most\)",
    ):
        load_memory_map(path)


@pytest.mark.parametrize("size", LOG_SIZES, ids=["3MB", "30MB"])
def test_log_long_lines_without_map_words_are_skipped(tmp_path: Path, size: int) -> None:
    text = _long_line_log(5000, size, "the quick brown fox jumps over the lazy dog ")
    path = write(tmp_path / "big.log", text)
    m = load_memory_map(path)
    # the same table as the log without the filler
    assert (
        m.firmware_entries()
        == load_memory_map(SAMPLES / "deb12-6.1-lzo" / "dmesg.txt").firmware_entries()
    )


@pytest.mark.parametrize(
    "line",
    [
        "(XEN)  0000000000000000 - 000000000009fc00 (",  # the tail regex used to rescan per head
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] ",
        " node   0: [mem 0x",
        "PM: hibernation: Registered nosave memory: [mem ",
    ],
)
def test_log_worst_lines_are_read(line: str) -> None:
    """3 MB of 4,000-character lines made of one message head repeated: a map or a MapError
    (each regex tries its tail once per line; the speed is benchmarks/bench_hostile.py's)."""
    body = (line * (4000 // len(line) + 1))[:4000]
    text = (body + "\n") * 750
    with contextlib.suppress(MapError):
        read_log("x", text)


# -- every text reader on generated lines: a MemoryMap or a MapError, nothing else ------------

# every code point UTF-8 can encode: text()'s default alphabet, which hypothesis otherwise works
# out by encoding all 1.1 M code points on a fresh checkout (0.9 s)
_CHAR = st.characters(exclude_categories=("Cs",))
_U = st.one_of(
    st.integers(min_value=0, max_value=(1 << 66)),
    st.sampled_from([(1 << 64) - 1, (1 << 64) - 4096, 1 << 64, (1 << 32) - 1, 0]),
)
_TYPE = st.sampled_from(
    [
        "usable",
        "reserved",
        "ACPI data",
        "ACPI NVS",
        "unusable",
        "type 12",
        "type 99999999999",
        "System RAM",
        "persistent (type 12)",
        "",
        "(",
        "Reserved",
        "soft reserved",
        "device reserved",
    ]
)
_LINE = st.one_of(
    st.builds("BIOS-e820: [mem {:#018x}-{:#018x}] {}".format, _U, _U, _TYPE),
    st.builds("BIOS-e820: {:016x} - {:016x} ({})".format, _U, _U, _TYPE),
    st.builds("(XEN)  [{:016x}, {:016x}] ({})".format, _U, _U, _TYPE),
    st.builds("e820: update [mem {:#010x}-{:#010x}] {} ==> {}".format, _U, _U, _TYPE, _TYPE),
    st.builds("e820: remove [mem {:#010x}-{:#010x}] {}".format, _U, _U, _TYPE),
    st.builds("PM: hibernation: Registered nosave memory: [mem {:#010x}-{:#010x}]".format, _U, _U),
    st.builds("  node   {}: [mem {:#018x}-{:#018x}]".format, st.integers(0, 10**7), _U, _U),
    st.builds("{:08x}-{:08x} : {}".format, _U, _U, _TYPE),
    st.builds(
        "/sys/firmware/memmap/{}/{}:{}".format,
        st.one_of(st.integers(0, 10**8).map(str), st.just("1" * 5000)),
        st.sampled_from(["start", "end", "type"]),
        st.one_of(_U.map(hex), _U.map(lambda v: f"-{v:#x}"), _TYPE, st.text(_CHAR, max_size=20)),
    ),
    st.text(_CHAR, max_size=120),
)


@given(st.lists(_LINE, max_size=24), st.sampled_from(["log", "iomem", "sysfs", "json"]))
@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_text_readers_raise_map_errors_only(lines: list[str], reader: str) -> None:
    from swsusp_inspect.e820.readers.iomem import read_iomem
    from swsusp_inspect.e820.readers.jsonmap import read_json
    from swsusp_inspect.e820.readers.sysfs import read_sysfs_text

    text = "\n".join(lines) + "\n"
    if reader == "json":
        text = json.dumps(
            {
                "entries": [
                    {"start": i, "end": i * 7 - 3, "type": len(ln)} for i, ln in enumerate(lines)
                ]
            }
        )
    read = {"log": read_log, "iomem": read_iomem, "sysfs": read_sysfs_text, "json": read_json}[
        reader
    ]
    try:
        m = read("generated", text)
    except MapError:
        return
    m.document().to_dict()
    m.nosave_ranges()


# -- inputs that are not regular files ---------------------------------------------------------


def _cli_subprocess(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process (a hang is a test failure after ``timeout``, not a stuck
    suite)."""
    return subprocess.run(
        [sys.executable, "-m", "swsusp_inspect", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def _assert_one_line_2(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "internal error" not in lines[0]
    return lines[0]


@pytest.fixture
def fifo(tmp_path: Path) -> str:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


def test_fifo_without_writer_never_blocks(fifo: str) -> None:
    """Every command and every file option given a FIFO nobody writes to: one line, at once."""
    img = str(SEED_2004 / "swap.img.xz")
    dmesg = str(SEED_2004 / "dmesg.txt")
    # one real process, killed by its timeout if it blocked; the rest in this one (the library
    # opens a FIFO non-blocking: test_fifo_without_writer_library)
    assert fifo in _assert_one_line_2(_cli_subprocess("info", fifo))
    for args in (
        ["verify", fifo],
        ["audit", fifo],
        ["map", fifo],
        ["info", img, "--system-map", fifo],
        ["info", img, "--map", fifo],
        ["audit", img, "--map", dmesg, "--kpageflags", fifo],
    ):
        assert fifo in one_line_exit_2(*args)


def test_fifo_without_writer_library(fifo: str) -> None:
    with pytest.raises(NotAnImageError, match="empty pipe"):
        open_image(fifo)
    with pytest.raises(MapError):
        load_memory_map(fifo)
    with pytest.raises(MapError, match="no symbols"):
        load_system_map(fifo)
    with pytest.raises(FormatError, match="0 bytes"):
        load_kpageflags(fifo)


@contextlib.contextmanager
def _pipe_of(data: bytes) -> Iterator[str]:
    """A path (``/proc/self/fd/N``) to a pipe a thread fills with ``data``."""
    r, w = os.pipe()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), os.fdopen(w, "wb") as fh:
            fh.write(data)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        yield f"/proc/self/fd/{r}"
    finally:
        os.close(r)
        t.join(timeout=10)


@pytest.mark.parametrize(
    "transport",
    [  # gzip and zstd read as xz does: -m slow
        None,
        "xz",
        pytest.param("gzip", marks=pytest.mark.slow),
        pytest.param("zstd", marks=pytest.mark.slow),
    ],
)
def test_image_through_a_pipe_reads_as_the_file(transport: str | None) -> None:
    """``info <(xz -dc swap.img.xz)``: the pipe is spooled (bounded by the swap header's
    last_page) and reads as the file does; so does a compressed stream in a pipe."""
    import gzip

    import zstandard

    xz = (SEED_2004 / "swap.img.xz").read_bytes()
    raw = lzma.decompress(xz)
    data = {
        None: raw,
        "xz": xz,
        "gzip": gzip.compress(raw, 1),
        "zstd": zstandard.ZstdCompressor(level=1).compress(raw),
    }[transport]
    with open_image(SEED_2004 / "swap.img.xz") as img:
        want = summarize(img)
    with _pipe_of(data) as path, open_image(path) as img:
        got = summarize(img)
        assert img.source.transport == transport
    # the same image, whichever way it came: all but the input's own facts
    for part in ("layout", "stream", "directory", "integrity", "kernel", "memory"):
        assert getattr(got, part) == getattr(want, part), part


def test_map_through_a_pipe() -> None:
    data = (SAMPLES / "deb12-6.1-lzo" / "dmesg.txt").read_bytes()
    with _pipe_of(data) as path:
        m = load_memory_map(path)
    assert (
        m.firmware_entries()
        == load_memory_map(SAMPLES / "deb12-6.1-lzo" / "dmesg.txt").firmware_entries()
    )


def test_character_device_is_refused_everywhere() -> None:
    """/dev/zero as an image, map, System.map or kpageflags: one line (it grew the process to
    3 GB before)."""
    with pytest.raises(NotAnImageError, match="/dev/zero is a character device"):
        open_image("/dev/zero")
    with pytest.raises(MapError, match="/dev/zero: a character device"):
        load_memory_map("/dev/zero")
    with pytest.raises(MapError, match="/dev/zero: a character device"):
        load_system_map("/dev/zero")
    with pytest.raises(FormatError, match="character device"):
        load_kpageflags("/dev/zero")
    img = str(SEED_2004 / "swap.img.xz")
    dmesg = str(SEED_2004 / "dmesg.txt")
    # one real process (it grew to 3 GB before), the rest in this one
    assert "/dev/zero" in _assert_one_line_2(_cli_subprocess("info", "/dev/zero", timeout=60))
    for args in (
        ["map", "/dev/zero"],
        ["info", img, "--system-map", "/dev/zero"],
        ["info", img, "--map", "/dev/zero"],
        ["audit", img, "--map", dmesg, "--kpageflags", "/dev/zero"],
    ):
        assert "/dev/zero" in one_line_exit_2(*args)


def test_huge_sparse_file(tmp_path: Path) -> None:
    """A 64 GiB sparse file: refused at once as a map (size first), as a System.map (first line
    too long), read as an image (no signature) without reading its zeros."""
    path = tmp_path / "sparse"
    with open(path, "wb") as fh:
        fh.truncate(64 << 30)
    with pytest.raises(MapError, match=r"68719476736 bytes: more than"):
        load_memory_map(path)
    with pytest.raises(MapError, match=r"sparse:1: line longer than 4096 bytes"):
        load_system_map(path)
    with pytest.raises(NotAnImageError, match="no hibernation image"):
        open_image(path)
    _assert_one_line_2(_cli_subprocess("map", str(path)))


def test_directory_library_errors(tmp_path: Path) -> None:
    with pytest.raises(NotAnImageError, match="is a directory"):
        open_image(tmp_path)
    with pytest.raises(MapError, match="a directory"):
        load_system_map(tmp_path)
    with pytest.raises(FormatError, match="a directory"):
        load_kpageflags(tmp_path)
    with pytest.raises(MapError, match="no /sys/firmware/memmap entries"):
        load_memory_map(tmp_path)  # a directory is read as /sys/firmware/memmap


def test_missing_files_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    img = str(SEED_2004 / "swap.img.xz")
    for args in (
        ["info", missing],
        ["info", img, "--system-map", missing],
        ["info", img, "--map", missing],
    ):
        assert "missing" in one_line_exit_2(*args)


@pytest.mark.parametrize(
    "which", ["image", "system-map", "kpageflags", "map-missing", "diff-missing"]
)
def test_cli_directory_and_missing_one_line(tmp_path: Path, which: str) -> None:
    img = str(SEED_2004 / "swap.img.xz")
    dmesg = str(SEED_2004 / "dmesg.txt")
    missing = str(tmp_path / "missing")
    args = {
        "image": ["info", str(tmp_path)],
        "system-map": ["info", img, "--system-map", str(tmp_path)],
        "kpageflags": ["audit", img, "--map", dmesg, "--kpageflags", str(tmp_path)],
        "map-missing": ["map", missing],
        "diff-missing": ["map", "diff", dmesg, missing],
    }[which]
    one_line_exit_2(*args)


# -- compressed inputs: sniffed before expanded ---------------------------------------------


def _xz_zeros(total: int, piece: int = 32 << 20) -> bytes:
    """An xz of ``total`` zero bytes: one compressed ``piece`` repeated (xz streams concatenate);
    2 GiB of zeros take about 300 KB."""
    return _xz_zero_piece(piece) * (total // piece)


@functools.cache
def _xz_zero_piece(piece: int) -> bytes:
    return lzma.compress(bytes(piece), preset=0)  # the same 5 KB as preset 6, 3x sooner


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $TMPDIR, so tests can see that expansions leave nothing behind."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


@pytest.fixture
def expanded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes the transport decompressed, counted (an operation budget, not a clock)."""
    from swsusp_inspect import transport

    count = [0]
    real = transport.expand_blocks

    def counted(name: str, raw: object) -> Iterator[bytes]:
        for block in real(name, raw):  # type: ignore[arg-type]
            count[0] += len(block)
            yield block

    monkeypatch.setattr(transport, "expand_blocks", counted)
    return count


def test_xz_bomb_of_zeros_refused_quickly(
    tmp_path: Path, private_tmp: Path, expanded: list[int]
) -> None:
    bomb = tmp_path / "bomb.img.xz"
    bomb.write_bytes(_xz_zeros(2 << 30))
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(NotAnImageError, match=rf"first {ZERO_HEAD_LIMIT >> 20} MiB are zeros"):
        open_image(bomb)
    # it was 12 s to expand all 2 GiB: now the head decides
    assert 0 < expanded[0] <= ZERO_HEAD_LIMIT + (8 << 20)
    assert list(private_tmp.iterdir()) == []
    line = one_line_exit_2("info", str(bomb))
    assert "bomb.img.xz" in line


def test_expansion_past_the_swap_area_is_an_error(tmp_path: Path, private_tmp: Path) -> None:
    """A compressed image may expand to its swap header's last_page + 1 pages, no further."""
    data = lzma.decompress((SEED_2004 / "swap.img.xz").read_bytes())
    last_page = int.from_bytes(data[0x404:0x408], "little")
    assert len(data) == (last_page + 1) * 4096  # the seed is the whole swap area
    grown = tmp_path / "grown.img.xz"
    grown.write_bytes(lzma.compress(data + b"\xa5" * 4096, preset=0))
    with pytest.raises(
        FormatError,
        match=rf"at most {(last_page + 1) * 4096:#x} bytes "
        rf"expanded \(the swap area's end: swap header "
        rf"last_page {last_page:#x}",
    ):
        open_image(grown)
    assert list(private_tmp.iterdir()) == []
    exact = tmp_path / "exact.img.xz"
    exact.write_bytes(lzma.compress(data, preset=0))
    with open_image(exact) as img:
        assert img.info.pages > 0


def test_plain_swap_area_refused_before_expanding(tmp_path: Path, expanded: list[int]) -> None:
    area = bytearray(1 << 20)
    area[0x400:0x408] = (1).to_bytes(4, "little") + (0xFFFFF).to_bytes(4, "little")
    area[0xFF6:0x1000] = b"SWAPSPACE2"
    # 4 GiB of zeros after the header page: refused from the head, none of it expanded
    path = tmp_path / "swap.img.xz"
    path.write_bytes(lzma.compress(bytes(area), preset=0) + _xz_zeros(4 << 30))
    with pytest.raises(NotAnImageError, match=r"'SWAPSPACE2' at 0xff6 \(plain swap area"):
        open_image(path)
    assert 0 < expanded[0] <= 8 << 20  # of 4 GiB


def test_expanded_temp_file_is_sparse_and_gone(private_tmp: Path) -> None:
    """The real i386 head (a real image with the pages not kept zeroed) expands into a
    temporary file that is sparse where the stream is zeros, never has a name in $TMPDIR, and
    is closed with the image."""
    path = I386_HEAD / "heads.img.xz"
    raw = lzma.decompress(path.read_bytes())
    grain = SPARSE_GRAIN
    data_blocks = sum(
        1
        for i in range(0, len(raw), grain)
        if raw[i : i + grain].count(0) != len(raw[i : i + grain])
    )
    assert data_blocks * grain < len(raw) * 3 // 4  # the premise: zeros between the pages kept
    with open_source(path) as src:
        assert list(private_tmp.iterdir()) == []  # unlinked from the start
        tmp = src._closers[1]
        st = os.fstat(tmp.fileno())
        assert st.st_size == len(raw)
        assert bytes(src.buf[:]) == raw
        # disk use: the non-zero blocks only (plus file-system rounding)
        assert st.st_blocks * 512 <= data_blocks * grain + (1 << 20)
    assert list(private_tmp.iterdir()) == []


def test_damaged_stream_leaves_nothing(tmp_path: Path, private_tmp: Path) -> None:
    xz = (SEED_2004 / "swap.img.xz").read_bytes()
    cut = tmp_path / "cut.img.xz"
    cut.write_bytes(xz[: len(xz) // 2])
    with pytest.raises(FormatError, match="xz stream at 0x0: expected a complete xz stream"):
        open_image(cut)
    assert list(private_tmp.iterdir()) == []


# -- memory bounded by a small multiple of the input -----------------------------------------

_LIMITED = r"""
import os, resource, sys
import numpy
import swsusp_inspect.e820, swsusp_inspect.inputs.system_map, swsusp_inspect.inputs.kpageflags
from swsusp_inspect.errors import SwsuspError
with open("/proc/self/statm") as fh:
    vm = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
budget = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (vm + budget, vm + budget))
what, path = sys.argv[1], sys.argv[3]
try:
    if what == "map":
        swsusp_inspect.e820.load_memory_map(path)
    elif what == "system_map":
        swsusp_inspect.inputs.system_map.load_system_map(path)
    else:
        swsusp_inspect.inputs.kpageflags.load_kpageflags(path, limit_pfns=1 << 32)
    print("ok")
except SwsuspError as exc:
    print("error:", exc)
"""


def _limited(what: str, budget: int, path: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED, what, str(budget), path],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


@pytest.mark.parametrize(
    "size",
    [  # 30 MB with -m slow
        8 << 20,
        pytest.param(30 << 20, marks=pytest.mark.slow),
    ],
    ids=["8MB", "30MB"],
)
def test_memory_of_a_big_log(tmp_path: Path, size: int) -> None:
    """A big log (8 MB; 30 MB with -m slow) is read within 8x its size of address space."""
    real = (SAMPLES / "deb12-6.1-lzo" / "dmesg.txt").read_text()
    filler = "[    1.000000] usb 1-1: new high-speed USB device number 2 using ehci-pci\n"
    path = write(tmp_path / "big.log", real + filler * (size // len(filler)))
    assert _limited("map", 8 * size, path) == "ok"


def test_memory_of_hostile_system_map_and_kpageflags(tmp_path: Path) -> None:
    """64 MiB of address space is enough to refuse a 64 GiB sparse System.map (it raised
    MemoryError); an xz kpageflags of 32 MiB of zeros is read within 256 MiB although the limit
    asked (2**32 PFNs, 32 GiB) is far larger: what is held is what the stream holds."""
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as fh:
        fh.truncate(64 << 30)
    assert _limited("system_map", 64 << 20, str(sparse)).startswith("error:")
    zeros = tmp_path / "kpf.xz"
    zeros.write_bytes(_xz_zeros(32 << 20))
    assert _limited("kpageflags", 256 << 20, str(zeros)) == "ok"


_LIMITED_IMAGES = r"""
import os, resource, sys, tempfile
import numpy
from fuzz import seeds
from swsusp_inspect.errors import SwsuspError
from swsusp_inspect.image import open_image
from swsusp_inspect.summary import summarize
seed = next(s for s in seeds.image_seeds() if s.name == sys.argv[1])
lay = seeds.layout_of(seed.path, seed.passphrase)
data = seed.data
fields = [f for f in lay.fields if f.kind in ("info", "map-next", "map-entry", "chunk-len",
                                              "header", "swap-header")]
fields = fields[:: max(1, len(fields) // 48)]  # every kind, about 48 fields
with open("/proc/self/statm") as fh:
    vm = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
budget = (64 << 20) + 16 * len(data)
resource.setrlimit(resource.RLIMIT_AS, (vm + budget, vm + budget))
counts = {}
path = os.path.join(sys.argv[2], "img")
for f in fields:
    for value in ((1 << (8 * f.width)) - 1, 1 << (8 * f.width - 1), len(data) // 4096 + 1):
        buf = bytearray(data)
        buf[f.offset : f.offset + f.width] = (value % (1 << (8 * f.width))).to_bytes(f.width,
                                                                                    "little")
        with open(path, "wb") as fh:
            fh.write(buf)
        try:
            with open_image(path) as img:
                summarize(img, verify=True)
            counts["ok"] = counts.get("ok", 0) + 1
        except SwsuspError:
            counts["error"] = counts.get("error", 0) + 1
import json
print(json.dumps(counts))
"""


@pytest.mark.slow  # a subprocess under RLIMIT_AS over every field of every seed image
def test_memory_of_boundary_valued_image_fields(tmp_path: Path) -> None:
    """Every structure field of the forged 2004-seed image (a real-format LZO image) set to
    2**N-1, 2**(N-1) and the page count + 1, each opened and verified within 64 MiB + 16x the
    image of address space: the counts a header claims never size an allocation."""
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED_IMAGES, "forged-seed-2004", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout)
    assert counts.get("error", 0) > 0 and sum(counts.values()) > 100


# -- the fuzzing harness itself --------------------------------------------------------------


@pytest.mark.slow  # builds the same cases twice from the seeds
def test_fuzz_cases_are_deterministic(tmp_path: Path) -> None:
    """A case is a function of (campaign seed, index): the same pair writes the same bytes."""
    from fuzz import targets

    for index in range(12):
        built = []
        for side in ("a", "b"):
            d = tmp_path / f"{side}{index}"
            d.mkdir()
            case, _ = targets.build(99, index, str(d), "lib")
            built.append((case.kind, case.seed, case.mutation, Path(case.input_path).read_bytes()))
        assert built[0] == built[1]


def test_fuzz_classes() -> None:
    from fuzz.targets import classify

    assert classify(None) == "ok"
    assert classify(MapError("x", 1, "bad")) == "error"
    assert classify(SwsuspError("x")) == "error"
    assert classify(OverflowError("x")) == "undocumented"
    assert classify(MemoryError()) == "memory"
    assert classify(zlib.error("x")) == "undocumented"


@pytest.mark.slow
def test_fuzz_short_run(tmp_path: Path) -> None:
    """The CI's short run (``python -m fuzz --short``): no undocumented exception, hang or
    memory failure."""
    stats = tmp_path / "stats.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz",
            "--short",
            "--out",
            str(tmp_path / "failures"),
            "--stats",
            str(stats),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = json.loads(stats.read_text())
    assert d["cases"] > 100
    assert d["by_class"]["undocumented"] == d["by_class"]["hang"] == d["by_class"]["memory"] == 0
