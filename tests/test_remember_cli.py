"""Remembering runs and the CLI: resume = uninterrupted, outputs, bad input → exit 2."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from plastix.cli import main
from plastix.experiments import get_experiment
from plastix.remember.run import run_remember

SMOKE = dataclasses.replace(get_experiment("remember/smoke").config, name="t")


def test_resumed_run_equals_uninterrupted(tmp_path):
    whole = run_remember(SMOKE, tmp_path / "a", progress=False)
    part = run_remember(SMOKE, tmp_path / "b", progress=False, stop_after=1)
    assert part.summary == {"stopped_at": 2} and not (tmp_path / "b" / "t").exists()  # nothing published yet
    resumed = run_remember(SMOKE, tmp_path / "b", progress=False)
    for f in ("training.parquet", "recall.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(whole.path / f), pd.read_parquet(resumed.path / f))
    tr = pd.read_parquet(whole.path / "training.parquet")
    assert list(tr.step) == [2, 4] and np.isfinite(tr.loss).all()
    rec = pd.read_parquet(whole.path / "recall.parquet")
    assert set(rec.model) == {"rule", "outer-product"} and len(rec) == 6
    assert (rec.bit_accuracy.between(0, 1)).all()
    s = json.loads((whole.path / "summary.json").read_text())
    assert s["meta_steps"] == 4 and s["recall_vs_delay"].keys() == {"0", "6"}
    assert (whole.path / "recall.png").exists() and (whole.path / "params.pkl").exists()


def test_cli_run_and_bad_input(tmp_path, capsys):
    assert main(["run", "remember/smoke", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "recall vs delay" in capsys.readouterr().out
    for argv, needle in ((["remember", "--model", "transformer"], "--model"),
                         (["remember", "--d-key", "2", "--n-max", "5"], "--n-max"),
                         (["run", "remember/smoke", "--generations", "3"], "--generations")):
        rc = main([*argv, "--out", str(tmp_path / "bad")])
        err = capsys.readouterr().err
        assert rc == 2, argv
        assert needle in err
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
