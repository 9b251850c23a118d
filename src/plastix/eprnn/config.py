"""Maze meta-training configuration (spec ``plasticity_maze.md`` §5–6, §13): a frozen dataclass
parsed by tyro and validated before any compute."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from plastix.validation import ConfigError, ConfigIO, at_least, between, choice, finite
from plastix.eprnn.agent import AGENTS
from plastix.evolution import STRATEGIES

WEIGHTINGS = ("paper", "hard")
STRATEGY_FILE = "strategy.pkl"  # a finished run's final strategy state (what warm_start reads)


@dataclasses.dataclass(frozen=True)
class MazeConfig(ConfigIO):
    """Evolve a maze agent's genome: every generation scores the population on fresh random mazes."""

    agent: str = "decprnn-post"
    """Agent: decprnn-{none,pre,post} (decomposed rule) | abcd-* | trace-* | rnn | gru | lstm."""
    strategy: str = "wang2022_sep_cma"
    """Evolution strategy: wang2022_sep_cma (the paper's) | open_es | sep_cma_es | snes (evosax)."""
    popsize: int = 64
    """Population size P (the paper: 360; the mean is member 0 in wang2022_sep_cma)."""
    elite: int = 0
    """Selected parents k (wang2022_sep_cma); 0 = P/2."""
    sigma0: float = 0.01
    """Initial step size σ₀ (the paper: 0.01 for DecPRNN, RNN and LSTM; 0.006 for ABCD)."""
    c_cov: float = 0.02
    """Diagonal-covariance learning rate of wang2022_sep_cma (the reference's evolution_lr)."""
    lr: float = 0.01
    """Adam learning rate of open_es and snes."""
    maze_size: int = 9
    """Training maze size n (odd, ≥ 7; the paper: 9, 15, 21)."""
    crowd: float = 0.30
    """Crowd ratio ρ: interior walls left = ⌊ρ(n−2)²⌋ (the paper: 0.30 for 9×9, 0.35 for 15×15)."""
    mazes: int = 8
    """Fresh random mazes per generation, shared by the whole population (the paper: 12)."""
    sub_iterations: int = 1
    """Lifetimes per maze and member per generation (task_sub_iterations)."""
    generations: int = 1000
    """Generations to run."""
    weighting: str = "paper"
    """Episode weights: paper (0, 0, .16, .22, .36, .64, .8, 1) | hard (0, 0, 0, 0, 1, 1, 1, 1)."""
    obs_sign: float = 1.0
    """Observation sign: +1 = metagym 0.1 (wall +1, goal −1; the released genotype's) | −1 = metagym 0.2."""
    feed_reward: bool = False
    """Fill input slots 13/14 with the last reward and 0 (off: the reference's constant zeros)."""
    eval_every: int = 50
    """Evaluate the mean genome every this many generations (and at the start and the end)."""
    eval_mazes: int = 256
    """Evaluation mazes: the first N stored mazes of this size when plastix ships them (9, 15), else a seeded set."""
    checkpoint_every: int = 25
    """Write a resumable checkpoint every this many generations."""
    warm_start: str = ""
    """A finished run directory to continue from as a curriculum stage (its strategy.pkl; as the paper's
    restarts: c clipped to [0.64, 1], σ reset to σ₀, paths and t kept); wang2022_sep_cma, same agent.
    Empty: the initial genotype."""
    restart_every: int = 0
    """Restart the strategy as a curriculum stage every this many generations within the run (as the
    paper's restarts: c clipped to [0.64, 1], σ reset to σ₀; wang2022_sep_cma); 0 = never."""
    seed: int = 0
    """Run seed (initial genome, mazes, sampling)."""
    name: str = ""
    """Run directory name (default: derived from the config)."""

    @property
    def run_name(self) -> str:
        return self.name or f"maze{self.maze_size}-{self.agent}-{self.strategy}-p{self.popsize}-seed{self.seed}"

    def validate(self) -> "MazeConfig":
        """:class:`ConfigError` naming the field and the allowed values if the config cannot run."""
        choice("agent", self.agent, tuple(AGENTS))
        choice("strategy", self.strategy, STRATEGIES)
        choice("weighting", self.weighting, WEIGHTINGS)
        if self.maze_size < 7 or self.maze_size % 2 == 0:
            raise ConfigError("maze_size", f"{self.maze_size}; allowed: odd sizes ≥ 7 (the paper's: 9, 15, 21)")
        between("crowd", self.crowd, 0, 1)
        at_least("popsize", self.popsize, 2)
        if self.strategy == "open_es" and self.popsize % 2:
            raise ConfigError("popsize", f"{self.popsize}; open_es needs an even population (antithetic pairs)")
        if not 0 <= self.elite <= self.popsize:
            raise ConfigError("elite", f"{self.elite}; allowed: 0 (= P/2) to {self.popsize}")
        finite("sigma0", self.sigma0, above=0)
        if self.obs_sign not in (1.0, -1.0):
            raise ConfigError("obs_sign", f"{self.obs_sign}; allowed: 1 (metagym 0.1) or -1 (metagym 0.2)")
        at_least("restart_every", self.restart_every, 0, " (0 = never)")
        for field in ("restart_every", "warm_start"):
            if getattr(self, field) and self.strategy != "wang2022_sep_cma":
                raise ConfigError(field, f"needs strategy wang2022_sep_cma (the paper's curriculum restart), "
                                         f"got {self.strategy!r}")
        if self.warm_start and not (Path(self.warm_start) / STRATEGY_FILE).is_file():
            raise ConfigError("warm_start", f"{self.warm_start!r} has no {STRATEGY_FILE}; allowed: the directory of a "
                                            f"finished wang2022_sep_cma maze run")
        for f in ("mazes", "sub_iterations", "generations", "eval_every", "eval_mazes", "checkpoint_every"):
            at_least(f, getattr(self, f), 1)
        return self
