"""Moved to :mod:`plastix.teams.alignment` (every family is a subpackage now); this name stays importable."""

from plastix.teams import alignment as _module
from plastix.teams.alignment import *  # noqa: F401,F403


def __getattr__(name: str):
    return getattr(_module, name)
