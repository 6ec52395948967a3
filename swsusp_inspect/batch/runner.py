"""Running a batch: each image audited in a process pool, rows back in input order.

A broken image becomes a row with its error and never stops the batch; a worker that dies
(killed for memory, a crash in a native library) becomes its image's error row; the batch's
exit code is the worst of its images'.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

from swsusp_inspect.batch.job import BatchJob
from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.model.report import BatchRow, FailedAudit, IgnoredInput, Report

__all__ = ["audit_job", "run", "run_job", "worst"]


def audit_job(job: BatchJob) -> tuple[Report, tuple[IgnoredInput, ...]]:
    """Open, audit and close one job's image (the same calls `audit` makes), with the
    sidecars that could not be read."""
    from swsusp_inspect.run import audit_opened, open_inputs

    inputs = job.inputs
    with open_inputs(inputs, salvage=True) as o:  # as `audit`: unreadable pages are a finding
        return audit_opened(inputs, o, verify=job.verify), o.ignored


def _failed(job: BatchJob, code: ExitCode, error: str) -> BatchRow:
    return BatchRow(
        report=FailedAudit(), path=job.image, error=error, exit_code=code, inputs=job.used()
    )


def run_job(job: BatchJob) -> BatchRow:
    """Audit one image; every failure becomes the row's error (never raised)."""
    from swsusp_inspect.errors import SwsuspError

    try:
        report, ignored = audit_job(job)
    except (SwsuspError, OSError, ValueError) as exc:
        msg = str(exc)
        if isinstance(exc, OSError) and exc.filename:
            msg = f"{exc.filename}: {exc.strerror or exc}"
        return _failed(job, ExitCode.BAD_INPUT, msg)
    except MemoryError:
        return _failed(job, ExitCode.BAD_INPUT, "out of memory")
    except Exception as exc:  # the last line of defence: a bug, never a finding or bad input
        return _failed(
            job,
            ExitCode.INTERNAL_ERROR,
            f"internal error: {type(exc).__name__}: {exc} (a bug: audit this image "
            "alone with --debug for the traceback)",
        )
    # the per-PFN labels stay in the worker: a row carries the document only
    return BatchRow(
        report=dataclasses.replace(report, classification=None),
        path=job.image,
        error=None,
        exit_code=report.exit_code(),
        inputs=job.used(ignored),
    )


def run(
    jobs: list[BatchJob], *, workers: int = 1, on_done: Callable[[BatchRow], None] | None = None
) -> Iterator[BatchRow]:
    """Rows in input order; ``workers > 1`` runs a process pool (one image per worker)."""
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            row = run_job(j)
            if on_done:
                on_done(row)
            yield row
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    def died(job: BatchJob) -> BatchRow:
        return _failed(job, ExitCode.BAD_INPUT, "the worker auditing this image died")

    def isolated(job: BatchJob) -> BatchRow:
        with ProcessPoolExecutor(max_workers=1) as solo:
            try:
                return solo.submit(run_job, job).result()
            except BrokenProcessPool:
                return died(job)

    done = 0
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            futures = [pool.submit(run_job, j) for j in jobs]
            for fut in futures:
                row = fut.result()
                done += 1
                if on_done:
                    on_done(row)
                yield row
    except BrokenProcessPool:
        # a worker died (killed for memory, a crash in a native library) and took the pool
        # with it; which image did it is unknown, so the rest run one process each: the one
        # that kills its process again becomes an error row, the others are audited
        for job in jobs[done:]:
            row = isolated(job)
            if on_done:
                on_done(row)
            yield row


def worst(codes: Iterable[int]) -> int:
    return max(codes, default=0)
