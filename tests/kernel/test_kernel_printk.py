"""The three kernel log formats, built byte by byte from the kernel's struct definitions, and
logs with garbage in them."""

from __future__ import annotations

import struct

import pytest
from kernel_helpers import SynthKernel

from swsusp_inspect.kernel import KernelDataError
from swsusp_inspect.kernel.printk import LogRecord, format_dmesg, read_log
from swsusp_inspect.kernel.vmcoreinfo import parse_vmcoreinfo

PRB = 0xFFFFFFFF82C5C380  # &prb (a pointer variable)
RB = 0xFFFFFFFF82C5D000  # the struct printk_ringbuffer
DESCS = 0xFFFFFFFF82C5E000
INFOS = 0xFFFFFFFF82C5F000
DATA = 0xFFFFFFFF82C60000

# the ring buffer lines of a 6.12 x86_64 VMCOREINFO (kernel/printk/printk.c
# log_buf_vmcoreinfo_setup()), copied from the deb13-6.12-lz4 sample's note
RB_INFO = """SYMBOL(prb)={prb:x}
SIZE(printk_ringbuffer)=88
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
OFFSET(printk_ringbuffer.fail)=80
SIZE(prb_desc_ring)=48
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
SIZE(prb_data_blk_lpos)=16
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(printk_info.dev_info)=24
SIZE(prb_data_ring)=32
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
OFFSET(prb_data_ring.head_lpos)=16
OFFSET(prb_data_ring.tail_lpos)=24
"""

SV_SHIFT = 62  # DESC_FLAGS_SHIFT = BITS_PER_LONG - 2
COMMITTED, FINALIZED, REUSABLE = 1, 2, 3


def ring(
    *,
    count_bits: int = 2,
    size_bits: int = 8,
    head: int = 8,
    tail: int = 5,
    descs: list[tuple[int, int, int, int]] | None = None,
    say_count_bits: int | None = None,
    say_size_bits: int | None = None,
) -> tuple[SynthKernel, object]:
    """Four descriptors (ids 5..8 -> indices 1, 2, 3, 0) over a 256-byte text ring;
    ``say_*`` write other sizes into the ring's header than the arrays have."""
    k = SynthKernel()
    size = 1 << size_bits
    data = bytearray(size)

    def block(begin: int, text: bytes, ident: int) -> int:
        """Write a data block at lpos ``begin``; returns ``next``."""
        idx = begin & (size - 1)
        need = 8 + len(text)
        if idx + need > size:  # wraps: the block is written at offset 0
            data[0:need] = struct.pack("<Q", ident) + text
            return (begin - idx) + size + -(-need // 8) * 8
        data[idx : idx + need] = struct.pack("<Q", ident) + text
        return begin + -(-need // 8) * 8

    n5 = block(256 + 64, b"Linux version 6.12.0 (x)", 5)
    n8 = block(256 + 240, b"PM: Need to copy", 8)
    if descs is None:
        descs = [
            (5, FINALIZED, 256 + 64, n5),
            (6, COMMITTED, 3, 3),  # EMPTY_LINE_LPOS: an empty line with no data block
            (7, REUSABLE, 0, 0),  # recycled: not a record
            (8, FINALIZED, 256 + 240, n8),  # wraps to offset 0
        ]
    raw_descs = bytearray(24 * (1 << count_bits))
    raw_infos = bytearray(88 * (1 << count_bits))
    texts = {5: 24, 6: 0, 7: 0, 8: 16}
    for ident, state, begin, nxt in descs:
        i = ident & ((1 << count_bits) - 1)
        struct.pack_into("<QQQ", raw_descs, 24 * i, (state << SV_SHIFT) | ident, begin, nxt)
        # seq, ts_nsec, text_len, facility, flags:5 level:3, caller_id (0x80000000 | cpu)
        struct.pack_into(
            "<QQHBBI",
            raw_infos,
            88 * i,
            ident - 5,
            1_234_567_000 * (ident - 5),
            texts.get(ident, 0),
            0,
            (6 << 5),
            0x80000000 if ident == 8 else 1,
        )
    k.place(PRB & ~0xFFF, bytes(PRB & 0xFFF) + struct.pack("<Q", RB))
    rb = bytearray(88)
    struct.pack_into("<IxxxxQQQQ", rb, 0, say_count_bits or count_bits, DESCS, INFOS, head, tail)
    struct.pack_into("<IxxxxQQQ", rb, 48, say_size_bits or size_bits, DATA, 0, 0)
    k.place(RB, bytes(rb))
    k.place(DESCS, bytes(raw_descs))
    k.place(INFOS, bytes(raw_infos))
    k.place(DATA, bytes(data))
    return k, parse_vmcoreinfo(RB_INFO.format(prb=PRB))


def test_ring_buffer_records():
    k, info = ring()
    records, fmt = read_log(k.vm, info)
    assert fmt == "printk_ringbuffer"
    assert records == [
        LogRecord(0, 0, 6, 0, "T1", "Linux version 6.12.0 (x)"),
        LogRecord(1, 1_234_567_000, 6, 0, "T1", ""),
        LogRecord(3, 3_703_701_000, 6, 0, "C0", "PM: Need to copy"),
    ]
    assert format_dmesg(records) == [
        "[    0.000000] Linux version 6.12.0 (x)",
        "[    1.234567] ",
        "[    3.703701] PM: Need to copy",
    ]
    assert format_dmesg(records[2:], caller=True) == ["[    3.703701][    C0] PM: Need to copy"]


def test_descriptor_of_another_id_is_skipped():
    """A descriptor whose state_var holds another id was reused after the reader's id."""
    k, info = ring(descs=[(5, FINALIZED, 256, 256 + 32), (6 + 4, FINALIZED, 3, 3)])
    records, _ = read_log(k.vm, info)
    assert [r.seq for r in records] == [0]


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"say_count_bits": 30}, "count_bits"),
        ({"say_size_bits": 40}, "size_bits"),
        ({"say_count_bits": 20}, "all the memory the image saved"),  # 16 MiB of descriptors
        ({"head": 5 + 100, "tail": 5}, "tail_id..head_id"),
        ({"head": 1, "tail": 2}, "tail_id..head_id"),  # head behind tail
    ],
)
def test_garbage_indices(kw, says):
    k, info = ring(**kw)
    with pytest.raises(KernelDataError, match=says):
        read_log(k.vm, info)


def test_multiline_records_print_one_line_each():
    rec = LogRecord(7, 5_000_001_000, 4, 0, None, "first\nsecond")
    assert format_dmesg([rec]) == ["[    5.000001] first", "[    5.000001] second"]


# -- 3.5-5.9: struct printk_log records ------------------------------------------------------

LOGBUF_VAR = 0xFFFFFFFF82A00000  # char *log_buf, then u32 variables
LOGBUF = 0xFFFFFFFF82A10000


def printk_log(*, caller: bool = True, first: int = 0xA0, corrupt: str | None = None):
    """log_buf of 256 bytes: two records from 0xa0, the wrap marker, one record at 0."""
    hdr = 24 if caller else 16  # sizeof(struct printk_log), 8-byte aligned

    def rec(ts: int, text: bytes, level: int, cpu: int = 0) -> bytes:
        length = -(-(hdr + len(text)) // 8) * 8
        if corrupt == "len" and text == b"two":
            length = 4
        head = struct.pack("<QHHHBB", ts, length, len(text), 0, 0, level << 5)
        if caller:
            head += struct.pack("<I", 0x80000000 | cpu) + bytes(4)
        return (head + text).ljust(length, b"\0")

    buf = bytearray(256)
    one, two = rec(0, b"one", 5), rec(1_000_000, b"two", 6, cpu=1)
    three = rec(2_500_000_000, b"three", 4)
    buf[0xA0 : 0xA0 + len(one)] = one
    pos = 0xA0 + len(one)
    buf[pos : pos + len(two)] = two
    pos += len(two)
    buf[pos : pos + hdr] = bytes(hdr)  # len == 0: the next record is at index 0
    buf[0 : len(three)] = three
    nxt = len(three)
    k = SynthKernel()
    k.place(LOGBUF, bytes(buf))
    # log_buf, log_buf_len, log_first_idx, log_next_idx, (pad), u64 log_first_seq at +24
    k.place(LOGBUF_VAR, struct.pack("<QIIIIQ", LOGBUF, 256, first, nxt, 0, 41))
    lines = [
        f"SYMBOL(log_buf)={LOGBUF_VAR:x}",
        f"SYMBOL(log_buf_len)={LOGBUF_VAR + 8:x}",
        f"SYMBOL(log_first_idx)={LOGBUF_VAR + 12:x}",
        f"SYMBOL(log_next_idx)={LOGBUF_VAR + 16:x}",
        f"SYMBOL(clear_idx)={LOGBUF_VAR:x}",
        f"SIZE(printk_log)={hdr}",
        "OFFSET(printk_log.ts_nsec)=0",
        "OFFSET(printk_log.len)=8",
        "OFFSET(printk_log.text_len)=10",
        "OFFSET(printk_log.dict_len)=12",
    ]
    if caller:
        lines.append("OFFSET(printk_log.caller_id)=16")
    return k, parse_vmcoreinfo("\n".join(lines) + "\n")


def test_printk_log_records_wrap_at_the_zero_length_marker():
    k, info = printk_log()
    records, fmt = read_log(k.vm, info, lambda n: LOGBUF_VAR + 24 if n == "log_first_seq" else None)
    assert fmt == "printk_log"
    assert records == [
        LogRecord(41, 0, 5, 0, "C0", "one"),
        LogRecord(42, 1_000_000, 6, 0, "C1", "two"),
        LogRecord(43, 2_500_000_000, 4, 0, "C0", "three"),
    ]
    k, info = printk_log(caller=False)
    records, _ = read_log(k.vm, info)
    assert [(r.seq, r.caller, r.text) for r in records] == [
        (None, None, "one"),
        (None, None, "two"),
        (None, None, "three"),
    ]


@pytest.mark.parametrize(
    ("kw", "says"), [({"corrupt": "len"}, "printk_log.len"), ({"first": 0x1000}, "log_first_idx")]
)
def test_printk_log_garbage(kw, says):
    k, info = printk_log(**kw)
    with pytest.raises(KernelDataError, match=says):
        read_log(k.vm, info)


# -- before 3.5: plain text ----------------------------------------------------------------


def test_legacy_text_log_wraps():
    text = b"<6>[    0.000000] Linux version 3.2.0\n<4>[    1.500000] PM: Need to copy 5 pages\n"
    buf = bytearray(b"#" * 128)
    end = 200  # log_end counts every character ever written: the buffer wrapped
    start = end - len(text)
    for i, c in enumerate(text):
        buf[(start + i) % 128] = c
    k = SynthKernel()
    k.place(LOGBUF, bytes(buf))
    k.place(LOGBUF_VAR, struct.pack("<QIII", LOGBUF, 128, end, len(text)))
    info = parse_vmcoreinfo(
        f"SYMBOL(log_buf)={LOGBUF_VAR:x}\nSYMBOL(log_buf_len)="
        f"{LOGBUF_VAR + 8:x}\nSYMBOL(log_end)={LOGBUF_VAR + 12:x}\n"
        f"SYMBOL(logged_chars)={LOGBUF_VAR + 16:x}\n"
    )
    records, fmt = read_log(k.vm, info)
    assert fmt == "text"
    assert records == [
        LogRecord(None, 0, 6, None, None, "Linux version 3.2.0"),
        LogRecord(None, 1_500_000_000, 4, None, None, "PM: Need to copy 5 pages"),
    ]


def test_no_log_described():
    k = SynthKernel()
    with pytest.raises(KernelDataError, match="SYMBOL\\(prb\\)"):
        read_log(k.vm, parse_vmcoreinfo("OSRELEASE=6.1\n"))
