"""Configuration of a remembering run (spec ``remember.md`` §2–4, [choice] defaults): a frozen
dataclass parsed by tyro and validated before any compute."""

from __future__ import annotations

import dataclasses

from plastix.config import ConfigError, ConfigIO, _choice
from plastix.remember.substrate import SubstrateConfig
from plastix.remember.task import TaskConfig

MODELS = ("rule", "hebbian", "frozen", "lstm", "gru", "fastweights")


@dataclasses.dataclass(frozen=True)
class RememberConfig(ConfigIO):
    """Meta-train a model to remember key → value snippets by truncated BPTT over windows."""

    model: str = "rule"
    """rule (Gregor-style learned synapse rule) | hebbian (fixed Hebbian synapses, λ η learned) | frozen
    (no plasticity) | lstm | gru (BPTT) | fastweights (Ba et al. 2016)."""
    # task (spec §3.1)
    d_key: int = 8
    d_value: int = 8
    n_min: int = 1
    n_max: int = 4
    """Training N ~ U{n_min..n_max} snippets per episode."""
    delay_min: int = 0
    delay_max: int = 8
    """Training Δ ~ U{delay_min..delay_max} blank frames between writing and reading."""
    distractors: float = 0.0
    p_noise: float = 0.0
    snippet: int = 1
    """Snippet length L: 1 = key → value pairs; ≥ 2 = sequences of L frames of D_v bits cued by their first."""
    # substrate (spec §2.1)
    n_hid: int = 32
    d_a: int = 8
    d_w: int = 4
    d_e: int = 8
    ticks: int = 3
    types: int = 1
    p_conn: float = 1.0
    message: str = "bilinear"
    neuron: str = "gru"
    embeddings: bool = True
    io_types: bool = True
    """One type embedding per input and per output neuron (False: the spec's single input / output type,
    under which recall cannot beat symmetric statistics; see SubstrateConfig.io_types)."""
    fw_hidden: int = 32
    """Hidden units of the synapse network F_w."""
    fw_products: bool = False
    """F_w's hidden layer also gets multiplicative pre × post terms A(s_i, e_i) ⊙ C(s_j, e_j) [choice]."""
    gate_bias: float = -4.0
    """Initial bias of F_w's gate (σ(−4) ≈ 0.018 of the state replaced per tick)."""
    # baselines (spec §6.1)
    hidden: int = 0
    """Hidden units of lstm / gru / fastweights; 0 = as many trained parameters as the learned rule."""
    fw_lambda: float = 0.95
    fw_eta: float = 0.5
    # meta-training (spec §4)
    batch: int = 32
    """Streams per meta-batch."""
    reset_every: int = 8
    """Reset the streams every this many windows (1 = a fresh state per episode)."""
    lr: float = 1e-3
    clip: float = 1.0
    steps: int = 20_000
    """Meta-steps (one window of every stream each)."""
    log_every: int = 100
    """Meta-steps per logged row and per compiled chunk (a checkpoint after each chunk)."""
    remat: bool = False
    """jax.checkpoint every frame (less memory, ~1.3× more compute)."""
    # evaluation (spec §6.2)
    eval_episodes: int = 1000
    eval_n: tuple[int, ...] = (1, 2, 4, 8, 16)
    eval_delays: tuple[int, ...] = (0, 4, 8, 16, 32, 64)
    eval_fixed_n: int = 4
    eval_fixed_delay: int = 8
    seed: int = 0
    name: str = ""

    @property
    def run_name(self) -> str:
        return self.name or f"remember-{self.model}-n{self.n_max}-d{self.delay_max}-seed{self.seed}"

    @property
    def task(self) -> TaskConfig:
        return TaskConfig(self.d_key, self.d_value, self.n_min, self.n_max, self.delay_min, self.delay_max,
                          self.distractors, self.p_noise, self.snippet)

    def substrate(self, synapse: str = "") -> SubstrateConfig:
        synapse = synapse or {"rule": "learned"}.get(self.model, self.model)
        return SubstrateConfig(n_hid=self.n_hid, d_a=self.d_a, d_w=1 if synapse == "hebbian" else self.d_w,
                               d_e=self.d_e, ticks=self.ticks, types=self.types, p_conn=self.p_conn,
                               message=self.message, neuron=self.neuron, synapse=synapse,
                               embeddings=self.embeddings, io_types=self.io_types, fw_hidden=self.fw_hidden,
                               fw_products=self.fw_products,
                               gate_bias=self.gate_bias)

    def validate(self) -> "RememberConfig":
        _choice("model", self.model, MODELS)
        self.task.validate()
        self.substrate("learned").validate()
        for f in ("batch", "reset_every", "steps", "log_every", "eval_episodes"):
            if getattr(self, f) < 1:
                raise ConfigError(f, f"{getattr(self, f)}; allowed: ≥ 1")
        if self.hidden < 0:
            raise ConfigError("hidden", f"{self.hidden}; allowed: 0 (parameter-matched) or ≥ 1")
        if not (self.lr > 0 and self.clip > 0):
            raise ConfigError("lr" if not self.lr > 0 else "clip", "must be > 0")
        if not (0 < self.fw_lambda <= 1 and self.fw_eta > 0):
            raise ConfigError("fw_lambda" if not 0 < self.fw_lambda <= 1 else "fw_eta",
                              "allowed: 0 < fw_lambda ≤ 1, fw_eta > 0")
        if any(n < 1 or n > 2 ** min(self.task.d_cue, 12) for n in (*self.eval_n, self.eval_fixed_n)):
            raise ConfigError("eval_n", f"{self.eval_n}; allowed: 1 to 2^d_key")
        if any(d < 0 for d in (*self.eval_delays, self.eval_fixed_delay)):
            raise ConfigError("eval_delays", f"{self.eval_delays}; allowed: ≥ 0")
        return self
