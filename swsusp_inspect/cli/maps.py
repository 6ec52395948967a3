"""``swsusp-inspect map FILE`` and ``swsusp-inspect map diff OLD NEW``."""

from __future__ import annotations

from typing import Any

import click

from swsusp_inspect.cli.common import color_option, stdout_console
from swsusp_inspect.e820 import FORMATS, diff_maps, load_memory_map
from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.render.rich_map import render_map, render_map_diff


class _DefaultShowGroup(click.Group):
    """``map FILE ...`` means ``map show FILE ...``; ``map diff OLD NEW`` stays."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["show", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(
            ctx.command_path, "FILE [--json] [--map-format F] [--boot N] | diff OLD NEW [--json]"
        )


_format_opt = click.option(
    "--map-format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Force a reader instead of sniffing the content.",
)
_boot_opt = click.option(
    "--boot",
    type=int,
    default=None,
    metavar="N",
    help="Boot to read from a multi-boot log (1-based; -1 is the last).",
)


@click.group(cls=_DefaultShowGroup, context_settings={"help_option_names": ["-h", "--help"]})
def map_group() -> None:
    """Read a memory map (dmesg, journal, /proc/iomem, /sys/firmware/memmap, boot_params,
    raw e820, JSON): table, e820 checksums, nosave ranges.

    \b
    swsusp-inspect map FILE [--json] [--map-format F] [--boot N]
    swsusp-inspect map diff OLD NEW [--json]   exit 0 same, 1 different, 2 bad input
    """


@map_group.command("show")
@click.argument("file", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")
@_format_opt
@_boot_opt
@color_option
def show_cmd(file: str, as_json: bool, fmt: str | None, boot: int | None, no_color: bool) -> None:
    """Show the memory map in FILE."""
    m = load_memory_map(file, fmt=fmt, boot=boot)
    if as_json:
        click.echo(m.document().to_json())
    else:
        render_map(stdout_console(no_color), m)


@map_group.command("diff")
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")
@_format_opt
@_boot_opt
@click.option(
    "--old-boot",
    type=int,
    default=None,
    metavar="N",
    help="Boot of OLD (a multi-boot log; default --boot, else the last).",
)
@click.option(
    "--new-boot",
    type=int,
    default=None,
    metavar="N",
    help="Boot of NEW (a multi-boot log; default --boot, else the last).",
)
@color_option
@click.pass_context
def diff_cmd(
    ctx: click.Context,
    old: str,
    new: str,
    as_json: bool,
    fmt: str | None,
    boot: int | None,
    old_boot: int | None,
    new_boot: int | None,
    no_color: bool,
) -> Any:
    """Compare two memory maps: regions added, removed, moved, resized, retyped.

    Two boots of one log: map diff console.log console.log --old-boot 1 --new-boot 2
    """
    d = diff_maps(
        load_memory_map(old, fmt=fmt, boot=boot if old_boot is None else old_boot),
        load_memory_map(new, fmt=fmt, boot=boot if new_boot is None else new_boot),
    )
    if as_json:
        click.echo(d.to_json())
    else:
        render_map_diff(stdout_console(no_color), d)
    ctx.exit(ExitCode.OK if d.same else ExitCode.FINDINGS)
