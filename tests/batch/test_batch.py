"""`batch`: rows in input order, errors in their rows, worst exit code, sidecars, manifests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from swsusp_inspect import batch
from swsusp_inspect.cli import cli
from swsusp_inspect.forge.kernel import ForgeSpec, forge

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
LZ4 = SAMPLES / "deb13-6.12-lz4"


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A real sample, a corrupt file, a plain swap area, a forged unsafe image."""
    d = tmp_path_factory.mktemp("mixed")
    corrupt = d / "corrupt.img"
    corrupt.write_bytes(bytes(range(256)) * 64)
    plain = d / "plain.img"
    page = bytearray(4096)
    page[4086:4096] = b"SWAPSPACE2"
    plain.write_bytes(bytes(page) * 4)
    seed = SAMPLES / "forged-seed-2004" / "swap.img.xz"
    return [LZ4 / "swap.img.xz", corrupt, plain, seed]


def test_rows_in_order_errors_in_rows_worst_exit(mixed: list[Path]) -> None:
    code, out, _err = run("batch", "--jsonl", "--jobs", "2", *map(str, mixed))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in mixed]
    real, corrupt, plain, seed = rows
    assert real["error"] is None and real["exit_code"] == 0
    assert real["labels"]["reserved-non-ram"] == 0 and real["labels"]["nosave"] == 0
    assert "no hibernation image" in corrupt["error"] and corrupt["exit_code"] == 2
    assert "plain swap area" in plain["error"] and plain["exit_code"] == 2
    assert seed["exit_code"] == 1 and seed["unsafe_pages"] > 0
    assert code == 2  # the worst of 0, 2, 2, 1
    for r in rows:
        assert r["schema_version"] == 1


def test_jsonl_row_equals_audit_json() -> None:
    img = LZ4 / "swap.img.xz"
    code, out, _ = run("batch", "--jsonl", "--jobs", "1", str(img))
    row = json.loads(out)
    # sidecars beside an image alone in its directory: dmesg, iomem, memmap, kpageflags
    assert row["inputs"]["kpageflags"] == str(LZ4 / "kpageflags.bin.xz")
    args = ["audit", str(img), "--json", "--kpageflags", row["inputs"]["kpageflags"]]
    for m in row["inputs"]["maps"]:
        args += ["--map", m]
    acode, aout, _ = run(*args)
    single = json.loads(aout)
    assert acode == code == 0
    for key in ("path", "error", "exit_code", "inputs"):
        row.pop(key)
    single.pop("path", None)
    assert row == single


def test_stem_sidecars_and_directory_walk(tmp_path: Path) -> None:
    pfns = np.arange(0x100, 0x300, dtype=np.uint64)
    forge(ForgeSpec(pfns=pfns, compression="lzo"), tmp_path / "host1.img")
    forge(ForgeSpec(pfns=pfns, compression="lz4"), tmp_path / "host2.img")
    shutil.copy(SAMPLES / "forged-seed-2004" / "dmesg.txt", tmp_path / "host1.dmesg")
    (tmp_path / "notes.txt").write_text("not an image\n")
    jobs = batch.plan([str(tmp_path)])
    assert [Path(j.image).name for j in jobs] == ["host1.img", "host2.img"]
    assert jobs[0].maps == (str(tmp_path / "host1.dmesg"),)
    assert jobs[1].maps == ()


def test_manifest_csv_and_jsonl(tmp_path: Path) -> None:
    pfns = np.arange(0x100, 0x200, dtype=np.uint64)
    forge(ForgeSpec(pfns=pfns, compression="lzo"), tmp_path / "a.img")
    shutil.copy(SAMPLES / "forged-seed-2004" / "dmesg.txt", tmp_path / "a.dmesg.txt")
    (tmp_path / "m.csv").write_text("image,map,kpageflags,system_map\na.img,a.dmesg.txt,,\n")
    (tmp_path / "m.jsonl").write_text(json.dumps({"image": "a.img", "map": ["a.dmesg.txt"]}) + "\n")
    for name in ("m.csv", "m.jsonl"):
        jobs = batch.read_manifest(str(tmp_path / name))
        assert len(jobs) == 1
        assert jobs[0].image == str(tmp_path / "a.img")
        assert jobs[0].maps == (str(tmp_path / "a.dmesg.txt"),)
    code, out, _ = run("batch", "--jsonl", "--manifest", str(tmp_path / "m.csv"))
    row = json.loads(out)
    assert row["map"]["source"] == str(tmp_path / "a.dmesg.txt")
    assert code == row["exit_code"]


def test_bad_manifest_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,map\nx,y\n")
    code, out, err = run("batch", "--manifest", str(tmp_path / "m.csv"))
    assert code == 2 and out == ""
    assert "m.csv:1" in err and len(err.splitlines()) == 1


def test_table_output_names_every_row(mixed: list[Path]) -> None:
    code, out, _ = run("batch", "--no-color", "--jobs", "1", *map(str, mixed[1:3]))
    assert code == 2
    assert "ERROR" in out and "plain swap area" in out


_real_run_job = batch.runner.run_job


def _dying_run_job(job: batch.BatchJob) -> batch.BatchRow:
    if "die" in Path(job.image).name:
        os._exit(3)  # a worker killed mid-audit (out of memory, a native crash)
    return _real_run_job(job)


def test_a_dying_worker_is_a_row_not_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pfns = np.arange(0x100, 0x200, dtype=np.uint64)
    names = ["a.img", "die.img", "c.img", "d.img"]
    for name in names:
        forge(ForgeSpec(pfns=pfns, compression="lzo"), tmp_path / name)
    monkeypatch.setattr(batch.runner, "run_job", _dying_run_job)
    jobs = [batch.BatchJob(str(tmp_path / n)) for n in names]
    rows = list(batch.run(jobs, workers=2))
    assert [Path(r.path).name for r in rows] == names
    assert rows[1].exit_code == 2 and "died" in (rows[1].error or "")
    assert [r.exit_code for r in rows if r is not rows[1]] == [0, 0, 0]


def test_passphrase_applies_to_encrypted_images_and_stays_out_of_the_rows() -> None:
    d = SAMPLES / "forged-uswsusp"  # its README gives the passphrase
    code, out, _ = run("batch", "--jsonl", "--jobs", "1", str(d))
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert "passphrase" in rows["uswsusp-lzo-encrypted.img.xz"]["error"]
    assert code == 2
    code, out, _ = run("batch", "--jsonl", "--jobs", "1", "--passphrase", "hibernate me", str(d))
    assert code == 0
    assert "hibernate me" not in out
    assert all(json.loads(line)["error"] is None for line in out.splitlines())


def test_page_offset_from_the_option_and_per_manifest_row(tmp_path: Path) -> None:
    """Old eras name pages by virtual address.  Without a page near the start of the direct
    map the reader can only assume the tightest i386 PAGE_OFFSET below the lowest address."""
    from swsusp_inspect.forge.legacy import LegacySpec, forge_legacy

    # a: VMSPLIT_2G (0x78000000), pages at 1 GiB: lowest address 0xb8000000, which the tightest
    # fit reads as VMSPLIT_3G_OPT (0xb0000000); b: VMSPLIT_1G (0x40000000), pages at 512 MiB
    specs = {"a.img": (0x78000000, 0x40000), "b.img": (0x40000000, 0x20000)}
    for name, (po, first) in specs.items():
        forge_legacy(
            LegacySpec(
                "pbe",
                word_size=4,
                page_offset=po,
                pfns=np.arange(first, first + 16, dtype=np.uint64),
            ),
            tmp_path / name,
        )

    def rows_of(*args: str) -> tuple[int, list[dict]]:
        code, out, _ = run("batch", "--jsonl", "--jobs", "1", *args)
        return code, [json.loads(line) for line in out.splitlines()]

    def pfns(row: dict) -> tuple[int, int]:
        return row["image"]["pfn_min"], row["image"]["pfn_max"]

    a, b = str(tmp_path / "a.img"), str(tmp_path / "b.img")
    _, (row,) = rows_of(a)
    wrong = (0x78000000 + (0x40000 << 12) - 0xB0000000) >> 12  # PA read with 0xb0000000
    assert row["error"] is None and pfns(row) == (wrong, wrong + 15)
    assert "page_offset" not in row["inputs"]
    # one value for every image
    _, (row,) = rows_of("--page-offset", "0x78000000", a)
    assert row["error"] is None and pfns(row) == (0x40000, 0x4000F)
    assert row["inputs"]["page_offset"] == 0x78000000
    code, (row,) = rows_of("--page-offset", "0xc0000000", b)
    assert code == 2 and "direct map" in row["error"] and "0xc0000000" in row["error"]
    # per image from the manifest (hex or decimal), winning over --page-offset
    (tmp_path / "m.csv").write_text(
        f"image,map,kpageflags,system_map,page_offset\na.img,,,,0x78000000\nb.img,,,,{0x40000000}\n"
    )
    code, rows = rows_of("--page-offset", "0xc0000000", "--manifest", str(tmp_path / "m.csv"))
    assert [r["error"] for r in rows] == [None, None]
    assert [pfns(r) for r in rows] == [(0x40000, 0x4000F), (0x20000, 0x2000F)]
    assert [r["inputs"]["page_offset"] for r in rows] == [0x78000000, 0x40000000]
    (tmp_path / "bad.jsonl").write_text(json.dumps({"image": "a.img", "page_offset": "0xzz"}))
    code, out, err = run("batch", "--manifest", str(tmp_path / "bad.jsonl"))
    assert code == 2 and out == ""
    assert err.strip().endswith(
        "manifest: page_offset '0xzz' is not a non-negative number (decimal or 0x...)"
    )
    assert "bad.jsonl:1" in err and len(err.splitlines()) == 1
