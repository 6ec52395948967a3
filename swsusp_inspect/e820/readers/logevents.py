"""Kernel log lines -> events, boot by boot: the messages :mod:`.logtext` builds a map from.

Each line is read with the patterns of :mod:`.logpatterns`; the kernel files and versions that
print each message are listed in :mod:`.logtext`'s References.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from swsusp_inspect.e820.model import clip
from swsusp_inspect.e820.readers.logpatterns import (
    BOGUS_PRE_TIMER,
    MAX_LINE,
    RE_GAP,
    RE_HEAD,
    RE_HUNK,
    RE_JOURNAL_BOOT,
    RE_KEXEC_ONLY,
    RE_KTIME,
    RE_LINUX_VERSION,
    RE_NEW,
    RE_NODE,
    RE_NOSAVE_HEAD,
    RE_NOSAVE_NEW,
    RE_NOSAVE_OLD,
    RE_OLD,
    RE_QUOTE,
    RE_REMOVE,
    RE_UPDATE,
    RE_UPDATE_HEAD,
    RE_XEN_NEW,
    RE_XEN_OLD,
    U64_MAX,
    Has,
    maybe,
)
from swsusp_inspect.e820.types import type_from_log_name
from swsusp_inspect.errors import MapError

__all__ = ["Boot", "Event", "parse_lines"]


@dataclass
class Event:
    """One message of the log (the fields its ``kind`` has; ``start``/``size`` in bytes)."""

    kind: str  # "entry", "xen", "update", "remove", "kexec", "nosave", "node", "header"
    line: int
    who: str = ""
    start: int = 0
    size: int = 0
    type: int = 0
    name: str = ""
    old: int | None = None
    new: int | None = None
    nosave_kind: str = ""
    exclusive: bool = False


@dataclass
class Boot:
    """The events of one boot, from line ``first_line`` on."""

    first_line: int
    events: list[Event] = field(default_factory=list)

    def has_map(self) -> bool:
        return any(e.kind in ("entry", "xen", "node") for e in self.events)


def _hex(source: str, line: int, text: str) -> int:
    value = int(text, 16)
    if value > U64_MAX:
        raise MapError(source, line, f"address {clip(text)} does not fit in 64 bits")
    return value


def _continuation(raw: str) -> str | None:
    """The text of a line that continues a wrapped message, or None if it starts a new one."""
    text = RE_QUOTE.sub("", raw).strip()
    if not text or text.startswith("[") or " kernel: " in text or RE_KTIME.match(text):
        return None
    return text


def _complete(text: str) -> bool:
    """False when ``text`` starts a message this reader knows but holds only part of it."""
    has = Has.of(text)
    if has.who and RE_HEAD.search(text):
        m = RE_NEW.search(text) or RE_OLD.search(text)
        return m is not None and type_from_log_name(m.group("type")) is not None
    if has.edit and RE_UPDATE_HEAD.search(text):
        m = RE_UPDATE.search(text)
        if m is not None:
            return (
                type_from_log_name(m.group("old")) is not None
                and type_from_log_name(m.group("new")) is not None
            )
        m = RE_REMOVE.search(text)
        return m is not None and (
            not m.group("old") or type_from_log_name(m.group("old")) is not None
        )
    if has.nosave and RE_NOSAVE_HEAD.search(text):
        return RE_NOSAVE_NEW.search(text) is not None
    return True


def _type_code(source: str, line: int, name: str) -> int:
    code = type_from_log_name(name)
    if code is None:
        if not name:
            raise MapError(source, line, "memory-map line has no type after ']'")
        raise MapError(source, line, f"unknown e820 type name {clip(name)!r}")
    return code


def _either(
    text: str, inclusive: re.Pattern[str], exclusive: re.Pattern[str]
) -> tuple[re.Match[str] | None, bool]:
    """The newer ``[mem a-b]`` form (inclusive end), else the older one (exclusive end):
    the match and whether its end is exclusive."""
    m = inclusive.search(text)
    if m is not None:
        return m, False
    m = exclusive.search(text)
    return m, m is not None


def _range(source: str, line: int, a: str, b: str, *, exclusive: bool) -> tuple[int, int]:
    """(start, size) from a printed range, checking it."""
    start, end = _hex(source, line, a), _hex(source, line, b)
    size = end - start if exclusive else end - start + 1
    if size < 0:
        raise MapError(source, line, f"end {clip(b)} is before start {clip(a)}")
    if start + size > U64_MAX:
        # the exclusive end (2**64 at the most) must fit a u64: the kernel's e820 code adds
        # addr + size in u64, and e820__update_table() refuses a table where that wraps
        raise MapError(
            source,
            line,
            f"range {clip(a)}-{clip(b)} reaches the end of the 64-bit "
            "address space: addr + size wraps",
        )
    return start, size


@dataclass
class _BootStarts:
    """Where a new boot starts: a journal's boot separator, the kernel clock going back to 0
    (not from the bogus pre-timer stamps of kernels before 2.6.18), a ``Linux version`` banner.
    It keeps the last timestamp seen, so it must see every line, in order."""

    last_ts: float | None = None

    def at(self, raw: str) -> bool:
        """Whether ``raw``, the log's next line, starts a new boot."""
        new_boot = bool(RE_JOURNAL_BOOT.match(raw.strip()))
        m_ts = RE_KTIME.search(raw) if "[" in raw else None
        if m_ts:
            ts = float(f"{m_ts.group(1)}.{m_ts.group(2)}")
            if self.last_ts is not None and ts == 0.0 and 0.0 < self.last_ts < BOGUS_PRE_TIMER:
                new_boot = True
            self.last_ts = ts
        return new_boot or ("Linux version" in raw and RE_LINUX_VERSION.search(raw) is not None)


def _skip(source: str, lineno: int, raw: str) -> bool:
    """True for a line to pass over unread, one longer than any kernel log line; refuses such a
    line when it may hold a map line, and a unified diff hunk."""
    if RE_HUNK.match(raw):
        raise MapError(
            source, lineno, "a unified diff hunk, not a kernel log: give each side as its own file"
        )
    if len(raw) > MAX_LINE:
        if maybe(raw):
            raise MapError(
                source,
                lineno,
                f"line of {len(raw)} characters: longer than any "
                f"kernel log line ({MAX_LINE} at most), not read",
            )
        return True
    return False


def _unwrap(raw: str, lines: Sequence[str], i: int) -> tuple[str, int]:
    """``raw`` joined with up to two following lines (from ``i``) when a mailer or a terminal
    wrapped the message onto them, and the index of the next line to read."""
    if _complete(raw):
        return raw, i
    joined = raw
    for j in range(i, min(i + 2, len(lines))):
        cont = _continuation(lines[j])
        if cont is None:
            break
        sep = "" if joined.rstrip().endswith("-") else " "
        joined = joined.rstrip() + sep + cont
        if _complete(joined):
            return joined, j + 1
    return raw, i


def _event(source: str, lineno: int, text: str) -> Event | None:
    """What a message line says, None for a line no message of this reader is on; refuses a
    line that starts a known message but cannot be read."""
    has = Has.of(text)
    if has.who:
        m, exclusive = _either(text, RE_NEW, RE_OLD)
        if m is not None:
            name = m.group("type")
            code = _type_code(source, lineno, name)
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=exclusive)
            return Event(
                "entry", lineno, who=m.group("who"), start=start, size=size, type=code, name=name
            )
        if RE_GAP.search(text):
            return None  # "[gap ...]" between table lines (7.x): nothing to read
        if RE_HEAD.search(text):
            _refuse_table_line(source, lineno, text)
    return (
        _xen_event(source, lineno, text, has)
        or _edit_event(source, lineno, text, has)
        or _nosave_event(source, lineno, text, has)
        or _node_event(source, lineno, text, has)
    )


def _refuse_table_line(source: str, lineno: int, text: str) -> NoReturn:
    """A ``BIOS-e820: [mem ...`` (or older) line that is not a table entry: why."""
    if "[mem" in text and "]" not in text.split("[mem", 1)[1]:
        raise MapError(source, lineno, "memory-map line is cut short: no closing ']' and no type")
    if re.search(r"\]\s*$", text):
        raise MapError(source, lineno, "memory-map line has no type after ']'")
    raise MapError(source, lineno, "memory-map line cannot be read")


def _xen_event(source: str, lineno: int, text: str, has: Has) -> Event | None:
    """The Xen hypervisor's table lines, ``(XEN)`` (both formats)."""
    m = (RE_XEN_OLD.search(text) or RE_XEN_NEW.search(text)) if has.xen else None
    if m is None:
        return None
    code = _type_code(source, lineno, m.group("type"))
    start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=m.re is RE_XEN_OLD)
    return Event(
        "xen", lineno, who="(XEN)", start=start, size=size, type=code, name=m.group("type")
    )


def _edit_event(source: str, lineno: int, text: str, has: Has) -> Event | None:
    """``e820: update``/``e820: remove`` lines, and the kexec-only note after an update."""
    if has.edit:
        m = RE_UPDATE.search(text)
        if m is not None:
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=False)
            old = _type_code(source, lineno, m.group("old"))
            new = _type_code(source, lineno, m.group("new"))
            if old == new == 1:
                new = 128  # "usable ==> usable": RAM -> E820_RESERVED_KERN
            return Event("update", lineno, start=start, size=size, old=old, new=new)
        m = RE_REMOVE.search(text)
        if m is not None:
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=False)
            checked = _type_code(source, lineno, m.group("old")) if m.group("old") else None
            return Event("remove", lineno, start=start, size=size, old=checked)
        if RE_UPDATE_HEAD.search(text):
            raise MapError(source, lineno, "e820 edit line cannot be read")
    if "e820_table_kexec" in text and RE_KEXEC_ONLY.search(text):
        return Event("kexec", lineno)
    return None


def _nosave_event(source: str, lineno: int, text: str, has: Has) -> Event | None:
    """``Registered nosave memory`` / ``Marking nosave pages`` lines (every spelling)."""
    if not has.nosave:
        return None
    m, exclusive = _either(text, RE_NOSAVE_NEW, RE_NOSAVE_OLD)
    if m is not None:
        start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=exclusive)
        kind = "marking" if m.group("kind").startswith("Marking") else "registered"
        return Event(
            "nosave", lineno, start=start, size=size, nosave_kind=kind, exclusive=exclusive
        )
    if RE_NOSAVE_HEAD.search(text):
        raise MapError(source, lineno, "nosave line cannot be read")
    return None


def _node_event(source: str, lineno: int, text: str, has: Has) -> Event | None:
    """``node N: [mem ...]`` (RAM on every architecture), and the ``physical RAM map:`` head."""
    m = RE_NODE.search(text) if has.node else None
    if m is not None:
        start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=False)
        return Event("node", lineno, start=start, size=size, type=1, name="node")
    if "physical RAM map:" in text:
        return Event("header", lineno, name=text)
    return None


def parse_lines(source: str, lines: Sequence[str]) -> list[Boot]:
    """The log's boots, each with the events of its message lines, in order."""
    boots: list[Boot] = [Boot(1)]
    starts = _BootStarts()
    i = 0
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        i += 1
        if _skip(source, lineno, raw):
            continue
        if starts.at(raw) and boots[-1].events:
            boots.append(Boot(lineno))
        if not maybe(raw):
            continue
        text, i = _unwrap(raw, lines, i)
        ev = _event(source, lineno, text)
        if ev is not None:
            boots[-1].events.append(ev)
    return boots
