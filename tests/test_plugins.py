"""Extensions from the command line (plastix.plugins): a user's own task, rule and experiment, in a
module of their own, trained through the `plastix` command and swept by worker processes; installed
entry points; bad paths and objects of the wrong kind as one line and exit 2."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""A user's own module: the k-bit majority task, a renamed rule and an experiment."""
import jax.numpy as jnp
from plastix import TrainConfig
from plastix.experiments import Experiment
from plastix.rules import RULES
from plastix.tasks import Task


def majority(bits=5):
    def sample(key, batch, sampler, dtype=jnp.float32):
        z = sampler.bernoulli(key, jnp.full((batch, bits), 0.5, dtype))
        x = 2 * z.astype(dtype) - 1
        return x, jnp.sign(jnp.sum(x, axis=1)).astype(dtype)

    def reward(action, y):
        return jnp.where(action == y, 1.0, -1.0).astype(y.dtype)

    def metrics(action, y, r):
        return {"reward": jnp.mean(r), "accuracy": jnp.mean((r + 1) / 2)}

    return Task(f"majority{bits}", bits, "sign", 1, sample, reward, metrics, "bernoulli")


majority5 = majority(5)                       # the object itself
def majority7(): return majority(7)           # a function returning it
my_reinforce = RULES["reinforce"]._replace(description="REINFORCE under another name")
NOT_A_TASK = 42

def small():
    return Experiment(TrainConfig(task="mytasks:majority5", rule="mytasks:my_reinforce", hidden=(8,), lr=(1e-1, 1e-2),
                                  batch=16, steps=300, seeds=2, log_every=30, name="majority-small"),
                      "majority of 5 bits, a user's experiment", "mytasks", "none")
'''


def _plastix(args, cwd, env=None):
    env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "plastix.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture()
def plugin_dir(tmp_path):
    (tmp_path / "mytasks.py").write_text(PLUGIN)
    return tmp_path


@pytest.mark.slow
def test_a_users_task_rule_and_experiment_run_through_the_command(plugin_dir):
    tiny = ["--hidden", "8", "--lr", "1e-1", "1e-2", "--batch", "16", "--steps", "300", "--seeds", "2",
            "--log-every", "30", "--no-progress", "--out", "runs"]
    r = _plastix(["train", "--task", "mytasks:majority5", "--rule", "reinforce", *tiny], plugin_dir)
    assert r.returncode == 0, r.stderr
    run = plugin_dir / "runs" / "majority5-reinforce-b16-seed0x2"  # the task's own name, nothing else
    summary = json.loads((run / "summary.json").read_text())
    assert min(summary["final_accuracy"]) > 0.6  # majority of 5 is easy; chance is 0.5
    assert json.loads((run / "config.json").read_text())["task"] == "mytasks:majority5"

    r = _plastix(["train", "--task", "mytasks:majority7", "--rule", "mytasks:my_reinforce", *tiny], plugin_dir)
    assert r.returncode == 0, r.stderr
    assert (plugin_dir / "runs" / "majority7-my_reinforce-b16-seed0x2" / "summary.json").is_file()

    r = _plastix(["run", "mytasks:small", "--out", "runs", "--no-progress"], plugin_dir)
    assert r.returncode == 0, r.stderr
    assert "majority of 5 bits, a user's experiment" in r.stdout

    # a sweep's worker processes import the module again
    r = _plastix(["sweep", "mytasks:small", "--grid", "batch=8,16", "--workers", "2", "--out", "sw",
                  "--no-progress"], plugin_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 of 2 runs done" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["train", "--task", "nomodule:x"], "--task: nomodule:x: no module named 'nomodule' in the current directory"),
    (["train", "--task", "mytasks:nope"], "--task: mytasks:nope: module mytasks has no 'nope'"),
    (["train", "--task", "mytasks:NOT_A_TASK"], "--task: mytasks:NOT_A_TASK is an int; it must be a Task or TaskSpec "
                                               "or EnvSpec"),
    (["train", "--rule", "mytasks:majority5"], "--rule: mytasks:majority5 is a Task; it must be a RuleSpec"),
    (["train", "--task", "mytasks:"], "--task: 'mytasks:' is not MODULE:NAME"),
    (["run", "mytasks:majority5"], "experiment mytasks:majority5 is a Task; it must be an Experiment"),
    (["sweep", "mytasks:nope"], "mytasks:nope: module mytasks has no 'nope'"),
])
def test_bad_plugins_are_one_line_and_exit_2(plugin_dir, args, message):
    r = _plastix([*args, "--out", "o"], plugin_dir)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"plastix: error: {message}" or r.stderr.strip().startswith(f"plastix: error: {message}"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (plugin_dir / "o").exists()


def test_a_module_that_fails_to_import_is_one_line(plugin_dir):
    (plugin_dir / "broken.py").write_text("raise RuntimeError('no GPU here')\n")
    r = _plastix(["train", "--task", "broken:x", "--out", "o"], plugin_dir)
    assert r.returncode == 2
    assert r.stderr.strip() == "plastix: error: --task: broken:x: importing broken failed: RuntimeError: no GPU here"


def test_installed_entry_points_register_by_name(plugin_dir):
    """A package's entry points (a dist-info on the path, as pip writes it) name tasks and rules."""
    site = plugin_dir / "site"
    dist = site / "mytasks_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mytasks-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [plastix.tasks]
        majority7 = mytasks:majority7
        [plastix.rules]
        reinforce_too = mytasks:my_reinforce
        [plastix.experiments]
        broken = mytasks:NOT_A_TASK
        """))
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(plugin_dir)])}
    r = _plastix(["list"], plugin_dir / "site", env)
    assert r.returncode == 0, r.stderr
    assert "majority7" in r.stdout and "REINFORCE under another name" in r.stdout
    # the broken one is a warning naming it, and the command still works
    assert "entry point plastix.experiments:broken (mytasks:NOT_A_TASK) is ignored" in r.stderr
    r = _plastix(["train", "--task", "majority7", "--rule", "reinforce_too", "--hidden", "4", "--lr", "1e-1", "1e-2",
                  "--steps", "20", "--batch", "4", "--log-every", "10", "--no-progress", "--out", "runs"],
                 plugin_dir / "site", env)
    assert r.returncode == 0, r.stderr
    assert (plugin_dir / "site" / "runs" / "majority7-reinforce_too-b4-seed0x1" / "summary.json").is_file()
