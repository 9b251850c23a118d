"""The one-step (supervised-signal) task contract.

A task draws a batch ``sample(key, batch, sampler) -> (x, y)`` and scores an action
``reward(action, y) -> (B,)``; ``metrics(action, y, reward)`` adds task-specific batch means
(e.g. accuracy). ``action`` says how the network's output sample is read: ``"sign"`` (a binary
action in {−1, +1}) or ``"real"`` (a scalar).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from plastix.types import Array


class Task(NamedTuple):
    name: str
    n_in: int
    action: str  # "sign" | "real"
    n_out: int  # output units the task expects by default (softmax: outcomes)
    sample: Callable[..., tuple[Array, Array]]  # (key, batch, sampler) -> x (B, n_in), y (B,)
    reward: Callable[[Array, Array], Array]  # (action (B,), y (B,)) -> (B,)
    metrics: Callable[[Array, Array, Array], dict]  # -> {name: scalar batch mean}
    default_output: str  # output layer kind used unless the config says otherwise
