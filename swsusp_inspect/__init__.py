"""swsusp-inspect: open Linux hibernation (swsusp) images and audit what they saved.

Public API (imported on first use, so ``import swsusp_inspect`` stays cheap)::

    from swsusp_inspect import audit, load_memory_map, open_image

    with open_image("swap.img.xz") as img:
        print(img.info.image_pages, img.pagedir.saved_pfns)
        report = audit(img, maps=[load_memory_map("dmesg.txt")])
    print(report.labels, report.exit_code())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from swsusp_inspect._version import __version__

if TYPE_CHECKING:
    from swsusp_inspect.auditor import audit
    from swsusp_inspect.e820 import MemoryMap, load_memory_map
    from swsusp_inspect.errors import (
        FormatError,
        MapError,
        NotAnImageError,
        SwsuspError,
        UnsupportedFormatError,
    )
    from swsusp_inspect.exitcodes import ExitCode
    from swsusp_inspect.export.raw import ExtractResult, extract_raw
    from swsusp_inspect.image import HibernationImage, VerifyResult, open_image
    from swsusp_inspect.inputs.kpageflags import KPageFlags, load_kpageflags
    from swsusp_inspect.inputs.system_map import SystemMap, load_system_map
    from swsusp_inspect.model.findings import Finding, Severity
    from swsusp_inspect.model.report import Report
    from swsusp_inspect.model.summary import ImageSummary
    from swsusp_inspect.run import Inputs, run_audit, run_summary
    from swsusp_inspect.summary import check_map, summarize

_EXPORTS = {
    "open_image": "swsusp_inspect.image",
    "HibernationImage": "swsusp_inspect.image",
    "VerifyResult": "swsusp_inspect.image",
    "summarize": "swsusp_inspect.summary",
    "check_map": "swsusp_inspect.summary",
    "ImageSummary": "swsusp_inspect.model.summary",
    "extract_raw": "swsusp_inspect.export.raw",
    "ExtractResult": "swsusp_inspect.export.raw",
    "audit": "swsusp_inspect.auditor",
    "Report": "swsusp_inspect.model.report",
    "Finding": "swsusp_inspect.model.findings",
    "Severity": "swsusp_inspect.model.findings",
    "ExitCode": "swsusp_inspect.exitcodes",
    "Inputs": "swsusp_inspect.run",
    "run_audit": "swsusp_inspect.run",
    "run_summary": "swsusp_inspect.run",
    "load_kpageflags": "swsusp_inspect.inputs.kpageflags",
    "KPageFlags": "swsusp_inspect.inputs.kpageflags",
    "load_system_map": "swsusp_inspect.inputs.system_map",
    "SystemMap": "swsusp_inspect.inputs.system_map",
    "load_memory_map": "swsusp_inspect.e820",
    "MemoryMap": "swsusp_inspect.e820",
    "SwsuspError": "swsusp_inspect.errors",
    "FormatError": "swsusp_inspect.errors",
    "NotAnImageError": "swsusp_inspect.errors",
    "UnsupportedFormatError": "swsusp_inspect.errors",
    "MapError": "swsusp_inspect.errors",
}

__all__ = [
    "ExitCode",
    "ExtractResult",
    "Finding",
    "FormatError",
    "HibernationImage",
    "ImageSummary",
    "Inputs",
    "KPageFlags",
    "MapError",
    "MemoryMap",
    "NotAnImageError",
    "Report",
    "Severity",
    "SwsuspError",
    "SystemMap",
    "UnsupportedFormatError",
    "VerifyResult",
    "__version__",
    "audit",
    "check_map",
    "extract_raw",
    "load_kpageflags",
    "load_memory_map",
    "load_system_map",
    "open_image",
    "run_audit",
    "run_summary",
    "summarize",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'swsusp_inspect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
