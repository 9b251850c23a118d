r"""Analyses of trained COPI networks (spec copi.md §12.3): receptive fields and network compression.

**Receptive fields.** For unit i of layer l, ``RF_i = ⟨a_{l,i} · u⟩ ⊘ ⟨u ⊙ u⟩`` element-wise over
the input u — the COPI-style per-input regression of the unit's pre-activation on each input
separately. ``u`` is the raw network input by default or the decorrelated pixels ``x_1 = R_1 y_0``
(``decorrelated=True``); which one the authors' notebook used is not certain (spec §12.3).

**Compression.** Replace layers s … L of a trained network by one linear map inferred COPI-style
from the decorrelated input ``x_s`` of layer s to the network output:
``W̃ = ⟨a_L x_sᵀ⟩ diag(⟨x_s ⊙ x_s⟩)⁻¹`` (training-set statistics [choice]); "k layers removed" is
s = L − k, so k = L − 1 maps straight from the decorrelated pixels. Accuracy of ``argmax W̃ x_s``
on the train and test sets, per k.

Statistics are accumulated over inference chunks, so full MNIST/CIFAR fit in memory.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from plastix.nets.decorrelated import forward
from plastix.types import Array

CHUNK = 1000


def _chunks(x: np.ndarray):
    for i in range(0, x.shape[0], CHUNK):
        yield jnp.asarray(x[i:i + CHUNK])


def _regress(stats, x: np.ndarray) -> Array:
    """``Σ a uᵀ / Σ u²`` (column-wise) with ``stats(chunk) -> (Σ a uᵀ, Σ u²)`` summed over the chunks of ``x``."""
    num, den = 0.0, 0.0
    for xb in _chunks(x):
        s_au, s_uu = stats(xb)
        num, den = num + s_au, den + s_uu
    return num / jnp.maximum(den, 1e-12)[None, :]


def receptive_fields(params: dict, x: np.ndarray, layer: int = 1, slope: float = 0.1,
                     decorrelated: bool = False) -> np.ndarray:
    """``(units, d_0)`` array: ``⟨a_{layer,i} u⟩ / ⟨u²⟩`` over the samples ``x`` (layers count from 1)."""
    n_layers = len(params["W"])
    if not 1 <= layer <= n_layers:
        raise ValueError(f"layer {layer} out of range; allowed: 1 to {n_layers}")

    @jax.jit
    def stats(xb):
        _, trace = forward(params, xb, slope)
        u = trace[0].x if decorrelated else xb
        a = trace[layer - 1].a
        return a.T @ u, jnp.sum(u * u, axis=0)

    return np.asarray(_regress(stats, x))


def compression_map(params: dict, x: np.ndarray, s: int, slope: float = 0.1) -> Array:
    """``W̃ = ⟨a_L x_sᵀ⟩ diag(⟨x_s²⟩)⁻¹`` from the samples ``x`` (s counts layers from 1)."""

    @jax.jit
    def stats(xb):
        a_L, trace = forward(params, xb, slope)
        xs = trace[s - 1].x
        return a_L.T @ xs, jnp.sum(xs * xs, axis=0)

    return _regress(stats, x)


def compressed_accuracy(params: dict, W_tilde: Array, s: int, x: np.ndarray, y: np.ndarray,
                        slope: float = 0.1) -> float:
    """Accuracy of ``argmax W̃ x_s`` (the network's layers below s kept)."""

    @jax.jit
    def correct(xb, yb):
        _, trace = forward(params, xb, slope)
        return jnp.sum(jnp.argmax(trace[s - 1].x @ W_tilde.T, -1) == yb)

    total = 0
    for i, xb in enumerate(_chunks(x)):
        total += int(correct(xb, jnp.asarray(y[i * CHUNK:(i + 1) * CHUNK])))
    return total / x.shape[0]


def full_accuracy(params: dict, x: np.ndarray, y: np.ndarray, slope: float = 0.1) -> float:
    f = jax.jit(lambda xb: jnp.argmax(forward(params, xb, slope)[0], -1))
    hits = sum(int(jnp.sum(f(xb) == jnp.asarray(y[i * CHUNK:(i + 1) * CHUNK]))) for i, xb in enumerate(_chunks(x)))
    return hits / x.shape[0]


def compression_table(params: dict, ds, slope: float = 0.1) -> list[dict]:
    """Rows ``{"removed": k, "train_acc", "test_acc"}`` for k = 0 (the full network) … L − 1."""
    n_layers = len(params["W"])
    rows = [{"removed": 0, "train_acc": full_accuracy(params, ds.x_train, ds.y_train, slope),
             "test_acc": full_accuracy(params, ds.x_test, ds.y_test, slope)}]
    for k in range(1, n_layers):
        s = n_layers - k
        Wt = compression_map(params, ds.x_train, s, slope)
        rows.append({"removed": k,
                     "train_acc": compressed_accuracy(params, Wt, s, ds.x_train, ds.y_train, slope),
                     "test_acc": compressed_accuracy(params, Wt, s, ds.x_test, ds.y_test, slope)})
    return rows


def plot_receptive_fields(rf: np.ndarray, image_shape: tuple[int, ...], path: Path, title: str = "",
                          n: int = 25) -> Path:
    """A grid of the first ``n`` units' fields, each on a symmetric colour scale clipped at its 98th
    percentile of |value|: inputs that are almost never on (MNIST's border pixels) have a tiny ⟨u²⟩
    and a huge, noisy ratio that would otherwise hide the field."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(n, rf.shape[0])
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        f = rf[i]
        if len(image_shape) == 1:  # 1-D inputs (MNIST-1D)
            ax.axis("on")
            ax.plot(f, lw=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        m = float(np.percentile(np.abs(f), 98)) or 1.0
        if len(image_shape) == 3:  # channel-major colour image → H×W×C, scaled to [0, 1]
            img = np.clip(f.reshape(image_shape).transpose(1, 2, 0) / m, -1, 1)
            ax.imshow(0.5 + 0.5 * img)
        else:
            ax.imshow(f.reshape(image_shape), cmap="RdBu_r", vmin=-m, vmax=m)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_compression(table: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    """Train and test accuracy (mean ± std over seeds) against the number of layers removed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    k = table["removed"]
    for split in ("train", "test"):
        m, s = table[f"{split}_mean"], table[f"{split}_std"]
        ax.errorbar(k, m, yerr=s, marker="o", capsize=3, label=split)
    ax.set_xlabel("layers removed (replaced by one COPI-inferred linear map)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
