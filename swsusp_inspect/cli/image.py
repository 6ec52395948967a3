"""``info``, ``verify`` and ``extract``."""

from __future__ import annotations

from typing import Any

import click

from swsusp_inspect.cli.common import (
    color_option,
    emit_json,
    image_options,
    jobs_option,
    json_option,
    progress_factory,
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

    _output(run_summary(inputs, progress=progress_factory(False)), as_json, no_color)
    ctx.exit(ExitCode.OK)


@click.command("verify")
@image_options()
@json_option
@color_option
@quiet_option
@jobs_option
@click.pass_context
def verify_cmd(
    ctx: click.Context, inputs: Inputs, as_json: bool, no_color: bool, quiet: bool, jobs: int | None
) -> None:
    """Read and decompress every chunk of IMAGE; check chunk bounds and the CRC32.

    Exit 0 when everything checks; 1 on a CRC32 mismatch, or saved pages that cannot be read
    (named on stderr and in the report); 2 when the image cannot be read at all.
    """
    from swsusp_inspect.run import run_summary

    s = run_summary(inputs, verify=True, jobs=jobs, progress=progress_factory(quiet))
    _output(s, as_json, no_color)
    if s.integrity.unreadable_pages:
        from swsusp_inspect.cli.export import damage_line

        click.echo(
            "swsusp-inspect: error: "
            + damage_line(inputs.image, s.integrity.unreadable, s.integrity.unreadable_pages),
            err=True,
        )
    ctx.exit(ExitCode.OK if s.integrity.verify_ok else ExitCode.FINDINGS)


@click.command("extract")
@image_options(system_map=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="File to write, or - for stdout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["raw", "elf", "lime"]),
    default="raw",
    show_default=True,
    help="raw (offset = physical address), elf (core for drgn/crash), lime.",
)
@click.option("--force", is_flag=True, help="Overwrite OUT (and OUT.json) if they exist.")
@click.option("--no-sidecar", is_flag=True, help="Do not write the record to OUT.json.")
@json_option
@quiet_option
@jobs_option
@click.pass_context
def extract_cmd(
    ctx: click.Context,
    inputs: Inputs,
    output: str,
    fmt: str,
    force: bool,
    no_sidecar: bool,
    as_json: bool,
    quiet: bool,
    jobs: int | None = None,
) -> None:
    """Write IMAGE's saved pages as a raw file, an ELF core or LiME, with a record (OUT.json).

    A damaged image gives every page that can still be read: the unreadable ones are named
    (stderr, JSON) and the exit code is 1.
    """
    from swsusp_inspect.cli.export import run_extract

    ctx.exit(
        run_extract(
            inputs,
            output,
            fmt,
            force=force,
            sidecar=not no_sidecar,
            as_json=as_json,
            quiet=quiet,
            jobs=jobs,
        )
    )
