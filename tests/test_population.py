"""One evolution run's population on a real local Ray cluster (plastix.platform.population): the same
metrics and genotype as the single-process run (maze and BLUR CMA-ES runs), a worker killed
mid-generation replaced with the run unchanged, a driver stopped and rerun resuming to the same run, a
head node started by `ray start --head`, an address where nothing answers, and a cluster whose plastix
version differs."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plastix.cli import main
from plastix.eprnn.config import MazeConfig
from plastix.eprnn.genotype import load_genotype
from plastix.eprnn.run import run_evolve
from plastix.experiments import EXPERIMENTS

ray = pytest.importorskip("ray")

# 9 members over 2 or 3 actors: uneven shards; 4 mazes so that a shard takes long enough to be killed in
CFG = MazeConfig(popsize=9, mazes=4, generations=3, eval_every=3, eval_mazes=8, checkpoint_every=1, name="t")
# ray.init starts its processes from this (JAX, multithreaded) process: JAX warns at the fork
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning",
                                        "ignore:os.fork:RuntimeWarning", "ignore::DeprecationWarning")


def _outputs(path: Path):
    gens = pd.read_parquet(path / "generations.parquet")
    evals = pd.read_parquet(path / "metrics.parquet")
    _, _, g = load_genotype(path / "genotype.npz")
    return gens, evals, g


def _assert_same_run(a: Path, b: Path) -> None:
    ga, ea, wa = _outputs(a)
    gb, eb, wb = _outputs(b)
    pd.testing.assert_frame_equal(ga, gb)
    pd.testing.assert_frame_equal(ea, eb)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    return run_evolve(CFG, out, progress=False).path


def test_sharded_run_is_bit_identical_and_survives_a_killed_worker(single, tmp_path, monkeypatch):
    from plastix.platform.population import RayPopulation

    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        res = run_evolve(CFG, tmp_path / "ray", progress=False, ray="auto", ray_workers=3)
        _assert_same_run(single, res.path)
        _shards_follow_the_members_index()

        # SIGKILL one actor's process while generation 2 is being evaluated
        pools, evaluate = [], RayPopulation.evaluate

        def evaluate_and_kill(self, population, *payload):
            pools.append(self)
            if len(pools) == 2:
                pid = self.ray.get(self.actors[1].pid.remote())
                threading.Timer(0.05, os.kill, (pid, signal.SIGKILL)).start()
            return evaluate(self, population, *payload)

        monkeypatch.setattr(RayPopulation, "evaluate", evaluate_and_kill)
        killed = run_evolve(CFG, tmp_path / "killed", progress=False, ray="auto", ray_workers=3)
        assert pools[0].replaced >= 1  # the dead actor was replaced and its shard run again
        _assert_same_run(single, killed.path)
        monkeypatch.setattr(RayPopulation, "evaluate", evaluate)

        # the driver stopped after a generation and rerun: resumes from its checkpoint, same run
        part = run_evolve(CFG, tmp_path / "resumed", progress=False, ray="auto", ray_workers=2, stop_after=1)
        assert part.summary == {"stopped_at": 1}
        resumed = run_evolve(CFG, tmp_path / "resumed", progress=False, ray="auto", ray_workers=2)
        _assert_same_run(single, resumed.path)
    finally:
        ray.shutdown()


def _shards_follow_the_members_index() -> None:
    """One generation's fitness from 3 actors equals the in-process scores; negative control: shards
    that each count their members from 0 (as if each were the whole population) do not."""
    import jax

    from plastix.eprnn.agent import flat_genome, make_agent
    from plastix.eprnn.maze import sample_mazes
    from plastix.eprnn.run import _program_key, _scores, lifetime_of
    from plastix.platform.population import RayPopulation

    agent = make_agent(CFG.agent)
    base = np.asarray(flat_genome(agent.init_genome(jax.random.key(0))))
    pop = base + 0.05 * np.random.default_rng(0).standard_normal((CFG.popsize, base.size)).astype(base.dtype)
    mazes = sample_mazes(jax.random.key(3), CFG.mazes, CFG.maze_size, CFG.crowd)
    key = jax.random.key(4)
    expected = np.asarray(jax.jit(_scores(CFG, agent, lifetime_of(CFG)))(pop, mazes, key, 0))
    pool = RayPopulation("auto", 3, "plastix.eprnn.run:shard_scorer", _program_key(CFG))
    try:
        payload = (jax.device_get(tuple(mazes)), np.asarray(jax.random.key_data(key)))
        np.testing.assert_array_equal(pool.evaluate(pop, *payload), expected)
        from_zero = np.concatenate([ray.get(pool.actors[i].score.remote(pop[a:b], 0, *payload))[0]
                                    for i, (a, b) in enumerate(pool.shards(len(pop)))])
        assert not np.array_equal(from_zero, expected)
    finally:
        pool.close()


BLUR = dataclasses.replace(EXPERIMENTS["blur/smoke"].config, population=9, transfer=(), name="b")


def test_blur_cmaes_sharded_run_is_bit_identical(tmp_path):
    """A BLUR CMA-ES run with its population of 9 in uneven shards (3, 3, 3 and 5, 4) on 3 or 2 actors:
    the generations, the test-accuracy record and both genomes are the single-process run's. Negative
    control (checked by hand, 2026-12-07): with the population vmapped at once instead of scored member
    by member (plastix.blur.evolve.make_cmaes), this test fails: a vmapped member's rounding depends on
    the shard's size."""
    from plastix.blur.genome import load_genome
    from plastix.blur.run import run_blur_cma

    single = run_blur_cma(BLUR, tmp_path / "single", progress=False).path
    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        for workers in (3, 2):
            path = run_blur_cma(BLUR, tmp_path / f"ray{workers}", progress=False, ray="auto", ray_workers=workers).path
            for table in ("generations.parquet", "metrics.parquet", "curve.parquet"):
                pd.testing.assert_frame_equal(pd.read_parquet(single / table), pd.read_parquet(path / table))
            for genome in ("genome.npz", "best_genome.npz"):
                a, b = load_genome(single / genome), load_genome(path / genome)
                for x, y in zip(a, b):
                    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    finally:
        ray.shutdown()
    gens = pd.read_parquet(single / "generations.parquet")
    assert len(gens) == BLUR.generations and gens["mean"].nunique() > 1  # a run that moved, not a constant


def test_a_cluster_with_another_plastix_version_is_refused(tmp_path, capsys, monkeypatch):
    """The actors report the installed version; a driver that differs (here: patched) stops before any work."""
    import plastix

    monkeypatch.setattr(plastix, "__version__", plastix.__version__ + ".other")
    assert main(["run", "eprnn/smoke", "--ray", "local", "--ray-workers", "1", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error: --ray: the cluster runs plastix ") and "\n" not in err, err
    assert "install the same version on every node" in err
    assert not (tmp_path / "o").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_head_node_started_by_ray_start(single, tmp_path):
    """`ray start --head` on 127.0.0.1, then `plastix evolve-maze --ray 127.0.0.1:PORT` from another process."""
    import shutil
    import tempfile

    port = _free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    # its own temp dir (short: Ray's socket paths are length-limited), so that its address file does not
    # make another test's ray.init() join this cluster after it is gone
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:  # wait until the head answers
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None and time.time() < deadline, "ray start --head did not come up"
                time.sleep(0.5)
        args = [sys.executable, "-m", "plastix.cli", "evolve-maze", "--popsize", "9", "--mazes", "4", "--generations", "3",
                "--eval-every", "3", "--eval-mazes", "8", "--checkpoint-every", "1", "--name", "t", "--no-progress",
                "--ray", f"127.0.0.1:{port}", "--ray-workers", "2", "--out", str(tmp_path / "cluster")]
        r = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        _assert_same_run(single, tmp_path / "cluster" / "t")
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.parametrize("args,needle", [
    (["evolve-maze", "--ray", "127.0.0.1:PORT"], "--ray: no Ray cluster answers at 127.0.0.1:"),
    (["evolve-maze", "--ray", "nonsense"], "--ray: 'nonsense' is not host:port, auto or local"),
    (["evolve-maze", "--ray-workers", "2"], "--ray-workers: give --ray ADDRESS too"),
    (["run", "eprnn/smoke", "--ray", "127.0.0.1:PORT"], "--ray: no Ray cluster answers at 127.0.0.1:"),
    (["run", "weight-max/multiplexer20", "--ray", "auto"], "--ray: teams runs do not take it; allowed for: eprnn, blur"),
    (["run", "remember/recall-table", "--ray", "auto"], "--ray: remember runs do not take it; allowed for: eprnn, blur"),
    (["run", "blur/gradient-smoke", "--ray", "auto"], "ray: BLUR gradient meta-training is one compiled meta-gradient"),
])
def test_bad_ray_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, needle):
    args = [a.replace("PORT", str(_free_port())) for a in args]
    assert main([*args, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error: ") and needle in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()
