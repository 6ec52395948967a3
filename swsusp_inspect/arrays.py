"""numpy helpers shared by every layer.

:func:`unique` is ``np.unique`` for the plain case: numpy 2's ``np.unique`` imports
``numpy.ma`` the first time it is called (to ask whether its input is masked), about 7 ms of a
command's start that nothing here needs (benchmarks/README.md, start-up).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["unique"]


def unique(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """The sorted distinct values of ``values`` (flattened), as ``np.unique(values)``."""
    a = np.sort(np.asarray(values), axis=None)
    if a.size > 1:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a
