"""``swsusp-inspect map`` and ``map diff`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from swsusp_inspect.cli import cli

DATA = Path(__file__).parent.parent / "data"
REAL = DATA / "realworld"
MAPS = DATA / "maps"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["map", *args])
    return result.exit_code, result.stdout, result.stderr


def test_map_table() -> None:
    code, out, _ = run(str(REAL / "lkml-2017-precision5810-2.dmesg.txt"))
    assert code == 0
    assert "0x000000009a29e000" in out and "ACPI data" in out
    assert "crc32" in out and "pre-2025" in out


def test_map_json_is_pure_json_with_integers() -> None:
    code, out, _ = run("--json", str(REAL / "lkml-2017-precision5810-2.dmesg.txt"))
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1
    assert doc["format"] == "dmesg"
    # "BIOS-e820: [mem 0x000000009a29e000-0x000000009a2e6fff] ACPI data"
    acpi = {"start": 0x9A29E000, "end": 0x9A2E6FFF, "type": 3, "name": "ACPI data"}
    assert acpi in doc["entries"]
    assert isinstance(doc["checksum"]["crc32"], int)
    assert doc["nosave_source"] == "log"
    # "PM: Registered nosave memory: [mem 0x00000000-0x00000fff]"
    assert doc["nosave"][0] == {"start_pfn": 0, "end_pfn": 0}
    assert doc["modified"] is not None


def test_map_options_after_file_and_format() -> None:
    code, out, _ = run(str(MAPS / "journald-two-boots.dmesg.txt"), "--boot", "1", "--json")
    assert code == 0
    assert json.loads(out)["boot"] == {"index": 1, "count": 2, "reason": "--boot 1"}
    code, _, err = run(str(REAL / "avml-1.iomem.txt"), "--map-format", "dmesg")
    assert code == 2 and "no memory map" in err


def test_map_bad_input_one_line_exit_2() -> None:
    code, out, err = run(str(MAPS / "bad-overflow.dmesg.txt"))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"{MAPS / 'bad-overflow.dmesg.txt'}:2:" in err
    assert "Traceback" not in err


def test_diff_exit_codes() -> None:
    same = str(REAL / "lkml-2017-precision5810-2.dmesg.txt")
    code, out, _ = run("diff", same, same)
    assert code == 0 and "checksum unchanged" in out
    code, out, _ = run(
        "diff", str(MAPS / "acpi-slide-before.dmesg.txt"), str(MAPS / "acpi-slide-after.dmesg.txt")
    )
    assert code == 1
    assert "ACPI data moved down 14 pages" in out
    code, _, err = run("diff", same, str(MAPS / "bad-nomap.txt"))
    assert code == 2 and "bad-nomap.txt:1:" in err


def test_diff_json() -> None:
    code, out, _ = run(
        "diff",
        "--json",
        str(MAPS / "acpi-slide-before.dmesg.txt"),
        str(MAPS / "acpi-slide-after.dmesg.txt"),
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["checksum_changed"] is True
    kinds = {c["kind"] for c in doc["changes"]}
    assert kinds == {"moved", "resized"}
    moved = [c for c in doc["changes"] if c["kind"] == "moved"]
    # reserved 0x87def2000 -> 0x87dee4000 and ACPI data 0x87def3000 -> 0x87dee5000
    assert sorted((c["old"]["start"], c["new"]["start"]) for c in moved) == [
        (0x87DEF2000, 0x87DEE4000),
        (0x87DEF3000, 0x87DEE5000),
    ]


def test_help() -> None:
    result = CliRunner().invoke(cli, ["map", "--help"])
    assert result.exit_code == 0 and "diff" in result.output
