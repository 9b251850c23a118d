"""The family protocol: what each of plastix's families declares, so that ``plastix run``, ``sweep``,
``runs``, ``report`` and ``list`` treat every family alike and know none of them by name.

A family is a subpackage with a module ``family.py`` that defines ``FAMILY``, a :class:`Family`:

* ``name`` and ``summary``: how ``plastix list`` and the docs name it;
* ``configs``: its config dataclasses (frozen, tyro-parsed, with ``validate()``, ``digest()`` and
  ``name``); :func:`family_of` finds a config's family by its exact type;
* ``run(cfg, out, *, progress, resume) -> RunResult``: its impure runner (checkpoints, atomic run
  directory; see :mod:`plastix.rundir`);
* ``report(result)``: prints one paragraph summarising a finished run;
* ``budget(name, cfg, Budget) -> cfg``: the experiment's config with the generic budget options of
  ``plastix run`` applied (``--seeds``, ``--steps``, ``--episodes``, ``--epochs``, ``--generations``,
  ``--data-dir``); an option the family does not take is a :class:`~plastix.validation.ConfigError`
  naming it and the one to use instead;
* ``suite(suite, members, budget, out, progress, **run_options)``: runs a suite's members and
  writes their comparison (``None`` if the family has no suites);
* ``rule(cfg)`` and ``task(cfg)``: what is trained and on what, for the sweep index;
* ``curves``: per config type, the run directory's curve file, its x column and its headline
  metric (candidates, first present wins), read by the report and the TensorBoard export;
* ``run_options``: the keyword options its ``run`` takes beyond ``progress`` and ``resume``
  (``("ray", "ray_workers")`` for a population evaluated on a Ray cluster).

Adding a family is one subpackage (config, pure step, runner, ``family.py``) and one line in
:data:`FAMILIES`. The registry holds module paths, so listing families imports only their configs,
not JAX programs.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from plastix.validation import ConfigError

C = TypeVar("C")

# name → module defining FAMILY; one line per family
FAMILIES: dict[str, str] = {
    "teams": "plastix.teams.family",
    "copi": "plastix.copi.family",
    "eprnn": "plastix.eprnn.family",
    "blur": "plastix.blur.family",
    "remember": "plastix.remember.family",
}


@dataclasses.dataclass(frozen=True)
class Budget:
    """The generic budget options of ``plastix run`` (0 or "" keeps the experiment's value)."""

    seeds: int = 0
    steps: int = 0
    episodes: int = 0
    epochs: int = 0
    generations: int = 0
    data_dir: str = ""

    def given(self) -> dict[str, Any]:
        """The options set, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name)}

    def refuse(self, allowed: tuple[str, ...], message: str) -> None:
        """ConfigError ``--OPTION: message`` for the first option given that is not in ``allowed``."""
        for option in self.given():
            if option not in allowed:
                raise ConfigError(option, message)

    def non_negative(self, *options: str) -> None:
        """ConfigError for the first of ``options`` below 0."""
        for option in options:
            if getattr(self, option) < 0:
                raise ConfigError(option, "must be ≥ 0 (0 = the experiment's)")


@dataclasses.dataclass(frozen=True)
class Family(Generic[C]):
    """One family of plastix: see the module docstring for each part's contract."""

    name: str
    summary: str
    configs: tuple[type, ...]
    run: Callable[..., Any]
    report: Callable[[Any], None]
    budget: Callable[[str, C, Budget], C]
    rule: Callable[[C], str]
    task: Callable[[C], str]
    curves: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]
    suite: Callable[..., None] | None = None
    run_options: tuple[str, ...] = ()


def run_members(family: Family, members: dict[str, Any], b: Budget, out: Path, progress: bool,
                run: Callable[..., Any] | None = None, **options) -> list[tuple[Any, Any]]:
    """A suite's members (name → experiment) run one after another with the budget applied (all
    validated before the first runs), each reported; their ``(config, RunResult)`` pairs.
    ``run(cfg, out, progress=, **options)`` replaces ``family.run``; ``options`` are its run options
    (``ray`` …)."""
    cfgs = {name: family.budget(name, exp.config, b) for name, exp in members.items()}
    results = []
    for name, cfg in cfgs.items():
        print(f"{name}: {members[name].description}")
        res = (run or family.run)(cfg, out, progress=progress, **options)
        family.report(res)
        results.append((cfg, res))
    return results


def get_family(name: str) -> Family:
    """The family registered as ``name``."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; allowed: {', '.join(FAMILIES)}")
    family = importlib.import_module(FAMILIES[name]).FAMILY
    if not isinstance(family, Family):
        raise TypeError(f"{FAMILIES[name]}.FAMILY is a {type(family).__name__}, not a plastix.families.Family")
    return family


def all_families() -> list[Family]:
    return [get_family(name) for name in FAMILIES]


def family_of(cfg: Any) -> Family:
    """The family whose configs include ``type(cfg)`` exactly."""
    for family in all_families():
        if type(cfg) in family.configs:
            return family
    known = ", ".join(t.__name__ for f in all_families() for t in f.configs)
    raise TypeError(f"no family takes a {type(cfg).__name__}; known configs: {known}")


def config_type_of(fields: dict[str, Any]) -> type:
    """The config type a run's ``config.json`` was written from: the one whose fields are exactly its
    keys (else the one sharing most of them, for a run written by an older plastix)."""
    types = [t for f in all_families() for t in f.configs]
    names = {t: {f.name for f in dataclasses.fields(t)} for t in types}
    keys = set(fields)
    exact = [t for t in types if names[t] == keys]
    return exact[0] if exact else max(types, key=lambda t: (len(names[t] & keys), -len(names[t] ^ keys)))
