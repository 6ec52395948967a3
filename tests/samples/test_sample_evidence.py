"""What the guest recorded for a reader of the saved kernel memory, checked against itself,
the System.map and the image (samples made since the generator records it: vmcoreinfo.txt,
vmcoreinfo-note.txt, kallsyms.txt.xz and the provenance's ``kaslr``/``vmcoreinfo``).

The evidence files are committed for every such sample; the checks against the image run
where the image is in place (some are git-ignored, samples/.gitignore).
"""

from __future__ import annotations

import functools
import lzma
import re
import struct
from collections.abc import Iterator

import pytest
from helpers import SAMPLES, kaslr_offset, provenance, real_samples

from swsusp_inspect.image import open_image

@pytest.fixture(scope="module", autouse=True)
def _parsed_once_per_module() -> Iterator[None]:
    """The excerpts and System.maps are parsed once for this module and let go after it."""
    yield
    excerpt.cache_clear()
    system_map_lines.cache_clear()


EVIDENCE = sorted(p.parent.name for p in SAMPLES.glob("*/kallsyms.txt.xz"))
WITH_IMAGE = [n for n in EVIDENCE if n in real_samples()]


@functools.cache
def excerpt(name: str) -> tuple[int, list[tuple[int, int, str, str, str | None]]]:
    """(line count of /proc/kallsyms, [(index, address, type, name, module)])."""
    text = lzma.decompress((SAMPLES / name / "kallsyms.txt.xz").read_bytes()).decode()
    m = re.search(r"^# lines in /proc/kallsyms: (\d+)$", text, re.M)
    assert m, "kallsyms.txt.xz lacks its line count"
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        idx, rest = line.split("\t", 1)
        parts = rest.split()
        module = parts[3].strip("[]") if len(parts) > 3 else None
        rows.append((int(idx), int(parts[0], 16), parts[1], parts[2], module))
    return int(m.group(1)), rows


def core_address(rows: list[tuple[int, int, str, str, str | None]], sym: str) -> int | None:
    return next((a for _i, a, _t, n, mod in rows if n == sym and mod is None), None)


@functools.cache
def system_map_lines(name: str) -> dict[str, set[int]] | None:
    """name -> every address System.map gives it (None where the map is git-ignored and absent)."""
    path = SAMPLES / provenance(name)["system_map"]
    if not path.is_file():
        return None
    out: dict[str, set[int]] = {}
    text = lzma.decompress(path.read_bytes()).decode()
    lines = re.findall(r"^([0-9a-f]+) \S (\S+)$", text, re.M)
    assert len(lines) == text.count("\n"), "a System.map line that is not ADDRESS TYPE NAME"
    for addr, sym in lines:
        out.setdefault(sym, set()).add(int(addr, 16))
    return out


def note_keys(name: str) -> dict[str, str]:
    text = (SAMPLES / name / "vmcoreinfo-note.txt").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_a_kaslr_sample_is_among_them() -> None:
    """At least one sample booted as distributions boot, with KASLR on and the kernel slid."""
    kaslr = [n for n in EVIDENCE if not provenance(n)["nokaslr"]]
    assert kaslr
    for name in kaslr:
        assert "nokaslr" not in (SAMPLES / name / "cmdline.txt").read_text().split()
        assert kaslr_offset(provenance(name)) != 0


@pytest.mark.parametrize("name", EVIDENCE)
def test_kallsyms_excerpt_is_what_it_says(name: str) -> None:
    total, rows = excerpt(name)
    prov = provenance(name)["kallsyms_excerpt"]
    assert prov["lines_in_proc_kallsyms"] == total
    idx = [r[0] for r in rows]
    assert idx == sorted(set(idx)) and idx[-1] < total
    every = prov["every"]
    assert [i for i in idx if i % every == 0] == list(range(0, total, every))
    kept = {r[3] for r in rows if r[0] % every}  # lines kept for their name only
    assert kept <= set(prov["names"])
    assert set(prov["names_found"]) <= {r[3] for r in rows}
    # text symbols are listed everywhere; data ones (linux_banner, prb, ...) only with
    # CONFIG_KALLSYMS_ALL, which Debian's i386 and arm64 6.1 kernels lack
    assert {"_stext", "_etext"} <= set(prov["names_found"])


@pytest.mark.parametrize("name", EVIDENCE)
def test_kaslr_offset_from_kallsyms_system_map_and_vmcoreinfo(name: str) -> None:
    prov = provenance(name)
    cmdline = (SAMPLES / name / "cmdline.txt").read_text().split()
    assert prov["nokaslr"] is prov["kaslr"]["nokaslr"] is ("nokaslr" in cmdline)
    _total, rows = excerpt(name)
    sym = prov["kaslr"]["symbol"]  # _text, or _stext where kallsyms lists no _text (arm64)
    live = core_address(rows, sym)
    assert live is not None and f"{live:x}" == prov["kaslr"]["kallsyms"]
    offset = live - int(prov["kaslr"]["system_map"], 16)
    assert offset == kaslr_offset(prov)
    if prov["nokaslr"]:
        assert offset == 0
    smap = system_map_lines(name)
    if smap is not None:
        assert int(prov["kaslr"]["system_map"], 16) in smap[sym]
    if (SAMPLES / name / "vmcoreinfo-note.txt").is_file():
        keys = note_keys(name)
        assert keys["OSRELEASE"] == prov["kernel_release"]
        assert int(keys["SYMBOL(_stext)"], 16) == core_address(rows, "_stext")
        if "KERNELOFFSET" in keys:  # x86_64 and arm64 (arch_crash_save_vmcoreinfo)
            assert int(keys["KERNELOFFSET"], 16) == offset


@pytest.mark.parametrize("name", EVIDENCE)
def test_kallsyms_lines_are_system_map_lines_slid(name: str) -> None:
    """Every core-kernel line of the excerpt is a System.map line moved by the KASLR offset
    (absolute symbols, per-CPU offsets on x86_64, do not move)."""
    smap = system_map_lines(name)
    if smap is None:
        pytest.skip(f"{provenance(name)['system_map']} is git-ignored and not in place")
    offset = kaslr_offset(provenance(name))
    _total, rows = excerpt(name)
    core = [r for r in rows if r[4] is None]
    assert len(core) > 100
    for _i, addr, kind, sym, _m in core:
        want = addr if kind in "Aa" else addr - offset
        assert want in smap.get(sym, set()), (sym, hex(addr))


@pytest.mark.parametrize("name", EVIDENCE)
def test_vmcoreinfo_txt(name: str) -> None:
    prov = provenance(name)["vmcoreinfo"]
    text = (SAMPLES / name / "vmcoreinfo.txt").read_text()
    if not text.strip():
        assert prov["sysfs"] is None
        return
    addr, size = text.split()  # kernel/ksysfs.c: "%pa %x\n"
    assert (int(addr, 16), int(size, 16)) == (prov["phys_addr"], prov["size"])
    # VMCOREINFO_NOTE_SIZE: the note's header, name and VMCOREINFO_BYTES (one page) of text
    page = provenance(name).get("page_size", 4096)
    assert prov["size"] >= page
    if prov["note_file"]:
        note = (SAMPLES / name / prov["note_file"]).read_bytes()
        assert len(note) <= prov["note_bytes"] <= page


@pytest.mark.parametrize("name", [n for n in WITH_IMAGE
                                  if provenance(n)["vmcoreinfo"]["note_file"]])
def test_vmcoreinfo_note_is_in_the_image(name: str) -> None:
    """At the physical address /sys/kernel/vmcoreinfo gave, the image holds the ELF note
    ``VMCOREINFO`` whose text the guest read through /proc/kcore."""
    prov = provenance(name)
    at = prov["vmcoreinfo"]["phys_addr"]
    text = (SAMPLES / name / "vmcoreinfo-note.txt").read_bytes()
    with open_image(SAMPLES / name / "swap.img.xz", passphrase=prov.get("passphrase")) as img:
        n = img.page_size
        first = at // n
        pages = b"".join(img.read_page(p) for p in range(first, (at + 24 + len(text)) // n + 1))
    off = at - first * n
    namesz, descsz, ntype = struct.unpack_from("<III", pages, off)
    assert (namesz, ntype) == (len(b"VMCOREINFO\0"), 0)
    assert pages[off + 12 : off + 12 + namesz] == b"VMCOREINFO\0"
    desc = pages[off + 24 : off + 24 + descsz]
    assert desc.rstrip(b"\0") == text
