"""Meta-training by short-term (truncated) backprop and recall evaluation (spec ``remember.md``
§4, §6.2, [recon]).

A stream is a sequence of windows, one complete write/delay/read episode each. A meta-step runs one
window of every stream (``vmap`` over streams, ``lax.scan`` over frames, K ticks per frame) and
takes one Adam step on the read-frame cross-entropy. The state at a window's start is the previous
window's end state under ``stop_gradient`` — synapse states carry information across windows, the
gradient does not — except every ``reset_every`` windows, when every stream starts afresh (new
synapse noise; the initial state's learned ``w̄`` then receives gradient). ``train_chunk`` is a
``lax.scan`` of ``log_every`` meta-steps compiled once.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from plastix.remember.baselines import FastWeights, Recurrent
from plastix.remember.config import RememberConfig
from plastix.remember.substrate import Substrate
from plastix.remember.task import Episode, TaskConfig, sample_batch

__all__ = ["make_model", "n_params", "window_loss", "TrainState", "Trainer", "trainer_for", "evaluate",
           "recall_metrics", "recall_by_position"]


def n_params(tree) -> int:
    return int(sum(np.prod(x.shape, dtype=int) for x in jax.tree.leaves(tree)))


def _matched_hidden(cfg: RememberConfig, gates: int, target: int) -> int:
    """Smallest hidden size whose recurrent baseline has at least ``target`` trained parameters."""
    n_in, n_out = cfg.task.n_in, cfg.d_value
    h = 1
    while gates * h * (n_in + h + 1) + h * n_out + n_out < target:
        h += 1
    return h


def make_model(cfg: RememberConfig):
    """The model named by ``cfg.model`` (the substrate or a baseline), with the common interface."""
    n_in, n_out = cfg.task.n_in, cfg.d_value
    if cfg.model in ("rule", "hebbian", "frozen"):
        return Substrate(cfg.substrate(), n_in, n_out)
    target = n_params(jax.eval_shape(Substrate(cfg.substrate("learned"), n_in, n_out).init, jax.random.key(0)))
    if cfg.model in ("lstm", "gru"):
        h = cfg.hidden or _matched_hidden(cfg, 4 if cfg.model == "lstm" else 3, target)
        return Recurrent(cfg.model, h, n_in, n_out)
    h = cfg.hidden or _matched_hidden(cfg, 1, target)
    return FastWeights(h, n_in, n_out, cfg.fw_lambda, cfg.fw_eta)


def recall_metrics(logits: jax.Array, ep: Episode) -> dict[str, jax.Array]:
    """Summed read-frame BCE, and bit / exact-match counts over the read frames of one episode."""
    bce = optax.sigmoid_binary_cross_entropy(logits, ep.target).sum(-1)
    correct = (logits > 0) == (ep.target > 0.5)
    return {"loss": jnp.sum(bce * ep.read), "bits": jnp.sum(correct.mean(-1) * ep.read),
            "exact": jnp.sum(correct.all(-1) * ep.read), "reads": jnp.sum(ep.read)}


def run_episode(model, params, state, ep: Episode, remat: bool = False):
    """Present an episode's frames to one stream; (end state, per-frame logits (T, n_out))."""
    step = (lambda st, x: model.frame(params, st, x))
    if remat:
        step = jax.checkpoint(step)
    return jax.lax.scan(step, state, ep.frames)


def window_loss(model, params, state, ep: Episode, remat: bool = False):
    """Mean over streams of the summed read-frame BCE of one window; aux = (end states, sums)."""
    def one(st, e):
        end, logits = run_episode(model, params, st, e, remat)
        return end, recall_metrics(logits, e)

    end, m = jax.vmap(one)(state, ep)
    return m["loss"].mean(), (end, jax.tree.map(jnp.sum, m))


class TrainState(NamedTuple):
    params: Any
    opt: Any
    streams: Any  # batched model state carried across windows
    step: jax.Array


@functools.lru_cache(maxsize=16)
def _trainer(cfg: RememberConfig) -> "Trainer":
    return Trainer(cfg)


def trainer_for(cfg: RememberConfig) -> "Trainer":
    """A shared :class:`Trainer` (and its compiled programs) for every config that differs from ``cfg``
    only in seed, budget, name or evaluation grid."""
    return _trainer(dataclasses.replace(cfg, seed=0, steps=1, name="", eval_episodes=1, eval_n=(1,), eval_delays=(0,),
                                        eval_fixed_n=1, eval_fixed_delay=0))


class Trainer:
    """``init(key)`` and ``chunk(state, key) -> (state, logs)``: ``log_every`` meta-steps, jit-ed once."""

    def __init__(self, cfg: RememberConfig):
        self.cfg, self.task = cfg.validate(), cfg.task
        self.model = make_model(cfg)
        self.opt = optax.chain(optax.clip_by_global_norm(cfg.clip), optax.adam(cfg.lr))
        self.chunk = jax.jit(self._chunk)

    def fresh(self, params, key):
        return jax.vmap(lambda k: self.model.init_state(params, k))(jax.random.split(key, self.cfg.batch))

    def init(self, key: jax.Array) -> TrainState:
        kp, ks = jax.random.split(key)
        params = self.model.init(kp)
        return TrainState(params, self.opt.init(params), self.fresh(params, ks), jnp.zeros((), jnp.int32))

    def meta_step(self, ts: TrainState, key: jax.Array):
        cfg = self.cfg
        ke, kr = jax.random.split(key)
        ep = sample_batch(ke, self.task, cfg.batch)
        reset = ts.step % cfg.reset_every == 0

        def loss(params):
            carried = jax.lax.stop_gradient(ts.streams)
            start = jax.tree.map(lambda a, b: jnp.where(reset, a, b), self.fresh(params, kr), carried)
            return window_loss(self.model, params, start, ep, cfg.remat)

        (value, (end, sums)), grads = jax.value_and_grad(loss, has_aux=True)(ts.params)
        updates, opt = self.opt.update(grads, ts.opt, ts.params)
        params = optax.apply_updates(ts.params, updates)
        logs = {"loss": value, "bit_accuracy": sums["bits"] / sums["reads"],
                "exact_match": sums["exact"] / sums["reads"], "grad_norm": optax.tree.norm(grads)}
        return TrainState(params, opt, jax.lax.stop_gradient(end), ts.step + 1), logs

    def _chunk(self, ts: TrainState, key: jax.Array):
        def body(ts, k):
            return self.meta_step(ts, k)

        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(ts.step + jnp.arange(self.cfg.log_every))
        return jax.lax.scan(body, ts, keys)


def evaluate(model, params, task: TaskConfig, key: jax.Array, n: int, delay: int, episodes: int,
             chunk: int = 250) -> dict[str, float]:
    """Recall of fresh streams on ``episodes`` episodes with exactly ``n`` snippets and delay ``delay``:
    bit accuracy and exact-match rate, each with its standard error over episodes."""
    bits, exact = _episode_program(model, task.fixed(n, delay), chunk, _episode_recall)(params, key, episodes)
    return recall_summary(n, delay, bits, exact)


def _se(a: np.ndarray) -> float:
    """Standard error of the mean over the leading axis (NaN for one sample)."""
    return float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan")


def recall_summary(n: int, delay: int, bits: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """One evaluation point from per-episode bit accuracies and exact-match rates: means and standard errors."""
    return {"n": n, "delay": delay, "episodes": len(bits), "bit_accuracy": float(bits.mean()),
            "bit_accuracy_se": _se(bits), "exact_match": float(exact.mean()), "exact_match_se": _se(exact)}


def recall_by_position(model, params, task: TaskConfig, key: jax.Array, n: int, delay: int, episodes: int,
                       chunk: int = 250) -> list[dict[str, float]]:
    """The serial-position curve: recall bit accuracy of the snippet written k-th (k = 0 first … n − 1
    last), with its standard error over ``episodes`` fresh episodes of exactly ``n`` snippets and delay
    ``delay``. A memory that each write overwrites is good at the last position only; a superposing
    (outer-product) memory is flat."""
    acc = _episode_program(model, task.fixed(n, delay), chunk, _position_recall)(params, key, episodes)  # (E, n)
    return [{"position": k, "n": n, "delay": delay, "bit_accuracy": float(acc[:, k].mean()),
             "bit_accuracy_se": _se(acc[:, k])} for k in range(n)]


def _episode_recall(logits, ep: Episode):
    """Per-episode bit accuracy and exact-match rate over the read frames."""
    m = recall_metrics(logits, ep)
    return m["bits"] / m["reads"], m["exact"] / m["reads"]


def _position_recall(logits, ep: Episode):
    """Per-episode bit accuracy of the snippet written k-th, k = 0 … n_max − 1."""
    bits = ((logits > 0) == (ep.target > 0.5)).mean(-1) * ep.read  # (T,)
    hit = (ep.slot[:, None] == jnp.arange(ep.keys.shape[0])[None]) & ep.read[:, None]  # (T, n_max)
    return (bits[:, None] * hit).sum(0) / jnp.maximum(hit.sum(0), 1)


@functools.lru_cache(maxsize=64)
def _episode_program(model, tcfg: TaskConfig, chunk: int, score):
    """``call(params, key, episodes)``: ``score(logits, episode)`` of ``episodes`` fresh single-stream
    episodes (one key each, run in jit-ed blocks of ``chunk``), as NumPy arrays with the episodes leading."""
    def one(params, k):
        ks, ke = jax.random.split(k)
        ep = jax.tree.map(lambda a: a[0], sample_batch(ke, tcfg, 1))
        _, logits = run_episode(model, params, model.init_state(params, ks), ep)
        return score(logits, ep)

    @jax.jit
    def run(params, blocks_keys):
        return jax.lax.map(lambda ks: jax.vmap(lambda k: one(params, k))(ks), blocks_keys)

    def call(params, key, episodes):
        blocks = -(-episodes // chunk)
        keys = jax.random.split(key, blocks * chunk).reshape(blocks, chunk)
        return jax.tree.map(lambda a: np.asarray(a).reshape((-1,) + a.shape[2:])[:episodes], run(params, keys))

    return call
