"""swsusp-inspect: open Linux hibernation (swsusp) images and audit what they saved.

Public API (imported lazily, so ``import swsusp_inspect`` stays cheap)::

    from swsusp_inspect import open_image, summarize, load_memory_map

    with open_image("swap.img.xz") as img:
        print(img.info.image_pages, img.pagedir.saved_pfns)
        page = img.read_page(0x1000)
"""

from __future__ import annotations

import importlib
from typing import Any

from swsusp_inspect._version import __version__ as __version__

_EXPORTS = {
    "open_image": "swsusp_inspect.image",
    "HibernationImage": "swsusp_inspect.image",
    "VerifyResult": "swsusp_inspect.image",
    "summarize": "swsusp_inspect.summary",
    "ImageSummary": "swsusp_inspect.summary",
    "check_map": "swsusp_inspect.summary",
    "extract_raw": "swsusp_inspect.extract",
    "audit": "swsusp_inspect.auditor",
    "Report": "swsusp_inspect.report",
    "load_kpageflags": "swsusp_inspect.kpageflags",
    "load_system_map": "swsusp_inspect.symbols",
    "load_memory_map": "swsusp_inspect.e820",
    "MemoryMap": "swsusp_inspect.e820",
    "SwsuspError": "swsusp_inspect.errors",
    "FormatError": "swsusp_inspect.errors",
    "NotAnImageError": "swsusp_inspect.errors",
    "UnsupportedFormatError": "swsusp_inspect.errors",
    "MapError": "swsusp_inspect.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'swsusp_inspect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
