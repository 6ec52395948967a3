"""The facade on damaged kernel memory: a real excerpt (the KASLR x86_64 sample's pages) with
bytes changed where the kernel keeps each structure.  Nothing may raise out of
``read_kernel()``, hang, or allocate beyond what the image holds; each problem is one line in
``errors`` and the other parts are still read."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_helpers import EXCERPTS, SAMPLES

from swsusp_inspect.e820.image import image_memory_map
from swsusp_inspect.kernel import NO_VMCOREINFO, load_excerpt, read_kernel
from swsusp_inspect.model import to_data
from swsusp_inspect.summary import memory_facts

NAME = "deb13-6.12-kaslr-lzo"
SYSTEM_MAP = SAMPLES / "systemmap" / "System.map-6.12.118+deb13-amd64.xz"  # committed


class Patched:
    """An ImageLike whose pages carry byte patches at physical addresses."""

    def __init__(self, base, patches: dict[int, bytes], arch=None) -> None:
        self.base = base
        self.page_size = base.page_size
        self.word_size = base.word_size
        self.pagedir = base.pagedir
        self.info = base.info if arch is None else dataclasses.replace(base.info, arch=arch)
        self.patches = patches
        self.pages_read = 0  # the operation budget of run(): page reads, not seconds

    def _apply(self, pfn: int, data: bytes) -> bytes:
        n = self.page_size
        out = None
        for phys, blob in self.patches.items():
            for i, b in enumerate(blob):
                if (phys + i) // n == pfn:
                    out = out if out is not None else bytearray(data)
                    out[(phys + i) % n] = b
        return data if out is None else bytes(out)

    def read_page(self, pfn: int) -> bytes:
        self.pages_read += 1
        return self._apply(pfn, self.base.read_page(pfn))

    def iter_data_pages(self) -> Iterator[tuple[np.ndarray, bytes]]:
        n = self.page_size
        for pfns, data in self.base.iter_data_pages():
            yield (
                pfns,
                b"".join(
                    self._apply(int(p), bytes(data[i * n : (i + 1) * n]))
                    for i, p in enumerate(pfns.tolist())
                ),
            )


@pytest.fixture(scope="module")
def excerpt():
    return load_excerpt(EXCERPTS / NAME / "memory.kexc.xz")


@pytest.fixture(scope="module")
def sound(excerpt):
    """The undamaged state: where things are, and what a sound read gives."""
    return read_kernel(excerpt).read_all()


def run(image, system_map: Path | None = None, budget: int = 4):
    """Read every part; damage costs at most ``budget`` reads of each saved page (an
    operation budget: a loop in the data would spin here, not slow a busy machine)."""
    state = read_kernel(image, None if system_map is None else str(system_map)).read_all()
    state.dmesg()
    d = to_data(memory_facts(state))
    if isinstance(image, Patched):
        assert image.pages_read <= budget * image.pagedir.pfns.size + 64, image.pages_read
    assert isinstance(d["errors"], list) and all(isinstance(e, str) for e in d["errors"])
    assert not [e for e in d["errors"] if "internal error" in e]
    return state


def test_sound_excerpt_reads_cleanly(sound):
    assert sound.errors == []
    assert sound.kernel_offset == 0x14A00000
    assert sound.e820_checksum_matches is True


def test_no_vmcoreinfo(excerpt, sound):
    """Without VMCOREINFO: page tables still come from the arch record's CR3; with the
    System.map and the record's restore_registers address (KASLR offset), the e820 tables and
    the nosave list are still read."""
    broken = Patched(excerpt, {sound.vmcoreinfo.address + 12: b"XMCOREINFO"})
    state = run(broken)
    assert state.vmcoreinfo is None and state.osrelease is None
    assert any(e.startswith("vmcoreinfo: ") and NO_VMCOREINFO in e for e in state.errors)
    assert state.paging is not None and state.page_table_root == sound.page_table_root
    assert state.log is None and state.page_flags is None
    with_map = run(broken, SYSTEM_MAP)
    assert with_map.symbols_source == "system-map"
    assert with_map.kernel_offset == sound.kernel_offset  # jump_address - restore_registers
    assert (
        image_memory_map(with_map).firmware_entries() == image_memory_map(sound).firmware_entries()
    )
    assert with_map.e820_checksum_matches is True
    assert with_map.nosave == sound.nosave


def test_cr3_in_an_unsaved_page_falls_back_to_init_top_pgt(kernel_cache):
    """(On a committed whole image: the excerpt holds only the tables the CR3 walk used.)"""
    real = kernel_cache.image("deb13-6.12-lz4")
    image, sound = real.image, real.state
    rec = image.info.arch
    saved = set(image.pagedir.pfns.tolist())
    hole = next(p for p in range(1, 1 << 20) if p not in saved)
    state = run(Patched(image, {}, arch=dataclasses.replace(rec, cr3=hole * 4096)))
    assert any(
        "cr3" in e and "not in the image" in e and "used init_top_pgt" in e for e in state.errors
    ), state.errors
    info = sound.vmcoreinfo
    top = (info.symbol("init_top_pgt") - 0xFFFFFFFF80000000 + info.number("phys_base")) % 2**64
    assert state.page_table_root == top != sound.page_table_root
    assert image_memory_map(state).firmware_entries() == image_memory_map(sound).firmware_entries()
    assert state.log_records == sound.log_records


@pytest.mark.parametrize("entry", ["loop", "absurd", "unsaved"])
def test_kernel_half_of_both_roots_broken(excerpt, sound, entry):
    """PML4[511] (the kernel image's 512 GiB) of the CR3 and of init_top_pgt rewritten: a
    loop to the PML4 itself, an address past MAX_PHYSMEM_BITS, a table not in the image."""
    info = sound.vmcoreinfo
    top = (info.symbol("init_top_pgt") - 0xFFFFFFFF80000000 + info.number("phys_base")) % 2**64
    patches = {}
    for root in {sound.page_table_root, top}:
        value = {"loop": root | 0x63, "absurd": (1 << 50) | 0x63, "unsaved": 0x7FFFF000 | 0x63}[
            entry
        ]
        patches[root + 511 * 8] = struct.pack("<Q", value)
    state = run(Patched(excerpt, patches))
    assert state.paging is None
    # a loop gives addresses that do not check out, or that lead off the saved pages
    says = {
        "loop": ("translates to", "not in the image"),
        "absurd": ("past the largest physical address",),
        "unsaved": ("not in the image",),
    }[entry]
    assert any(e.startswith("paging: ") and any(s in e for s in says) for e in state.errors)
    assert state.log is None and image_memory_map(state) is None and state.page_flags is None


def _phys(sound, va: int) -> int:
    return sound.vm.translate(va)


def test_log_ring_with_garbage_indices(excerpt, sound):
    info = sound.vmcoreinfo
    rb = sound.vm.read_word(info.symbol("prb"))
    head = _phys(sound, rb + info.offset("prb_desc_ring", "head_id"))
    state = run(Patched(excerpt, {head: struct.pack("<Q", 0x3FFFFFFFFFFFFFF0)}))
    assert state.log is None
    assert any(e.startswith("log: prb_desc_ring") and "tail_id..head_id" in e for e in state.errors)
    assert state.page_flags is not None and image_memory_map(state) is not None  # the rest is read


def test_log_ring_claiming_a_huge_ring_is_refused_without_allocating(excerpt, sound):
    info = sound.vmcoreinfo
    rb = sound.vm.read_word(info.symbol("prb"))
    bits = _phys(sound, rb + info.offset("printk_ringbuffer", "text_data_ring"))
    state = run(Patched(excerpt, {bits: struct.pack("<I", 28)}), budget=4)
    assert any("all the memory the image saved" in e for e in state.errors), state.errors


def test_corrupt_kallsyms(excerpt, sound):
    """A token index that is not increasing: the table is not used; with a System.map the
    data symbols still resolve (KASLR offset from VMCOREINFO)."""
    at = _phys(sound, sound.vmcoreinfo.symbol("kallsyms_token_index"))
    broken = Patched(excerpt, {at: b"\x05\x00\x03\x00"})
    state = run(broken)
    assert any(e.startswith("kallsyms: kallsyms_token_index") for e in state.errors)
    assert state.symbols is None and image_memory_map(state) is None
    with_map = run(broken, SYSTEM_MAP)
    assert with_map.symbols_source == "system-map"
    assert (
        image_memory_map(with_map).firmware_entries() == image_memory_map(sound).firmware_entries()
    )


def test_nosave_list_loop_and_e820_count(excerpt, sound):
    head = sound.lookup("nosave_regions")
    first = sound.vm.read_word(head)
    fw_ptr = sound.vm.read_word(sound.lookup("e820_table_firmware"))
    state = run(
        Patched(
            excerpt,
            {
                _phys(sound, first): struct.pack("<Q", first),
                _phys(sound, fw_ptr): struct.pack("<I", 99999),
            },
        )
    )
    assert any(e.startswith("nosave: nosave_regions") and "loop" in e for e in state.errors), (
        state.errors
    )
    assert any(
        e.startswith("e820: e820_table_firmware") and "nr_entries" in e for e in state.errors
    )
    assert state.nosave is None and image_memory_map(state) is None
    assert state.log is not None and state.page_flags is not None


def test_struct_pages_not_mapped(excerpt, sound):
    """vmemmap pointing at nothing: the flags are unreadable (counted), never zeros."""
    vm_at = sound.vmcoreinfo.address
    text = sound.vmcoreinfo.note
    old = b"SYMBOL(vmemmap)=" + f"{sound.vmcoreinfo.symbol('vmemmap'):x}".encode()
    new = b"SYMBOL(vmemmap)=" + b"ffffea7000000000"
    assert len(old) == len(new) and old in text
    state = run(Patched(excerpt, {vm_at + text.index(old): new}))
    flags = state.page_flags
    assert flags is not None and not flags.readable.any()
    assert any("struct page of" in e and "not in the image or unmapped" in e for e in state.errors)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_random_damage_never_raises(excerpt, sound, data):
    """Random bytes in the pages the layer reads: only error lines, never an exception."""
    pfns = sorted(excerpt.pages)
    patches = {}
    for _ in range(data.draw(st.integers(1, 40))):
        pfn = data.draw(st.sampled_from(pfns))
        off = data.draw(st.integers(0, excerpt.page_size - 8))
        patches[pfn * excerpt.page_size + off] = data.draw(st.binary(min_size=1, max_size=8))
    run(Patched(excerpt, patches), budget=16)


@pytest.mark.parametrize(("machine", "walker"), [("armv7l", None), ("i686", "i386")])
def test_a_32_bit_image_without_an_arch_record_is_paged_by_its_machine(machine, walker):
    """A generic header (no arch record) from a 32-bit kernel: its uts machine says whether
    the i386 walker applies (32-bit ARM 4.19 images are read by the formats, not paged)."""
    from swsusp_inspect.model import Utsname

    base = load_excerpt(EXCERPTS / "deb12-6.1-i386-nonpae-lzo" / "memory.kexc.xz")
    uts = Utsname("Linux", "(none)", "6.1", "#1", machine, "(none)")
    image = Patched(base, {})
    image.info = dataclasses.replace(base.info, arch=None, uts=uts)
    state = run(image)
    assert state.arch == walker
    if walker is None:
        assert (
            f"paging: no page-table walker for '{machine}' (x86_64, i386 and arm64 are read)"
            in state.errors
        )
    else:
        assert not [e for e in state.errors if "no page-table walker" in e]
