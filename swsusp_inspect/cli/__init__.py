"""Command line: a thin click layer over the library.

Commands live in sibling modules and are imported only when invoked (startup stays cheap).
``swsusp-inspect IMAGE`` is ``swsusp-inspect audit IMAGE``.  Errors derived from
:class:`~swsusp_inspect.errors.SwsuspError` become one line on stderr and exit code 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, NoReturn

import click

from swsusp_inspect.exitcodes import ExitCode

# command name -> "module:attribute" (relative to this package)
_COMMANDS: dict[str, str] = {
    "audit": ".audit:audit_cmd",
    "dmesg": ".dmesg:dmesg_cmd",
    "info": ".image:info_cmd",
    "verify": ".image:verify_cmd",
    "extract": ".image:extract_cmd",
    "map": ".maps:map_group",
    "batch": ".batch:batch_cmd",
}
_DEFAULT = "audit"
_GROUP_FLAGS = ("--debug", "--no-color")  # group options that take no value
_GROUP_EXITS = ("--help", "-h", "--version")  # group options that answer and exit

# one-line help per command, so `--help` lists them without importing their modules
_SHORT_HELP: dict[str, str] = {
    "audit": "Label every saved PFN and report unsafe saves (the default command).",
    "dmesg": "The kernel log at the snapshot, from the image's own memory.",
    "info": "Header, PFN directory and kernel identity (fast).",
    "verify": "Decompress every chunk; check chunk bounds and the image CRC32.",
    "extract": "Write saved pages as a raw file, an ELF core or LiME.",
    "map": "Read a memory map (dmesg, iomem, sysfs, boot_params, JSON); diff two.",
    "batch": "Audit many images from scripts (JSON lines, worst exit code).",
}


class LazyDefaultGroup(click.Group):
    """Group whose commands import on first use and whose default command is ``audit``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name, __name__)
        cmd: click.Command = getattr(module, attr)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _SHORT_HELP[name]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # the global flags anywhere (before a `--`): `info IMAGE --debug` is `--debug info IMAGE`
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a in _GROUP_FLAGS]
        args = [
            *dict.fromkeys(flags),
            *(a for a in args[:end] if a not in _GROUP_FLAGS),
            *args[end:],
        ]
        # `swsusp-inspect [--debug] IMAGE|--audit-option ...` -> `... audit IMAGE ...`: after
        # the group's own options, anything that is not a command starts an audit
        i = 0
        while i < len(args) and args[i] in _GROUP_FLAGS:
            i += 1
        if i < len(args) and args[i] not in _COMMANDS and args[i] not in _GROUP_EXITS:
            args = [*args[:i], _DEFAULT, *args[i:]]
        ctx.meta["swsusp_inspect.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from swsusp_inspect.errors import SwsuspError

        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader went away (`| head`): no traceback, no message, nothing more to write
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(ExitCode.BAD_INPUT)
        except (SwsuspError, OSError) as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo(f"swsusp-inspect: error: {describe_error(exc)}", err=True)
            ctx.exit(ExitCode.BAD_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            # the last line of defence: a bug is neither a finding (1) nor bad input (2)
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo(f"swsusp-inspect: error: {describe_internal(ctx, exc)}", err=True)
            ctx.exit(ExitCode.INTERNAL_ERROR)


def describe_internal(ctx: click.Context, exc: BaseException) -> str:
    """One line for an exception the code did not anticipate: the command, its inputs, the
    exception, and how to see the traceback."""
    import os

    argv = ctx.meta.get("swsusp_inspect.argv", [])
    sub = next((a for a in argv if a in _COMMANDS), "swsusp-inspect")
    inputs = [a for a in argv if not a.startswith("-") and a not in _COMMANDS and os.path.exists(a)]
    reading = f" reading {', '.join(inputs)}" if inputs else ""
    return (
        f"internal error in `{sub}`{reading}: {type(exc).__name__}: {exc} "
        "(a bug: run with --debug for the traceback)"
    )


def describe_error(exc: BaseException) -> str:
    """One line for an error (OSError gets its file name)."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


@click.group(cls=LazyDefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="swsusp-inspect")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (also after the command).")
@click.option(
    "--no-color",
    is_flag=True,
    help="No colour (also after the command, with NO_COLOR set, or without a TTY).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, no_color: bool) -> None:
    """Open Linux hibernation (swsusp) images: what is inside, and was it safe to save.

    \b
    swsusp-inspect IMAGE [--map FILE]   audit an image (same as `audit`)
    swsusp-inspect info IMAGE           header, PFN directory, the kernel's memory
    swsusp-inspect dmesg IMAGE          the kernel log at the snapshot
    swsusp-inspect verify IMAGE         decompress every chunk, check the CRC32
    swsusp-inspect extract IMAGE -o OUT physical-memory file
    swsusp-inspect map FILE             read a memory map (dmesg, iomem, sysfs, ...)
    swsusp-inspect batch PATH...        audit many images

    Exit codes: 0 fine, 1 unsafe saves or integrity failure, 2 bad input or usage,
    3 internal error (a bug; --debug shows the traceback).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["no_color"] = no_color


def main(argv: list[str] | None = None) -> None:
    """Run the command line in this process (raises ``SystemExit`` with the exit code)."""
    # numpy's OpenBLAS starts a thread per core at import; nothing here multiplies matrices,
    # and on 2 cores the threads cost about 0.05 CPU-seconds a start (benchmarks/README.md).
    # Set only for this process and its workers, never by the library, and never over a
    # value the user chose.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    cli.main(args=argv, prog_name="swsusp-inspect")


def console_main() -> NoReturn:
    """The process's entry point (the ``swsusp-inspect`` script, ``python -m swsusp_inspect``):
    :func:`main`, then leave the process without tearing the interpreter down."""
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    leave(code)


def leave(code: Any) -> NoReturn:
    """Exit with ``code`` (``SystemExit``'s: None, a number or a message), skipping the
    interpreter's teardown when nothing is left for it to finish.

    Tearing down frees every module's and every object's memory one by one: 0.02-0.06 s after
    a command that read an image (numpy, construct, the image's structures), a quarter of
    `info`'s whole run (benchmarks/README.md).  The process is about to end, so that work
    changes nothing.  What teardown would still do is done here first: the exit handlers run
    (``atexit``, ``weakref.finalize``) and stdout and stderr are flushed.  Other threads or
    child processes still running, or an output that cannot be flushed (a reader gone
    away), take the ordinary exit instead.
    """
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)  # as the interpreter prints a SystemExit message
        code = 1
    if not _nothing_running():
        sys.exit(code)
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:  # not CPython: its own exit
        sys.exit(code)
    run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _nothing_running() -> bool:
    """No thread but this one, and no child process of ours still running."""
    import threading

    if threading.active_count() > 1:
        return False
    mp = sys.modules.get("multiprocessing")
    return mp is None or not mp.active_children()
