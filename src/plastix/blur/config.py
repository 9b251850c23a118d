"""Configuration of a BLUR CMA-ES run (spec blur.md §5.2): a frozen dataclass parsed by tyro and
validated before any compute."""

from __future__ import annotations

import dataclasses

from plastix.blur.network import BlurNet
from plastix.validation import ConfigError, ConfigIO, at_least, choice, finite, widths
from plastix.datasets import DATASETS, resize_allowed
INITS = ("random", "backprop")


@dataclasses.dataclass(frozen=True)
class BlurNetOptions(ConfigIO):
    """The BLUR network's options, shared by the CMA-ES and the gradient meta-training configs (their
    fields come first in both; flat on the command line and in ``config.json``)."""

    k: int = 2
    """States per neuron (and channels per synapse)."""
    normalize: bool = True
    oja: bool = True
    synapse_norm: bool = False
    """Synapse normalisation in the sweeps (spec D6): read ρ·w/‖w_·j‖, ρ in the genome."""
    saturation: bool = False
    """Synapse saturation (spec D7): w ← α·tanh(w/α) after every update, α in the genome."""

    def make_net(self, sizes: tuple[int, ...]) -> BlurNet:
        """The validated :class:`BlurNet` of these options with layer ``sizes`` (inputs … outputs)."""
        return BlurNet(tuple(sizes), k=self.k, normalize=self.normalize, oja=self.oja,
                       synapse_norm=self.synapse_norm, saturation=self.saturation).validate()


@dataclasses.dataclass(frozen=True)
class BlurCmaConfig(BlurNetOptions):
    """Evolve a BLUR genome with CMA-ES: fitness = query accuracy after a few inner steps."""

    dataset: str = "mnist5k"
    """digits | mnist5k | mnist1d (bundled) | mnist | fashion_mnist | cifar10 (from --data-dir)."""
    data_dir: str = ""
    side: int = 14
    """Image side after resizing (MNIST 28 → 14 by 2 × 2 means, CIFAR-10 per channel; 0 keeps the native size,
    and is the only size of mnist1d's 1-D signals)."""
    classes: tuple[int, ...] = ()
    """Evolve (and test) on these classes only, relabelled 0… in this order (empty: all)."""
    transfer: tuple[str, ...] = ()
    """Tasks the final genome is also evaluated on, unseen in evolution, each DATASET[@SIDE][/CLASSES]
    with CLASSES a range 5-9 or a list 0+2+4, e.g. digits/5-9 mnist5k@14 (a fresh network of the
    same hidden sizes; BLUR against SGD)."""
    hidden: tuple[int, ...] = (512,)
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
        choice("dataset", self.dataset, DATASETS)
        choice("init", self.init, INITS)
        if self.k < 2:
            raise ConfigError("k", f"k={self.k}: BLUR needs ≥ 2 states (state 2 carries the feedback)")
        if self.init == "backprop" and self.k != 2:
            raise ConfigError("init", "the backprop genome is defined for k = 2")
        widths("hidden", self.hidden, allow_empty=False)
        for f in ("population", "generations", "n_support", "n_query", "batch", "eval_every", "eval_draws",
                  "curve_steps"):
            at_least(f, getattr(self, f), 1)
        if self.population < 4:
            raise ConfigError("population", "CMA-ES needs a population of ≥ 4")
        finite("sigma0", self.sigma0, above=0)
        at_least("side", self.side, 0, " (0 keeps the native size)")
        why = resize_allowed(self.dataset, self.side)
        if why:
            raise ConfigError("side", f"side={self.side}: {why}")
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
    why = resize_allowed(name, int(side or 0))
    if why:
        raise ConfigError("transfer", f"{spec!r}: {why}")
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


@dataclasses.dataclass(frozen=True)
class BlurMetaConfig(BlurNetOptions):
    """Meta-train BLUR genomes by gradient through the unrolled inner loop, with the unroll curriculum."""

    tasks: tuple[str, ...] = ("xor", "and", "moons")
    """Meta-training tasks: 2-D tasks (plastix.blur.tasks.TOY_TASKS) or image tasks; one is drawn per lifetime."""
    val_tasks: tuple[str, ...] = ("centercirc", "smallcentercirc", "pieslice", "cross", "triangle")
    """Held-out tasks: genome selection at stage ends and the final learner curves. Image tasks
    (DATASET[@SIDE][/CLASSES], e.g. mnist5k@10/0-4) instead of 2-D tasks: the inner loop draws from
    the training images and the held-out curves are scored on the test images; all tasks must then
    share an input size and a class count."""
    data_dir: str = ""
    """Directory of full datasets (mnist, fashion_mnist) for image tasks; the bundled ones need none."""
    hidden: tuple[int, ...] = (20,)
    genomes: int = 8
    """Genomes trained in parallel (one vmap axis); synchronised to the best at each stage end."""
    batch: int = 128
    replicas: int = 1
    unroll: int = 10
    """Inner steps U of the first stage."""
    unroll_step: int = 5
    """U grows by this much at each new stage (the paper: 10, then +5 every 10,000 meta-steps)."""
    stages: int = 3
    stage_steps: int = 2000
    """Meta-steps per stage (the paper: 10,000)."""
    lr: float = 5e-4
    clip: float = 10.0
    log_every: int = 100
    val_draws: int = 8
    curve_steps: int = 50
    seed: int = 0
    name: str = ""

    @property
    def run_name(self) -> str:
        tasks = "-".join(transfer_slug(t) for t in self.tasks)
        return self.name or f"blur-meta-{tasks}-g{self.genomes}-k{self.k}-seed{self.seed}"

    @property
    def meta_steps(self) -> int:
        return self.stages * self.stage_steps

    def unroll_at(self, stage: int) -> int:
        return self.unroll + stage * self.unroll_step

    def validate(self) -> "BlurMetaConfig":
        from plastix.blur.tasks import TOY_TASKS

        from plastix.datasets import BUNDLED

        allowed = f"{', '.join(TOY_TASKS)}, or an image task DATASET[@SIDE][/CLASSES] (e.g. mnist5k@10/0-4)"
        datasets = set()  # of the image tasks
        for field in ("tasks", "val_tasks"):
            names = getattr(self, field)
            if not names:
                raise ConfigError(field, f"give ≥ 1 task; allowed: {allowed}")
            for n in names:
                if n not in TOY_TASKS:
                    try:
                        datasets.add(parse_transfer(n)[0])
                    except ConfigError:
                        raise ConfigError(field, f"unknown value {n!r}; allowed: {allowed}") from None
        needs_dir = sorted(datasets - set(BUNDLED))
        if needs_dir and not self.data_dir:
            raise ConfigError("data_dir", f"{needs_dir[0]} is read from a directory: pass --data-dir "
                                          f"(bundled: {', '.join(BUNDLED)})")
        kinds = {n in TOY_TASKS for n in (*self.tasks, *self.val_tasks)}
        if len(kinds) != 1:
            raise ConfigError("tasks", "meta-training and held-out tasks must be all 2-D toy tasks or all image tasks")
        if True in kinds:
            classes = {TOY_TASKS[n][1] for n in (*self.tasks, *self.val_tasks)}
            if len(classes) != 1:
                raise ConfigError("tasks", "meta-training and held-out tasks must share a class count "
                                           "(blob5x1 has 5 classes, the others 2)")
        if self.k < 2:
            raise ConfigError("k", f"k={self.k}: BLUR needs ≥ 2 states (state 2 carries the feedback)")
        widths("hidden", self.hidden, allow_empty=False)
        for f in ("genomes", "batch", "replicas", "unroll", "stages", "stage_steps", "log_every", "val_draws",
                  "curve_steps"):
            at_least(f, getattr(self, f), 1)
        at_least("unroll_step", self.unroll_step, 0)
        if self.stage_steps % self.log_every:
            raise ConfigError("log_every", f"must divide --stage-steps ({self.stage_steps})")
        for f in ("lr", "clip"):
            finite(f, getattr(self, f), above=0)
        return self
