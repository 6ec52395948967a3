"""The one generic JSON renderer.

Model objects expose ``to_dict()`` returning plain Python data (ints, strings, lists, dicts,
None); serialisation lives with the model (:func:`swsusp_inspect.model.to_json`) so the library's
``Report.to_json()`` and the CLI's ``--json`` are one code path.  Every number is a plain
integer: numpy scalars are converted as a last line of defence, and hex strings never appear.
"""

from __future__ import annotations

from typing import Any

from swsusp_inspect.model import SCHEMA_VERSION, json_document, to_json

__all__ = ["SCHEMA_VERSION", "document", "dumps", "dumps_line"]


def document(model: Any) -> dict[str, Any]:
    """The JSON document of a model object, ``schema_version`` first."""
    return json_document(model)


def dumps(model: Any, *, indent: int | None = 2) -> str:
    return to_json(model, indent=indent)


def dumps_line(model: Any) -> str:
    """One JSON object on one line (for JSON lines output)."""
    return to_json(model, indent=None)
