"""Reading hostile text in bounded time: the kernel-log reader's throughput on the worst lines
the fuzzing campaign found (issue 14), printed side by side with an ordinary log.

    python benchmarks/bench_hostile.py [--mb 30]

Each case is read three times in this process; the median MB/s is printed. The claim: a 30 MB
log of 4,000-character lines built from one message head repeated (each regex tail used to be
retried at every head: quadratic, 0.45-1.3 MB/s) is read at the speed of an ordinary log, and a
log with 5,000-character lines is refused (or its long lines skipped) in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swsusp_inspect.e820.readers.logtext import read_log  # noqa: E402
from swsusp_inspect.errors import MapError  # noqa: E402

HEADS = {
    "xen tail": "(XEN)  0000000000000000 - 000000000009fc00 (",
    "BIOS-e820 head": "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] ",
    "node head": " node   0: [mem 0x",
    "nosave head": "PM: hibernation: Registered nosave memory: [mem ",
    "5,000-char filler": "the quick brown fox jumps over the lazy dog ",
}


def _text(head: str, mb: int, width: int) -> str:
    body = (head * (width // len(head) + 1))[:width]
    return (body + "\n") * ((mb << 20) // (width + 1))


def _rate(text: str) -> float:
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        with contextlib.suppress(MapError):
            read_log("bench", text)
        times.append(time.perf_counter() - t0)
    return len(text) / statistics.median(times) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=30, help="size of each log (MiB)")
    args = ap.parse_args()
    real = (ROOT / "samples" / "deb12-6.1-lzo" / "dmesg.txt").read_text()
    ordinary = real * max(1, (args.mb << 20) // len(real))
    base = _rate(ordinary)
    print(f"{'log':24} {'MB/s':>8} {'vs ordinary':>12}")
    print(f"{'ordinary (sample dmesg)':24} {base:8.1f} {1.0:12.2f}")
    for name, head in HEADS.items():
        width = 5000 if "5,000" in name else 4000
        r = _rate(_text(head, args.mb, width))
        print(f"{name:24} {r:8.1f} {r / base:12.2f}")


if __name__ == "__main__":
    main()
