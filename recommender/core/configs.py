"""Typed, frozen configuration for every component, and its JSON form for bundle manifests.

A component's hyper-parameters are one frozen dataclass deriving from `Config`. It
is written into the bundle manifest with `to_dict` and read back with `from_dict`,
which rebuilds nested configs from the field types, so nothing is copied by hand.
A nested component of a choosable kind (the CF model inside the hybrid) is a
`recommender.core.registry.Spec`: its registry name plus that component's own config.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, Self

from recommender.errors import InputError


@dataclass(frozen=True)
class Config:
    """Base of every component config: frozen, typed, JSON round-trippable."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild from `to_dict` output; an unknown key is an InputError naming the known ones."""
        if not isinstance(data, dict):
            raise InputError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
        hints = _hints(cls)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(unknown)} for {cls.__name__};"
                f" known: {', '.join(sorted(known)) or 'none'}"
            )
        return cls(**{name: _from_json(hints[name], value) for name, value in data.items()})

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`; dotted names reach nested configs ("blend.k", "cf.factors")."""
        direct: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            head, _, rest = key.partition(".")
            if rest:
                nested.setdefault(head, {})[rest] = value
            else:
                direct[head] = value
        known = {f.name for f in fields(self)}
        unknown = sorted((set(direct) | set(nested)) - known)
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(unknown)} for {type(self).__name__};"
                f" known: {', '.join(sorted(known)) or 'none'}"
            )
        for head, sub in nested.items():
            direct[head] = getattr(self, head).replace(**sub)
        return dataclasses.replace(self, **direct)

    def with_seed(self, seed: int) -> Self:
        """The same config with `seed` in every field called seed, nested configs included."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "seed":
                changes["seed"] = int(seed)
            elif hasattr(value, "with_seed"):  # a nested Config or Spec
                changes[f.name] = value.with_seed(seed)
        return dataclasses.replace(self, **changes)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _to_json(value: Any) -> Any:
    if hasattr(value, "to_dict"):  # a nested Config or Spec
        return value.to_dict()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def _from_json(hint: Any, value: Any) -> Any:
    """Turn a JSON value back into the declared type (nested configs, specs, tuples)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_json(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_from_json(item, v) for v in value)
    if isinstance(hint, type) and hasattr(hint, "from_dict"):  # a nested Config or Spec
        return hint.from_dict(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value
