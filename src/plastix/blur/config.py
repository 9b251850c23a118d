"""Configuration of a BLUR CMA-ES run (spec blur.md §5.2): a frozen dataclass parsed by tyro and
validated before any compute."""

from __future__ import annotations

import dataclasses

from plastix.config import ConfigError, ConfigIO, _choice, _positive

DATASETS = ("digits", "mnist5k", "mnist", "fashion_mnist")
INITS = ("random", "backprop")


@dataclasses.dataclass(frozen=True)
class BlurCmaConfig(ConfigIO):
    """Evolve a BLUR genome with CMA-ES: fitness = query accuracy after a few inner steps."""

    dataset: str = "mnist5k"
    """digits | mnist5k (bundled) | mnist | fashion_mnist (from --data-dir)."""
    data_dir: str = ""
    side: int = 14
    """Image side after resizing (MNIST 28 → 14 by 2 × 2 means; 0 keeps the native size)."""
    classes: tuple[int, ...] = ()
    """Evolve (and test) on these classes only, relabelled 0… in this order (empty: all)."""
    transfer: tuple[str, ...] = ()
    """Tasks the final genome is also evaluated on, unseen in evolution, each DATASET[@SIDE][/CLASSES]
    with CLASSES a range 5-9 or a list 0+2+4, e.g. digits/5-9 mnist5k@14 (a fresh network of the
    same hidden sizes; BLUR against SGD)."""
    hidden: tuple[int, ...] = (512,)
    k: int = 2
    """States per neuron (and channels per synapse)."""
    normalize: bool = True
    oja: bool = True
    population: int = 80
    generations: int = 400
    sigma0: float = 0.5
    init: str = "random"
    """Initial CMA mean: random (an N(0, 1) genome) | backprop (the SGD genome's values)."""
    n_support: int = 15
    """Inner learning steps (batches) before the fitness is measured."""
    n_query: int = 20
    batch: int = 128
    eval_every: int = 10
    """Generations between test evaluations of the mean genome (and checkpoints)."""
    eval_draws: int = 3
    """Synapse draws averaged in each test evaluation."""
    curve_steps: int = 100
    """Inner steps of the final genome's test-accuracy curve (against SGD)."""
    seed: int = 0
    name: str = ""

    @property
    def run_name(self) -> str:
        h = "x".join(map(str, self.hidden))
        return self.name or f"blur-cmaes-{self.dataset}{self.side or ''}-h{h}-k{self.k}-p{self.population}-seed{self.seed}"

    def validate(self) -> "BlurCmaConfig":
        """:class:`ConfigError` naming the field and the allowed values if the config cannot run."""
        _choice("dataset", self.dataset, DATASETS)
        _choice("init", self.init, INITS)
        if self.k < 2:
            raise ConfigError("k", f"k={self.k}: BLUR needs ≥ 2 states (state 2 carries the feedback)")
        if self.init == "backprop" and self.k != 2:
            raise ConfigError("init", "the backprop genome is defined for k = 2")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError("hidden", "give ≥ 1 hidden width, each ≥ 1")
        for f in ("population", "generations", "n_support", "n_query", "batch", "eval_every", "eval_draws",
                  "curve_steps"):
            _positive(f, getattr(self, f))
        if self.population < 4:
            raise ConfigError("population", "CMA-ES needs a population of ≥ 4")
        if not (self.sigma0 > 0 and self.sigma0 < float("inf")):
            raise ConfigError("sigma0", "must be finite and > 0")
        if self.side < 0:
            raise ConfigError("side", "must be ≥ 0 (0 keeps the native size)")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) == 1:
            raise ConfigError("classes", "give ≥ 2 distinct classes (or none for all)")
        for spec in self.transfer:
            parse_transfer(spec)
        return self


def parse_transfer(spec: str) -> tuple[str, int, tuple[int, ...]]:
    """``"digits/5-9"`` → ("digits", 0, (5, 6, 7, 8, 9)); ``"mnist5k@14"`` → ("mnist5k", 14, ())."""
    head, _, cls = spec.partition("/")
    name, _, side = head.partition("@")
    bad = ConfigError("transfer", f"{spec!r} is not DATASET[@SIDE][/CLASSES] (e.g. digits/5-9, mnist5k@14); "
                                  f"datasets: {', '.join(DATASETS)}")
    if name not in DATASETS or (side and not side.isdigit()):
        raise bad
    classes: tuple[int, ...] = ()
    if cls:
        try:
            if "-" in cls:
                lo, hi = (int(v) for v in cls.split("-"))
                classes = tuple(range(lo, hi + 1))
            else:
                classes = tuple(int(v) for v in cls.split("+"))
        except ValueError:
            raise bad from None
        if len(set(classes)) < 2:
            raise bad
    return name, int(side or 0), classes


def transfer_slug(spec: str) -> str:
    return spec.replace("@", "").replace("/", "-").replace("+", "_")
