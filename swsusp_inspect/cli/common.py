"""Options and helpers shared by the commands (click stays inside this package)."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import click

from swsusp_inspect.run import Inputs

F = TypeVar("F", bound=Callable[..., Any])


def _address(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number (0xc0000000 or 3221225472)") from None


def resume_offset_option(f: F) -> F:
    return click.option(
        "--resume-offset",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="PAGES",
        help="Pages from the start of the file to the swap area (as the kernel's resume_offset=).",
    )(f)


def page_offset_option(f: F) -> F:
    return click.option(
        "--page-offset",
        default=None,
        metavar="ADDR",
        callback=lambda c, p, v: _address(v),
        help="The kernel's PAGE_OFFSET, for images before 2.6.19 that name pages by virtual "
        "address (default: inferred from the addresses, e.g. 0xc0000000 on i386).",
    )(f)


def passphrase_option(f: F) -> F:
    return click.option(
        "--passphrase",
        envvar="SWSUSP_INSPECT_PASSPHRASE",
        default=None,
        metavar="TEXT",
        help="Passphrase of an encrypted uswsusp (s2disk) image (also from "
        "SWSUSP_INSPECT_PASSPHRASE, which keeps it out of the process list).",
    )(f)


def system_map_option(f: F) -> F:
    return click.option(
        "--system-map",
        type=click.Path(),
        default=None,
        help="The kernel's System.map (linux_banner, __nosave_begin/end).",
    )(f)


def map_option(f: F) -> F:
    return click.option(
        "--map",
        "maps",
        multiple=True,
        type=click.Path(),
        metavar="FILE",
        help="Memory map: dmesg/journal, /proc/iomem, sysfs memmap, boot_params, JSON. Repeatable.",
    )(f)


def map_format_option(f: F) -> F:
    return click.option(
        "--map-format", default=None, help="Force the memory-map reader (default: by content)."
    )(f)


def cache_option(f: F) -> F:
    return click.option(
        "--cache",
        "cache_dir",
        envvar="SWSUSP_INSPECT_CACHE",
        default=None,
        metavar="DIR",
        type=click.Path(file_okay=False),
        help="Keep the expanded copy of a compressed image in DIR and reuse it while the "
        "input is the same (also SWSUSP_INSPECT_CACHE): the decompression is paid once. "
        "Never the input's directory.",
    )(f)


def boot_option(f: F) -> F:
    return click.option(
        "--boot",
        type=int,
        default=None,
        metavar="N",
        help="Boot to read from a log of several (1-based; -1 the last). Default: the boot "
        "whose firmware table has the image's e820 checksum, else the last.",
    )(f)


def kpageflags_option(f: F) -> F:
    return click.option(
        "--kpageflags",
        type=click.Path(),
        default=None,
        metavar="FILE",
        help="A copy of /proc/kpageflags (raw or .xz/.gz) taken before hibernating: "
        "reserved-RAM evidence (KPF_RESERVED).",
    )(f)


def image_options(
    *, system_map: bool = True, maps: bool = False, kpageflags: bool = False
) -> Callable[[F], F]:
    """The IMAGE argument and the options every image command shares, handed to the command
    as one :class:`~swsusp_inspect.run.Inputs` (``inputs=``)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            inputs = Inputs(
                image=kwargs.pop("image"),
                maps=tuple(kwargs.pop("maps", ())),
                map_format=kwargs.pop("map_format", None),
                boot=kwargs.pop("boot", None),
                kpageflags=kwargs.pop("kpageflags", None),
                system_map=kwargs.pop("system_map", None),
                resume_offset=kwargs.pop("resume_offset"),
                page_offset=kwargs.pop("page_offset"),
                passphrase=kwargs.pop("passphrase"),
                cache_dir=kwargs.pop("cache_dir"),
            )
            return f(*args, inputs=inputs, **kwargs)

        options: list[Callable[[Any], Any]] = [
            click.argument("image", type=click.Path()),
            *([map_option, map_format_option, boot_option] if maps else []),
            *([kpageflags_option] if kpageflags else []),
            *([system_map_option] if system_map else []),
            resume_offset_option,
            page_offset_option,
            passphrase_option,
            cache_option,
        ]
        wrapped: Any = command
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")(f)


def color_option(f: F) -> F:
    return click.option(
        "--no-color",
        is_flag=True,
        envvar="NO_COLOR",
        help="No colour (also when NO_COLOR is set or stdout is no TTY).",
    )(f)


def quiet_option(f: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(f)


def jobs_option(f: F) -> F:
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=None,
        help="Parallel workers (default: from the work's size and the cores "
        "free now; one on a busy machine).",
    )(f)


def batch_jobs(jobs: int | None, images: int) -> int:
    """``--jobs``, else one worker per image up to the cores free now."""
    if jobs:
        return jobs
    from swsusp_inspect.image.parallel import free_cores

    return max(1, min(free_cores(), images))


def emit_json(text: str) -> None:
    sys.stdout.write(text + "\n")


def stdout_console(no_color: bool = False) -> Any:
    """The data console: colour off with the command's or the program's ``--no-color``."""
    from swsusp_inspect.render.console import make_console

    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    return make_console(no_color=no_color or bool((root or {}).get("no_color")))


def progress_for(total: int, description: str, quiet: bool = False) -> Any:
    """A rich progress bar on stderr when it is a TTY, else None."""
    if quiet or not sys.stderr.isatty() or total <= 0:
        return None
    from swsusp_inspect.render.progress import ProgressBar

    return ProgressBar(total, description)


def progress_factory(quiet: bool) -> Callable[[int, str], AbstractContextManager[Any]]:
    """For the library's runs: a bar per long step (or nothing)."""

    def factory(total: int, description: str) -> AbstractContextManager[Any]:
        bar = progress_for(total, description, quiet)
        return bar if bar is not None else contextlib.nullcontext()

    return factory
