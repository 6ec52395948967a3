"""The default test suite's CPU time against that of an earlier commit, side by side.

    python benchmarks/bench_tests.py [--base e2f9b44] [--head HEAD] [--rounds 3]

Clones this repository twice into a temporary directory (HEAD and the base commit: by default
``e2f9b44``, the commit the structure issue, #12, was filed against), then runs each clone's
default suite (``python -m pytest -q -p no:cacheprovider``, the clone's own package, tests and
settings) in turn, head then base, ``--rounds`` times. A run's CPU is the user + system seconds
of the finished pytest process and everything it waited for (``RUSAGE_CHILDREN``); each round
gives a ratio head/base, taken pair by pair so that a machine whose speed drifts still compares
like with like; the median round is the figure to quote. Hypothesis's example database is
removed before every run.

What is kept between runs on the machine (the tests' cache directory: the samples expanded
once, and, where bytecode may not be written beside the sources, the rewritten test modules)
counts as it would for a developer: the first round of a fresh clone pays for it, later rounds
do not. ``SWSUSP_INSPECT_TEST_CACHE=off`` in the environment measures a run that keeps nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _clone(rev: str, where: Path) -> str:
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(where)], check=True)
    subprocess.run(["git", "-C", str(where), "checkout", "-q", rev], check=True)
    out = subprocess.run(
        ["git", "-C", str(where), "log", "-1", "--format=%h"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def _run(clone: Path) -> tuple[float, str]:
    """CPU seconds of one default run in ``clone``, and pytest's summary line."""
    shutil.rmtree(clone / ".hypothesis", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1].strip("= ") if lines else f"exit {proc.returncode}"
    if proc.returncode != 0:
        failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
        summary += f" (exit {proc.returncode})" + "".join(f"\n  {ln}" for ln in failed)
    return cpu, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--base", default="e2f9b44", help="the commit to compare with")
    ap.add_argument("--head", default="HEAD", help="the commit measured")
    ap.add_argument("--rounds", type=int, default=3, help="head/base pairs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tests-") as tmp:
        head, base = Path(tmp) / "head", Path(tmp) / "base"
        head_rev, base_rev = _clone(args.head, head), _clone(args.base, base)
        cache = os.environ.get("SWSUSP_INSPECT_TEST_CACHE", "default")
        print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, test cache: {cache}")
        print(f"{'round':>5} {'head ' + head_rev:>14} {'base ' + base_rev:>14} {'ratio':>7}")
        ratios, heads, bases, summaries = [], [], [], {}
        for r in range(1, args.rounds + 1):
            h, summaries["head"] = _run(head)
            b, summaries["base"] = _run(base)
            heads.append(h)
            bases.append(b)
            ratios.append(h / b)
            print(f"{r:5} {h:12.1f} s {b:12.1f} s {h / b:7.3f}", flush=True)
            for side in ("head", "base"):
                if "(exit" in summaries[side]:
                    print(f"      {side}: {summaries[side]}", flush=True)
        print(
            f"{'median':>5} {statistics.median(heads):12.1f} s "
            f"{statistics.median(bases):12.1f} s {statistics.median(ratios):7.3f}"
        )
        print(f"head: {summaries['head']}\nbase: {summaries['base']}")


if __name__ == "__main__":
    main()
