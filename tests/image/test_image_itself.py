"""The image explains itself, through the CLI: `dmesg IMAGE`, `map IMAGE`, `map diff IMAGE LOG`,
`info`'s memory section, and the audit's checks of the inputs given against the image (the
kernel layer's own proofs on every sample are in tests/kernel/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import SAMPLES, forge_to, run_cli, sample_params

COMMITTED = ("deb12-6.1-lzo", "deb12-6.1-nocompress", "deb13-6.12-lz4")


def image(name: str) -> str:
    return str(SAMPLES / name / "swap.img.xz")


@pytest.mark.parametrize("name", sample_params(COMMITTED))
def test_dmesg_is_the_log_at_the_snapshot(name: str) -> None:
    r = run_cli("dmesg", image(name))
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    console = (SAMPLES / name / "console.log").read_text(errors="replace")
    assert lines[0].startswith("[    0.000000] Linux version ")
    # every line the kernel logged is on its serial console, word for word
    assert all(line in console for line in lines)
    # the snapshot was taken after "Need to copy N pages" (with the console's N) and before
    # "Image created"
    n = re.search(r"Need to copy (\d+) pages", console)
    assert n is not None
    copied = [line for line in lines if "Need to copy" in line]
    assert copied and copied[-1].endswith(f"Need to copy {n.group(1)} pages")
    assert not [line for line in lines if "Image created" in line]
    doc = json.loads(run_cli("dmesg", "--json", image(name)).stdout)
    assert doc["format"] == "printk_ringbuffer" and len(doc["records"]) == len(lines)
    info = json.loads(run_cli("info", "--json", image(name)).stdout)
    assert info["memory"]["log_records"] == len(lines) and info["memory"]["errors"] == []
    assert info["memory"]["osrelease"] == info["kernel"]["release"]


@pytest.mark.parametrize("name", sample_params(COMMITTED))
def test_map_of_an_image_is_its_boot_logs(name: str) -> None:
    mine = json.loads(run_cli("map", "--json", image(name)).stdout)
    log = json.loads(run_cli("map", "--json", str(SAMPLES / name / "dmesg.txt")).stdout)
    assert mine["format"] == "image" and mine["nosave_source"] == "image"
    assert mine["entries"] == log["entries"] and mine["checksum"] == log["checksum"]
    assert mine["nosave"] == log["nosave"]
    same = run_cli("map", "diff", image(name), str(SAMPLES / name / "dmesg.txt"))
    assert same.exit_code == 0, same.stdout


def test_another_boots_map_and_kpageflags_are_findings() -> None:
    """The log of a 256 MiB guest (sid 7.2) and a 6.1 guest's kpageflags beside the 6.12
    image of a 192 MiB guest: both disagree with what the image holds, each finding names
    both sides."""
    other = SAMPLES / "sid-7-lzo"
    kpf = SAMPLES / "deb12-6.1-lzo" / "kpageflags.bin.xz"
    r = run_cli(
        "audit",
        "--json",
        image("deb13-6.12-lz4"),
        "--map",
        str(other / "dmesg.txt"),
        "--kpageflags",
        str(kpf),
    )
    doc = json.loads(r.stdout)
    codes = {f["code"]: f for f in doc["findings"]}
    assert "map-differs-from-image" in codes and "map-checksum-mismatch" in codes
    assert str(other / "dmesg.txt") in codes["map-differs-from-image"]["message"]
    kpf = codes["kpageflags-differs-from-image"]
    d = kpf["details"]
    assert kpf["pages"] == d["only_kpageflags"] + d["only_image"] > 0
    assert doc["evidence"]["reserved-ram"]["source"] == "kpageflags"  # the input given wins
    assert doc["evidence"]["reserved-ram"]["page_flags"]["covered"] == doc["pfns"]["saved"]
    assert (
        r.exit_code == 0
        and run_cli(
            "audit", image("deb13-6.12-lz4"), "--strict", "--map", str(other / "dmesg.txt")
        ).exit_code
        == 1
    )


def test_an_image_without_kernel_memory_gives_no_map(tmp_path: Path) -> None:
    forged = forge_to(tmp_path)  # no VMCOREINFO among its pages
    for cmd in ("map", "dmesg"):
        r = run_cli(cmd, str(forged.path))
        assert r.exit_code == 2 and "Traceback" not in r.stderr
        (line,) = r.stderr.splitlines()
        assert line.startswith(f"swsusp-inspect: error: {forged.path}: no ")
        assert "no VMCOREINFO note in the saved pages" in line
