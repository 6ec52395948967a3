"""The choke point between construct and the project's errors."""

from __future__ import annotations

from typing import Any

import construct as cs

from swsusp_inspect.errors import FormatError, TruncatedError


def parse_at(struct: cs.Construct, buf: Any, offset: int, structure: str) -> Any:
    """Parse ``struct`` from ``buf[offset:]``; errors name ``structure`` and the file offset.

    Args:
        struct: a construct definition of fixed size.
        buf: bytes-like object (an mmap is fine) holding the whole file.
        offset: file offset of the structure.
        structure: human name for messages ("swsusp_info", ...).
    """
    size = struct.sizeof()
    if offset < 0 or offset + size > len(buf):
        raise TruncatedError(structure, offset, size, len(buf))
    try:
        return struct.parse(bytes(buf[offset : offset + size]))
    except cs.ConstError as exc:
        # path looks like "(parsing) -> sig"
        field = str(getattr(exc, "path", "") or "").split("->")[-1].strip() or None
        raise FormatError(structure, offset, field, detail=str(exc).split("\n")[0]) from exc
    except cs.ConstructError as exc:
        raise FormatError(structure, offset, detail=str(exc).split("\n")[0]) from exc


def cstring(raw: bytes) -> str:
    """A NUL-terminated C string from a fixed-size field (non-ASCII bytes escaped)."""
    return raw.split(b"\0", 1)[0].decode("ascii", "backslashreplace")
