"""An opened hibernation image: pages by PFN, integrity, the kernel banner.

Modules:
    hibernation   :class:`HibernationImage` and :func:`open_image` (page access)
    directory     the PFN directory read from the metadata pages; stream pages placed by PFN
    verify        every stream page read, the kernel's CRC32
    banner        ``linux_banner`` among the saved pages
    parallel      forked workers over ranges of compressed chunks
"""

from __future__ import annotations

from swsusp_inspect.image.banner import best_banner
from swsusp_inspect.image.hibernation import HibernationImage, open_image
from swsusp_inspect.image.verify import VerifyResult

__all__ = ["HibernationImage", "VerifyResult", "best_banner", "open_image"]
