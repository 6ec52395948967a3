"""The process's exit: the interpreter's teardown skipped, nothing else (cli.leave)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# an object whose finalizer runs only in the interpreter's teardown, an exit handler, and output
# still in stdout's buffer (a pipe: block-buffered)
PRELUDE = (
    "import atexit, sys\n"
    "class Torn:\n"
    "    def __del__(self):\n"
    "        print('teardown ran', file=sys.stderr)\n"
    "kept = Torn()\n"
    "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
    "sys.stdout.write('buffered')\n"
    "from swsusp_inspect.cli import leave\n"
)


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + code],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        timeout=60,
    )


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (None, 0), (2, 2), (3, 3)])
def test_exit_code_kept_output_flushed_handlers_run_teardown_skipped(
    code: int | None, expected: int
) -> None:
    r = run(f"leave({code!r})")
    assert r.returncode == expected
    assert r.stdout == "buffered"
    assert "handler ran" in r.stderr
    assert "teardown ran" not in r.stderr


def test_a_message_is_printed_and_exits_1_as_the_interpreter_does() -> None:
    r = run("leave('swsusp-inspect: gone')")
    assert (r.returncode, r.stdout) == (1, "buffered")
    assert r.stderr.splitlines()[0] == "swsusp-inspect: gone"


def test_a_thread_still_running_takes_the_ordinary_exit() -> None:
    """Its work is finished (the interpreter waits for it), and teardown runs."""
    r = run(
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
        "leave(0)\n"
    )
    assert r.returncode == 0
    assert r.stdout == "bufferedthread done\n"
    assert "teardown ran" in r.stderr


def test_the_module_entry_point_leaves_the_same_way(tmp_path: Path) -> None:
    """`python -m swsusp_inspect` keeps exit codes and one-line errors."""
    missing = tmp_path / "missing.img"
    r = subprocess.run(
        [sys.executable, "-m", "swsusp_inspect", "info", str(missing)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr == f"swsusp-inspect: error: {missing}: No such file or directory\n"
