"""Configuration of a remembering run (spec ``remember.md`` §2–4, [choice] defaults; the field help is
user-facing and stands on its own): a frozen
dataclass parsed by tyro and validated before any compute."""

from __future__ import annotations

import dataclasses

from plastix.validation import ConfigError, ConfigIO, at_least, choice, finite, require
from plastix.remember.substrate import SubstrateConfig
from plastix.remember.task import TaskConfig

MODELS = ("rule", "hebbian", "frozen", "lstm", "gru", "fastweights")


@dataclasses.dataclass(frozen=True)
class RememberConfig(ConfigIO):
    """Meta-train a model to remember key → value snippets by truncated BPTT over windows."""

    model: str = "rule"
    """rule (Gregor-style learned synapse rule) | hebbian (fixed Hebbian synapses, λ η learned) | frozen
    (no plasticity) | lstm | gru (BPTT) | fastweights (Ba et al. 2016)."""
    d_key: int = 8
    """Task: bits of each key (the cue written with a value and shown again to recall it)."""
    d_value: int = 8
    """Task: bits of each value (what the model must output when its key is shown)."""
    n_min: int = 1
    n_max: int = 4
    """Training N ~ U{n_min..n_max} snippets per episode."""
    delay_min: int = 0
    delay_max: int = 8
    """Training Δ ~ U{delay_min..delay_max} blank frames between writing and reading."""
    distractors: float = 0.0
    """Probability that a delay frame is a random ±1 distractor instead of a blank."""
    p_noise: float = 0.0
    """Probability that each cue bit is flipped when it is shown for recall."""
    snippet: int = 1
    """Snippet length L: 1 = key → value pairs; ≥ 2 = sequences of L frames of D_v bits cued by their first."""
    n_hid: int = 32
    """Substrate: hidden neurons."""
    d_a: int = 8
    """Substrate: state variables of each neuron."""
    d_w: int = 4
    """Substrate: state variables of each synapse (1 for the fixed Hebbian synapse)."""
    d_e: int = 8
    """Substrate: size of each neuron type's learned embedding."""
    ticks: int = 3
    """Substrate: update ticks per input frame (3 is the fewest that carry a cue from input to output)."""
    types: int = 1
    """Substrate: hidden neuron types, each with its own embedding (1 to n_hid)."""
    p_conn: float = 1.0
    """Substrate: probability that each allowed edge exists (a fixed random mask)."""
    message: str = "bilinear"
    """Substrate: message a synapse sends, bilinear (state-dependent matrix) | lowrank."""
    neuron: str = "gru"
    """Substrate: neuron update, gru | mlp."""
    embeddings: bool = True
    """Substrate: learned type embeddings (False: all fixed at zero, an ablation)."""
    io_types: bool = True
    """One type embedding per input and per output neuron (False: a single input and a single output type,
    under which recall cannot beat symmetric statistics)."""
    fw_hidden: int = 32
    """Hidden units of the synapse network F_w."""
    fw_products: bool = False
    """F_w's hidden layer also gets multiplicative pre × post terms A(s_i, e_i) ⊙ C(s_j, e_j) [choice]."""
    gate_bias: float = -4.0
    """Initial bias of F_w's gate (σ(−4) ≈ 0.018 of the state replaced per tick)."""
    hidden: int = 0
    """Hidden units of lstm / gru / fastweights; 0 = as many trained parameters as the learned rule."""
    fw_lambda: float = 0.95
    """fastweights: decay λ of the fast-weight matrix per frame."""
    fw_eta: float = 0.5
    """fastweights: write strength η of the outer-product update."""
    batch: int = 32
    """Streams per meta-batch."""
    reset_every: int = 8
    """Reset the streams every this many windows (1 = a fresh state per episode)."""
    lr: float = 1e-3
    """Meta-learning rate (Adam)."""
    clip: float = 1.0
    """Global-norm clip of the meta-gradient."""
    steps: int = 20_000
    """Meta-steps (one window of every stream each)."""
    log_every: int = 100
    """Meta-steps per logged row and per compiled chunk (a checkpoint after each chunk)."""
    remat: bool = False
    """jax.checkpoint every frame (less memory, ~1.3× more compute)."""
    eval_episodes: int = 1000
    """Evaluation: fresh episodes per grid point."""
    eval_n: tuple[int, ...] = (1, 2, 4, 8, 16)
    """Evaluation: snippet counts N tested (at --eval-fixed-delay), beyond the training range too."""
    eval_delays: tuple[int, ...] = (0, 4, 8, 16, 32, 64)
    """Evaluation: delays Δ tested (at --eval-fixed-n), beyond the training range too."""
    eval_fixed_n: int = 4
    """Evaluation: N held fixed while the delay varies."""
    eval_fixed_delay: int = 8
    """Evaluation: Δ held fixed while N varies."""
    seed: int = 0
    """Run seed (initialisation, episodes, synapse noise)."""
    name: str = ""
    """Run directory name (default: derived from the config)."""

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

    def memory_estimate(self) -> int:
        """About how many bytes meta-training holds at once (an upper-bound sketch): backpropagation through
        a window keeps every stream's state (neurons × d_a + synapses × d_w, dense connectivity) at every
        tick of every frame, twice (values and their cotangents)."""
        n = self.task.n_in + self.n_hid + self.d_value
        state = n * self.d_a + n * (self.n_hid + self.d_value) * self.d_w
        ticks = 1 if self.remat else self.ticks
        return 4 * 2 * self.batch * self.task.length * ticks * state

    def validate(self) -> "RememberConfig":
        choice("model", self.model, MODELS)
        self.task.validate()
        self.substrate("learned").validate()
        for f in ("batch", "reset_every", "steps", "log_every", "eval_episodes"):
            at_least(f, getattr(self, f), 1)
        at_least("hidden", self.hidden, 0, " (0 = parameter-matched)")
        for f in ("lr", "clip", "fw_eta"):
            finite(f, getattr(self, f), above=0)
        require("fw_lambda", 0 < self.fw_lambda <= 1, "in (0, 1]", self.fw_lambda)
        if any(n < 1 or n > 2 ** min(self.task.d_cue, 12) for n in (*self.eval_n, self.eval_fixed_n)):
            raise ConfigError("eval_n", f"{self.eval_n}; allowed: 1 to 2^d_key")
        at_least("eval_delays", self.eval_delays, 0, what="delays")
        at_least("eval_fixed_delay", self.eval_fixed_delay, 0)
        return self
