"""Forging self-consistent hibernation images from the reader's own construct definitions
(test images and the forged samples; no kernel wrote them).

Modules:
    kernel         the 2.6.20+ kernel layout and /dev/snapshot streams (:func:`forge`)
    legacy         the 2.4/2.5 patch, pmdisk and 2.6.x-2.6.19 eras (:func:`forge_legacy`)
    legacy_pbe     its pagedir eras' writers (patch, link26, pmdisk, pbe: 2.4 -> 2.6.15)
    legacy_stream  its swap-map eras' writers (2.6.16, 2.6.17, 2.6.19)
    legacy_encode  the encodings those share (utsname, words, padding, 2.6.14 AES-CBC)
"""
