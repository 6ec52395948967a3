"""Start-up and whole-process ``verify`` side by side with swsusp2bin and a bare Python loop.

The yardsticks of issue 13 item 6, printed in one run as medians and ratios with peak memory:

  [a] ``--help`` and ``info --json`` (largest committed sample, expanded to a raw file) against
      the bare interpreter's start (``python -c pass``): the seconds "beyond the interpreter".
  [b] ``verify`` on the 80 MB sample (samples/deb12-6.1-lzo, expanded to a raw file so every
      reader reads the same bytes) against swsusp2bin and a bare decompress+CRC loop.
  [c] the same on an image of at least 1 GiB of saved data, ``--jobs 1``, ``--jobs 2`` and the
      default job count.
  [d] ``--jobs 2`` and the default against ``--jobs 1`` while another process keeps one core
      busy (a busy machine), on both images.

Every command runs as a whole process, started from here; the commands of a section run in
rounds, one of each per round in rotating order, so each ratio is taken round by round (A and
B side by side in time) and its median quoted.  Wall time is a monotonic clock around start and
reap; CPU time and peak memory are the kernel's accounting of the reaped child (``wait4``; the
peak is the largest single process, workers included, and counts the image's pages mapped
from the page cache).  Every command runs once before the counted rounds (page cache warm;
its output checked: exit status, CRC32 against the image header).

swsusp-inspect runs as ``python -m swsusp_inspect`` from the checkout under test
(``--checkout DIR`` or $SWSUSP_BENCH_CHECKOUT; default: the checkout holding this script), so
the same script measures another checkout (e.g. main after a change).

swsusp2bin (MagnetForensics/swsusp2bin, the C++ peer: decompresses LZO chunks, checks no
CRC32) is not part of this project and is never committed here: build it yourself from its
public source and give its path with ``--peer PATH`` (repeatable, e.g. two builds) or
$SWSUSP2BIN (several paths separated by ':').  Without it, its rows say "skipped: ...".  It
decompresses only when given ``--out``; it runs here with ``--out /dev/null`` (its fastest
form: no output written to any file).  Before timing it, this script checks on the 80 MB sample
that its output holds the same decompressed bytes as this project's reader.

The bare loop is a standalone Python script (stdlib + lzallright/lz4): walk the swap map, read
each chunk header, decompress, CRC32 - the least any Python reader must do.

The large image: ``--large PATH`` (or $SWSUSP_BENCH_LARGE), e.g. a real image written by a
Debian kernel under QEMU; or ``--forge-large PATH``, which forges one there if PATH does not
exist (``--forge-gib`` GiB of saved pages, LZO, each page a real page of the deb12-6.1-lzo
sample, forged with this project's swsusp_inspect/forge.py) and reuses it otherwise.

Usage:
    python benchmarks/bench_peer.py [--checkout DIR] [--peer PATH]... [--large IMAGE |
        --forge-large PATH] [--runs N] [--only a,b,c,d]
"""

from __future__ import annotations

import argparse
import dataclasses
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
N = 4096

# The bare reader: standalone (stdlib, lzallright / lz4), run as its own process for timing and
# exec'd here for the checks.  x86_64 layouts (2.6.23+ swsusp_header, 64-bit swsusp_info).
READER = r'''
import mmap, struct, zlib
from array import array

N = 4096


def walk(path):
    """(mmap, entries, chunks, facts): chunks are (first entry, swap pages, cmp_len)."""
    f = open(path, "rb")
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    f.close()
    if mm[N - 10 : N - 1] != b"S1SUSPEND":
        raise SystemExit(f"{path}: no S1SUSPEND signature at {N - 10:#x}")
    stored, image, flags = struct.unpack_from("<IQI", mm, N - 36)
    entries = array("Q")
    mp = image
    while mp:
        page = array("Q", mm[mp * N : (mp + 1) * N])
        mp = page[511]
        entries.extend(page[:511])
    while entries and entries[-1] == 0:
        entries.pop()
    info = entries[0] * N
    image_pages, pages = struct.unpack_from("<QQ", mm, info + 416)
    facts = {"crc32": stored, "flags": flags, "pages": pages, "image_pages": image_pages,
             "algorithm": "none" if flags & 2 else "lz4" if flags & 16 else "lzo"}
    chunks = []
    if facts["algorithm"] != "none":
        idx, remaining = 1, pages - 1
        while remaining > 0:
            cmp_len = struct.unpack_from("<Q", mm, entries[idx] * N)[0]
            npg = (8 + cmp_len + N - 1) // N
            chunks.append((idx, npg, cmp_len))
            idx += npg
            remaining -= 32
    return mm, entries, chunks, facts


def compressed(mm, entries, idx, npg, cmp_len):
    first = entries[idx]
    if entries[idx + npg - 1] - first == npg - 1 and \
            entries[idx : idx + npg] == array("Q", range(first, first + npg)):
        return mm[first * N + 8 : first * N + 8 + cmp_len]  # contiguous on the device
    return b"".join(mm[e * N : (e + 1) * N] for e in entries[idx : idx + npg])[8 : 8 + cmp_len]


def decompressor(algorithm):
    if algorithm == "lzo":
        import lzallright
        c = lzallright.LZOCompressor()
        return lambda b: c.decompress(b, output_size_hint=32 * N)
    import lz4.block
    return lambda b: lz4.block.decompress(b, uncompressed_size=32 * N)


def bare_verify(path):
    mm, entries, chunks, facts = walk(path)
    dec = decompressor(facts["algorithm"])
    crc = 0
    for idx, npg, cmp_len in chunks:
        out = dec(compressed(mm, entries, idx, npg, cmp_len))
        crc = zlib.crc32(out, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
    return crc, facts["crc32"]
'''

BARE_MAIN = (
    READER
    + r"""
import sys
computed, stored = bare_verify(sys.argv[1])
print(computed, stored)
"""
)

BUSY = "while True: pass"


def reader() -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec(READER, ns)  # the same code the bare process runs
    return ns


# -- running commands ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cmd:
    label: str
    argv: list[str]
    cwd: Path | None = None
    check: Callable[[str], str | None] | None = None  # stdout -> error message or None
    ok_exit: tuple[int, ...] = (0,)


@dataclasses.dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_kib: int


TIME = shutil.which("time") or ""  # GNU time: a small parent, so the peak is the command's


def run_once(cmd: Cmd, scratch: Path) -> Run:
    """One timed run.  The peak comes from GNU time's %M when it is installed: a child's
    ``ru_maxrss`` also counts the memory of the process that forked it before the exec (this
    Python process), which would hide a peak smaller than ours."""
    argv = [TIME, "-f", "%M", "-o", str(scratch / "peak"), *cmd.argv] if TIME else cmd.argv
    t0 = time.perf_counter()
    p = subprocess.Popen(
        argv,
        cwd=cmd.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in cmd.ok_exit:
        sys.exit(f"{cmd.label}: exit {p.returncode} during timing: {' '.join(cmd.argv)}")
    peak = int((scratch / "peak").read_text().split()[-1]) if TIME else ru.ru_maxrss
    return Run(wall, ru.ru_utime + ru.ru_stime, peak)


def checked_run(cmd: Cmd) -> None:
    """One uncounted run (warms the page cache) whose exit status and output are checked."""
    p = subprocess.run(
        cmd.argv, cwd=cmd.cwd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if p.returncode not in cmd.ok_exit:
        sys.exit(f"{cmd.label}: exit {p.returncode}: {' '.join(cmd.argv)}\n{p.stderr[-2000:]}")
    problem = cmd.check(p.stdout) if cmd.check else None
    if problem:
        sys.exit(f"{cmd.label}: {problem}")


def rounds(cmds: list[Cmd], runs: int, scratch: Path) -> dict[str, list[Run]]:
    """``runs`` rounds, each command once per round, the order rotated from round to round."""
    for c in cmds:
        checked_run(c)
    res: dict[str, list[Run]] = {c.label: [] for c in cmds}
    for r in range(runs):
        k = r % len(cmds)
        for c in cmds[k:] + cmds[:k]:
            res[c.label].append(run_once(c, scratch))
    return res


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def table(res: dict[str, list[Run]]) -> None:
    print(f"    {'command':<44} {'wall s: median (min-max)':>26} {'cpu s':>7} {'peak MiB':>9}")
    for label, runs in res.items():
        w = [r.wall for r in runs]
        print(
            f"    {label:<44} {med(w):9.3f} ({min(w):.3f}-{max(w):.3f})"
            f"{med([r.cpu for r in runs]):9.3f} "
            f"{med([r.peak_kib for r in runs]) / 1024:9.1f}"
        )


def ratio(res: dict[str, list[Run]], a: str, b: str, what: str = "wall") -> float:
    """Median over rounds of A's time / B's in the same round (``wall`` or ``cpu``)."""
    return med([getattr(x, what) / getattr(y, what) for x, y in zip(res[a], res[b], strict=True)])


def diff(res: dict[str, list[Run]], a: str, b: str, what: str = "wall") -> float:
    return med([getattr(x, what) - getattr(y, what) for x, y in zip(res[a], res[b], strict=True)])


def versus(res: dict[str, list[Run]], a: str, b: str) -> str:
    """``A / B`` wall ratio, with the CPU ratio beside it (steadier on a loaded machine)."""
    return f"{a:<30} / {b:<40} {ratio(res, a, b):5.2f}x wall ({ratio(res, a, b, 'cpu'):5.2f}x cpu)"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- inputs ---------------------------------------------------------------------------------


def expand(src: Path, dest: Path) -> Path:
    with lzma.open(src) as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    return dest


def largest_sample() -> Path:
    return max((ROOT / "samples").glob("*/swap.img.xz"), key=lambda p: p.stat().st_size)


def describe(path: Path) -> str:
    mm, _entries, chunks, facts = reader()["walk"](str(path))
    mm.close()
    saved = facts["image_pages"] * N
    return (
        f"{path} ({path.stat().st_size / 2**20:,.0f} MiB file, "
        f"{facts['image_pages']:,} saved pages = {saved / 2**30:.2f} GiB, "
        f"{len(chunks):,} {facts['algorithm'].upper()} chunks)"
    )


def forge_large(path: Path, gib: float) -> None:
    """LZO image of ``gib`` GiB of saved pages, each a real page of the deb12-6.1-lzo sample."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from swsusp_inspect.forge import ForgeSpec, forge

    r = reader()
    with tempfile.TemporaryDirectory(prefix="swsusp-bench-") as tmp:
        raw = expand(ROOT / "samples" / "deb12-6.1-lzo" / "swap.img.xz", Path(tmp) / "s.img")
        mm, entries, chunks, facts = r["walk"](str(raw))
        dec = r["decompressor"](facts["algorithm"])
        stream = b"".join(dec(r["compressed"](mm, entries, *c)) for c in chunks)
        mm.close()
    meta = facts["pages"] - facts["image_pages"] - 1
    real = stream[meta * N :]
    n_real = len(real) // N
    n = int(gib * 262144)

    def content(pfns: np.ndarray) -> bytes:
        idx = (pfns.astype(np.int64) * 7919) % n_real  # a scrambled walk over the real pages
        return b"".join(real[i * N : (i + 1) * N] for i in idx.tolist())

    # a 4 GiB-RAM machine's PFN span, saved pages spread over it like a real directory's
    span = max(n + 0x1000, 1 << 20)
    pfns = np.unique(np.linspace(0x100, span - 1, n).astype(np.uint64))
    print(f"    forging {path}: {pfns.size:,} pages of real content (LZO) ...", flush=True)
    forge(ForgeSpec(pfns=pfns, compression="lzo", content=content, num_physpages=span), path)


# -- checks ---------------------------------------------------------------------------------


def tool_check(stored: int) -> Callable[[str], str | None]:
    def check(out: str) -> str | None:
        doc = json.loads(out)
        got = doc["crc32"]["computed"]
        if got != stored or doc.get("verify_ok") is not True:
            return f"verify says crc32 {got} (header {stored}), verify_ok {doc.get('verify_ok')}"
        return None

    return check


def bare_check(out: str) -> str | None:
    computed, stored = (int(x) for x in out.split())
    return None if computed == stored else f"bare loop CRC32 {computed:#x} != header {stored:#x}"


def peer_check(peer: str, raw: Path, tmp: Path) -> str:
    """Does the peer's output hold the bytes we decompress?  Returns a one-line finding.

    swsusp2bin writes each chunk's pages at the chunk's own swap offsets (not at physical
    addresses), DIV_ROUND_UP(cmp_len, 4096) pages of it; in the version checked (2bfb8dd) page
    j is taken from byte 4096 + j of the decompressed buffer (both layouts are accepted).  It
    reads entries from one swap-map page at a time, so a chunk that straddles two map pages is
    not followed."""
    out = tmp / "peer.out"
    p = subprocess.run(
        [peer, "--in", str(raw), "--out", str(out)], capture_output=True, check=False
    )
    if not out.exists():
        return f"exit {p.returncode}, no output file"
    r = reader()
    mm, entries, chunks, facts = r["walk"](str(raw))
    dec = r["decompressor"](facts["algorithm"])
    agree = {"within": [0, 0], "straddling": [0, 0]}
    layouts: set[str] = set()
    with open(out, "rb") as f:
        got = f.read()
    for idx, npg, cmp_len in chunks:
        data = dec(r["compressed"](mm, entries, idx, npg, cmp_len))
        m = -(-cmp_len // N)
        pages = [got[entries[idx + j] * N : entries[idx + j] * N + N] for j in range(m)]
        kind = "within" if idx // 511 == (idx + npg - 1) // 511 else "straddling"
        agree[kind][1] += 1
        for name, want in (
            ("4096 + j", [data[N + j : 2 * N + j].ljust(N, b"\0") for j in range(m)]),
            ("4096 * j", [data[N * j : N * (j + 1)].ljust(N, b"\0") for j in range(m)]),
        ):
            if pages == want:
                agree[kind][0] += 1
                layouts.add(name)
                break
    mm.close()
    out.unlink()
    w, s = agree["within"], agree["straddling"]
    return (
        f"its output holds our decompressed bytes for {w[0]} of {w[1]} chunks within one "
        f"swap-map page and {s[0]} of {s[1]} straddling two (page j from byte "
        f"{' / '.join(sorted(layouts)) or '-'}); it checks no CRC32"
    )


# -- sections -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.checkout = Path(args.checkout).resolve()
        self.py = sys.executable
        self.bare_py = tmp / "bare.py"
        self.bare_py.write_text(BARE_MAIN)
        self.peers = [p for p in args.peer if p]

    def tool(self, label: str, *argv: str, check: Callable[[str], str | None] | None = None) -> Cmd:
        return Cmd(label, [self.py, "-m", "swsusp_inspect", *argv], self.checkout, check)

    def verify_cmds(self, raw: Path, jobs: list[int | None]) -> list[Cmd]:
        mm, _e, _c, facts = reader()["walk"](str(raw))
        mm.close()
        check = tool_check(facts["crc32"])
        out = []
        for j in jobs:
            extra = ["--jobs", str(j)] if j else []
            name = f"verify --jobs {j}" if j else f"verify (default jobs, {os.cpu_count()} cores)"
            out.append(self.tool(name, "verify", "--json", "-q", *extra, str(raw), check=check))
        return out

    def peer_cmds(self, raw: Path) -> list[Cmd]:
        # it exits 1 whatever happens (its main returns true)
        return [
            Cmd(
                f"swsusp2bin ({Path(p).name})",
                [p, "--in", str(raw), "--out", os.devnull],
                ok_exit=(0, 1),
            )
            for p in self.peers
        ]

    def bare_cmd(self, raw: Path) -> Cmd:
        return Cmd(
            "bare decompress+CRC loop (python)",
            [self.py, str(self.bare_py), str(raw)],
            None,
            bare_check,
        )

    def section_a(self, small: Path) -> None:
        src = largest_sample()
        raw = expand(src, self.tmp / f"{src.parent.name}.img")
        print(
            f"\n[a] start-up, whole process: {self.args.startup_runs} rounds; info reads "
            f"the largest sample, {src.parent.name}, expanded to a raw file "
            f"({raw.stat().st_size / 2**20:.1f} MiB), and the 80 MB one (deb12-6.1-lzo)"
        )
        base = Cmd("python -c pass", [self.py, "-c", "pass"])

        def info_check(out: str) -> str | None:
            return None if json.loads(out).get("pages") else "info --json printed no pages"

        cmds = [
            base,
            self.tool("swsusp-inspect --help", "--help"),
            self.tool(
                f"swsusp-inspect info --json ({src.parent.name})",
                "info",
                "--json",
                str(raw),
                check=info_check,
            ),
            self.tool(
                "swsusp-inspect info --json (deb12-6.1-lzo)",
                "info",
                "--json",
                str(small),
                check=info_check,
            ),
        ]
        res = rounds(cmds, self.args.startup_runs, self.tmp)
        table(res)
        for c in cmds[1:]:
            d = diff(res, c.label, base.label)
            print(
                f"    {c.label:<44} beyond the interpreter {d:+.3f} s wall "
                f"({diff(res, c.label, base.label, 'cpu'):+.3f} s cpu)   target <= +0.150 s: "
                f"{verdict(d <= 0.150)}"
            )
        raw.unlink()

    def compare_verify(
        self, raw: Path, jobs: list[int | None], target: float, target_what: str
    ) -> None:
        verifies = self.verify_cmds(raw, jobs)
        peers = self.peer_cmds(raw)
        bare = self.bare_cmd(raw)
        res = rounds([*verifies, *peers, bare], self.args.runs, self.tmp)
        table(res)
        if not peers:
            print("    swsusp2bin: skipped: no peer binary (give --peer PATH or set SWSUSP2BIN)")
        for v in verifies:
            for p in peers:
                q = ratio(res, v.label, p.label)
                print(
                    f"    {versus(res, v.label, p.label)}   "
                    f"target <= {target}x ({target_what}): {verdict(q <= target)}"
                )
            print(f"    {versus(res, v.label, bare.label)}")
        for p in peers:
            print(f"    {versus(res, p.label, bare.label)}")

    def section_b(self, raw: Path) -> None:
        print(
            f"\n[b] verify, whole process, 80 MB sample: {self.args.runs} rounds\n"
            f"    {describe(raw)}"
        )
        for p in self.peers:
            print(f"    swsusp2bin check ({Path(p).name}): {peer_check(p, raw, self.tmp)}")
        self.compare_verify(raw, [1, 2, None], 1.5, "80 MB sample")

    def section_c(self, large: Path) -> None:
        print(
            f"\n[c] verify, whole process, >= 1 GiB image: {self.args.runs} rounds\n"
            f"    {describe(large)}"
        )
        self.compare_verify(large, [1, 2, None], 0.8, ">= 1 GiB, 2 cores: --jobs 2 / default")

    def section_d(self, images: list[Path]) -> None:
        print(
            f"\n[d] busy machine: one other process keeps one core busy "
            f"({os.cpu_count()} cores): {self.args.runs} rounds"
        )
        busy = subprocess.Popen([self.py, "-c", BUSY])
        try:
            time.sleep(0.5)
            for raw in images:
                print(f"    {describe(raw)}")
                cmds = self.verify_cmds(raw, [1, 2, None])
                res = rounds(cmds, self.args.runs, self.tmp)
                table(res)
                for c in cmds[1:]:
                    q = ratio(res, c.label, cmds[0].label)
                    print(
                        f"    {versus(res, c.label, cmds[0].label)}   target <= 1.00x "
                        f"(never slower than one job): {verdict(q <= 1.0)}"
                    )
        finally:
            busy.kill()
            busy.wait()


def machine(checkout: Path) -> str:
    commit = subprocess.run(
        ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    pkg = subprocess.run(
        [
            sys.executable,
            "-c",
            "import swsusp_inspect, numpy; print(swsusp_inspect.__file__, numpy.__version__)",
        ],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
        f"Linux {platform.release()}, Python {platform.python_version()}, numpy {pkg[1]}\n"
        f"checkout under test: {checkout} ({commit or 'no git'}); package {pkg[0]}\n"
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--checkout",
        default=os.environ.get("SWSUSP_BENCH_CHECKOUT", str(ROOT)),
        help="checkout whose swsusp_inspect is timed (default: this one)",
    )
    ap.add_argument(
        "--peer",
        action="append",
        default=[p for p in os.environ.get("SWSUSP2BIN", "").split(":") if p],
        help="swsusp2bin binary (repeatable; default $SWSUSP2BIN, ':'-separated)",
    )
    ap.add_argument(
        "--large",
        type=Path,
        default=os.environ.get("SWSUSP_BENCH_LARGE"),
        help="an image of >= 1 GiB of saved data (default $SWSUSP_BENCH_LARGE)",
    )
    ap.add_argument(
        "--forge-large",
        type=Path,
        metavar="PATH",
        help="forge a large image at PATH unless it exists (keep it out of git)",
    )
    ap.add_argument("--forge-gib", type=float, default=1.25)
    ap.add_argument("--runs", type=int, default=5, help="rounds for verify (default 5)")
    ap.add_argument("--startup-runs", type=int, default=15, help="rounds for [a] (default 15)")
    ap.add_argument("--only", default="a,b,c,d", help="sections, e.g. a,b")
    ap.add_argument(
        "--bytecode-as-is",
        action="store_true",
        help="leave PYTHONDONTWRITEBYTECODE / PYTHONPYCACHEPREFIX as they are",
    )
    args = ap.parse_args()
    only = set(args.only.split(","))
    for p in args.peer:
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            sys.exit(f"--peer {p}: not an executable file")
    print(machine(Path(args.checkout).resolve()))
    large: Path | None = args.large
    if args.forge_large is not None:
        if not args.forge_large.exists():
            forge_large(args.forge_large, args.forge_gib)
        large = args.forge_large
    with tempfile.TemporaryDirectory(prefix="swsusp-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if not args.bytecode_as_is:
            # as an installed package runs: bytecode compiled once (by the uncounted first run)
            # and reused, kept out of the checkout
            was = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
            os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
            print(
                "bytecode: cached in a temporary PYTHONPYCACHEPREFIX"
                + (" (PYTHONDONTWRITEBYTECODE was set: unset for the runs)" if was else "")
            )
        b = Bench(args, tmp)
        print(
            "swsusp2bin: "
            + (
                ", ".join(b.peers)
                if b.peers
                else "skipped: no peer binary (give --peer PATH or set SWSUSP2BIN)"
            )
        )
        small = expand(
            ROOT / "samples" / "deb12-6.1-lzo" / "swap.img.xz", tmp / "deb12-6.1-lzo.img"
        )
        if "a" in only:
            b.section_a(small)
        if "b" in only:
            b.section_b(small)
        if only & {"c", "d"} and large is None:
            print(
                "\n[c] [d] large image: skipped: none given (--large IMAGE or --forge-large PATH)"
            )
        if "c" in only and large is not None:
            b.section_c(large)
        if "d" in only:
            b.section_d([small] if large is None else [small, large])


if __name__ == "__main__":
    main()
