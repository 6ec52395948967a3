"""Exit codes of every command, in one place (the README's table is this one).

A batch exits with the worst (largest) code of its images.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """What a command's exit status means."""

    OK = 0
    """Nothing to report: no unsafe save, integrity fine (``map diff``: the maps are the same)."""
    FINDINGS = 1
    """An error finding: unsafe saves, a PFN-directory error, a checksum mismatch, unreadable
    pages (``--strict``: also a warning); ``map diff``: the maps differ."""
    BAD_INPUT = 2
    """An input could not be read (image, map, kpageflags, System.map) or bad usage."""
    INTERNAL_ERROR = 3
    """A failure the code did not anticipate (a bug): one line, ``--debug`` for the traceback."""
