"""Every command has help and is documented with every option, the findings table is the
code's, and `--help` stays cheap."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from docs_text import DOCS, PAGES, README, ROOT, prose, section, text

from swsusp_inspect.cli import _COMMANDS, _SHORT_HELP, cli

CLI_MD = DOCS / "cli.md"


def _commands() -> list[tuple[str, click.Command]]:
    """(path after `swsusp-inspect`, command) of every command that runs, sub-commands too."""
    ctx = click.Context(cli)
    out: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: str) -> None:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}".strip())
        else:
            out.append((path, cmd))

    walk(cli, "")
    return out


COMMANDS = _commands()


def _options(cmd: click.Command) -> list[str]:
    return sorted(
        o
        for p in cmd.params
        if isinstance(p, click.Option)
        for o in (*p.opts, *p.secondary_opts)
        if o not in ("-h", "--help")
    )


def test_short_help_for_every_command() -> None:
    assert set(_SHORT_HELP) == set(_COMMANDS)


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_command_has_help_and_is_in_the_readme(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"swsusp-inspect {name}" in text(README)


def test_every_command_is_found() -> None:
    assert {p for p, _ in COMMANDS} >= {
        "audit",
        "info",
        "verify",
        "extract",
        "batch",
        "map show",
        "map diff",
    }


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_option_is_documented_in_its_commands_section(path: str, cmd: click.Command) -> None:
    body = section(CLI_MD, f"`swsusp-inspect {path}`")
    for opt in _options(cmd):
        assert _in_code(opt, body), f"docs/cli.md, `swsusp-inspect {path}`: {opt} is missing"


def test_the_programs_own_options_are_documented() -> None:
    body = section(CLI_MD, "Options of `swsusp-inspect` itself")
    for opt in _options(cli):
        assert _in_code(opt, body), opt


def _in_code(opt: str, markdown: str) -> bool:
    """``opt`` as a whole word inside a backtick span (``--map`` is not ``--map-format``)."""
    word = re.compile(rf"(?<![\w-]){re.escape(opt)}(?![\w-])")
    return any(word.search(span) for span in re.findall(r"`([^`]+)`", markdown))


def test_every_option_appears_in_readme_or_docs() -> None:
    docs = "\n".join(prose(p) for p in PAGES)
    missing = {
        opt for _, cmd in [("", cli), *COMMANDS] for opt in _options(cmd) if not _in_code(opt, docs)
    }
    assert not missing


def test_findings_table_is_the_codes() -> None:
    """Every finding code the audit defines is in docs/audit.md with its severity."""
    from swsusp_inspect.auditor.notes import FINDING_CODES

    table = section(DOCS / "audit.md", "Findings")
    rows = {
        cells[1].strip("` "): cells[2].strip()
        for line in table.splitlines()
        if line.startswith("| `")
        for cells in [line.split("|")]
    }
    for code, (severity, _) in FINDING_CODES.items():
        assert rows.get(code) == severity.value, code
    assert set(rows) == set(FINDING_CODES)


def test_one_version_source() -> None:
    import swsusp_inspect
    from swsusp_inspect import _version

    project = tomllib.loads(text(ROOT / "pyproject.toml"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "swsusp_inspect._version.__version__"
    assert swsusp_inspect.__version__ == _version.__version__


def test_help_does_not_import_the_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from swsusp_inspect.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], standalone_mode=False)\n"
        "finally:\n"
        "    heavy = [m for m in ('numpy', 'construct', 'rich', 'lzallright', 'lz4')\n"
        "             if m in sys.modules]\n"
        "    print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out


def test_options_before_the_image_still_mean_audit() -> None:
    root = Path(__file__).resolve().parent.parent / "samples" / "forged-seed-2004"
    image, dmesg = str(root / "swap.img.xz"), str(root / "dmesg.txt")
    runs = [
        ["--map", dmesg, image, "--json"],
        ["--debug", image, "--map", dmesg, "--json"],
        ["audit", image, "--map", dmesg, "--json"],
    ]
    outs = []
    for args in runs:
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 1, (args, r.output)  # the seed scenario's unsafe saves
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]
