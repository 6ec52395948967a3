"""``info``, ``verify`` and ``extract``."""

from __future__ import annotations

import contextlib
from typing import Any

import click

from swsusp_inspect.cli.common import (
    color_option,
    emit_json,
    image_options,
    jobs_option,
    json_option,
    progress_factory,
    progress_for,
    quiet_option,
    stdout_console,
)
from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.run import Inputs


def _output(summary: Any, as_json: bool, no_color: bool) -> None:
    if as_json:
        emit_json(summary.to_json())
    else:
        from swsusp_inspect.render.rich_image import render_summary

        render_summary(summary, stdout_console(no_color))


@click.command("info")
@image_options(maps=True)
@json_option
@color_option
@click.pass_context
def info_cmd(ctx: click.Context, inputs: Inputs, as_json: bool, no_color: bool) -> None:
    """Header, PFN directory and kernel identity of IMAGE (fast: no full decompression).

    With --map, says whether the map is the one the image was made with (e820 checksum).
    """
    from swsusp_inspect.run import run_summary

    _output(run_summary(inputs), as_json, no_color)
    ctx.exit(ExitCode.OK)


@click.command("verify")
@image_options()
@json_option
@color_option
@quiet_option
@jobs_option
@click.pass_context
def verify_cmd(ctx: click.Context, inputs: Inputs, as_json: bool, no_color: bool, quiet: bool,
               jobs: int | None) -> None:
    """Read and decompress every chunk of IMAGE; check chunk bounds and the CRC32.

    Exit 0 when everything checks, 1 on a CRC32 mismatch, 2 when the image cannot be read.
    """
    from swsusp_inspect.run import run_summary

    s = run_summary(inputs, verify=True, jobs=jobs,
                    progress=progress_factory(quiet))
    _output(s, as_json, no_color)
    ctx.exit(ExitCode.OK if s.integrity.verify_ok else ExitCode.FINDINGS)


@click.command("extract")
@image_options(system_map=False)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Raw physical-memory file to write (offset = physical address).")
@click.option("--format", "fmt", type=click.Choice(["raw"]), default="raw", show_default=True,
              help="Output format.")
@json_option
@quiet_option
@jobs_option
@click.pass_context
def extract_cmd(ctx: click.Context, inputs: Inputs, output: str, fmt: str, as_json: bool,
                quiet: bool, jobs: int | None = None) -> None:
    """Write IMAGE's saved pages to a raw physical-memory file (holes sparse)."""
    import os

    from swsusp_inspect.export.raw import extract_raw
    from swsusp_inspect.run import open_inputs

    image = inputs.image
    if os.path.exists(output) and os.path.exists(image) and os.path.samefile(output, image):
        click.echo("swsusp-inspect: error: the output file is the input file", err=True)
        ctx.exit(ExitCode.BAD_INPUT)
    with open_inputs(inputs) as o:
        bar = progress_for(o.image.info.image_pages, "extracting", quiet)
        with bar if bar is not None else contextlib.nullcontext():
            result = extract_raw(o.image, output, progress=bar, jobs=jobs)
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(f"{result.pages_written} pages written to {result.path} "
                   f"({result.size:#x} bytes, {result.zero_pages} zero pages left as holes)")
    ctx.exit(ExitCode.OK)
