"""Inputs read beside an image: the kernel's System.map and a ``/proc/kpageflags`` copy.

Modules:
    system_map   System.map symbols, placed in the image's kernel by its arch record
    kpageflags   one u64 of page flags per PFN (reserved-RAM evidence)
"""
