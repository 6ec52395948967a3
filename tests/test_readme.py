"""The README's Python examples run as written (from the repository root)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_python_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS, ids=lambda c: c.splitlines()[0][:40])
def test_readme_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out


def test_every_real_sample_is_in_the_readme() -> None:
    """Each generated sample (samples/<name>/provenance.json) is named in README.md, and each
    one whose image is git-ignored is named in the table of samples not committed."""
    readme = (ROOT / "README.md").read_text()
    ignored = (ROOT / "samples" / ".gitignore").read_text()
    names = sorted(p.parent.name for p in (ROOT / "samples").glob("*/provenance.json"))
    assert len(names) >= 3
    table = readme[readme.index("| sample | what it shows |"):]
    table = table[: table.index("\n\n")]
    for name in names:
        assert name in readme or name.replace("-lzo-encrypted", "-lzo{,-encrypted}") in readme
        if f"/{name}/swap.img.xz" in ignored:
            base = name.removesuffix("-encrypted")
            assert f"`{name}`" in table or f"`{base}{{,-encrypted}}`" in table, name
