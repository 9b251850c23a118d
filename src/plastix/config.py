"""Moved to :mod:`plastix.teams.config` (every family is a subpackage now); this name stays importable."""

from plastix.teams import config as _module
from plastix.teams.config import *  # noqa: F401,F403


def __getattr__(name: str):
    return getattr(_module, name)
