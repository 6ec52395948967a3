"""The record of what ``extract`` wrote (:class:`~swsusp_inspect.model.export.ExtractRecord`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from swsusp_inspect.export.plan import Plan
from swsusp_inspect.export.vmcoreinfo import NO_NOTE, Note
from swsusp_inspect.model.export import ElfFacts, ExtractRecord, PfnSpan, VmcoreinfoFacts

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["build_record"]


def _spans(ranges: list[tuple[int, int]]) -> tuple[PfnSpan, ...]:
    return tuple(PfnSpan(lo, hi, hi - lo + 1) for lo, hi in ranges)


def _vmcoreinfo(note: Note | None) -> VmcoreinfoFacts:
    if note is None:
        return VmcoreinfoFacts(False, None, None, None, NO_NOTE)
    return VmcoreinfoFacts(True, note.address, len(note.data), note.osrelease, None)


def build_record(
    image: HibernationImage,
    plan: Plan,
    *,
    output: str,
    written: int,
    note: Note | None,
    input_sha256: str,
    output_sha256: str,
) -> ExtractRecord:
    states = image.page_states()
    elf = None
    if plan.format == "elf":
        elf = ElfFacts(
            plan.elf_class, plan.machine, plan.load_segments, plan.zero_segments, _vmcoreinfo(note)
        )
    return ExtractRecord(
        format=plan.format,
        path=output,
        input=image.path,
        size=plan.size,
        pages_written=written,
        zero_pages=states.zero_pages,
        unreadable_pages=states.unreadable_pages,
        saved=_spans(states.ranges(states.readable)),
        zero=_spans(states.ranges(states.zero)),
        unreadable=states.unreadable_spans(),
        pages_beyond_eof=image.pages_beyond_eof,
        problems=image.problems,
        input_sha256=input_sha256,
        output_sha256=output_sha256,
        elf=elf,
        lime_ranges=plan.ranges if plan.format == "lime" else None,
    )
