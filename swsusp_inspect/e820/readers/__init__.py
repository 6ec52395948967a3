"""Readers, one per source; :func:`load` picks one by content (or by name)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from swsusp_inspect.e820.model import MemoryMap
from swsusp_inspect.e820.readers.binary import (
    looks_like_boot_params,
    read_boot_params,
    read_e820_raw,
)
from swsusp_inspect.e820.readers.iomem import looks_like_iomem, read_iomem
from swsusp_inspect.e820.readers.jsonmap import read_json
from swsusp_inspect.e820.readers.logtext import looks_like_log, read_log
from swsusp_inspect.e820.readers.sysfs import (
    looks_like_sysfs,
    read_sysfs_dir,
    read_sysfs_tar,
    read_sysfs_text,
)
from swsusp_inspect.errors import MapError
from swsusp_inspect.transport import read_expanded

__all__ = ["FORMATS", "load"]

# --map-format values
FORMATS = ("dmesg", "iomem", "sysfs", "boot_params", "e820_raw", "json")
_MAX_TEXT = 256 << 20  # a kernel log is never this big; refuse rather than exhaust memory


def _decode(source: str, data: bytes) -> str | None:
    if b"\0" in data[:65536]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
            return None


def load(path: str | Path, fmt: str | None = None, boot: int | None = None) -> MemoryMap:
    """Read a memory map from ``path`` in any supported format (see :data:`FORMATS`).

    A directory is read as /sys/firmware/memmap; anything else is read whole, at most
    :data:`_MAX_TEXT` bytes (a pipe or a procfs file too), and decompressed when it is xz, gzip
    or zstd (at most :data:`_MAX_TEXT` bytes again); character devices and sockets are
    refused, and a FIFO with no writer reads as empty instead of blocking.
    """
    p = Path(path)
    source = str(path)
    if fmt is not None and fmt not in FORMATS:
        raise MapError(source, None, f"unknown map format {fmt!r} (one of {', '.join(FORMATS)})")
    if p.is_dir():
        if fmt not in (None, "sysfs"):
            raise MapError(source, None, f"a directory can only be read as sysfs, not {fmt}")
        return read_sysfs_dir(p)
    data, _transport = read_expanded(
        source,
        _MAX_TEXT,
        lambda why: MapError(source, None, f"{why}: not a memory map"),
        what="memory map",
    )
    if fmt in (None, "sysfs") and _is_tar(data):
        return read_sysfs_tar(p, data)
    if fmt in ("boot_params", "e820_raw"):
        return _binary(source, data, fmt)
    text = _decode(source, data)
    if text is None:
        if fmt is not None:
            raise MapError(source, None, f"binary file, not {fmt} text")
        return _binary(source, data, None)
    return _text(source, text, fmt, boot)


def _binary(source: str, data: bytes, fmt: str | None) -> MemoryMap:
    """A boot_params page or a raw e820 table (``fmt`` forces one; None: by their shapes)."""
    if fmt == "boot_params" or (fmt is None and looks_like_boot_params(data)):
        return read_boot_params(source, data)
    if fmt == "e820_raw" or (len(data) % 20 == 0 and data):
        return read_e820_raw(source, data)
    raise MapError(
        source,
        None,
        f"binary file of {len(data)} bytes: not a 4096-byte "
        "boot_params page, and not a multiple of 20 (a raw e820 "
        "table)",
    )


def _text(source: str, text: str, fmt: str | None, boot: int | None) -> MemoryMap:
    """A text map: JSON, iomem, sysfs text or a kernel log (``fmt`` forces one)."""
    if fmt == "json" or (fmt is None and text.lstrip().startswith("{")):
        return read_json(source, text)
    if fmt == "iomem" or (fmt is None and looks_like_iomem(text)):
        return read_iomem(source, text)
    if fmt == "sysfs" or (fmt is None and looks_like_sysfs(text)):
        return read_sysfs_text(source, text)
    if fmt == "dmesg" or looks_like_log(text):
        return read_log(source, text, boot)
    first = next((i for i, ln in enumerate(text.splitlines(), 1) if ln.strip()), None)
    raise MapError(
        source, first, "no memory map: not a kernel log, iomem, sysfs memmap or JSON map"
    )


def _is_tar(data: bytes) -> bool:
    """A tar archive (ustar/gnu magic at 257, as tarfile.is_tarfile finds it; a compressed
    tar arrives here already expanded)."""
    if len(data) < 512:
        return False
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            return tar.next() is not None
    except (tarfile.TarError, ValueError, EOFError):
        return False
