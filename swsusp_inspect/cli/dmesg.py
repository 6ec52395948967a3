"""``dmesg``: the hibernated kernel's log, as it stood when the snapshot was taken."""

from __future__ import annotations

import sys

import click

from swsusp_inspect.cli.common import emit_json, image_options, json_option, progress_factory
from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.run import Inputs


@click.command("dmesg")
@image_options()
@json_option
@click.option(
    "--caller",
    is_flag=True,
    help="Show the caller id ([T1234] / [C1]) as the console does (5.1+ logs).",
)
@click.pass_context
def dmesg_cmd(ctx: click.Context, inputs: Inputs, as_json: bool, caller: bool) -> None:
    """The kernel log of IMAGE at the snapshot, read from the kernel's own memory.

    Lines as `dmesg` prints them ([seconds.micro] text); --json gives the records (sequence
    number, timestamp in ns, level, facility, caller, text). The log ends where the kernel
    made the snapshot: `Image created` is printed after the copy and is never in it.
    Exit 0; 2 when the log cannot be read (the reason in one line).
    """
    from swsusp_inspect.run import run_dmesg

    log = run_dmesg(inputs, progress=progress_factory(False))
    if as_json:
        emit_json(log.to_json())
    else:
        from swsusp_inspect.kernel import format_dmesg

        out = sys.stdout
        for line in format_dmesg(log.records, caller=caller):
            out.write(line + "\n")
    ctx.exit(ExitCode.OK)
