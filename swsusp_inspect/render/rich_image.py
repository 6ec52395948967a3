"""Rich rendering of the image summary (``info`` / ``verify``)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from swsusp_inspect.model.details import LegacyDetails, UswsuspDetails
from swsusp_inspect.model.summary import ImageSummary


def _hex(v: int | None) -> str:
    return "-" if v is None else f"{v:#x}"


def _crc(v: int | None) -> str:
    return "-" if v is None else f"{v:#010x}"


def _pages(n: int, page_size: int) -> str:
    return f"{n:,} ({n * page_size / 2**20:,.1f} MiB)"


def header_table(s: ImageSummary) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="key", no_wrap=True)
    t.add_column()
    lay, inp = s.layout, s.input
    kind = f"{lay.container}"
    if inp.transport:
        kind += f" ({inp.transport}-compressed input)"
    t.add_row("file", f"{inp.path}  [dim]{inp.file_size:,} bytes, {kind}[/]")
    if lay.container == "swap":
        t.add_row("signature", f"{lay.signature}  [dim]orig_sig {lay.orig_sig}, header layout "
                  f"{lay.header.layout if lay.header else None}, page size {lay.page_size}[/]")
        flags = ", ".join(lay.flags) or "none"
        t.add_row("flags", f"{_hex(lay.flags_value)}  {flags}")
    else:
        t.add_row("page size", str(lay.page_size))
    d = s.details
    usw = d if isinstance(d, UswsuspDetails) else None
    if lay.era not in ("2.6.20+", "stream"):
        t.add_row("format", f"{lay.era}" + (f"  [dim]{usw.header_layout}[/]" if usw else ""))
    chunks = s.integrity.chunks
    if usw is not None and usw.compression != "none" and lay.compression == "none":
        # uswsusp compresses the kernel's raw stream itself
        t.add_row("compression", f"{usw.compression} (userland)"
                  + (f"  [dim]{usw.blocks} blocks[/]" if usw.blocks else ""))
    else:
        t.add_row("compression",
                  lay.compression + (f"  [dim]{chunks} chunks[/]" if chunks else ""))
    if usw is not None and usw.encryption:
        t.add_row("encryption", usw.encryption)
    elif isinstance(d, LegacyDetails) and d.encryption is not None:
        t.add_row("encryption", d.encryption.mode)
    release = s.kernel_release or "[dim]unknown[/]"
    t.add_row("kernel", release)
    k = s.kernel
    if k.error:
        t.add_row("", Text(f"banner search stopped: {k.error}", style="bad"))
    if k.banner is not None:
        t.add_row("", Text(k.banner, style="dim"))
        t.add_row("", f"[dim]banner at PFN {_hex(k.found_at_pfn)} "
                  f"(phys {_hex(k.physical_address)})[/]")
    if k.expected_physical_address is not None:
        ok = k.banner is not None and k.physical_address == k.expected_physical_address
        mark = "[ok]matches[/]" if ok else "[bad]differs[/]"
        t.add_row("", f"[dim]System.map linux_banner at phys "
                  f"{k.expected_physical_address:#x}[/] {mark}")
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
        t.add_row("arch", ", ".join(parts))
    elif s.uts is not None:
        u = s.uts
        t.add_row("uts", f"{u.sysname} {u.release} {u.version} {u.machine}")
    return t


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
        t.add_row("pages past end of file", f"{beyond:,} [dim](trimmed dump: "
                  "read as zeros)[/]")
    return t


def _unreadable_text(s: ImageSummary) -> Text:
    """Salvaging: how many saved pages cannot be read, where, and why."""
    i = s.integrity
    spans = i.unreadable
    where = ", ".join(f"{u.start_pfn:#x}-{u.end_pfn:#x}" for u in spans[:3])
    more = f", ... ({len(spans)} ranges)" if len(spans) > 3 else ""
    text = Text.from_markup(f"[bad]UNREADABLE[/] {i.unreadable_pages:,} saved pages (PFN "
                            f"{where}{more}); no CRC32 over what is missing\n")
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
        return Text.from_markup(f"[bad]MD5 MISMATCH[/] stored {checksum.stored}, "
                                f"computed {checksum.computed}")
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
        f"[bad]CRC32 MISMATCH[/] stored {crc.stored:#010x}, computed {_hex(crc.computed)}")


def memory_table(s: ImageSummary) -> Table | None:
    """What the kernel's own memory in the image says (VMCOREINFO, page tables, symbols)."""
    m = s.memory
    if m is None:
        return None
    t = Table.grid(padding=(0, 2))
    t.add_column(style="key", no_wrap=True)
    t.add_column()
    if m.osrelease is None:
        t.add_row("memory", Text("no VMCOREINFO read from the image", style="dim"))
    else:
        t.add_row("memory", f"VMCOREINFO {m.osrelease}  [dim]at phys "
                  f"{_hex(m.vmcoreinfo_address)}, build-id {m.build_id or '-'}[/]")
        slide = "none" if m.kernel_offset == 0 else _hex(m.kernel_offset)
        t.add_row("", f"[dim]KASLR offset {slide}, {m.paging or 'no page tables'} from "
                  f"{_hex(m.page_table_root)}, symbols: {m.symbols_source or 'none'}[/]")
        log = "-" if m.log_records is None else f"{m.log_records:,} records"
        e820 = {True: "matches the record", False: "DIFFERS from the record",
                None: "not compared"}[m.e820_checksum_matches]
        t.add_row("", f"[dim]log {log}; the e820 table it held {e820}[/]")
    for line in m.errors[:4]:
        t.add_row("", Text(line, style="dim"))
    if len(m.errors) > 4:
        t.add_row("", Text(f"... {len(m.errors) - 4} more (--json)", style="dim"))
    return t


def render_summary(s: ImageSummary, console: Console) -> None:
    parts: list[Table | Text] = [header_table(s), Text(""), counts_table(s), Text(""),
                                 integrity_line(s)]
    memory = memory_table(s)
    if memory is not None:
        parts += [Text(""), memory]
    for m in s.maps:
        style = "ok" if m.matches else "bad" if m.matches is False else "dim"
        parts.append(Text.from_markup(f"[key]map[/] {m.source}: [{style}]{m.explanation}[/]"))
    console.print(Panel(Group(*parts), title="swsusp image", title_align="left", expand=False))
