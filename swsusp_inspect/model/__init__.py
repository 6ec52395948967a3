"""The typed model crossing parse -> analysis -> render (stdlib only).

Modules:
    serialize   the one generic JSON serializer (:func:`to_data`, :func:`json_field`)
    image       the image's own structures: swap header, swsusp_info, arch records
    details     format-specific facts (legacy eras, uswsusp)
"""

from __future__ import annotations

from swsusp_inspect.model.image import (
    SF_COMPRESSION_ALG_LZ4,
    SF_CRC32_MODE,
    SF_FLAGS,
    SF_HW_SIG,
    SF_NOCOMPRESS_MODE,
    SF_PLATFORM_MODE,
    ArchRecord,
    Banner,
    Crc32Result,
    SnapshotInfo,
    SwsuspHeader,
    Utsname,
    flag_names,
)
from swsusp_inspect.model.serialize import (
    SCHEMA_VERSION,
    JsonModel,
    json_document,
    json_field,
    to_data,
    to_json,
)

__all__ = [
    "SCHEMA_VERSION",
    "SF_COMPRESSION_ALG_LZ4",
    "SF_CRC32_MODE",
    "SF_FLAGS",
    "SF_HW_SIG",
    "SF_NOCOMPRESS_MODE",
    "SF_PLATFORM_MODE",
    "ArchRecord",
    "Banner",
    "Crc32Result",
    "JsonModel",
    "SnapshotInfo",
    "SwsuspHeader",
    "Utsname",
    "flag_names",
    "json_document",
    "json_field",
    "to_data",
    "to_json",
]
