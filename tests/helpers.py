"""Helpers shared by the reader's tests: hand-written hexdumps, forged images, CLI runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner, Result

from swsusp_inspect.cli import cli
from swsusp_inspect.forge import Forged, ForgeSpec, forge, forge_stream

_LINE = re.compile(r"^\s*([0-9a-fA-F]+):((?:\s+[0-9a-fA-F]{2})+)\s*(?:#.*)?$")


def unhex(size: int, dump: str) -> bytes:
    """Bytes from an annotated hexdump: ``OFFSET: xx xx ...  # comment`` lines.

    Bytes not listed are zero; comment-only and blank lines are skipped.  A line that is
    neither is an error in the test itself.
    """
    out = bytearray(size)
    for line in dump.splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, f"bad hexdump line: {line!r}"
        off = int(m.group(1), 16)
        data = bytes.fromhex(m.group(2))
        assert off + len(data) <= size, f"hexdump line past {size:#x}: {line!r}"
        out[off : off + len(data)] = data
    return bytes(out)


def pfns(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.uint64)


def forge_to(directory: Path, name: str = "image", *, stream: bool = False,
             **spec: Any) -> Forged:
    """Forge an image into ``directory/name``; ``spec`` are ForgeSpec fields (pfns default)."""
    spec.setdefault("pfns", pfns(0x100, 0x100 + 80))
    writer = forge_stream if stream else forge
    return writer(ForgeSpec(**spec), directory / name)


def run_cli(*args: str) -> Result:
    """Run the click group as the console script would (stderr kept apart)."""
    return CliRunner().invoke(cli, list(args))


def assert_error_line(result: Result, *names: str, exit_code: int = 2,
                      expected_vs_found: bool = True) -> str:
    """One line on stderr with every name in ``names`` and a hex offset; no traceback.

    ``expected_vs_found``: the line also says what was expected and what was found (format
    errors; "not an image" and "unsupported" answers name what was found only).
    """
    assert result.exit_code == exit_code, (result.exit_code, result.stderr, result.exception)
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("swsusp-inspect: error: "), line
    for name in names:
        assert name in line, (name, line)
    assert re.search(r"0x[0-9a-f]+", line), line
    if expected_vs_found:
        assert re.search(r"expected .+, got .+", line), line
    return line
