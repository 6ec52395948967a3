"""Fuzzing harness for swsusp-inspect: structure-aware mutations of the committed samples'
images, real heads, forged older formats and map inputs, run through the library entry points
and the CLI.  ``python -m fuzz --help``; see README "Hostile input" for the numbers."""
