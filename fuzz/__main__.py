"""``python -m fuzz``: a fuzzing campaign on the committed seeds.

Examples::

    python -m fuzz --short                  # about a minute, fixed seed (CI)
    python -m fuzz --minutes 60 --seed 7    # a long run
    python -m fuzz --cases 100000 --jobs 2  # a run of a given size
    python -m fuzz --seed 7 --replay 1234   # one case again, in this process

Exit status: 0 when no case ended in an undocumented exception, a hang or a memory failure;
1 otherwise (reproducers under ``--out``, default ``fuzz-failures/``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from fuzz.runner import Campaign, replay

SHORT_SECONDS = 60
SHORT_SEED = 20261202


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"campaign seed (default: random; --short uses {SHORT_SEED})",
    )
    ap.add_argument("--minutes", type=float, default=None, help="run for this long")
    ap.add_argument("--cases", type=int, default=None, help="run this many cases")
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument(
        "--short", action="store_true", help=f"the CI run: {SHORT_SECONDS} s with seed {SHORT_SEED}"
    )
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds before a case counts as a hang (default 60)",
    )
    ap.add_argument(
        "--memory-budget",
        type=int,
        default=3072,
        metavar="MIB",
        help="address space a worker may add after its imports (default 3072)",
    )
    ap.add_argument(
        "--cli-share",
        type=float,
        default=0.2,
        help="share of cases run through the CLI tier (default 0.2)",
    )
    ap.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    ap.add_argument("--stats", type=Path, default=None, help="write the numbers as JSON here")
    ap.add_argument(
        "--replay",
        type=int,
        default=None,
        metavar="INDEX",
        help="run case INDEX of --seed in this process and print its outcome",
    )
    ap.add_argument("--quiet", "-q", action="store_true")
    args = ap.parse_args(argv)

    if args.replay is not None:
        if args.seed is None:
            ap.error("--replay needs --seed")
        print(json.dumps(replay(args.seed, args.replay), indent=1, default=str))
        return 0
    seed = (
        args.seed
        if args.seed is not None
        else (SHORT_SEED if args.short else int.from_bytes(os.urandom(4), "little"))
    )
    seconds = (
        SHORT_SECONDS if args.short else (args.minutes * 60 if args.minutes is not None else None)
    )
    if seconds is None and args.cases is None:
        seconds = SHORT_SECONDS
    # SIGTERM ends the run like Ctrl-C: workers stopped, the scratch directory removed
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    camp = Campaign(
        seed,
        args.out,
        jobs=args.jobs,
        timeout=args.timeout,
        budget=args.memory_budget << 20,
        cli_share=args.cli_share,
        verbose=not args.quiet,
    )
    if args.stats:

        def checkpoint(stats: object) -> None:
            d = camp.stats.to_dict()
            d["partial"] = True
            args.stats.write_text(json.dumps(d, indent=1, default=str) + "\n")

        camp.checkpoint = checkpoint
    print(
        f"fuzz: seed {seed}, {args.jobs} workers, "
        + (f"{seconds:.0f} s" if seconds else f"{args.cases} cases"),
        flush=True,
    )
    try:
        stats = camp.run(cases=args.cases, seconds=seconds, start=args.start)
    except KeyboardInterrupt:  # before the first case (while the seeds were read)
        print("fuzz: interrupted before the first case", file=sys.stderr)
        return 130
    d = stats.to_dict()
    if args.stats:
        args.stats.write_text(json.dumps(d, indent=1, default=str) + "\n")
    bad = sum(d["by_class"][c] for c in ("undocumented", "hang", "memory"))
    print(
        f"fuzz: {stats.cases} cases in {stats.seconds} s (seed {seed})"
        + (" (interrupted)" if stats.interrupted else "")
        + ": "
        + ", ".join(f"{k} {v}" for k, v in d["by_class"].items())
    )
    for sig, f in stats.failures.items():
        print(f"  {sig}: case {f.get('case', f.get('index'))} ({f.get('exception', '')})"[:300])
    if bad:
        print(f"fuzz: {bad} bad cases; reproducers in {args.out}/", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
