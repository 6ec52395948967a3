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
