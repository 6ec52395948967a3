"""Shared fixtures (helpers live in tests/helpers.py).

Every real sample and real head is an xz file of 10-30 MB that each test would decompress
again; the session fixture below decompresses each one once, into a sparse file of the session's
temporary directory, and hands the same bytes to every later open (the image still reports its
``xz`` transport and its own path). Inputs anywhere else (the tests' own damaged copies) are
opened as they are.
"""

from __future__ import annotations

import hashlib
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


class _Decompressed:
    """Each shared xz input decompressed once into a sparse file of the session's temp dir."""

    def __init__(self, where: Path, opener: Callable[..., Any]) -> None:
        self.where, self.opener = where, opener
        self.cache: dict[tuple[str, int, int], Path] = {}

    def raw(self, path: str | os.PathLike[str]) -> Path:
        full = Path(path).resolve()
        st = full.stat()
        key = (str(full), st.st_size, st.st_mtime_ns)
        raw = self.cache.get(key)
        if raw is None:
            # named by the input, written aside and renamed: forked batch workers may make the
            # same file at the same time
            raw = self.where / f"{hashlib.sha256(repr(key).encode()).hexdigest()[:24]}.raw"
            if raw.exists():
                self.cache[key] = raw
                return raw
            part = raw.with_suffix(f".{os.getpid()}.part")
            with self.opener(path) as src, open(part, "wb") as out:
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
            os.replace(part, raw)
            self.cache[key] = raw
        return raw


@pytest.fixture(scope="session")
def decompressed(tmp_path_factory: pytest.TempPathFactory) -> _Decompressed:
    from swsusp_inspect.image import hibernation

    return _Decompressed(tmp_path_factory.mktemp("decompressed"), hibernation.open_source)


@pytest.fixture(scope="session", autouse=True)
def _decompress_each_sample_once(decompressed: _Decompressed) -> Iterator[None]:
    from swsusp_inspect.image import hibernation
    from swsusp_inspect.transport import Source

    real = decompressed.opener

    def shared(path: str | os.PathLike[str], **kwargs: Any) -> Source:
        spath = os.fspath(path)
        full = Path(spath).resolve()
        if not spath.endswith(".xz") or not any(full.is_relative_to(d) for d in _SHARED):
            return real(path, **kwargs)
        src = real(decompressed.raw(path), **kwargs)
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
def plain_sample(decompressed: _Decompressed) -> Callable[[str], Path]:
    """``plain_sample(name)``: the real sample's image decompressed, once per session."""
    from helpers import SAMPLES

    def get(name: str) -> Path:
        return decompressed.raw(SAMPLES / name / "swap.img.xz")

    return get
