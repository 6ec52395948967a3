"""The /proc/kpageflags reader: raw, xz, gzip, bounded, and its errors."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest

from swsusp_inspect.errors import FormatError, SwsuspError
from swsusp_inspect.inputs.kpageflags import KPF_RESERVED, load_kpageflags

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _flags(n: int) -> np.ndarray:
    f = np.arange(n, dtype=np.uint64) << np.uint64(8)
    f[::3] |= np.uint64(1) << np.uint64(KPF_RESERVED)
    return f


@pytest.mark.parametrize("kind", ["raw", "xz", "gzip"])
def test_reads_every_transport(tmp_path: Path, kind: str) -> None:
    f = _flags(1000)
    data = f.astype("<u8").tobytes()
    packed = {"raw": data, "xz": lzma.compress(data), "gzip": gzip.compress(data)}[kind]
    path = tmp_path / "kpf"
    path.write_bytes(packed)
    k = load_kpageflags(path)
    assert np.array_equal(k.flags, f)
    assert k.pfns == 1000 and k.file_pfns == 1000
    assert k.transport == (None if kind == "raw" else kind)
    pfns = np.array([0, 1, 3, 999, 1000, 5000], dtype=np.uint64)
    assert k.bit(pfns, KPF_RESERVED).tolist() == [True, False, True, True, False, False]


@pytest.mark.parametrize("kind", ["raw", "xz"])
def test_limit_bounds_what_is_held(tmp_path: Path, kind: str) -> None:
    data = _flags(1 << 16).astype("<u8").tobytes()
    path = tmp_path / "kpf"
    path.write_bytes(data if kind == "raw" else lzma.compress(data))
    k = load_kpageflags(path, limit_pfns=100)
    assert k.pfns == 100
    assert k.file_pfns == (1 << 16 if kind == "raw" else None)  # not read to its end


@pytest.mark.parametrize(
    "data", [b"", b"\0" * 12, lzma.compress(b"\0" * 12), lzma.compress(b"\0" * 64)[:-8]]
)
def test_bad_files_are_format_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "kpf"
    path.write_bytes(data)
    with pytest.raises(FormatError) as exc:
        load_kpageflags(path)
    assert "kpageflags" in str(exc.value) and isinstance(exc.value, SwsuspError)


def test_sample_kpageflags_match_plain_decoding() -> None:
    path = next(SAMPLES.glob("deb*/kpageflags.bin.xz"))
    want = np.frombuffer(lzma.decompress(path.read_bytes()), "<u8")
    k = load_kpageflags(path)
    assert np.array_equal(k.flags, want) and k.file_pfns == want.size
