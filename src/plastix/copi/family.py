"""The COPI family declared to the command line (:mod:`plastix.families`): decorrelated networks
trained by constrained parameter inference or backprop, measured in epochs; suites compare the
methods on one dataset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from plastix.validation import ConfigError
from plastix.copi.config import CopiConfig
from plastix.families import Budget, Family, run_members


def run(cfg: CopiConfig, out, *, progress: bool = True, resume: bool = True):
    from plastix.copi.runner import run_copi

    return run_copi(cfg, out, progress=progress, resume=resume)


def report(res) -> None:
    s = res.summary
    if not s["n_finished"]:
        print(f"{res.path}: every seed diverged ({s['n_diverged']}); no accuracy to report; {res.seconds:.1f} s")
        return
    print(f"{res.path}: peak test accuracy {100 * s['peak_test_acc_mean']:.2f} % (std {100 * s['peak_test_acc_std']:.2f}) "
          f"at epoch {s['epoch_of_peak_test_mean']:.1f}; final {100 * s['final_test_acc_mean']:.2f} %; "
          f"{s['n_finished']} seeds finished, {s['n_diverged']} diverged; {res.seconds:.1f} s")
    print(f"  metrics: {res.path / 'metrics.parquet'}  plot: {res.path / 'curve.png'}")


def budget(name: str, cfg: CopiConfig, b: Budget) -> CopiConfig:
    """``--seeds``, ``--epochs``; ``--data-dir`` trains copi/mnist on full MNIST instead of the bundled 5k."""
    if b.generations:
        raise ConfigError("generations", "only maze (eprnn/*) and BLUR (blur/*) experiments take it")
    if b.steps or b.episodes:
        raise ConfigError("steps" if b.steps else "episodes", f"{name} is measured in epochs; use --epochs")
    b.non_negative("epochs", "seeds")
    changes: dict = {}
    if b.seeds:
        changes["seeds"] = b.seeds
    if b.epochs:
        changes["epochs"] = b.epochs
    if b.data_dir:
        changes["data_dir"] = b.data_dir
        if cfg.dataset == "mnist5k":  # the bundled stand-in gives way to the full dataset
            changes["dataset"] = "mnist"
            changes["name"] = cfg.name.replace("copi-mnist", "copi-mnist-full") if cfg.name else ""
    return dataclasses.replace(cfg, **changes).validate()


def suite(suite: str, members: tuple[str, ...], b: Budget, out: Path, progress: bool, **options) -> None:
    """Every method of a COPI suite on one dataset, then one comparison table and plot."""
    from plastix.compare import markdown_table
    from plastix.copi.config import METHOD_LABELS
    from plastix.copi.report import write_comparison
    from plastix.experiments import get_experiment

    results = run_members(FAMILY, {m: get_experiment(m) for m in members}, b, out, progress, **options)
    dirs = [res.path for _, res in results]
    labels = [METHOD_LABELS[m.rsplit("/", 1)[1]] for m in members]
    first = results[0][0]
    ref = get_experiment(members[0]).reference
    title = f"{suite} on {first.dataset}: {first.epochs} epochs, {first.seeds} seeds"
    stem = suite.replace("/", "-") + ("" if suite.endswith(first.dataset) else f"-{first.dataset}")
    cmp_dir, frame = write_comparison(dirs, labels, Path(out) / f"{stem}-comparison", title)
    print(markdown_table(frame))
    print(f"reference: {ref}")
    print(f"results: {cmp_dir.resolve()}/comparison.md (.csv), plot: {cmp_dir.resolve()}/comparison.png")


FAMILY = Family(
    name="copi",
    summary="COPI: decorrelated layer inputs and top-down perturbations (constrained parameter inference), "
            "against backprop, on image classification",
    configs=(CopiConfig,),
    run=run,
    report=report,
    budget=budget,
    curves={"CopiConfig": ("metrics.parquet", ("epoch",), ("test_acc",))},
    rule=lambda cfg: f"{cfg.weight_rule}-{cfg.perturbation}",
    task=lambda cfg: cfg.dataset,
    suite=suite,
)
