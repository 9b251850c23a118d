"""Moved to :mod:`plastix.evolution` (shared with BLUR); this name stays importable."""

from plastix import evolution as _module
from plastix.evolution import *  # noqa: F401,F403


def __getattr__(name: str):
    return getattr(_module, name)
