"""The one place consoles are made: data to stdout, diagnostics to stderr.

Colour is off when the stream is not a TTY, when ``NO_COLOR`` is set, or when asked.
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console
from rich.theme import Theme

THEME = Theme(
    {
        "label.normal": "green",
        "label.reserved-ram": "yellow",
        "label.reserved-non-ram": "bold red",
        "label.nosave": "magenta",
        "sev.error": "bold red",
        "sev.warning": "yellow",
        "sev.info": "cyan",
        "ok": "bold green",
        "bad": "bold red",
        "dim": "dim",
        "key": "bold",
    }
)


def make_console(
    *, stderr: bool = False, no_color: bool = False, file: IO[str] | None = None
) -> Console:
    color = not no_color and "NO_COLOR" not in os.environ
    return Console(
        stderr=stderr, file=file, theme=THEME, no_color=not color, highlight=False, soft_wrap=False
    )
