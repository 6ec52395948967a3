"""`swsusp-inspect IMAGE` / `swsusp-inspect audit IMAGE` through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import forge_to

from swsusp_inspect.cli import cli
from swsusp_inspect.image import open_image

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SEED = SAMPLES / "forged-seed-2004"
REAL = SAMPLES / "deb13-6.12-lz4"
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|38;)[0-9;]*m")


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def real_args(*extra: str) -> list[str]:
    return [
        str(REAL / "swap.img.xz"),
        "--map",
        str(REAL / "dmesg.txt"),
        "--kpageflags",
        str(REAL / "kpageflags.bin.xz"),
        *extra,
    ]


def test_default_command_is_audit_and_real_sample_exits_0() -> None:
    r = invoke(*real_args("--no-color"))
    assert r.exit_code == 0, r.output
    for part in (
        "swsusp audit",
        "Saved pages by label",
        "Physical memory",
        "saved-reserved-ram",
        "OK: no unsafe saves",
    ):
        assert part in r.stdout
    a = invoke(*real_args("--json"))
    b = invoke("audit", *real_args("--json"))
    assert a.exit_code == b.exit_code == 0
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_json_is_all_of_stdout_and_carries_the_numbers() -> None:
    r = invoke("audit", *real_args("--json"))
    assert r.exit_code == 0
    doc = json.loads(r.stdout)  # nothing but one JSON document on stdout
    assert doc["schema_version"] == 1
    with open_image(REAL / "swap.img.xz") as img:
        saved = img.pagedir.saved_pfns
    labels = doc["labels"]
    assert sum(labels.values()) == saved == doc["image"]["saved_pfns"] == doc["pfns"]["saved"]
    assert labels["reserved-non-ram"] == labels["nosave"] == doc["unsafe_pages"] == 0
    assert labels["reserved-ram"] > 0
    assert doc["map"]["checksum_matches_image"] is True
    assert doc["map"]["format"] == "dmesg"
    assert [f["code"] for f in doc["findings"]] == ["saved-reserved-ram"]


def test_seed_scenario_exits_1_with_its_ranges() -> None:
    r = invoke(SEED / "swap.img.xz", "--map", SEED / "dmesg.txt", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    (f,) = doc["findings"]
    assert f["code"] == "saved-non-ram" and f["severity"] == "error" and f["pages"] == 352
    assert [(x["start_pfn"], x["end_pfn"]) for x in f["ranges"]] == [
        (0xA0, 0xE5),
        (0xE6, 0xFF),
        (0xE0000, 0xE00FF),
    ]
    text = invoke("audit", SEED / "swap.img.xz", "--map", SEED / "dmesg.txt", "--no-color")
    assert text.exit_code == 1
    assert "saved-non-ram" in text.stdout and "UNSAFE" in text.stdout
    assert "0xe0000-0xe00ff" in text.stdout


def test_csv_one_row_per_run() -> None:
    r = invoke(SEED / "swap.img.xz", "--map", SEED / "dmesg.txt", "--csv")
    assert r.exit_code == 1
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["start_pfn", "end_pfn", "pages", "label", "region", "type"]
    body = rows[1:]
    with open_image(SEED / "swap.img.xz") as img:
        pfns = np.sort(img.pagedir.pfns)
    assert sum(int(x[2]) for x in body) == pfns.size
    for start, end, pages, *_ in body:  # each row is a contiguous run of saved PFNs
        inside = pfns[(pfns >= int(start)) & (pfns <= int(end))]
        assert inside.size == int(pages) == int(end) - int(start) + 1
    bad = [(int(a), int(b), reg, t) for a, b, _, lab, reg, t in body if lab == "reserved-non-ram"]
    assert bad == [
        (0xA0, 0xE5, "hole 0xa0000-0xe5fff", ""),
        (0xE6, 0xFF, "reserved 0xe6000-0xfffff", "2"),
        (0xE0000, 0xE00FF, "hole 0xc0000000-0xff77ffff", ""),
    ]


def test_without_map_header_and_hint_exit_0(tmp_path: Path) -> None:
    # a forged image holds no kernel memory to take a map from: no labels, a hint
    f = forge_to(tmp_path, "img")
    r = invoke(f.path, "--no-color")
    assert r.exit_code == 0
    assert "labels need --map" in r.stdout and "Physical memory" not in r.stdout
    doc = json.loads(invoke(f.path, "--json").stdout)
    assert doc["labels"] is None and doc["map"] is None and doc["findings"] == []
    assert doc["image"]["memory"]["osrelease"] is None and doc["image"]["memory"]["errors"]


def test_a_real_image_alone_is_labelled_from_its_own_memory() -> None:
    """No input but the image: the map, nosave list and reserved-RAM evidence the image's own
    kernel held give the labels the boot log and kpageflags give."""
    alone = json.loads(invoke(REAL / "swap.img.xz", "--json").stdout)
    given = json.loads(
        invoke(
            REAL / "swap.img.xz",
            "--json",
            "--map",
            REAL / "dmesg.txt",
            "--kpageflags",
            REAL / "kpageflags.bin.xz",
        ).stdout
    )
    assert alone["labels"] == given["labels"]
    assert alone["map"]["format"] == "image" and alone["map"]["checksum_matches_image"] is True
    assert alone["evidence"]["reserved-ram"]["source"] == "image"
    assert alone["evidence"]["nosave"][0]["source"] == "image"
    assert [f["code"] for f in alone["findings"]] == ["map-from-image", "saved-reserved-ram"]
    # the inputs given agree with what the image holds: no disagreement finding
    assert not [f for f in given["findings"] if f["code"].endswith("-from-image")]


def test_strict_turns_warnings_into_exit_1(tmp_path: Path) -> None:
    # the real log plus one entry far above RAM: labels unchanged, checksum no longer matches
    dmesg = (REAL / "dmesg.txt").read_text()
    extra = "[    0.000000] BIOS-e820: [mem 0x0000010000000000-0x0000010000000fff] reserved\n"
    last = dmesg.rindex("BIOS-e820:")  # after the last entry: the table stays ascending
    line_end = dmesg.index("\n", last) + 1
    altered = tmp_path / "dmesg.txt"
    altered.write_text(dmesg[:line_end] + extra + dmesg[line_end:])
    args = [REAL / "swap.img.xz", "--map", altered, "--json"]
    r = invoke(*args)
    assert r.exit_code == 0
    assert "map-checksum-mismatch" in [f["code"] for f in json.loads(r.stdout)["findings"]]
    assert invoke(*args, "--strict").exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ("/nonexistent/swap.img",),
        (str(REAL / "swap.img.xz"), "--json", "--csv"),
        (str(REAL / "swap.img.xz"), "--map", "/nonexistent/dmesg.txt"),
        (str(REAL / "swap.img.xz"), "--nosave-rules", "2030"),
    ],
)
def test_bad_input_or_usage_exits_2(args: tuple[str, ...]) -> None:
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert r.stdout == "" or "Usage" in r.output


def test_bad_kpageflags_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "kpf"
    bad.write_bytes(b"\0" * 12)
    r = invoke(*real_args()[:3], "--kpageflags", bad)
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and "kpageflags" in r.stderr and "0xc" in r.stderr


def test_verify_and_resume_offset(tmp_path: Path) -> None:
    f = forge_to(
        tmp_path,
        "img",
        pfns=np.arange(0x100, 0x140, dtype=np.uint64),
        resume_offset=3,
        crc32_override=0xDEADBEEF,
    )
    assert invoke(f.path, "--resume-offset", "3", "--json").exit_code == 0
    r = invoke(f.path, "--resume-offset", "3", "--verify", "--json")
    assert r.exit_code == 1
    assert [x["code"] for x in json.loads(r.stdout)["findings"]] == ["crc32-mismatch"]
    assert invoke(f.path, "--json").exit_code == 2  # no image at page 0


def test_colour_follows_no_color() -> None:
    args = [SEED / "swap.img.xz", "--map", SEED / "dmesg.txt"]
    forced = invoke(*args, env={"FORCE_COLOR": "1"})
    assert COLOUR.search(forced.stdout)
    assert not COLOUR.search(invoke(*args, "--no-color", env={"FORCE_COLOR": "1"}).stdout)
    assert not COLOUR.search(invoke(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout)
