"""Writing an image's memory out for other tools.

Modules:
    raw   a raw physical-memory file (byte offset = physical address, holes sparse)
"""
