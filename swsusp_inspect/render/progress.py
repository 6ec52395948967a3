"""Progress bars on stderr for long work (silent when stderr is not a TTY)."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from swsusp_inspect.render.console import make_console


class ProgressBar:
    """Callable advancing one task; use as a context manager."""

    def __init__(self, total: int, description: str) -> None:
        # counted in pages or images, or in bytes (a decompression: "decompressing ...")
        count = (
            DownloadColumn() if description.startswith("decompressing") else MofNCompleteColumn()
        )
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            count,
            TimeRemainingColumn(),
            console=make_console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def __call__(self, advance: int) -> None:
        self._progress.advance(self._task, advance)
