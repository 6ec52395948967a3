"""Running cases in worker processes: time limit (hang), address-space limit (memory),
reproducers written out, numbers summed.

Each worker builds its case from (campaign seed, case index) alone, so any case can be
rebuilt: ``python -m fuzz --seed S --replay I``.  A worker that does not answer within the
time limit is killed, its current input kept as a ``hang`` reproducer, and replaced.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

CLASSES = ("ok", "error", "undocumented", "hang", "memory")


@dataclass
class Stats:
    seed: int
    cases: int = 0
    seconds: float = 0.0
    by_class: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    entry_points: Counter[str] = field(default_factory=Counter)  # calls per entry point
    entry_classes: Counter[str] = field(default_factory=Counter)  # "entry: class"
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)  # signature -> first
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("by_class", "by_kind", "by_tier", "entry_points", "entry_classes"):
            d[k] = dict(sorted(getattr(self, k).items()))
        d["by_class"] = {c: self.by_class.get(c, 0) for c in CLASSES}
        return d


def _limit_memory(budget: int) -> None:
    """RLIMIT_AS = what the worker maps after its imports + ``budget``."""
    import resource

    with open("/proc/self/statm") as fh:
        vm = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + budget, vm + budget))


def _worker(conn: Connection, seed: int, workdir: str, budget: int) -> None:
    import numpy  # noqa: F401 - imported before the limit is measured
    from click.testing import CliRunner  # noqa: F401, TID251 - a test harness of the CLI

    import swsusp_inspect.auditor
    import swsusp_inspect.cli
    import swsusp_inspect.summary  # noqa: F401
    from fuzz import targets

    _limit_memory(budget)
    while True:
        msg = conn.recv()
        if msg is None:
            return
        index, tier = msg
        case, extra = targets.build(seed, index, workdir, tier)
        conn.send(("started", index, case.input_path))
        try:
            if tier == "cli":
                targets.run_cli(case, extra, workdir)
            else:
                targets.run_lib(case, extra, workdir)
        except MemoryError:
            case.outcomes["worker"] = "memory"
        summary = {
            "index": case.index,
            "kind": case.kind,
            "seed": case.seed,
            "mutation": case.mutation,
            "tier": case.tier,
            "outcomes": case.outcomes,
            "failures": case.failures,
            "input": case.input_path,
        }
        conn.send(("done", index, summary))


@dataclass
class _Slot:
    proc: Any
    conn: Connection
    workdir: str
    index: int | None = None
    tier: str = "lib"
    input_path: str | None = None
    started: float = 0.0


class Campaign:
    def __init__(
        self,
        seed: int,
        out: Path,
        *,
        jobs: int = 2,
        timeout: float = 60.0,
        budget: int = 3 << 30,
        cli_share: float = 0.2,
        verbose: bool = True,
    ) -> None:
        self.seed = seed
        self.out = out
        self.jobs = jobs
        self.timeout = timeout
        self.budget = budget
        self.cli_share = cli_share
        self.verbose = verbose
        self.stats = Stats(seed)
        self.checkpoint: Any = None  # called with the stats every 30 s
        self.tmp = tempfile.mkdtemp(prefix="swsusp-fuzz-", dir=_scratch())
        self.slots: list[_Slot] = []

    def _spawn(self) -> _Slot:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe()
        workdir = tempfile.mkdtemp(dir=self.tmp)
        proc = ctx.Process(
            target=_worker, args=(child, self.seed, workdir, self.budget), daemon=True
        )
        proc.start()
        child.close()
        return _Slot(proc, parent, workdir)

    def _tier(self, index: int) -> str:
        from fuzz.targets import case_rng

        return "cli" if case_rng(self.seed, -1 - index).random() < self.cli_share else "lib"

    def _keep(self, cls: str, index: int, input_path: str | None, summary: dict[str, Any]) -> None:
        d = self.out / cls
        d.mkdir(parents=True, exist_ok=True)
        stem = f"seed{self.seed}-case{index}"
        if input_path and os.path.exists(input_path):
            ext = "".join(Path(input_path).suffixes)
            shutil.copyfile(input_path, d / f"{stem}{ext}")
        summary = {**summary, "replay": f"python -m fuzz --seed {self.seed} --replay {index}"}
        (d / f"{stem}.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")

    def _record(self, summary: dict[str, Any], slot: _Slot) -> None:
        s = self.stats
        s.cases += 1
        s.by_kind[summary["kind"]] += 1
        s.by_tier[summary["tier"]] += 1
        for entry, cls in summary["outcomes"].items():
            s.entry_points[entry.split("(")[0] if not entry.startswith("cli") else entry] += 1
            s.entry_classes[f"{entry}: {cls}"] += 1
        order = ("ok", "error", "memory", "undocumented")
        worst = max(summary["outcomes"].values(), key=order.index, default="ok")
        s.by_class[worst] += 1
        if worst in ("undocumented", "memory"):
            new = False
            for f in summary["failures"]:
                if f["signature"] not in s.failures:
                    s.failures[f["signature"]] = {
                        **f,
                        "case": summary["index"],
                        "seed": summary["seed"],
                        "mutation": summary["mutation"],
                    }
                    new = True
            self._keep(worst, summary["index"], summary.get("input"), summary)
            if self.verbose and new:
                print(
                    f"  case {summary['index']}: {worst}: "
                    f"{summary['failures'][0]['signature']} ({summary['seed']}: "
                    f"{summary['mutation'][:80]})",
                    flush=True,
                )

    def _hang(self, slot: _Slot) -> None:
        s = self.stats
        s.cases += 1
        s.by_class["hang"] += 1
        summary = {
            "index": slot.index,
            "tier": slot.tier,
            "class": "hang",
            "timeout_s": self.timeout,
        }
        if slot.input_path is None:  # killed before it said which: the input it was writing
            found = sorted(Path(slot.workdir).glob("input.*"), key=lambda p: p.stat().st_mtime)
            slot.input_path = str(found[-1]) if found else None  # the newest one
        self._keep("hang", slot.index or 0, slot.input_path, summary)
        s.failures.setdefault(f"hang (case {slot.index})", summary)
        if self.verbose:
            print(f"  case {slot.index}: hang (> {self.timeout:.0f} s)", flush=True)
        slot.proc.kill()
        slot.proc.join()

    def run(
        self, *, cases: int | None = None, seconds: float | None = None, start: int = 0
    ) -> Stats:
        try:
            _warm()
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        t0 = time.monotonic()
        next_index = start
        end_index = start + cases if cases is not None else None
        self.slots = [self._spawn() for _ in range(self.jobs)]

        def more() -> bool:
            if end_index is not None and next_index >= end_index:
                return False
            return seconds is None or time.monotonic() - t0 < seconds

        last_report = t0
        try:
            for slot in self.slots:
                if more():
                    self._send(slot, next_index)
                    next_index += 1
            while any(s.index is not None for s in self.slots):
                busy = [s for s in self.slots if s.index is not None]
                ready = wait([s.conn for s in busy], timeout=1.0)
                now = time.monotonic()
                for i, current in enumerate(self.slots):
                    slot = current
                    if slot.index is None:
                        continue
                    if slot.conn in ready:
                        try:
                            msg = slot.conn.recv()
                        except EOFError:  # the worker died (a crash in C code, the OOM killer)
                            self._dead(slot)
                            slot = self.slots[i] = self._spawn()
                        else:
                            if msg[0] == "started":  # the time limit counts from here:
                                slot.input_path = msg[2]  # building the input is the harness's
                                slot.started = time.monotonic()
                                continue
                            self._record(msg[2], slot)
                            slot.index = None
                    elif now - slot.started > self.timeout:
                        self._hang(slot)
                        slot = self.slots[i] = self._spawn()
                    if slot.index is None and more():
                        self._send(slot, next_index)
                        next_index += 1
                if now - last_report > 30:
                    last_report = now
                    self.stats.seconds = round(now - t0, 1)
                    if self.checkpoint is not None:  # the numbers so far survive a kill
                        self.checkpoint(self.stats)
                    if self.verbose:
                        print(
                            f"  {self.stats.cases} cases, {now - t0:.0f} s: "
                            f"{dict(self.stats.by_class)}",
                            flush=True,
                        )
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop, keep the numbers so far
            self.stats.interrupted = True
        finally:
            for slot in self.slots:
                if slot.proc.is_alive():
                    if slot.index is None:
                        slot.conn.send(None)
                    slot.proc.join(timeout=5)
                    if slot.proc.is_alive():
                        slot.proc.kill()
                        slot.proc.join()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.stats.seconds = round(time.monotonic() - t0, 1)
        return self.stats

    def _send(self, slot: _Slot, index: int) -> None:
        slot.index = index
        slot.tier = self._tier(index)
        slot.input_path = None
        slot.started = time.monotonic()
        slot.conn.send((index, slot.tier))

    def _dead(self, slot: _Slot) -> None:
        s = self.stats
        s.cases += 1
        s.by_class["undocumented"] += 1
        summary = {
            "index": slot.index,
            "tier": slot.tier,
            "class": "worker died",
            "exitcode": slot.proc.exitcode,
        }
        self._keep("undocumented", slot.index or 0, slot.input_path, summary)
        s.failures.setdefault(f"worker died (exit {slot.proc.exitcode})", summary)
        slot.proc.join()


def _warm() -> None:
    """Expand every seed and read its layout once, before the workers fork (they share it)."""
    from fuzz import seeds

    for seed in seeds.image_seeds():
        _ = seed.data
        seeds.layout_of(seed.path, seed.passphrase)
    seeds.built_map_seeds()
    for path in seeds.kpageflags_seeds():
        seeds._expanded(path)


def _scratch() -> str | None:
    """Where case inputs are written: RAM (/dev/shm) when there is one."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def replay(seed: int, index: int, tier: str | None = None) -> dict[str, Any]:
    """Run one case in this process (tracebacks shown), returning its summary."""
    from fuzz import targets

    workdir = tempfile.mkdtemp(prefix="swsusp-fuzz-replay-")
    tiers = [tier] if tier else ["lib", "cli"]
    out: dict[str, Any] = {}
    for t in tiers:
        case, extra = targets.build(seed, index, workdir, t)
        (targets.run_cli if t == "cli" else targets.run_lib)(case, extra, workdir)
        out[t] = {
            "kind": case.kind,
            "seed": case.seed,
            "mutation": case.mutation,
            "outcomes": case.outcomes,
            "failures": case.failures,
            "input": case.input_path,
        }
    return out
