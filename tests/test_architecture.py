"""The layers of docs/architecture.md, held against the code: imports flow one way, from the
layer that needs a thing to the layer below that provides it, and every part of the package
is in the document."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import parsed, statements

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "swsusp_inspect"

# lowest first: a module may import its own layer and the layers before it, never after
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "errors", "exitcodes", "arrays"),
    ("model",),
    ("transport", "formats"),
    ("image", "inputs"),
    ("kernel",),
    ("e820",),
    ("classify",),
    ("summary", "auditor"),
    ("run", "export", "batch"),
    ("render",),
    ("cli", "__main__"),
)
# beside the layers: forgers build test images from the shapes, and nothing imports them
TOOLS = ("forge",)
RANK = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str | None:
    """``swsusp_inspect.formats.legacy.pbe`` -> ``formats``."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 and bits[0] == "swsusp_inspect" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = parsed(path.read_text())
    out = []
    for node in statements(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            if node.module == "swsusp_inspect":
                out += [(node.lineno, f"swsusp_inspect.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def _parts_on_disk() -> set[str]:
    return {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file()
    }


def test_every_part_has_a_layer() -> None:
    assert _parts_on_disk() - set(RANK) - set(TOOLS) == set()


def test_imports_flow_down() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts)
        me = _part(module) or "__init__"
        if me == "__init__":
            continue  # the package's face hands names on (imported on first use)
        for line, target in _imports(path):
            other = _part(target)
            if other is None or other == me:
                continue
            if me in TOOLS:
                ok = other not in TOOLS and RANK[other] <= RANK["image"]
            else:
                ok = other not in TOOLS and RANK[other] <= RANK[me]
            if not ok:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_architecture_doc_names_every_part() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = [p for p in sorted(_parts_on_disk()) if not re.search(rf"`{p}(/|\.py)?`", text)]
    assert not missing, f"docs/architecture.md does not name {missing}"


@pytest.fixture(scope="module", autouse=True)
def _trees_let_go() -> Iterator[None]:
    """The parsed modules are shared by this module's tests and let go after them."""
    yield
    parsed.cache_clear()
