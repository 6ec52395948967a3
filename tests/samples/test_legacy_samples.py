"""The committed forged legacy samples (samples/forged-legacy): one per era, read by content.

The seed scenario in its own era: the 2.4 image saved the VGA/ROM/BIOS area 0xA0000-0xFFFFF
(the 2.4 swsusp patch saved every reserved page of mem_map); ``audit`` with the machine's e820
map, as 2.4 printed it, flags exactly those pages and exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from swsusp_inspect.formats import legacy as lg
from swsusp_inspect.image import open_image
from swsusp_inspect.model import to_data

ROOT = Path(__file__).resolve().parents[2] / "samples" / "forged-legacy"

SAMPLES = {
    "2.4.19-susp2r-i386": (lg.ERA_LINK_PATCH, 4, "2.4.19"),
    "2.6.5-s2susp-x86_64": (lg.ERA_LINK_26, 8, "2.6.5"),
    "2.6.6-pmdisk-i386": (lg.ERA_PMDISK, 4, "2.6.6"),
    "2.6.12-pbe-x86_64": (lg.ERA_PBE, 8, "2.6.12"),
    "2.6.15-aes-i386": (lg.ERA_PBE_AES, 4, "2.6.15"),
    "2.6.16-swapmap-x86_64": (lg.ERA_2616, 8, "2.6.16"),
    "2.6.18-swapmap-va-x86_64": (lg.ERA_2617_VA, 8, "2.6.18"),
    "2.6.19-swapmap-pfn-i386": (lg.ERA_2619, 4, "2.6.19"),
}


def sample(name: str) -> str:
    return str(ROOT / name / "swap.img.xz")


def test_every_sample_is_listed() -> None:
    assert sorted(p.name for p in ROOT.iterdir() if p.is_dir()) == sorted(SAMPLES)
    for name in SAMPLES:
        assert (ROOT / name / "swap.img.xz").stat().st_size < 100_000


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_info_verify_audit(name: str) -> None:
    era, word, release = SAMPLES[name]
    r = run_cli("info", "--json", sample(name))
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["era"], doc["word_size"], doc["compression"]) == (era, word, "none")
    assert doc["details"]["release_from_version_code"] == release
    # linux_banner, found in the saved pages at the physical address its PFN says
    assert doc["kernel"]["release"] == f"{release}-forged"
    assert doc["kernel"]["physical_address"] == 0x180100
    r = run_cli("verify", "--json", sample(name))
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["verify_ok"] is True
    assert run_cli("audit", sample(name)).exit_code == 0


@pytest.mark.slow  # a sparse file up to the highest saved address, hashed whole, per era
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_extract_places_pages_at_physical_addresses(name: str, tmp_path: Path) -> None:
    out = tmp_path / "phys.raw"
    assert run_cli("extract", "-o", str(out), sample(name)).exit_code == 0
    with open_image(sample(name)) as img:
        pfns = img.pagedir.pfns
    assert out.stat().st_size == (int(pfns.max()) + 1) * 4096  # sparse: read it by seeking
    with out.open("rb") as f:
        for pfn in pfns[:: max(1, pfns.size // 50)].tolist():
            f.seek(pfn * 4096)
            assert f.read(32) == f"forged page pfn {pfn:#010x}".encode().ljust(32, b".")


def test_seed_scenario_in_its_era() -> None:
    name = "2.4.19-susp2r-i386"
    r = run_cli("audit", "--json", sample(name), "--map", str(ROOT / name / "dmesg.txt"))
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    by_code = {f["code"]: f for f in doc["findings"]}
    non_ram = by_code["saved-non-ram"]
    assert non_ram["pages"] == 0x100 - 0xA0
    ranges = [(x["start_pfn"], x["end_pfn"]) for x in non_ram["ranges"]]
    assert ranges == [(0xA0, 0xDF), (0xE0, 0xFF)]  # hole, then the reserved BIOS area
    assert by_code["saved-partly-ram"]["pages"] == 1  # 0x9f: 0x9f000-0x9fbff RAM, then EBDA
    assert doc["unsafe_pages"] == 0x60


def test_aes_sample_key_in_clear() -> None:
    with open_image(sample("2.6.15-aes-i386")) as img:
        enc = to_data(img.details.encryption)
        assert enc["key_iv_offset"] == 0xFA8
        assert len(bytes.fromhex(enc["key"])) == 32 and len(bytes.fromhex(enc["iv"])) == 16
        assert img.details.highmem.highmem_pfns == 0x60000 - 0x38000
        page = img.read_page(0x180)
        assert page.startswith(b"forged page pfn 0x00000180")
        assert b"Linux version 2.6.15-forged" in page


def test_x86_64_samples_page_offsets() -> None:
    want = {"2.6.5-s2susp-x86_64": 1 << 40, "2.6.12-pbe-x86_64": 0xFFFF810000000000,
            "2.6.16-swapmap-x86_64": 0xFFFF810000000000}
    for name, po in want.items():
        with open_image(sample(name)) as img:
            assert img.details.page_offset == po
            assert np.all(img.pagedir.pfns < 0x40000)
