"""Task samplers for BLUR meta-training (spec blur.md §6): 2-D toy tasks and image datasets.

A sampler is a pure function ``(key, n) -> (x (n, d), y (n,) class indices)``, so a batch of tasks
is one ``vmap`` and a whole inner loop one ``lax.scan``. The 2-D tasks draw ``x ~ U[−1, 1]²`` and
label by the rule of the spec's table (labels normalised to class indices: class 1 = the "+1"
side). Two generators are re-implemented in JAX instead of calling scikit-learn, so they can be
jitted [choice]: ``moons`` draws the arc parameter uniformly (scikit-learn spaces 3B points evenly
and keeps the first B of a shuffle — the same distribution up to the spacing) with noise 0.1 and
the spec's rescaling; ``blob5x1`` draws 5 centres in [−1, 1]² per call (std 0.1, 5 classes).
Radii of ``centercirc`` / ``smallcentercirc``: 0.5 / 0.25 [choice].
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from plastix.types import Array

Sampler = Callable[[Array, int], tuple[Array, Array]]


def _uniform(key, n):
    return jax.random.uniform(key, (n, 2), minval=-1.0, maxval=1.0)


def _rule(fn: Callable[[Array, Array], Array]) -> Sampler:
    def sample(key, n):
        x = _uniform(key, n)
        return x, fn(x[:, 0], x[:, 1]).astype(jnp.int32)

    return sample


def _moons(key, n):
    k1, k2, k3 = jax.random.split(key, 3)
    y = jax.random.bernoulli(k1, 0.5, (n,)).astype(jnp.int32)
    t = jax.random.uniform(k2, (n,), maxval=jnp.pi)
    outer = jnp.stack([jnp.cos(t), jnp.sin(t)], 1)
    inner = jnp.stack([1 - jnp.cos(t), 0.5 - jnp.sin(t)], 1)
    x = jnp.where(y[:, None] == 0, outer, inner) + 0.1 * jax.random.normal(k3, (n, 2))
    x = jnp.stack([(x[:, 0] + 1) * 2 / 3 - 1, (x[:, 1] + 0.5) * 2 / 1.5 - 1], 1)
    return x, y


def _blobs(key, n):
    k1, k2, k3 = jax.random.split(key, 3)
    centers = jax.random.uniform(k1, (5, 2), minval=-1.0, maxval=1.0)
    y = jax.random.randint(k2, (n,), 0, 5)
    return centers[y] + 0.1 * jax.random.normal(k3, (n, 2)), y


LABEL_RULES: dict[str, Callable[[Array, Array], Array]] = {  # class 1 iff the rule holds at (x1, x2)
    "xor": lambda a, b: a * b > 0,
    "and": lambda a, b: (a > 0) & (b > 0),
    "or": lambda a, b: (a > 0) | (b > 0),
    "nxor": lambda a, b: a * b < 0,
    "qand": lambda a, b: (a < 0) & (b > 0),
    "centercirc": lambda a, b: a * a + b * b < 0.25,
    "smallcentercirc": lambda a, b: a * a + b * b < 0.0625,
    "pieslice": lambda a, b: jnp.abs(jnp.arctan2(b, a)) <= 0.78,
    "cross": lambda a, b: (jnp.abs(a) < 0.3) | (jnp.abs(b) < 0.3),
    "triangle": lambda a, b: (a + b < 1) & (-a + b < 1) & (b > -0.5),
    "square": lambda a, b: jnp.maximum(jnp.abs(a), jnp.abs(b)) < 0.2,
}
TOY_TASKS: dict[str, tuple[Sampler, int]] = {  # name: (sampler, classes)
    **{name: (_rule(fn), 2) for name, fn in LABEL_RULES.items()},
    "moons": (_moons, 2),
    "blob5x1": (_blobs, 5),
}
META_TRAIN = ("xor", "and", "moons")  # the paper's meta-training tasks
META_TEST = ("centercirc", "smallcentercirc", "pieslice", "cross", "triangle")


def mixture(names: tuple[str, ...]) -> Sampler:
    """One sampler that picks one of ``names`` per call (uniformly, from the key); all must share
    a class count."""
    classes = {TOY_TASKS[n][1] for n in names}
    if len(classes) != 1:
        raise ValueError(f"tasks {names} have different class counts {sorted(classes)}")
    return mix_samplers([TOY_TASKS[n][0] for n in names])


def mix_samplers(samplers: list[Sampler]) -> Sampler:
    """One sampler that calls one of ``samplers`` per call, uniformly, chosen from the key."""

    def sample(key, n):
        k_task, k_data = jax.random.split(key)
        i = jax.random.randint(k_task, (), 0, len(samplers))
        return jax.lax.switch(i, [lambda k, s=s: s(k, n) for s in samplers], k_data)

    return sample


def select_classes(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The examples of ``classes`` only, relabelled 0… in the order given."""
    y = np.asarray(y, np.int32)
    remap = np.full(max(int(y.max()), *classes) + 1, -1, np.int32)
    remap[list(classes)] = np.arange(len(classes))
    keep = remap[y] >= 0
    return x[keep], remap[y[keep]]


def dataset_sampler(x: np.ndarray, y: np.ndarray, classes: tuple[int, ...] | None = None) -> Sampler:
    """Samples with replacement from an image set (optionally restricted to ``classes``, relabelled 0…)."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int32)
    if classes is not None:
        x, y = select_classes(x, y, classes)
    xs, ys = jnp.asarray(x), jnp.asarray(y)

    def sample(key, n):
        idx = jax.random.randint(key, (n,), 0, xs.shape[0])
        return xs[idx], ys[idx]

    return sample


def resize_images(x: np.ndarray, side: int, size: int, crop: int = 0) -> np.ndarray:
    """Square images (n, side·side) → (n, size·size): optional central crop of ``crop`` pixels, then
    area-average (or nearest, when not divisible) resizing. MNIST 10 × 10: ``crop=20``; 14 × 14: 2 × 2 means."""
    imgs = np.asarray(x, np.float32).reshape(-1, side, side)
    if crop:
        o = (side - crop) // 2
        imgs = imgs[:, o:o + crop, o:o + crop]
    s = imgs.shape[1]
    if s % size == 0:
        f = s // size
        out = imgs.reshape(-1, size, f, size, f).mean((2, 4))
    else:
        idx = (np.arange(size) * s / size + s / (2 * size)).astype(int)
        out = imgs[:, idx][:, :, idx]
    return out.reshape(len(out), -1)
