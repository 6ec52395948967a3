"""The messages the kernel-log reader knows, as regular expressions and the cheap substring
tests that decide which of them a line may hold (the reader: :mod:`.logtext`; every kernel
file and version they follow is listed there)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BOGUS_PRE_TIMER",
    "FW_WHO",
    "KERNEL_WHO",
    "MAX_LINE",
    "RE_GAP",
    "RE_HEAD",
    "RE_HUNK",
    "RE_JOURNAL_BOOT",
    "RE_KEXEC_ONLY",
    "RE_KTIME",
    "RE_LINUX_VERSION",
    "RE_NEW",
    "RE_NODE",
    "RE_NOSAVE_HEAD",
    "RE_NOSAVE_NEW",
    "RE_NOSAVE_OLD",
    "RE_OLD",
    "RE_QUOTE",
    "RE_REMOVE",
    "RE_UPDATE",
    "RE_UPDATE_HEAD",
    "RE_XEN_NEW",
    "RE_XEN_OLD",
    "TRIGGERS",
    "U64_MAX",
    "WHO_COLON",
    "Has",
    "looks_like_log",
    "maybe",
]

U64_MAX = (1 << 64) - 1
_B = r"(?:^|(?<=[\s\]>:)]))"  # a message starts after a prefix, never inside a word
FW_WHO = ("BIOS-e820", "BIOS-88", "BIOS-e801", "Xen", "extended")
KERNEL_WHO = ("user", "modified", "reserve setup_data")
_WHO = r"(?P<who>BIOS-e820|BIOS-88|BIOS-e801|Xen|extended|user|modified|reserve setup_data)"
_HEX = r"[0-9a-fA-F]+"


def _first(head: str, tail: str = "") -> re.Pattern[str]:
    """``head`` then ``tail``, tried at the first place ``head`` matches and nowhere else.

    An atomic group holds the leftmost ``head``; when ``tail`` (which runs to the end of the
    line) fails there, the search stops instead of trying every later ``head``: each line costs
    time linear in its length, never quadratic (a ``tail`` failing at the first ``head`` fails
    at every later one too, since it depends only on what follows).
    """
    return re.compile(r"^(?>.*?" + head + ")" + tail)


RE_NEW = _first(
    _B + _WHO + r":\s*\[mem\s+(?P<a>0x" + _HEX + r")-(?P<b>0x" + _HEX + r")\]",
    r"(?:\s+[\d.]+\s*[KMGTP]?i?B)?\s*(?P<type>\S.*?)\s*$",
)
RE_GAP = re.compile(_B + _WHO + r":\s*\[gap\s")
RE_OLD = _first(
    _B + _WHO + r":\s+(?P<a>" + _HEX + r")\s+-\s+(?P<b>" + _HEX + r")\s+\(", r"(?P<type>.*)\)\s*$"
)
RE_HEAD = re.compile(_B + _WHO + r":\s*(?:\[mem\b|[0-9a-fA-F]{8,}\s+-)")
RE_XEN_OLD = _first(
    r"\(XEN\)(?:\s*\[[0-9a-fA-F]+\])?\s+(?P<a>[0-9a-fA-F]{8,16})\s+-\s+"
    r"(?P<b>[0-9a-fA-F]{8,16})\s+\(",
    r"(?P<type>.*)\)\s*$",
)
RE_XEN_NEW = _first(
    r"\(XEN\)(?:\s*\[[0-9a-fA-F]+\])?\s+\[(?P<a>[0-9a-fA-F]+),\s*(?P<b>[0-9a-fA-F]+)\]\s+\(",
    r"(?P<type>.*)\)\s*$",
)
RE_UPDATE = _first(
    r"e820: update \[mem\s+(?P<a>0x" + _HEX + r")-(?P<b>0x" + _HEX + r")\]\s+",
    r"(?P<old>.+?)\s+==>\s+(?P<new>.+?)\s*$",
)
RE_UPDATE_HEAD = re.compile(r"e820: (?:update|remove) \[mem")
RE_REMOVE = _first(
    r"e820: remove \[mem\s+(?P<a>0x" + _HEX + r")-(?P<b>0x" + _HEX + r")\]", r"\s*(?P<old>.*?)\s*$"
)
RE_KEXEC_ONLY = re.compile(r"update e820_table_kexec for e820__memblock_alloc_reserved")
RE_NOSAVE_NEW = re.compile(
    r"(?P<kind>Registered nosave memory|Marking nosave pages):\s*\[mem\s+(?P<a>0x"
    + _HEX
    + r")-(?P<b>0x"
    + _HEX
    + r")\]"
)
RE_NOSAVE_OLD = re.compile(
    r"(?P<kind>Registered nosave memory(?: region)?|Marking nosave pages|Nosave address range):"
    r"\s*(?P<a>" + _HEX + r")\s+-\s+(?P<b>" + _HEX + r")"
)
RE_NOSAVE_HEAD = re.compile(r"(?:Registered nosave memory|Marking nosave pages):\s*\[mem")
RE_NODE = re.compile(
    r"(?:^|[\s\]>:])node\s+(?P<n>\d+):\s*\[mem\s+(?P<a>0x" + _HEX + r")-(?P<b>0x" + _HEX + r")\]"
)
RE_LINUX_VERSION = re.compile(r"(?:^|[\s\]>:])Linux version \d")
RE_JOURNAL_BOOT = re.compile(r"^-- (?:Boot [0-9a-f]+|Reboot) --")
RE_KTIME = re.compile(r"\[\s*(\d+)\.(\d+)\]")
RE_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
RE_QUOTE = re.compile(r"^(?:>\s?)+")
# kernel/printk/internal.h: a record holds at most PRINTKRB_RECORD_MAX (1024) bytes of text and
# prints as at most PRINTK_MESSAGE_MAX (2048) with its prefix (LOG_LINE_MAX = 1024 - 32 before
# 6.7); a timestamp, a syslog or journal prefix and mail quotes add far less than the rest of
# this bound.  A longer line is no kernel message: skipped, or refused when it holds one of the
# words a map line starts with (then it is a damaged log, not one to guess through).
MAX_LINE = 4096
# every message this reader reads holds one of these; other lines skip the regular expressions
TRIGGERS = (
    "BIOS-",
    "Xen",
    "(XEN)",
    "extended",
    "user",
    "modified",
    "reserve setup_data",
    "e820",
    "nosave",
    "Nosave",
    "node",
    "physical RAM map",
)
# Kernels before 2.6.18 stamped early messages with a bogus pre-timer value (~17179569 s);
# a drop from it to 0 is not a reboot.
BOGUS_PRE_TIMER = 17_000_000


def maybe(text: str) -> bool:
    """Whether ``text`` may hold a message this reader reads (substring tests only)."""
    return any(t in text for t in TRIGGERS)


WHO_COLON = tuple(w + ":" for w in FW_WHO + KERNEL_WHO)


@dataclass(frozen=True)
class Has:
    """Which families of messages ``text`` may hold (fast substring tests): each family's
    regular expressions run only on lines holding its words."""

    who: bool  # "BIOS-e820:", "Xen:", ... table lines
    edit: bool  # "e820: update|remove"
    nosave: bool
    xen: bool  # "(XEN)"
    node: bool

    @classmethod
    def of(cls, text: str) -> Has:
        return cls(
            any(w in text for w in WHO_COLON),
            "e820: " in text,
            "osave " in text,
            "(XEN)" in text,
            "node" in text,
        )


def looks_like_log(text: str) -> bool:
    """True when the text holds at least one line this reader understands."""
    for line in text.splitlines():
        if len(line) > MAX_LINE or not maybe(line):
            continue
        has = Has.of(line)
        if (
            (has.who and (RE_NEW.search(line) or RE_OLD.search(line) or RE_HEAD.search(line)))
            or (has.nosave and (RE_NOSAVE_NEW.search(line) or RE_NOSAVE_OLD.search(line)))
            or (has.xen and (RE_XEN_OLD.search(line) or RE_XEN_NEW.search(line)))
            or (has.node and RE_NODE.search(line))
        ):
            return True
    return False
