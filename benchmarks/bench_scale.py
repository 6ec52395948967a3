"""Speed at scale, measured side by side in one run (issue: batch audits and speed at scale).

Prints, with the machine it ran on:

1. ``verify`` against a bare decompress+CRC loop over the same chunks, on synthetic images of
   ``--gib`` GiB of saved pages (a 64 GiB-RAM machine with 4 GiB saved by default), LZO and LZ4,
   whose pages are the real samples' pages repeated (so they compress like real memory), forged
   with the project's own format definitions: ``--jobs 1`` (target >= 0.9x the bare loop's
   speed) and ``--jobs 2`` (target >= 1.6x).
2. ``audit`` without ``--verify`` on images whose PFN count and data size vary independently
   (6.6+ zero pages are listed but not stored): time follows the PFN count, not the data.
   The largest case is a 1 TiB machine: 256 M PFN entries.
3. ``swsusp-inspect --help`` whole-process time (target <= 0.3 s).
4. ``batch`` of 200 small images with ``--jobs 2`` against 200 separate invocations.

Usage: python benchmarks/bench_scale.py [--gib 4] [--max-pfns-m 256] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_verify import BARE, chunk_spec, timed  # noqa: E402

from swsusp_inspect.forge.kernel import ForgeSpec, forge  # noqa: E402
from swsusp_inspect.image import open_image  # noqa: E402

CLI = [sys.executable, "-m", "swsusp_inspect"]


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {platform.platform()}"
    )


def real_pages() -> bytes:
    """The data pages of the LZ4 sample (6.12): real kernel memory to repeat."""
    with open_image(ROOT / "samples" / "deb13-6.12-lz4" / "swap.img.xz") as img:
        return b"".join(bytes(d) for _p, d in img.iter_data_pages())


def synthetic(out: Path, gib: float, algorithm: str, pages: bytes) -> Path:
    n_real = len(pages) // 4096
    n = int(gib * 262144)

    def content(pfns: np.ndarray) -> bytes:
        idx = (pfns.astype(np.int64) * 7919) % n_real  # a scrambled walk over real pages
        return b"".join(pages[i * 4096 : (i + 1) * 4096] for i in idx.tolist())

    # a 64 GiB machine (16 M PFNs) saving ``gib`` GiB: every 16th page of the first part
    pfns = np.arange(0x1000, 0x1000 + 16 * n, 16, dtype=np.uint64)
    forge(
        ForgeSpec(pfns=pfns, compression=algorithm, content=content, num_physpages=16 * 262144 * 4),
        out,
    )
    return out


def bench_verify(tmp: Path, gib: float, runs: int) -> None:
    print(f"\n[1] verify vs bare decompress+CRC loop, synthetic {gib:g} GiB of saved pages")
    pages = real_pages()
    for algorithm in ("lzo", "lz4"):
        img = synthetic(tmp / f"syn-{algorithm}.img", gib, algorithm, pages)
        spec, stored, n_pages = chunk_spec(img)
        spec_path = tmp / "chunks.json"
        spec_path.write_text(json.dumps(spec))
        bare_py = tmp / "bare.py"
        bare_py.write_text(BARE)
        bare_cmd = [sys.executable, str(bare_py), str(spec_path)]
        t_bare, out = timed(bare_cmd, runs)
        res = {}
        for jobs in (1, 2):
            cmd = [*CLI, "verify", "--json", "-q", "--jobs", str(jobs), str(img)]
            t, tool_out = timed(cmd, runs)
            assert json.loads(tool_out)["crc32"]["computed"] == int(out) == stored
            res[jobs] = t
        size = img.stat().st_size / 2**20
        print(
            f"  {algorithm}: {n_pages:,} stream pages, {len(spec['chunks']):,} chunks, "
            f"{size:,.0f} MiB file"
        )
        print(f"    bare loop (1 core)     {t_bare:7.2f} s")
        for jobs, t in res.items():
            target = 0.9 if jobs == 1 else 1.6
            speed = t_bare / t
            print(
                f"    verify --jobs {jobs}        {t:7.2f} s   speed vs bare {speed:5.2f}x "
                f"(target >= {target}x: {'met' if speed >= target else 'NOT met'})"
            )
        img.unlink()


def audit_time(path: Path, memmap: object) -> tuple[float, float, int]:
    from swsusp_inspect.auditor import audit

    tracemalloc.start()
    t0 = time.perf_counter()
    with open_image(path) as img:
        rep = audit(img, maps=[memmap])
        n = img.pagedir.saved_pfns
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rep.to_dict()["labels"] is not None
    return dt, peak / max(n, 1), n


def bench_audit(tmp: Path, max_pfns_m: int) -> None:
    from swsusp_inspect.e820 import load_memory_map

    print("\n[2] audit without --verify: time follows the PFN count, not the data size")
    mapfile = tmp / "e820.dmesg"
    top = (max_pfns_m << 20) + 0x2000
    mapfile.write_text(
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved\n"
        f"BIOS-e820: [mem 0x0000000000100000-{top * 4096 - 1:#018x}] usable\n"
    )
    memmap = load_memory_map(mapfile)

    def image(pfns_m: float, data_pages: int) -> Path:
        n = int(pfns_m * (1 << 20))
        pfns = np.arange(0x100, 0x100 + n, dtype=np.uint64)
        zero = np.ones(n, dtype=bool)
        zero[np.linspace(0, n - 1, data_pages).astype(np.int64)] = False
        out = tmp / f"a-{pfns_m}-{data_pages}.img"
        forge(ForgeSpec(pfns=pfns, zero=zero, compression="lz4"), out)
        return out

    print("  PFN axis (data fixed at 4,096 pages):")
    sizes = [m for m in (1, 4, 16, 64, 256) if m <= max_pfns_m]
    for m in sizes:
        path = image(m, 4096)
        dt, per, n = audit_time(path, memmap)
        print(
            f"    {n:>12,} PFNs   {dt:7.3f} s   {dt / n * 1e9:6.1f} ns/PFN   "
            f"peak {per:5.1f} bytes/PFN"
        )
        path.unlink()
    print("  data axis (PFNs fixed at 1 M):")
    for data in (4096, 65536, 262144, 1 << 20):
        path = image(1, data)
        dt, _per, n = audit_time(path, memmap)
        print(f"    {data:>12,} data pages ({data * 4096 / 2**20:6,.0f} MiB)   {dt:7.3f} s")
        path.unlink()


def bench_help(runs: int) -> None:
    print("\n[3] swsusp-inspect --help, whole process")
    t, _ = timed([*CLI, "--help"], runs)
    bare, _ = timed([sys.executable, "-c", "pass"], runs)
    print(
        f"    --help {t:6.3f} s (python -c pass: {bare:6.3f} s)   target <= 0.3 s: "
        f"{'met' if t <= 0.3 else 'NOT met'}"
    )


def bench_batch(tmp: Path, count: int) -> None:
    print(f"\n[4] batch of {count} small images --jobs 2 vs {count} separate invocations")
    d = tmp / "fleet"
    d.mkdir()
    seed_map = ROOT / "samples" / "forged-seed-2004" / "dmesg.txt"
    rng = np.random.default_rng(7)
    for i in range(count):
        pfns = np.sort(rng.choice(np.arange(0x100, 0x9000), 2000, replace=False)).astype(np.uint64)
        forge(ForgeSpec(pfns=pfns, compression="lzo"), d / f"host{i:03d}.img")
        shutil.copy(seed_map, d / f"host{i:03d}.dmesg")
    t0 = time.perf_counter()
    subprocess.run(
        [*CLI, "batch", "--jsonl", "-q", "--jobs", "2", str(d)], capture_output=True, check=False
    )
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(count):
        subprocess.run(
            [
                *CLI,
                "audit",
                "--json",
                str(d / f"host{i:03d}.img"),
                "--map",
                str(d / f"host{i:03d}.dmesg"),
            ],
            capture_output=True,
            check=False,
        )
    t_sep = time.perf_counter() - t0
    print(
        f"    batch --jobs 2: {t_batch:6.2f} s   separate: {t_sep:6.2f} s   "
        f"ratio {t_sep / t_batch:5.1f}x faster"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=4.0)
    ap.add_argument("--max-pfns-m", type=int, default=256)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="0.5 GiB, 64 M PFNs, 50 images")
    ap.add_argument("--only", choices=["verify", "audit", "help", "batch"])
    args = ap.parse_args()
    if args.quick:
        args.gib, args.max_pfns_m, args.images, args.runs = 0.5, 64, 50, 3
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="swsusp-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if args.only in (None, "verify"):
            bench_verify(tmp, args.gib, args.runs)
        if args.only in (None, "audit"):
            bench_audit(tmp, args.max_pfns_m)
        if args.only in (None, "help"):
            bench_help(max(5, args.runs))
        if args.only in (None, "batch"):
            bench_batch(tmp, args.images)
    _ = statistics  # medians come from bench_verify.timed


if __name__ == "__main__":
    main()
