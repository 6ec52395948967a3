"""Forge the swap-map eras (2.6.16, 2.6.17, 2.6.19): the snapshot stream listed by swap-map
pages.

    2.6.16           swsusp_info, metadata (orig_address), data, then the swap-map pages in
                     reverse (next_swap names the following page), header page
    2.6.17 / 2.6.19  first swap-map page, then each stream page, a new map page whenever one
                     fills (swap.c swap_write_page), header page

References:
    kernel/power/swsusp.c 2.6.16 (``struct swap_map_page``, ``MAP_PAGE_SIZE``);
    kernel/power/swap.c 2.6.17-2.6.19 (``swap_write_page()``, ``flush_swap_writer()``); the
    2.6.19 PFN directory as kernel/power/snapshot.c writes it: the layouts are in
    :mod:`swsusp_inspect.formats.legacy.structs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swsusp_inspect.forge.legacy_encode import pad, release, uts_bytes, words
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats import snapshot
from swsusp_inspect.formats.legacy import structs as lg

if TYPE_CHECKING:
    from swsusp_inspect.forge.legacy import Build, ForgedLegacy

__all__ = ["forge_stream_era"]


def _stream_head(b: Build, layout: str, meta_n: int, stream_n: int) -> list[bytes]:
    """The stream's first pages: swsusp_info, then the metadata (orig_address words, or the
    2.6.19 PFN directory)."""
    spec, n, w, count = b.spec, b.n, b.w, b.count
    uts = uts_bytes(release(b.vc), b.machine)
    num_phys = spec.num_physpages or count
    if layout == "2.6.16":
        info = pad(
            lg.info_2616_struct(w).build(
                {
                    "uts": uts,
                    "version_code": b.vc,
                    "num_physpages": num_phys,
                    "cpus": spec.cpus,
                    "image_pages": count,
                    "pages": stream_n,
                }
            ),
            n,
        )
        meta = pad(words(b.vas, w), n)
    else:
        info = snapshot.build_info(
            page_size=n,
            num_physpages=num_phys,
            image_pages=count,
            pages=stream_n,
            uts=uts,
            version_code=b.vc,
            cpus=spec.cpus,
            word_size=w,
        )
        meta = (
            fpagedir.build(b.pfns, None, w, n) if spec.era == "2.6.19" else pad(words(b.vas, w), n)
        )
    return [info] + [meta[i * n : (i + 1) * n] for i in range(meta_n)]


def _maps_2616(b: Build, stream_n: int, per_map: int) -> tuple[list[int], list[int]]:
    """2.6.16: the stream pages first, then the swap-map pages in reverse (each names the
    following one).  Returns the stream pages' and the map pages' offsets."""
    w, swap_type = b.w, b.spec.swap_type
    n_maps = -(-stream_n // per_map)
    offs = [b.alloc() for _ in range(stream_n)]
    map_offs = [0] * n_maps
    for k in reversed(range(n_maps)):  # written last, last map page first
        map_offs[k] = b.alloc()
    for k in range(n_maps):
        ents = [
            lg.swp_entry(o, w, lg.ENC_SWP_ENTRY, swap_type)
            for o in offs[k * per_map : (k + 1) * per_map]
        ]
        chain = (
            lg.swp_entry(map_offs[k + 1], w, lg.ENC_SWP_ENTRY, swap_type) if k + 1 < n_maps else 0
        )
        kptr = b.po + 0x00600000 + (k - 1) * b.n if k else 0  # in-memory .next (garbage)
        b.pages[map_offs[k]] = words([*ents, *[0] * (per_map - len(ents)), chain, kptr], w)
    return offs, map_offs


def _maps_2617(b: Build, stream_n: int, per_map: int) -> tuple[list[int], list[int]]:
    """2.6.17+: the first map page, then each stream page, a new map page whenever one fills
    (swap_write_page).  Returns the stream pages' and the map pages' offsets."""
    w = b.w
    map_offs = [b.alloc()]
    offs = []
    cur: list[int] = []
    for _ in range(stream_n):
        off = b.alloc()
        offs.append(off)
        cur.append(off)
        if len(cur) == per_map:
            next_map = b.alloc()
            b.pages[map_offs[-1]] = words([*cur, next_map], w)
            map_offs.append(next_map)
            cur = []
    # flush_swap_writer(): the current map page, even if the last one filled up
    b.pages[map_offs[-1]] = words([*cur, *[0] * (per_map - len(cur)), 0], w)
    return offs, map_offs


def forge_stream_era(b: Build, res: ForgedLegacy) -> None:
    spec, n, w, count = b.spec, b.n, b.w, b.count
    layout = "2.6.16" if spec.era == "2.6.16" else "2.6.17"
    meta_n = -(-count * w // n)
    stream_n = count + meta_n + 1
    stream_pages = _stream_head(b, layout, meta_n, stream_n)
    per_map, _ = lg.map_geometry(n, w, layout)
    blob = b"" if spec.zero_data else b.data_bytes()
    maps = _maps_2616 if layout == "2.6.16" else _maps_2617
    offs, map_offs = maps(b, stream_n, per_map)
    for i, off in enumerate(offs):
        if i < len(stream_pages):
            b.pages[off] = stream_pages[i]
        elif blob:
            d = i - len(stream_pages)
            b.pages[off] = blob[d * n : (d + 1) * n]
    res.top_page = map_offs[0]
    res.info_page = offs[0]
    res.meta_pages = map_offs
    res.stream_meta = offs[1 : 1 + meta_n]
    res.data_pages = offs[1 + meta_n :]
    st = lg.swsusp_header_struct(n, w, pointer="image")
    b.page0 = bytearray(
        st.build(
            {
                "reserved": bytes(b.page0[: st.subcons[0].sizeof()]),
                "image": lg.swp_entry(map_offs[0], w, lg.ENC_SWP_ENTRY, spec.swap_type),
                "orig_sig": b.orig,
                "sig": b"S1SUSPEND\0",
            }
        )
    )
