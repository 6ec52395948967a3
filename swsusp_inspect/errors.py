"""Exception hierarchy of swsusp-inspect.

Every error the package raises on bad input derives from :class:`SwsuspError` and renders as one
line that names the structure, the file offset in hex, and what was expected versus found.  This
module imports nothing from the package.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CacheError",
    "FormatError",
    "KernelDataError",
    "KernelMemoryError",
    "MapError",
    "NotAnImageError",
    "NotInImageError",
    "SwsuspError",
    "TranslationError",
    "TruncatedError",
    "UnsupportedFormatError",
]


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return repr(value)
    return str(value)


def _restore(cls: type[SwsuspError], message: str, state: dict[str, Any]) -> SwsuspError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class SwsuspError(Exception):
    """Root of every error raised for bad input or bad usage."""

    def __reduce__(self) -> tuple[Any, ...]:
        # errors cross process boundaries (parallel verify, batch): rebuild them from their
        # message and fields, whatever the subclass's __init__ takes
        return (_restore, (type(self), str(self), dict(self.__dict__)))


class FormatError(SwsuspError):
    """A structure in the input does not hold what its format requires.

    Attributes:
        structure: what was being read ("swap map page", "swsusp_info", ...).
        offset: file offset of the structure (or of the field), in bytes.
        field: field path inside the structure, or None.
        expected: human description of what was expected (ints render in hex).
        found: what the file holds (ints render in hex).
    """

    def __init__(
        self,
        structure: str,
        offset: int | None,
        field: str | None = None,
        expected: Any = None,
        found: Any = None,
        *,
        detail: str | None = None,
        path: str | None = None,
    ) -> None:
        self.structure = structure
        self.offset = offset
        self.field = field
        self.expected = expected
        self.found = found
        self.detail = detail
        self.path = path
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.structure if self.offset is None else f"{self.structure} at {self.offset:#x}"
        parts = [where]
        if self.field:
            parts.append(self.field)
        if self.expected is not None or self.found is not None:
            parts.append(f"expected {_show(self.expected)}, got {_show(self.found)}")
        if self.detail:
            parts.append(self.detail)
        msg = ": ".join(parts)
        return f"{self.path}: {msg}" if self.path else msg

    def with_path(self, path: str) -> FormatError:
        """Return the same error naming the input file."""
        self.path = path
        self.args = (self._message(),)
        return self


class TruncatedError(FormatError):
    """The file ends inside a structure."""

    def __init__(self, structure: str, offset: int, needed: int, file_size: int) -> None:
        super().__init__(
            structure,
            offset,
            expected=f"{needed} bytes",
            found=f"{max(0, file_size - offset)} bytes before end of file at {file_size:#x}",
        )
        self.needed = needed
        self.file_size = file_size


class NotAnImageError(SwsuspError):
    """The input holds no hibernation image (an answer, not a crash)."""


class UnsupportedFormatError(SwsuspError):
    """The input is a recognised hibernation format this version cannot read yet."""


class CacheError(SwsuspError):
    """The cache of expanded images (``--cache``) cannot be used; names the directory."""


class MapError(SwsuspError):
    """A memory-map input could not be read; names the file and the line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {message}")


class KernelMemoryError(SwsuspError):
    """Something in the saved kernel memory could not be read or made sense of."""


class NotInImageError(KernelMemoryError):
    """A physical address lies in a page frame the image did not save.

    Attributes:
        address: the physical address asked for.
        pfn: its page frame number.
        what: what was being read, or None.
    """

    def __init__(self, address: int, pfn: int, what: str | None = None) -> None:
        self.address = address
        self.pfn = pfn
        self.what = what
        where = f"{what}: " if what else ""
        super().__init__(
            f"{where}physical address {address:#x}: page frame {pfn:#x} is not in the image"
        )


class TranslationError(KernelMemoryError):
    """A virtual address could not be translated through the image's page tables.

    Attributes:
        address: the virtual address.
        level: the page-table level that failed (e.g. "PML4", "PGD", "PTE"), or None.
        entry_address: physical address of the failing entry, or None.
        reason: why, in words.
    """

    def __init__(
        self,
        address: int,
        reason: str,
        *,
        level: str | None = None,
        entry_address: int | None = None,
    ) -> None:
        self.address = address
        self.level = level
        self.entry_address = entry_address
        self.reason = reason
        where = ""
        if level is not None:
            where = f" at {level}" + ("" if entry_address is None else f" entry {entry_address:#x}")
        super().__init__(f"virtual address {address:#x}{where}: {reason}")


class KernelDataError(KernelMemoryError):
    """A kernel structure read from the image does not hold what the kernel would write.

    The message names the structure, its address (``phys`` or ``virt``), the field, and what
    was expected versus found.
    """

    def __init__(
        self,
        structure: str,
        address: int | None,
        field: str | None = None,
        expected: Any = None,
        found: Any = None,
        *,
        detail: str | None = None,
        space: str = "virt",
    ) -> None:
        self.structure = structure
        self.address = address
        self.field = field
        self.expected = expected
        self.found = found
        self.detail = detail
        parts = [structure if address is None else f"{structure} at {space} {address:#x}"]
        if field:
            parts.append(field)
        if expected is not None or found is not None:
            parts.append(f"expected {_show(expected)}, got {_show(found)}")
        if detail:
            parts.append(detail)
        super().__init__(": ".join(parts))
