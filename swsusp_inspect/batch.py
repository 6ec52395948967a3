"""Batch audits: many images, per-image inputs from sidecars or a manifest, a process pool.

Results come back in input order whatever the parallelism; a broken image becomes a row with
its error and never stops the batch; the batch's exit code is the worst of its images'.

Sidecar conventions (documented in README):

* ``host1.img`` (or ``host1.img.xz``, ``host1.bin``, ...) takes ``host1.dmesg``, ``host1.iomem``,
  ``host1.memmap``, ``host1.e820`` (any map reader), ``host1.kpageflags`` and
  ``host1.System.map``, each optionally compressed (``.xz``, ``.gz``, ``.zst``) or with ``.txt``;
* an image alone in its directory (the layout of ``samples/``) also takes that directory's
  ``dmesg.txt``, ``iomem.txt``, ``memmap.txt``, ``kpageflags*`` and ``System.map*``.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.formats import signatures
from swsusp_inspect.model.report import BatchInputs, BatchRow, FailedAudit, Report
from swsusp_inspect.run import Inputs
from swsusp_inspect.transport import sniff_transport

IMAGE_SUFFIXES = (".img", ".bin", ".swap", ".raw", ".dump", ".image", ".snapshot")
TRANSPORT_SUFFIXES = (".xz", ".gz", ".zst")
MAP_KINDS = ("dmesg", "journal", "iomem", "memmap", "e820", "map")
SIDECAR_WORDS = (*MAP_KINDS, "kpageflags", "System.map", "console", "txt", "json", "log",
                 "csv", "md")


@dataclass(frozen=True)
class BatchJob:
    """One image and its per-image inputs."""

    image: str
    maps: tuple[str, ...] = ()
    kpageflags: str | None = None
    system_map: str | None = None
    resume_offset: int = 0
    verify: bool = False
    passphrase: str | None = field(default=None, repr=False)  # encrypted uswsusp images
    page_offset: int | None = None  # PAGE_OFFSET for pre-2.6.19 eras (None: inferred)

    @property
    def inputs(self) -> Inputs:
        return Inputs(image=self.image, maps=self.maps, kpageflags=self.kpageflags,
                      system_map=self.system_map, resume_offset=self.resume_offset,
                      page_offset=self.page_offset, passphrase=self.passphrase)

    def used(self) -> BatchInputs:
        """The files this job's audit reads, for its row."""
        return BatchInputs(self.maps, self.kpageflags, self.system_map,
                           self.resume_offset or None, self.page_offset)


# -- discovery ----------------------------------------------------------------------------


def _strip_suffixes(name: str) -> str:
    for suf in TRANSPORT_SUFFIXES:
        if name.endswith(suf):
            name = name[: -len(suf)]
            break
    for suf in IMAGE_SUFFIXES:
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def looks_like_sidecar(path: Path) -> bool:
    name = path.name
    for suf in TRANSPORT_SUFFIXES:
        if name.endswith(suf):
            name = name[: -len(suf)]
    parts = name.split(".")
    return any(p in SIDECAR_WORDS for p in parts[1:]) or parts[0] in MAP_KINDS or \
        name.startswith(("System.map", "kpageflags", "dmesg", "iomem", "memmap", "console",
                         "resume", "provenance", "markers", "cmdline", "README"))


def looks_like_image(path: Path) -> bool:
    """Cheap content sniff: a known signature at a page end, a snapshot stream, or a
    compressed transport whose name is not a sidecar's."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    if sniff_transport(head):
        return not looks_like_sidecar(path)
    if signatures.sniff(head) is not None or signatures.is_tuxonice(head):
        return True
    from swsusp_inspect.formats.snapshot import sniff_stream

    return sniff_stream(head) is not None


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given, directories recursively (image-looking files only), globs expanded."""
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            out.append(p)

    for raw in paths:
        candidates = [raw]
        if any(ch in raw for ch in "*?[") and not os.path.exists(raw):
            candidates = sorted(glob.glob(raw, recursive=True)) or [raw]
        for c in candidates:
            p = Path(c)
            if p.is_dir():
                for root, dirs, files in os.walk(p):
                    dirs.sort()
                    for f in sorted(files):
                        fp = Path(root) / f
                        if fp.is_file() and not looks_like_sidecar(fp) and looks_like_image(fp):
                            add(fp)
            else:
                add(p)  # named explicitly: always an input (errors become rows)
    return out


def _first_existing(candidates: Iterable[Path]) -> Path | None:
    for c in candidates:
        if c.is_file():
            return c
    return None


def _variants(base: Path) -> list[Path]:
    return [base, *(Path(str(base) + s) for s in (".txt", *TRANSPORT_SUFFIXES)),
            *(Path(str(base) + ".txt" + s) for s in TRANSPORT_SUFFIXES)]


def sidecars(image: Path) -> dict[str, Any]:
    """Per-image inputs found next to ``image`` (see the module docstring)."""
    d = image.parent
    stem = _strip_suffixes(image.name)
    maps: list[str] = []
    for kind in MAP_KINDS:
        hit = _first_existing(_variants(d / f"{stem}.{kind}"))
        if hit is not None:
            maps.append(str(hit))
    kpf = _first_existing(_variants(d / f"{stem}.kpageflags"))
    smap = _first_existing(_variants(d / f"{stem}.System.map"))
    images_here = [f for f in d.iterdir() if f.is_file() and not looks_like_sidecar(f)
                   and f.name.split(".")[0] in {stem, "swap", "image"}]
    alone = len(images_here) <= 1
    if alone:
        if not maps:
            for name in ("dmesg", "iomem", "memmap"):
                hit = _first_existing(_variants(d / name))
                if hit is not None:
                    maps.append(str(hit))
        if kpf is None:
            kpf = _first_existing([*_variants(d / "kpageflags"),
                                   *_variants(d / "kpageflags.bin")])
        if smap is None:
            found = sorted(d.glob("System.map*"))
            smap = found[0] if found else None
    return {"maps": maps, "kpageflags": str(kpf) if kpf else None,
            "system_map": str(smap) if smap else None}


def read_manifest(path: str) -> list[BatchJob]:
    """CSV (header ``image,map,kpageflags,system_map``) or JSON lines with those keys.

    ``map`` may name several files separated by ``;`` (a list in JSON).  Relative paths are
    relative to the manifest's directory.  Optional columns: ``resume_offset`` (pages from
    the start of the file to the swap area) and ``page_offset`` (the kernel's PAGE_OFFSET for
    images that name pages by virtual address; ``0xc0000000`` or decimal).
    """
    from swsusp_inspect.errors import MapError

    base = Path(path).parent
    text = Path(path).read_text()
    rows: list[dict[str, Any]] = []
    stripped = text.lstrip()
    if stripped.startswith("{"):
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MapError(path, lineno, f"manifest: not a JSON object ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise MapError(path, lineno, "manifest: expected a JSON object per line")
            rows.append({"_line": lineno, **obj})
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "image" not in reader.fieldnames:
            raise MapError(path, 1, "manifest: expected a CSV header with an 'image' column")
        for lineno, rec in enumerate(reader, 2):
            rows.append({"_line": lineno, **rec})

    def rel(p: str | None) -> str | None:
        if not p:
            return None
        return p if os.path.isabs(p) else str(base / p)

    def number(r: dict[str, Any], key: str) -> int | None:
        value = r.get(key)
        if value is None or value == "":
            return None
        try:
            n = value if isinstance(value, int) and not isinstance(value, bool) \
                else int(str(value).strip(), 0)
        except ValueError:
            n = -1
        if n < 0:
            raise MapError(path, r["_line"], f"manifest: {key} {value!r} is not a "
                                             "non-negative number (decimal or 0x...)")
        return n

    jobs = []
    for r in rows:
        if not r.get("image"):
            raise MapError(path, r["_line"], "manifest: row without 'image'")
        maps = r.get("map") or []
        if isinstance(maps, str):
            maps = [m for m in maps.split(";") if m.strip()]
        jobs.append(BatchJob(
            image=str(rel(r["image"])),
            maps=tuple(str(rel(m.strip())) for m in maps),
            kpageflags=rel(r.get("kpageflags")),
            system_map=rel(r.get("system_map")),
            resume_offset=number(r, "resume_offset") or 0,
            page_offset=number(r, "page_offset"),
        ))
    return jobs


def plan(paths: Iterable[str], *, manifest: str | None = None, maps: tuple[str, ...] = (),
         kpageflags: str | None = None, system_map: str | None = None,
         verify: bool = False, use_sidecars: bool = True,
         passphrase: str | None = None, resume_offset: int = 0,
         page_offset: int | None = None) -> list[BatchJob]:
    """The jobs of a batch, in input order (manifest rows first, then paths).

    ``maps``, ``kpageflags``, ``system_map``, ``resume_offset`` and ``page_offset`` apply to
    every image; a manifest row's own values win over them, and they win over sidecars.
    """
    jobs: list[BatchJob] = []
    if manifest:
        for j in read_manifest(manifest):
            jobs.append(BatchJob(
                j.image, j.maps or maps, j.kpageflags or kpageflags, j.system_map or system_map,
                resume_offset=j.resume_offset or resume_offset, verify=verify,
                passphrase=passphrase,
                page_offset=j.page_offset if j.page_offset is not None else page_offset))
    for p in expand_paths(paths):
        found = sidecars(p) if use_sidecars else {"maps": [], "kpageflags": None,
                                                  "system_map": None}
        jobs.append(BatchJob(
            image=str(p),
            maps=maps or tuple(found["maps"]),
            kpageflags=kpageflags or found["kpageflags"],
            system_map=system_map or found["system_map"],
            resume_offset=resume_offset,
            verify=verify,
            passphrase=passphrase,
            page_offset=page_offset,
        ))
    return jobs


# -- running ------------------------------------------------------------------------------


def audit_job(job: BatchJob) -> Report:
    """Open, audit and close one job's image (the same call `audit` makes)."""
    from swsusp_inspect.run import run_audit

    return run_audit(job.inputs, verify=job.verify)


def _failed(job: BatchJob, code: ExitCode, error: str) -> BatchRow:
    return BatchRow(report=FailedAudit(), path=job.image, error=error, exit_code=code,
                    inputs=job.used())


def run_job(job: BatchJob) -> BatchRow:
    """Audit one image; every failure becomes the row's error (never raised)."""
    from swsusp_inspect.errors import SwsuspError

    try:
        report = audit_job(job)
    except (SwsuspError, OSError, ValueError) as exc:
        msg = str(exc)
        if isinstance(exc, OSError) and exc.filename:
            msg = f"{exc.filename}: {exc.strerror or exc}"
        return _failed(job, ExitCode.BAD_INPUT, msg)
    except MemoryError:
        return _failed(job, ExitCode.BAD_INPUT, "out of memory")
    except Exception as exc:  # the last line of defence: a bug, never a finding or bad input
        return _failed(job, ExitCode.INTERNAL_ERROR,
                       f"internal error: {type(exc).__name__}: {exc} (a bug: audit this image "
                       "alone with --debug for the traceback)")
    # the per-PFN labels stay in the worker: a row carries the document only
    return BatchRow(report=dataclasses.replace(report, classification=None), path=job.image,
                    error=None, exit_code=report.exit_code(), inputs=job.used())


def run(jobs: list[BatchJob], *, workers: int = 1,
        on_done: Callable[[BatchRow], None] | None = None) -> Iterator[BatchRow]:
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
