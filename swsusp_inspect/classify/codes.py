"""Label codes, their precedence and names (see :mod:`swsusp_inspect.classify`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]

# PFN entries are masked below the top bit (6.6+ ENCODED_PFN_ZERO_FLAG), so every PFN < 2**63.
PFN_LIMIT = 1 << 63

NORMAL, RESERVED_RAM, NOSAVE, PARTLY_RAM, NON_RAM, BEYOND_MAP = range(6)
N_CODES = 6
LABELS = ("normal", "reserved-ram", "reserved-non-ram", "nosave")
CODE_LABEL = (
    "normal",
    "reserved-ram",
    "nosave",
    "reserved-non-ram",
    "reserved-non-ram",
    "reserved-non-ram",
)
CODE_REASON = ("normal", "reserved RAM", "nosave", "partly RAM", "not RAM", "beyond the map")

CHUNK = 1 << 20  # PFNs per chunk for every pass that needs temporaries
