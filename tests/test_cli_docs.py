"""Every command has help, appears in the README, and `--help` stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from swsusp_inspect.cli import _COMMANDS, _SHORT_HELP, cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_short_help_for_every_command() -> None:
    assert set(_SHORT_HELP) == set(_COMMANDS)


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_command_has_help_and_is_documented(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"swsusp-inspect {name}" in README


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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
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
