"""Moved to :mod:`plastix.teams.train` (every family is a subpackage now); this name stays importable."""

from plastix.teams import train as _module
from plastix.teams.train import *  # noqa: F401,F403


def __getattr__(name: str):
    return getattr(_module, name)
