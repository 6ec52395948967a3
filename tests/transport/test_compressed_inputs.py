"""Every input path takes xz, gzip and zstd: memory maps, kpageflags, System.map, batch
sidecars; a compressed image reports its decompression and, with `--cache`, pays it once."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner

from swsusp_inspect import batch
from swsusp_inspect.cli import cli
from swsusp_inspect.e820 import load_memory_map
from swsusp_inspect.errors import CacheError, MapError
from swsusp_inspect.inputs.kpageflags import load_kpageflags
from swsusp_inspect.inputs.system_map import load_system_map
from swsusp_inspect.transport import Expansion, open_source

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "samples" / "deb12-6.1-lzo"
SEED = ROOT / "samples" / "forged-seed-2004"
# the fastest level of each (what is read is the format, whatever the level: xz's default
# preset takes a second over the 15 MB of side inputs below)
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ, preset=0),
    "gz": lambda b: gzip.compress(b, compresslevel=1),
    "zst": lambda b: zstandard.ZstdCompressor(level=1).compress(b),
}


def _unxz(path: Path) -> bytes:
    with lzma.open(path) as f:
        return f.read()


def _json(*args: str, code: int = 0) -> dict[str, Any]:
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def _compressed(tmp_path: Path, src: Path, ext: str, data: bytes | None = None) -> Path:
    out = tmp_path / f"{src.name}.{ext}"
    out.write_bytes(COMPRESS[ext](src.read_bytes() if data is None else data))
    return out


@pytest.mark.parametrize("ext", sorted(COMPRESS))
@pytest.mark.parametrize("name", ["console.log", "iomem.txt", "memmap.txt"])
def test_maps_read_the_same_compressed(tmp_path: Path, name: str, ext: str) -> None:
    plain = load_memory_map(REAL / name).document().to_dict()
    packed = load_memory_map(_compressed(tmp_path, REAL / name, ext)).document().to_dict()
    plain.pop("source")
    packed.pop("source")
    assert packed == plain


@pytest.mark.parametrize(
    "ext",
    [  # every transport reads the maps above; one here (xz: the tests' other System.map
        # reads come from the sample cache's expanded copies, see conftest)
        "xz",
        pytest.param("gz", marks=pytest.mark.slow),
        pytest.param("zst", marks=pytest.mark.slow),
    ],
)
def test_audit_with_compressed_side_inputs(tmp_path: Path, ext: str) -> None:
    args = [
        "--map",
        str(_compressed(tmp_path, REAL / "console.log", ext)),
        "--kpageflags",
        str(_compressed(tmp_path, REAL / "kpageflags.bin", ext, _unxz(REAL / "kpageflags.bin.xz"))),
        "--system-map",
        str(
            _compressed(
                tmp_path,
                REAL / "System.map",
                ext,
                _unxz(ROOT / "samples" / "systemmap" / "System.map-6.1.0-56-amd64.xz"),
            )
        ),
    ]
    packed = _json("audit", str(REAL / "swap.img.xz"), *args)
    plain = _json(
        "audit",
        str(REAL / "swap.img.xz"),
        "--map",
        str(REAL / "console.log"),
        "--kpageflags",
        str(REAL / "kpageflags.bin.xz"),
        "--system-map",
        str(ROOT / "samples" / "systemmap" / "System.map-6.1.0-56-amd64.xz"),
    )
    assert packed["map"]["checksum_verdict"] == "match"
    assert packed["labels"] == plain["labels"] and packed["unsafe_pages"] == 0
    assert (
        packed["evidence"]["reserved-ram"]["kpageflags"]["reserved"]
        == plain["evidence"]["reserved-ram"]["kpageflags"]["reserved"]
    )
    assert (
        packed["image"]["kernel"]["expected_physical_address"]
        == plain["image"]["kernel"]["expected_physical_address"]
        is not None
    )


def test_side_inputs_in_zstd_read_as_plain(tmp_path: Path) -> None:
    raw = _unxz(REAL / "kpageflags.bin.xz")
    k = load_kpageflags(_compressed(tmp_path, REAL / "kpageflags.bin", "zst", raw))
    assert k.transport == "zstd" and k.flags.tobytes() == raw
    xz = ROOT / "samples" / "systemmap" / "System.map-6.1.0-56-amd64.xz"
    sm = load_system_map(_compressed(tmp_path, REAL / "System.map", "zst", _unxz(xz)))
    assert sm.get("linux_banner") is not None
    assert sm.symbols == load_system_map(xz).symbols


def test_a_compressed_map_is_bounded_and_a_damaged_one_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swsusp_inspect.e820 import readers

    monkeypatch.setattr(readers, "_MAX_TEXT", 64 << 10)
    big = _compressed(tmp_path, REAL / "console.log", "zst", b"x" * (1 << 20))
    with pytest.raises(MapError, match="expanded: not read further"):
        load_memory_map(big)
    monkeypatch.undo()
    cut = tmp_path / "cut.log.xz"
    cut.write_bytes(COMPRESS["xz"]((REAL / "console.log").read_bytes())[:2000])
    r = CliRunner().invoke(cli, ["map", str(cut)])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1 and "xz stream" in r.stderr


def test_batch_takes_compressed_sidecars(tmp_path: Path) -> None:
    (tmp_path / "host1.img.xz").symlink_to(SEED / "swap.img.xz")
    _compressed(tmp_path, SEED / "dmesg.txt", "zst").rename(tmp_path / "host1.dmesg.zst")
    (job,) = batch.plan([str(tmp_path)])
    assert job.maps == (str(tmp_path / "host1.dmesg.zst"),)
    (row,) = batch.run([job])
    assert row.error is None and row.exit_code == 1 and row.inputs.ignored == ()


@pytest.mark.parametrize(
    "path",
    [  # the seed's 24 KiB; a real sample's 13 MB with -m slow
        SEED / "swap.img.xz",
        pytest.param(REAL / "swap.img.xz", marks=pytest.mark.slow),
    ],
    ids=["seed", "real"],
)
def test_decompression_reports_its_progress(path: Path) -> None:
    seen: list[tuple[int, int]] = []
    with open_source(path, expansion=Expansion(progress=lambda n, t: seen.append((n, t)))):
        pass
    size = path.stat().st_size
    assert seen and {t for _, t in seen} == {size}
    assert sum(n for n, _ in seen) == size  # every compressed byte read, each once


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_cache_pays_the_decompression_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "evidence" / "swap.img.xz"
    image.parent.mkdir()
    image.write_bytes((SEED / "swap.img.xz").read_bytes())
    before = (_sha(image), image.stat().st_mtime_ns)
    cache = tmp_path / "cache"
    first = _json("info", str(image), "--cache", str(cache))
    entries = sorted(p.suffix for p in cache.iterdir())
    assert entries == [".img", ".json"]

    from swsusp_inspect import transport

    def no_expanding(*_: object) -> None:
        raise AssertionError("decompressed again")

    monkeypatch.setattr(transport, "spool", no_expanding)
    again = CliRunner().invoke(
        cli, ["info", str(image), "--json"], env={"SWSUSP_INSPECT_CACHE": str(cache)}
    )
    assert again.exit_code == 0 and json.loads(again.stdout) == first
    assert first["transport"] == "xz"
    monkeypatch.undo()
    assert (_sha(image), image.stat().st_mtime_ns) == before  # the evidence untouched
    os.utime(image, ns=(before[1], before[1] + 1))  # another file now: expanded again
    _json("info", str(image), "--cache", str(cache))
    assert len(list(cache.glob("*.img"))) == 2


def test_cache_never_in_the_evidence_directory_nor_left_partial(tmp_path: Path) -> None:
    image = tmp_path / "swap.img.xz"
    image.write_bytes((SEED / "swap.img.xz").read_bytes())
    with pytest.raises(CacheError, match="input's own directory"):
        open_source(image, expansion=Expansion(cache_dir=str(tmp_path)))
    damaged = tmp_path / "damaged.img.xz"
    damaged.write_bytes(image.read_bytes()[:6000])
    cache = tmp_path / "cache"
    r = CliRunner().invoke(cli, ["info", str(damaged), "--cache", str(cache)])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert list(cache.iterdir()) == []  # no entry, no partial file
