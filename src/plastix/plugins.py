"""Extensions from the command line: a task, rule, environment or experiment of the user's own, named
by import path ``MODULE:NAME``, or registered by an installed package's entry points.

``MODULE:NAME`` (e.g. ``plastix train --task mytasks:parity6 --rule reinforce``) imports ``MODULE``
from the current directory or ``PYTHONPATH`` and takes its attribute ``NAME``: the object itself or a
function of no arguments returning it. What it must be:

* ``--task``: a :class:`plastix.tasks.Task` (its ``name`` names the runs), a
  :class:`plastix.tasks.TaskSpec` (built from the config, like ``--bits``), or a
  :class:`plastix.envs.EnvSpec` (an environment for the actor–critic runner);
* ``--rule``: a :class:`plastix.rules.RuleSpec`;
* ``plastix run`` / ``plastix sweep``: a :class:`plastix.experiments.Experiment`.

The object is registered under the path itself (``TASKS["mytasks:parity6"]`` …), so everything
downstream (configs, run directories, sweeps' worker processes, which resolve it again) treats it
like a built-in entry. A bad path or an object of the wrong kind is a
:class:`~plastix.validation.ConfigError`: one line, exit code 2.

Installed packages can instead declare entry points in the groups ``plastix.tasks``,
``plastix.rules``, ``plastix.envs`` and ``plastix.experiments`` (entry-point name → object, or a
function returning it); :func:`load_entry_points` registers them under their entry-point names
when the ``plastix`` command starts.

Plain Python: importlib and importlib.metadata do the work; nothing here is a plugin framework.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from plastix.validation import ConfigError


class PluginError(ConfigError):
    """A bad ``MODULE:NAME`` or entry point; ``field`` is the option it was given to (None: the
    positional experiment name, and the message stands alone)."""

    def __init__(self, field: str | None, message: str):
        if field is not None:
            super().__init__(field, message)
        else:
            ValueError.__init__(self, message)
            self.field = "name"


def is_path(name: str) -> bool:
    """True for ``MODULE:NAME``."""
    return ":" in name


def load_object(path: str, field: str | None) -> Any:
    """The attribute ``NAME`` of module ``MODULE`` for ``path = MODULE:NAME`` (ConfigError on ``field``)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr or ":" in attr:
        raise PluginError(field, f"{path!r} is not MODULE:NAME (e.g. mytasks:parity6)")
    if os.getcwd() not in sys.path and "" not in sys.path:  # "importable from the current directory"
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise PluginError(field, f"{path}: no module named {e.name!r} in the current directory or on "
                                     "PYTHONPATH") from None
        raise PluginError(field, f"{path}: importing {module_name} failed: {e}") from None
    except Exception as e:  # the user's module raised while importing
        raise PluginError(field, f"{path}: importing {module_name} failed: {type(e).__name__}: {e}") from None
    try:
        return functools.reduce(getattr, attr.split("."), module)
    except AttributeError:
        raise PluginError(field, f"{path}: module {module_name} has no {attr!r}") from None


def _a(noun: str) -> str:
    return f"{'an' if noun[0].lower() in 'aeiou' else 'a'} {noun}"


def of_kind(obj: Any, kinds: tuple[type, ...], where: str, field: str | None) -> Any:
    """``obj`` if it is one of ``kinds``, else what it returns when called with no arguments."""
    if not isinstance(obj, kinds) and callable(obj) and not isinstance(obj, type):
        try:
            obj = obj()
        except TypeError as e:
            raise PluginError(field, f"{where}: calling it with no arguments failed: {e}") from None
    if not isinstance(obj, kinds):
        allowed = " or ".join(k.__name__ for k in kinds)
        raise PluginError(field, f"{where} is {_a(type(obj).__name__)}; it must be {_a(allowed)} (or a "
                                 "function of no arguments returning one)")
    return obj


def _register_task(name: str, obj: Any, where: str, field: str | None = "task") -> None:
    from plastix.envs import ENVS, EnvSpec
    from plastix.tasks import TASKS, Task, TaskSpec

    obj = of_kind(obj, (Task, TaskSpec, EnvSpec), where, field)
    if isinstance(obj, EnvSpec):
        ENVS[name] = obj
    elif isinstance(obj, TaskSpec):
        TASKS[name] = obj
    else:
        TASKS[name] = TaskSpec(lambda cfg, task=obj: task, f"{obj.name}: a task of {where}",
                               lambda cfg, task=obj: task.name, obj.action)


def _register_rule(name: str, obj: Any, where: str, field: str | None = "rule") -> None:
    from plastix.rules import RULES, RuleSpec

    RULES[name] = of_kind(obj, (RuleSpec,), where, field)


def task(name: str) -> None:
    """Register ``--task MODULE:NAME`` (a task or an environment) if it is a path not yet registered."""
    from plastix.envs import ENVS
    from plastix.tasks import TASKS

    if is_path(name) and name not in TASKS and name not in ENVS:
        _register_task(name, load_object(name, "task"), name)


def rule(name: str) -> None:
    """Register ``--rule MODULE:NAME`` if it is a path not yet registered."""
    from plastix.rules import RULES

    if is_path(name) and name not in RULES:
        _register_rule(name, load_object(name, "rule"), name)


# entry-point group → (the registry its names join, how an object is checked and registered); the
# experiments module adds its own group when it is imported (it sits above this module)
GROUPS: dict[str, tuple[dict, Callable[[str, Any, str, str | None], None]]] = {}


def _builtin_groups() -> None:
    from plastix.envs import ENVS
    from plastix.rules import RULES
    from plastix.tasks import TASKS

    GROUPS.setdefault("plastix.tasks", (TASKS, _register_task))
    GROUPS.setdefault("plastix.envs", (ENVS, _register_task))
    GROUPS.setdefault("plastix.rules", (RULES, _register_rule))


@functools.cache
def load_entry_points() -> tuple[str, ...]:
    """Register every installed package's entry points in the plastix groups (once per process); their
    names as ``group:name``. A broken entry point is a warning naming it, not a failed command."""
    import warnings
    from importlib.metadata import entry_points

    _builtin_groups()
    loaded = []
    for group, (registry, register) in GROUPS.items():
        for ep in entry_points(group=group):
            where = f"entry point {group}:{ep.name} ({ep.value})"
            if ep.name in registry:
                warnings.warn(f"{where} is ignored: {ep.name!r} is built in", stacklevel=2)
                continue
            try:
                register(ep.name, ep.load(), where, None)
            except Exception as e:
                warnings.warn(f"{where} is ignored: {e}", stacklevel=2)
                continue
            loaded.append(f"{group}:{ep.name}")
    return tuple(loaded)
