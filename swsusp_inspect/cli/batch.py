"""``batch``: audit many images from scripts."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from swsusp_inspect.cli.common import (
    color_option,
    default_jobs,
    jobs_option,
    page_offset_option,
    passphrase_option,
    resume_offset_option,
    stdout_console,
)


@click.command("batch")
@click.argument("paths", nargs=-1)
@click.option("--manifest", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CSV or JSON lines with columns image, map, kpageflags, system_map "
              "(optional: resume_offset, page_offset).")
@click.option("--map", "maps", multiple=True, type=click.Path(), metavar="FILE",
              help="Memory map applied to every image (overrides sidecars). Repeatable.")
@click.option("--kpageflags", type=click.Path(), default=None,
              help="kpageflags applied to every image.")
@click.option("--system-map", type=click.Path(), default=None,
              help="System.map applied to every image.")
@click.option("--no-sidecars", is_flag=True, help="Do not look for per-image sidecar files.")
@click.option("--verify", is_flag=True, help="Also decompress everything and check CRC32s.")
@click.option("--jsonl", is_flag=True, help="One audit JSON object per line (plus path, error).")
@passphrase_option
@resume_offset_option
@page_offset_option
@jobs_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@color_option
@click.pass_context
def batch_cmd(ctx: click.Context, paths: tuple[str, ...], manifest: str | None,
              maps: tuple[str, ...], kpageflags: str | None, system_map: str | None,
              no_sidecars: bool, verify: bool, jsonl: bool, passphrase: str | None,
              resume_offset: int, page_offset: int | None, jobs: int | None, quiet: bool,
              no_color: bool) -> None:
    """Audit every image in PATHS (files, directories searched recursively, globs).

    Per-image inputs come from sidecar files (host1.img + host1.dmesg / .iomem /
    .kpageflags / .System.map; or dmesg.txt etc. beside an image alone in its directory) or
    from --manifest. Results keep input order; a broken image is a row with its error.
    Exit code: the worst of the images (0 fine, 1 unsafe saves/integrity, 2 unreadable).
    """
    from swsusp_inspect import batch

    if not paths and not manifest:
        raise click.UsageError("give at least one PATH or --manifest")
    plan = batch.plan(paths, manifest=manifest, maps=maps, kpageflags=kpageflags,
                      system_map=system_map, verify=verify, use_sidecars=not no_sidecars,
                      passphrase=passphrase, resume_offset=resume_offset,
                      page_offset=page_offset)
    bar: Any = None
    if not quiet and sys.stderr.isatty() and plan:
        from swsusp_inspect.render.progress import ProgressBar

        bar = ProgressBar(len(plan), "auditing")
    rows = []
    with bar if bar is not None else contextlib.nullcontext():
        for row in batch.run(plan, workers=default_jobs(jobs),
                             on_done=(lambda _r: bar(1)) if bar else None):
            rows.append(row)
            if jsonl:
                sys.stdout.write(row.to_json(indent=None) + "\n")
                sys.stdout.flush()
    if not jsonl:
        from swsusp_inspect.render.rich_batch import render_batch

        render_batch(rows, stdout_console(no_color))
    ctx.exit(batch.worst(r.exit_code for r in rows))
