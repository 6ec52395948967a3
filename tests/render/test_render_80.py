"""Reports read at 80 columns and without colour: nothing cut with "…", nothing wider than 80,
no wrapped line back at column 0, every range whole, the strip readable by its letters."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swsusp_inspect.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SYSTEMMAP = SAMPLES / "systemmap"
SEVERITIES = ("INFO", "WARNING", "ERROR")


def _case(name: str, *extra: str) -> list[str]:
    d = SAMPLES / name
    return [str(d / "swap.img.xz"), *extra]


CASES = {
    "x86_64": _case(
        "deb12-6.1-lzo",
        "--map",
        str(SAMPLES / "deb12-6.1-lzo" / "console.log"),
        "--kpageflags",
        str(SAMPLES / "deb12-6.1-lzo" / "kpageflags.bin.xz"),
    ),
    "x86_64 iomem": _case("deb12-6.1-lzo", "--map", str(SAMPLES / "deb12-6.1-lzo" / "iomem.txt")),
    "arm64": _case(
        "deb12-6.1-arm64-lzo",
        "--map",
        str(SAMPLES / "deb12-6.1-arm64-lzo" / "dmesg.txt"),
        "--map",
        str(SAMPLES / "deb12-6.1-arm64-lzo" / "iomem.txt"),
        "--kpageflags",
        str(SAMPLES / "deb12-6.1-arm64-lzo" / "kpageflags.bin.xz"),
        "--system-map",
        str(SYSTEMMAP / "System.map-6.1.0-57-arm64.xz"),
    ),
    "seed": _case("forged-seed-2004", "--map", str(SAMPLES / "forged-seed-2004" / "dmesg.txt")),
}


def _present(args: list[str]) -> bool:
    return Path(args[0]).exists()


def _run(args: list[str], width: int = 80) -> tuple[int, str]:
    r = CliRunner().invoke(cli, args, env={"COLUMNS": str(width)})
    return r.exit_code, r.stdout


@pytest.fixture(scope="module", params=sorted(CASES))
def report(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], str]:
    args = CASES[request.param]
    if not _present(args):
        pytest.skip(f"{args[0]} is not in this checkout")
    code, doc = _run(["audit", *args, "--json"])
    assert code in (0, 1)
    code2, text = _run(["audit", *args, "--no-color"])
    assert code2 == code
    return request.param, json.loads(doc), text


def test_nothing_cut_nothing_wider(report: tuple[str, dict[str, Any], str]) -> None:
    _, _, text = report
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_findings_wrap_under_their_words(report: tuple[str, dict[str, Any], str]) -> None:
    _, doc, text = report
    lines = text.splitlines()
    if not doc["findings"]:
        return
    start = lines.index("Findings") + 1
    body = lines[start:]
    end = next(i for i, line in enumerate(body) if not line.strip())
    for line in body[:end]:
        assert line.startswith(" ") or line.split()[0] in SEVERITIES, line
    joined = " ".join(" ".join(body[:end]).split())
    for f in doc["findings"]:
        assert " ".join(f["message"].split()) in joined
        for g in f["ranges"][:8]:  # every range shown whole, on one line
            pfn = (
                f"{g['start_pfn']:#x}"
                if g["start_pfn"] == g["end_pfn"]
                else f"{g['start_pfn']:#x}-{g['end_pfn']:#x}"
            )
            phys = f"{g['start_address']:#x}-{g['end_address']:#x}"
            assert any(re.search(rf"^\s+{pfn}\s+{phys}\s", line) for line in body), pfn


def test_map_lines_wrap_under_the_key(report: tuple[str, dict[str, Any], str]) -> None:
    _, _, text = report
    inside = [line[2:-2] for line in text.splitlines() if line.startswith("│")]
    for line in inside:  # the panel's rows: a key, or the key column left blank
        keys = (
            "file",
            "signature",
            "flags",
            "compression",
            "kernel",
            "arch",
            "integrity",
            "map",
            "page size",
            "format",
            "encryption",
            "uts",
            "memory",
        )
        assert line.startswith(("  ", *(k + " " for k in keys))) or not line.strip(), line


def test_strip_without_colour_has_a_letter_per_label(
    report: tuple[str, dict[str, Any], str],
) -> None:
    _name, doc, text = report
    lines = text.splitlines()
    i = lines.index("Physical memory")
    saved, legend = lines[i + 1], lines[i + 4]
    letters = {"normal": "nN", "reserved-ram": "rR", "reserved-non-ram": "xX", "nosave": "sS"}
    present = {k for k, v in doc["labels"].items() if v}
    shown = {k for k, chars in letters.items() if any(c in saved for c in chars)}
    assert shown <= present and "normal" in shown | {"reserved-ram"}
    if doc["labels"]["reserved-non-ram"]:  # an unsafe label wins its column
        assert "x" in saved.lower()
    assert legend.split() == [
        "saved",
        "N",
        "normal",
        "R",
        "reserved-ram",
        "X",
        "reserved-non-ram",
        "S",
        "nosave",
    ]
    assert not set(saved) & set("░▒▓█")


def test_arm64_strip_spans_the_ram(report: tuple[str, dict[str, Any], str]) -> None:
    name, doc, text = report
    if name != "arm64":
        return
    dmesg = (SAMPLES / "deb12-6.1-arm64-lzo" / "dmesg.txt").read_text()
    ram = int(re.search(r"node\s+0: \[mem (0x[0-9a-f]+)-", dmesg).group(1), 16)
    assert ram >= 1 << 30  # RAM at 1 GiB on QEMU's virt machine
    page = doc["image"]["page_size"]
    assert doc["strip"]["start_pfn"] * page == ram - ram % (256 * page)
    axis = text.splitlines()[text.splitlines().index("Physical memory") + 3]
    assert axis.split()[0] == f"{doc['strip']['start_pfn'] * page:#x}"
    # every PFN lies above num_physpages there: expected, and not said
    assert doc["pfns"]["above_num_physpages"] == doc["pfns"]["saved"]
    assert "num_physpages (" not in text


def test_s2disk_image_is_named_so() -> None:
    code, text = _run(
        ["info", "--no-color", str(SAMPLES / "forged-uswsusp" / "uswsusp-lzo.img.xz")]
    )
    assert code == 0 and "s2disk (uswsusp) image" in " ".join(text.split())
    file_row = " ".join(text.split("signature")[0].split())
    assert "stream" not in file_row


def test_one_saved_page_is(tmp_path: Path) -> None:
    import numpy as np
    from helpers import forge_to, pfns

    # usable ends inside page 0x9f (the real 0x9fbff of QEMU's map): page 0x9f is partly RAM
    log = (
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
        "BIOS-e820: [mem 0x0000000000100000-0x0000000007ffffff] usable\n"
    )
    (tmp_path / "dmesg.txt").write_text(log)
    forged = forge_to(tmp_path, pfns=np.concatenate([pfns(0x90, 0xA0), pfns(0x100, 0x120)]))
    _code, doc = _run(["audit", str(forged.path), "--map", str(tmp_path / "dmesg.txt"), "--json"])
    (f,) = [f for f in json.loads(doc)["findings"] if f["code"] == "saved-partly-ram"]
    assert f["pages"] == 1 and f["message"] == "1 saved page is only partly RAM"


def test_global_options_after_the_command() -> None:
    seed = str(SAMPLES / "forged-seed-2004" / "swap.img.xz")
    a = CliRunner().invoke(cli, ["--no-color", "info", seed]).stdout
    b = CliRunner().invoke(cli, ["info", seed, "--no-color"]).stdout
    assert a == b and "\x1b[" not in a
    r = CliRunner().invoke(
        cli, ["info", str(SAMPLES / "forged-seed-2004" / "dmesg.txt"), "--debug"]
    )
    assert r.exit_code != 0 and r.exception is not None  # --debug: the exception, not a line
    r = CliRunner().invoke(
        cli,
        [
            "map",
            "diff",
            str(SAMPLES / "forged-seed-2004" / "dmesg.txt"),
            str(SAMPLES / "forged-seed-2004" / "dmesg.txt"),
            "--debug",
            "--no-color",
        ],
    )
    assert r.exit_code == 0 and "checksum unchanged" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        [
            "info",
            str(SAMPLES / "deb12-6.1-arm64-lzo" / "swap.img.xz"),
            "--map",
            str(SAMPLES / "deb12-6.1-arm64-lzo" / "iomem.txt"),
        ],
        [
            "info",
            str(SAMPLES / "deb12-6.1-lzo" / "swap.img.xz"),
            "--map",
            str(SAMPLES / "deb12-6.1-lzo" / "iomem.txt"),
            "--map",
            str(SAMPLES / "sid-7-lzo" / "console.log"),
        ],
        ["map", str(SAMPLES / "deb12-6.1-lzo" / "console.log")],
        [
            "map",
            "diff",
            str(SAMPLES / "deb12-6.1-lzo" / "console.log"),
            str(SAMPLES / "sid-7-lzo" / "iomem.txt"),
        ],
        ["batch", str(SAMPLES / "forged-legacy")],
    ],
    ids=["info arm64", "info two maps", "map", "map diff", "batch"],
)
def test_other_views_at_80_columns(args: list[str]) -> None:
    first = next(a for a in args[1:] if a.startswith("/"))
    if not Path(first).exists():
        pytest.skip(f"{first} is not in this checkout")
    code, text = _run([*args, "--no-color"])
    assert code in (0, 1), text
    lines = text.splitlines()
    assert "…" not in text and max(len(line) for line in lines) <= 80
    # a line that starts at column 0 starts a thing of its own, never the rest of a sentence
    starts = (
        "╭",
        "│",
        "╰",
        "samples/",
        "/",
        "-> ",
        "boot ",
        "info:",
        "warning:",
        "error:",
        "e820 ",
        "kernel-edited",
        "nosave ",
        "checksum ",
        "same ",
        "#",
        " ",
        "start",
        "━",
        "worst ",
        "summary ",
        *(f"{n} images" for n in range(1, 30)),
    )
    for line in lines:
        assert (
            not line
            or line.startswith(starts)
            or line[0].isspace()
            or line.lstrip("0123456789 ").startswith(("ok", "UNSAFE", "ERROR"))
        ), line
