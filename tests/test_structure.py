"""The package keeps its shape: no module over 500 lines, no function body over 60 lines
unless a reason is written beside it (``# long: <why>`` on the ``def`` line or the line above
it or above its decorators), and click, rich and construct imported only in their layers.
Body lines run from the first statement after the docstring to the function's last line, so
comments and blank lines inside count, decorators and the signature do not.

The import bans are ruff's TID251 too (pyproject.toml), but a per-file ignore there frees a
file from every ban at once (cli/ could import construct); this test holds each library to its
own layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from helpers import child_statements, parsed, statements

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "swsusp_inspect"

MAX_MODULE_LINES = 500
MAX_BODY_LINES = 60
LONG_MARK = "# long:"

# Functions still long on main while another branch rewrites them (none at present); each entry
# must still be a long function without a `# long:` reason (the test fails when an entry is
# stale, so the integrator notices and removes it).
ALLOWED_LONG: set[str] = set()


# Where each layered library may be imported (files or folders under the repository root);
# keep in step with [tool.ruff.lint.flake8-tidy-imports.banned-api] in pyproject.toml.
LIBRARY_LAYERS = {
    "click": ("swsusp_inspect/cli/",),
    "rich": ("swsusp_inspect/render/",),
    "construct": (
        "swsusp_inspect/formats/",
        "swsusp_inspect/forge/",
        "swsusp_inspect/kernel/",
        "swsusp_inspect/e820/readers/binary.py",
    ),
}


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function."""
    body = node.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        if len(body) == 1:
            return 0
        first = body[1]
    assert node.end_lineno is not None
    return node.end_lineno - first.lineno + 1


def has_reason(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> bool:
    """A ``# long: <why>`` comment (with a reason) on the def line or the line above the
    function (above its decorators, if any)."""
    top = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    candidates = [lines[node.lineno - 1], lines[top - 2] if top >= 2 else ""]
    for line in candidates:
        at = line.find(LONG_MARK)
        if at >= 0 and line[at + len(LONG_MARK) :].strip():
            return True
    return False


def long_functions(source: str, module: str) -> dict[str, tuple[int, int, bool]]:
    """``{"module::Qual.name": (line, body lines, reason given)}`` for bodies over the limit."""
    lines = source.splitlines()
    out: dict[str, tuple[int, int, bool]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in child_statements(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                n = body_lines(child)
                if n > MAX_BODY_LINES:
                    out[f"{module}::{name}"] = (child.lineno, n, has_reason(child, lines))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(parsed(source), "")
    return out


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@cache
def package_long_functions() -> dict[str, tuple[int, int, bool]]:
    out: dict[str, tuple[int, int, bool]] = {}
    for path in package_modules():
        module = path.relative_to(ROOT).as_posix()
        out.update(long_functions(path.read_text(encoding="utf-8"), module))
    return out


def imported_roots(source: str) -> set[str]:
    """Top-level names of the absolute imports anywhere in ``source`` (lazy ones included)."""
    roots: set[str] = set()
    for node in statements(parsed(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_over_500_lines() -> None:
    modules = package_modules()
    assert len(modules) > 50  # the package is where this test thinks it is
    over = [
        f"{p.relative_to(ROOT).as_posix()}: {n} lines"
        for p in modules
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not over, (
        f"modules over {MAX_MODULE_LINES} lines (split them by job):\n  " + "\n  ".join(over)
    )


def test_no_long_function_without_a_reason() -> None:
    found = package_long_functions()
    offenders = [
        f"{name} (line {line}): {n} body lines"
        for name, (line, n, reason) in sorted(found.items())
        if not reason and name not in ALLOWED_LONG
    ]
    assert not offenders, (
        f"function bodies over {MAX_BODY_LINES} lines (docstring excluded); split them, or "
        f"write the reason beside the def as `{LONG_MARK} <why>`:\n  " + "\n  ".join(offenders)
    )


def test_allow_list_is_not_stale() -> None:
    found = package_long_functions()
    stale = sorted(name for name in ALLOWED_LONG if name not in found or found[name][2])
    assert not stale, (
        "ALLOWED_LONG entries no longer needed (the function is gone, short "
        "enough, or has its own `# long:` reason): remove them:\n  " + "\n  ".join(stale)
    )


def test_layered_libraries_only_in_their_layer() -> None:
    wrong = []
    for path in package_modules():
        module = path.relative_to(ROOT).as_posix()
        for lib in sorted(imported_roots(path.read_text(encoding="utf-8")) & LIBRARY_LAYERS.keys()):
            if not module.startswith(LIBRARY_LAYERS[lib]):
                wrong.append(f"{module} imports {lib} (only {', '.join(LIBRARY_LAYERS[lib])})")
    assert not wrong, "imports outside their layer:\n  " + "\n  ".join(wrong)


# -- the checker itself ------------------------------------------------------------------------


def _function(
    body: int, *, docstring: bool = False, mark: str = "", above: str = "", decorated: bool = False
) -> str:
    head = [above] if above else []
    if decorated:
        head.append("@staticmethod")
    head.append(f"def f(x):{mark}")
    if docstring:
        head += ['    """Doc', "    string.", '    """']
    return "\n".join([*head, *(["    x += 1"] * (body - 1)), "    return x", ""])


@pytest.mark.parametrize(
    ("src", "expect"),
    [
        (_function(60), None),
        (_function(61), (61, False)),
        (_function(60, docstring=True), None),
        (_function(61, docstring=True), (61, False)),
        (_function(61, mark="  # long: one table of the format"), (61, True)),
        (_function(61, above="# long: one table of the format"), (61, True)),
        (_function(61, above="# long: one table of the format", decorated=True), (61, True)),
        (_function(61, mark="  # long:"), (61, False)),  # a mark without a reason is none
        (_function(61, above="# long: a reason two lines up\nimport os"), (61, False)),
    ],
)
def test_checker_counts_bodies_and_reasons(src: str, expect: tuple[int, bool] | None) -> None:
    found = long_functions(src, "m.py")
    if expect is None:
        assert found == {}
    else:
        [(name, (_, n, reason))] = found.items()
        assert (name, n, reason) == ("m.py::f", *expect)


def test_checker_names_methods_and_nested_functions() -> None:
    inner = _function(61).replace("\n", "\n        ").replace("def f", "def g", 1)
    src = f"class C:\n    def m(self):\n        {inner}\n        return g\n"
    assert set(long_functions(src, "m.py")) == {"m.py::C.m", "m.py::C.m.g"}


def test_checker_finds_lazy_and_submodule_imports() -> None:
    src = (
        "import os\nfrom . import x\nfrom construct import Struct\n"
        "def f():\n    import rich.console as c\n    return c\n"
    )
    assert imported_roots(src) == {"os", "construct", "rich"}


@pytest.mark.parametrize(
    "args", [("check", "."), ("format", "--check", ".")], ids=["check", "format"]
)
def test_ruff_keeps_the_house(args: tuple[str, ...]) -> None:
    """`ruff check .` and `ruff format --check .` pass (the version the test group pins)."""
    pytest.importorskip("ruff", reason="ruff is in the test dependency group")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module", autouse=True)
def _trees_let_go() -> Iterator[None]:
    """The parsed modules are shared by this module's tests and let go after them."""
    yield
    parsed.cache_clear()
