"""A batch's plan: its images in input order and each one's inputs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from swsusp_inspect.batch.discover import Survey
from swsusp_inspect.batch.job import BatchJob
from swsusp_inspect.batch.manifest import read_manifest
from swsusp_inspect.batch.sidecars import Found, find_sidecars
from swsusp_inspect.model.report import SkippedFiles

__all__ = ["BatchPlan", "plan"]


class BatchPlan(list[BatchJob]):
    """The jobs, in input order, and the files the directory search skipped."""

    skipped: SkippedFiles = SkippedFiles()


def _sidecars(survey: Survey, image: Path) -> Found:
    here = survey.images_in(image.parent)
    alone = not here or [p.resolve() for p in here] == [image.resolve()]
    return find_sidecars(image, alone)


def plan(
    paths: Iterable[str],
    *,
    manifest: str | None = None,
    maps: tuple[str, ...] = (),
    kpageflags: str | None = None,
    system_map: str | None = None,
    verify: bool = False,
    use_sidecars: bool = True,
    passphrase: str | None = None,
    resume_offset: int = 0,
    page_offset: int | None = None,
    boot: int | None = None,
    cache_dir: str | None = None,
) -> BatchPlan:
    """The jobs of a batch, in input order (manifest rows first, then paths).

    ``maps``, ``kpageflags``, ``system_map``, ``resume_offset``, ``page_offset`` and ``boot``
    apply to every image; a manifest row's own values win over them, and they win over
    sidecars.  ``cache_dir`` keeps the expanded copies of compressed images (``--cache``).
    """
    jobs = BatchPlan()
    given = "option" if maps else "none"
    for j in read_manifest(manifest) if manifest else []:
        jobs.append(
            BatchJob(
                j.image,
                j.maps or maps,
                j.kpageflags or kpageflags,
                j.system_map or system_map,
                resume_offset=j.resume_offset or resume_offset,
                verify=verify,
                passphrase=passphrase,
                page_offset=j.page_offset if j.page_offset is not None else page_offset,
                boot=j.boot if j.boot is not None else boot,
                map_source="manifest" if j.maps else given,
                cache_dir=cache_dir,
            )
        )
    survey = Survey()
    survey.expand(paths)
    for p in survey.images:
        found = _sidecars(survey, p) if use_sidecars else Found()
        source = given if maps else "sidecar" if found.maps else "none"
        jobs.append(
            BatchJob(
                image=str(p),
                maps=maps or found.maps,
                kpageflags=kpageflags or found.kpageflags,
                system_map=system_map or found.system_map,
                resume_offset=resume_offset,
                verify=verify,
                passphrase=passphrase,
                page_offset=page_offset,
                boot=boot,
                map_source=source,
                cache_dir=cache_dir,
            )
        )
    jobs.skipped = SkippedFiles(
        survey.skipped.get("not-image", 0),
        survey.skipped.get("plain-swap", 0),
        survey.skipped.get("unreadable", 0),
    )
    return jobs
