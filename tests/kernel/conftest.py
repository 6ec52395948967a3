"""Session-scoped real images and excerpts for the kernel-memory tests.

Opening a real sample costs its xz decompression (about a second): each image is opened at
most once per session, and its :class:`KernelState` read once, whichever test asks first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kernel_helpers import EXCERPTS, needs_system_map, sample_dir, system_map, system_map_path

from swsusp_inspect import open_image
from swsusp_inspect.kernel import KernelState, load_excerpt, read_kernel


@dataclass
class Real:
    """A real sample opened for the kernel tests: the image (or excerpt) and its state."""

    name: str
    dir: Path  # where its evidence is (sample directory or excerpt directory)
    image: Any
    state: KernelState
    kind: str  # "image" or "excerpt"


class _Cache:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Real] = {}
        self.images: list[Any] = []

    def image(self, name: str) -> Real:
        key = ("image", name)
        if key not in self.items:
            d = sample_dir(name)
            if d is None:
                pytest.skip(f"{name}: image not in place")
            img = open_image(d / "swap.img.xz")
            self.images.append(img)
            smap = system_map_path(d) if needs_system_map(d) else None
            if needs_system_map(d) and smap is None:
                pytest.skip(f"{name}: no System.map for its data symbols")
            state = read_kernel(
                img, None if smap is None else system_map(smap), source=str(d / "swap.img.xz")
            )
            self.items[key] = Real(name, d, img, state, "image")
        return self.items[key]

    def excerpt(self, name: str) -> Real:
        key = ("excerpt", name)
        if key not in self.items:
            d = EXCERPTS / name
            exc = load_excerpt(d / "memory.kexc.xz")
            smap = d / "System.map"
            state = read_kernel(exc, str(smap) if smap.is_file() else None, source=str(d))
            self.items[key] = Real(name, d, exc, state, "excerpt")
        return self.items[key]


@pytest.fixture(scope="session")
def kernel_cache() -> Iterator[_Cache]:
    cache = _Cache()
    yield cache
    for img in cache.images:
        img.close()
