"""BLUR CMA-ES runs (issue 7): determinism across the CLI and a sweep, resumption, bad input."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from plastix.blur import load_genome
from plastix.blur.config import BlurCmaConfig
from plastix.blur.run import run_blur_cma
from plastix.cli import main
from plastix.validation import ConfigError
from plastix.experiments import get_experiment

SMOKE = get_experiment("blur/smoke").config


def _frames(path):
    return [pd.read_parquet(path / f) for f in ("generations.parquet", "metrics.parquet", "curve.parquet")]


def test_smoke_run_via_cli_and_sweep_give_identical_numbers(tmp_path, capsys):
    assert main(["run", "blur/smoke", "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 generations" in out and "genome:" in out
    a = tmp_path / "a" / "blur-smoke"
    for f in ("config.json", "summary.json", "genome.npz", "best_genome.npz", "fitness.png", "curve.png", "sgd.parquet"):
        assert (a / f).exists(), f
    gens, evals, curve = _frames(a)
    assert gens.generation.tolist() == [1, 2, 3, 4] and evals.generation.tolist() == [0, 2, 4]
    assert np.isfinite(gens[["best", "mean"]].to_numpy()).all() and (gens.best.diff().dropna() >= 0).all()
    assert len(curve) == SMOKE.curve_steps + 1 and curve.test_accuracy.between(0, 1).all()
    assert load_genome(a / "genome.npz").k == 2
    transfer = pd.read_parquet(a / "transfer.parquet")  # the genome evolved on digits 0–4, tested on 5–9
    assert set(transfer.task) == {"digits/5-9"} and (a / "transfer-digits-5-9.png").exists()
    summary = (a / "summary.json").read_text()
    assert '"transfer_digits-5-9_blur_at_3"' in summary and '"transfer_digits-5-9_sgd_momentum_last"' in summary
    assert main(["sweep", "blur/smoke", "--out", str(tmp_path / "s"), "--workers", "1", "--no-progress"]) == 0
    (b,) = [p for p in (tmp_path / "s").iterdir() if p.name.startswith("blur-smoke-")]
    for x, y in zip(_frames(a), _frames(b)):
        pd.testing.assert_frame_equal(x, y)


def test_sgd_baseline_learns_digits_and_a_zero_rate_does_not():
    import jax

    from plastix.blur.baselines import sgd_curves
    from plastix.blur.run import load_images
    from plastix.blur.tasks import dataset_sampler

    x_tr, y_tr, x_te, y_te, _ = load_images(SMOKE)
    c = sgd_curves(jax.random.key(0), (64, 16, 10), dataset_sampler(x_tr, y_tr), x_te, y_te, steps=40, batch=32,
                   lrs=(0.0, 0.3), momenta=(0.0,))
    assert c.shape == (1, 2, 41)
    assert np.ptp(c[0, 0]) == 0  # lr 0: the network never changes
    assert c[0, 1, -1] > 0.7 > c[0, 1, 0]  # lr 0.3: digits learned in 40 steps of 32 (chance 0.1)


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    cfg = dataclasses.replace(SMOKE, name="cut", transfer=())
    stopped = run_blur_cma(cfg, tmp_path, progress=False, stop_after=1)
    assert stopped.summary == {"stopped_at": 2} and not (tmp_path / "cut").exists()
    resumed = run_blur_cma(cfg, tmp_path, progress=False)
    full = run_blur_cma(dataclasses.replace(cfg, name="full"), tmp_path, progress=False)
    for x, y in zip(_frames(resumed.path), _frames(full.path)):
        pd.testing.assert_frame_equal(x, y)


@pytest.mark.parametrize("args,needle", [
    (["--seeds", "2"], "--seeds: a BLUR CMA-ES run is one seed"),
    (["--steps", "5"], "--steps: BLUR CMA-ES experiments are measured in generations"),
    (["--generations", "-1"], "--generations: must be ≥ 0"),
])
def test_bad_blur_input(tmp_path, capsys, args, needle):
    assert main(["run", "blur/smoke", *args, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_impossible_configs_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="--side: side=20: digits images are 8×8; allowed: 0 or 1…8"):
        run_blur_cma(dataclasses.replace(SMOKE, side=20), tmp_path)
    with pytest.raises(ConfigError, match="--classes: class 12 is not in digits; allowed: 0…9"):
        run_blur_cma(dataclasses.replace(SMOKE, classes=(3, 12)), tmp_path)
    with pytest.raises(ConfigError, match=r"--transfer: 'digits/5-x' is not DATASET\[@SIDE\]\[/CLASSES\]"):
        dataclasses.replace(SMOKE, transfer=("digits/5-x",)).validate()
    with pytest.raises(ConfigError, match="--population: CMA-ES needs a population of ≥ 4"):
        dataclasses.replace(SMOKE, population=2).validate()
    with pytest.raises(ConfigError, match="--init: the backprop genome is defined for k = 2"):
        dataclasses.replace(SMOKE, init="backprop", k=3).validate()
    assert not any(tmp_path.iterdir())


# ---- gradient meta-training with the unroll curriculum -------------------------------------------------

def test_gradient_run_curriculum_sync_and_resume(tmp_path, capsys):
    from plastix.blur.meta_run import run_blur_meta

    cfg = get_experiment("blur/gradient-smoke").config
    assert main(["run", "blur/gradient-smoke", "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    assert "8 meta-steps" in capsys.readouterr().out
    a = tmp_path / "a" / "blur-gradient-smoke"
    logs, stages = pd.read_parquet(a / "training.parquet"), pd.read_parquet(a / "stages.parquet")
    assert logs.unroll.tolist() == [2, 2, 2, 2] and logs.step.tolist() == [2, 4, 6, 8]
    assert stages.step.tolist() == [4, 8] and np.isfinite(logs[["loss", "accuracy"]].to_numpy()).all()
    assert stages.best.between(0, 1).all()  # a genome chosen at each stage end
    g = load_genome(a / "genome.npz")
    assert g.k == 2 and set(pd.read_parquet(a / "curve.parquet").learner) == {"blur", "sgd", "sgd_momentum"}
    cut = dataclasses.replace(cfg, name="cut")
    assert run_blur_meta(cut, tmp_path / "b", progress=False, stop_after=3).summary == {"stopped_at": 6}
    resumed = run_blur_meta(cut, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(resumed.path / "training.parquet"), logs)
    np.testing.assert_array_equal(load_genome(resumed.path / "genome.npz").nu, g.nu)


def test_unroll_curriculum_schedule():
    cfg = dataclasses.replace(get_experiment("blur/gradient-toy").config)
    assert [cfg.unroll_at(s) for s in range(cfg.stages)] == [10, 15, 20] and cfg.meta_steps == 6000


def test_stage_end_copies_the_best_genome_to_all():
    import jax
    import jax.numpy as jnp

    from plastix.blur.meta import MetaState
    from plastix.blur.meta_run import _sync

    state = MetaState(jnp.arange(6.0).reshape(3, 2), (jnp.arange(3), jnp.ones((3, 4)) * jnp.arange(3)[:, None]))
    synced = _sync(state, 1)
    np.testing.assert_array_equal(synced.genome, [[2, 3]] * 3)
    np.testing.assert_array_equal(synced.opt_state[0], [1, 1, 1])
    assert jax.tree.structure(synced) == jax.tree.structure(state)


@pytest.mark.parametrize("change,needle", [
    ({"tasks": ("xor", "blob5x1")}, "--tasks: meta-training and held-out tasks must share a class count"),
    ({"val_tasks": ("spiral",)}, "--val-tasks: unknown value 'spiral'; allowed: xor"),
    ({"val_tasks": ("digits/5-9",)}, "--tasks: meta-training and held-out tasks must be all 2-D toy tasks or all"),
    ({"tasks": ("digits/0",), "val_tasks": ("digits/5-9",)}, "--tasks: unknown value 'digits/0'; allowed: xor"),
    ({"tasks": ("mnist@10/0-4",), "val_tasks": ("mnist@10/5-9",)}, "--data-dir: mnist is read from a directory"),
    ({"log_every": 3}, "--log-every: must divide --stage-steps (4)"),
    ({"lr": float("nan")}, "--lr: must be finite and > 0"),
])
def test_bad_gradient_configs(change, needle):
    cfg = get_experiment("blur/gradient-smoke").config
    with pytest.raises(ConfigError, match="^" + needle.replace("(", r"\(").replace(")", r"\)")):
        dataclasses.replace(cfg, **change).validate()


def test_gradient_meta_training_on_image_tasks(tmp_path):
    """Image tasks (DATASET[@SIDE][/CLASSES]): the network takes the images' size, the inner loop draws
    training images, the held-out curve is scored on the test images of unseen classes."""
    from plastix.blur.meta_run import make_net, meta_task, run_blur_meta

    cfg = dataclasses.replace(get_experiment("blur/gradient-smoke").config, tasks=("digits/0-4",),
                              val_tasks=("digits/5-9",), name="img")
    assert make_net(cfg).sizes == (64, 4, 5)
    test_x, test_y = meta_task("digits/5-9").test(None)
    assert test_x.shape[1] == 64 and set(np.asarray(test_y).tolist()) == {0, 1, 2, 3, 4}
    res = run_blur_meta(cfg, tmp_path, progress=False)
    assert np.isfinite(res.summary["final_loss"]) and 0.0 <= res.summary["val_blur_at_2"] <= 1.0
    curve = pd.read_parquet(res.path / "curve.parquet")
    assert set(curve.task) == {"digits/5-9"}
    mnist10 = meta_task("mnist5k@10/0-1")
    assert mnist10.n_in == 100 and mnist10.n_out == 2  # the paper's 10 × 10: central 20 × 20 crop, 2 × 2 means
    with pytest.raises(ConfigError, match="same input size and class count"):
        make_net(dataclasses.replace(cfg, val_tasks=("digits/5-7",)))


def test_every_dataset_is_a_blur_dataset_with_one_validation():
    """BLUR takes the same dataset list as every other family (plastix.datasets.DATASETS), and the side
    check knows each one's shape before loading it: mnist1d (1-D) only at its native size, CIFAR-10 per channel."""
    from plastix.blur.config import parse_transfer
    from plastix.blur.run import task_data
    from plastix.validation import ConfigError
    from plastix.datasets import DATASETS, SHAPES

    assert set(SHAPES) == set(DATASETS)
    for name in DATASETS:
        BlurCmaConfig(dataset=name, side=0).validate()
        assert parse_transfer(f"{name}/0-4")[0] == name
    BlurCmaConfig(dataset="cifar10", side=16).validate()
    for cfg, needle in ((BlurCmaConfig(dataset="mnist1d"), "mnist1d is a 1-D signal of 40 values"),
                        (BlurCmaConfig(dataset="digits", side=9), "digits images are 8×8; allowed: 0 or 1…8")):
        with pytest.raises(ConfigError, match=needle):
            cfg.validate()
    with pytest.raises(ConfigError, match="mnist1d is a 1-D signal"):
        parse_transfer("mnist1d@14")
    x_tr, y_tr, x_te, y_te, n = task_data("mnist1d", "", 0, (0, 1, 2))
    assert x_tr.shape[1] == 40 and n == 3 and set(np.unique(y_tr)) == {0, 1, 2}


def test_cifar_channels_are_resized_alike():
    """A CIFAR-shaped batch (3 channels of 32 × 32) at side 16: each channel is the 2 × 2 mean of its own pixels."""
    from plastix.blur.tasks import resize_images

    x = np.arange(2 * 3 * 32 * 32, dtype=np.float32).reshape(2, 3 * 32 * 32)
    out = resize_images(x.reshape(-1, 32 * 32), 32, 16).reshape(2, -1)
    want = x.reshape(2, 3, 16, 2, 16, 2).mean((3, 5)).reshape(2, -1)
    np.testing.assert_allclose(out, want)


@pytest.mark.slow
def test_blur_cli_sweep_takes_mnist1d(tmp_path, capsys):
    """Through the command line (the user's report: `--grid dataset=mnist1d` was refused)."""
    from plastix.cli import main

    grid = ["dataset=mnist1d", "side=0", "generations=1", "population=4", "eval_every=1", "curve_steps=2",
            "n_support=2", "n_query=2", "hidden=8", "transfer=digits/0-9"]
    assert main(["sweep", "blur/cmaes-mnist14", "--grid", *grid, "--out", str(tmp_path), "--workers", "1",
                 "--no-progress"]) == 0
    index = pd.read_csv(tmp_path / "index.csv")
    assert list(index.status) == ["done"] and list(index.task) == ["mnist1d"]
    assert 0 <= index.final_test_accuracy.iloc[0] <= 1
