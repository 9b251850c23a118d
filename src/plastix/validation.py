"""Config validation shared by every family, in one message style.

A config that cannot run raises :class:`ConfigError` naming the option the way the command line
spells it (``--batch-size``) and what is allowed: ``unknown value 'x'; allowed: a, b`` for a choice,
``must be ≥ 1, got 0`` or ``learning rates must be finite and ≥ 0, got [-0.1]`` for a number. Every
family's ``validate()`` is written with the helpers below, so the messages read alike everywhere.
:class:`ConfigIO` gives the frozen config dataclasses ``to_dict``, ``digest`` and ``from_dict``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A config that cannot run; ``field`` names the offending option."""

    def __init__(self, field: str, message: str):
        super().__init__(f"--{field.replace('_', '-')}: {message}")
        self.field = field


class ConfigIO:
    """Serialisation shared by the frozen config dataclasses: ``to_dict``, ``digest``, ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of everything that changes the numbers (``name`` excluded)."""
        d = self.to_dict()
        d.pop("name")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        """The config written by :meth:`to_dict` (JSON lists become tuples); unknown keys are a ConfigError."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ConfigError(sorted(unknown)[0], f"unknown option; allowed: {', '.join(sorted(fields))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def choice(field: str, value: str, allowed: Iterable[str]) -> None:
    """``unknown value 'x'; allowed: …`` unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(field, f"unknown value {value!r}; allowed: {', '.join(allowed)}")


def require(field: str, ok: bool, requirement: str, value: Any, what: str = "") -> None:
    """``[what ]must be <requirement>, got <value>`` unless ``ok``."""
    if not ok:
        shown = list(value) if isinstance(value, tuple) else value
        raise ConfigError(field, f"{what + ' ' if what else ''}must be {requirement}, got {shown}")


def at_least(field: str, value: Any, lo: float, note: str = "", what: str = "") -> None:
    """``must be ≥ lo, got v`` (for a tuple: every element, and ``what`` names them)."""
    values = value if isinstance(value, tuple) else (value,)
    require(field, all(v >= lo for v in values), f"≥ {lo}{note}", value, what)


def finite(field: str, value: Any, *, above: float | None = None, at_least: float | None = None,
           note: str = "", what: str = "") -> None:
    """``must be finite and > above`` (or ``≥ at_least``), for a number or every element of a tuple."""
    values = value if isinstance(value, tuple) else (value,)
    if above is not None:
        ok, requirement = all(math.isfinite(v) and v > above for v in values), f"finite and > {above:g}"
    else:
        ok, requirement = all(math.isfinite(v) and v >= at_least for v in values), f"finite and ≥ {at_least:g}"
    require(field, ok, requirement + note, value, what)


def between(field: str, value: float, lo: float, hi: float, *, open_hi: bool = False) -> None:
    """``must be in [lo, hi]`` (or ``[lo, hi)``)."""
    ok = lo <= value < hi if open_hi else lo <= value <= hi
    require(field, ok, f"in [{lo:g}, {hi:g}{')' if open_hi else ']'}", value)


def widths(field: str, value: tuple[int, ...], *, allow_empty: bool = True) -> None:
    """Layer widths: each ≥ 1 (and at least one unless ``allow_empty``)."""
    require(field, all(w >= 1 for w in value) and (allow_empty or len(value) > 0),
            "≥ 1" if allow_empty else "≥ 1, at least one layer", value, "widths")
