"""Frozen model objects crossing parse -> analysis -> render (stdlib only).

Field names on the structures keep the kernel's spelling (``orig_sig``, ``image_pages``); numbers
are plain ``int`` (numpy scalars are converted where these objects are built).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, without importing numpy here
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def json_document(model: Any) -> dict[str, Any]:
    """The JSON document of a model object (``to_dict()``), ``schema_version`` first."""
    body: dict[str, Any] = model.to_dict()
    return {"schema_version": SCHEMA_VERSION, **body}


def to_json(model: Any, *, indent: int | None = 2) -> str:
    """Serialise a model object: every number a plain integer, ``schema_version`` first."""
    if indent is None:
        return json.dumps(json_document(model), separators=(",", ":"), default=_json_default)
    return json.dumps(json_document(model), indent=indent, default=_json_default)


class JsonModel:
    """Mixin: ``to_json()`` for model objects that define ``to_dict()``."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_json(self, *, indent: int | None = 2) -> str:
        return to_json(self, indent=indent)

# swsusp_header.flags bits (kernel/power/power.h)
SF_FLAGS: tuple[tuple[int, str], ...] = (
    (1, "SF_PLATFORM_MODE"),
    (2, "SF_NOCOMPRESS_MODE"),
    (4, "SF_CRC32_MODE"),
    (8, "SF_HW_SIG"),
    (16, "SF_COMPRESSION_ALG_LZ4"),
)
SF_PLATFORM_MODE = 1
SF_NOCOMPRESS_MODE = 2
SF_CRC32_MODE = 4
SF_HW_SIG = 8
SF_COMPRESSION_ALG_LZ4 = 16


def flag_names(flags: int, table: tuple[tuple[int, str], ...] = SF_FLAGS) -> list[str]:
    """Names of the bits of ``table`` (default: SF_*) set in ``flags``; unknown bits as ``0x..``."""
    names = [name for bit, name in table if flags & bit]
    known = sum(bit for bit, _ in table)
    if flags & ~known:
        names.append(f"{flags & ~known:#x}")
    return names


@dataclass(frozen=True)
class SwsuspHeader:
    """``struct swsusp_header`` at the end of the swap area's first page."""

    offset: int  # file offset of the header page
    page_size: int
    sector_size: int  # sizeof(sector_t) on disk
    layout: str  # e.g. "2.6.23+" (flags, crc32, hw_sig slots)
    sig: str
    orig_sig: str
    flags: int | None
    image: int  # first swap-map page, in pages from the start of the device
    crc32: int | None  # None when SF_CRC32_MODE is clear (the slot may hold a stale value)
    hw_sig: int | None  # None when SF_HW_SIG is clear

    @property
    def flag_names(self) -> list[str]:
        return flag_names(self.flags or 0)


@dataclass(frozen=True)
class Utsname:
    sysname: str
    nodename: str
    release: str
    version: str
    machine: str
    domainname: str


@dataclass(frozen=True)
class ArchRecord:
    """The architecture record overlaying the start of ``swsusp_info`` (x86, arm64)."""

    name: str  # "x86_64" | "i386" | "arm64"
    layout: str  # which kernel era's record
    magic: int | None
    jump_address: int | None = None
    jump_address_phys: int | None = None
    cr3: int | None = None
    e820_checksum: int | None = None
    e820_checksum_kind: str | None = None  # "crc32" | "md5" | None
    e820_digest: bytes | None = None  # MD5 era: the 16-byte digest (all zero = none)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checksum: int | None = self.e820_checksum
        if self.e820_checksum_kind == "md5" and self.e820_digest is not None:
            checksum = int.from_bytes(self.e820_digest, "big")
        out: dict[str, Any] = {
            "name": self.name,
            "layout": self.layout,
            "magic": self.magic,
            "e820_checksum": checksum,
            "e820_checksum_kind": self.e820_checksum_kind,
            "jump_address": self.jump_address,
            "jump_address_phys": self.jump_address_phys,
            "cr3": self.cr3,
        }
        if self.e820_digest is not None:
            out["e820_digest_hex"] = self.e820_digest.hex()
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class SnapshotInfo:
    """``struct swsusp_info`` (stream page 0)."""

    offset: int  # file offset
    word_size: int  # sizeof(long) of the writer
    num_physpages: int
    cpus: int
    image_pages: int
    pages: int
    size: int
    version_code: int
    uts: Utsname | None  # generic header (no arch record)
    arch: ArchRecord | None

    @property
    def meta_pages(self) -> int:
        # load_header(): nr_meta_pages = pages - image_pages - 1
        return self.pages - self.image_pages - 1


@dataclass(frozen=True)
class Banner:
    """The ``Linux version ...`` banner found in the saved pages."""

    release: str
    banner: str
    found_at_pfn: int
    physical_address: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "banner": self.banner,
            "found_at_pfn": self.found_at_pfn,
            "physical_address": self.physical_address,
        }


@dataclass(frozen=True)
class Crc32Result:
    stored: int | None
    computed: int | None = None

    @property
    def ok(self) -> bool | None:
        if self.computed is None or self.stored is None:
            return None
        return self.computed == self.stored

    def to_dict(self) -> dict[str, Any]:
        return {"stored": self.stored, "computed": self.computed, "ok": self.ok}
