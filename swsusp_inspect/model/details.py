"""Format-specific facts of an image (``details`` in ``info --json``), one type per family.

The current kernel layout has none (``details`` is absent from its JSON); the legacy eras and
uswsusp (``s2disk``) say how they were read.  Every key is documented in docs/json.md.
"""

from __future__ import annotations

from swsusp_inspect.model.serialize import json_field, record

__all__ = [
    "AesKeyInClear",
    "FormatDetails",
    "HighmemNote",
    "LegacyDetails",
    "Md5Check",
    "PagedirOverflow",
    "UswsuspDetails",
]


@record
class PagedirOverflow:
    """x86_64 2.6.9-2.6.15: pbe pages past the slots of ``swsusp_info.pagedir[]`` on disk."""

    pagedir_pages: int
    slots_on_disk: int
    pbes_unreachable: int
    note: str


@record
class AesKeyInClear:
    """2.6.14-2.6.15 ``CONFIG_SWSUSP_ENCRYPT``: AES key and IV left in clear in the header."""

    mode: str
    cipher: str
    key_iv_offset: int
    key: str  # hex
    iv: str  # hex
    note: str


@record
class HighmemNote:
    """i386 eras that copied highmem into lowmem buffers (``save_highmem()``)."""

    lowmem_end_pfn: int
    highmem_pfns: int
    addressable_by_pfn: bool
    note: str


@record
class LegacyDetails:
    """How an image of the 2.4/2.5 patches, pmdisk or 2.6.x-2.6.19 was read (None: the era
    has no such fact; left out of the JSON)."""

    pointers: str
    swap_type: int | None
    verify: str
    signature_bytes: str | None = json_field(default=None, omit="none")
    link_next_encoding: str | None = json_field(default=None, omit="none")
    machine: str | None = json_field(default=None, omit="none")
    version: str | None = json_field(default=None, omit="none")
    release_from_version_code: str | None = json_field(default=None, omit="none")
    suspend_pagedir: int | None = json_field(default=None, omit="none")
    pagedir_pages: int | None = json_field(default=None, omit="none")
    pbes_per_page: int | None = json_field(default=None, omit="none")
    pagedir_layout: str | None = json_field(default=None, omit="none")
    pagedir_overflow: PagedirOverflow | None = json_field(default=None, omit="none")
    map_pages_order: str | None = json_field(default=None, omit="none")
    image_pages_declared: int | None = json_field(default=None, omit="none")
    metadata: str | None = json_field(default=None, omit="none")
    page_offset: int | None = json_field(default=None, omit="none")
    page_offset_how: str | None = json_field(default=None, omit="none")
    page_offset_reason: str | None = json_field(default=None, omit="none")
    kernel_text_addresses: int | None = json_field(default=None, omit="none")
    highmem: HighmemNote | None = json_field(default=None, omit="none")
    encryption: AesKeyInClear | None = json_field(default=None, omit="none")


@record(kw_only=True)
class Md5Check:
    """uswsusp's MD5 over the whole uncompressed stream (hex digests)."""

    kind: str = json_field(init=False, default="md5")
    stored: str
    computed: str
    ok: bool


@record(kw_only=True)
class UswsuspDetails:
    """The suspend-utils (``s2disk``) container around the kernel's stream."""

    format: str = json_field(init=False, default="uswsusp")
    signature: str
    orig_sig: str
    image: int  # byte offset of the image_header_info page
    header_layout: str
    word_size: int
    flags: int
    flag_names: tuple[str, ...]
    pages: int
    map_start: int
    image_data_size: int
    extents_pages: tuple[int, ...]
    data_pages_read: int
    compression: str  # "lzo" | "none"
    blocks: int | None
    encryption: str | None  # None, "blowfish-cfb/passphrase" or "blowfish-cfb/rsa"
    checksum: Md5Check | None
    writeout_time: float
    resume_pause: int
    platform_suspend: bool
    input_file_size: int


FormatDetails = LegacyDetails | UswsuspDetails
