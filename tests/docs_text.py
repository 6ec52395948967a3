"""Reading the README and docs/*.md for the docs tests: code blocks, command lines, console
transcripts, sections and links, and running their commands in-process."""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result

from swsusp_inspect.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = (README, *sorted(DOCS.glob("*.md")))
# what a transcript's terminal looks like: rich output is laid out for this width
TERMINAL = {"COLUMNS": "100", "NO_COLOR": "1"}

_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_EXIT = re.compile(r"\s#\s*exit (\d)\s*$")


@functools.cache
def text(path: Path) -> str:
    return path.read_text()


def all_text() -> str:
    return "\n".join(text(p) for p in PAGES)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(*langs: str, pages: tuple[Path, ...] = PAGES) -> list[Block]:
    """Fenced code blocks of ``pages`` whose language is one of ``langs``."""
    out = []
    for p in pages:
        t = text(p)
        for m in _FENCE.finditer(t):
            if m.group(1) in langs:
                out.append(Block(p, t.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)))
    return out


def prose(path: Path) -> str:
    """The page without its fenced code blocks (where headings and links are)."""
    return _FENCE.sub("", text(path))


def joined_lines(code: str) -> list[str]:
    """Lines with backslash continuations joined."""
    out: list[str] = []
    cur = ""
    for line in code.splitlines():
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


@dataclass(frozen=True)
class Command:
    """One ``swsusp-inspect`` command line of the docs."""

    line: str
    args: tuple[str, ...]  # after ``swsusp-inspect``
    env: tuple[tuple[str, str], ...] = ()
    exit_code: int = 0  # a trailing ``# exit N`` says which; 0 otherwise


def parse_command(line: str) -> Command | None:
    """``[VAR=value ...] swsusp-inspect ARGS [# comment]``, or None for any other command."""
    m = _EXIT.search(line)
    exit_code = int(m.group(1)) if m else 0
    words = shlex.split(line, comments=True)
    env = []
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env.append((name, value))
    if not words or words[0] != "swsusp-inspect":
        return None
    return Command(line, tuple(words[1:]), tuple(env), exit_code)


def sh_commands(block: Block) -> list[Command]:
    cmds = (
        parse_command(line)
        for line in joined_lines(block.code)
        if line.strip() and not line.lstrip().startswith("#")
    )
    return [c for c in cmds if c is not None]


@dataclass(frozen=True)
class Transcript:
    """``$ command`` then the output shown for it, in a ``console`` block."""

    where: str
    command: Command
    shown: tuple[str, ...] = field(default=())


def transcripts(block: Block) -> list[Transcript]:
    out: list[Transcript] = []
    lines = block.code.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith("$ "), f"{block.where}: a transcript line before any command"
        cmd = line[2:]
        while cmd.endswith("\\"):
            i += 1
            cmd = cmd[:-1] + " " + lines[i].strip()
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        parsed = parse_command(cmd)
        assert parsed is not None, f"{block.where}: not a swsusp-inspect command: {cmd}"
        out.append(Transcript(block.where, parsed, tuple(shown)))
    return out


# -- running ----------------------------------------------------------------------------------

_runs: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Result] = {}


def run(cmd: Command, *, output_dir: Path | None = None) -> Result:
    """Run a documented command in-process from the repository root (the caller chdirs there),
    in a terminal of the transcripts' width; files it writes (``-o``, ``--db``) go to
    ``output_dir``.
    Runs that write nothing are cached: the README's set-up command and its transcript are one
    run."""
    args = list(cmd.args)
    writes = False
    for i, a in enumerate(args[:-1]):
        if a in ("-o", "--output", "--db"):
            assert output_dir is not None, cmd.line
            args[i + 1] = str(output_dir / Path(args[i + 1]).name)
            writes = True
    key = (tuple(args), cmd.env)
    if not writes and key in _runs:
        return _runs[key]
    result = CliRunner().invoke(cli, args, env={**TERMINAL, **dict(cmd.env)})
    if not writes:
        _runs[key] = result
    return result


# -- transcript matching ------------------------------------------------------------------------

_GAP = None


def _pattern(shown: tuple[str, ...]) -> list[tuple[str, str] | None]:
    """``...`` (alone, or alone inside a box) stands for any lines; a line ending in ``...``
    is a prefix of the real line, whose rest (and wrapped continuation) is left out."""
    pat: list[tuple[str, str] | None] = []
    for raw in shown:
        s = raw.rstrip()
        if s.strip().strip("│").strip() == "...":
            pat.append(_GAP)
        elif s.endswith("..."):
            pat.append(("prefix", s[:-3].rstrip()))
            pat.append(_GAP)
        else:
            pat.append(("line", s))
    return [p for i, p in enumerate(pat) if not (p is _GAP and i and pat[i - 1] is _GAP)]


def shown_in(shown: tuple[str, ...], output: str) -> bool:
    """Whether the lines shown are the real output, with only the gaps they mark."""
    pat = _pattern(shown)
    out = [line.rstrip() for line in output.splitlines()]

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(out)
        p = pat[i]
        if p is _GAP:
            return any(match(i + 1, k) for k in range(j, len(out) + 1))
        if j == len(out):
            return False
        kind, s = p
        ok = out[j] == s if kind == "line" else out[j].startswith(s)
        return ok and match(i + 1, j + 1)

    return match(0, 0)


# -- headings, sections and links -------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6}) +(.+?)\s*$", re.M)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(path: Path) -> list[tuple[int, int, str]]:
    """(offset, level, title) of every heading outside code blocks."""
    t = text(path)
    fences = [m.span() for m in _FENCE.finditer(t)]
    return [
        (m.start(), len(m.group(1)), m.group(2))
        for m in _HEADING.finditer(t)
        if not any(a <= m.start() < b for a, b in fences)
    ]


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, _, title in headings(path):
        s = slug(title)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def section(path: Path, heading: str) -> str:
    """The text under ``heading`` (its exact title) up to the next heading of the same or a
    higher level."""
    hs = headings(path)
    for k, (start, level, title) in enumerate(hs):
        if title == heading:
            end = next((s for s, lv, _ in hs[k + 1 :] if lv <= level), len(text(path)))
            return text(path)[start:end]
    raise AssertionError(f"{path.relative_to(ROOT)}: no heading {heading!r}")


def relative_links(path: Path) -> list[str]:
    return [
        t for t in _LINK.findall(prose(path)) if not re.match(r"[a-z][a-z0-9+.-]*:", t)
    ]  # http:, https:, mailto:


def backticked_words(markdown: str) -> set[str]:
    """Every identifier-like word inside a code span (``{a, b-c}`` gives a and b-c); spans may
    wrap lines, fenced blocks are not spans."""
    words: set[str] = set()
    for span in re.findall(r"`([^`]+)`", _FENCE.sub("", markdown)):
        words.update(w.strip(".") for w in re.split(r"[^\w.-]+", span) if w.strip("."))
    return words
