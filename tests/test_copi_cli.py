"""COPI through the CLI: run directory, resume, analyses, bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from plastix.cli import main
from plastix.copi import runner as copi_runner
from plastix.copi.config import CopiConfig
from plastix.copi.runner import load_copi_run, load_params, run_copi

TINY = ["--dataset", "digits", "--hidden", "32", "16", "--epochs", "2", "--seeds", "2", "--no-progress"]


def test_copi_command_writes_run_directory_and_analyses(tmp_path, capsys):
    assert main(["copi", *TINY, "--out", str(tmp_path), "--name", "c1"]) == 0
    d = tmp_path / "c1"
    for f in ("config.json", "metrics.parquet", "summary.json", "curve.png", "params_seed1.npz", "params_seed2.npz"):
        assert (d / f).is_file(), f
    cfg, frame, summary = load_copi_run(d)
    assert cfg.hidden == (32, 16) and sorted(set(frame.seed)) == [1, 2]
    assert list(frame.groupby("seed").epoch.apply(list)) == [[0, 1, 2]] * 2
    assert (frame.status == "finished").all() and summary["n_finished"] == 2
    assert frame.test_acc.iloc[-1] > 0.5  # learns digits within two epochs
    assert not list(tmp_path.glob(".*"))
    p = load_params(d / "params_seed1.npz")
    assert [w.shape for w in p["W"]] == [(32, 64), (16, 32), (10, 16)] and p["R"][0].shape == (64, 64)
    out = capsys.readouterr().out
    assert "peak test accuracy" in out

    assert main(["copi-features", str(d), "--layer", "1"]) == 0
    rf = np.load(d / "analysis" / "receptive_fields_l1.npy")
    assert rf.shape == (32, 64) and (d / "analysis" / "receptive_fields_l1.png").is_file()
    assert main(["copi-compress", str(d)]) == 0
    table = pd.read_csv(d / "analysis" / "compression.csv")
    assert list(table["layers removed"]) == [0, 1, 2] and table["test acc mean"].between(0, 1).all()
    assert (d / "analysis" / "compression.png").is_file()
    assert main(["copi-features", str(d), "--layer", "9"]) == 2
    assert "layer 9 out of range; allowed: 1 to 3" in capsys.readouterr().err


def test_receptive_field_and_compression_closed_forms():
    """RF and W̃ against NumPy on a 2-layer net: ⟨a u⟩/⟨u²⟩ and ⟨a_L x_sᵀ⟩ diag⟨x_s²⟩⁻¹."""
    import jax

    from plastix.copi.analysis import compression_map, receptive_fields
    from plastix.nets.decorrelated import forward, init_decorrelated

    params = init_decorrelated(jax.random.key(0), (5, 4, 3))
    x = np.random.default_rng(0).uniform(0, 1, (2500, 5)).astype(np.float32)  # > one chunk
    a_L, trace = forward(params, x)
    a1 = np.asarray(trace[0].a, np.float64)
    np.testing.assert_allclose(receptive_fields(params, x, 1), (a1.T @ x) / (x * x).sum(0), rtol=1e-4, atol=1e-6)
    x2 = np.asarray(trace[1].x, np.float64)
    np.testing.assert_allclose(compression_map(params, x, 2), (np.asarray(a_L).T @ x2) / (x2 * x2).sum(0),
                               rtol=1e-4, atol=1e-6)


def test_resume_gives_identical_metrics(tmp_path, monkeypatch):
    cfg = CopiConfig(dataset="digits", hidden=(16,), epochs=3, seeds=2)
    full = run_copi(cfg, tmp_path / "full", progress=False).metrics
    calls = {"n": 0}
    real = copi_runner.atomic_write_bytes

    def crash_on_fifth(path, data):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(copi_runner, "atomic_write_bytes", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        run_copi(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(copi_runner, "atomic_write_bytes", real)
    ckpt = pickle.loads((tmp_path / "cut" / f".{cfg.run_name}.partial" / "checkpoint.pkl").read_bytes())
    assert ckpt["done"] or ckpt["current"]  # something to resume from
    resumed = run_copi(cfg, tmp_path / "cut", progress=False).metrics
    pd.testing.assert_frame_equal(full, resumed)


@pytest.mark.parametrize("args,needle", [
    (["copi", "--dataset", "imagenet"], "--dataset: unknown value 'imagenet'; allowed: digits"),
    (["copi", "--dataset", "cifar10"], "--data-dir: dataset 'cifar10' is read from a directory"),
    (["copi", "--eta", "0"], "--eta: must be finite and > 0"),
    (["copi", "--hidden", "500", "0"], "--hidden: widths must be ≥ 1, at least one layer"),
    (["copi", "--perturbation", "dfa"], "--perturbation: unknown value 'dfa'; allowed: bp, fa"),
    (["copi", "--dataset", "mnist", "--data-dir", "NOWHERE"], "no such directory"),
    (["run", "copi/cifar10/copi-bp"], "--data-dir"),
    (["run", "copi/digits/copi-bp", "--steps", "5"], "--steps: copi/digits/copi-bp is measured in epochs"),
    (["run", "weight-max/multiplexer20", "--epochs", "5"], "--epochs: only COPI experiments take it"),
    (["copi-compress", "NOWHERE"], "not a finished COPI run directory"),
    (["copi", "--dataset", "digits", "--batch-size", "5000"], "--batch-size: 5000 is more than the 1500 training"),
])
def test_bad_input_one_line_exit_2(tmp_path, capsys, args, needle):
    args = [a.replace("NOWHERE", str(tmp_path / "nowhere")) for a in args]
    assert main([*args, "--out", str(tmp_path)] if args[0] != "copi-compress" else args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error:") and needle in err and len(err.splitlines()) == 1, err
    assert not any(p for p in tmp_path.iterdir() if p.name != "nowhere")


def test_missing_idx_file_names_it(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    assert main(["copi", "--dataset", "mnist", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte: not found" in err and not (tmp_path / "o").exists()


def test_diverged_seed_is_reported_not_fatal(tmp_path, capsys):
    # a tiny net at an absurd λ diverges within a few batches (the paper's FA case is test_c10 in test_copi.py)
    args = ["copi", "--dataset", "digits", "--hidden", "16", "16", "--loss-multiplier", "1e6", "--epochs", "1",
            "--seeds", "1", "--no-progress", "--out", str(tmp_path), "--name", "fa"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown by the CLI as one line, not raised (pytest runs with -W error)
        assert main(args) == 0
    io = capsys.readouterr()
    assert "plastix: warning:" in io.err and "diverged" in io.err and "every seed diverged" in io.out
    s = json.loads((tmp_path / "fa" / "summary.json").read_text())
    assert s["seeds"]["1"]["status"] == "diverged" and s["n_diverged"] == 1


@pytest.mark.slow
def test_cifar10_experiment_runs_from_data_dir(tmp_path, capsys):
    """copi/cifar10 end to end on synthetic batches in the real format (5 × 60 + 60 images)."""
    import pickle as pkl

    rng = np.random.default_rng(0)
    d = tmp_path / "data" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        batch = {b"data": rng.integers(0, 256, (60, 3072)).astype(np.uint8), b"labels": rng.integers(0, 10, 60).tolist()}
        (d / name).write_bytes(pkl.dumps(batch, protocol=2))
    args = ["run", "copi/cifar10/copi-bp", "--data-dir", str(tmp_path / "data"), "--epochs", "1", "--seeds", "1",
            "--no-progress", "--out", str(tmp_path / "runs")]
    assert main(args) == 0
    _, frame, summary = load_copi_run(tmp_path / "runs" / "copi-cifar10-copi-bp")
    assert list(frame.epoch) == [0, 1] and summary["n_finished"] == 1
    cfg = json.loads((tmp_path / "runs" / "copi-cifar10-copi-bp" / "config.json").read_text())
    assert cfg["hidden"] == [1000] * 4 and cfg["dataset"] == "cifar10"


def test_full_mnist_checks_the_image_counts(tmp_path, capsys):
    from test_datasets import _write_mnist

    _write_mnist(tmp_path / "data")
    assert main(["run", "copi/mnist/copi-bp", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "r")]) == 2
    assert "train-images-idx3-ubyte: 7 items; expected 60000" in capsys.readouterr().err
