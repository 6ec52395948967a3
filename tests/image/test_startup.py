"""Start-up and the work `info` and `verify` do: what `info --json` imports, where the banner
search stops, and the job count chosen on a busy machine (speed itself is measured in
benchmarks/, not here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from swsusp_inspect.image import banner as fbanner
from swsusp_inspect.image import open_image
from swsusp_inspect.image.parallel import PARALLEL_MIN_BYTES, auto_jobs, free_cores

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
REAL = sorted(p for p in SAMPLES.glob("deb*/swap.img.xz")) + sorted(
    SAMPLES.glob("sid*/swap.img.xz")
)


def test_info_json_imports_only_what_it_needs(plain_sample: Callable[[str], Path]) -> None:
    image = plain_sample("deb12-6.1-lzo")  # decompressed once a session, not in the child
    code = (
        "import sys\n"
        "from swsusp_inspect.cli import main\n"
        "try:\n"
        f"    main(['info', '--json', {str(image)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = ('rich', 'swsusp_inspect.formats.legacy', 'swsusp_inspect.formats.uswsusp',\n"
        "         'swsusp_inspect.e820', 'swsusp_inspect.auditor', 'swsusp_inspect.model.report',\n"
        "         'numpy.ma')\n"
        "print('LOADED', [n for n in names if n in sys.modules], file=sys.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "LOADED []" in r.stderr


# one sample in the default run, every real one with -m slow (each expands 20-80 MB first)
@pytest.mark.parametrize(
    "image",
    [
        pytest.param(
            p, id=p.parent.name, marks=() if p.parent.name == "deb12-6.1-lzo" else pytest.mark.slow
        )
        for p in REAL
    ],
)
def test_banner_search_stops_at_the_real_banner(image: Path) -> None:
    """Stopping at the first banner with a build number finds what the whole window holds."""
    with open_image(image) as img:
        found = img.find_banner()
        start = fbanner.search_windows(img)[0][0]
        first = int(img.pagedir.data_pfns.searchsorted(start))
        stop = start + fbanner.WINDOW // img.page_size
        everything = [
            b
            for pfns, data in img.iter_data_pages(first)
            if int(pfns[0]) < stop
            for b in fbanner.search(pfns, data, img.page_size)
        ]
    assert found is not None and found == fbanner.best_banner(everything)
    assert fbanner.has_build_number(found)


def test_a_busy_machine_gets_one_job() -> None:
    cores = len(os.sched_getaffinity(0))
    spin = "import sys; sys.stdout.write('.'); sys.stdout.flush()\nwhile True: pass"
    busy = [
        subprocess.Popen([sys.executable, "-S", "-c", spin], stdout=subprocess.PIPE)
        for _ in range(cores)
    ]
    try:
        for p in busy:  # each spinner is running once it has said so
            assert p.stdout is not None and p.stdout.read(1) == b"."
        assert max(free_cores() for _ in range(5)) == 1
        assert auto_jobs(64 * PARALLEL_MIN_BYTES) == 1
    finally:
        for p in busy:
            p.kill()
            p.communicate()


def test_small_work_gets_one_job() -> None:
    assert auto_jobs(PARALLEL_MIN_BYTES - 1) == 1
    assert 1 <= auto_jobs(8 * PARALLEL_MIN_BYTES) <= len(os.sched_getaffinity(0))


@given(
    st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=200),
    st.sampled_from([np.uint64, np.int64, np.uint32]),
)
@settings(max_examples=examples(60), deadline=None)
def test_arrays_unique_is_np_unique(values: list[int], dtype: type) -> None:
    """The package's ``unique`` (no numpy.ma) gives what ``np.unique`` gives."""
    from swsusp_inspect.arrays import unique

    info = np.iinfo(dtype)
    a = np.array([v for v in values if info.min <= v <= info.max], dtype=dtype)
    got = unique(a)
    assert got.dtype == a.dtype
    assert np.array_equal(got, np.unique(a))
