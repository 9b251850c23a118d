"""The BLUR family declared to the command line (:mod:`plastix.families`): multi-state neurons and
synapses driven by a small shared genome, meta-learned by CMA-ES (measured in generations) or by
gradient (measured in meta-steps per curriculum stage); one seed per run."""

from __future__ import annotations

import dataclasses

from plastix.blur.config import BlurCmaConfig, BlurMetaConfig
from plastix.validation import ConfigError
from plastix.families import Budget, Family


def run(cfg: BlurCmaConfig | BlurMetaConfig, out, *, progress: bool = True, resume: bool = True, ray: str = "",
        ray_workers: int = 0):
    if type(cfg) is BlurMetaConfig:
        if ray:
            raise ConfigError("ray", "BLUR gradient meta-training is one compiled meta-gradient, not a population "
                                     "to shard; allowed: --ray with BLUR CMA-ES runs (blur/cmaes-mnist14, "
                                     "blur/generalisation, …)")
        from plastix.blur.meta_run import run_blur_meta

        return run_blur_meta(cfg, out, progress=progress, resume=resume)
    from plastix.blur.run import run_blur_cma

    return run_blur_cma(cfg, out, progress=progress, resume=resume, ray=ray, ray_workers=ray_workers)


def report(res) -> None:
    s = res.summary
    if "meta_steps" in s:  # gradient meta-training
        held = ", ".join(f"{k.split('_at_')[0][4:]} {v:.3f}" for k, v in s.items() if k.startswith("val_") and "_at_" in k)
        print(f"{res.path}: {s['meta_steps']} meta-steps in {s['seconds']:.0f} s; query accuracy on the training "
              f"tasks {s['final_accuracy']:.3f} (U = {s['final_unroll']}); held-out tasks after U steps: {held}")
        plots = f"{res.path / 'training.png'}, {res.path / 'curve.png'}"
    else:
        print(f"{res.path}: {s['generations']} generations in {s['seconds']:.0f} s; best fitness {s['best_fitness']:.3f}; "
              f"test accuracy of the mean genome's learner {s['final_test_accuracy']:.3f} "
              f"(best over the run {s['best_test_accuracy']:.3f})")
        plots = f"{res.path / 'fitness.png'}, {res.path / 'curve.png'}"
    print(f"  genome: {res.path / 'genome.npz'}  plots: {plots}")


def budget(name: str, cfg: BlurCmaConfig | BlurMetaConfig, b: Budget):
    """CMA-ES runs take ``--generations`` (and ``--data-dir``), gradient runs ``--steps`` (meta-steps per
    curriculum stage); both are one seed per run."""
    gradient = type(cfg) is BlurMetaConfig
    kind, unit, word = ("gradient", "steps", "meta-steps") if gradient else ("CMA-ES", "generations", "generations")
    b.refuse((unit, "seeds") if gradient else (unit, "seeds", "data_dir"),
             f"BLUR {kind} experiments are measured in {word}; use --{unit}")
    b.non_negative(unit, "seeds")
    if b.seeds > 1:
        raise ConfigError("seeds", f"a BLUR {kind} run is one seed; use `plastix sweep blur/… --seeds N`")
    n = getattr(b, unit)
    if n and gradient:
        cfg = dataclasses.replace(cfg, stage_steps=n, log_every=min(cfg.log_every, n))
    elif n:
        cfg = dataclasses.replace(cfg, generations=n, eval_every=min(cfg.eval_every, n))
    if b.data_dir and not gradient:
        cfg = dataclasses.replace(cfg, data_dir=b.data_dir)
    return cfg.validate()


def _rule(cfg) -> str:
    return f"blur-gradient-k{cfg.k}" if type(cfg) is BlurMetaConfig else f"blur-cmaes-k{cfg.k}"


FAMILY = Family(
    name="blur",
    summary="BLUR: multi-state neurons and synapses driven by a small shared genome, meta-learned by gradient "
            "or CMA-ES, tested on unseen tasks",
    configs=(BlurCmaConfig, BlurMetaConfig),
    run=run,
    report=report,
    budget=budget,
    curves={"BlurCmaConfig": ("metrics.parquet", ("generation",), ("test_accuracy",)),
            "BlurMetaConfig": ("training.parquet", ("step",), ("accuracy",))},
    rule=_rule,
    task=lambda cfg: cfg.dataset if type(cfg) is BlurCmaConfig else "+".join(cfg.tasks),
    run_options=("ray", "ray_workers"),
)
