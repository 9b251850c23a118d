"""The SGD baseline of BLUR's evaluation protocol (spec blur.md §5.3): the same architecture trained
by backprop (softmax cross-entropy, mean over the batch) on the same support batches, plain SGD and
SGD with momentum 0.9, over learning rates spanning four orders of magnitude; the best rate per
optimiser is the one with the highest mean test accuracy over the curve. Every (optimiser, rate) is
one vmapped lane of a single ``lax.scan``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from plastix.types import Array

LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0)
MOMENTA = (0.0, 0.9)


def _init(key: Array, sizes: tuple[int, ...]) -> list[tuple[Array, Array]]:
    """uniform[−1, 1]/sqrt(fan-in + 1), as BLUR's fresh synapses (spec D2)."""
    out = []
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        k = jax.random.fold_in(key, l)
        w = jax.random.uniform(k, (a + 1, b), minval=-1.0, maxval=1.0) / jnp.sqrt(a + 1.0)
        out.append((w[:-1], w[-1]))
    return out


def _logits(params, x: Array) -> Array:
    for i, (w, b) in enumerate(params):
        x = x @ w + b[None]
        if i < len(params) - 1:
            x = jnp.tanh(x)
    return x


def _lanes(key: Array, sizes: tuple[int, ...], sample: Callable, x_test: Array, y_test: Array, steps: int,
           batch: int, lrs: Array, momentum: float) -> Array:
    """(len(lrs), steps + 1) test-accuracy curves of one optimiser; every rate one vmapped lane."""
    k_init, k_data = jax.random.split(key)
    xs, ys = jax.vmap(lambda k: sample(k, batch))(jax.random.split(k_data, steps))

    def accuracy(p):
        return jnp.mean(jnp.argmax(_logits(p, x_test), -1) == y_test)

    def curve(lr):
        opt = optax.sgd(lr, momentum=momentum)
        p0 = _init(k_init, sizes)

        def step(carry, xy):
            p, s = carry
            g = jax.grad(lambda q: optax.softmax_cross_entropy_with_integer_labels(_logits(q, xy[0]), xy[1]).mean())(p)
            u, s = opt.update(g, s, p)
            p = optax.apply_updates(p, u)
            return (p, s), accuracy(p)

        _, accs = jax.lax.scan(step, (p0, opt.init(p0)), (xs, ys))
        return jnp.concatenate([accuracy(p0)[None], accs])

    return jax.vmap(curve)(lrs)


# compiled once per (sizes, sampler, steps, batch, momentum): repeated evaluations reuse it
_lanes_jit = jax.jit(_lanes, static_argnums=(1, 2, 5, 6, 8))


def sgd_curves(key: Array, sizes: tuple[int, ...], sample: Callable, x_test: Array, y_test: Array, steps: int,
               batch: int, lrs: tuple[float, ...] = LRS, momenta: tuple[float, ...] = MOMENTA) -> np.ndarray:
    """Test accuracy after 0 … ``steps`` SGD steps: array (len(momenta), len(lrs), steps + 1)."""
    lr_grid = jnp.asarray(lrs, jnp.float32)
    return np.stack([np.asarray(_lanes_jit(key, tuple(sizes), sample, x_test, y_test, steps, batch, lr_grid, float(m)))
                     for m in momenta])


def best_rates(curves: np.ndarray, lrs: tuple[float, ...] = LRS) -> list[tuple[float, np.ndarray]]:
    """Per optimiser, (best rate, its curve): the highest mean accuracy over the curve."""
    return [(lrs[int(np.argmax(c.mean(-1)))], c[int(np.argmax(c.mean(-1)))]) for c in curves]
