"""On-disk structure families, one module each.

Every module sniffs its layout first (page size, word size, signature variant) and then builds the
construct definitions for that layout from a factory.  Construct ``Container`` objects never leave
this package: each module exposes ``decode_*()`` functions returning :mod:`swsusp_inspect.model`
objects, and construct errors are translated into :class:`~swsusp_inspect.errors.FormatError`
with the file offset at one choke point (:func:`swsusp_inspect.formats.parse.parse_at`).

Modules:
    signatures   what sits at the end of page 0: every signature Linux and its peers wrote
    swap         ``union swap_header`` and ``struct swsusp_header`` (2.6.20 -> now)
    swapmap      ``struct swap_map_page`` chain (2.6.20 -> now)
    snapshot     ``struct swsusp_info`` and the arch records overlaying it
    pagedir      the PFN directory (metadata pages)
    chunks       compressed data chunks (LZO, LZ4) and the kernel's CRC32
"""
