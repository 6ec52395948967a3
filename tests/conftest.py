"""Shared fixtures (helpers live in tests/helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import forge_to

from swsusp_inspect.forge.kernel import Forged


@pytest.fixture
def forged_image(tmp_path: Path) -> Callable[..., Forged]:
    """``forged_image(name="image", stream=False, **ForgeSpec fields) -> Forged``."""

    def make(name: str = "image", *, stream: bool = False, **spec: Any) -> Forged:
        return forge_to(tmp_path, name, stream=stream, **spec)

    return make


@pytest.fixture(scope="session")
def plain_sample(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``plain_sample(name)``: the real sample's image decompressed, once per session."""
    import lzma

    from helpers import SAMPLES

    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            path = tmp_path_factory.mktemp("plain") / f"{name}.img"
            with lzma.open(SAMPLES / name / "swap.img.xz") as src, open(path, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            done[name] = path
        return done[name]

    return get
