"""Sweep planning: ``--grid key=v1,v2 …`` × ``--seeds N`` over a registered experiment's config.

Every grid key must be a field of the experiment's config dataclass; each value is parsed by that
field's type (``int``, ``float``, ``bool``, ``str``, or a tuple of them written with ``:`` between
elements, e.g. ``lr=1e-2:1e-3:1e-4``). The plan is the Cartesian product of the grid, in the order
given. Configs whose family has a ``seeds`` field (team rules, RL, COPI) keep all seeds in one
config — one vmapped (or one sequential) call; the single-seed families (mazes, learning to
remember) get one config per seed (``seed`` = the experiment's seed + i).

Each planned config is validated before anything runs or is written, and gets the run name
``<experiment>-<digest>``, so one run directory holds exactly one (config, seed batch).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import typing
from typing import Any, NamedTuple

from plastix.validation import ConfigError

RESERVED = ("name", "seeds")  # set by the sweep itself (run name, --seeds)


class PlannedRun(NamedTuple):
    experiment: str
    grid: dict[str, Any]  # the grid values of this config (empty for a plain sweep)
    config: Any  # the frozen config dataclass, validated, with its run name


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _scalar(text: str, typ, key: str):
    try:
        if typ is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if typ is int:
            return int(text)
        if typ is float:
            v = float(text)
            if not math.isfinite(v):
                raise ValueError
            return v
        return str(text)
    except ValueError:
        raise ConfigError("grid", f"{key}={text!r} is not a {'finite ' if typ is float else ''}{typ.__name__}") from None


def parse_value(text: str, typ, key: str):
    """``text`` as a value of the annotated field type ``typ`` (ConfigError naming the key if not)."""
    origin = typing.get_origin(typ)
    if origin is tuple:
        args = typing.get_args(typ)
        elem = args[0] if args else str
        return tuple(_scalar(t, elem, key) for t in text.split(":"))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return _scalar(text, args[0], key)
    return _scalar(text, typ, key)


def parse_grid(items: list[str], cls) -> dict[str, list[Any]]:
    """``["lr=1e-2,1e-3", "batch=8"]`` → ``{"lr": [...], "batch": [8]}`` typed by ``cls``'s fields."""
    types = _field_types(cls)
    allowed = sorted(k for k in types if k not in RESERVED)
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values:
            raise ConfigError("grid", f"{item!r} is not of the form key=v1,v2,…")
        if key in RESERVED:
            raise ConfigError("grid", f"{key} is set by the sweep itself (use --seeds for seeds)")
        if key not in types:
            raise ConfigError("grid", f"unknown key {key!r} for {cls.__name__}; allowed: {', '.join(allowed)}")
        if key in grid:
            raise ConfigError("grid", f"{key} is given twice")
        grid[key] = [parse_value(v.strip(), types[key], key) for v in values.split(",")]
    return grid


def slug(name: str) -> str:
    return name.replace("/", "-")


def plan(experiment: str, base, grid: dict[str, list[Any]], seeds: int) -> list[PlannedRun]:
    """The validated configs of a sweep (see the module docstring). ``seeds`` 0 keeps the experiment's."""
    if seeds < 0:
        raise ConfigError("seeds", "must be ≥ 0 (0 keeps the experiment's)")
    keys = list(grid)
    runs = []
    batched = any(f.name == "seeds" for f in dataclasses.fields(base))
    for values in itertools.product(*(grid[k] for k in keys)):
        over = dict(zip(keys, values))
        if batched:
            variants = [dict(over, seeds=seeds) if seeds else over]
        else:
            variants = [dict(over, seed=base.seed + i) for i in range(max(seeds, 1))] if seeds else [over]
        for v in variants:
            cfg = dataclasses.replace(base, **v, name="")
            cfg = dataclasses.replace(cfg, name=f"{slug(experiment)}-{cfg.digest()[:10]}")
            cfg.validate()
            runs.append(PlannedRun(experiment, over, cfg))
    names = [r.config.name for r in runs]
    if len(set(names)) != len(names):
        raise ConfigError("grid", "two grid points give the same config (a value is repeated)")
    return runs
