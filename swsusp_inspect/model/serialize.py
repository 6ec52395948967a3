"""One generic serializer: frozen dataclasses -> plain JSON data, ``schema_version`` first.

Every model type is a frozen dataclass whose fields are the JSON keys, in order.  Field
metadata (set with :func:`json_field`) adapts a field: another key (``name``), left out when
``None`` or empty (``omit``), or its own keys merged into the parent's (``flatten``: the model
composes, the JSON stays flat).  Enums serialise as their value, tuples as lists.

A numpy value is refused, never converted: the model is built with ``int()`` at its
construction (STYLE: "numpy scalars converted with int() at construction"), and a numpy value
reaching JSON is a bug to fix where the object was built.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, dataclass_transform, overload

__all__ = [
    "SCHEMA_VERSION",
    "JsonModel",
    "json_document",
    "json_field",
    "record",
    "to_data",
    "to_json",
]

SCHEMA_VERSION = 1

Omit = Literal["none", "empty"]

_MISSING: Any = dataclasses.MISSING


def json_field(
    *,
    name: str | None = None,
    omit: Omit | None = None,
    flatten: bool = False,
    skip: bool = False,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    init: bool = True,
    doc: str | None = None,
) -> Any:
    """A dataclass field with JSON metadata.

    Args:
        name: the JSON key (default: the field's name); e.g. ``"reserved-non-ram"``.
        omit: ``"none"`` leaves the key out when the value is None, ``"empty"`` when falsy.
        flatten: merge the value's own keys into the parent object (a dataclass, or None for
            nothing).
        skip: never serialised (e.g. bulk numpy data kept for the CSV rows).
        doc: a description for the JSON schema document.
    """
    meta = {"json_name": name, "omit": omit, "flatten": flatten, "skip": skip, "doc": doc}
    kwargs: dict[str, Any] = {"metadata": meta, "init": init}
    if default is not _MISSING:
        kwargs["default"] = default
    if default_factory is not _MISSING:
        kwargs["default_factory"] = default_factory
    if skip:
        kwargs.update(repr=False, compare=False)
    return dataclasses.field(**kwargs)


T = TypeVar("T")


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(json_field, dataclasses.field))
def record(cls: type[T] | None = None, /, *, kw_only: bool = False) -> Any:
    """A frozen dataclass of the model (``json_field`` is known to type checkers as a field).

    ``@record`` or ``@record(kw_only=True)`` (fields computed after ``__init__`` may then sit
    anywhere, so the JSON keys keep their documented order).
    """

    def wrap(c: type[T]) -> type[T]:
        return dataclasses.dataclass(frozen=True, kw_only=kw_only)(c)

    return wrap if cls is None else wrap(cls)


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"


def to_data(obj: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """Plain JSON data (dict, list, str, int, float, bool, None) for a model object.

    Raises:
        TypeError: a value that is not model data (a numpy value, bytes, a set, ...).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return to_data(obj.value)
    if isinstance(obj, int):
        return int(obj)  # plain int, also for int subclasses
    if isinstance(obj, float):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _object(obj)
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(to_data(k)): to_data(v) for k, v in obj.items()}
    if _is_numpy(obj):
        raise TypeError(
            f"numpy value {obj!r} ({type(obj).__name__}) in the model: convert it "
            "with int()/float() where the model object is built"
        )
    raise TypeError(f"not JSON model data: {type(obj).__name__}")


def _object(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        meta = f.metadata
        if meta.get("skip"):
            continue
        value = getattr(obj, f.name)
        if meta.get("flatten"):
            if value is not None:
                out.update(_object(value))
            continue
        omit = meta.get("omit")
        if (omit == "none" and value is None) or (omit == "empty" and not value):
            continue
        out[meta.get("json_name") or f.name] = to_data(value)
    return out


def json_document(model: Any) -> dict[str, Any]:
    """The JSON document of a model object: ``schema_version`` first, then its keys."""
    return {"schema_version": SCHEMA_VERSION, **_object(model)}


def to_json(model: Any, *, indent: int | None = 2) -> str:
    """Serialise a model object as a JSON document (one line when ``indent`` is None)."""
    doc = json_document(model)
    if indent is None:
        return json.dumps(doc, separators=(",", ":"))
    return json.dumps(doc, indent=indent)


class JsonModel:
    """Mixin for the documents a command prints: ``to_dict()`` and ``to_json()``."""

    def to_dict(self) -> dict[str, Any]:
        """The document's body as plain data (without ``schema_version``)."""
        return _object(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The JSON document, as ``--json`` prints it."""
        return to_json(self, indent=indent)
