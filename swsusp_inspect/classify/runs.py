"""Runs of equally labelled, contiguous PFNs, and the address-space strip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.classify.codes import (
    CHUNK,
    CODE_LABEL,
    LABELS,
    N_CODES,
    NORMAL,
    RESERVED_RAM,
    U8,
    U64,
)
from swsusp_inspect.classify.labels import Classification


@dataclass(frozen=True)
class Runs:
    """Contiguous runs of saved PFNs with one code inside one interval (numpy columns)."""

    start: U64  # first PFN
    end: U64  # last PFN (inclusive)
    count: npt.NDArray[np.int64]  # entries in the run (== end - start + 1 without duplicates)
    code: U8
    interval: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.start.size)


def runs(c: Classification, codes: Sequence[int] | None = None, *, chunk: int = CHUNK) -> Runs:
    """Runs of consecutive PFNs with equal code, never crossing an interval bound.

    Args:
        c: the classification.
        codes: only runs of these codes (None: all).
    """
    want = np.zeros(N_CODES, dtype=bool)
    want[list(range(N_CODES)) if codes is None else list(codes)] = True
    t = c.table
    refinable = bool(want[RESERVED_RAM])  # kpageflags may put reserved-ram in normal intervals
    parts: list[tuple[U64, U64, npt.NDArray[np.int64], U8, npt.NDArray[np.int64]]] = []
    for k in range(len(t)):
        a, b = int(c.cuts[k]), int(c.cuts[k + 1])
        if a == b:
            continue
        code = int(t.codes[k])
        if not want[code] and not (refinable and code == NORMAL):
            continue
        # carried run: (start, end, count, code) of the last run of the previous chunk
        carry: list[int] | None = None
        for i in range(a, b, chunk):
            j = min(i + chunk, b)
            s = c.pfns[i:j]
            lab = c.labels[i:j]
            brk = np.flatnonzero((s[1:] - s[:-1] > np.uint64(1)) | (lab[1:] != lab[:-1])) + 1
            first = np.concatenate(([0], brk)).astype(np.int64)
            last = np.concatenate((brk - 1, [s.size - 1])).astype(np.int64)
            st, en, cd = s[first], s[last], lab[first]
            cnt = last - first + 1
            if carry is not None:
                if int(st[0]) <= carry[1] + 1 and int(cd[0]) == carry[3]:
                    st = st.copy()
                    st[0] = np.uint64(carry[0])
                    cnt = cnt.copy()
                    cnt[0] += carry[2]
                else:
                    parts.append(_one(carry, k))
            carry = [int(st[-1]), int(en[-1]), int(cnt[-1]), int(cd[-1])]
            if st.size > 1:
                parts.append(
                    (st[:-1], en[:-1], cnt[:-1], cd[:-1], np.full(st.size - 1, k, dtype=np.int64))
                )
        if carry is not None:
            parts.append(_one(carry, k))
    if not parts:
        z = np.zeros(0, dtype=np.uint64)
        return Runs(
            z, z.copy(), np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int64)
        )
    st = np.concatenate([p[0] for p in parts]).astype(np.uint64)
    en = np.concatenate([p[1] for p in parts]).astype(np.uint64)
    cnt = np.concatenate([p[2] for p in parts]).astype(np.int64)
    cd = np.concatenate([p[3] for p in parts]).astype(np.uint8)
    iv = np.concatenate([p[4] for p in parts]).astype(np.int64)
    keep = want[cd]
    return Runs(st[keep], en[keep], cnt[keep], cd[keep], iv[keep])


def _one(
    carry: list[int], k: int
) -> tuple[U64, U64, npt.NDArray[np.int64], U8, npt.NDArray[np.int64]]:
    return (
        np.array([carry[0]], np.uint64),
        np.array([carry[1]], np.uint64),
        np.array([carry[2]], np.int64),
        np.array([carry[3]], np.uint8),
        np.array([k], np.int64),
    )


# ---------------------------------------------------------------------------------- strip


@dataclass(frozen=True)
class StripColumns:
    """Saved pages per label in equal slices of PFN space (for the address-space strip)."""

    bounds: npt.NDArray[np.int64]  # column c covers PFNs [bounds[c], bounds[c + 1])
    saved: npt.NDArray[np.int64]  # saved entries per column
    per_label: npt.NDArray[np.int64]  # [column, label index in LABELS]
    ram_pages: npt.NDArray[np.int64]  # pages fully RAM per the map (-1 per column: no map)


def strip(c: Classification, lo: int, hi: int, width: int) -> StripColumns:
    """Cut ``[lo, hi)`` PFN space into ``width`` columns and count saved pages in each."""
    width = max(1, int(width))
    hi = max(hi, lo + width)
    edges = np.array([lo + (hi - lo) * i // width for i in range(width + 1)], dtype=np.int64)
    idx = np.searchsorted(c.pfns, edges.astype(np.uint64))
    code_to_label = np.array([LABELS.index(CODE_LABEL[i]) for i in range(N_CODES)], dtype=np.int64)
    per = np.zeros((width, len(LABELS)), dtype=np.int64)
    for col in range(width):
        a, b = int(idx[col]), int(idx[col + 1])
        if a == b:
            continue
        if c.relabelled:
            counts = np.zeros(N_CODES, dtype=np.int64)
            for i in range(a, b, CHUNK):
                counts += np.bincount(c.labels[i : min(i + CHUNK, b)], minlength=N_CODES)[:N_CODES]
        else:  # labels are the interval codes: count by overlap, no pass over the labels
            overlap = np.clip(np.minimum(c.cuts[1:], b) - np.maximum(c.cuts[:-1], a), 0, None)
            counts = np.bincount(c.table.codes, weights=overlap, minlength=N_CODES).astype(np.int64)
        np.add.at(per[col], code_to_label, counts)
    saved = np.diff(idx).astype(np.int64)
    t = c.table
    if t.has_map:
        bo = t.bounds.astype(object)
        top = (1 << 63) - 1
        ram_iv = [
            (int(bo[k]), min(int(bo[k + 1]), top))
            for k in range(len(t))
            if t.map_codes[k] == NORMAL
        ]
        ram = np.zeros(width, dtype=np.int64)
        if ram_iv:
            iv = np.array(ram_iv, dtype=np.int64)
            e0, e1 = edges[:-1, None], edges[1:, None]
            ram = np.clip(
                np.minimum(e1, iv[None, :, 1]) - np.maximum(e0, iv[None, :, 0]), 0, None
            ).sum(axis=1)
    else:
        ram = np.full(width, -1, dtype=np.int64)
    return StripColumns(edges, saved, per, ram)
