"""Renderers: one generic JSON renderer and rich renderers, one function per model type."""
