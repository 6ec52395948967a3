"""The README and docs/*.md say what is true: their set-up commands, Python examples, command
lines and console transcripts run as written (from the repository root), their links resolve,
and they name every real sample."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from docs_text import (
    DOCS,
    PAGES,
    README,
    ROOT,
    Block,
    Command,
    Transcript,
    all_text,
    anchors,
    blocks,
    parse_command,
    relative_links,
    run,
    section,
    sh_commands,
    shown_in,
    text,
    transcripts,
)

PYTHON = blocks("python")
COMMANDS = [(b.where, c) for b in blocks("sh") for c in sh_commands(b)]
TRANSCRIPTS = [t for b in blocks("console") for t in transcripts(b)]


def setup_lines() -> list[str]:
    first = blocks("sh", "bash", "console", "python", "text", "", pages=(README,))[0]
    assert first.lang == "sh", first.where
    return [line for line in first.code.splitlines() if line.strip()]


# -- the README's first screen --------------------------------------------------------------


def test_readme_opens_with_what_it_is_then_the_two_setup_commands() -> None:
    t = text(README)
    assert t.startswith("# swsusp-inspect\n\n")
    intro = t[len("# swsusp-inspect\n\n") : t.index("```")].strip()
    assert intro and "\n\n" not in intro and intro.count(". ") == 0 and intro.endswith(".")
    assert len(setup_lines()) == 2


def test_first_setup_command_installs_and_runs_the_main_job_on_a_committed_sample(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install, *rest = setup_lines()[0].split(" && ")
    assert shlex.split(install)[-3:] == ["install", "-e", "."]
    cmd = parse_command(" && ".join(rest))
    assert cmd is not None and cmd.args[0].startswith("samples/")
    ignored = text(ROOT / "samples" / ".gitignore")
    for arg in cmd.args:
        if arg.startswith("samples/"):
            assert (ROOT / arg).is_file() and f"/{arg.removeprefix('samples/')}" not in ignored
    monkeypatch.chdir(ROOT)
    result = run(cmd)
    assert result.exit_code == 0, result.output
    assert "OK: no unsafe saves" in result.output


def test_ci_runs_the_readme_test_command() -> None:
    test_cmd = setup_lines()[1]
    assert "--group test" in test_cmd and test_cmd.endswith("python -m pytest")
    assert test_cmd in text(ROOT / ".ci" / "run").splitlines()


def test_readme_run_is_the_first_setup_command() -> None:
    [shown] = [t for b in blocks("console", pages=(README,)) for t in transcripts(b)]
    main = parse_command(" && ".join(setup_lines()[0].split(" && ")[1:]))
    assert main is not None and shown.command.args == main.args


# -- examples run -----------------------------------------------------------------------------


def test_there_are_examples_to_run() -> None:
    assert PYTHON and COMMANDS and TRANSCRIPTS
    assert blocks("python", pages=(README,)) and blocks("console", pages=(README,))


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.where)
def test_python_example_runs(
    block: Block, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(block.code, str(block.path), "exec"), {"__name__": "docs"})
    assert capsys.readouterr().out


@pytest.mark.parametrize(("where", "cmd"), COMMANDS, ids=[f"{w} {c.args[0]}" for w, c in COMMANDS])
def test_command_line_runs(
    where: str, cmd: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = run(cmd, output_dir=tmp_path)
    assert result.exit_code == cmd.exit_code, (where, cmd.line, result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("shown", TRANSCRIPTS, ids=lambda t: t.where)
def test_transcript_is_real_output(shown: Transcript, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run(shown.command)
    assert result.exit_code == shown.command.exit_code, (shown.where, result.output)
    assert shown_in(shown.shown, result.output), (
        f"{shown.where}: the transcript is not what `{shown.command.line}` prints:\n"
        + result.output
    )


# -- links ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    links = relative_links(page)
    for link in links:
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.relative_to(ROOT)}: {link} points nowhere"
        if anchor:
            assert path.suffix == ".md" and anchor in anchors(path), (
                f"{page.relative_to(ROOT)}: {link}: no such heading"
            )


def test_the_index_links_every_docs_page() -> None:
    linked = {
        (DOCS / link.partition("#")[0]).resolve() for link in relative_links(DOCS / "index.md")
    }
    pages = set(DOCS.glob("*.md")) - {DOCS / "index.md"}
    assert pages <= linked
    assert {(ROOT / link.partition("#")[0]).resolve() for link in relative_links(README)} >= {
        DOCS / "index.md"
    }


# -- samples ----------------------------------------------------------------------------------


def _table(markdown: str, header: str) -> str:
    t = markdown[markdown.index(header) :]
    return t[: t.index("\n\n")]


def test_every_real_sample_is_documented() -> None:
    """Each generated sample (samples/<name>/provenance.json) is named in the docs: those whose
    image is git-ignored in the table of samples not committed, the others in the table of
    committed ones (docs/samples.md)."""
    docs = all_text()
    samples_md = section(DOCS / "samples.md", "Real kernels")
    committed = _table(samples_md, "| sample (committed) |")
    not_committed = _table(samples_md, "| sample (image not committed) |")
    ignored = text(ROOT / "samples" / ".gitignore")
    names = sorted(p.parent.name for p in (ROOT / "samples").glob("*/provenance.json"))
    assert len(names) >= 3
    for name in names:
        assert name in docs or name.replace("-lzo-encrypted", "-lzo{,-encrypted}") in docs
        if f"/{name}/swap.img.xz" in ignored:
            base = name.removesuffix("-encrypted")
            assert f"`{name}`" in not_committed or f"`{base}{{,-encrypted}}`" in not_committed, name
        else:
            assert f"`{name}`" in committed, name
            assert (ROOT / "samples" / name / "swap.img.xz").is_file(), name
