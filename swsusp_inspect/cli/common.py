"""Options and helpers shared by the commands (click stays inside this package)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def image_argument(f: F) -> F:
    return click.argument("image", type=click.Path(dir_okay=False, allow_dash=False))(f)


def resume_offset_option(f: F) -> F:
    return click.option(
        "--resume-offset", type=click.IntRange(min=0), default=0, show_default=True,
        metavar="PAGES",
        help="Pages from the start of the file to the swap area (as the kernel's resume_offset=).",
    )(f)


def _address(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number (0xc0000000 or 3221225472)") \
            from None


def page_offset_option(f: F) -> F:
    return click.option(
        "--page-offset", default=None, metavar="ADDR", callback=lambda c, p, v: _address(v),
        help="The kernel's PAGE_OFFSET, for images before 2.6.19 that name pages by virtual "
        "address (default: inferred from the addresses, e.g. 0xc0000000 on i386).",
    )(f)


def passphrase_option(f: F) -> F:
    return click.option(
        "--passphrase", envvar="SWSUSP_INSPECT_PASSPHRASE", default=None, metavar="TEXT",
        help="Passphrase of an encrypted uswsusp (s2disk) image (also from "
        "SWSUSP_INSPECT_PASSPHRASE, which keeps it out of the process list).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")(f)


def color_option(f: F) -> F:
    return click.option("--no-color", is_flag=True, envvar="NO_COLOR",
                        help="No colour (also when NO_COLOR is set or stdout is no TTY).")(f)


def system_map_option(f: F) -> F:
    return click.option("--system-map", type=click.Path(dir_okay=False), default=None,
                        help="The kernel's System.map (linux_banner, __nosave_begin/end).")(f)


def map_option(f: F) -> F:
    return click.option(
        "--map", "maps", multiple=True, type=click.Path(), metavar="FILE",
        help="Memory map: dmesg/journal, /proc/iomem, sysfs memmap, boot_params, JSON. "
        "Repeatable.",
    )(f)


def map_format_option(f: F) -> F:
    return click.option("--map-format", default=None,
                        help="Force the memory-map reader (default: by content).")(f)


def emit_json(text: str) -> None:
    sys.stdout.write(text + "\n")


def stdout_console(no_color: bool) -> Any:
    from swsusp_inspect.render.console import make_console

    return make_console(no_color=no_color)


def progress_for(total: int, description: str, quiet: bool = False) -> Any:
    """A rich progress bar on stderr when it is a TTY, else None."""
    if quiet or not sys.stderr.isatty() or total <= 0:
        return None
    from swsusp_inspect.render.progress import ProgressBar

    return ProgressBar(total, description)


def jobs_option(f: F) -> F:
    return click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                        help="Parallel workers (default: number of cores).")(f)


def default_jobs(jobs: int | None) -> int:
    import os

    return jobs or os.cpu_count() or 1
