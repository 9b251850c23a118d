"""Tasks: ``sample(key, batch, sampler) -> (x, y)`` plus a reward; ``TASKS`` is the registry."""

from __future__ import annotations

from typing import Callable, NamedTuple

from plastix.tasks._base import Task as Task
from plastix.tasks.multiplexer import VALID_BITS as VALID_BITS
from plastix.tasks.multiplexer import address_bits as address_bits
from plastix.tasks.multiplexer import multiplexer as multiplexer
from plastix.tasks.multiplexer import multiplexer_target as multiplexer_target
from plastix.tasks.parity import parity as parity
from plastix.tasks.regression import regression as regression


class TaskSpec(NamedTuple):
    """Registry entry: how to build a task from a config, and what to call it."""

    build: Callable[..., Task]  # (cfg) -> Task
    description: str
    label: Callable[..., str]  # (cfg) -> the task's name in run names and tables, e.g. multiplexer20
    action: str = "sign"  # "sign" | "real": how the network's output is read (chooses the output layer)


TASKS: dict[str, TaskSpec] = {
    "multiplexer": TaskSpec(
        lambda cfg: multiplexer(cfg.bits),
        "k-bit-address multiplexer, ±1 inputs, reward ±1 (--bits 6, 11, 20, 37)",
        lambda cfg: f"multiplexer{cfg.bits}",
    ),
    "regression": TaskSpec(
        lambda cfg: regression(cfg.dim),
        "scalar regression on a fixed random 2-layer ReLU teacher, reward −(ŷ−y)² (--dim)",
        lambda cfg: f"regression{cfg.dim}",
        "real",
    ),
    "parity": TaskSpec(
        lambda cfg: parity(cfg.bits),
        "k-bit parity, ±1 inputs, target +1 for an odd number of +1 bits, reward ±1 (--bits 1…64)",
        lambda cfg: f"parity{cfg.bits}",
    ),
}
