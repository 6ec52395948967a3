"""Logs of several boots (the boot that wrote the image chosen by its e820 checksum, `--boot`
wherever a map is read) and one checksum verdict for `info`, `audit` and `map diff`."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swsusp_inspect.cli import cli

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "samples" / "deb12-6.1-lzo"
OTHER = ROOT / "samples" / "sid-7-lzo"
IMAGE = str(REAL / "swap.img.xz")


def _json(*args: str, code: int = 0) -> dict[str, Any]:
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def _table_crc(log: Path) -> int:
    """The kernel's e820 CRC32 of a log's BIOS-e820 table, computed here from the text:
    u32 nr_entries + packed <QQI (addr, size, type) entries (arch/x86/power/hibernate.c)."""
    import re
    import struct

    types = {"usable": 1, "reserved": 2, "ACPI data": 3, "ACPI NVS": 4}
    entries = [
        (int(a, 16), int(b, 16) - int(a, 16) + 1, types[t])
        for a, b, t in re.findall(
            r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (usable|reserved|ACPI data|ACPI NVS)",
            log.read_text(),
        )
    ]
    return zlib.crc32(
        struct.pack("<I", len(entries)) + b"".join(struct.pack("<QQI", *e) for e in entries)
    )


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("logs")
    right, other = (REAL / "console.log").read_text(), (OTHER / "console.log").read_text()
    (d / "first.log").write_text(right + other)  # the image's boot, then another machine's
    (d / "middle.log").write_text(other + right + other)
    (d / "none.log").write_text(other + other)  # no boot of the image's machine
    return {p.stem: p for p in d.iterdir()}


def test_checksums_computed_here_tell_the_boots_apart() -> None:
    image_crc = _json("info", IMAGE)["arch"]["e820_checksum"]
    assert _table_crc(REAL / "console.log") == image_crc != _table_crc(OTHER / "console.log")


@pytest.mark.parametrize(("log", "boot", "count"), [("first", 1, 2), ("middle", 2, 3)])
def test_info_and_audit_read_the_boot_with_the_images_checksum(
    logs: dict[str, Path], log: str, boot: int, count: int
) -> None:
    crc = _table_crc(REAL / "console.log")
    (check,) = _json("info", IMAGE, "--map", str(logs[log]))["maps"]
    assert (check["boot"]["index"], check["boot"]["count"]) == (boot, count)
    assert f"e820 crc32 {crc:#x}" in check["boot"]["reason"]
    assert check["checksum_verdict"] == "match" and check["map_value"] == crc
    audit = _json("audit", IMAGE, "--map", str(logs[log]))
    assert audit["map"]["inputs"][0]["boot"] == check["boot"]
    assert audit["map"]["checksum_verdict"] == "match"
    assert not [f for f in audit["findings"] if f["code"].startswith("map-checksum")]


def test_no_matching_boot_reads_the_last_and_says_why(logs: dict[str, Path]) -> None:
    (check,) = _json("info", IMAGE, "--map", str(logs["none"]))["maps"]
    assert (check["boot"]["index"], check["boot"]["count"]) == (2, 2)
    assert check["boot"]["reason"].startswith("no boot's firmware table has the image's")
    assert check["checksum_verdict"] == "mismatch"
    audit = _json("audit", IMAGE, "--map", str(logs["none"]))
    assert "map-checksum-mismatch" in [f["code"] for f in audit["findings"]]


def test_boot_option_wherever_a_map_is_read(logs: dict[str, Path]) -> None:
    (check,) = _json("info", IMAGE, "--map", str(logs["first"]), "--boot", "2")["maps"]
    assert check["boot"] == {"index": 2, "count": 2, "reason": "--boot 2"}
    assert check["checksum_verdict"] == "mismatch"
    audit = _json("audit", IMAGE, "--map", str(logs["first"]), "--boot", "-1")
    assert audit["map"]["inputs"][0]["boot"]["index"] == 2
    d = _json(
        "map",
        "diff",
        str(logs["first"]),
        str(logs["first"]),
        "--old-boot",
        "1",
        "--new-boot",
        "2",
        code=1,
    )
    assert (
        d["checksum_verdict"] == "mismatch" and d["checksum"]["old_crc32"] == check["image_value"]
    )
    rows = (
        CliRunner()
        .invoke(cli, ["batch", "--jsonl", "--map", str(logs["first"]), "--boot", "2", IMAGE])
        .stdout
    )
    assert json.loads(rows)["map"]["inputs"][0]["boot"]["reason"] == "--boot 2"


@pytest.mark.parametrize(
    ("name", "verdict"),
    [("dmesg.txt", "match"), ("iomem.txt", "unverifiable"), ("other", "mismatch")],
)
def test_one_verdict_in_info_audit_and_map_diff(name: str, verdict: str) -> None:
    path = str(OTHER / "dmesg.txt") if name == "other" else str(REAL / name)
    info = _json("info", IMAGE, "--map", path)["maps"][0]
    audit = _json("audit", IMAGE, "--map", path)["map"]
    diff = _json("map", "diff", str(REAL / "dmesg.txt"), path, code=0 if verdict == "match" else 1)
    assert (
        info["checksum_verdict"] == audit["checksum_verdict"] == diff["checksum_verdict"] == verdict
    )
    words = {
        "match": "equals|unchanged",
        "mismatch": "refuse",
        "unverifiable": "not the firmware table",
    }
    texts = [
        CliRunner().invoke(cli, args, terminal_width=200).stdout
        for args in (
            ["info", "--no-color", IMAGE, "--map", path],
            ["audit", "--no-color", IMAGE, "--map", path],
            ["map", "diff", "--no-color", str(REAL / "dmesg.txt"), path],
        )
    ]
    for t in texts:
        assert any(w in " ".join(t.split()) for w in words[verdict].split("|"))
    if verdict == "unverifiable":  # nobody says resume would refuse the image
        assert all("refuse" not in t for t in texts)
        assert info["checksum_matches_image"] is None and diff["checksum_changed"] is None
