"""``extract``: every readable saved page, in a raw, ELF core or LiME file (or stream), and the
record of what was written.

One pass over the image: the writer's plan (where each data page goes) comes from the PFN
directory and what is known to be readable; the data follows in stream order; the headers go in
last (a file) or first (a stream).  A salvaging image can learn, while being read, that a chunk
does not decompress: a file is then written once more with that known (the headers must not
promise data that is not there); a stream is checked whole before its headers go out.  The
ELF core's VMCOREINFO note is looked for on the page heads as they pass (a stream's is looked
for first).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.export import vmcoreinfo
from swsusp_inspect.export.elf import plan_elf
from swsusp_inspect.export.lime import plan_lime
from swsusp_inspect.export.plan import Plan
from swsusp_inspect.export.raw import plan_raw
from swsusp_inspect.export.record import build_record
from swsusp_inspect.export.sink import FileSink, Sink, file_sha256, open_sink
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.image.pages import PageStates
from swsusp_inspect.image.parallel import can_split, jobs_for, threads_help
from swsusp_inspect.model.export import ExtractRecord

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["FORMATS", "extract"]

WRITERS: dict[str, Callable[[HibernationImage, PageStates], Plan]] = {
    "raw": plan_raw,
    "elf": plan_elf,
    "lime": plan_lime,
}
FORMATS = tuple(WRITERS)

_OFFSETS: np.ndarray | None = None  # the plan's offsets, inherited by forked workers


def put_pages(
    put: Callable[[int, memoryview], None],
    offsets: np.ndarray,
    data: bytes | memoryview,
    page_size: int,
) -> int:
    """Write each page of ``data`` at its offset (-1: skip); runs of adjacent offsets in one
    call.  Returns the pages written."""
    if not offsets.size:
        return 0
    mv, n = memoryview(data), page_size
    breaks = np.flatnonzero((np.diff(offsets) != n) | (offsets[1:] < 0) | (offsets[:-1] < 0))
    starts = np.concatenate([[0], breaks + 1]).tolist()
    ends = np.concatenate([breaks + 1, [offsets.size]]).tolist()
    written = 0
    for a, b in zip(starts, ends, strict=True):
        if int(offsets[a]) >= 0:
            put(int(offsets[a]), mv[a * n : b * n])
            written += b - a
    return written


def _write_serial(
    image: HibernationImage, sink: Sink, plan: Plan, progress: Any, scan: bool
) -> tuple[int, list[int]]:
    n = image.page_size
    written, candidates = 0, []
    for d0, pfns, data in image.iter_readable():
        written += put_pages(sink.put, plan.offsets[d0 : d0 + pfns.size], data, n)
        if scan:
            candidates += vmcoreinfo.note_candidates(pfns, data, n)
        if progress is not None:
            progress(int(pfns.size))
    return written, candidates


def _pwrite(fd: int, data: memoryview, offset: int) -> None:
    while data:
        done = os.pwrite(fd, data, offset)
        data, offset = data[done:], offset + done


def _write_range(
    image: HibernationImage, lo: int, hi: int, path: str
) -> tuple[int, list[int], dict[int, str]]:
    """Worker: chunks ``lo..hi-1`` into ``path``: pages written, note candidates, failures."""
    assert _OFFSETS is not None
    fd = os.open(path, os.O_WRONLY)
    n, first_stream = image.page_size, 1 + image.meta_pages
    written, candidates, failed = 0, [], {}
    try:
        for k in range(lo, hi):
            try:
                data = image.decompress_chunk(k, cache=False)
            except FormatError as exc:
                failed[k] = str(exc)
                continue
            pfns, pages = image.chunk_data_pages(k, data)
            d0 = max(0, 1 + k * fchunks.UNC_PAGES - first_stream)
            written += put_pages(
                lambda off, mv: _pwrite(fd, mv, off), _OFFSETS[d0 : d0 + pfns.size], pages, n
            )
            candidates += vmcoreinfo.note_candidates(pfns, pages, n)
        return written, candidates, failed
    finally:
        os.close(fd)


def _splits(image: HibernationImage, sink: Sink, jobs: int) -> bool:
    """Whether ``jobs`` workers write ranges of the output in place (a file, chunks enough)."""
    return isinstance(sink, FileSink) and can_split(image, jobs)


def _write(
    image: HibernationImage, sink: Sink, plan: Plan, progress: Any, jobs: int
) -> tuple[int, list[int]]:
    """Every readable data page at its offset; ``(pages written, note candidates)``; with
    ``jobs > 1`` ranges of chunks written by threads (LZO) or forked processes (LZ4)."""
    global _OFFSETS  # noqa: PLW0603 - read by the workers (threads, or inherited by forks)
    if not _splits(image, sink, jobs):
        return _write_serial(image, sink, plan, progress, plan.wants_note)
    _OFFSETS = plan.offsets
    written, candidates = 0, []
    ranges = image.map_chunk_ranges(_write_range, jobs, sink.path)
    try:
        for count, found, failed in ranges:
            written += count
            candidates += found
            for k, why in failed.items():
                if k not in image.chunk_table.lost:
                    image.failed_chunks[k] = why
            if progress is not None:
                progress(count)
    finally:
        ranges.close()  # the threads are done (or cancelled) before the offsets go
        _OFFSETS = None
    image.swept = True
    return written, candidates


def _run(
    image: HibernationImage, sink: Sink, fmt: str, jobs: int, progress: Any
) -> tuple[Plan, int, vmcoreinfo.Note | None]:
    if sink.stream and fmt != "raw":
        image.check_pages(jobs)  # the headers go first: they must know what is unreadable
    states = image.page_states()
    plan = WRITERS[fmt](image, states)
    note = vmcoreinfo.find_note(image) if sink.stream and plan.wants_note else None
    if sink.stream:
        sink.pieces(plan.pieces(note))
    written, candidates = _write(image, sink, plan, progress, jobs)
    if not sink.stream:
        if fmt != "raw" and image.page_states().unreadable_pages != states.unreadable_pages:
            sink.restart()  # a chunk failed on the way: lay the file out again without it
            plan = WRITERS[fmt](image, image.page_states())
            written, candidates = _write(image, sink, plan, progress, 1)
        if plan.wants_note:
            # a page-aligned note passed by (4.13+); else the kernel layer's full search
            note = vmcoreinfo.first_note(image, candidates) or vmcoreinfo.full_search(image)
        sink.pieces(plan.pieces(note))
    return plan, written, note


def extract(
    image: HibernationImage,
    output: str | os.PathLike[str],
    fmt: str = "raw",
    *,
    force: bool = False,
    jobs: int | None = 1,
    progress: Any = None,
    stdout: Any = None,
) -> ExtractRecord:
    """Write ``image``'s readable saved pages to ``output`` (``"-"``: ``stdout``, or
    ``sys.stdout.buffer``) as ``fmt`` (``"raw"``, ``"elf"``, ``"lime"``).

    Raises:
        OutputError: the output exists (without ``force``) or is the input.
        FormatError: the image cannot be read (a strict image: any damage).
    """
    out = os.fspath(output)
    if jobs is None:  # from the work and the cores free now
        jobs = jobs_for(image)
    sink = open_sink(out, image.path, force=force, stdout=stdout)
    # the input's sha256 in a thread (hashlib lets go of the GIL): it overlaps the writing;
    # not next to forked workers (fork and threads do not mix)
    with ThreadPoolExecutor(max_workers=1) as pool:
        input_sha256: Future[str] = Future()
        if _splits(image, sink, jobs) and not threads_help(image.compression):  # forks
            input_sha256.set_result(file_sha256(image.path))
        else:
            input_sha256 = pool.submit(file_sha256, image.path)
        try:
            plan, written, note = _run(image, sink, fmt, jobs, progress)
            digest = sink.finish(plan.size)
        except BaseException:
            sink.close()
            if isinstance(sink, FileSink):
                os.unlink(sink.path)  # never leave a file that looks complete
            raise
        return build_record(
            image,
            plan,
            output=sink.path,
            written=written,
            note=note,
            input_sha256=input_sha256.result(),
            output_sha256=digest,
        )
