"""``audit`` (also ``swsusp-inspect IMAGE``): label every saved PFN, report unsafe saves."""

from __future__ import annotations

import sys

import click

from swsusp_inspect.cli.common import (
    color_option,
    emit_json,
    image_options,
    json_option,
    progress_factory,
    quiet_option,
    stdout_console,
)
from swsusp_inspect.run import Inputs

STRIP_WIDTH = 64


@click.command("audit")
@image_options(maps=True, kpageflags=True)
@click.option(
    "--verify",
    is_flag=True,
    help="Decompress every chunk and check the CRC32 (a mismatch is an error).",
)
@click.option(
    "--nosave-rules",
    type=click.Choice(["pre-2025", "post-2025"]),
    default=None,
    help="Derive nosave from the map by these kernel rules instead of the log's "
    "'Registered nosave memory' lines.",
)
@json_option
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="One CSV row per run of saved PFNs: start_pfn,end_pfn,pages,label,region,type.",
)
@color_option
@click.option("--strict", is_flag=True, help="Warnings give exit code 1 too.")
@quiet_option
@click.pass_context
def audit_cmd(
    ctx: click.Context,
    inputs: Inputs,
    verify: bool,
    nosave_rules: str | None,
    as_json: bool,
    as_csv: bool,
    no_color: bool,
    strict: bool,
    quiet: bool,
) -> None:
    """Label every saved PFN of IMAGE and report pages that must not be saved.

    \b
    Labels (the first that applies wins):
      reserved-non-ram  not fully RAM in the map: reserved, ACPI, NVS, holes, beyond
      nosave            in the kernel's nosave regions (System.map, log, map rules)
      reserved-ram      RAM, reserved per --kpageflags, else iomem, else e820 type 128
      normal            everything else
    Without --map there are no labels: header, integrity and PFN checks only.

    \b
    Exit codes: 0 no unsafe save and integrity fine; 1 unsafe saves or an integrity
    failure (with --strict also warnings); 2 input could not be read or bad usage.
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv are exclusive")
    from swsusp_inspect.run import run_audit

    console = None if (as_json or as_csv) else stdout_console(no_color)
    width = STRIP_WIDTH if console is None else max(16, min(96, console.width - 4))
    report = run_audit(
        inputs,
        verify=verify,
        nosave_rules=nosave_rules,
        strip_width=width,
        progress=progress_factory(quiet),
    )
    if as_csv:
        from swsusp_inspect.render.csv import write_csv

        write_csv(report, sys.stdout)
    elif as_json:
        emit_json(report.to_json())
    elif console is not None:
        from swsusp_inspect.render.rich_audit import render_report

        render_report(report, console)
    ctx.exit(report.exit_code(strict))
