"""CLI and runner at tiny sizes: outputs, determinism (O14), chunking/resume invariance, bad input."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from plastix import TrainConfig
from plastix.teams import runner as runner_mod
from plastix.cli import main
from plastix.teams.runner import load_run, run

TINY = ["--bits", "6", "--hidden", "6", "4", "--steps", "40", "--batch", "4", "--seeds", "2",
        "--log-every", "4", "--no-progress"]


def test_train_writes_run_directory(tmp_path, capsys):
    assert main(["train", *TINY, "--out", str(tmp_path), "--name", "r1"]) == 0
    d = tmp_path / "r1"
    for f in ("config.json", "metrics.parquet", "summary.json", "curve.png"):
        assert (d / f).is_file(), f
    cfg, frame, summary = load_run(d)
    assert cfg.bits == 6 and cfg.hidden == (6, 4)
    assert list(frame.columns[:3]) == ["seed", "step", "samples"]
    assert len(frame) == 2 * 10 and set(frame.seed) == {0, 1}
    assert np.isclose(frame.accuracy.mean(), (frame.reward.mean() + 1) / 2)
    assert len(summary["final_accuracy"]) == 2
    assert not list(tmp_path.glob(".*"))  # no partial or temp files left behind
    assert "r1" in capsys.readouterr().out


def test_alignment_metric_logged_and_plotted(tmp_path):
    args = ["train", "--rule", "weight_max", "--bits", "6", "--hidden", "4", "3", "--steps", "20", "--batch", "4",
            "--log-every", "5", "--alignment", "exact", "--no-progress", "--out", str(tmp_path), "--name", "al"]
    assert main(args) == 0
    _, frame, _ = load_run(tmp_path / "al")
    assert frame.align_exact.between(-1, 1).all() and (tmp_path / "al" / "alignment.png").is_file()


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    cfg = TrainConfig(bits=6, hidden=(6, 4), steps=60, batch=4, seeds=2, log_every=3)
    a = run(cfg, tmp_path / "a", progress=False, chunks=1).metrics
    b = run(cfg, tmp_path / "b", progress=False, chunks=5).metrics  # other chunking, same numbers
    pd.testing.assert_frame_equal(a, b)
    c = run(dataclasses.replace(cfg, seed=1), tmp_path / "c", progress=False).metrics
    assert not np.array_equal(a.reward.to_numpy(), c.reward.to_numpy())


def test_resume_after_interruption_gives_identical_metrics(tmp_path, monkeypatch):
    cfg = TrainConfig(bits=6, hidden=(6, 4), steps=80, batch=4, seeds=2, log_every=4)
    full = run(cfg, tmp_path / "full", progress=False, chunks=4).metrics

    calls = {"n": 0}
    real = runner_mod._check_finite

    def crash_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if killed mid-run, after two checkpoints
        return real(*args)

    monkeypatch.setattr(runner_mod, "_check_finite", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path / "cut", progress=False, chunks=4)
    monkeypatch.setattr(runner_mod, "_check_finite", real)
    assert not (tmp_path / "cut" / cfg.run_name).exists()  # nothing published yet
    assert (tmp_path / "cut" / f".{cfg.run_name}.partial" / "checkpoint.pkl").exists()
    resumed = run(cfg, tmp_path / "cut", progress=False, chunks=4).metrics
    pd.testing.assert_frame_equal(full, resumed)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--bits", "12"], "--bits: bits=12 is not of the form k + 2^k; allowed: 3, 6, 11, 20, 37, 70"),
        (["--rule", "hebb"], "--rule: unknown value 'hebb'; allowed: reinforce, backprop, weight_max, uwm, ste"),
        (["--task", "maze"], "--task: unknown value 'maze'; allowed: multiplexer, regression"),
        (["--hidden", "0", "4"], "--hidden: widths must be ≥ 1"),
        (["--lr", "-0.1"], "--lr: learning rates must be finite and ≥ 0"),
        (["--lr", "0.1", "0.2"], "--lr: give 1 value or 3 (one per layer)"),
        (["--seeds", "0"], "--seeds: must be ≥ 1"),
        (["--batch", "0"], "--batch: must be ≥ 1"),
        (["--tau", "0"], "--tau: temperatures must be finite and > 0"),
        (["--output", "gaussian"], "--output: the multiplexer needs a binary action"),
        (["--sampler", "mt"], "--sampler: unknown value 'mt'; allowed: hash, jax"),
        (["--alignment", "exact"], "--alignment: exact alignment enumerates every input"),
        (["--alignment", "exact", "--bits", "6"], "--alignment: exact alignment enumerates 2^(sum of hidden widths)"),
        (["--rule", "backprop", "--alignment", "ste"], "--alignment: ste alignment needs Bernoulli hidden units"),
        (["--rule", "weight_max", "--baseline", "ema"], "--baseline: weight_max uses the raw reward"),
        (["--rule", "uwm", "--unit", "gaussian"], "--unit: uwm trains bernoulli or bernoulli_pm1 hidden units"),
        (["--rule", "map_prop", "--unit", "bernoulli"], "--unit: map_prop trains gaussian hidden units"),
        (["--rule", "map_prop", "--map-descent", "exact"], "--map-descent: unknown value 'exact'; allowed: fixed, monotone"),
        (["--rule", "map_prop", "--gaussian-link", "tanh"], "--gaussian-link: unknown value 'tanh'; allowed: softplus, relu"),
        (["--rule", "reinforce", "--gaussian-link", "relu"], "--gaussian-link: applies to gaussian hidden units"),
        (["--rule", "backprop", "--gaussian-link", "relu"], "backprop trains deterministic units (their activation is --activation)"),
        (["--rule", "boltzmann", "--bm-rule", "chain"], "--bm-rule: chain scores every single Gibbs update"),
        (["--rule", "boltzmann", "--gibbs", "metropolis"], "--gibbs: unknown value"),
        (["--rule", "boltzmann_joint", "--task", "regression"],
         "--rule: boltzmann_joint: joint sampling needs a softmax or {0,1} Bernoulli action, got Gaussian"),
        (["--rule", "boltzmann_joint", "--tau", "1", "2", "1"], "--tau: boltzmann_joint samples one Boltzmann distribution"),
        (["--rule", "recurrent_feedback", "--anneal", "0"], "--anneal: must be finite and > 0"),
        (["--sigma2", "0.3", "-1", "1"], "--sigma2: variances must be finite and > 0"),
        (["--wm-p", "0.5"], "--wm-p: must be finite and ≥ 1"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, needle):
    out = tmp_path / "runs"
    assert main(["train", "--no-progress", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error: ") and needle in err and "\n" not in err, err
    assert not out.exists()


def test_unknown_experiment(capsys):
    assert main(["run", "weight-max/nope", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'weight-max/nope'; allowed: demo/reinforce-multiplexer11" in err


def test_non_finite_values_stop_the_run_with_exit_2(tmp_path, capsys):
    args = ["train", "--task", "regression", "--rule", "backprop", "--optimizer", "sgd", "--lr", "1e30",
            "--hidden", "4", "--steps", "20", "--log-every", "2", "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "non-finite values" in err and "lower --lr" in err
    assert list(tmp_path.iterdir()) == []  # neither a run directory nor a partial one


def test_list_names_every_registry_entry(capsys):
    from plastix.experiments import EXPERIMENTS
    from plastix.rules import RULES
    from plastix.tasks import TASKS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in [*RULES, *TASKS, *EXPERIMENTS]:
        assert name in out


def test_demo_smoke(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--seeds", "2", "--steps", "200", "--no-progress"]) == 0
    for f in ("comparison.md", "comparison.csv", "comparison.png"):
        assert (tmp_path / f).is_file()
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert list(table.rule) == ["reinforce", "backprop"] and (table.seeds == 2).all()
    assert "comparison.md" in capsys.readouterr().out
    # and `plastix compare` over the demo's run directories
    runs = [str(p) for p in sorted(tmp_path.iterdir()) if p.is_dir()]
    assert main(["compare", *runs, "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "comparison.png").is_file()
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert "not a finished run directory" in capsys.readouterr().err


@pytest.mark.parametrize("var, value, message", [
    ("PLASTIX_PIN_CORE", "9999", "plastix: error: pin_core=9999: no such CPU core"),
    ("PLASTIX_DEVICES", "two", "plastix: error: PLASTIX_DEVICES='two' is not a device count"),
])
def test_bad_runtime_environment_variables(var, value, message):
    env = {**__import__("os").environ, var: value}
    p = subprocess.run([sys.executable, "-m", "plastix.cli", "list"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 2 and p.stderr.startswith(message)


def test_console_script_exit_code():
    """The installed `plastix` entry point itself returns 2 on bad input (no traceback)."""
    exe = [sys.executable, "-m", "plastix.cli"]
    p = subprocess.run([*exe, "train", "--bits", "7"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "--bits" in p.stderr
    json.dumps(p.stderr)


def test_demo_prints_the_readable_table(tmp_path, capsys):
    """The demo prints the README's five columns with samples in thousands; the CSV keeps every column."""
    from plastix.compare import readable_table

    full = pd.DataFrame({"run": ["reinforce"], "rule": ["reinforce"], "seeds": [5], "final_accuracy_mean": [0.9721],
                         "final_accuracy_min": [0.9688], "median_samples_to_90": [650_240.0],
                         "median_samples_to_95": [float("nan")]})
    row = readable_table(full).iloc[0].to_dict()
    assert row == {"rule": "reinforce", "seeds": 5, "final accuracy (mean, min over seeds)": "0.972, 0.969",
                   "samples to 90 % (median)": "650k", "samples to 95 % (median)": "–"}
    assert main(["demo", "--out", str(tmp_path), "--seeds", "2", "--steps", "200", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| rule | seeds | final accuracy (mean, min over seeds) | samples to 90 % (median) |" in out
    assert "e+0" not in out and len(pd.read_csv(tmp_path / "comparison.csv").columns) > 10


def test_resumed_run_counts_every_process_wall_time(tmp_path, monkeypatch):
    """wall_seconds of a resumed run = the earlier processes' seconds (kept in the checkpoint) + this one's."""
    import pickle

    cfg = TrainConfig(bits=6, hidden=(6, 4), steps=80, batch=4, seeds=2, log_every=4)
    real, calls = runner_mod._check_finite, {"n": 0}

    def crash_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(runner_mod, "_check_finite", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path, progress=False, chunks=4)
    monkeypatch.setattr(runner_mod, "_check_finite", real)
    ckpt_path = tmp_path / f".{cfg.run_name}.partial" / "checkpoint.pkl"
    blob = pickle.loads(ckpt_path.read_bytes())
    assert blob["seconds"] > 0
    blob["seconds"] = 1000.0  # as if the first process had run for 1000 s
    ckpt_path.write_bytes(pickle.dumps(blob))
    res = run(cfg, tmp_path, progress=False, chunks=4)
    assert 1000.0 < res.summary["wall_seconds"] < 1100.0


def test_help_texts_come_from_the_registries_and_stand_on_their_own(capsys, monkeypatch):
    """`train --help` names every registered task, environment and rule (made from the registries, so it
    cannot go stale); no command's help cites the project's internal specs or issue numbers."""
    import re

    from plastix.cli import COMMANDS
    from plastix.envs import ENVS
    from plastix.rules import RULES
    from plastix.tasks import TASKS

    monkeypatch.setenv("COLUMNS", "400")
    for cmd in COMMANDS:
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        text = capsys.readouterr().out
        assert not re.search(r"\bspec\b|§|issue \d", text), (cmd, re.search(r".{40}(\bspec\b|§|issue \d).{40}", text))
        if cmd == "train":
            for name in [*TASKS, *ENVS, *RULES]:
                assert name in text, name


def test_one_rule_finished_runs_are_skipped_fresh_recomputes(tmp_path, capsys):
    """Every command: a finished run of the same config is skipped (and said so), --fresh starts over;
    the sweep follows the same rule (it used to recompute unless given --resume)."""
    args = ["train", *TINY, "--out", str(tmp_path), "--name", "r"]
    assert main(args) == 0
    summary = tmp_path / "r" / "summary.json"
    first = summary.read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert "already finished with this config; skipped (--fresh recomputes it)" in capsys.readouterr().out
    assert summary.read_text() == first  # untouched
    assert main([*args, "--steps", "80"]) == 0  # another config under the same name is not "finished"
    assert "skipped" not in capsys.readouterr().out
    assert main([*args, "--steps", "80", "--fresh"]) == 0
    out = capsys.readouterr().out
    assert "skipped" not in out and "final accuracy" in out
    sweep = ["sweep", "demo/reinforce-multiplexer11", "--grid", "steps=40", "bits=6", "hidden=6:4", "--seeds", "1",
             "--workers", "1", "--out", str(tmp_path / "s"), "--no-progress"]
    assert main(sweep) == 0 and main(sweep) == 0
    assert "1 of 1 runs done (1 already finished)" in capsys.readouterr().out
    assert main([*sweep, "--fresh"]) == 0
    assert "(0 already finished)" in capsys.readouterr().out


def test_plot_bands_stay_inside_the_metric_range(tmp_path, monkeypatch):
    """An accuracy of 0.9945 ± 0.061 is drawn up to 1, not 1.06 (the bands are clipped to the metric's
    range); without the range the band would leave it (negative control)."""
    import matplotlib.axes

    from plastix.plotting import metric_range, plot_curves

    assert metric_range("accuracy") == (0.0, 1.0) and metric_range("align_exact") == (-1.0, 1.0)
    assert metric_range("reward") is None
    y = np.array([[0.95] * 20, [1.0] * 20, [1.0] * 20])  # mean 0.983, 95 % CI well above 1
    tops = []
    real = matplotlib.axes.Axes.fill_between
    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between",
                        lambda self, x, lo, hi, **kw: (tops.append(float(np.max(hi))), real(self, x, lo, hi, **kw))[1])
    plot_curves({"a": (np.arange(20), y)}, tmp_path / "a.png", bounds=metric_range("accuracy"), chance=0.5)
    plot_curves({"a": (np.arange(20), y)}, tmp_path / "b.png")
    assert tops[0] == 1.0 and tops[1] > 1.0
