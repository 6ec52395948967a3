"""`info --map`: is this memory map the one the image was made with? (e820 checksum)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SAMPLES as ALL_SAMPLES
from helpers import provenance, real_samples, sample_params

from swsusp_inspect.cli import cli
from swsusp_inspect.model.summary import INCONSISTENT_MAP

ROOT = Path(__file__).resolve().parents[2]
# x86 samples: the image carries the e820 checksum (arm64 has no e820; see test_audit_samples)
SAMPLES = [ALL_SAMPLES / n for n in real_samples() if provenance(n)["arch"] != "arm64"]
# a different machine's firmware map, from a public bug report (tests/data/realworld/)
OTHER = ROOT / "tests" / "data" / "realworld" / "lkml-2017-precision5810-2.dmesg.txt"


def env(sample: Path) -> dict[str, str]:
    """An encrypted s2disk sample's passphrase (its provenance has it), as users pass it."""
    pp = provenance(sample.name).get("passphrase")
    return {"SWSUSP_INSPECT_PASSPHRASE": pp} if pp else {}


def info(*args: str) -> tuple[int, dict, str]:
    r = CliRunner(env=env(Path(args[0]).parent)).invoke(cli, ["info", "--json", *args])
    return r.exit_code, (json.loads(r.stdout) if r.stdout else {}), r.stderr


@pytest.mark.parametrize("sample", sample_params(SAMPLES, [p.name for p in SAMPLES]))
def test_own_dmesg_matches(sample: Path) -> None:
    code, doc, _ = info(str(sample / "swap.img.xz"), "--map", str(sample / "dmesg.txt"))
    assert code == 0
    (check,) = doc["maps"]
    assert check["checksum_matches_image"] is True
    assert check["kind"] == "crc32"
    assert check["map_value"] == check["image_value"] == doc["arch"]["e820_checksum"]


@pytest.mark.parametrize("sample", sample_params(SAMPLES, [p.name for p in SAMPLES]))
def test_other_machines_map_mismatches_with_explanation(sample: Path) -> None:
    code, doc, _ = info(str(sample / "swap.img.xz"), "--map", str(OTHER))
    assert code == 0
    (check,) = doc["maps"]
    assert check["checksum_matches_image"] is False
    assert INCONSISTENT_MAP in check["explanation"]
    r = CliRunner(env=env(sample)).invoke(
        cli, ["info", "--no-color", str(sample / "swap.img.xz"), "--map", str(OTHER)]
    )
    words = " ".join(r.stdout.replace("│", " ").split())  # the panel's borders out
    assert "refuse to resume on this map" in words
    assert "Hibernate inconsistent memory map detected!" in words


@pytest.mark.parametrize("sample", sample_params(SAMPLES, [p.name for p in SAMPLES]))
def test_sysfs_memmap_gives_the_same_checksum(sample: Path) -> None:
    code, doc, _ = info(str(sample / "swap.img.xz"), "--map", str(sample / "memmap.txt"))
    assert code == 0
    assert doc["maps"][0]["checksum_matches_image"] is True
