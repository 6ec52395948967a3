"""Workers over contiguous ranges of an image's compressed chunks: threads or forked processes.

LZO's binding (lzallright) and zlib's CRC32 release the GIL, so an LZO image's chunks are
decompressed and checksummed by threads of this process (nothing to fork, nothing to copy: two
threads verify the 80 MB sample in 0.06 s instead of 0.09).  LZ4's binding holds it, so LZ4
images go to forked workers, which inherit the opened image (its map, PFN directory and
chunk-table part) through ``fork`` and return small results.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = [
    "auto_jobs",
    "can_fork",
    "can_split",
    "free_cores",
    "jobs_for",
    "map_chunk_ranges",
    "map_chunk_ranges_threaded",
    "map_ranges",
    "threads_help",
]

MADV_POPULATE_READ = 22  # Linux 5.14+: map the pages now instead of one fault at a time
# stream bytes a worker must have to be worth its fork and the pool's start (about 0.05 s;
# 64 MiB of LZO take about 0.2 s to decompress and checksum on one core)
PARALLEL_MIN_BYTES = 64 << 20
# stream bytes a thread must have to be worth it (starting one costs well under a millisecond;
# 16 MiB of LZO take about 20 ms to decompress and checksum on one core)
THREAD_MIN_BYTES = 16 << 20


def threads_help(compression: str) -> bool:
    """Whether threads decompress ``compression`` in parallel (the binding releases the GIL)."""
    return compression == "lzo"


def _running() -> int | None:
    """Runnable tasks on the machine now (/proc/loadavg's fourth field; this process is one)."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def free_cores(samples: int = 5, gap: float = 0.004) -> int:
    """Cores this process may use that nothing else is running on now: the CPUs it may run
    on, less the other runnable tasks (the median of ``samples`` readings ``gap`` seconds
    apart: a task that only passes by does not count); at least 1."""
    import statistics
    import time

    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    readings = []
    for i in range(samples):
        if i:
            time.sleep(gap)
        running = _running()
        if running is None:
            return cores
        readings.append(running)
    others = int(statistics.median(readings)) - 1
    return max(1, min(cores, cores - others))


def auto_jobs(stream_bytes: int, *, threads: bool = False) -> int:
    """Workers for ``stream_bytes`` of stream data: one per :data:`PARALLEL_MIN_BYTES` (forked
    processes) or :data:`THREAD_MIN_BYTES` (``threads``), no more than the cores free now (a
    busy machine gets one job: never slower than one).  Threads cost too little for a wrong
    guess to matter: one reading of the machine instead of five over 16 ms."""
    by_size = stream_bytes // (THREAD_MIN_BYTES if threads else PARALLEL_MIN_BYTES)
    if by_size <= 1:
        return 1  # not worth a worker, and not worth looking at the machine either
    return max(1, min(free_cores(samples=1) if threads else free_cores(), by_size))


def jobs_for(image: HibernationImage) -> int:
    """:func:`auto_jobs` for the whole stream of ``image``, with the kind of worker
    :func:`map_ranges` will give it."""
    return auto_jobs(image.info.pages * image.page_size, threads=threads_help(image.compression))


def can_split(image: HibernationImage, jobs: int) -> bool:
    """Whether ``jobs`` workers of :func:`map_ranges` are worth running over ``image`` here:
    compressed chunks, at least 8 a worker, and threads or ``fork`` to run them."""
    if jobs < 2 or image.compression == "none" or len(image.chunk_table) < 8 * jobs:
        return False
    return threads_help(image.compression) or can_fork()


def map_ranges(
    image: HibernationImage, worker: Any, jobs: int, *args: Any
) -> Generator[Any, None, None]:
    """``worker(image, lo, hi, *args)`` over contiguous ranges of compressed chunks, results
    in chunk order: in threads when the compression lets go of the GIL
    (:func:`map_chunk_ranges_threaded`), else in forked processes (:func:`map_chunk_ranges`).
    ``worker`` must only read the image."""
    if threads_help(image.compression):
        return map_chunk_ranges_threaded(image, worker, jobs, *args)
    return map_chunk_ranges(image, worker, jobs, *args)


_FORKED_IMAGE: HibernationImage | None = None


def can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _run_forked(
    worker: Any,
    lo: int,
    hi: int,
    part: tuple[np.ndarray, np.ndarray, np.ndarray],
    args: tuple[Any, ...],
) -> Any:
    image = _FORKED_IMAGE
    assert image is not None
    image.chunk_table.adopt(lo, part)
    _prefault(image, lo, hi)
    return worker(image, lo, hi, *args)


def _prefault(image: HibernationImage, lo: int, hi: int) -> None:
    """Populate this process's page tables for chunks ``lo..hi-1`` in one call: a forked
    worker otherwise takes a minor fault per 4 KiB page of the shared mapping."""
    buf = image.buf
    if not hasattr(buf, "madvise") or hi <= lo:
        return
    t = image.chunk_table
    placed = t.first_entry[lo:hi] >= 0  # a salvaging table has chunks it could not place
    if not placed.any():
        return
    first = int(t.first_entry[lo:hi][placed].min())
    last = int((t.first_entry[lo:hi] + t.n_pages[lo:hi])[placed].max()) - 1
    pages = image.entries[first : last + 1]
    start = int(pages.min()) * image.page_size
    end = min(len(buf), (int(pages.max()) + 1) * image.page_size)
    align = mmap.ALLOCATIONGRANULARITY
    start -= start % align
    if end <= start:
        return
    with contextlib.suppress(OSError, ValueError):
        buf.madvise(MADV_POPULATE_READ, start, end - start)


def map_chunk_ranges(
    image: HibernationImage, worker: Any, jobs: int, *args: Any
) -> Generator[Any, None, None]:
    """Run ``worker(image, lo, hi, *args)`` over contiguous ranges of compressed chunks in
    forked processes (``jobs`` at a time); results in chunk order.

    Each range is submitted as soon as the parent's walk of the chunk headers has passed it,
    with that part of the table, so the walk overlaps the workers' decompression.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _FORKED_IMAGE  # noqa: PLW0603 - handed to forked workers, never pickled
    n_chunks = len(image.chunk_table)
    n_ranges = max(1, min(n_chunks, 16 * jobs))  # small ranges: workers finish together
    bounds = np.linspace(0, n_chunks, n_ranges + 1).astype(np.int64).tolist()
    image.prepare_for_fork()
    table = image.chunk_table
    _FORKED_IMAGE = image
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [
                pool.submit(_run_forked, worker, lo, hi, table.part(lo, hi), args)
                for lo, hi in itertools.pairwise(bounds)
            ]
            for fut in futures:
                yield fut.result()
    finally:
        _FORKED_IMAGE = None


def map_chunk_ranges_threaded(
    image: HibernationImage, worker: Any, jobs: int, *args: Any
) -> Generator[Any, None, None]:
    """Run ``worker(image, lo, hi, *args)`` over contiguous ranges of compressed chunks in
    ``jobs`` threads of this process; results in chunk order.  The chunk headers are walked
    first (the walk is not shared between threads); ``worker`` must only read the image
    (:meth:`~swsusp_inspect.image.hibernation.HibernationImage.decompress_chunk` with
    ``cache=False``).  An exception cancels the ranges not started."""
    from concurrent.futures import ThreadPoolExecutor

    n_chunks = len(image.chunk_table.ensure_all())
    n_ranges = max(1, min(n_chunks, 16 * jobs))  # small ranges: threads finish together
    bounds = np.linspace(0, n_chunks, n_ranges + 1).astype(np.int64).tolist()
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="swsusp-chunks") as pool:
        futures = [
            pool.submit(worker, image, lo, hi, *args) for lo, hi in itertools.pairwise(bounds)
        ]
        try:
            for fut in futures:
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()
