"""The remembering task family (spec ``remember.md`` §3, [recon]): key → value snippets.

An episode is a fixed-length stream of frames ``[key (D_k) | value (D_v) | write flag | read flag]``:

* write phase — ``N`` frames ``[k_n, v_n, 1, 0]``;
* delay — ``Δ`` frames, blank, or with probability ``distractors`` a random ``[±1…, 0, 0]`` frame;
* read phase — the ``N`` keys again in a random order with the read flag, ``[k_π(m), 0, 0, 1]``
  (each key bit flipped with probability ``p_noise``); the target is the value written under it;
* padding — blank frames up to the episode's static length ``2·N_max + Δ_max`` (no target).

``N`` and ``Δ`` are data (traced integers), so episodes of different difficulty share one compiled
program and a batch of them is one ``vmap``. Keys are distinct within an episode: the first
``min(D_k, 12)`` key bits encode distinct integers drawn without replacement.

This is the spec's reconstruction of the paper's objective (the paper's task is not available);
the sequence-snippet, auto-associative and image-content variants of spec §3.2 are not built.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["TaskConfig", "Episode", "sample_episode", "sample_batch", "episode_length", "lookup_oracle"]


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Knobs of the key → value task (spec §3.1, §5); defaults are the spec's training distribution."""

    d_key: int = 8
    d_value: int = 8
    n_min: int = 1
    n_max: int = 4
    delay_min: int = 0
    delay_max: int = 8
    distractors: float = 0.0
    """Probability that a delay frame is a random ±1 distractor instead of a blank."""
    p_noise: float = 0.0
    """Probability that each cue bit is flipped at read time."""
    snippet: int = 1
    """Snippet length L. 1: key → value pairs. L ≥ 2: the sequence variant (spec §3.2) — N snippets of L
    random frames of D_v bits are written; each is cued by its first frame (read flag) followed by L − 1
    blank frames whose targets are the snippet's remaining frames (D_k is unused)."""

    @property
    def n_in(self) -> int:
        return (self.d_key if self.snippet == 1 else 0) + self.d_value + 2

    @property
    def length(self) -> int:
        return episode_length(self.n_max, self.delay_max, self.snippet)

    def validate(self) -> "TaskConfig":
        from plastix.validation import ConfigError, at_least, between

        at_least("d_key", self.d_key, 1)
        at_least("d_value", self.d_value, 1)
        at_least("snippet", self.snippet, 1, " (1 = key → value pairs)")
        if not 1 <= self.n_min <= self.n_max:
            raise ConfigError("n_min", f"{self.n_min}..{self.n_max}; allowed: 1 ≤ n_min ≤ n_max")
        if self.n_max > 2 ** min(self.d_cue, 12):
            raise ConfigError("n_max", f"{self.n_max}; allowed: ≤ 2^min(d_key, 12) = {2 ** min(self.d_cue, 12)} "
                              "(cues are distinct)")
        if not 0 <= self.delay_min <= self.delay_max:
            raise ConfigError("delay_min", f"{self.delay_min}..{self.delay_max}; allowed: 0 ≤ delay_min ≤ delay_max")
        for f in ("distractors", "p_noise"):
            between(f, getattr(self, f), 0, 1)
        return self

    @property
    def d_cue(self) -> int:
        return self.d_key if self.snippet == 1 else self.d_value

    def fixed(self, n: int, delay: int) -> "TaskConfig":
        """The same task with exactly ``n`` snippets and delay ``delay`` (an evaluation point)."""
        return dataclasses.replace(self, n_min=n, n_max=n, delay_min=delay, delay_max=delay)


class Episode(NamedTuple):
    frames: jax.Array  # (T, D_k + D_v + 2), values in {-1, 0, 1}
    target: jax.Array  # (T, D_v), values in {0, 1} (meaningful where read)
    read: jax.Array  # (T,) bool: frames whose output is scored
    keys: jax.Array  # (N_max, D_k) ±1, the written keys (rows ≥ N unused)
    values: jax.Array  # (N_max, D_v) ±1
    slot: jax.Array  # (T,) int32: write position (0 = written first) of the snippet a read frame recalls; −1 elsewhere


def episode_length(n_max: int, delay_max: int, snippet: int = 1) -> int:
    return 2 * n_max * snippet + delay_max


def _bits(ints: jax.Array, width: int) -> jax.Array:
    return ((ints[:, None] >> jnp.arange(width)[None, :]) & 1).astype(jnp.float32) * 2.0 - 1.0


def _pm(x: jax.Array) -> jax.Array:
    return jnp.where(x < 0.5, -1.0, 1.0)


def _draw(key: jax.Array, cfg: TaskConfig, sizes: dict[str, int], n, delay):
    """All of an episode's uniforms from one generator call (compiles far faster than one call per
    quantity), split by ``sizes``; N and Δ drawn uniformly unless given."""
    u = jax.random.uniform(key, (2 + sum(sizes.values()),))
    parts, at = {}, 2
    for name, size in sizes.items():
        parts[name], at = u[at:at + size], at + size
    if n is None:
        n = cfg.n_min + jnp.minimum((u[0] * (cfg.n_max - cfg.n_min + 1)).astype(jnp.int32), cfg.n_max - cfg.n_min)
    if delay is None:
        span = cfg.delay_max - cfg.delay_min
        delay = cfg.delay_min + jnp.minimum((u[1] * (span + 1)).astype(jnp.int32), span)
    return parts, jnp.asarray(n), jnp.asarray(delay)


@functools.partial(jax.jit, static_argnames=("cfg",))
def sample_episode(key: jax.Array, cfg: TaskConfig, n=None, delay=None) -> Episode:
    """One episode; ``n``/``delay`` fix N and Δ (else uniform over the config's ranges)."""
    if cfg.snippet > 1:
        return _sequence_episode(key, cfg, n, delay)
    lo = min(cfg.d_key, 12)
    T, M, dk, dv = cfg.length, cfg.n_max, cfg.d_key, cfg.d_value
    sizes = {"ints": 2 ** lo, "extra": M * (dk - lo), "values": M * dv, "order": M,
             "flip": T * dk, "dis": T * (dk + dv), "dmask": T}
    parts, n, delay = _draw(key, cfg, sizes, n, delay)
    ints = jax.lax.top_k(parts["ints"], M)[1]  # a uniformly random ordered subset: distinct keys
    keys = jnp.concatenate([_bits(ints, lo), _pm(parts["extra"]).reshape(M, dk - lo)], 1)
    values = _pm(parts["values"]).reshape(M, dv)
    slot = jnp.arange(cfg.n_max)
    order = jnp.argsort(parts["order"] + (slot >= n) * 2.0)  # first n: a permutation of 0..n-1
    t = jnp.arange(cfg.length)
    write, dly = t < n, (t >= n) & (t < n + delay)
    read = (t >= n + delay) & (t < 2 * n + delay)
    w_idx = jnp.clip(t, 0, cfg.n_max - 1)
    r_idx = order[jnp.clip(t - n - delay, 0, cfg.n_max - 1)]
    flip = parts["flip"].reshape(T, dk) < cfg.p_noise
    cue = keys[r_idx] * jnp.where(flip, -1.0, 1.0)
    dis = _pm(parts["dis"]).reshape(T, dk + dv) * (parts["dmask"].reshape(T, 1) < cfg.distractors)
    zeros_v = jnp.zeros((cfg.length, cfg.d_value))
    one, zero = jnp.ones((cfg.length, 1)), jnp.zeros((cfg.length, 1))
    f_write = jnp.concatenate([keys[w_idx], values[w_idx], one, zero], 1)
    f_delay = jnp.concatenate([dis, zero, zero], 1)
    f_read = jnp.concatenate([cue, zeros_v, zero, one], 1)
    frames = jnp.where(write[:, None], f_write, jnp.where(dly[:, None], f_delay,
                                                          jnp.where(read[:, None], f_read, 0.0)))
    target = (values[r_idx] + 1.0) / 2.0 * read[:, None]
    return Episode(frames, target, read, keys, values, jnp.where(read, r_idx, -1).astype(jnp.int32))


def _sequence_episode(key: jax.Array, cfg: TaskConfig, n=None, delay=None) -> Episode:
    """The sequence variant: frames ``[x (D_v) | write | read]``; see :attr:`TaskConfig.snippet`."""
    L, M, D, T = cfg.snippet, cfg.n_max, cfg.d_value, cfg.length
    lo = min(D, 12)
    sizes = {"ints": 2 ** lo, "first": M * (D - lo), "rest": M * (L - 1) * D, "order": M,
             "flip": T * D, "dis": T * D, "dmask": T}
    parts, n, delay = _draw(key, cfg, sizes, n, delay)
    first = jnp.concatenate([_bits(jax.lax.top_k(parts["ints"], M)[1], lo), _pm(parts["first"]).reshape(M, D - lo)], 1)
    snips = jnp.concatenate([first[:, None], _pm(parts["rest"]).reshape(M, L - 1, D)], 1)  # (M, L, D), distinct cues
    order = jnp.argsort(parts["order"] + (jnp.arange(M) >= n) * 2.0)
    t = jnp.arange(T)
    write, dly = t < n * L, (t >= n * L) & (t < n * L + delay)
    tr = t - n * L - delay
    in_read = (tr >= 0) & (tr < n * L)
    m, j = jnp.clip(tr // L, 0, M - 1), jnp.clip(tr % L, 0, L - 1)
    idx = order[m]
    cue = (j == 0) & in_read
    w_frame = snips[jnp.clip(t // L, 0, M - 1), t % L]
    noisy = snips[idx, 0] * jnp.where(parts["flip"].reshape(T, D) < cfg.p_noise, -1.0, 1.0)
    dis = _pm(parts["dis"]).reshape(T, D) * (parts["dmask"].reshape(T, 1) < cfg.distractors)
    zero, one = jnp.zeros((T, 1)), jnp.ones((T, 1))
    frames = jnp.where(write[:, None], jnp.concatenate([w_frame, one, zero], 1),
                       jnp.where(dly[:, None], jnp.concatenate([dis, zero, zero], 1),
                                 jnp.where(cue[:, None], jnp.concatenate([noisy, zero, one], 1), 0.0)))
    read = in_read & (j > 0)
    target = (snips[idx, j] + 1.0) / 2.0 * read[:, None]
    return Episode(frames, target, read, first, snips.reshape(M, L * D), jnp.where(read, idx, -1).astype(jnp.int32))


@functools.partial(jax.jit, static_argnames=("cfg", "batch"))
def sample_batch(key: jax.Array, cfg: TaskConfig, batch: int, n=None, delay=None) -> Episode:
    """``batch`` independent episodes (leading axis)."""
    return jax.vmap(lambda k: sample_episode(k, cfg, n, delay))(jax.random.split(key, batch))


def lookup_oracle(ep: Episode, cfg: TaskConfig) -> jax.Array:
    """A lookup table built from the write frames, queried with the read cues: (T, D_v) predictions
    in {0, 1} (the R2 oracle; exact for ``p_noise = 0``)."""
    f = ep.frames
    if cfg.snippet > 1:  # the last cue's matching snippet start s, then frame s + (t − cue time)
        D, L, T = cfg.d_value, cfg.snippet, f.shape[0]
        t = jnp.arange(T)
        last = jax.lax.cummax(jnp.where(f[:, -1] > 0, t, -1))
        starts = (f[:, -2] > 0) & (t % L == 0)
        match = jnp.all(f[jnp.maximum(last, 0), None, :D] == f[None, :, :D], -1) & starts[None, :]
        s = jnp.argmax(match, 1)
        return (f[jnp.clip(s + t - last, 0, T - 1), :D] > 0).astype(jnp.float32)
    keys, vals, wflag = f[:, :cfg.d_key], f[:, cfg.d_key:cfg.d_key + cfg.d_value], f[:, -2]
    match = jnp.all(keys[:, None, :] == keys[None, :, :], -1) & (wflag[None, :] > 0)  # (read t, write s)
    v = jnp.sum(match[:, :, None] * vals[None], 1)
    return (v > 0).astype(jnp.float32)
