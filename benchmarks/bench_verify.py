"""`swsusp-inspect verify` against a bare decompress+CRC loop over the same chunks.

Both run as separate processes on the same uncompressed image (the sample is expanded to a
temporary file first, outside the timing), each the median of several runs, side by side in one
run of this script.  The bare loop is what any reader must do at least: slice each chunk from an
mmap, decompress it (lzallright / lz4), CRC32 it (zlib).  The chunk positions are computed
beforehand, outside its timing, so the ratio charges the tool for everything else: start-up,
detection, the swap-map walk, the chunk-table walk, the PFN directory, bookkeeping.

Three views, printed together:
  1. whole process on the largest real sample (what a user waits for; the interpreter and
     numpy imports are a fixed ~0.2 s that a small image cannot amortise),
  2. in one process on the same sample (the reading itself),
  3. whole process on a synthetic image of --synthetic-mib MiB of saved memory whose pages are
     the real sample's pages repeated (so they compress like real memory), forged with the
     project's own format definitions.

Usage: python benchmarks/bench_verify.py [IMAGE] [--runs N] [--synthetic-mib M]
"""

from __future__ import annotations

import argparse
import itertools
import json
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

ROOT = Path(__file__).resolve().parent.parent

BARE = r"""
import json, mmap, sys, zlib
spec = json.load(open(sys.argv[1]))
if spec["algorithm"] == "lzo":
    import lzallright
    c = lzallright.LZOCompressor()
    dec = lambda b: c.decompress(b, output_size_hint=spec["unc_size"])
else:
    import lz4.block
    dec = lambda b: lz4.block.decompress(b, uncompressed_size=spec["unc_size"])
with open(spec["path"], "rb") as f:
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    crc = 0
    for pages, hdr, n in spec["chunks"]:
        # gather the chunk's pages (usually contiguous), skip the size_t header
        if all(b - a == 1 for a, b in zip(pages, pages[1:])):
            raw = mm[pages[0] * 4096 : (pages[-1] + 1) * 4096]
        else:
            raw = b"".join(mm[p * 4096 : (p + 1) * 4096] for p in pages)
        out = dec(raw[hdr : hdr + n])
        crc = zlib.crc32(out, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
print(crc)
"""


def largest_compressed_sample() -> Path:
    cands = [
        p
        for p in (ROOT / "samples").glob("deb*/swap.img.xz")
        if json.loads((p.parent / "provenance.json").read_text())["expectation"] != "nocompress"
    ]
    return max(cands, key=lambda p: p.stat().st_size)


def timed(cmd: list[str], runs: int) -> tuple[float, str]:
    times = []
    out = ""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
        out = proc.stdout
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--synthetic-mib", type=int, default=1024)
    args = ap.parse_args()
    src = args.image or largest_compressed_sample()

    sys.path.insert(0, str(ROOT))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.platform()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "image.bin"
        if src.suffix == ".xz":
            with lzma.open(src) as fin, open(plain, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        else:
            shutil.copyfile(src, plain)
        print(f"\n[1] whole process, real sample {src.parent.name}")
        compare(plain, Path(tmp), args.runs)
        print(f"\n[2] in one process, real sample {src.parent.name}")
        in_process(plain, args.runs)
        if args.synthetic_mib:
            big = Path(tmp) / "synthetic.bin"
            make_synthetic(plain, big, args.synthetic_mib)
            print(f"\n[3] whole process, synthetic {args.synthetic_mib} MiB image of real pages")
            compare(big, Path(tmp), max(3, args.runs // 2))


def chunk_spec(plain: Path) -> tuple[dict[str, object], int | None, int]:
    from swsusp_inspect.image import open_image

    with open_image(plain) as img:
        t = img.chunk_table.ensure_all()
        chunks = [
            [
                img.entries[int(t.first_entry[k]) : int(t.first_entry[k] + t.n_pages[k])]
                .astype(int)
                .tolist(),
                img.word_size,
                int(t.cmp_len[k]),
            ]
            for k in range(len(t))
        ]
        spec = {
            "path": str(plain),
            "algorithm": img.compression,
            "unc_size": 32 * img.page_size,
            "chunks": chunks,
        }
        return spec, img.header.crc32 if img.header else None, img.info.pages


def compare(plain: Path, tmp: Path, runs: int) -> None:
    spec, stored, pages = chunk_spec(plain)
    spec_path = tmp / "chunks.json"
    spec_path.write_text(json.dumps(spec))
    bare_py = tmp / "bare.py"
    bare_py.write_text(BARE)
    tool_cmd = [
        sys.executable,
        "-m",
        "swsusp_inspect",
        "verify",
        "--json",
        "-q",
        "--jobs",
        "1",
        str(plain),
    ]
    bare_cmd = [sys.executable, str(bare_py), str(spec_path)]
    timed(bare_cmd, 1)  # warm the page cache for both
    timed(tool_cmd, 1)
    t_bare, out = timed(bare_cmd, runs)
    t_tool, tool_out = timed(tool_cmd, runs)
    assert int(out) == stored == json.loads(tool_out)["crc32"]["computed"], "CRC disagree"
    n = len(spec["chunks"])  # type: ignore[arg-type]
    print(
        f"    {pages} stream pages, {n} {spec['algorithm']} chunks, "
        f"{plain.stat().st_size / 2**20:.1f} MiB file"
    )
    report(t_bare, t_tool, runs)


def report(t_bare: float, t_tool: float, runs: int) -> None:
    ratio = t_tool / t_bare
    print(f"    bare decompress+CRC loop      : {t_bare:7.3f} s (median of {runs})")
    print(f"    swsusp-inspect verify -j 1    : {t_tool:7.3f} s (median of {runs})")
    print(
        f"    ratio tool / bare             : {ratio:7.2f}x  (target <= 1.25x: "
        f"{'met' if ratio <= 1.25 else 'NOT met'})"
    )


def in_process(plain: Path, runs: int) -> None:
    import mmap
    import zlib

    from swsusp_inspect.formats.chunks import Decompressor
    from swsusp_inspect.image import open_image

    spec, _stored, _pages = chunk_spec(plain)
    dec = Decompressor(str(spec["algorithm"]), 4096)

    def bare() -> int:
        with open(plain, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            crc = 0
            for pages, hdr, n in spec["chunks"]:  # type: ignore[attr-defined]
                if all(b - a == 1 for a, b in itertools.pairwise(pages)):
                    raw = mm[pages[0] * 4096 : (pages[-1] + 1) * 4096]
                else:
                    raw = b"".join(mm[p * 4096 : (p + 1) * 4096] for p in pages)
                out = (
                    dec._lzo.decompress(raw[hdr : hdr + n], output_size_hint=131072)
                    if spec["algorithm"] == "lzo"
                    else dec._lz4.decompress(raw[hdr : hdr + n], uncompressed_size=131072)
                )
                crc = zlib.crc32(out, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
            mm.close()
            return crc

    def tool() -> int:
        with open_image(plain) as img:
            return img.verify().crc32.computed or 0

    tb, tt = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        a = bare()
        t1 = time.perf_counter()
        b = tool()
        t2 = time.perf_counter()
        assert a == b
        tb.append(t1 - t0)
        tt.append(t2 - t1)
    report(statistics.median(tb), statistics.median(tt), runs)


def make_synthetic(plain: Path, out: Path, mib: int) -> None:
    """An LZO image of ``mib`` MiB of saved pages, each a real page of the sample."""
    import numpy as np

    from swsusp_inspect.forge.kernel import ForgeSpec, forge
    from swsusp_inspect.image import open_image

    with open_image(plain) as img:
        real = b"".join(bytes(d) for _p, d in img.iter_data_pages())
        algorithm = img.compression
    n_real = len(real) // 4096
    n = mib * 256

    def content(pfns: np.ndarray) -> bytes:
        return b"".join(real[(int(p) % n_real) * 4096 : (int(p) % n_real + 1) * 4096] for p in pfns)

    pfns = np.arange(0x100, 0x100 + n, dtype=np.uint64)
    forge(ForgeSpec(pfns=pfns, compression=algorithm, content=content), out)


def plain_size(src: Path) -> str:
    return f"{src.stat().st_size / 2**20:.1f} MiB on disk"


if __name__ == "__main__":
    main()
