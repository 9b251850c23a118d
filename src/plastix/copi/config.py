"""COPI run configuration (spec copi.md §7–§9): a frozen dataclass parsed by tyro, validated before compute."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from plastix.validation import ConfigError, ConfigIO, at_least, choice, finite, widths
from plastix.datasets import DATASETS, FROM_DIR
from plastix.rules.copi import DECORRELATIONS, PERTURBATIONS, WEIGHT_RULES

COPI_OPTIMIZERS = ("sgd", "adam_reference", "adam")
DIVERGENCE_POLICIES = ("stop", "retry_lower_lambda")
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class CopiConfig(ConfigIO):
    """Train a decorrelated network with COPI (or a baseline) on an image dataset, several seeds."""

    dataset: str = "mnist5k"
    """Dataset: digits | mnist5k | mnist1d (bundled) | mnist | fashion_mnist | cifar10 (need --data-dir)."""
    data_dir: str = ""
    """Directory holding the full dataset's files (IDX for MNIST, python batches for CIFAR-10)."""
    validation: bool = False
    """Hold out the last 10,000 training images (1,000 for bundled sets) as the test set."""
    hidden: tuple[int, ...] = (500, 500, 500, 500, 500, 500)
    """Hidden layer widths, bottom to top (paper MNIST: six of 500)."""
    weight_rule: str = "copi"
    """Weight rule: copi (ΔW = η[⟨z xᵀ⟩ − W diag q], local) | bp (ΔW = η⟨δ xᵀ⟩)."""
    perturbation: str = "bp"
    """Hidden-layer perturbation: bp (BP-aligned through W and R; non-local) | fa (fixed random feedback)."""
    decorrelation: str = "cr"
    """Decorrelation rule: cr (ΔR = −ηCR) | rc (ΔR = −ηRC, the "bio" order) | none (R ≡ I)."""
    loss_multiplier: float = 1000.0
    """λ: scales the output error; the error term's effective rate is η·λ."""
    eta: float = 1e-3
    """η: rate of the COPI/BP weight step (with optimizer=sgd) and of the decorrelation step."""
    optimizer: str = "sgd"
    """Optimizer of W: sgd (rate η) | adam_reference (reference Adam, constant bias correction) | adam (optax)."""
    adam_lr: float = 1e-4
    """Learning rate of the Adam optimizers."""
    output_fprime: bool = True
    """Apply f′ to the (linear) output's error, as the reference does."""
    warmup_r_epochs: int = 1
    """Epochs at the start in which only R learns (W frozen)."""
    activation_slope: float = 0.1
    """Leaky-ReLU slope of the hidden units (and of f′)."""
    batch_size: int = 50
    """Samples per update; the data is reshuffled each epoch and no partial batch is used."""
    epochs: int = 100
    """Joint (R and W) training epochs after the warm-up."""
    seed: int = 1
    """First seed; seeds are seed, seed+1, …"""
    seeds: int = 5
    """Number of seeds."""
    divergence_policy: str = "stop"
    """On non-finite values: stop (freeze the seed, status "diverged") | retry_lower_lambda (restart with λ/10, twice at most)."""
    guard: bool = True
    """Check finiteness after every batch (turning it off changes nothing for a finite run)."""
    dtype: str = "float32"
    """Floating-point type: float32 | float64."""
    name: str = ""
    """Run directory name (default: derived from the config)."""

    # ---- derived ----------------------------------------------------------------------------
    @property
    def decorrelates(self) -> bool:
        return self.decorrelation != "none"

    @property
    def run_name(self) -> str:
        method = f"{self.weight_rule}-{self.perturbation}-{self.decorrelation}"
        return self.name or f"copi-{self.dataset}-{method}-seed{self.seed}x{self.seeds}"

    def validate(self) -> "CopiConfig":
        """:class:`ConfigError` naming the field and the allowed values if the config cannot run;
        a ``UserWarning`` for legal but questionable combinations. Returns ``self``."""
        choice("dataset", self.dataset, DATASETS)
        if self.dataset in FROM_DIR and not self.data_dir:
            raise ConfigError("data_dir", f"dataset {self.dataset!r} is read from a directory (no downloads); "
                              "pass --data-dir, or use a bundled dataset: digits, mnist5k, mnist1d")
        choice("weight_rule", self.weight_rule, WEIGHT_RULES)
        choice("perturbation", self.perturbation, PERTURBATIONS)
        choice("decorrelation", self.decorrelation, DECORRELATIONS)
        choice("optimizer", self.optimizer, COPI_OPTIMIZERS)
        choice("divergence_policy", self.divergence_policy, DIVERGENCE_POLICIES)
        choice("dtype", self.dtype, DTYPES)
        for field in ("loss_multiplier", "eta", "adam_lr", "activation_slope"):
            finite(field, getattr(self, field), above=0)
        widths("hidden", self.hidden, allow_empty=False)
        at_least("warmup_r_epochs", self.warmup_r_epochs, 0)
        for field in ("batch_size", "epochs", "seeds"):
            at_least(field, getattr(self, field), 1)
        at_least("seed", self.seed, 0)
        if self.weight_rule == "copi" and self.decorrelation == "none":
            warnings.warn("weight_rule=copi with decorrelation=none is not the paper's method "
                          "(COPI infers weights under decorrelated inputs)", UserWarning, stacklevel=2)
        if self.warmup_r_epochs > 0 and self.decorrelation == "none":
            warnings.warn(f"warmup_r_epochs={self.warmup_r_epochs} with decorrelation=none: the warm-up "
                          "epochs learn nothing", UserWarning, stacklevel=2)
        return self


# The released configurations (spec §7), with the paper's MNIST architecture.
METHODS: dict[str, dict[str, Any]] = {
    "copi-bp": dict(weight_rule="copi", perturbation="bp", decorrelation="cr"),
    "copi-fa": dict(weight_rule="copi", perturbation="fa", decorrelation="cr"),
    "copi-bio": dict(weight_rule="copi", perturbation="bp", decorrelation="rc"),
    "bp-decorr": dict(weight_rule="bp", perturbation="bp", decorrelation="cr"),
    "bp-adam": dict(weight_rule="bp", perturbation="bp", decorrelation="none", loss_multiplier=1.0,
                    optimizer="adam_reference", adam_lr=1e-4, warmup_r_epochs=0),
}
METHOD_LABELS = {"copi-bp": "COPI (BP perturbation)", "copi-fa": "COPI (FA perturbation)",
                 "copi-bio": "COPI-bio (ΔR = −ηRC)", "bp-decorr": "BP (decorrelation)", "bp-adam": "BP (Adam)"}
