"""One call per command: open every input of a run, then summarise or audit the image.

The CLI's ``info``/``verify``/``audit`` and each row of a ``batch`` go through these, so an
input is opened, checked and closed the same way everywhere: the side inputs first (a bad map
fails before a long decompression), then the image, read-only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage
    from swsusp_inspect.inputs.system_map import SystemMap
    from swsusp_inspect.model.kernel import KernelLog
    from swsusp_inspect.model.report import IgnoredInput, Report
    from swsusp_inspect.model.summary import ImageSummary

__all__ = [
    "Inputs",
    "Opened",
    "ProgressFactory",
    "audit_opened",
    "open_inputs",
    "run_audit",
    "run_dmesg",
    "run_summary",
]

# (total, description) -> a context whose value is a callable advanced by pages, or None
ProgressFactory = Callable[[int, str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Inputs:
    """The files of one run and what the user says about them."""

    image: str
    maps: tuple[str, ...] = ()
    map_format: str | None = None  # force a memory-map reader
    boot: int | None = None  # the boot of a multi-boot log (None: the image's, by checksum)
    kpageflags: str | None = None
    system_map: str | None = None
    resume_offset: int = 0  # pages from the start of the file to the swap area
    page_offset: int | None = None  # PAGE_OFFSET for eras that list virtual addresses
    passphrase: str | bytes | None = field(default=None, repr=False)
    # maps and System.map found by their names: one that cannot be read is left out (and
    # named in Opened.ignored) instead of failing the run
    lenient: bool = False
    # an opt-in cache of expanded compressed images (transport/cache.py), None: no cache
    cache_dir: str | None = None


@dataclass(frozen=True)
class Opened:
    """Every input of a run, opened."""

    image: HibernationImage
    maps: list[MemoryMap]
    system_map: SystemMap | None
    ignored: tuple[IgnoredInput, ...] = ()  # lenient inputs left out, with why


def _side_inputs(
    inputs: Inputs,
) -> tuple[list[MemoryMap], SystemMap | None, tuple[IgnoredInput, ...]]:
    ignored: list[IgnoredInput] = []

    def read(path: str, load: Callable[[str], Any]) -> Any:
        if not inputs.lenient:
            return load(path)
        from swsusp_inspect.errors import SwsuspError
        from swsusp_inspect.model.report import IgnoredInput

        try:
            return load(path)
        except (SwsuspError, OSError, ValueError) as exc:
            ignored.append(IgnoredInput(path, str(exc)))
            return None

    maps: list[MemoryMap] = []
    if inputs.maps:
        from swsusp_inspect.e820 import load_memory_map

        loaded = [
            read(p, lambda p: load_memory_map(p, fmt=inputs.map_format, boot=inputs.boot))
            for p in inputs.maps
        ]
        maps = [m for m in loaded if m is not None]
    smap = None
    if inputs.system_map:
        from swsusp_inspect.inputs.system_map import load_system_map

        smap = read(inputs.system_map, load_system_map)
    return maps, smap, tuple(ignored)


class _Decompressing:
    """The bar of a compressed image's decompression: opened at its first report (a plain
    image never reports), closed once the image is open."""

    def __init__(self, factory: ProgressFactory | None) -> None:
        self._factory = factory
        self._context: AbstractContextManager[Any] | None = None
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._factory is None:
            return
        if self._context is None:
            self._context = self._factory(total, "decompressing")
            self._bar = self._context.__enter__()
        if self._bar is not None:
            self._bar(done)

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


@contextlib.contextmanager
def open_inputs(
    inputs: Inputs, *, salvage: bool = False, progress: ProgressFactory | None = None
) -> Iterator[Opened]:
    """Open the side inputs, then the image (``salvage``: reading around damage, see
    :func:`~swsusp_inspect.image.open_image`; ``progress``: a bar for the decompression of a
    compressed image); the image is closed on the way out."""
    from swsusp_inspect.image import open_image
    from swsusp_inspect.transport import Expansion

    maps, smap, ignored = _side_inputs(inputs)
    decompressing = _Decompressing(progress)
    try:
        img = open_image(
            inputs.image,
            resume_offset=inputs.resume_offset,
            passphrase=inputs.passphrase,
            page_offset=inputs.page_offset,
            salvage=salvage,
            expansion=Expansion(inputs.cache_dir, decompressing),
        )
    finally:
        decompressing.close()
    with img:
        if maps:
            from swsusp_inspect.summary import pick_boot

            maps = [pick_boot(img, m) for m in maps]
        yield Opened(img, maps, smap, ignored)


def _progress(
    factory: ProgressFactory | None, total: int, what: str
) -> AbstractContextManager[Any]:
    return contextlib.nullcontext() if factory is None else factory(total, what)


def run_summary(
    inputs: Inputs,
    *,
    verify: bool = False,
    jobs: int | None = 1,
    progress: ProgressFactory | None = None,
) -> ImageSummary:
    """``info`` (``verify=False``) or ``verify`` of one image (``verify`` salvaging: it
    names the pages that cannot be read instead of stopping at the first).

    ``verify`` reads the data once, to check it, and leaves the kernel's own memory
    (``memory``) to ``info``: reading it would decompress the image a second time.
    """
    from swsusp_inspect.summary import summarize

    with open_inputs(inputs, salvage=verify, progress=progress) as o:
        total = o.image.info.pages - 1 if verify else 0
        with _progress(progress if verify else None, total, "verifying") as bar:
            return summarize(
                o.image,
                verify=verify,
                system_map=o.system_map,
                maps=o.maps,
                progress=bar,
                jobs=jobs,
                read_memory=not verify,
            )


def audit_opened(
    inputs: Inputs,
    o: Opened,
    *,
    verify: bool = False,
    nosave_rules: str | None = None,
    strip_width: int = 64,
    progress: ProgressFactory | None = None,
) -> Report:
    """``audit`` of an image whose inputs are open."""
    from swsusp_inspect.auditor import audit

    total = o.image.info.pages - 1 if verify else 0
    with _progress(progress if verify else None, total, "verifying") as bar:
        return audit(
            o.image,
            maps=o.maps or None,
            kpageflags=inputs.kpageflags,
            system_map=o.system_map,
            verify=verify,
            nosave_rules=nosave_rules,
            strip_width=strip_width,
            progress=bar,
        )


def run_audit(
    inputs: Inputs,
    *,
    verify: bool = False,
    nosave_rules: str | None = None,
    strip_width: int = 64,
    progress: ProgressFactory | None = None,
) -> Report:
    """``audit`` of one image with all its inputs (salvaging: unreadable pages are a
    finding)."""
    with open_inputs(inputs, salvage=True, progress=progress) as o:
        return audit_opened(
            inputs,
            o,
            verify=verify,
            nosave_rules=nosave_rules,
            strip_width=strip_width,
            progress=progress,
        )


def run_dmesg(inputs: Inputs, *, progress: ProgressFactory | None = None) -> KernelLog:
    """The kernel log of one image at the snapshot.

    Raises:
        KernelMemoryError: the log cannot be read (no VMCOREINFO, its buffer not saved, ...).
    """
    from swsusp_inspect.errors import KernelMemoryError
    from swsusp_inspect.kernel import read_kernel
    from swsusp_inspect.model.kernel import KernelLog

    with open_inputs(inputs, progress=progress) as o:
        state = read_kernel(o.image, o.system_map, source=inputs.image)
        records = state.log
        if records is None:
            why = next(
                (e for e in state.errors if e.startswith(("vmcoreinfo", "log"))),
                next(iter(state.errors), "no log buffer found"),
            )
            raise KernelMemoryError(f"{inputs.image}: no kernel log in the image: {why}")
        return KernelLog(inputs.image, state.log_format, tuple(records), tuple(state.errors))
