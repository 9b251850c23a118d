"""Tasks: ``sample(key, batch, sampler) -> (x, y)`` plus a reward; ``TASKS`` is the registry."""

from __future__ import annotations

from typing import Callable, NamedTuple

from plastix.tasks._base import Task as Task
from plastix.tasks.multiplexer import VALID_BITS as VALID_BITS
from plastix.tasks.multiplexer import address_bits as address_bits
from plastix.tasks.multiplexer import multiplexer as multiplexer
from plastix.tasks.multiplexer import multiplexer_target as multiplexer_target
from plastix.tasks.regression import regression as regression


class TaskSpec(NamedTuple):
    build: Callable[..., Task]  # (cfg) -> Task
    description: str


TASKS: dict[str, TaskSpec] = {
    "multiplexer": TaskSpec(
        lambda cfg: multiplexer(cfg.bits),
        "k-bit-address multiplexer, ±1 inputs, reward ±1 (--bits 6, 11, 20, 37)",
    ),
    "regression": TaskSpec(
        lambda cfg: regression(cfg.dim),
        "scalar regression on a fixed random 2-layer ReLU teacher, reward −(ŷ−y)²",
    ),
}
