"""Shared fixtures (helpers live in tests/helpers.py).

Every real sample and real head is an xz file of 10-30 MB that each test would decompress
again; the session fixture below decompresses each one once, into a sparse file of a cache kept
between runs (see ``_Decompressed``), and hands the same bytes to every later open (the image
still reports its ``xz`` transport and its own path). Inputs anywhere else (the tests' own
damaged copies) are opened as they are.

Scratch files (``tmp_path``, and the package's own temporary files) go to a directory of
``/dev/shm`` when it is a memory file system with room (8 GiB free): the suite writes a few GB
of damaged copies and extractions, and writing them to a disk cost more system time than any
test. ``SWSUSP_INSPECT_TEST_TMP=DIR`` names another place, ``SWSUSP_INSPECT_TEST_TMP=default``
keeps pytest's; ``--basetemp`` wins. The directory in ``/dev/shm`` goes when the run ends,
failed or not (it holds memory until removed); a failing run's files stay only where
``SWSUSP_INSPECT_TEST_TMP=DIR`` put them.
"""

from __future__ import annotations

import os

# numpy's OpenBLAS starts a thread per core at import, which then spins beside the tests after
# every call into it (about 1% of the run's CPU); nothing here multiplies matrices (the CLI
# sets the same for itself)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# numpy asks for transparent huge pages for every array of 4 MiB or more; the tests make
# thousands of short-lived ones, and the kernel zeroing a 2 MiB page for each was a fifth of
# the salvage tests' CPU (perf: clear_page_erms under do_huge_pmd_anonymous_page)
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import functools
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers import SAMPLES, file_sha256, forge_to

from swsusp_inspect.forge.kernel import Forged

_SHARED = (SAMPLES.resolve(), (Path(__file__).parent / "data").resolve())


def _read_each_system_map_once() -> None:
    """A System.map is 1-2 MB of xz read by dozens of tests: read each one once (the map is
    never changed by its users). Installed before the test modules import the function."""
    import dataclasses

    from swsusp_inspect.inputs import system_map

    real = system_map.load_system_map

    @functools.cache
    def cached(path: str, mtime_ns: int) -> system_map.SystemMap:
        # an xz map is read from the sample cache's copy, expanded once per machine (1 MB of
        # xz is 0.08 s each time); the reader's own xz, gzip and zstd paths are tested on
        # copies outside the shared folders (tests/transport/test_compressed_inputs.py)
        kept = _kept() if path.endswith(".xz") else None
        return real(path if kept is None else kept.raw(path))

    def load(path: str | os.PathLike[str]) -> system_map.SystemMap:
        full = Path(path).resolve()
        if not any(full.is_relative_to(d) for d in _SHARED):
            return real(path)
        # one entry however the path is spelt; the map names the path it was given
        kept = cached(os.fspath(full), full.stat().st_mtime_ns)
        return dataclasses.replace(kept, source=os.fspath(path))

    system_map.load_system_map = load  # type: ignore[assignment]


_read_each_system_map_once()

_SCRATCH_ROOM = 8 << 30
_GC_THRESHOLDS = (20_000, 50, 100)
_SCRATCH = pytest.StashKey[Path]()


def _scratch_root() -> Path | None:
    """Where the session's scratch directory goes (None: pytest's default)."""
    asked = os.environ.get("SWSUSP_INSPECT_TEST_TMP")
    if asked == "default":
        return None
    if asked:
        return Path(asked)
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    with open("/proc/mounts", encoding="utf-8", errors="replace") as fh:
        memory_fs = any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in fh)
    if not memory_fs or not os.access(shm, os.W_OK) or st.f_bavail * st.f_frsize < _SCRATCH_ROOM:
        return None
    return shm


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    import gc

    # The run makes millions of objects almost all freed by their reference counts (the
    # assertion rewriter's AST nodes during collection; parsed JSON documents, construct
    # containers, hypothesis examples in the tests): CPython's default thresholds (700, 10, 10)
    # ran about 1,100 collections during collection and 4,500 during the tests, 2.7-3.3
    # CPU-seconds of a run; these about 150-200, 0.7-0.8. Cycles are still collected, only
    # less often.
    gc.set_threshold(*_GC_THRESHOLDS)
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    try:
        root = _scratch_root()
    except OSError:
        root = None
    if root is None:
        return
    base = Path(tempfile.mkdtemp(prefix="swsusp-inspect-tests-", dir=root))
    (base / "tmp").mkdir()
    config.option.basetemp = str(base / "pytest")
    tempfile.tempdir = str(base / "tmp")
    config.stash[_SCRATCH] = base


def pytest_unconfigure(config: pytest.Config) -> None:
    base = config.stash.get(_SCRATCH, None)
    if base is None:
        return
    tempfile.tempdir = None
    if getattr(config, "_swsusp_failed", True) and os.environ.get("SWSUSP_INSPECT_TEST_TMP"):
        print(f"\ntest scratch files kept in {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[object]:
    """Where bytecode may not be written (``PYTHONDONTWRITEBYTECODE``), collection keeps what
    it compiles in the tests' cache directory instead (``bytecode/``, under
    ``sys.pycache_prefix``), never beside the sources: pytest then reads the test modules back
    with their assertions already rewritten (rewriting 52 modules' asserts took 1-1.5
    CPU-seconds each run) and the package's modules compiled. Only during collection: later
    imports, and every child process, see the interpreter as it was. Nothing changes where
    bytecode may be written (pytest keeps it in ``__pycache__`` then), nor with
    ``SWSUSP_INSPECT_TEST_CACHE=off``."""
    where = _cache_dir() if sys.dont_write_bytecode and sys.pycache_prefix is None else None
    if where is None:
        return (yield)
    sys.pycache_prefix = str(where / "bytecode")
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = True
        sys.pycache_prefix = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (test items, imported modules) lives to the end: moved out of
    the garbage collector's sight, so the full collections of the run do not walk it again
    and again (``gc.freeze``); the thresholds are pytest_configure's."""
    import gc

    gc.collect()
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._swsusp_failed = exitstatus not in (0, 5)  # type: ignore[attr-defined]


class _LzoOnce:
    """``lzallright.LZOCompressor`` that does each distinct job once a session.

    The real samples' LZO chunks are decompressed by test after test (every verify, audit and
    extraction of the same image), and forged images compress the same pattern pages again
    and again (LZO's compressor takes ~18 ms a chunk): the same library call on the same bytes
    gives the same bytes, so each distinct (call, input) runs once and its output is kept
    (up to ``LIMIT`` bytes of outputs). Errors are never kept: damaged data meets the library
    each time."""

    LIMIT = 768 << 20
    real: ClassVar[Any] = None
    done: ClassVar[dict[tuple[Any, ...], bytes]] = {}
    held: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lzo = self.real(*args, **kwargs)

    def _once(self, call: str, data: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        # length and two checksums of different kinds name the input (a sha256 of every
        # chunk cost a second a run)
        key = (
            call,
            len(memoryview(data)),
            zlib.crc32(data),
            zlib.adler32(data),
            args,
            *sorted(kwargs.items()),
        )
        out = _LzoOnce.done.get(key)
        if out is None:
            out = getattr(self._lzo, call)(data, *args, **kwargs)
            if _LzoOnce.held + len(out) <= self.LIMIT:
                _LzoOnce.done[key] = out
                _LzoOnce.held += len(out)
        return out

    def compress(self, data: Any, *args: Any, **kwargs: Any) -> bytes:
        return self._once("compress", data, args, kwargs)

    def decompress(self, data: Any, *args: Any, **kwargs: Any) -> bytes:
        return self._once("decompress", data, args, kwargs)


def _lzo_once() -> None:
    import lzallright

    _LzoOnce.real = lzallright.LZOCompressor
    lzallright.LZOCompressor = _LzoOnce


_lzo_once()


class _Decompressed:
    """Each shared xz input decompressed once, into a sparse file named by the xz's SHA-256.

    The files live in a cache directory kept between runs (``SWSUSP_INSPECT_TEST_CACHE=DIR``;
    by default ``$XDG_CACHE_HOME/swsusp-inspect-tests`` or ``~/.cache/swsusp-inspect-tests``;
    ``off``, or a directory that cannot be made, puts them in the session's temporary
    directory): the three real samples are 1.3-2 CPU-seconds of xz each session otherwise. A
    file is named by the content of the xz it came from (a changed sample is a new name), is
    made by the standard library's ``lzma`` (never by the code under test), and is written
    aside and renamed once whole (forked batch workers and concurrent runs may make the same
    file at the same time)."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.cache: dict[tuple[str, int, int], Path] = {}

    def raw(self, path: str | os.PathLike[str]) -> Path:
        full = Path(path).resolve()
        st = full.stat()
        key = (str(full), st.st_size, st.st_mtime_ns)
        raw = self.cache.get(key)
        if raw is None:
            raw = self.where / f"{file_sha256(full)[:32]}.raw"
            if not raw.exists():
                _expand_xz(full, raw)
            self.cache[key] = raw
        return raw


def _expand_xz(src: Path, raw: Path) -> None:
    import lzma

    part = raw.with_suffix(f".{os.getpid()}.part")
    try:
        with lzma.open(src) as xz, open(part, "wb") as out:
            size = 0
            while block := xz.read(1 << 20):
                size += len(block)
                if block.count(0) == len(block):  # keep zeros sparse
                    out.seek(len(block), os.SEEK_CUR)
                else:
                    out.write(block)
            out.truncate(size)
        os.replace(part, raw)
    finally:
        part.unlink(missing_ok=True)


def _cache_dir() -> Path | None:
    asked = os.environ.get("SWSUSP_INSPECT_TEST_CACHE")
    if asked == "off":
        return None
    if asked:
        where = Path(asked)
    else:
        where = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        where = where / "swsusp-inspect-tests"
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return where if os.access(where, os.W_OK) else None


@functools.cache
def _kept() -> _Decompressed | None:
    """The expanded copies kept between runs, one for the whole session (the samples and the
    System.maps alike); None when the cache is off or has no writable place."""
    where = _cache_dir()
    return None if where is None else _Decompressed(where)


@pytest.fixture(scope="session")
def decompressed(tmp_path_factory: pytest.TempPathFactory) -> _Decompressed:
    return _kept() or _Decompressed(tmp_path_factory.mktemp("decompressed"))


@pytest.fixture(scope="session", autouse=True)
def _decompress_each_sample_once(decompressed: _Decompressed) -> Iterator[None]:
    from swsusp_inspect.image import hibernation
    from swsusp_inspect.transport import Source

    real = hibernation.open_source

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
