"""The BLUR genome (spec blur.md §1.2): the meta-parameters shared by every neuron, synapse and layer.

Core: four k × k matrices and four scalar gates, ``4k² + 4`` numbers —

* ``nu`` (ν) forward neuron transform, ``[c, d]``: sender state d → receiver state c;
* ``mu`` (μ) backward neuron transform, ``[c, d]``: upper neuron's state d → lower neuron's state c;
* ``nu_t`` (ν̃) Hebbian sender-side transform, ``[e, c]``: sender state e → channel c;
* ``mu_t`` (μ̃) Hebbian receiver-side transform, ``[c, d]``: receiver state d → channel c;
* ``f``, ``eta`` neuron keep and update gates; ``f_t``, ``eta_t`` synapse keep and update gates
  (``eta_t`` is the plasticity rate; negative ≈ descent).

Extras, always stored and used only where the network config enables them: per-channel
normalisation scales and shifts for the forward and backward passes (``gamma_fwd``, ``beta_fwd``,
``gamma_bwd``, ``beta_bwd``), the Oja multiplier ``omega``, the synapse rescale ``rho`` of synapse
normalisation (spec D6), the saturation scale ``alpha`` (D7) and the meta-loss logit scale
``logit_scale`` (it never enters the inner loop).

Genomes save to ``.npz`` (arrays) or JSON (nested lists) and load back exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.types import Array


class Genome(NamedTuple):
    nu: Array  # (k, k)
    mu: Array  # (k, k)
    nu_t: Array  # (k, k)
    mu_t: Array  # (k, k)
    f: Array  # ()
    eta: Array  # ()
    f_t: Array  # ()
    eta_t: Array  # ()
    gamma_fwd: Array  # (k,)
    beta_fwd: Array  # (k,)
    gamma_bwd: Array  # (k,)
    beta_bwd: Array  # (k,)
    omega: Array  # ()
    logit_scale: Array  # ()
    rho: Array  # (), synapse rescale of synapse normalisation (D6)
    alpha: Array  # (), synapse saturation scale (D7)

    @property
    def k(self) -> int:
        return int(self.nu.shape[-1])


CORE = ("nu", "mu", "nu_t", "mu_t", "f", "eta", "f_t", "eta_t")


def _extras(k: int, dtype) -> dict:
    one, zero = jnp.ones((k,), dtype), jnp.zeros((k,), dtype)
    return {"gamma_fwd": one, "beta_fwd": zero, "gamma_bwd": one, "beta_bwd": zero,
            **{name: jnp.asarray(1.0, dtype) for name in ("omega", "logit_scale", "rho", "alpha")}}


def random_genome(key: Array, k: int, eta_t: float = -0.1, dtype=jnp.float32) -> Genome:
    """N(0, 1) transforms, gates f = η = f̃ = 1, η̃ = ``eta_t`` (−0.1 for the mean batch reduction,
    spec D4 [choice]; the reference's −1e−3 goes with its sum reduction)."""
    ks = jax.random.split(key, 4)
    mats = [jax.random.normal(kk, (k, k), dtype) for kk in ks]
    s = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    return Genome(*mats, s(1.0), s(1.0), s(1.0), s(eta_t), **_extras(k, dtype))


def backprop_genome(lr: float, k: int = 2, dtype=jnp.float32) -> Genome:
    """The genome for which one BLUR step is one SGD step (spec §3.1): ν = [[1,0],[1,0]], μ = I,
    ν̃ = I, μ̃ = swap, f = η = f̃ = 1, η̃ = −lr. For k > 2 the 2 × 2 blocks sit in the top-left
    corner and the rest is zero [choice]. Use with the backprop network settings
    (:func:`plastix.blur.network.backprop_config`)."""
    if k < 2:
        raise ValueError(f"the backprop genome needs k ≥ 2 states, got {k}")

    def embed(block):
        m = np.zeros((k, k))
        m[:2, :2] = block
        return jnp.asarray(m, dtype)

    s = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    return Genome(embed([[1, 0], [1, 0]]), embed(np.eye(2)), embed(np.eye(2)), embed([[0, 1], [1, 0]]),
                  s(1.0), s(1.0), s(1.0), s(-lr), **_extras(k, dtype))


def n_core(k: int) -> int:
    """Numbers in the core genome: ``4k² + 4``."""
    return 4 * k * k + 4


def save_genome(genome: Genome, path: str | Path) -> Path:
    """``.npz`` (arrays) or ``.json`` (nested lists), by the suffix; written atomically."""
    from plastix.rundir import atomic_write_bytes, atomic_write_npz

    path = Path(path)
    arrays = {name: np.asarray(v) for name, v in genome._asdict().items()}
    if path.suffix == ".json":
        atomic_write_bytes(path, json.dumps({n: a.tolist() for n, a in arrays.items()}, indent=1).encode())
    elif path.suffix == ".npz":
        atomic_write_npz(path, arrays)
    else:
        raise ValueError(f"{path}: unknown genome format {path.suffix!r}; allowed: .npz, .json")
    return path


def load_genome(path: str | Path, dtype=jnp.float32) -> Genome:
    """Read :func:`save_genome` output; a missing or malformed file raises ``ValueError`` naming it."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            raw = {n: np.asarray(v) for n, v in json.loads(path.read_text()).items()}
        else:
            from plastix.rundir import read_npz

            raw = read_npz(path, "genome file")
    except (OSError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a genome file ({e}); expected .npz or .json with {', '.join(Genome._fields)}") from None
    missing = [n for n in CORE if n not in raw]
    if missing:
        raise ValueError(f"{path}: missing genome fields {', '.join(missing)}")
    k = raw["nu"].shape[-1]
    full = {**_extras(k, dtype), **raw}  # files from before an extra existed get its default
    return Genome(**{n: jnp.asarray(full[n], dtype) for n in Genome._fields})
