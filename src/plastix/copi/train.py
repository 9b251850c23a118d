"""COPI training: one jit-compiled epoch (a ``lax.scan`` over batches) and a batched evaluation.

Pure functions only (the runner does the I/O). Per batch, every update (ΔW and ΔR of every layer)
is computed from the same forward pass and perturbation, then applied together (spec §5
[choice]). Schedule (§9): ``warmup_r_epochs`` epochs in which only R learns, then ``epochs``
joint epochs; data reshuffled every epoch, no partial batch; the network is evaluated after the
warm-up (entry 0) and after each joint epoch.

**Divergence guard** (§13): after every batch a finiteness flag is computed from the batch loss
(the output depends on every W and R, so a non-finite weight anywhere reaches it by the next
batch) and the sums of the updated top-layer W and R. On the first non-finite value the seed's
state is frozen (the update is masked with ``jnp.where``), ``diverged`` is set and the (epoch,
batch) recorded; later metrics are NaN and the runner reports status ``"diverged"``. Masking
with the flag true selects the new values exactly, so a finite run is bit-identical with the
guard on or off. Every seed has its own flag, so under ``vmap`` one diverging seed never stops
another.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from plastix.copi.config import CopiConfig
from plastix.nets.decorrelated import forward, init_decorrelated, predict
from plastix.optim import scale_by_adam_constant_correction
from plastix.rules.copi import copi
from plastix.types import Array

EVAL_CHUNK = 1000  # samples per inference batch


class CopiState(NamedTuple):
    params: dict  # {"W": (…), "R": (…) or None}
    opt_state: Any  # optimizer state of W
    rule_state: dict  # {"B": …} for feedback alignment
    diverged: Array  # () bool
    fail_epoch: Array  # () int32, -1 while finite
    fail_batch: Array  # () int32


def layer_sizes(cfg: CopiConfig, dim: int, n_classes: int = 10) -> tuple[int, ...]:
    return (dim, *cfg.hidden, n_classes)


def w_optimizer(cfg: CopiConfig) -> optax.GradientTransformation:
    """``sgd`` (rate η), the reference Adam (constant bias correction) or optax Adam, at ``adam_lr``."""
    if cfg.optimizer == "sgd":
        return optax.sgd(cfg.eta)
    if cfg.optimizer == "adam_reference":
        return optax.chain(scale_by_adam_constant_correction(), optax.scale(-cfg.adam_lr))
    return optax.adam(cfg.adam_lr, b1=0.9, b2=0.999, eps=1e-8)


class CopiTrainer(NamedTuple):
    init: Any  # (key) -> CopiState
    epoch: Any  # (state, x, y, key, epoch_index, learn_w: static bool) -> (state, mean batch loss)
    evaluate: Any  # (params, x, y) -> (accuracy, mse)
    batch_order: Any  # (key, n) -> (n_batches, batch) sample indices of one epoch
    step: Any  # (state, xb, targets, learn_w: static bool) -> (state, batch loss): one update


def make_trainer(cfg: CopiConfig, dim: int, n_classes: int = 10, lam: float | None = None) -> CopiTrainer:
    """Build the pure functions of one seed's run (vmap them over seeds if wanted).

    ``lam`` overrides ``cfg.loss_multiplier`` (the divergence retry policy lowers it)."""
    sizes = layer_sizes(cfg, dim, n_classes)
    dtype = jnp.dtype(cfg.dtype)
    lam = cfg.loss_multiplier if lam is None else lam
    slope, bs = cfg.activation_slope, cfg.batch_size
    opt = w_optimizer(cfg)

    def init(key):
        k_net, k_fb = jax.random.split(key)
        params = init_decorrelated(k_net, sizes, cfg.decorrelates, dtype)
        rule = _rule(k_fb)
        return CopiState(params, opt.init(params["W"]), rule.init(params), jnp.array(False),
                         jnp.array(-1, jnp.int32), jnp.array(-1, jnp.int32))

    def _rule(k_fb):
        return copi(sizes, cfg.weight_rule, cfg.perturbation, cfg.decorrelation, lam, slope, cfg.output_fprime, k_fb)

    rule = _rule(jax.random.key(0))  # update() never reads the key (FA matrices live in the state)

    def step(state: CopiState, xb: Array, tb: Array, learn_w: bool):
        params = state.params
        a_L, trace = forward(params, xb, slope)
        loss = jnp.mean((tb - a_L) ** 2)
        grads, rule_state = rule.update(trace, tb, state.rule_state, params)
        W, opt_state = params["W"], state.opt_state
        if learn_w:
            upd, opt_state = opt.update(grads["W"], state.opt_state, W)
            W = optax.apply_updates(W, upd)
        R = params["R"]
        if grads["R"] is not None:
            R = tuple(r - cfg.eta * g for r, g in zip(R, grads["R"]))
        new = CopiState({"W": W, "R": R}, opt_state, rule_state, state.diverged, state.fail_epoch, state.fail_batch)
        if not cfg.guard:
            return new, loss
        ok = jnp.isfinite(loss) & jnp.isfinite(jnp.sum(W[-1]))
        if R is not None:
            ok &= jnp.isfinite(jnp.sum(R[-1]))
        keep_new = ok & ~state.diverged
        merged = jax.tree.map(lambda n, o: jnp.where(keep_new, n, o), new[:3], state[:3])
        return CopiState(*merged, state.diverged | ~ok, state.fail_epoch, state.fail_batch), loss

    eye = jnp.eye(n_classes, dtype=dtype)

    def batch_order(key: Array, n: int) -> Array:
        n_batches = n // bs
        return jax.random.permutation(key, n)[: n_batches * bs].reshape(n_batches, bs)

    def epoch(state: CopiState, x: Array, y: Array, key: Array, epoch_index, learn_w: bool = True):
        order = batch_order(key, x.shape[0])
        n_batches = order.shape[0]

        def body(carry, ib):
            i, idx = ib
            was = carry.diverged
            new, loss = step(carry, x[idx].astype(dtype), eye[y[idx]], learn_w)
            first = new.diverged & ~was
            new = new._replace(fail_epoch=jnp.where(first, jnp.asarray(epoch_index, jnp.int32), new.fail_epoch),
                               fail_batch=jnp.where(first, i.astype(jnp.int32), new.fail_batch))
            return new, loss

        state, losses = jax.lax.scan(body, state, (jnp.arange(n_batches), order))
        mean_loss = jnp.where(state.diverged, jnp.nan, jnp.mean(losses))
        return state, mean_loss

    def evaluate(params: dict, x: Array, y: Array):
        """Accuracy (argmax a_L) and MSE (mean over samples and outputs) on the whole set."""
        n = x.shape[0]
        pad = (-n) % EVAL_CHUNK if n > EVAL_CHUNK else 0
        chunk = EVAL_CHUNK if n > EVAL_CHUNK else n
        xp = jnp.pad(x, ((0, pad), (0, 0))).reshape(-1, chunk, x.shape[1])
        yp = jnp.pad(y, (0, pad)).reshape(-1, chunk)
        valid = (jnp.arange(n + pad) < n).reshape(-1, chunk)

        def one(args):
            xb, yb, vb = args
            out = predict(params, xb.astype(dtype), slope)
            correct = jnp.sum((jnp.argmax(out, -1) == yb) & vb)
            sq = jnp.sum(jnp.where(vb[:, None], (jax.nn.one_hot(yb, n_classes, dtype=dtype) - out) ** 2, 0.0))
            return correct, sq

        correct, sq = jax.lax.map(one, (xp, yp, valid))
        return jnp.sum(correct) / n, jnp.sum(sq) / (n * n_classes)

    return CopiTrainer(init, epoch, evaluate, batch_order, step)
