"""Meta-training BLUR genomes by gradient through the unrolled inner loop (spec blur.md §5.1).

One meta-step, per genome: draw fresh synapses (``replicas`` independent draws), run ``U`` inner
steps (:func:`~plastix.blur.network.inner_step`) on new support batches of one task drawn for
the lifetime (:func:`lifetime_batches`), then score a held-out query batch of the same task with
a forward-only pass: softmax cross-entropy of ``logit_scale · O`` (spec D10), averaged over the batch and the replicas. The genome's gradient is
taken through all ``U`` steps (``lax.scan`` + ``jax.grad``; for unrolls longer than 20 steps with
``jax.checkpoint`` around each step, so memory stays flat in ``U``), clipped to global norm 10 and applied by Adam (5e−4).
Several genomes (the paper's 8 runs) are one ``vmap`` axis.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from plastix.blur.genome import Genome
from plastix.blur.network import BlurNet, init_synapses, inner_step, predict
from plastix.types import Array

MIXING = ("nu", "mu", "nu_t", "mu_t")  # the genome's k × k state transforms


def lifetime_batches(sample: Callable, key: Array, unroll: int, batch: int) -> tuple[Array, Array, Array, Array]:
    """One lifetime's data: ``unroll`` support batches ``(xs, ys)`` and the query batch ``(xq, yq)``.

    All of it comes from one call of the sampler, so whatever a sampler draws once per call is drawn
    once per lifetime and shared by the support and query batches: the task of a mixture
    (:func:`~plastix.blur.tasks.mix_samplers`), the centres of ``blob5x1``. Spec §5.1: a lifetime
    starts from fresh synapses and *a* task. (Before 2026-11-24 every batch was its own call, so a
    mixture switched task between the inner steps and the query.)"""
    x, y = sample(key, (unroll + 1) * batch)
    x, y = x.reshape((unroll + 1, batch) + x.shape[1:]), y.reshape(unroll + 1, batch)
    return x[:unroll], y[:unroll], x[unroll], y[unroll]


def lifetime(net: BlurNet, g: Genome, key: Array, sample: Callable, unroll: int, batch: int,
             remat: bool = True) -> tuple[Array, Array]:
    """Train fresh synapses for ``unroll`` steps; ``(query cross-entropy, query accuracy)``."""
    k_syn, k_data, _ = jax.random.split(key, 3)  # three keys, as before: the synapse draws are unchanged
    syn = init_synapses(k_syn, net, g.nu.dtype)
    xs, ys, xq, yq = lifetime_batches(sample, k_data, unroll, batch)
    step = lambda s, xy: (inner_step(net, g, s, xy[0].astype(g.nu.dtype), xy[1])[0], None)  # noqa: E731
    # short unrolls are unrolled in the compiled program: the per-iteration loop overhead of XLA:CPU
    # dominated the small toy networks
    syn, _ = jax.lax.scan(jax.checkpoint(step) if remat else step, syn, (xs, ys), unroll=unroll if unroll <= 10 else 1)
    logits = predict(net, g, syn, xq.astype(g.nu.dtype))
    ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(g.logit_scale * logits, yq))
    return ce, jnp.mean(jnp.argmax(logits, -1) == yq)


def meta_loss(net: BlurNet, g: Genome, key: Array, sample: Callable, unroll: int, batch: int,
              replicas: int = 1, remat: bool | None = None) -> tuple[Array, Array]:
    """Mean query cross-entropy (and accuracy) over ``replicas`` independent synapse draws and tasks.
    ``remat`` (default: for unrolls longer than 20 steps) recomputes each step in the backward pass."""
    remat = unroll > 20 if remat is None else remat
    keys = jax.random.split(key, replicas)
    if replicas == 1:
        # no vmap of size 1: XLA:CPU compiles the unit replica axis into ~1.5× slower kernels (digits
        # meta-step 17 → 11 ms); same key, same numbers
        return lifetime(net, g, keys[0], sample, unroll, batch, remat)
    # the state-mixing matrices enter every replica as batched copies: each one's gradient is then a
    # product per replica with one contracting axis, not one contracting the replica axis too, which
    # XLA:CPU runs slower (toy meta-step, 5 replicas: 12.0 → 11.0 ms)
    axes = g._replace(**{f: (0 if f in MIXING else None) for f in g._fields})
    gs = g._replace(**{f: jnp.broadcast_to(getattr(g, f), (replicas,) + getattr(g, f).shape) for f in MIXING})
    ce, acc = jax.vmap(lambda g, k: lifetime(net, g, k, sample, unroll, batch, remat), in_axes=(axes, 0))(gs, keys)
    return jnp.mean(ce), jnp.mean(acc)


class MetaState(NamedTuple):
    genome: Genome
    opt_state: Any


def meta_optimizer(lr: float = 5e-4, clip: float = 10.0) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr))


def make_meta_step(net: BlurNet, sample: Callable, unroll: int, batch: int = 128, replicas: int = 1,
                   opt: optax.GradientTransformation | None = None):
    """``(state, key) -> (state, (loss, accuracy))`` for one genome; vmap it over genomes."""
    opt = opt or meta_optimizer()

    def step(state: MetaState, key: Array):
        (loss, acc), grads = jax.value_and_grad(
            lambda g: meta_loss(net, g, key, sample, unroll, batch, replicas), has_aux=True)(state.genome)
        upd, opt_state = opt.update(grads, state.opt_state, state.genome)
        return MetaState(optax.apply_updates(state.genome, upd), opt_state), (loss, acc)

    return step, opt
