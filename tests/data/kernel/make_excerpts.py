"""Record the memory excerpts of tests/data/kernel/ from the real samples' images.

For each sample whose image is in place, this opens the image, runs the kernel layer's facade
(``read_kernel(...).read_all()``, the dmesg lines and a few symbol lookups) over a
``PhysicalMemory(record=True)``, and writes exactly the pages it read, with the image's PFN
directory and arch record, to ``<sample>/memory.kexc.xz``.  For kernels whose kallsyms lacks
data symbols (Debian i386 and arm64), the lines of the sample's real System.map that the
facade needs are written to ``<sample>/System.map`` (a verbatim subset, in the map's order).
The sample's own evidence the tests compare with (boot log, console, kpageflags, kallsyms
excerpt, VMCOREINFO as the guest saw it, provenance) is copied unchanged beside them.

Usage (from the repository root; images under samples/ or SWSUSP_EXTRA_SAMPLES):

    python tests/data/kernel/make_excerpts.py [SAMPLE ...]

The provenance of every file (sample, image sha256, System.map sha256, pages) is written into
the excerpt itself and into tests/data/kernel/README.md.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from swsusp_inspect import open_image  # noqa: E402
from swsusp_inspect.kernel import PhysicalMemory, read_kernel, write_excerpt  # noqa: E402
from swsusp_inspect.kernel.pageflags import page_addresses, read_page_flags  # noqa: E402

HERE = Path(__file__).resolve().parent
# more sample directories with their images (e.g. a copy of git-ignored images kept elsewhere)
SCRATCH = Path(os.environ["SWSUSP_EXTRA_SAMPLES"]) if "SWSUSP_EXTRA_SAMPLES" in os.environ else None
SAMPLES = (
    "deb12-6.1-i386-lzo",
    "deb12-6.1-i386-nonpae-lzo",
    "deb12-6.1-arm64-lzo",
    "deb13-6.12-arm64-16k-lzo",
    "deb13-6.12-kaslr-lzo",
    "sid-7-lzo",
)
# symbols the facade may resolve from a System.map (data symbols and KASLR anchors)
MAP_NAMES = (
    "_text",
    "_stext",
    "restore_registers",
    "_cpu_resume",
    "e820_table_firmware",
    "e820_table",
    "e820_table_kexec",
    "e820_saved",
    "e820",
    "nosave_regions",
    "memblock",
    "__start_BTF",
    "__stop_BTF",
    "vmcoreinfo_note",
    "log_first_seq",
    "linux_banner",
    "init_uts_ns",
    "swapper_pg_dir",
)


def sample_dir(name: str) -> Path | None:
    for base in (b for b in (ROOT / "samples", SCRATCH) if b is not None):
        if (base / name / "swap.img.xz").is_file():
            return base / name
    return None


def system_map_for(sample: Path, prov: dict) -> Path | None:
    rel = prov.get("system_map")
    if not rel:
        return None
    for base in (b for b in (ROOT / "samples", SCRATCH, sample.parent) if b is not None):
        if (base / rel).is_file():
            return base / rel
    return None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def map_excerpt(path: Path, out: Path) -> int:
    wanted = set(MAP_NAMES)
    lines = []
    seen: set[str] = set()
    with lzma.open(path, "rt", encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and parts[2] in wanted and (parts[2], parts[1]) not in seen:
                seen.add((parts[2], parts[1]))
                lines.append(line)
    out.write_text("".join(lines))
    return len(lines)


EVIDENCE = (
    "provenance.json",
    "cmdline.txt",
    "kpageflags.bin.xz",
    "kallsyms.txt.xz",
    "vmcoreinfo.txt",
    "vmcoreinfo-note.txt",
)
EVIDENCE_XZ = ("dmesg.txt", "console.log")  # stored xz-compressed, unchanged inside
# samples whose struct pages and BTF would take most of the ~2 MB budget: only the struct
# pages of the saved PFNs on the first N pages of the memory map are recorded (the tests then
# expect exactly the others to be reported unreadable), and no BTF (PG_reserved then comes
# from VMCOREINFO, as the facade falls back when BTF is not in the image)
STRUCT_PAGE_BUDGET = {"sid-7-lzo": 160, "deb13-6.12-arm64-16k-lzo": 12}


def record(name: str) -> dict | None:
    d = sample_dir(name)
    if d is None:
        print(f"{name}: image not in place, skipped")
        return None
    prov = json.loads((d / "provenance.json").read_text())
    smap = system_map_for(d, prov)
    outdir = HERE / name
    outdir.mkdir(exist_ok=True)
    for ev in EVIDENCE:
        if (d / ev).is_file():
            (outdir / ev).write_bytes((d / ev).read_bytes())
    for ev in EVIDENCE_XZ:
        (outdir / f"{ev}.xz").write_bytes(
            lzma.compress((d / ev).read_bytes(), preset=9 | lzma.PRESET_EXTREME)
        )
    map_file = None
    if prov.get("arch") in ("i386", "arm64") and smap is not None:
        map_file = outdir / "System.map"
        n = map_excerpt(smap, map_file)
        print(f"{name}: {n} System.map lines -> {map_file}")
    budget = STRUCT_PAGE_BUDGET.get(name)
    flags_pfns = None
    with open_image(d / "swap.img.xz") as img:
        mem = PhysicalMemory(img, record=True)
        k = read_kernel(img, str(map_file) if map_file else None, memory=mem)
        for part in (
            "vmcoreinfo",
            "paging",
            "kernel_offset",
            "symbols",
            "e820",
            "memblock",
            "nosave",
            "memory_map",
            "e820_checksum_matches",
            "log",
        ):
            getattr(k, part)
        k.dmesg()
        for sym in ("linux_banner", "init_uts_ns", "_text", "__start_BTF", "__stop_BTF"):
            k.lookup(sym)
        if budget is None:
            assert k.page_flags is not None
        else:
            # the saved PFNs whose struct page lies on the first `budget` memory-map pages
            pfns = np.sort(np.asarray(img.pagedir.pfns, dtype=np.uint64))
            addrs, ok, _ = page_addresses(k.vm, k.vmcoreinfo, pfns, page_size=img.page_size)
            phys, mapped = k.vm.translate_many(addrs)
            pages = phys >> np.uint64(img.page_size.bit_length() - 1)
            first = np.unique(pages[ok & mapped])[:budget]
            keep = pfns[np.isin(pages, first) & ok & mapped]
            got = read_page_flags(k.vm, k.vmcoreinfo, keep, page_size=img.page_size)
            assert got.readable.all()
            flags_pfns = {"count": int(keep.size), "max": int(keep.max())}
        assert not k.errors, k.errors
        assert mem.reads is not None
        provenance = {
            "sample": name,
            "swap_img_xz_sha256": sha256(d / "swap.img.xz"),
            "provenance_swap_img_sha256": prov.get("swap_img_sha256"),
            "kernel_release": prov.get("kernel_release"),
            "system_map": prov.get("system_map"),
            "system_map_sha256": None if smap is None else sha256(smap),
            "recorded_by": "tests/data/kernel/make_excerpts.py",
            "struct_pages": "all"
            if flags_pfns is None
            else {"recorded_for_saved_pfns": flags_pfns["count"], "up_to_pfn": flags_pfns["max"]},
        }
        out = outdir / "memory.kexc.xz"
        size = write_excerpt(out, img, mem.reads, provenance=provenance)
        (outdir / "excerpt.json").write_text(
            json.dumps(provenance, indent=1, sort_keys=True) + "\n"
        )
    print(f"{name}: {len(mem.reads)} pages -> {out} ({size} bytes)")
    return {
        **provenance,
        "pages": len(mem.reads),
        "bytes": size,
        "evidence": sorted(p.name for p in outdir.iterdir()),
    }


def main(argv: list[str]) -> int:
    names = argv or list(SAMPLES)
    done = [r for r in (record(n) for n in names) if r is not None]
    index = HERE / "excerpts.json"
    old = json.loads(index.read_text()) if index.is_file() else {}
    old.update({r["sample"]: r for r in done})
    index.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
