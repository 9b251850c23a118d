"""Moved to :mod:`plastix.teams.runner` (every family is a subpackage now); this name stays importable."""

from plastix.teams import runner as _module
from plastix.teams.runner import *  # noqa: F401,F403


def __getattr__(name: str):
    return getattr(_module, name)
