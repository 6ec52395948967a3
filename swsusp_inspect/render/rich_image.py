"""Rich rendering of the image summary (``info`` / ``verify``)."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from swsusp_inspect.model.checksum import BootChoice, ChecksumVerdict
from swsusp_inspect.model.details import LegacyDetails, UswsuspDetails
from swsusp_inspect.model.summary import ImageSummary
from swsusp_inspect.model.words import plural
from swsusp_inspect.render.layout import grid


def _hex(v: int | None) -> str:
    return "-" if v is None else f"{v:#x}"


def _crc(v: int | None) -> str:
    return "-" if v is None else f"{v:#010x}"


def _pages(n: int, page_size: int) -> str:
    return f"{n:,} ({n * page_size / 2**20:,.1f} MiB)"


def container_words(s: ImageSummary) -> str:
    """What holds the image, named as its writer names it."""
    lay = s.layout
    if lay.era == "uswsusp":
        where = " in a swap area" if lay.signature else ""
        return f"s2disk (uswsusp) image{where}"
    if lay.container == "swap":
        return "kernel image in a swap area"
    return "/dev/snapshot stream"


def _file_rows(s: ImageSummary) -> list[tuple[str, RenderableType]]:
    lay, inp = s.layout, s.input
    kind = container_words(s)
    if inp.transport:
        kind += f" ({inp.transport}-compressed input)"
    rows: list[tuple[str, RenderableType]] = [
        ("file", Text.assemble(inp.path, (f"  {inp.file_size:,} bytes, {kind}", "dim")))
    ]
    if lay.container == "swap":
        layout = lay.header.layout if lay.header else None
        rows.append(
            (
                "signature",
                Text.assemble(
                    lay.signature or "-",
                    (
                        f"  orig_sig {lay.orig_sig}, header layout {layout}, "
                        f"page size {lay.page_size}",
                        "dim",
                    ),
                ),
            )
        )
        rows.append(("flags", f"{_hex(lay.flags_value)}  {', '.join(lay.flags) or 'none'}"))
    else:
        sig = f"  signature {lay.signature}" if lay.signature else ""
        rows.append(("page size", Text.assemble(str(lay.page_size), (sig, "dim"))))
    return rows


def _format_rows(s: ImageSummary) -> list[tuple[str, RenderableType]]:
    lay, d = s.layout, s.details
    usw = d if isinstance(d, UswsuspDetails) else None
    rows: list[tuple[str, RenderableType]] = []
    if lay.era not in ("2.6.20+", "stream"):
        rows.append(
            ("format", Text.assemble(lay.era, (f"  {usw.header_layout}" if usw else "", "dim")))
        )
    chunks = s.integrity.chunks
    if usw is not None and usw.compression != "none" and lay.compression == "none":
        # uswsusp compresses the kernel's raw stream itself
        blocks = f"  {plural(usw.blocks, 'block')}" if usw.blocks else ""
        rows.append(
            ("compression", Text.assemble(f"{usw.compression} (userland)", (blocks, "dim")))
        )
    else:
        rows.append(
            (
                "compression",
                Text.assemble(
                    lay.compression, (f"  {plural(chunks, 'chunk')}" if chunks else "", "dim")
                ),
            )
        )
    if usw is not None and usw.encryption:
        rows.append(("encryption", usw.encryption))
    elif isinstance(d, LegacyDetails) and d.encryption is not None:
        rows.append(("encryption", d.encryption.mode))
    return rows


def _kernel_rows(s: ImageSummary) -> list[tuple[str, RenderableType]]:
    k = s.kernel
    rows: list[tuple[str, RenderableType]] = [
        ("kernel", s.kernel_release or Text("unknown", style="dim"))
    ]
    if k.error:
        rows.append(("", Text(f"banner search stopped: {k.error}", style="bad")))
    if k.banner is not None:
        rows.append(("", Text(k.banner, style="dim")))
        rows.append(
            (
                "",
                Text(
                    f"banner at PFN {_hex(k.found_at_pfn)} (phys {_hex(k.physical_address)})",
                    style="dim",
                ),
            )
        )
    if k.expected_physical_address is not None:
        ok = k.banner is not None and k.physical_address == k.expected_physical_address
        rows.append(
            (
                "",
                Text.assemble(
                    (f"System.map linux_banner at phys {k.expected_physical_address:#x} ", "dim"),
                    ("matches", "ok") if ok else ("differs", "bad"),
                ),
            )
        )
    return rows


def _arch_rows(s: ImageSummary) -> list[tuple[str, RenderableType]]:
    if s.arch is not None:
        a = s.arch
        parts = [f"{a.name} record {a.layout}", f"magic {_hex(a.magic)}"]
        if a.jump_address_phys is not None:
            parts.append(f"jump_address_phys {_hex(a.jump_address_phys)}")
        if a.cr3 is not None:
            parts.append(f"cr3 {_hex(a.cr3)}")
        if a.e820_checksum_kind:
            parts.append(f"e820 {a.e820_checksum_kind} {_hex(a.e820_checksum)}")
        if a.uts_version:
            parts.append(f"uts_version {a.uts_version}")
        return [("arch", ", ".join(parts))]
    if s.uts is not None:
        u = s.uts
        return [("uts", f"{u.sysname} {u.release} {u.version} {u.machine}")]
    return []


def header_table(s: ImageSummary) -> Table:
    """File, layout, compression, kernel and arch record, one key per row."""
    return grid([*_file_rows(s), *_format_rows(s), *_kernel_rows(s), *_arch_rows(s)])


def counts_table(s: ImageSummary) -> Table:
    t = Table(box=None, show_header=False, padding=(0, 2))
    t.add_column(style="key")
    t.add_column(justify="right")
    n = s.layout.page_size
    st, d = s.stream, s.directory
    t.add_row("memory (num_physpages)", _pages(st.num_physpages, n))
    t.add_row("saved PFNs", _pages(d.saved_pfns, n))
    t.add_row("  with data (image_pages)", _pages(st.image_pages, n))
    t.add_row("  zero pages (no data)", f"{d.zero_pages:,}")
    t.add_row("metadata pages", f"{st.meta_pages:,}")
    t.add_row("stream pages (pages)", f"{st.pages:,}")
    t.add_row("PFN range", f"{_hex(d.pfn_min)} .. {_hex(d.pfn_max)}")
    beyond = s.integrity.pages_beyond_eof
    if beyond:
        t.add_row("pages past end of file", f"{beyond:,} [dim](trimmed dump: read as zeros)[/]")
    return t


def _unreadable_text(s: ImageSummary) -> Text:
    """Salvaging: how many saved pages cannot be read, where, and why."""
    i = s.integrity
    spans = i.unreadable
    where = ", ".join(f"{u.start_pfn:#x}-{u.end_pfn:#x}" for u in spans[:3])
    more = f", ... ({len(spans)} ranges)" if len(spans) > 3 else ""
    text = Text.from_markup(
        f"[bad]UNREADABLE[/] {i.unreadable_pages:,} saved pages (PFN "
        f"{where}{more}); no CRC32 over what is missing\n"
    )
    text.append(spans[0].reason if spans else "", style="dim")
    return text


def integrity_line(s: ImageSummary) -> Text:
    """The integrity line: the pages that cannot be read when there are, else the checksum."""
    return _unreadable_text(s) if s.integrity.unreadable_pages else integrity_text(s)


def integrity_text(s: ImageSummary) -> Text:
    checksum = s.details.checksum if isinstance(s.details, UswsuspDetails) else None
    if checksum is not None:
        # uswsusp: MD5 over the whole uncompressed stream
        if checksum.ok:
            return Text.from_markup(f"[ok]MD5 OK[/] {checksum.computed}")
        return Text.from_markup(
            f"[bad]MD5 MISMATCH[/] stored {checksum.stored}, computed {checksum.computed}"
        )
    i = s.integrity
    crc = i.crc32
    if not i.verified:
        stored = "" if crc.stored is None else f"stored CRC32 {crc.stored:#010x}; "
        return Text.from_markup(f"[dim]{stored}not verified (run `verify`)[/]")
    if crc.stored is None:
        state = "[ok]all pages read[/]" if i.verify_ok else "[bad]incomplete[/]"
        return Text.from_markup(f"{state}  [dim]no CRC32 in this image (uncompressed)[/]")
    if crc.ok:
        return Text.from_markup(f"[ok]CRC32 OK[/] {_crc(crc.computed)}")
    return Text.from_markup(
        f"[bad]CRC32 MISMATCH[/] stored {crc.stored:#010x}, computed {_hex(crc.computed)}"
    )


VERDICT_STYLE = {ChecksumVerdict.MATCH: "ok", ChecksumVerdict.MISMATCH: "bad"}


def map_rows(
    inputs: list[tuple[str, str, BootChoice | None]], verdict: ChecksumVerdict, explanation: str
) -> list[tuple[str, RenderableType]]:
    """The map files (with the boot read from a log of several, and why), then the one
    checksum verdict ``info``, ``audit`` and ``map diff`` share."""
    rows: list[tuple[str, RenderableType]] = []
    for i, (source, fmt, boot) in enumerate(inputs):
        text = Text(f"{source} ({fmt})")
        if boot is not None:
            text.append(f", boot {boot.index} of {boot.count}: {boot.reason}", style="dim")
        rows.append(("map" if i == 0 else "", text))
    rows.append(("", Text(explanation, style=VERDICT_STYLE.get(verdict, "dim"))))
    return rows


def memory_rows(s: ImageSummary) -> list[tuple[str, RenderableType]]:
    """What the kernel's own memory in the image says (VMCOREINFO, page tables, symbols)."""
    m = s.memory
    if m is None:
        return []
    rows: list[tuple[str, RenderableType]] = []
    if m.osrelease is None:
        rows.append(("memory", Text("no VMCOREINFO read from the image", style="dim")))
    else:
        rows.append(
            (
                "memory",
                Text.assemble(
                    f"VMCOREINFO {m.osrelease}",
                    (
                        f"  at phys {_hex(m.vmcoreinfo_address)}, build-id {m.build_id or '-'}",
                        "dim",
                    ),
                ),
            )
        )
        slide = "none" if m.kernel_offset == 0 else _hex(m.kernel_offset)
        rows.append(
            (
                "",
                Text(
                    f"KASLR offset {slide}, {m.paging or 'no page tables'} from "
                    f"{_hex(m.page_table_root)}, symbols: "
                    f"{m.symbols_source or 'none'}",
                    style="dim",
                ),
            )
        )
        log = "-" if m.log_records is None else plural(m.log_records, "record")
        e820 = {True: "matches the record", False: "DIFFERS from the record", None: "not compared"}[
            m.e820_checksum_matches
        ]
        rows.append(("", Text(f"log {log}; the e820 table it held {e820}", style="dim")))
    rows += [("", Text(line, style="dim")) for line in m.errors[:4]]
    if len(m.errors) > 4:
        rows.append(
            ("", Text(f"... {plural(len(m.errors) - 4, 'more error')} (--json)", style="dim"))
        )
    return rows


def render_summary(s: ImageSummary, console: Console) -> None:
    rows: list[tuple[str, RenderableType]] = [("integrity", integrity_line(s))]
    for m in s.maps:
        rows += map_rows([(m.source, m.format, m.boot)], m.verdict, m.explanation)
    rows += memory_rows(s)
    parts: list[RenderableType] = [header_table(s), Text(""), counts_table(s), Text(""), grid(rows)]
    console.print(Panel(Group(*parts), title="swsusp image", title_align="left", expand=False))
