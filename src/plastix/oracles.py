"""Moved to :mod:`plastix.teams.oracles` (every family is a subpackage now); this name stays importable."""

from plastix.teams import oracles as _module
from plastix.teams.oracles import *  # noqa: F401,F403


def __getattr__(name: str):
    return getattr(_module, name)
