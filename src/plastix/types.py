"""Type aliases shared across plastix."""

from __future__ import annotations

from typing import Any

import jax

Array = jax.Array
PRNGKey = jax.Array
Params = Any  # a pytree of arrays; for layered nets a tuple of {"W": (n_in, n_out), "b": (n_out,)}
OptState = Any
Metrics = dict[str, jax.Array]
