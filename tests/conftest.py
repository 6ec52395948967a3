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
