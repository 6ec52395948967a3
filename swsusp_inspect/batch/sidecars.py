"""An image's inputs found beside it, by the names users give them.

* ``host1.img`` (or ``host1.img.xz``, ``host1.bin``, ...) takes ``host1.dmesg``,
  ``host1.journal``, ``host1.console``, ``host1.log``, ``host1.iomem``, ``host1.memmap``,
  ``host1.e820``, ``host1.map`` (maps), ``host1.kpageflags`` and ``host1.System.map``, each also
  with ``.txt`` or ``.log`` and compressed (``.xz``, ``.gz``, ``.zst``);
* the only image of its directory (by content) also takes, when it has no map of its own, one
  file of each kind found there: a kernel log (``dmesg*``, ``console*``, ``journal*``,
  ``kern.log*``), ``map.*``, ``*.e820``, ``iomem*``, ``memmap*`` (a file or a copy of
  /sys/firmware/memmap), and ``kpageflags*`` and ``System.map*``.  Several images in one
  directory share none of these: which boot's log is whose is not known, so such rows say
  they have no map.

Maps found by their names are read leniently: one that is no map (a console.log without the
boot's first lines, say) is left out and named in the row, never the row's error.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "Found", "find_sidecars"]

IMAGE_SUFFIXES = (".img", ".bin", ".swap", ".raw", ".dump", ".image", ".snapshot")
TRANSPORT_SUFFIXES = (".xz", ".gz", ".zst")
MAP_KINDS = ("dmesg", "journal", "console", "log", "iomem", "memmap", "e820", "map")
# the directory's files, one of each group, the first in this order
DIRECTORY_MAPS: tuple[tuple[str, ...], ...] = (
    ("dmesg", "dmesg.*", "dmesg[-_]*", "console.log", "console*", "journal*", "kern.log*"),
    ("map.*",),
    ("*.e820", "*.e820.*"),
    ("iomem", "iomem.*", "proc-iomem*"),
    ("memmap", "memmap.*", "firmware-memmap*"),
)


@dataclass(frozen=True)
class Found:
    """What was found beside one image."""

    maps: tuple[str, ...] = ()
    kpageflags: str | None = None
    system_map: str | None = None


def _stem(name: str) -> str:
    for suf in TRANSPORT_SUFFIXES:
        if name.endswith(suf):
            name = name[: -len(suf)]
            break
    for suf in IMAGE_SUFFIXES:
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def _variants(base: Path) -> list[Path]:
    plain = [base, Path(f"{base}.txt"), Path(f"{base}.log")]
    return [*plain, *(Path(f"{p}{s}") for p in plain for s in TRANSPORT_SUFFIXES)]


def _first_file(candidates: Iterable[Path]) -> Path | None:
    return next((c for c in candidates if c.is_file()), None)


def _first_match(names: list[str], patterns: tuple[str, ...], taken: set[str]) -> str | None:
    for pattern in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern) and n not in taken]
        if hits:
            return hits[0]
    return None


def _directory_maps(d: Path, taken: set[str]) -> list[str]:
    try:
        names = sorted(p.name for p in d.iterdir() if p.is_file() or p.name == "memmap")
    except OSError:
        return []
    out = []
    for group in DIRECTORY_MAPS:
        hit = _first_match(names, group, taken)
        if hit is not None:
            taken.add(hit)
            out.append(str(d / hit))
    return out


def find_sidecars(image: Path, alone: bool) -> Found:
    """The inputs beside ``image``; ``alone``: it is the only image of its directory."""
    d = image.parent
    stem = _stem(image.name)
    taken = {image.name}
    maps = []
    for kind in MAP_KINDS:
        hit = _first_file(_variants(d / f"{stem}.{kind}"))
        if hit is not None and hit.name not in taken:
            taken.add(hit.name)
            maps.append(str(hit))
    kpf = _first_file(_variants(d / f"{stem}.kpageflags"))
    smap = _first_file(_variants(d / f"{stem}.System.map"))
    if alone:
        if not maps:
            maps = _directory_maps(d, taken)
        if kpf is None:
            kpf = _first_file([*_variants(d / "kpageflags"), *_variants(d / "kpageflags.bin")])
        if smap is None:
            found = sorted(d.glob("System.map*"))
            smap = found[0] if found else None
    return Found(tuple(maps), str(kpf) if kpf else None, str(smap) if smap else None)
