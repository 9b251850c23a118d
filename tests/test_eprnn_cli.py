"""Maze evolution runs and the maze CLI: resume = uninterrupted, determinism, bad input → exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plastix.cli import main
from plastix.eprnn.config import MazeConfig
from plastix.eprnn.genotype import load_genotype
from plastix.eprnn.maze import load_mazes
from plastix.eprnn.run import run_evolve

SMALL = MazeConfig(popsize=8, mazes=2, generations=4, eval_every=2, eval_mazes=8, checkpoint_every=1, name="t")


def _outputs(path):
    gens = pd.read_parquet(path / "generations.parquet")
    evals = pd.read_parquet(path / "metrics.parquet")
    _, _, g = load_genotype(path / "genotype.npz")
    return gens, evals, g


def test_resumed_run_equals_uninterrupted(tmp_path):
    whole = run_evolve(SMALL, tmp_path / "a", progress=False)
    part = run_evolve(SMALL, tmp_path / "b", progress=False, stop_after=2)
    assert part.summary == {"stopped_at": 2} and not (tmp_path / "b" / "t").exists()  # nothing published yet
    resumed = run_evolve(SMALL, tmp_path / "b", progress=False)
    ga, ea, wa = _outputs(whole.path)
    gb, eb, wb = _outputs(resumed.path)
    pd.testing.assert_frame_equal(ga, gb)
    pd.testing.assert_frame_equal(ea, eb)
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])
    assert len(ga) == 4 and np.isfinite(ga[["best", "mean", "member0"]].to_numpy()).all()
    assert sorted(ea.generation.unique()) == [0, 2, 4]
    assert ga.sigma.iloc[-1] != SMALL.sigma0  # the strategy moved


def test_another_seed_gives_other_numbers(tmp_path):
    a = run_evolve(SMALL, tmp_path / "a", progress=False)
    c = run_evolve(MazeConfig(**{**SMALL.to_dict(), "seed": 1}), tmp_path / "c", progress=False)
    assert not _outputs(a.path)[0].equals(_outputs(c.path)[0])


def test_an_evosax_strategy_runs_through_the_runner(tmp_path):
    cfg = MazeConfig(**{**SMALL.to_dict(), "strategy": "sep_cma_es", "generations": 2, "eval_every": 2})
    res = run_evolve(cfg, tmp_path, progress=False)
    assert np.isfinite(pd.read_parquet(res.path / "generations.parquet")["best"]).all()


def test_warm_start_continues_a_finished_run_as_a_curriculum_stage(tmp_path):
    """Spec §6.6: the stage starts from the saved state with c clipped to [0.64, 1] and σ = σ₀, paths and t
    kept; it draws mazes of its own (not stage 1's again under the same seed)."""
    import pickle

    from plastix.eprnn.run import _compiled, _program_key, warm_state

    first = run_evolve(SMALL, tmp_path, progress=False)
    saved = pickle.loads((first.path / "strategy.pkl").read_bytes())
    old = saved["state"]
    assert saved["agent"] == SMALL.agent and saved["generation"] == 4 and int(old.t) == 4
    old = old._replace(c=np.linspace(0.1, 1.0, old.c.shape[0]).astype(np.float32))  # a collapsed covariance
    (first.path / "strategy.pkl").write_bytes(pickle.dumps({**saved, "state": old}))
    stage = MazeConfig(**{**SMALL.to_dict(), "maze_size": 11, "sigma0": 0.02, "warm_start": str(first.path),
                          "name": "stage2"})
    _, _, es, *_ = _compiled(_program_key(stage))
    new = warm_state(stage, es)
    np.testing.assert_array_equal(np.asarray(new.mean), old.mean)
    np.testing.assert_array_equal(np.asarray(new.p_sigma), old.p_sigma)
    np.testing.assert_array_equal(np.asarray(new.c), np.clip(old.c, 0.64, 1.0))
    assert float(new.sigma) == pytest.approx(0.02) and int(new.t) == 4
    res = run_evolve(stage, tmp_path, progress=False)
    gens = pd.read_parquet(res.path / "generations.parquet")
    cold = run_evolve(MazeConfig(**{**stage.to_dict(), "warm_start": "", "name": "cold"}), tmp_path, progress=False)
    # the first evaluation scores the warm mean genome, not the initial one
    first_eval = pd.read_parquet(res.path / "metrics.parquet").query("generation == 0")
    cold_eval = pd.read_parquet(cold.path / "metrics.parquet").query("generation == 0")
    assert not np.allclose(first_eval["return"], cold_eval["return"])
    assert len(gens) == 4 and (res.path / "strategy.pkl").exists()


def test_restart_every_restarts_the_strategy_and_resumes_exactly(tmp_path):
    cfg = MazeConfig(**{**SMALL.to_dict(), "restart_every": 2, "name": "r"})
    whole = run_evolve(cfg, tmp_path / "a", progress=False)
    gens = pd.read_parquet(whole.path / "generations.parquet").set_index("generation")
    plain = pd.read_parquet(run_evolve(SMALL, tmp_path / "p", progress=False).path / "generations.parquet")
    plain = plain.set_index("generation")
    assert gens.sigma[2] == np.float32(SMALL.sigma0) and plain.sigma[2] != np.float32(SMALL.sigma0)
    assert gens.sigma[1] == plain.sigma[1] and gens.sigma[4] != np.float32(SMALL.sigma0)  # none after the last one
    assert not np.allclose(gens.loc[3:, "mean"], plain.loc[3:, "mean"])  # the restart changed what followed
    run_evolve(cfg, tmp_path / "b", progress=False, stop_after=2)  # killed right after a restart
    resumed = run_evolve(cfg, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(resumed.path / "generations.parquet"), gens.reset_index())


def test_restart_every_is_the_chain_of_warm_started_stages(tmp_path):
    """One run with restart_every = 2 over 4 generations = a 2-generation run + a warm-started 2-generation stage."""
    from plastix.eprnn.genotype import load_genotype

    base = {**SMALL.to_dict(), "generations": 2, "eval_every": 2}
    one = run_evolve(MazeConfig(**{**base, "generations": 4, "restart_every": 2, "name": "one"}), tmp_path,
                     progress=False)
    first = run_evolve(MazeConfig(**{**base, "name": "s1"}), tmp_path, progress=False)
    second = run_evolve(MazeConfig(**{**base, "warm_start": str(first.path), "name": "s2"}), tmp_path, progress=False)
    g_one = pd.read_parquet(one.path / "generations.parquet")
    g_chain = pd.concat([pd.read_parquet(p / "generations.parquet") for p in (first.path, second.path)])
    cols = ["best", "mean", "member0"]
    np.testing.assert_array_equal(g_one[cols].to_numpy(), g_chain[cols].to_numpy())
    a, b = load_genotype(one.path / "genotype.npz")[2], load_genotype(second.path / "genotype.npz")[2]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("change,msg", [
    ({"restart_every": 2, "strategy": "snes", "warm_start": ""}, "restart-every: needs strategy"),
    ({"agent": "rnn"}, "holds a 'decprnn-post' genome"),
    ({"strategy": "sep_cma_es"}, "needs strategy wang2022_sep_cma"),
    ({"warm_start": "nowhere"}, "has no strategy.pkl"),
])
def test_warm_start_bad_input(tmp_path, change, msg):
    from plastix.validation import ConfigError

    first = run_evolve(MazeConfig(**{**SMALL.to_dict(), "generations": 1, "eval_every": 1}), tmp_path,
                       progress=False)
    cfg = MazeConfig(**{**SMALL.to_dict(), "warm_start": str(first.path), "name": "s2", **change})
    with pytest.raises(ConfigError, match=msg):
        run_evolve(cfg, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "s2").exists()


def test_cli_evolve_and_eval_maze(tmp_path, capsys):
    rc = main(["evolve", "maze", "--popsize", "8", "--mazes", "2", "--generations", "2", "--eval-every", "2",
               "--eval-mazes", "8", "--checkpoint-every", "1", "--name", "cli", "--out", str(tmp_path),
               "--no-progress"])
    assert rc == 0
    geno = tmp_path / "cli" / "genotype.npz"
    assert geno.exists() and (tmp_path / "cli" / "episodes.png").exists()
    capsys.readouterr()
    rc = main(["eval", "maze", "--genotype", str(geno), "--mazes", "15", "--limit", "16", "--render", "2",
               "--out", str(tmp_path / "table.csv")])
    text = capsys.readouterr().out
    assert rc == 0 and "| episode | return |" in text and "weighted fitness" in text and "maze 2, episode 8" in text
    assert len(pd.read_csv(tmp_path / "table.csv")) == 8


def test_cli_maze_set(tmp_path):
    assert main(["maze-set", str(tmp_path / "m.npz"), "--n", "11", "--count", "5", "--seed", "2"]) == 0
    mz = load_mazes(tmp_path / "m.npz")
    assert mz.walls.shape == (5, 11, 11)


@pytest.mark.parametrize("argv,msg", [
    (["eval", "maze", "--genotype", "missing.npz"], "not found"),
    (["eval", "maze", "--mazes", "21"], "no stored 21×21"),
    (["eval", "maze", "--limit", "4", "--render", "9"], "--render"),
    (["eval", "maze", "--mazes", "nothere.npz"], "not found"),
    (["evolve", "maze", "--maze-size", "8"], "--maze-size"),
    (["evolve", "maze", "--strategy", "cma"], "allowed: wang2022_sep_cma"),
    (["maze-set", "x.npz", "--n", "6"], "--n"),
    (["run", "eprnn/smoke", "--epochs", "3"], "--epochs"),
])
def test_bad_input_is_one_line_and_exit_2(argv, msg, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0] and err[0].startswith("plastix: error:")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_two_devices_give_the_same_numbers(tmp_path):
    """The population split over 2 XLA CPU devices (PLASTIX_DEVICES=2) draws what one device draws."""
    import os
    import subprocess
    import sys

    code = ("import sys; from plastix.runtime import configure; configure(); import jax; "
            "from plastix.eprnn.config import MazeConfig; from plastix.eprnn.run import run_evolve; "
            "cfg = MazeConfig(popsize=8, mazes=2, generations=2, eval_every=2, eval_mazes=8, name='t'); "
            "run_evolve(cfg, sys.argv[1], progress=False); print(jax.local_device_count())")
    outs = []
    for devices in ("1", "2"):
        env = {**os.environ, "PLASTIX_DEVICES": devices}
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / devices)], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1] == devices
        outs.append(pd.read_parquet(tmp_path / devices / "t" / "generations.parquet"))
    pd.testing.assert_frame_equal(outs[0], outs[1])


def test_eval_maze_random_policy_baseline(tmp_path, capsys):
    """``--policy random`` adds a uniformly random walk's columns beside the genotype's, on the same mazes.
    On the first 128 stored 9×9 mazes the walk succeeds in about 42 % of episodes (0.417 on all 1,024), the
    released genotype in about 94 %; the walk has no memory, so its success does not rise over episodes."""
    rc = main(["eval-maze", "--limit", "128", "--policy", "random", "--out", str(tmp_path / "t.csv")])
    text = capsys.readouterr().out
    assert rc == 0 and "random walk: weighted fitness" in text
    tab = pd.read_csv(tmp_path / "t.csv")
    assert {"random success", "random steps", "random return"} <= set(tab.columns)
    walk = tab["random success"].mean()
    assert 0.33 < walk < 0.51  # binomial s.e. over 8 × 128 episodes ≈ 0.015; tolerance ≈ 6 s.e.
    assert tab.success.mean() > walk + 0.3  # negative control: the evolved learner is not a random walk
    assert abs(tab["random success"].iloc[-1] - tab["random success"].iloc[0]) < 0.15
    assert main(["eval-maze", "--policy", "greedy"]) == 2
    assert "--policy: unknown value 'greedy'; allowed: genotype, random" in capsys.readouterr().err


def test_paper_scale_config_runs_its_first_generations_at_reduced_size(tmp_path):
    """eprnn/maze15-paper holds the paper's training configuration (P = 360, top 180, 12 mazes 15×15 at
    ρ = 0.35, σ₀ = 0.01, c_cov = 0.02, validation on 1,024 mazes every 100 generations); its first
    generations run at a reduced population and maze count."""
    import dataclasses

    from plastix.experiments import EXPERIMENTS

    cfg = EXPERIMENTS["eprnn/maze15-paper"].config
    assert (cfg.popsize, cfg.elite or cfg.popsize // 2, cfg.mazes, cfg.maze_size, cfg.crowd) == (360, 180, 12, 15, 0.35)
    assert (cfg.sigma0, cfg.c_cov, cfg.strategy, cfg.eval_every, cfg.eval_mazes) == (0.01, 0.02, "wang2022_sep_cma",
                                                                                      100, 1024)
    small = dataclasses.replace(cfg, popsize=8, mazes=2, generations=2, eval_every=2, eval_mazes=16,
                                checkpoint_every=1, name="p")
    gens, _, _ = _outputs(run_evolve(small, tmp_path, progress=False).path)
    assert len(gens) == 2 and np.isfinite(gens[["best", "mean", "member0"]].to_numpy()).all()
