"""Time the papers' real reference code side by side with plastix (``--reference-dir DIR``).

The user clones a reference repository *outside* this repository (``DIR/weight_max``,
``DIR/map_prop``: the public ``stephen-chung-mh`` repositories); nothing of it is copied here or
needed by CI. Each measurement runs the reference's own classes (its ``Network``, its Adam, its
multiplexer) in a fresh Python process pinned to one core, with the loop of its own ``main`` for
the multiplexer task and the configuration of its ``config_mp.ini``; the process times ``steps``
updates after ``warmup`` updates and prints samples/s. The reference imports ``gym`` at module
level but never calls it on the multiplexer path, so an empty stand-in module is put in its place
when gym is not installed (the reference pins gym's 2020 API, which no longer installs here).

Why a subprocess and not an import: the reference's NumPy loops are sensitive to the process's
allocator state (glibc's malloc thresholds move once large arrays have been freed), and a NumPy
stand-in timed inside the benchmark process ran 2.6–4.2× faster than the reference run on its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_PRELUDE = """
import importlib.util, sys, time, types
sys.path.insert(0, {path!r})
if importlib.util.find_spec("gym") is None:
    sys.modules["gym"] = types.ModuleType("gym")  # the multiplexer path never calls gym
import numpy as np
np.random.seed(0)
from util import *
"""

_WM = _PRELUDE + """
from weightmax import Network
env = complex_multiplexer_MDP(addr_size=4, action_size=1, zero=False, reward_zero=False)   # 20 bits
net = Network(state_n=env.x_size, action_n=1, hidden=[64, 32], var=0, temp=[1, 1, 1], hidden_l_type=5,
              output_l_type=5, opt="adam", beta_1=0.9, beta_2=0.999)
def step():
    state = env.reset({batch})
    action = zero_to_neg(net.forward(state, False)[..., np.newaxis][:, :, 0])
    reward = env.act(action)[:, 0]
    for a in net.layers:
        a.record_trace(lambda_=0, det=False, zero_learn=False)
    net.learn(reward, lr=[0.01, 0.001, 0.0001], w_reg=0, w_reg_p=2, h_reg=0, entro_reg=0, weight_max=2,
              baseline=False, det=False)
"""

_MAP = _PRELUDE + """
from mapprop import Network
env = complex_multiplexer_MDP(addr_size=5, action_size=1, zero=False, reward_zero=False)   # 37 bits
var = [0.3, 1, 1]
net = Network(state_n=env.x_size, action_n=2, hidden=[64, 32], var=var, temp=1, hidden_l_type=0, output_l_type=4)
def step():
    state = env.reset({batch})
    action = zero_to_neg(from_one_hot(net.forward(state)))[:, np.newaxis]
    reward = env.act(action)[:, 0]
    net.map_grad_ascent(steps=20, state=None, gate=False, lambda_=0, update_size=[v * 0.5 for v in var])
    net.learn(reward, lr=[0.04, 0.00004, 0.000004])
"""

_TIMING = """
for _ in range({warmup}):
    step()
t0 = time.perf_counter()
for _ in range({steps}):
    step()
print({steps} * {batch} / (time.perf_counter() - t0))
"""

WORKLOADS = {"weight_max": ("weight_max", _WM), "map_prop": ("map_prop", _MAP)}

# The reference's RL entry points run unmodified (``runpy``) on a copy of their own CartPole config with
# ``n_run = 1``, in a scratch working directory (they read ``config/`` and write ``result/`` relative to
# it). Two compatibility shims, nothing else: NumPy 2 removed the ``np.int``/``np.float``
# aliases the reference uses (restored as the builtins they aliased), and gym's 2020 API (``reset()``
# returns the observation, ``step()`` a 4-tuple with ``info["TimeLimit.truncated"]``) is served by a
# thin wrapper over gymnasium's CartPole-v1, which has the same dynamics. The wrapper counts env steps,
# starts the clock after ``warmup`` steps and ends the process after ``steps`` more.
_RL = """
import importlib.util, os, runpy, sys, time, types
import numpy as np
np.int, np.float = int, float
import gymnasium
sys.path.insert(0, {path!r})
os.chdir({work!r})
np.random.seed(0)
_count, _t0 = [0], [0.0]

class _OldApi:
    def __init__(self, env):
        self.env, self.action_space, self.observation_space = env, env.action_space, env.observation_space
        self._seeded = False
    def reset(self):
        obs, _ = self.env.reset(seed=None if self._seeded else 0)
        self._seeded = True
        return obs
    def step(self, action):
        _count[0] += 1
        if _count[0] == {warmup}:
            _t0[0] = time.perf_counter()
        elif _count[0] == {warmup} + {steps}:
            print({steps} / (time.perf_counter() - _t0[0]), flush=True)
            os._exit(0)
        obs, r, term, trunc, _ = self.env.step(int(action))
        return obs, r, term or trunc, {{"TimeLimit.truncated": bool(trunc and not term)}}

gym = types.ModuleType("gym")
gym.spaces = gymnasium.spaces
gym.make = lambda name: _OldApi(gymnasium.make(name))
sys.modules["gym"], sys.modules["gym.spaces"] = gym, gymnasium.spaces
sys.argv = [{main!r}, "-c", "bench.ini"]
runpy.run_path(os.path.join({path!r}, {main!r}), run_name="__main__")
"""

RL_WORKLOADS = {  # plastix experiment: (repository, entry point, its config)
    "weight-max/cartpole": ("weight_max", "main.py", "config_cp.ini"),
    "map-prop/cartpole": ("map_prop", "main_rl.py", "config_cp.ini"),
}


def check_reference_dir(ref_dir: str | Path, workload: str) -> Path:
    """``DIR/<repository>`` holding the reference's ``util.py``; ``SystemExit`` (exit 2) naming what is missing."""
    repo = WORKLOADS[workload][0] if workload in WORKLOADS else RL_WORKLOADS[workload][0]
    path = Path(ref_dir) / repo
    if not (path / "util.py").is_file():
        print(f"--reference-dir: {path} has no util.py; clone stephen-chung-mh/{repo} into {Path(ref_dir)} "
              "(outside this repository)", file=sys.stderr)
        raise SystemExit(2)
    return path


def reference_rate(ref_dir: str | Path, workload: str, batch: int, steps: int, warmup: int = 20) -> float:
    """Samples/s of the real reference code on its multiplexer config, in a fresh process on one core."""
    path = check_reference_dir(ref_dir, workload)
    code = WORKLOADS[workload][1].format(path=str(path), batch=batch) + _TIMING.format(
        warmup=warmup, steps=steps, batch=batch)
    return _run_one_core(cmd_code=code, what=workload)


def _run_one_core(cmd_code: str, what: str, python: str = sys.executable) -> float:
    """Run ``python -c cmd_code`` pinned to one core, one BLAS thread; the last line it prints, as a float."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    core = sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else None
    cmd = [python, "-c", cmd_code]
    if core is not None and Path("/usr/bin/taskset").exists():
        cmd = ["taskset", "-c", str(core), *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if r.returncode:
        raise RuntimeError(f"the reference {what} run failed:\n{r.stderr[-2000:]}")
    return float(r.stdout.strip().splitlines()[-1])


def reference_rl_rate(ref_dir: str | Path, experiment: str, steps: int, warmup: int = 200) -> float:
    """Env steps/s of the reference's own RL ``main`` on its CartPole config, one core, fresh process."""
    import configparser
    import tempfile

    path = check_reference_dir(ref_dir, experiment)
    _, main, config = RL_WORKLOADS[experiment]
    with tempfile.TemporaryDirectory() as work:
        cfg = configparser.ConfigParser(inline_comment_prefixes="#")
        cfg.read(path / "config" / config)
        cfg["USER"]["n_run"] = "1"
        cfg["USER"]["max_eps"] = "100000"  # the step counter ends the run first
        (Path(work) / "config").mkdir()
        (Path(work) / "result").mkdir()
        with open(Path(work) / "config" / "bench.ini", "w") as f:
            cfg.write(f)
        code = _RL.format(path=str(path), work=work, main=main, warmup=warmup, steps=steps)
        return _run_one_core(code, experiment)


def side_by_side_table(ref_dir: str | Path, workload: str, title: str, make_cfg, ref_steps: dict[int, int],
                       plastix_steps: dict[int, int], repeats: int) -> None:
    """Print the real reference against plastix, interleaved, at batch 1 and 128 and 1 and 10 seeds.

    ``make_cfg(batch, seeds, steps)`` is plastix's config of the same workload; ``ref_steps[batch]`` the
    reference's timed updates, ``plastix_steps[batch]`` plastix's (divided by the seeds at batch 128)."""
    from _common import side_by_side, throughput_fn

    check_reference_dir(ref_dir, workload)
    print(f"\n| {title} | batch | seeds | real reference samples/s | plastix samples/s | "
          "plastix / reference (median of pairs) |")
    print("|---|---|---|---|---|---|")
    for batch in (1, 128):
        for seeds in (1, 10):
            steps = max(plastix_steps[batch] // (seeds if batch == 128 else 1), 50)
            ref, plx, ratio = side_by_side(lambda: reference_rate(ref_dir, workload, batch, ref_steps[batch]),
                                           throughput_fn(make_cfg(batch, seeds, steps)), repeats)
            print(f"| {workload} | {batch} | {seeds} | {ref:,.0f} | {plx:,.0f} | {ratio:.1f}× |", flush=True)
