"""`batch` over folders shaped like a user's: images beside archives, kernel configs, logs and
notes; maps found by the names users give them; rows without a map that say so; `--json`,
`--db`; a layout that reads at 80 columns."""

from __future__ import annotations

import gzip
import io
import json
import lzma
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swsusp_inspect import batch
from swsusp_inspect.batch.db import SCHEMA
from swsusp_inspect.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
REAL = SAMPLES / "deb12-6.1-lzo"  # a 6.1 image, e820 crc32 in its restore record
OTHER = SAMPLES / "sid-7-lzo"  # another guest: 256 MiB more RAM, another firmware table
SEED = SAMPLES / "forged-seed-2004"


def _xz(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ)


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return _xz(buf.getvalue())


def two_boot_log() -> str:
    """A console capture of two boots: the boot that wrote REAL's image, then another
    machine's (so the last boot is the wrong one)."""
    return (REAL / "console.log").read_text() + (OTHER / "console.log").read_text()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evidence")
    a = root / "case-a"  # a real image beside an evidence archive, its config and a log
    a.mkdir()
    (a / "swap.img.xz").symlink_to(REAL / "swap.img.xz")
    (a / "console.log").write_text(two_boot_log())
    (a / "evidence.tar.xz").write_bytes(
        _tar_xz({"notes.txt": b"taken 2026-11-30\n", "swap.img": bytes(8192)})
    )
    (a / "config.xz").write_bytes(_xz(b"CONFIG_HIBERNATION=y\nCONFIG_SWAP=y\n" * 200))
    (a / "notes.txt").write_text("chain of custody: ...\n")
    b = root / "case-b"  # the forged 2004 scenario, its map named map.dmesg
    b.mkdir()
    (b / "host1.img.xz").symlink_to(SEED / "swap.img.xz")
    (b / "map.dmesg").write_text((SEED / "dmesg.txt").read_text())
    (b / "config-2.6.9.gz").write_bytes(gzip.compress(b"CONFIG_SOFTWARE_SUSPEND=y\n"))
    c = root / "case-c"  # two images share a directory and a log: whose boot is whose?
    c.mkdir()
    (c / "a.img.xz").symlink_to(SAMPLES / "forged-uswsusp" / "uswsusp-lzo.img.xz")
    (c / "b.img.xz").symlink_to(SAMPLES / "forged-legacy" / "2.6.12-pbe-x86_64" / "swap.img.xz")
    (c / "console.log").write_text((SEED / "dmesg.txt").read_text())
    page = bytearray(4096)
    page[4086:] = b"SWAPSPACE2"
    (c / "plain.swap").write_bytes(bytes(page) * 4)  # a swap area holding no image
    d = root / "case-d"  # a console.log that holds no memory map (capture started late)
    d.mkdir()
    legacy = SAMPLES / "forged-legacy" / "2.6.16-swapmap-x86_64"
    (d / "swap.img.xz").symlink_to(legacy / "swap.img.xz")
    (d / "console.log").write_text("[  12.000000] PM: hibernation: hibernation entry\n")
    return root


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def document(folder: Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = _run("batch", "--json", "--jobs", "1", str(folder))
    return code, json.loads(out)


def _rows(document: tuple[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {"/".join(Path(r["path"]).parts[-2:]): r for r in document[1]["images"]}


def test_only_images_are_rows_and_the_rest_is_counted(document: tuple[int, dict[str, Any]]) -> None:
    code, doc = document
    rows = _rows(document)
    assert sorted(rows) == [
        "case-a/swap.img.xz",
        "case-b/host1.img.xz",
        "case-c/a.img.xz",
        "case-c/b.img.xz",
        "case-d/swap.img.xz",
    ]
    assert all(r["error"] is None for r in rows.values())
    # evidence.tar.xz, config.xz, notes.txt, console.log (a); map.dmesg, config-2.6.9.gz (b);
    # console.log (c); console.log (d)
    assert doc["summary"]["skipped"] == {"not_images": 8, "plain_swap_areas": 1, "unreadable": 0}
    assert doc["summary"]["images"] == 5
    assert code == doc["summary"]["worst_exit_code"] == 1  # the seed scenario's unsafe saves


def test_a_log_of_two_boots_gives_the_boot_that_wrote_the_image(
    document: tuple[int, dict[str, Any]],
) -> None:
    row = _rows(document)["case-a/swap.img.xz"]
    assert row["inputs"]["map_source"] == "sidecar"
    assert [Path(m).name for m in row["inputs"]["maps"]] == ["console.log"]
    crc = row["image"]["arch"]["e820_checksum"]
    (used,) = row["map"]["inputs"]
    assert used["boot"]["index"] == 1 and used["boot"]["count"] == 2
    assert f"e820 crc32 {crc:#x}" in used["boot"]["reason"]
    assert row["map"]["checksum_verdict"] == "match"
    assert row["exit_code"] == 0 and row["unsafe_pages"] == 0
    # the last boot is another machine's: its firmware table hashes to something else
    code, out, _ = _run("map", str(Path(row["inputs"]["maps"][0])), "--boot", "2", "--json")
    assert code == 0 and json.loads(out)["checksum"]["crc32"] != crc


def test_map_named_like_users_name_it_finds_the_unsafe_saves(
    document: tuple[int, dict[str, Any]],
) -> None:
    row = _rows(document)["case-b/host1.img.xz"]
    assert [Path(m).name for m in row["inputs"]["maps"]] == ["map.dmesg"]
    code, out, _ = _run(
        "audit", str(SEED / "swap.img.xz"), "--map", str(SEED / "dmesg.txt"), "--json"
    )
    alone = json.loads(out)
    assert row["exit_code"] == code == 1
    assert row["unsafe_pages"] == alone["unsafe_pages"] == alone["labels"]["reserved-non-ram"]
    assert row["unsafe_pages"] > 0


def test_rows_without_a_map_say_so(document: tuple[int, dict[str, Any]]) -> None:
    rows = _rows(document)
    for name in ("case-c/a.img.xz", "case-c/b.img.xz"):
        assert rows[name]["map"] is None and rows[name]["labels"] is None
        assert rows[name]["inputs"]["map_source"] == "none"
    assert document[1]["summary"]["without_map"] == 3  # case-c's two and case-d's


def test_a_sidecar_that_is_no_map_is_left_out_not_an_error(
    document: tuple[int, dict[str, Any]],
) -> None:
    row = _rows(document)["case-d/swap.img.xz"]
    assert row["error"] is None and row["map"] is None and row["inputs"]["maps"] == []
    (ignored,) = row["inputs"]["ignored"]
    assert Path(ignored["file"]).name == "console.log" and "no memory map" in ignored["error"]


def test_jsonl_rows_are_the_json_documents_rows(
    folder: Path, document: tuple[int, dict[str, Any]]
) -> None:
    code, out, err = _run("batch", "--jsonl", "--jobs", "2", str(folder))
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        line.pop("schema_version")
    assert lines == document[1]["images"] and code == document[0]
    assert "8 files that are not images" in err and "without a memory map" in err


def test_db_holds_one_table_per_kind_of_row(
    folder: Path, tmp_path: Path, document: tuple[int, dict[str, Any]]
) -> None:
    db = tmp_path / "fleet.sqlite"
    for _ in range(2):  # a second run adds to the same database
        code, _, _ = _run("batch", "--db", str(db), "--jsonl", "--jobs", "1", str(folder))
        assert code == 1
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (2,)
    rows = con.execute(
        "SELECT path, exit_code, map_source, checksum_verdict, unsafe_pages, "
        "document FROM images WHERE run_id = 2 ORDER BY position"
    ).fetchall()
    assert [json.loads(r[5])["path"] for r in rows] == [r["path"] for r in document[1]["images"]]
    by_name = {"/".join(Path(r[0]).parts[-2:]): r for r in rows}
    seed = _rows(document)["case-b/host1.img.xz"]
    assert by_name["case-b/host1.img.xz"][1:5] == (1, "sidecar", "match", seed["unsafe_pages"])
    assert by_name["case-c/a.img.xz"][2:5] == ("none", None, None)
    ranges = con.execute(
        "SELECT r.start_pfn, r.end_pfn FROM ranges r JOIN findings f ON r.finding_id = f.id "
        "JOIN images i ON f.image_id = i.id WHERE i.run_id = 2 AND f.code = 'saved-non-ram'"
    ).fetchall()
    want = [
        (g["start_pfn"], g["end_pfn"])
        for f in seed["findings"]
        if f["code"] == "saved-non-ram"
        for g in f["ranges"]
    ]
    assert ranges == want and want
    assert con.execute("SELECT kind, note FROM inputs WHERE kind = 'ignored'").fetchall()[0][1]
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"runs", "images", "inputs", "findings", "ranges"}
    assert "CREATE TABLE IF NOT EXISTS images" in SCHEMA


def test_table_reads_at_80_columns(folder: Path, document: tuple[int, dict[str, Any]]) -> None:
    r = CliRunner().invoke(
        cli,
        ["batch", "--no-color", "--jobs", "1", str(folder)],
        env={"COLUMNS": "80"},
        terminal_width=80,
    )
    lines = r.stdout.splitlines()
    assert r.exit_code == 1
    assert max(len(line) for line in lines) <= 80 and "…" not in r.stdout
    base = str(folder)
    for row in document[1]["images"]:  # every path whole, relative to the folder
        rel = str(Path(row["path"]).relative_to(base))
        assert any(line.rstrip().endswith(f" {rel}") for line in lines), rel
    header = next(i for i, line in enumerate(lines) if line.startswith("#  verdict"))
    assert lines[0].startswith("5 images ") and f"{base}/" in "".join(lines[:header])
    assert "NONE" in r.stdout
    assert "3 audited without a memory map" in " ".join(r.stdout.split())
    assert "left out" in r.stdout and "console.log" in r.stdout


def test_the_plan_api_keeps_a_list(folder: Path) -> None:
    jobs = batch.plan([str(folder / "case-b")])
    assert [Path(j.image).name for j in jobs] == ["host1.img.xz"]
    assert jobs.skipped.not_images == 2 and jobs[0].map_source == "sidecar"


def test_long_paths_go_on_a_line_of_their_own(tmp_path: Path) -> None:
    deep = tmp_path / "customer-2026-11" / "laptop-with-a-long-asset-tag-0042" / "disk0"
    deep.mkdir(parents=True)
    (deep / "swap-partition-copy.img.xz").symlink_to(SEED / "swap.img.xz")
    (deep / "map.dmesg").write_text((SEED / "dmesg.txt").read_text())
    other = tmp_path / "customer-2026-11" / "x"
    other.mkdir()
    (other / "swap.img.xz").symlink_to(REAL / "swap.img.xz")
    r = CliRunner().invoke(
        cli, ["batch", "--no-color", "--jobs", "1", str(tmp_path)], terminal_width=80
    )
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in r.stdout
    # the title's folder (the rows' shared one) on lines of its own, the sentence whole
    header = next(i for i, line in enumerate(lines) if line.startswith("#  verdict"))
    assert lines[0] == "2 images (labels in pages) in"
    assert "".join(lines[1:header]) == f"{tmp_path / 'customer-2026-11'}/"
    rel = "laptop-with-a-long-asset-tag-0042/disk0/swap-partition-copy.img.xz"  # shared dir out
    assert any(line.strip() == rel for line in lines)  # whole, on its own line
    numbers = lines[lines.index(next(x for x in lines if x.strip() == rel)) + 1].split()
    assert numbers[:3] == ["1", "UNSAFE", "352"]


def test_the_schema_is_documented() -> None:
    assert SCHEMA in (ROOT / "docs" / "batch.md").read_text()


def test_manifest_boot_column(tmp_path: Path) -> None:
    (tmp_path / "two.log").write_text(two_boot_log())
    (tmp_path / "m.csv").write_text(
        f"image,map,boot\n{REAL / 'swap.img.xz'},two.log,2\n{REAL / 'swap.img.xz'},two.log,\n"
    )
    code, out, _ = _run("batch", "--jsonl", "--jobs", "1", "--manifest", str(tmp_path / "m.csv"))
    given, chosen = (json.loads(line) for line in out.splitlines())
    assert given["map"]["inputs"][0]["boot"]["reason"] == "--boot 2"
    assert given["map"]["checksum_verdict"] == "mismatch"
    assert chosen["map"]["inputs"][0]["boot"]["index"] == 1
    assert chosen["map"]["checksum_verdict"] == "match" and code == 0
    (tmp_path / "bad.csv").write_text("image,boot\nx.img,zero\n")
    code, out, err = _run("batch", "--manifest", str(tmp_path / "bad.csv"))
    assert code == 2 and "bad.csv:2" in err and "boot" in err
