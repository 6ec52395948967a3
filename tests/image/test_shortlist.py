"""The image layer's file search (:mod:`swsusp_inspect.image.shortlist`) on hostile files."""

from __future__ import annotations

import numpy as np

from swsusp_inspect.image.shortlist import MAX_HITS, _file_slots


def test_a_file_of_needles_is_looked_at_a_bounded_number_of_times() -> None:
    """A million matches: the search stops after MAX_HITS of them (two pages at most each)."""
    needle = b"VMCOREINFO\0"
    buf = needle * 1_000_000
    slots = _file_slots(buf, needle, 4096)
    assert 0 < slots.size <= 2 * MAX_HITS
    # the first matches' pages, in order: everything before the cap was looked at
    last = (MAX_HITS - 1) * len(needle)
    assert slots[0] == 0 and slots[-1] == (last + len(needle) - 1) // 4096


def test_a_match_across_a_page_boundary_names_both_pages() -> None:
    buf = bytearray(3 * 4096)
    buf[4096 - 4 : 4096 + 7] = b"VMCOREINFO\0"
    assert _file_slots(bytes(buf), b"VMCOREINFO\0", 4096).tolist() == [0, 1]
    assert _file_slots(bytes(buf), b"absent", 4096).size == 0
    assert _file_slots(bytes(buf), b"VMCOREINFO\0", 4096).dtype == np.int64


def test_a_salvaging_sweep_goes_around_lost_chunks() -> None:
    """The arm64 sample's real head keeps the note's chunk and zeroes 399 of its 401 chunks:
    read around damage, a sweep alone (no file search) passes the lost chunks and finds the
    note at the address the guest's /sys/kernel/vmcoreinfo gave; read strictly, the first lost
    chunk ends it."""
    from pathlib import Path

    import pytest

    from swsusp_inspect.errors import FormatError
    from swsusp_inspect.image import open_image
    from swsusp_inspect.kernel.memory import PhysicalMemory
    from swsusp_inspect.kernel.vmcoreinfo import _page_aligned_note

    tests = Path(__file__).resolve().parent.parent
    head = tests / "data" / "real-heads" / "deb12-6.1-arm64-lzo"
    sysfs = tests.parent / "samples" / "deb12-6.1-arm64-lzo" / "vmcoreinfo.txt"
    recorded = int(sysfs.read_text().split()[0], 16)
    with open_image(head / "heads.img.xz", salvage=True) as image:
        found, _ = _page_aligned_note(PhysicalMemory(image))
        assert found is not None and found.address == recorded
    with (
        open_image(head / "heads.img.xz") as image,
        pytest.raises(FormatError, match="compressed chunk"),
    ):
        _page_aligned_note(PhysicalMemory(image))
