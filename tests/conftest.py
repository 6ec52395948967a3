"""Shared fixtures (helpers live in tests/helpers.py).

Every real sample and real head is an xz file of 10-30 MB that each test would decompress
again; the session fixture below decompresses each one once, into a sparse file of the session's
temporary directory, and hands the same bytes to every later open (the image still reports its
``xz`` transport and its own path). Inputs anywhere else (the tests' own damaged copies) are
opened as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SAMPLES, forge_to

from swsusp_inspect.forge.kernel import Forged

_SHARED = (SAMPLES.resolve(), (Path(__file__).parent / "data").resolve())


def _read_each_system_map_once() -> None:
    """A System.map is 1-2 MB of xz read by dozens of tests: read each one once (the map is
    never changed by its users). Installed before the test modules import the function."""
    import functools

    from swsusp_inspect.inputs import system_map

    real = system_map.load_system_map

    @functools.cache
    def cached(path: str, mtime_ns: int) -> system_map.SystemMap:
        return real(path)

    def load(path: str | os.PathLike[str]) -> system_map.SystemMap:
        full = Path(path).resolve()
        if not any(full.is_relative_to(d) for d in _SHARED):
            return real(path)
        return cached(os.fspath(path), full.stat().st_mtime_ns)

    system_map.load_system_map = load  # type: ignore[assignment]


_read_each_system_map_once()


@pytest.fixture(scope="session", autouse=True)
def _decompress_each_sample_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from swsusp_inspect.image import hibernation
    from swsusp_inspect.transport import Source

    real = hibernation.open_source
    cache: dict[tuple[str, int, int], Path] = {}
    where = tmp_path_factory.mktemp("decompressed")

    def shared(path: str | os.PathLike[str], **kwargs: Any) -> Source:
        spath = os.fspath(path)
        full = Path(spath).resolve()
        if not spath.endswith(".xz") or not any(full.is_relative_to(d) for d in _SHARED):
            return real(path, **kwargs)
        st = full.stat()
        key = (str(full), st.st_size, st.st_mtime_ns)
        raw = cache.get(key)
        if raw is None:
            raw = where / f"{len(cache)}.raw"
            with real(path, **kwargs) as src, open(raw, "wb") as out:
                view = memoryview(src.buf)
                step = 1 << 20
                for at in range(0, len(view), step):
                    block = bytes(view[at : at + step])
                    if block.count(0) == len(block):  # keep zeros sparse
                        out.seek(len(block), os.SEEK_CUR)
                    else:
                        out.write(block)
                out.truncate(len(view))
                del view
            cache[key] = raw
        src = real(raw, **kwargs)
        return Source(spath, src.buf, "xz", src._closers)

    hibernation.open_source = shared  # type: ignore[assignment]
    try:
        yield
    finally:
        hibernation.open_source = real  # type: ignore[assignment]


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
