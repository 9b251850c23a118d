"""The training configuration: a frozen, typed dataclass parsed by tyro, validated before compute.

Every field has a docstring (shown by ``plastix train --help``). :meth:`TrainConfig.validate`
turns a config that cannot run into a :class:`ConfigError` naming the field and the allowed
values, so bad input fails before any compilation.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any

import tyro

from plastix.envs import ENVS
from plastix.validation import ConfigError as ConfigError
from plastix.validation import ConfigIO as ConfigIO
from plastix.validation import at_least, between, choice, finite, widths
from plastix.nets import ACTIVATIONS, GAUSSIAN_LINKS, HIDDEN_UNITS, OUTPUTS
from plastix.optim import OPTIMIZERS
from plastix.random import SAMPLERS
from plastix.rules import BASELINES, DENOMINATORS, DESCENTS, RULES, SURROGATES
from plastix.tasks import TASKS, address_bits
from plastix.tasks.parity import MAX_BITS as PARITY_MAX_BITS


# help texts made from the registries, so `plastix train --help` cannot go stale
_TASK_HELP = (f"Task: one-step {' | '.join(TASKS)}; environment {' | '.join(ENVS)} "
              "(descriptions: `plastix list`), or MODULE:NAME of your own.")
_RULE_HELP = f"Learning rule: {' | '.join(RULES)} (descriptions: `plastix list`), or MODULE:NAME of your own."
DEFAULT_LR = (1e-2, 1e-3, 1e-4)  # the WM reference rates, one per layer of the default 64-32 net


@dataclasses.dataclass(frozen=True)
class TrainConfig(ConfigIO):
    """Train a network with a learning rule on a one-step task, for several seeds at once."""

    task: Annotated[str, tyro.conf.arg(help=_TASK_HELP)] = "multiplexer"
    bits: int = 20
    """Input bits: multiplexer k + 2^k (6, 11, 20, 37); parity 1…64."""
    dim: int = 8
    """Regression input dimension."""
    rule: Annotated[str, tyro.conf.arg(help=_RULE_HELP)] = "reinforce"
    hidden: tuple[int, ...] = (64, 32)
    """Hidden layer widths, bottom to top."""
    unit: str = ""
    """Hidden units of stochastic networks: bernoulli ({0,1}) | bernoulli_pm1 (±1) | gaussian; empty = the rule's default."""
    activation: str = "tanh"
    """Hidden activation of the deterministic network (backprop): tanh | relu | sigmoid | softplus."""
    output: str = ""
    """Output layer: bernoulli | softmax | gaussian; empty = the task's default."""
    tau: tuple[float, ...] = (1.0,)
    """Temperature of Bernoulli/softmax units: one value, or one per layer (hidden..., output)."""
    sigma2: tuple[float, ...] = (1.0,)
    """Variance of Gaussian units: one value, or one per layer (hidden..., output)."""
    bias_init: str = "uniform"
    """Bias initialisation: uniform (U(±1e-3), WM code) | zeros (MAP-prop code)."""
    optimizer: str = "adam"
    """Optimizer: adam | sgd."""
    lr: tuple[float, ...] = DEFAULT_LR
    """Learning rate: one value, or one per layer (hidden..., output), as in the reference configs; the
    default's three rates fit the default two hidden layers (another depth: give --lr)."""
    adam_b1: float = 0.9
    """Adam β1 (reference 0.9)."""
    adam_b2: float = 0.999
    """Adam β2 (reference 0.999)."""
    adam_eps: float = 1e-8
    """Adam ε (reference 1e-8)."""
    reference_adam: bool = False
    """Reproduce the reference Adam's quirk (bias correction dropped after 1000 updates)."""
    baseline: str = "none"
    """Reward baseline: none (reference) | ema (running mean) | critic (learned b(x)); not for weight_max."""
    wm_p: float = 2.0
    """weight_max: exponent p of the outgoing-weight norm (reference 2)."""
    uwm_denominator: str = "sample"
    """uwm: counterfactual ratio denominator, sample (P(c|h)) | marginal (Rao-Blackwellised)."""
    ste_surrogate: str = "sigmoid"
    """ste: surrogate derivative, sigmoid (σ'(u/τ)/τ) | identity | reference (WM code, no 1/τ)."""
    map_steps: int = 20
    """map_prop: energy-minimisation steps (reference 20)."""
    map_update_adj: float = 0.5
    """map_prop: minimisation step size as a fraction of each layer's σ² (reference 0.5)."""
    map_descent: str = "fixed"
    """map_prop: minimisation steps, fixed (reference: every step is taken) | monotone (a step that would raise
    a sample's energy is not taken and that sample's step size halves; for fast-growing weights)."""
    gaussian_link: str = "softplus"
    """Link of Gaussian hidden units (map_prop): softplus (reference) | relu (the MAP-prop code's other l_type)."""
    sweeps: int = 10
    """boltzmann, boltzmann_joint: Gibbs sweeps after the initial state [choice]."""
    anneal: float = 1.0
    """boltzmann_joint, recurrent_feedback: temperature multiplier at the feed-forward sample, falling
    linearly to 1 at the last sweep or step (1 = fixed temperature)."""
    gibbs: str = "parallel"
    """boltzmann: Gibbs sampler, parallel (auxiliary-Gaussian block Gibbs) | sequential (random scan)."""
    gibbs_init: str = "forward"
    """boltzmann: initial state, forward (feed-forward sample) | previous (persistent chain; step 0 starts all off)."""
    bm_rule: str = "hebbian"
    """boltzmann, boltzmann_joint: eligibility, hebbian (no negative phase) | negative (second chain) | chain
    (every Gibbs update; boltzmann: sequential sampler only)."""
    recurrent_steps: int = 5
    """recurrent, recurrent_feedback: steps T of the recurrent layer(s) [choice]."""
    lateral_lr: float | None = None
    """boltzmann/recurrent: learning rate of the lateral weights U; None = the first layer's rate."""
    lateral_init: str = "glorot"
    """boltzmann/recurrent: initial lateral weights, glorot (zero diagonal) | zeros."""
    episodes: int = 1000
    """RL tasks: training episodes per seed (the run ends when every seed has finished them)."""
    gamma: float = 0.98
    """RL: discount γ (reference 0.98)."""
    actor_lambda: float = 0.0
    """RL: actor trace λ; traces decay by γλ (0 = no traces)."""
    lr_end: tuple[float, ...] = ()
    """RL: final actor learning rates of the linear schedule (one, or one per layer); empty = constant."""
    lr_end_t: int = 0
    """RL: environment steps over which the linear schedules go from start to end rates."""
    critic: str = "td"
    """RL critic: td (deterministic softplus MLP, TD(λ) by backprop) | map_prop (Gaussian MAP-prop, gated)."""
    critic_hidden: tuple[int, ...] = (64, 32)
    """RL: critic hidden widths."""
    critic_lr: tuple[float, ...] = (1e-2, 1e-5, 1e-6)
    """RL: critic learning rates (one, or one per layer), start of the schedule."""
    critic_lr_end: tuple[float, ...] = ()
    """RL: critic final learning rates; empty = constant."""
    critic_lambda: float = 0.8
    """RL: critic trace λ (decay γλ)."""
    critic_sigma2: tuple[float, ...] = (1.0,)
    """RL, map_prop critic: variances of its layers (one, or one per layer)."""
    reward_clip: float = 0.0
    """RL: clip the learning reward to [−c, c] (0 = no clipping; returns are logged unclipped)."""
    action_map: str = "clip"
    """RL, continuous actions: clip (clip the sample to the action box) | reference (2a+1 map of the MAP-prop code, then clip)."""
    batch: int = 1
    """Samples per update."""
    steps: int = 100_000
    """Number of updates (samples = steps × batch)."""
    seeds: int = 1
    """Number of seeds, run as one vmapped computation."""
    seed: int = 0
    """Base seed; seed s of the run uses key split(key(seed), seeds)[s]."""
    alignment: str = "none"
    """Log the alignment diagnostic: none | exact (cosine with the exact gradient, tiny nets, ≤ 11 bits) | ste."""
    sampler: str = "hash"
    """Random-number sampler: hash (fast counter-based) | jax (JAX's threefry)."""
    log_every: int = 0
    """Updates averaged into one metrics row; 0 = about 1000 rows per run."""
    name: str = ""
    """Run name (directory under --out); empty = derived from task, rule and seeds."""

    # ---- derived values -------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.hidden) + 1

    @property
    def layer_lrs(self) -> tuple[float, ...]:
        return self.lr * self.n_layers if len(self.lr) == 1 else self.lr

    @property
    def layer_taus(self) -> tuple[float, ...]:
        return self.tau * self.n_layers if len(self.tau) == 1 else self.tau

    @property
    def layer_sigma2s(self) -> tuple[float, ...]:
        return self.sigma2 * self.n_layers if len(self.sigma2) == 1 else self.sigma2

    @property
    def hidden_unit(self) -> str:
        return self.unit or RULES[self.rule].unit

    @property
    def log_interval(self) -> int:
        if self.log_every:
            return self.log_every
        lo = math.ceil(self.steps / 1000)  # the smallest divisor of steps giving ≤ 1000 rows
        return next(d for d in range(lo, self.steps + 1) if self.steps % d == 0)

    @property
    def n_logs(self) -> int:
        return self.steps // self.log_interval

    @property
    def is_rl(self) -> bool:
        """True for environment tasks (actor–critic), False for one-step tasks."""
        return self.task in ENVS

    @property
    def task_name(self) -> str:
        if self.is_rl:
            return self.task.rpartition(":")[2]  # an environment MODULE:NAME is called NAME
        return TASKS[self.task].label(self)

    @property
    def run_name(self) -> str:
        rule = self.rule.rpartition(":")[2]  # a rule MODULE:NAME is called NAME
        if self.is_rl:
            return self.name or f"{self.task_name}-{rule}-seed{self.seed}x{self.seeds}"
        return self.name or f"{self.task_name}-{rule}-b{self.batch}-seed{self.seed}x{self.seeds}"

    def memory_estimate(self) -> int:
        """About how many bytes a run of this config holds at once (an upper-bound sketch, not a measurement):
        per seed, five copies of the parameters (weights, gradients, Adam's two moments, the update),
        the per-step traces of every unit and a block of drawn inputs; the critic likewise."""
        n_in = max(self.bits, self.dim, 8)
        sizes = (n_in, *self.hidden, 2)
        n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        if self.is_rl or self.baseline == "critic":
            critic = (n_in, *self.critic_hidden, 1)
            n_params += sum((a + 1) * b for a, b in zip(critic[:-1], critic[1:]))
        units = sum(self.hidden) + 2
        per_seed = 5 * n_params + 6 * self.batch * units + 2048 * n_in
        return 4 * self.seeds * per_seed

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if isinstance(d.get("sigma2"), (int, float)):  # configs written before per-layer σ²
            d = {**d, "sigma2": [float(d["sigma2"])]}
        return super().from_dict(d)

    # ---- validation -----------------------------------------------------------------------
    def validate(self) -> "TrainConfig":
        """Raises :class:`ConfigError` if the config cannot run; returns ``self`` otherwise. A task or rule
        given as ``MODULE:NAME`` is imported and registered first (:mod:`plastix.plugins`)."""
        from plastix import plugins

        plugins.task(self.task)
        plugins.rule(self.rule)
        choice("task", self.task, tuple(TASKS) + tuple(ENVS))
        if self.is_rl:
            _validate_rl_fields(self)
        choice("rule", self.rule, RULES)
        if self.unit:
            choice("unit", self.unit, HIDDEN_UNITS)
        network = RULES[self.rule].network
        if network != "deterministic" and self.hidden_unit not in RULES[self.rule].units:
            raise ConfigError("unit", f"{self.rule} trains {' or '.join(RULES[self.rule].units)} hidden units, "
                              f"got {self.hidden_unit!r}; allowed: {', '.join(RULES[self.rule].units)}")
        choice("bias_init", self.bias_init, ("uniform", "zeros"))
        choice("gibbs", self.gibbs, ("parallel", "sequential"))
        choice("gibbs_init", self.gibbs_init, ("forward", "previous"))
        choice("bm_rule", self.bm_rule, ("hebbian", "negative", "chain"))
        choice("lateral_init", self.lateral_init, ("glorot", "zeros"))
        if self.bm_rule == "chain" and self.gibbs != "sequential" and network == "boltzmann":
            raise ConfigError("bm_rule", "chain scores every single Gibbs update and needs --gibbs sequential; "
                              "allowed with parallel: hebbian, negative")
        for name in ("map_steps", "sweeps"):
            at_least(name, getattr(self, name), 0)
        at_least("recurrent_steps", self.recurrent_steps, 1)
        if self.lateral_lr is not None:
            finite("lateral_lr", self.lateral_lr, at_least=0)
        finite("map_update_adj", self.map_update_adj, above=0)
        choice("map_descent", self.map_descent, DESCENTS)
        choice("gaussian_link", self.gaussian_link, GAUSSIAN_LINKS)
        if self.gaussian_link != "softplus" and (network == "deterministic" or self.hidden_unit != "gaussian"):
            units = "deterministic units (their activation is --activation)" if network == "deterministic" \
                else f"{self.hidden_unit} units"
            raise ConfigError("gaussian_link", f"applies to gaussian hidden units, and {self.rule} trains {units}; "
                              "allowed: softplus (the default)")
        finite("anneal", self.anneal, above=0)
        if network == "joint" and len(set(self.layer_taus)) > 1:
            raise ConfigError("tau", f"{self.rule} samples one Boltzmann distribution: give one --tau, got {self.tau}")
        if self.alignment != "none" and network in ("boltzmann", "recurrent", "joint", "feedback"):
            raise ConfigError("alignment", f"no alignment diagnostic for {self.rule}; allowed: none")
        choice("activation", self.activation, ACTIVATIONS)
        if self.output:
            choice("output", self.output, OUTPUTS)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        choice("baseline", self.baseline, BASELINES)
        choice("sampler", self.sampler, SAMPLERS)
        choice("uwm_denominator", self.uwm_denominator, DENOMINATORS)
        choice("alignment", self.alignment, ("none", "exact", "ste"))
        if self.alignment == "ste" and (network != "stochastic" or self.hidden_unit == "gaussian"):
            raise ConfigError("alignment", "ste alignment needs Bernoulli hidden units and a team rule; allowed: none, exact")
        if self.alignment == "exact":
            if self.task != "multiplexer" or self.bits > 11:
                raise ConfigError("alignment", "exact alignment enumerates every input: multiplexer with --bits ≤ 11 only")
            n_conf = 2 ** sum(self.hidden) if network == "stochastic" else 1
            if self.hidden_unit == "gaussian" or n_conf * 2 > 2**13:
                raise ConfigError("alignment", f"exact alignment enumerates 2^(sum of hidden widths) = {n_conf} "
                                  "configurations per input; allowed up to 4096 (e.g. --hidden 6 4)")
        choice("ste_surrogate", self.ste_surrogate, SURROGATES)
        finite("wm_p", self.wm_p, at_least=1)
        if self.rule == "backprop_supervised" and self.baseline != "none":
            raise ConfigError("baseline", "backprop_supervised learns from the correct action, not a reward; "
                              "allowed: none")
        if self.rule == "weight_max" and self.baseline != "none":
            raise ConfigError("baseline", "weight_max uses the raw reward as the reference does; allowed: none")
        if self.task == "multiplexer":
            try:
                address_bits(self.bits)
            except ValueError as e:
                raise ConfigError("bits", str(e)) from None
        if self.task == "parity" and not 1 <= self.bits <= PARITY_MAX_BITS:
            raise ConfigError("bits", f"parity takes 1…{PARITY_MAX_BITS} input bits, got {self.bits}")
        if not self.is_rl and self.output:
            sign = TASKS[self.task].action == "sign"
            if (self.output == "gaussian") == sign:
                allowed = "bernoulli, softmax" if sign else "gaussian"
                raise ConfigError("output", f"the {self.task} needs a {'binary' if sign else 'real'} action; allowed: {allowed}")
        at_least("dim", self.dim, 1)
        widths("hidden", self.hidden)
        if len(self.lr) not in (1, self.n_layers) and self.lr == DEFAULT_LR:
            raise ConfigError("lr", f"the default {' '.join(map(str, DEFAULT_LR))} is one rate per layer of a net with "
                              f"2 hidden layers; with --hidden {' '.join(map(str, self.hidden))} give --lr with 1 value "
                              f"or {self.n_layers} (one per layer)")
        for name, n in (("lr", len(self.lr)), ("tau", len(self.tau)), ("sigma2", len(self.sigma2))):
            if n not in (1, self.n_layers):
                raise ConfigError(name, f"give 1 value or {self.n_layers} (one per layer), got {n}")
        finite("lr", self.lr, at_least=0, what="learning rates")
        finite("tau", self.tau, above=0, what="temperatures")
        finite("sigma2", self.sigma2, above=0, what="variances")
        finite("adam_eps", self.adam_eps, above=0)
        for name in ("adam_b1", "adam_b2"):
            between(name, getattr(self, name), 0, 1, open_hi=True)
        for name in ("batch", "steps", "seeds"):
            at_least(name, getattr(self, name), 1)
        at_least("seed", self.seed, 0)
        at_least("log_every", self.log_every, 0, " (0 = automatic)")
        if self.log_every and self.steps % self.log_every:
            raise ConfigError("log_every", f"must divide steps ({self.steps}), got {self.log_every}")
        if self.name and ("/" in self.name or self.name.startswith(".")):
            raise ConfigError("name", f"must be a plain directory name, got {self.name!r}")
        return self


def _validate_rl_fields(cfg: "TrainConfig") -> None:
    """RL-only checks (called for environment tasks)."""
    from plastix.rl.critics import CRITICS

    if cfg.batch != 1:
        raise ConfigError("batch", f"RL runs one environment per seed (batch 1, as the reference); got {cfg.batch}")
    if cfg.baseline != "none":
        raise ConfigError("baseline", "in RL the critic's TD error is the signal; allowed: none")
    if cfg.rule == "backprop_supervised":
        raise ConfigError("rule", f"backprop_supervised needs a task with a correct action; {cfg.task} is an "
                          "environment (allowed there: any other rule)")
    if cfg.alignment != "none":
        raise ConfigError("alignment", "no alignment diagnostic for RL tasks; allowed: none")
    if cfg.gibbs_init == "previous":
        raise ConfigError("gibbs_init", "persistent chains are not supported on RL tasks; allowed: forward")
    at_least("episodes", cfg.episodes, 1)
    choice("critic", cfg.critic, CRITICS)
    choice("action_map", cfg.action_map, ("clip", "reference"))
    for name in ("gamma", "actor_lambda", "critic_lambda"):
        between(name, getattr(cfg, name), 0, 1)
    finite("reward_clip", cfg.reward_clip, at_least=0, note=" (0 = none)")
    at_least("lr_end_t", cfg.lr_end_t, 0)
    n_critic = len(cfg.critic_hidden) + 1
    for name, values, n in (("lr_end", cfg.lr_end, cfg.n_layers), ("critic_lr", cfg.critic_lr, n_critic),
                            ("critic_lr_end", cfg.critic_lr_end, n_critic), ("critic_sigma2", cfg.critic_sigma2, n_critic)):
        if values and len(values) not in (1, n):
            raise ConfigError(name, f"give 1 value or {n} (one per layer), got {len(values)}")
        finite(name, tuple(values), at_least=0)
    if not cfg.critic_lr:
        raise ConfigError("critic_lr", "give 1 value or one per critic layer")
    finite("critic_sigma2", cfg.critic_sigma2, above=0, what="variances")
    widths("critic_hidden", cfg.critic_hidden)
    if (cfg.lr_end or cfg.critic_lr_end) and cfg.lr_end_t == 0:
        raise ConfigError("lr_end_t", "a schedule (--lr-end / --critic-lr-end) needs --lr-end-t > 0")
    discrete = ENVS[cfg.task].discrete
    if cfg.output and cfg.output != ("softmax" if discrete else "gaussian"):
        allowed = "softmax" if discrete else "gaussian"
        raise ConfigError("output", f"{cfg.task} has {'discrete' if discrete else 'continuous'} actions; allowed: {allowed}")
    if cfg.output == "bernoulli":
        raise ConfigError("output", "RL actions come from a softmax (discrete) or gaussian (continuous) output; "
                          "allowed: softmax, gaussian")
