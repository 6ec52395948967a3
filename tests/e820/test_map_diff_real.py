"""`map diff` on two real captures of one boot: Xen's firmware view and dom0's.

tests/data/realworld/PROVENANCE.md: the dom0 map "merges 9ec00-a0000 and e0000-100000 into one
reserved 9ec00-fffff, leaves a hole at 9e000-9ebff, and adds IOAPIC and LAPIC pages".
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from swsusp_inspect.cli import cli

RW = Path(__file__).resolve().parents[1] / "data" / "realworld"
OLD = RW / "xendevel-2013-msi-h61-1.dmesg.txt"
NEW = RW / "xendevel-2013-msi-h61-2.dmesg.txt"


def test_real_pair_in_words_and_json() -> None:
    r = CliRunner().invoke(cli, ["map", "diff", "--json", str(OLD), str(NEW)])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["checksum_changed"] is True
    by_kind: dict[str, list[dict]] = {}
    for c in doc["changes"]:
        by_kind.setdefault(c["kind"], []).append(c)
    # the reserved region below 1 MiB now runs to 0xfffff (merged with e0000-fffff)
    grown = [c for c in by_kind["resized"] if c["new"]["name"] == "reserved"]
    assert grown and grown[0]["new"]["start"] == 0x9EC00 and grown[0]["new"]["end"] == 0xFFFFF
    # RAM below 1 MiB ends at 0x9dfff: the hole at 9e000-9ebff
    ram = [c for c in by_kind["resized"] if c["new"]["name"] == "usable"]
    assert ram and ram[0]["new"]["end"] == 0x9DFFF
    # e0000-fffff no longer a region of its own; IOAPIC 0xfec00000 and LAPIC 0xfee00000 added
    assert any(c["old"]["start"] == 0xE0000 for c in by_kind["removed"])
    assert {c["new"]["start"] for c in by_kind["added"]} >= {0xFEC00000, 0xFEE00000}
    for c in doc["changes"]:
        assert c["text"]  # every change in words too
    words = CliRunner().invoke(cli, ["map", "diff", "--no-color", str(OLD), str(NEW)]).stdout
    assert "resume would refuse an image written on the other map" in " ".join(words.split())
