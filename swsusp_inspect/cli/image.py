"""``info``, ``verify`` and ``extract``."""

from __future__ import annotations

import contextlib
from typing import Any

import click

from swsusp_inspect.cli.common import (
    color_option,
    default_jobs,
    emit_json,
    image_argument,
    jobs_option,
    json_option,
    map_format_option,
    map_option,
    page_offset_option,
    passphrase_option,
    progress_for,
    resume_offset_option,
    stdout_console,
    system_map_option,
)
from swsusp_inspect.exitcodes import ExitCode


def _load_maps(maps: tuple[str, ...], fmt: str | None) -> list[Any]:
    if not maps:
        return []
    from swsusp_inspect.e820 import load_memory_map

    return [load_memory_map(p, fmt=fmt) for p in maps]


def _summarize(image_path: str, resume_offset: int, verify: bool, system_map: str | None,
               maps: tuple[str, ...], map_format: str | None, quiet: bool = False,
               jobs: int = 1, passphrase: str | None = None,
               page_offset: int | None = None) -> Any:
    from swsusp_inspect.image import open_image
    from swsusp_inspect.inputs.system_map import load_system_map
    from swsusp_inspect.summary import summarize

    smap = load_system_map(system_map) if system_map else None
    mem_maps = _load_maps(maps, map_format)
    with open_image(image_path, resume_offset=resume_offset, passphrase=passphrase,
                    page_offset=page_offset) as img:
        bar = progress_for(img.info.pages - 1, "verifying", quiet) if verify else None
        with bar if bar is not None else contextlib.nullcontext():
            return summarize(img, verify=verify, system_map=smap, maps=mem_maps, progress=bar,
                             jobs=jobs)


def _output(summary: Any, as_json: bool, no_color: bool) -> None:
    if as_json:
        from swsusp_inspect.render.json import dumps

        emit_json(dumps(summary))
    else:
        from swsusp_inspect.render.rich_image import render_summary

        render_summary(summary, stdout_console(no_color))


@click.command("info")
@image_argument
@resume_offset_option
@page_offset_option
@system_map_option
@map_option
@map_format_option
@passphrase_option
@json_option
@color_option
@click.pass_context
def info_cmd(ctx: click.Context, image: str, resume_offset: int, system_map: str | None,
             maps: tuple[str, ...], map_format: str | None, passphrase: str | None,
             as_json: bool, no_color: bool, page_offset: int | None = None) -> None:
    """Header, PFN directory and kernel identity of IMAGE (fast: no full decompression).

    With --map, says whether the map is the one the image was made with (e820 checksum).
    """
    s = _summarize(image, resume_offset, False, system_map, maps, map_format,
                   passphrase=passphrase, page_offset=page_offset)
    _output(s, as_json, no_color)
    ctx.exit(ExitCode.OK)


@click.command("verify")
@image_argument
@resume_offset_option
@page_offset_option
@system_map_option
@passphrase_option
@json_option
@color_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@jobs_option
@click.pass_context
def verify_cmd(ctx: click.Context, image: str, resume_offset: int, system_map: str | None,
               passphrase: str | None, as_json: bool, no_color: bool, quiet: bool,
               jobs: int | None, page_offset: int | None = None) -> None:
    """Read and decompress every chunk of IMAGE; check chunk bounds and the CRC32.

    Exit 0 when everything checks, 1 on a CRC32 mismatch, 2 when the image cannot be read.
    """
    s = _summarize(image, resume_offset, True, system_map, (), None, quiet, default_jobs(jobs),
                   passphrase=passphrase, page_offset=page_offset)
    _output(s, as_json, no_color)
    ctx.exit(ExitCode.OK if s.verify_ok else ExitCode.FINDINGS)


@click.command("extract")
@image_argument
@resume_offset_option
@page_offset_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Raw physical-memory file to write (offset = physical address).")
@click.option("--format", "fmt", type=click.Choice(["raw"]), default="raw", show_default=True,
              help="Output format.")
@passphrase_option
@json_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@jobs_option
@click.pass_context
def extract_cmd(ctx: click.Context, image: str, resume_offset: int, output: str, fmt: str,
                passphrase: str | None, as_json: bool, quiet: bool, jobs: int | None = None,
                page_offset: int | None = None) -> None:
    """Write IMAGE's saved pages to a raw physical-memory file (holes sparse)."""
    import os

    from swsusp_inspect.export.raw import extract_raw
    from swsusp_inspect.image import open_image

    if os.path.exists(output) and os.path.exists(image) and os.path.samefile(output, image):
        click.echo("swsusp-inspect: error: the output file is the input file", err=True)
        ctx.exit(ExitCode.BAD_INPUT)
    with open_image(image, resume_offset=resume_offset, passphrase=passphrase,
                    page_offset=page_offset) as img:
        bar = progress_for(img.info.image_pages, "extracting", quiet)
        with bar if bar is not None else contextlib.nullcontext():
            result = extract_raw(img, output, progress=bar, jobs=default_jobs(jobs))
    if as_json:
        from swsusp_inspect.render.json import dumps

        emit_json(dumps(result))
    else:
        click.echo(f"{result.pages_written} pages written to {result.path} "
                   f"({result.size:#x} bytes, {result.zero_pages} zero pages left as holes)")
    ctx.exit(ExitCode.OK)
