"""Batch audits: many images, per-image inputs from sidecars or a manifest, a process pool.

Results come back in input order whatever the parallelism; a broken image becomes a row with
its error and never stops the batch; the batch's exit code is the worst of its images'.
Directories are searched by content (:mod:`.discover`), inputs found by the names users give
them (:mod:`.sidecars`) or named in a manifest (:mod:`.manifest`); rows can go to SQLite
(:mod:`.db`).
"""

from __future__ import annotations

from swsusp_inspect.batch.discover import looks_like_image, sniff_file
from swsusp_inspect.batch.job import BatchJob
from swsusp_inspect.batch.manifest import read_manifest
from swsusp_inspect.batch.planner import BatchPlan, plan
from swsusp_inspect.batch.runner import audit_job, run, run_job, worst
from swsusp_inspect.batch.sidecars import find_sidecars
from swsusp_inspect.model.report import BatchRow

__all__ = [
    "BatchJob",
    "BatchPlan",
    "BatchRow",
    "audit_job",
    "find_sidecars",
    "looks_like_image",
    "plan",
    "read_manifest",
    "run",
    "run_job",
    "sniff_file",
    "worst",
]
