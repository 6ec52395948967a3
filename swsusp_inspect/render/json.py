"""The one generic JSON renderer.

Model objects expose ``to_dict()`` returning plain Python data (ints, strings, lists, dicts,
None); this module adds nothing but serialisation, so the JSON and the terminal report are fed by
the same object.  Every number is a plain integer: numpy scalars are converted here as a last line
of defence, and hex strings never appear.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

SCHEMA_VERSION = 1


class JsonModel(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def _default(obj: Any) -> Any:
    # numpy scalars and arrays, without importing numpy here
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def document(model: JsonModel) -> dict[str, Any]:
    """The JSON document of a model object, ``schema_version`` first."""
    body = model.to_dict()
    return {"schema_version": SCHEMA_VERSION, **body}


def dumps(model: JsonModel, *, indent: int | None = 2) -> str:
    return json.dumps(document(model), indent=indent, default=_default)


def dumps_line(model: JsonModel) -> str:
    """One JSON object on one line (for JSON lines output)."""
    return json.dumps(document(model), separators=(",", ":"), default=_default)
