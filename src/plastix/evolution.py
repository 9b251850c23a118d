"""Evolution strategies behind one ask/tell interface, shared by the maze family and BLUR.

* :class:`Wang2022SepCMA` — the maze paper's separable CMA-ES (Wang et al., TMLR 2022), the
  strategy of every maze reproduction (``strategy="wang2022_sep_cma"``). Written here because its
  quirks are part of the result and no library has them: the current mean is population member 0
  and competes in the selection; each offspring gets a per-segment (per tensor) step jitter from
  {0.708, 1.0, 1.225}; ``d_σ`` and the ``h_σ`` test are the reference's forms; the rank-one
  covariance term uses the **previous** ``p_c``; ``c_cov = 0.02``; no fitness shaping; members with
  non-finite fitness are dropped and the weights of the survivors renormalised (on a copy).
* ``"open_es"``, ``"sep_cma_es"``, ``"snes"``, ``"cma_es"`` — evosax's OpenAI-ES, separable CMA-ES
  (Ros & Hansen 2008), SNES and CMA-ES (BLUR's genomes), wrapped to the same interface (evosax
  minimises: it sees ``−F``, non-finite → +∞). evosax is the maintained library; nothing of it is
  rewritten here.

Interface (``maximises`` fitness):

* ``init(key, mean) -> state``
* ``ask(key, state) -> (population (P, d), state)``
* ``tell(population, fitness (P,), state[, key]) -> state``
* ``mean(state) -> (d,)``

Every function is pure and jit-able; the caller checks that some fitness is finite (an all-invalid
generation is an error, :func:`check_fitness`). The evosax strategies also keep the best member
seen (``best(state) -> (solution, fitness)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.types import Array

__all__ = ["Wang2022SepCMA", "SepCMAState", "EvosaxStrategy", "make_strategy", "STRATEGIES", "EVOSAX",
           "check_fitness", "curriculum_restart"]

STRATEGIES = ("wang2022_sep_cma", "open_es", "sep_cma_es", "snes")  # the maze family's choices
EVOSAX = ("open_es", "sep_cma_es", "snes", "cma_es")


class SepCMAState(NamedTuple):
    mean: Array  # (d,)
    sigma: Array  # ()
    c: Array  # (d,) diagonal covariance
    p_sigma: Array  # (d,)
    p_c: Array  # (d,)
    t: Array  # () updates done so far


def check_fitness(fitness) -> None:
    """Raise ``FloatingPointError`` if no member of a generation has a finite fitness."""
    if not np.isfinite(np.asarray(fitness)).any():
        raise FloatingPointError("every member of the generation has a non-finite fitness; lower sigma0 or check "
                                 "the genome")


@dataclass(frozen=True)
class Wang2022SepCMA:
    """The maze paper's separable CMA-ES; every constant of its reference code is a field."""

    popsize: int
    segments: tuple[int, ...]  # sizes of the genome's tensors in flat order (the jitter segments)
    elite: int = 0  # k selected parents; 0 = popsize // 2
    sigma0: float = 0.01
    c_cov: float = 0.02  # the reference's evolution_lr
    jitter_factors: tuple[float, ...] = (0.708, 1.0, 1.225)
    jitter_probs: tuple[float, ...] = (0.05, 0.90, 0.05)
    rank_one_uses_new_path: bool = False  # [parity] the reference uses the previous p_c
    sigma_bounds: tuple[float, float] = (1e-6, 1.0)
    c_bounds: tuple[float, float] = (1e-12, 1.0)
    name: str = field(default="wang2022_sep_cma", init=False)

    def __post_init__(self):
        if self.popsize < 2:
            raise ValueError(f"population must be ≥ 2, got {self.popsize}")
        if not 1 <= self.k <= self.popsize:
            raise ValueError(f"elite must be in 1..{self.popsize}, got {self.elite}")
        if self.sigma0 <= 0:
            raise ValueError(f"sigma0 must be > 0, got {self.sigma0}")
        if len(self.jitter_factors) != len(self.jitter_probs) or abs(sum(self.jitter_probs) - 1) > 1e-9:
            raise ValueError("jitter_factors and jitter_probs must have equal lengths and probabilities summing to 1")

    @property
    def k(self) -> int:
        return self.elite or self.popsize // 2

    @property
    def d(self) -> int:
        return int(sum(self.segments))

    def constants(self) -> dict[str, float]:
        """μ_eff, w, c_σ, d_σ, χ_d, c_c and the h_σ threshold / sqrt(t+1), in float64."""
        k, d = self.k, self.d
        w = np.log(k + 1) - np.log(np.arange(1, k + 1))
        w = w / w.sum()
        mu = 1.0 / np.sum(w ** 2)
        cs = (mu + 2) / (d + mu + 3)
        ds = 1 + cs + 2 * np.sqrt((mu - d - 2) / (d + 1)) if mu > d + 2 else 1 + cs
        chi = np.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d ** 2))
        return {"weights": w, "mu_eff": mu, "c_sigma": cs, "d_sigma": ds, "chi": chi, "c_c": 4 / (d + 4),
                "hsig": np.sqrt(2 * cs) * (1.4 + 2 / (d + 1)) * chi}

    def init(self, key, mean) -> SepCMAState:
        del key
        mean = jnp.asarray(mean)
        if mean.shape != (self.d,):
            raise ValueError(f"mean has shape {mean.shape}; the segments describe ({self.d},)")
        z = jnp.zeros_like(mean)
        return SepCMAState(mean, jnp.asarray(self.sigma0, mean.dtype), jnp.ones_like(mean), z, z,
                           jnp.zeros((), jnp.int32))

    def jitter(self, key) -> Array:
        """Per-member, per-entry step factors ``s`` (P, d): one draw per member and segment."""
        seg = np.repeat(np.arange(len(self.segments)), self.segments)
        idx = jax.random.choice(key, len(self.jitter_factors), (self.popsize, len(self.segments)),
                                p=jnp.asarray(self.jitter_probs))
        return jnp.asarray(self.jitter_factors)[idx][:, seg]

    def ask(self, key, state: SepCMAState) -> tuple[Array, SepCMAState]:
        """Member 0 is the mean; members 1..P−1 are ``m + σ·sqrt(c)·s⊙z``."""
        k_j, k_z = jax.random.split(key)
        dt = state.mean.dtype
        z = jax.random.normal(k_z, (self.popsize - 1, self.d), dt)
        s = self.jitter(k_j)[1:].astype(dt)
        pop = state.mean[None] + (state.sigma * jnp.sqrt(state.c))[None] * s * z
        return jnp.concatenate([state.mean[None], pop]), state

    def tell(self, population, fitness, state: SepCMAState, key=None) -> SepCMAState:
        del key  # deterministic
        const = self.constants()
        k = self.k
        dt = state.mean.dtype
        P = population.shape[0]
        valid = jnp.isfinite(fitness)
        f = jnp.where(valid, fitness, -jnp.inf)
        idx = jnp.arange(P)
        order = jnp.lexsort((-idx, -f))[:k]  # descending fitness; ties: the later index first
        n_valid = jnp.sum(valid)
        w = jnp.asarray(const["weights"], dt)
        w = jnp.where(jnp.arange(k) < n_valid, w, 0.0)
        w = w / jnp.sum(w)  # renormalised copy when fewer than k members are valid
        sel = population[order]
        mu, cs, ds, chi, cc = (const[x] for x in ("mu_eff", "c_sigma", "d_sigma", "chi", "c_c"))
        m, sigma, c = state.mean, state.sigma, state.c
        mean = w @ sel
        dm = mean - m
        p_sigma = (1 - cs) * state.p_sigma + np.sqrt(cs * (2 - cs) * mu) * dm / (sigma * jnp.sqrt(c))
        norm = jnp.linalg.norm(p_sigma)
        new_sigma = sigma * jnp.exp((cs / ds) * (norm / chi - 1))
        t = state.t + 1
        hsig = (norm < const["hsig"] * jnp.sqrt(t + 1.0)).astype(dt)
        p_c = (1 - cc) * state.p_c + hsig * np.sqrt(cc * (2 - cc) * mu) * dm / sigma
        path = p_c if self.rank_one_uses_new_path else state.p_c
        a = self.c_cov
        c_new = (1 - a) * c + (a / mu) * path * path + a * (1 - 1 / mu) / sigma ** 2 * (w @ (sel - m[None]) ** 2)
        c_new = jnp.clip(c_new, *self.c_bounds)
        new_sigma = jnp.clip(new_sigma, *self.sigma_bounds)
        return SepCMAState(mean, new_sigma.astype(dt), c_new, p_sigma, p_c, t)

    def mean(self, state: SepCMAState) -> Array:
        return state.mean


def curriculum_restart(es: Wang2022SepCMA, state: SepCMAState, c_bounds: tuple[float, float] = (0.64, 1.0)
                       ) -> SepCMAState:
    """The authors' curriculum stage restart: clip ``c`` to [0.64, 1], reset σ to σ₀; keep
    the paths and ``t``. (A crash-resume restores everything exactly instead.)"""
    return state._replace(c=jnp.clip(state.c, *c_bounds), sigma=jnp.asarray(es.sigma0, state.sigma.dtype))


@dataclass(frozen=True)
class EvosaxStrategy:
    """An evosax strategy behind the plastix ask/tell interface (maximising)."""

    name: str
    popsize: int
    d: int
    sigma0: float = 0.01
    lr: float = 0.01  # Open-ES / SNES optimizer (Adam) learning rate
    es: Any = field(default=None, compare=False, hash=False)
    params: Any = field(default=None, compare=False, hash=False)

    def __post_init__(self):
        import optax
        from evosax.algorithms import CMA_ES, SNES, Open_ES, Sep_CMA_ES

        x0 = jnp.zeros(self.d)
        if self.name == "open_es":
            if self.popsize % 2:
                raise ValueError(f"open_es uses antithetic pairs: population must be even, got {self.popsize}")
            es = Open_ES(population_size=self.popsize, solution=x0, optimizer=optax.adam(self.lr),
                         std_schedule=optax.constant_schedule(self.sigma0))
            params = es.default_params
        elif self.name == "sep_cma_es":
            es = Sep_CMA_ES(population_size=self.popsize, solution=x0)
            params = es.default_params.replace(std_init=self.sigma0)
        elif self.name == "cma_es":
            es = CMA_ES(population_size=self.popsize, solution=x0)
            params = es.default_params.replace(std_init=self.sigma0)
        elif self.name == "snes":
            es = SNES(population_size=self.popsize, solution=x0, optimizer=optax.adam(self.lr))
            params = es.default_params.replace(std_init=self.sigma0)
        else:
            raise ValueError(f"unknown evolution strategy {self.name!r}; allowed: {', '.join(EVOSAX)}")
        object.__setattr__(self, "es", es)
        object.__setattr__(self, "params", params)

    def init(self, key, mean):
        with jax.numpy_rank_promotion("allow"):  # evosax relies on implicit rank promotion
            return self.es.init(key, jnp.asarray(mean, jnp.float32), self.params)

    def ask(self, key, state):
        with jax.numpy_rank_promotion("allow"):
            return self.es.ask(key, state, self.params)

    def tell(self, population, fitness, state, key=None):
        loss = jnp.where(jnp.isfinite(fitness), -fitness, jnp.inf)
        with jax.numpy_rank_promotion("allow"):
            state, _ = self.es.tell(jax.random.key(0) if key is None else key, population, loss, state, self.params)
        return state

    def best(self, state):
        """The best member seen so far and its (maximised) fitness."""
        return state.best_solution, -state.best_fitness

    def mean(self, state):
        with jax.numpy_rank_promotion("allow"):
            return self.es.get_mean(state)


def make_strategy(name: str, popsize: int, segments: tuple[int, ...], sigma0: float = 0.01, elite: int = 0,
                  c_cov: float = 0.02, lr: float = 0.01):
    """Strategy by name (``wang2022_sep_cma`` is the paper's); raises ``ValueError`` listing them."""
    if name == "wang2022_sep_cma":
        return Wang2022SepCMA(popsize=popsize, segments=tuple(int(s) for s in segments), elite=elite, sigma0=sigma0,
                              c_cov=c_cov)
    if name not in EVOSAX:
        raise ValueError(f"unknown evolution strategy {name!r}; allowed: wang2022_sep_cma, {', '.join(EVOSAX)}")
    return EvosaxStrategy(name, popsize, int(sum(segments)), sigma0=sigma0, lr=lr)
