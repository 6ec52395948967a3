"""Parallel verify: threads for LZO (its binding releases the GIL), forked processes for LZ4."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import forge_to

from swsusp_inspect.forge.kernel import Forged
from swsusp_inspect.image import best_banner, open_image, parallel
from swsusp_inspect.image.parallel import THREAD_MIN_BYTES, auto_jobs, threads_help

N = 4096
DIRECTORY_PAGES = -(-32 * 40 * 8 // N)  # the forged images' 1,280 PFNs, 8 bytes each


def _forty_chunks(tmp_path: Path, compression: str) -> Forged:
    """1,280 saved pages: 40 chunks, enough for two workers to get ranges."""
    return forge_to(
        tmp_path, pfns=np.arange(0x100, 0x100 + 32 * 40, dtype=np.uint64), compression=compression
    )


def _forbid(name: str) -> Callable[..., Iterator[Any]]:
    def forbidden(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise AssertionError(f"{name} must not be used here")

    return forbidden


@pytest.mark.parametrize(
    ("compression", "used", "not_used"),
    [
        ("lzo", "map_chunk_ranges_threaded", "map_chunk_ranges"),
        ("lz4", "map_chunk_ranges", "map_chunk_ranges_threaded"),
    ],
)
def test_each_compression_gets_its_kind_of_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compression: str, used: str, not_used: str
) -> None:
    forged = _forty_chunks(tmp_path, compression)
    with open_image(forged.path) as img:
        serial = img.verify(jobs=1)
    calls: list[int] = []
    real = getattr(parallel, used)

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        calls.append(args[2])  # jobs
        return real(*args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(parallel, used, counted)
    monkeypatch.setattr(parallel, not_used, _forbid(not_used))
    with open_image(forged.path) as img:
        both = img.verify(jobs=2)
    assert calls == [2]
    assert both.crc32 == serial.crc32 and both.crc32.ok
    # 1,280 data pages after the PFN directory: 1,280 8-byte PFNs fill 3 pages
    assert both.stream_pages_read == serial.stream_pages_read == 32 * 40 + DIRECTORY_PAGES


def test_threads_only_where_the_binding_releases_the_gil() -> None:
    assert threads_help("lzo")
    assert not threads_help("lz4") and not threads_help("none")


def test_threaded_verify_of_the_real_lzo_sample_equals_the_serial_one(
    plain_sample: Callable[[str], Path],
) -> None:
    image = plain_sample("deb12-6.1-lzo")
    with open_image(image) as img:
        serial = img.verify(jobs=1)
    with open_image(image) as img:
        threaded = img.verify(jobs=2)
    assert threaded.crc32 == serial.crc32 and threaded.crc32.ok
    assert threaded.stream_pages_read == serial.stream_pages_read
    assert best_banner(threaded.banners) == best_banner(serial.banners) is not None


def test_a_salvaging_threaded_sweep_names_the_chunks_a_serial_one_names(tmp_path: Path) -> None:
    forged = _forty_chunks(tmp_path, "lzo")
    data = bytearray(Path(forged.path).read_bytes())
    for k in (7, 30):  # data of two chunks no longer LZO
        at = forged.chunk_pages[k] * N
        data[at + 8 : at + 8 + 256] = bytes(256)
    damaged = tmp_path / "damaged.img"
    damaged.write_bytes(bytes(data))
    results = []
    for jobs in (1, 2):
        with open_image(damaged, salvage=True) as img:
            r = img.verify(jobs=jobs)
            results.append((r.stream_pages_read, r.ok, sorted(img.failed_chunks)))
    assert results[0] == results[1] == (32 * 38 + DIRECTORY_PAGES, False, [7, 30])


def test_thread_jobs_follow_the_size() -> None:
    assert auto_jobs(THREAD_MIN_BYTES - 1, threads=True) == 1
    assert auto_jobs(THREAD_MIN_BYTES + 1, threads=True) == 1
    assert 1 <= auto_jobs(8 * THREAD_MIN_BYTES, threads=True) <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("fmt", ["raw", "elf"])
def test_extract_with_threads_writes_what_one_job_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """An LZO image's chunks go to threads in `extract --jobs 2` too (its workers write
    their pages in place); the file is byte for byte the one-job file."""
    from swsusp_inspect.export import extract as fextract

    forged = _forty_chunks(tmp_path, "lzo")
    outs = []
    for jobs in (1, 2):
        if jobs == 2:
            monkeypatch.setattr(parallel, "map_chunk_ranges", _forbid("map_chunk_ranges"))
        out = tmp_path / f"out{jobs}.{fmt}"
        with open_image(forged.path) as img:
            record = fextract.extract(img, out, fmt, jobs=jobs)
        assert record.pages_written == 32 * 40
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
