"""``batch``: audit many images from scripts."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from swsusp_inspect.cli.common import (
    batch_jobs,
    boot_option,
    cache_option,
    color_option,
    jobs_option,
    page_offset_option,
    passphrase_option,
    resume_offset_option,
    stdout_console,
)


def _rows(plan: Any, jobs: int | None, jsonl: bool, quiet: bool) -> list[Any]:
    """Run the plan (a bar on a terminal); with ``jsonl`` each row is printed as it comes."""
    from swsusp_inspect import batch

    bar: Any = None
    if not quiet and sys.stderr.isatty() and plan:
        from swsusp_inspect.render.progress import ProgressBar

        bar = ProgressBar(len(plan), "auditing")
    rows = []
    with bar if bar is not None else contextlib.nullcontext():
        for row in batch.run(
            plan, workers=batch_jobs(jobs, len(plan)), on_done=(lambda _r: bar(1)) if bar else None
        ):
            rows.append(row)
            if jsonl:
                sys.stdout.write(row.to_json(indent=None) + "\n")
                sys.stdout.flush()
    return rows


@click.command("batch")
@click.argument("paths", nargs=-1)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="CSV or JSON lines with columns image, map, kpageflags, system_map "
    "(optional: resume_offset, page_offset, boot).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    type=click.Path(),
    metavar="FILE",
    help="Memory map applied to every image (overrides sidecars). Repeatable.",
)
@boot_option
@click.option(
    "--kpageflags", type=click.Path(), default=None, help="kpageflags applied to every image."
)
@click.option(
    "--system-map", type=click.Path(), default=None, help="System.map applied to every image."
)
@click.option("--no-sidecars", is_flag=True, help="Do not look for per-image sidecar files.")
@click.option("--verify", is_flag=True, help="Also decompress everything and check CRC32s.")
@click.option("--jsonl", is_flag=True, help="One audit JSON object per line (plus path, error).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON document: every row (as --jsonl) and the summary.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Also add the rows to an SQLite database (created when missing).",
)
@passphrase_option
@resume_offset_option
@page_offset_option
@cache_option
@jobs_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary on stderr.")
@color_option
@click.pass_context
def batch_cmd(
    ctx: click.Context,
    paths: tuple[str, ...],
    manifest: str | None,
    maps: tuple[str, ...],
    boot: int | None,
    kpageflags: str | None,
    system_map: str | None,
    no_sidecars: bool,
    verify: bool,
    jsonl: bool,
    as_json: bool,
    db: str | None,
    passphrase: str | None,
    resume_offset: int,
    page_offset: int | None,
    cache_dir: str | None,
    jobs: int | None,
    quiet: bool,
    no_color: bool,
) -> None:
    """Audit every image in PATHS (files; directories searched and globs matched by content).

    Per-image inputs come from sidecar files (host1.img + host1.dmesg / .iomem /
    .kpageflags / .System.map; or dmesg*, console.log, map.*, *.e820, iomem, memmap beside
    an image alone in its directory) or from --manifest. Results keep input order; a broken
    image is a row with its error. Exit code: the worst of the images (0 fine, 1 unsafe
    saves/integrity, 2 unreadable).
    """
    from swsusp_inspect import batch
    from swsusp_inspect.model.report import BatchDocument, BatchSummary

    if not paths and not manifest:
        raise click.UsageError("give at least one PATH or --manifest")
    if jsonl and as_json:
        raise click.UsageError("--json and --jsonl are exclusive")
    plan = batch.plan(
        paths,
        manifest=manifest,
        maps=maps,
        kpageflags=kpageflags,
        system_map=system_map,
        verify=verify,
        use_sidecars=not no_sidecars,
        passphrase=passphrase,
        resume_offset=resume_offset,
        page_offset=page_offset,
        boot=boot,
        cache_dir=cache_dir,
    )
    rows = _rows(plan, jobs, jsonl, quiet)
    summary = BatchSummary.of(rows, plan.skipped)
    if db is not None:
        from swsusp_inspect.batch.db import write_rows

        write_rows(db, rows, summary)
    if as_json:
        sys.stdout.write(BatchDocument(images=tuple(rows), summary=summary).to_json() + "\n")
    elif jsonl:
        if not quiet and (summary.skipped.total or summary.without_map):
            from swsusp_inspect.render.rich_batch import summary_words

            click.echo(f"swsusp-inspect: batch: {summary_words(summary)}", err=True)
    else:
        from swsusp_inspect.render.rich_batch import render_batch

        render_batch(rows, summary, stdout_console(no_color))
    ctx.exit(summary.worst_exit_code)
