"""One image of a batch and its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from swsusp_inspect.model.report import BatchInputs, IgnoredInput
from swsusp_inspect.run import Inputs

__all__ = ["BatchJob"]


@dataclass(frozen=True)
class BatchJob:
    """One image and its per-image inputs."""

    image: str
    maps: tuple[str, ...] = ()
    kpageflags: str | None = None
    system_map: str | None = None
    resume_offset: int = 0
    verify: bool = False
    passphrase: str | None = field(default=None, repr=False)  # encrypted uswsusp images
    page_offset: int | None = None  # PAGE_OFFSET for pre-2.6.19 eras (None: inferred)
    boot: int | None = None  # the boot of a multi-boot log (None: the image's, by checksum)
    map_source: str = "none"  # where the maps came from: option, manifest, sidecar, none
    cache_dir: str | None = None  # the cache of expanded compressed images (--cache)

    @property
    def inputs(self) -> Inputs:
        # maps found by their names are read leniently: one that is no map is left out
        return Inputs(
            image=self.image,
            maps=self.maps,
            kpageflags=self.kpageflags,
            system_map=self.system_map,
            resume_offset=self.resume_offset,
            page_offset=self.page_offset,
            passphrase=self.passphrase,
            boot=self.boot,
            lenient=self.map_source == "sidecar",
            cache_dir=self.cache_dir,
        )

    def used(self, ignored: tuple[IgnoredInput, ...] = ()) -> BatchInputs:
        """The files this job's audit read (``ignored``: sidecars left out), for its row."""
        gone = {i.file for i in ignored}
        maps = tuple(m for m in self.maps if m not in gone)
        smap = None if self.system_map in gone else self.system_map
        return BatchInputs(
            maps,
            self.kpageflags,
            smap,
            self.resume_offset or None,
            self.page_offset,
            self.map_source if maps else "none",
            ignored,
        )
