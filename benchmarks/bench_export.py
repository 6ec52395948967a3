"""`extract --format elf` and `--format lime` against `--format raw`, side by side in one run.

Each format is a separate whole process (`python -m swsusp_inspect extract ... -q --force`) on
the same uncompressed image, the three interleaved run after run (same warm page cache), the
median of several runs.  Every run does the whole job: read and decompress every chunk, write
the output, hash input and output (sha256) for the record, write the sidecar.  Printed: the
times, ELF/raw and LiME/raw (target: at most 1.1x), and the sizes (apparent and on disk).

Images: the largest committed real sample (deb13-6.12-lz4, expanded to a temporary file
first, outside the timing), and a synthetic image of --synthetic-mib MiB of saved pages whose
pages are that sample's pages repeated (so they compress like real memory), in runs of 256
frames with 32-frame holes, forged with the project's own format definitions.

Usage: python benchmarks/bench_export.py [--runs N] [--synthetic-mib M] [--jobs J]
"""

from __future__ import annotations

import argparse
import lzma
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swsusp_inspect.forge.kernel import ForgeSpec, forge  # noqa: E402
from swsusp_inspect.image import open_image  # noqa: E402

FORMATS = ("raw", "elf", "lime")
SAMPLE = ROOT / "samples" / "deb13-6.12-lz4" / "swap.img.xz"


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {platform.platform()}"
    )


def expand(src: Path, out: Path) -> Path:
    with lzma.open(src) as f, open(out, "wb") as g:
        shutil.copyfileobj(f, g, 1 << 20)
    return out


def synthetic(plain: Path, out: Path, mib: int) -> Path:
    with open_image(plain) as img:
        pages = b"".join(bytes(d) for _p, d in img.iter_data_pages())
        algorithm = img.compression
    n_real = len(pages) // 4096
    n = mib * 256
    runs = -(-n // 256)
    pfns = (
        np.arange(runs, dtype=np.uint64)[:, None] * 288
        + 0x1000
        + np.arange(256, dtype=np.uint64)[None, :]
    ).ravel()[:n]

    def content(p: np.ndarray) -> bytes:
        idx = (p.astype(np.int64) * 7919) % n_real
        return b"".join(pages[i * 4096 : (i + 1) * 4096] for i in idx.tolist())

    forge(ForgeSpec(pfns=pfns, compression=algorithm, content=content), out)
    return out


def run_once(image: Path, fmt: str, out: Path, jobs: int) -> float:
    cmd = [
        sys.executable,
        "-m",
        "swsusp_inspect",
        "extract",
        "-q",
        "--force",
        "--format",
        fmt,
        "-j",
        str(jobs),
        "-o",
        str(out),
        str(image),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench(name: str, image: Path, tmp: Path, runs: int, jobs: int) -> None:
    times: dict[str, list[float]] = {f: [] for f in FORMATS}
    outs = {f: tmp / f"out.{f}" for f in FORMATS}
    for _ in range(runs):
        for fmt in FORMATS:
            times[fmt].append(run_once(image, fmt, outs[fmt], jobs))
    med = {f: statistics.median(t) for f, t in times.items()}
    print(
        f"\n{name}: {image.stat().st_size / 2**20:.1f} MiB image, --jobs {jobs}, median of {runs}"
    )
    print(f"  {'format':6} {'time':>9} {'vs raw':>7}  {'size':>12} {'on disk':>12}")
    for fmt in FORMATS:
        st = outs[fmt].stat()
        ratio = med[fmt] / med["raw"]
        verdict = "" if fmt == "raw" else ("  met" if ratio <= 1.1 else "  NOT MET")
        print(
            f"  {fmt:6} {med[fmt]:8.3f}s {ratio:6.2f}x  {st.st_size / 2**20:9.1f} MiB "
            f"{st.st_blocks * 512 / 2**20:9.1f} MiB{verdict}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--synthetic-mib", type=int, default=1024)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-export-") as d:
        tmp = Path(d)
        plain = expand(SAMPLE, tmp / "sample.img")
        bench("deb13-6.12-lz4 (real)", plain, tmp, args.runs, args.jobs)
        if args.synthetic_mib:
            big = synthetic(plain, tmp / "synthetic.img", args.synthetic_mib)
            bench(
                f"synthetic {args.synthetic_mib} MiB of saved pages",
                big,
                tmp,
                max(1, args.runs // 2),
                args.jobs,
            )


if __name__ == "__main__":
    main()
