"""What reading the hibernated kernel's memory adds to an audit (target: at most 0.3 s on the
largest sample).

For each real sample whose image is in place (samples/ and SWSUSP_EXTRA_SAMPLES), the image
is expanded to a temporary file first (outside the timing), then each run opens it afresh (a
new HibernationImage: empty chunk caches; the PFN directory is read outside the timing, as
an audit reads it anyway) and times ``read_kernel(img).read_all()`` plus the dmesg lines:
VMCOREINFO, page tables, KASLR offset, symbols, e820 / memblock, nosave list, log, and
``page->flags`` of every saved PFN with the PG_reserved bit.  One more run times each part on
its own (in dependency order), and one the existing audit of the same image (map from its
dmesg) for scale.  i386 and arm64 samples get their System.map (their kallsyms lack data
symbols), so their numbers include none of its parsing (it is read before the timing).

Usage: python benchmarks/bench_kernel.py [SAMPLE ...] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# more sample directories with their images (e.g. a copy of git-ignored images kept elsewhere)
SCRATCH = Path(os.environ["SWSUSP_EXTRA_SAMPLES"]) if "SWSUSP_EXTRA_SAMPLES" in os.environ else None
PARTS = (
    "vmcoreinfo",
    "paging",
    "kernel_offset",
    "symbols",
    "e820",
    "memblock",
    "nosave",
    "memory_map",
    "log",
    "page_flags",
)


def samples() -> list[Path]:
    out = {}
    for base in (b for b in (ROOT / "samples", SCRATCH) if b is not None):
        for p in sorted(base.glob("*/swap.img.xz")):
            prov = p.parent / "provenance.json"
            if not prov.is_file() or p.parent.name in out:
                continue
            info = json.loads(prov.read_text())
            if info.get("writer") not in (None, "kernel"):
                continue  # s2disk images need their keys
            out[p.parent.name] = p.parent
    return list(out.values())


def system_map(d: Path):  # type: ignore[no-untyped-def]
    from swsusp_inspect import load_system_map

    prov = json.loads((d / "provenance.json").read_text())
    if prov.get("arch") not in ("i386", "arm64"):
        return None
    for base in (b for b in (ROOT / "samples", SCRATCH) if b is not None):
        p = base / prov["system_map"]
        if p.is_file():
            return load_system_map(p)
    return None


def bench(d: Path, runs: int) -> dict[str, object]:
    from swsusp_inspect import audit, load_memory_map, open_image
    from swsusp_inspect.e820.image import image_memory_map
    from swsusp_inspect.kernel import read_kernel

    smap = system_map(d)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "image.bin"
        with lzma.open(d / "swap.img.xz") as fin, open(plain, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        times = []
        cpu = []
        errors: list[str] = []
        for _ in range(runs + 1):  # the first run warms the OS page cache
            with open_image(plain) as img:
                img.pagedir  # noqa: B018 - read outside the timing, as an audit does
                t0, c0 = time.perf_counter(), time.process_time()
                state = read_kernel(img, smap).read_all()
                state.dmesg()
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                errors = state.errors
                saved = int(img.pagedir.pfns.size)
        times = times[1:]
        cpu = cpu[1:]
        parts = {}
        with open_image(plain) as img:
            img.pagedir  # noqa: B018
            state = read_kernel(img, smap)
            for part in PARTS:
                t0 = time.perf_counter()
                if part == "memory_map":  # e820/image.py builds it from the state
                    image_memory_map(state)
                else:
                    getattr(state, part)
                parts[part] = time.perf_counter() - t0
        with open_image(plain) as img:
            img.pagedir  # noqa: B018
            m = load_memory_map(d / "dmesg.txt")
            t0 = time.perf_counter()
            audit(img, maps=m)
            t_audit = time.perf_counter() - t0
    return {
        "sample": d.name,
        "saved_pfns": saved,
        "min": min(times),
        "median": statistics.median(times),
        "max": max(times),
        "cpu": min(cpu),
        "parts": parts,
        "audit": t_audit,
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    chosen = [d for d in samples() if not args.samples or d.name in args.samples]
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load[0]:.1f}"
    )
    print(
        "seconds: wall min / median / max over the runs, CPU (min), an audit of the same "
        "image for scale; parts: ms of one run"
    )
    print(
        f"{'sample':28} {'PFNs':>6} {'min':>7} {'median':>7} {'max':>7} {'cpu':>7} "
        f"{'audit':>7}  parts"
    )
    for d in chosen:
        r = bench(d, args.runs)
        parts = " ".join(
            f"{k}={v * 1000:.0f}"
            for k, v in r["parts"].items()  # type: ignore[union-attr]
            if v >= 0.0005
        )
        print(
            f"{r['sample']:28} {r['saved_pfns']:>6} {r['min']:7.3f} {r['median']:7.3f} "
            f"{r['max']:7.3f} {r['cpu']:7.3f} {r['audit']:7.3f}  {parts}"
        )
        if r["errors"]:
            print(f"  errors: {r['errors']}")


if __name__ == "__main__":
    main()
