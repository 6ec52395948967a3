"""Rich rendering of the image summary (``info`` / ``verify``)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from swsusp_inspect.model.details import LegacyDetails, UswsuspDetails
from swsusp_inspect.summary import ImageSummary


def _hex(v: int | None) -> str:
    return "-" if v is None else f"{v:#x}"


def _pages(n: int, page_size: int) -> str:
    return f"{n:,} ({n * page_size / 2**20:,.1f} MiB)"


def header_table(s: ImageSummary) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="key", no_wrap=True)
    t.add_column()
    kind = f"{s.container}"
    if s.transport:
        kind += f" ({s.transport}-compressed input)"
    t.add_row("file", f"{s.path}  [dim]{s.file_size:,} bytes, {kind}[/]")
    if s.container == "swap":
        t.add_row("signature", f"{s.signature}  [dim]orig_sig {s.orig_sig}, header layout "
                  f"{s.header_layout}, page size {s.page_size}[/]")
        flags = ", ".join(s.flags) or "none"
        t.add_row("flags", f"{_hex(s.flags_value)}  {flags}")
    else:
        t.add_row("page size", str(s.page_size))
    d = s.details
    usw = d if isinstance(d, UswsuspDetails) else None
    if s.era not in ("2.6.20+", "stream"):
        t.add_row("format", f"{s.era}" + (f"  [dim]{usw.header_layout}[/]" if usw else ""))
    if usw is not None and usw.compression != "none" and s.compression == "none":
        # uswsusp compresses the kernel's raw stream itself
        t.add_row("compression", f"{usw.compression} (userland)"
                  + (f"  [dim]{usw.blocks} blocks[/]" if usw.blocks else ""))
    else:
        t.add_row("compression",
                  s.compression + (f"  [dim]{s.chunks} chunks[/]" if s.chunks else ""))
    if usw is not None and usw.encryption:
        t.add_row("encryption", usw.encryption)
    elif isinstance(d, LegacyDetails) and d.encryption is not None:
        t.add_row("encryption", d.encryption.mode)
    release = s.kernel_release or "[dim]unknown[/]"
    t.add_row("kernel", release)
    if s.banner_error:
        t.add_row("", Text(f"banner search stopped: {s.banner_error}", style="bad"))
    if s.banner is not None:
        t.add_row("", Text(s.banner.banner, style="dim"))
        t.add_row("", f"[dim]banner at PFN {s.banner.found_at_pfn:#x} "
                  f"(phys {s.banner.physical_address:#x})[/]")
    if s.banner_expected_at is not None:
        ok = s.banner is not None and s.banner.physical_address == s.banner_expected_at
        mark = "[ok]matches[/]" if ok else "[bad]differs[/]"
        t.add_row("", f"[dim]System.map linux_banner at phys {s.banner_expected_at:#x}[/] {mark}")
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
    n = s.page_size
    t.add_row("memory (num_physpages)", _pages(s.num_physpages, n))
    t.add_row("saved PFNs", _pages(s.saved_pfns, n))
    t.add_row("  with data (image_pages)", _pages(s.image_pages, n))
    t.add_row("  zero pages (no data)", f"{s.zero_pages:,}")
    t.add_row("metadata pages", f"{s.meta_pages:,}")
    t.add_row("stream pages (pages)", f"{s.pages:,}")
    t.add_row("PFN range", f"{_hex(s.pfn_min)} .. {_hex(s.pfn_max)}")
    if s.pages_beyond_eof:
        t.add_row("pages past end of file", f"{s.pages_beyond_eof:,} [dim](trimmed dump: "
                  "read as zeros)[/]")
    return t


def integrity_text(s: ImageSummary) -> Text:
    checksum = s.details.checksum if isinstance(s.details, UswsuspDetails) else None
    if checksum is not None:
        # uswsusp: MD5 over the whole uncompressed stream
        if checksum.ok:
            return Text.from_markup(f"[ok]MD5 OK[/] {checksum.computed}")
        return Text.from_markup(f"[bad]MD5 MISMATCH[/] stored {checksum.stored}, "
                                f"computed {checksum.computed}")
    if not s.verified:
        stored = "" if s.crc32.stored is None else f"stored CRC32 {s.crc32.stored:#010x}; "
        return Text.from_markup(f"[dim]{stored}not verified (run `verify`)[/]")
    if s.crc32.stored is None:
        state = "[ok]all pages read[/]" if s.verify_ok else "[bad]incomplete[/]"
        return Text.from_markup(f"{state}  [dim]no CRC32 in this image (uncompressed)[/]")
    if s.crc32.ok:
        return Text.from_markup(f"[ok]CRC32 OK[/] {s.crc32.computed:#010x}")
    return Text.from_markup(
        f"[bad]CRC32 MISMATCH[/] stored {s.crc32.stored:#010x}, "
        f"computed {_hex(s.crc32.computed)}"
    )


def render_summary(s: ImageSummary, console: Console) -> None:
    parts: list[Table | Text] = [header_table(s), Text(""), counts_table(s), Text(""),
                           integrity_text(s)]
    for m in s.map_checks:
        style = "ok" if m.matches else "bad" if m.matches is False else "dim"
        parts.append(Text.from_markup(f"[key]map[/] {m.source}: [{style}]{m.explanation}[/]"))
    console.print(Panel(Group(*parts), title="swsusp image", title_align="left", expand=False))
