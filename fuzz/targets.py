"""Cases: a seed, a mutation, and the entry points the CLI calls, with each outcome classed.

Outcome classes:

- ``ok``: every entry point returned;
- ``error``: a documented error, a :class:`~swsusp_inspect.errors.SwsuspError` (the CLI tier:
  exit 2 with exactly one line on stderr and no traceback);
- ``undocumented``: any other exception (the CLI tier: a traceback, exit 3, any other code, or
  an error that is not one line);
- ``memory``: ``MemoryError`` (or ENOMEM) under the worker's address-space limit;
- ``hang``: the case did not finish within the time limit (decided by the runner).

Library entry points (what the CLI calls): ``open_image`` + ``summarize`` (+ the JSON renderer),
``summarize(verify=True)``, ``audit`` with a map (and kpageflags / System.map where the seed has
them), ``load_memory_map`` (sniffed, and forced to each reader), ``load_kpageflags``,
``load_system_map``.  CLI entry points: the same through click's CliRunner.
"""

from __future__ import annotations

import errno
import os
import random
import re
import traceback
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fuzz import mutate, seeds

KINDS = ("image", "text-map", "binary-map", "system-map", "kpageflags")
KIND_WEIGHTS = (30, 40, 10, 10, 10)


@dataclass
class Case:
    index: int
    kind: str
    seed: str
    mutation: str
    tier: str  # "lib" or "cli"
    input_path: str
    outcomes: dict[str, str] = field(default_factory=dict)  # entry point -> class
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def worst(self) -> str:
        order = ("ok", "error", "memory", "undocumented")
        return max(self.outcomes.values(), key=order.index, default="ok")


def case_rng(campaign_seed: int, index: int) -> random.Random:
    return random.Random(f"swsusp-inspect-fuzz:{campaign_seed}:{index}")


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost frame inside the package: one per distinct bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if "swsusp_inspect" in f.filename]
    where = inside[-1] if inside else (frames[-1] if frames else None)
    loc = f"{Path(where.filename).name}:{where.lineno}:{where.name}" if where else "?"
    return f"{type(exc).__name__} at {loc}"


def classify(exc: BaseException | None) -> str:
    from swsusp_inspect.errors import SwsuspError

    if exc is None:
        return "ok"
    if isinstance(exc, SwsuspError):
        return "error"
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return "memory"
    return "undocumented"


# -- cached, unmutated companions -------------------------------------------------------------


@cache
def _expanded_file(workdir: str, seed_name: str) -> str:
    """An unmutated seed image, expanded once per worker (so it opens without decompressing)."""
    seed = _seed(seed_name)
    path = os.path.join(workdir, "seed-" + seed_name.replace("/", "_") + ".img")
    with open(path, "wb") as fh:
        fh.write(seed.data)
    return path


@cache
def _seed(name: str) -> seeds.ImageSeed:
    return next(s for s in seeds.image_seeds() if s.name == name)


@cache
def _dmesg_map(path: str) -> Any:
    from swsusp_inspect.e820 import load_memory_map

    return load_memory_map(path)


AUDIT_IMAGE = "forged-seed-2004"  # small, with a dmesg: the image maps and kpageflags audit


@cache
def _audit_image_paths() -> tuple[str, str]:
    root = seeds.ROOT / "samples" / AUDIT_IMAGE
    return str(root / "swap.img.xz"), str(root / "dmesg.txt")


# -- building a case ------------------------------------------------------------------------


def build(campaign_seed: int, index: int, workdir: str, tier: str) -> tuple[Case, Any]:
    """The case ``index`` of campaign ``campaign_seed``: its input file written to ``workdir``
    and what its run needs.  Deterministic: the same pair gives the same bytes."""
    rnd = case_rng(campaign_seed, index)
    kind = rnd.choices(KINDS, weights=KIND_WEIGHTS)[0]
    if kind == "image":
        seed = rnd.choice(seeds.image_seeds())
        lay = seeds.layout_of(seed.path, seed.passphrase)
        data, how = mutate.mutate_image(seed.data, lay, rnd)
        ext = ".img"
        extra: dict[str, Any] = {"seed": seed}
        # sometimes as a compressed input, exercising the transport (small seeds only: xz of a
        # 25 MB image costs the harness more than the case)
        if rnd.random() < 0.05 and len(data) <= 4 << 20:
            import lzma

            data, ext = lzma.compress(data, preset=0), ".img.xz"
            how += "; xz"
        name = seed.name
    elif kind == "text-map":
        path = rnd.choice(seeds.text_map_seeds())
        data, how = mutate.mutate_text(path.read_bytes(), rnd)
        ext, extra, name = ".txt", {}, str(path.relative_to(seeds.ROOT))
    elif kind == "binary-map":
        name, raw = rnd.choice(seeds.built_map_seeds())
        if name.endswith(".json"):
            data, how = mutate.mutate_text(raw, rnd)
        else:
            data, how = mutate.mutate_binary_map(raw, rnd)
        ext, extra = "." + name.rsplit(".", 1)[1], {}
    elif kind == "system-map":
        seed, smap = rnd.choice(seeds.system_map_seeds())
        data, how = mutate.mutate_text(smap.read_bytes(), rnd)
        ext, extra, name = ".map", {"seed": seed}, str(smap.relative_to(seeds.ROOT))
    else:
        path = rnd.choice(seeds.kpageflags_seeds())
        data, how = mutate.mutate_kpageflags(seeds._expanded(path), rnd)
        ext, extra, name = ".kpf", {}, str(path.relative_to(seeds.ROOT))
    extra["rnd"] = rnd
    input_path = os.path.join(workdir, f"input{ext}")
    with open(input_path, "wb") as fh:
        fh.write(data)
    return Case(index, kind, name, how, tier, input_path), extra


# -- running a case -------------------------------------------------------------------------


def _call(case: Case, entry: str, fn: Any) -> Any:
    try:
        result = fn()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        cls = classify(exc)
        case.outcomes[entry] = cls
        if cls in ("undocumented", "memory"):
            case.failures.append(
                {
                    "entry": entry,
                    "class": cls,
                    "signature": _signature(exc),
                    "exception": f"{type(exc).__name__}: {exc}"[:500],
                    "traceback": traceback.format_exc()[-4000:],
                }
            )
        return None
    case.outcomes[entry] = "ok"
    return result


def run_lib(case: Case, extra: dict[str, Any], workdir: str) -> None:
    from swsusp_inspect import audit, load_kpageflags, load_memory_map, load_system_map, summarize
    from swsusp_inspect.e820 import FORMATS
    from swsusp_inspect.image import open_image
    from swsusp_inspect.model import to_json as dumps

    rnd: random.Random = extra["rnd"]
    p = case.input_path
    if case.kind == "image":
        seed: seeds.ImageSeed = extra["seed"]
        maps = [_dmesg_map(str(seed.dmesg))] if seed.dmesg else None
        smap = None
        if seed.system_map is not None:
            smap = _call(case, "load_system_map", lambda: load_system_map(seed.system_map))

        def info() -> None:
            with open_image(p, passphrase=seed.passphrase) as img:
                dumps(summarize(img, system_map=smap))

        _call(case, "open_image+summarize", info)
        second = rnd.choice(("verify", "audit"))
        if second == "verify":

            def verify() -> None:
                with open_image(p, passphrase=seed.passphrase) as img:
                    dumps(summarize(img, verify=True, system_map=smap))

            _call(case, "summarize(verify)", verify)
        else:

            def do_audit() -> None:
                with open_image(p, passphrase=seed.passphrase) as img:
                    dumps(audit(img, maps=maps, system_map=smap))

            _call(case, "audit", do_audit)
    elif case.kind in ("text-map", "binary-map"):

        def load(fmt: str | None) -> Any:
            m = load_memory_map(p, fmt=fmt)
            m.document().to_json()
            m.nosave_ranges()
            m.nosave_rules_matched()
            return m

        m = _call(case, "load_memory_map", lambda: load(None))
        fmt = rnd.choice(FORMATS)
        _call(case, f"load_memory_map({fmt})", lambda: load(fmt))
        if m is not None:
            img_path, _ = _audit_image_paths()

            def do_audit() -> None:
                with open_image(_expanded_file(workdir, AUDIT_IMAGE)) as img:
                    dumps(audit(img, maps=[m]))

            _ = img_path
            _call(case, "audit(map)", do_audit)
    elif case.kind == "system-map":
        seed = extra["seed"]
        smap = _call(case, "load_system_map", lambda: load_system_map(p))
        if smap is not None:
            path = _expanded_file(workdir, seed.name)
            maps = [_dmesg_map(str(seed.dmesg))] if seed.dmesg else None

            def info_audit() -> None:
                with open_image(path, passphrase=seed.passphrase) as img:
                    dumps(summarize(img, system_map=smap))
                    dumps(audit(img, maps=maps, system_map=smap))

            _call(case, "summarize+audit(system_map)", info_audit)
    else:  # kpageflags
        limit = rnd.choice((None, 1, 0x100, 1 << 20))
        _call(case, "load_kpageflags", lambda: load_kpageflags(p, limit_pfns=limit))
        _, dmesg = _audit_image_paths()

        def do_audit() -> None:
            with open_image(_expanded_file(workdir, AUDIT_IMAGE)) as img:
                dumps(audit(img, maps=[_dmesg_map(dmesg)], kpageflags=p))

        _call(case, "audit(kpageflags)", do_audit)


def _cli_class(result: Any) -> tuple[str, str | None]:
    """The class of one CLI run, and why when it is not a clean outcome."""
    err = result.stderr or ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "undocumented", f"exception {type(result.exception).__name__}: {result.exception}"
    code = result.exit_code
    if code in (0, 1):
        return "ok", None
    if code == 2:
        lines = err.splitlines()
        if len(lines) == 1 and "Traceback" not in err + (result.stdout or ""):
            return "error", None
        return "undocumented", f"exit 2 with {len(lines)} stderr lines: {err[:300]!r}"
    return "undocumented", f"exit {code}: {err[:300]}"


def run_cli(case: Case, extra: dict[str, Any], workdir: str) -> None:
    from click.testing import CliRunner  # noqa: TID251 - the CLI tier drives click

    from swsusp_inspect.cli import cli

    rnd: random.Random = extra["rnd"]
    p = case.input_path
    if case.kind == "image":
        seed: seeds.ImageSeed = extra["seed"]
        pw = ["--passphrase", seed.passphrase] if seed.passphrase else []
        smap = ["--system-map", str(seed.system_map)] if seed.system_map else []
        mp = ["--map", str(seed.dmesg)] if seed.dmesg else []
        commands = [
            ["info", p, *pw, *smap],
            ["info", "--json", p, *pw],
            ["verify", "-q", "-j", "1", p, *pw],
            ["verify", "--json", "-j", "1", p, *pw],
            ["audit", p, *pw, *mp, *smap],
            ["audit", "--json", p, *pw, *mp],
        ]
    elif case.kind in ("text-map", "binary-map"):
        img = _expanded_file(workdir, AUDIT_IMAGE)
        commands = [
            ["map", p],
            ["map", "--json", p],
            ["audit", img, "--map", p],
            ["info", "--json", img, "--map", p],
        ]
    elif case.kind == "system-map":
        seed = extra["seed"]
        img = _expanded_file(workdir, seed.name)
        pw = ["--passphrase", seed.passphrase] if seed.passphrase else []
        commands = [
            ["info", img, "--system-map", p, *pw],
            ["audit", "--json", img, "--system-map", p, *pw],
        ]
    else:
        img = _expanded_file(workdir, AUDIT_IMAGE)
        _, dmesg = _audit_image_paths()
        commands = [
            ["audit", img, "--map", dmesg, "--kpageflags", p],
            ["audit", "--json", img, "--map", dmesg, "--kpageflags", p],
        ]
    for args in rnd.sample(commands, k=min(2, len(commands))):
        entry = "cli " + " ".join(a if a != p else "INPUT" for a in args[:2])
        result = CliRunner().invoke(cli, args)
        cls, why = _cli_class(result)
        case.outcomes[entry] = cls
        if cls == "undocumented":
            exc = result.exception
            if exc is not None and not isinstance(exc, SystemExit):
                sig = _signature(exc)
            else:
                m = re.search(r"internal error in `(\w+)`.*?: (\w+): ", why or "")
                sig = f"exit 3 in {m.group(1)}: {m.group(2)}" if m else (why or "?")[:60]
            case.failures.append(
                {
                    "entry": entry,
                    "class": cls,
                    "signature": f"cli: {sig}",
                    "exception": why,
                    "args": args,
                }
            )
