"""docs/json.md names every key the commands print: each command runs on committed samples
(every legacy era, uswsusp, a 2.6.20+ image, the real i386, arm64 and 7.2 heads) and every key of
its JSON, at every depth, must appear in the page's section for that command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from docs_text import DOCS, ROOT, backticked_words, section

from swsusp_inspect.cli import cli

JSON_MD = DOCS / "json.md"
HEADS = ROOT / "tests" / "data" / "real-heads"
SEED = "samples/forged-seed-2004/"
I386 = "samples/deb12-6.1-i386-lzo/"
# keys whose children are data (evidence names), not schema
FREE_FORM = {"pages_by_evidence", "by_evidence"}


def _json(*args: str, exit_codes: tuple[int, ...] = (0, 1)) -> list[dict[str, Any]]:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code in exit_codes, (args, r.output)
    return (
        [json.loads(line) for line in r.stdout.splitlines()]
        if "--jsonl" in args
        else [json.loads(r.stdout)]
    )


def _keys(doc: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add((*path, k))
            if k not in FREE_FORM:
                out |= _keys(v, (*path, k))
    elif isinstance(doc, list):
        for v in doc:
            out |= _keys(v, (*path, "[]"))
    return out


def _undocumented(docs: list[dict[str, Any]], heading: str, skip: tuple[str, ...] = ()) -> set[str]:
    words = backticked_words(section(JSON_MD, heading))
    keys = set().union(*(_keys(d) for d in docs))
    return {
        ".".join(k)
        for k in keys
        if k[-1] not in words and k[0] not in skip and k[0] != "schema_version"
    }


@pytest.fixture(scope="module")
def images() -> list[Path]:
    # the kernel-written heads open as images; an s2disk head keeps only its first blocks,
    # which the reader cannot decode alone (tests/samples/test_real_heads.py reads those)
    heads = sorted(p for p in HEADS.glob("*/heads.img.xz") if "uswsusp" not in p.parent.name)
    assert len(heads) >= 3
    return [
        *sorted((ROOT / "samples" / "forged-legacy").glob("*/swap.img.xz")),
        ROOT / "samples" / "forged-uswsusp" / "uswsusp-lzo.img.xz",
        ROOT / SEED / "swap.img.xz",
        *heads,
    ]


def test_info_and_verify_keys(images: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    docs = [d for p in images for d in _json("info", "--json", str(p))]
    docs += _json(
        "verify",
        "--json",
        "--passphrase",
        "hibernate me",
        "samples/forged-uswsusp/uswsusp-lzo-encrypted.img.xz",
    )
    docs += _json("info", "--json", "--map", SEED + "dmesg.txt", SEED + "swap.img.xz")
    eras = {d["era"] for d in docs}
    assert len(eras) >= 10 and "uswsusp" in eras and "2.6.20+" in eras
    assert {d["arch"]["name"] for d in docs if d["arch"]} >= {"x86_64", "i386", "arm64"}
    assert not _undocumented(docs, "`info` and `verify`")


def test_audit_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    docs = _json("audit", "--json", SEED + "swap.img.xz", "--map", SEED + "dmesg.txt")
    docs += _json("audit", "--json", SEED + "swap.img.xz")  # no map
    # a real PFN directory with every evidence: two maps, kpageflags, a System.map excerpt
    docs += _json(
        "audit",
        "--json",
        str(HEADS / "deb12-6.1-i386-lzo" / "heads.img.xz"),
        "--map",
        I386 + "dmesg.txt",
        "--map",
        I386 + "iomem.txt",
        "--kpageflags",
        I386 + "kpageflags.bin.xz",
        "--system-map",
        str(HEADS / "deb12-6.1-i386-lzo" / "System.map-excerpt"),
    )
    assert {f["code"] for d in docs for f in d["findings"]} >= {
        "saved-non-ram",
        "saved-reserved-ram",
    }
    assert not _undocumented(docs, "`audit`", skip=("image",))


def test_map_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    docs = [
        d
        for f in (
            "samples/deb13-6.12-lz4/dmesg.txt",
            "samples/deb13-6.12-lz4/iomem.txt",
            "tests/data/maps/journald-two-boots.dmesg.txt",
        )
        for d in _json("map", "--json", f)
    ]
    assert any(d["modified"] for d in docs) and any(d["boot"] for d in docs)
    assert any(d["reserved_ram_evidence"] for d in docs)
    assert not _undocumented(docs, "`map`")


def test_map_diff_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    docs = _json(
        "map",
        "diff",
        "--json",
        "tests/data/maps/acpi-slide-before.dmesg.txt",
        "tests/data/maps/acpi-slide-after.dmesg.txt",
    )
    assert docs[0]["changes"]
    assert not _undocumented(docs, "`map diff`")


def test_batch_row_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    # an image with its sidecar map, and a file that is no image (an error row), with an
    # offset given so that it shows in `inputs`
    rows = _json(
        "batch",
        "--jsonl",
        "-j",
        "1",
        "--page-offset",
        "0xc0000000",
        SEED + "swap.img.xz",
        SEED + "dmesg.txt",
        exit_codes=(2,),
    )
    rows += _json("batch", "--jsonl", "-j", "1", "--manifest", "docs/examples/manifest.jsonl")
    assert any(r["error"] for r in rows) and any(r["error"] is None for r in rows)
    assert any("page_offset" in r["inputs"] for r in rows)
    audit_words = backticked_words(section(JSON_MD, "`audit`"))
    extra = [{k: v for k, v in r.items() if k not in audit_words} for r in rows]
    assert not _undocumented(extra, "`batch --json` and `--jsonl`")
    doc = _json("batch", "--json", "-j", "1", SEED, "docs/examples")[0]
    assert doc["summary"]["skipped"]["not_images"] and doc["images"]
    assert not _undocumented(
        [{k: v for k, v in doc.items() if k != "images"}], "`batch --json` and `--jsonl`"
    )


def test_extract_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    docs = _json(
        "extract",
        "--json",
        "-q",
        "-o",
        str(tmp_path / "phys.raw"),
        "samples/forged-uswsusp/uswsusp-lzo.img.xz",
    )
    assert not _undocumented(docs, "`extract`")
