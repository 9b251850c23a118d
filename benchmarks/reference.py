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
import os, runpy, sys, time, types
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


def side_by_side(reference, plastix, repeats: int) -> tuple[float, float, float]:
    """The real reference and plastix timed in turn, A B A B …, ``repeats`` pairs: the medians of each
    and the median of the per-pair ratios plastix / reference (a pair shares the machine's state).

    Here and not in ``_common``: importing ``_common`` pins the process to one core and sets one-thread
    environment variables, which the two-thread comparisons (COPI, BLUR) must not inherit."""
    import numpy as np

    pairs = [(reference(), plastix()) for _ in range(repeats)]
    ref, plx = (float(np.median(v)) for v in zip(*pairs))
    return ref, plx, float(np.median([p / r for r, p in pairs]))


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
    return _run_python(code, workload)


def _run_python(code: str, what: str, python: str = sys.executable, one_core: bool = True,
                env: dict | None = None) -> float:
    """Run ``python -c code`` in a fresh process; the last line it prints, as a float.

    ``one_core``: pinned to this process's first core, with one BLAS thread (the NumPy references);
    otherwise on every core, with the caller's ``env`` additions (the two-thread references)."""
    env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    cmd = [python, "-c", code]
    if one_core:
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        core = sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else None
        if core is not None and Path("/usr/bin/taskset").exists():
            cmd = ["taskset", "-c", str(core), *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if r.returncode:
        raise RuntimeError(f"the reference {what} run failed:\n{r.stderr[-2000:]}")
    return float(r.stdout.strip().splitlines()[-1])


def require_python(python: str, needs: str) -> None:
    """``SystemExit`` (exit 2) when a reference needing another framework was given no Python to run it."""
    if not python:
        print(f"--reference-python: give a Python with {needs} to run the reference with", file=sys.stderr)
        raise SystemExit(2)


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
        return _run_python(code, experiment)


def side_by_side_table(ref_dir: str | Path, workload: str, title: str, make_cfg, ref_steps: dict[int, int],
                       plastix_steps: dict[int, int], repeats: int) -> None:
    """Print the real reference against plastix, interleaved, at batch 1 and 128 and 1 and 10 seeds.

    ``make_cfg(batch, seeds, steps)`` is plastix's config of the same workload; ``ref_steps[batch]`` the
    reference's timed updates, ``plastix_steps[batch]`` plastix's (divided by the seeds at batch 128)."""
    from _common import throughput_fn

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


# --- COPI (``nasiryahm/ConstrainedParameterInference``) -----------------------------------------------
# Its licence reserves all rights: plastix runs it and never reads it. The harness knows only what its
# README and example command line say (``run.py --dataset=MNIST --seed=S --config=NAME``), that it
# reads MNIST through torchvision from ``./datasets`` and writes ``./results``, and that it prints one
# line per epoch starting with the epoch number. It runs in a scratch working directory holding a link
# to the checkout's ``configs`` and a synthetic MNIST in torchvision's raw format (uniform random
# pixels and labels: timing does not depend on the values; a smaller training set than MNIST's 60,000,
# so that an epoch is short, and a 50-image test set, so that its per-epoch test pass costs little).
# ms per batch = median period between successive epoch lines ÷ batches per epoch, with the reference's
# PyTorch on as many threads as the process has cores (2 here, as in the spec's timings). That period includes whatever the reference does
# once per epoch besides training (its accuracy bookkeeping, the 50-image test pass), so it slightly
# overstates the reference's cost of one training batch.
COPI_CONFIGS = {"copi-bp": "copi_bp_boosted", "copi-fa": "copi_fa_boosted", "bp-decorr": "bp_decorr_boosted",
                "copi-bio": "copi_bio_bp_boosted", "bp-adam": "bp_adam"}


def check_copi_reference_dir(ref_dir: str | Path) -> Path:
    """``DIR/ConstrainedParameterInference`` holding ``run.py``; ``SystemExit`` (exit 2) naming what is missing."""
    path = Path(ref_dir) / "ConstrainedParameterInference"
    if not (path / "run.py").is_file():
        print(f"--reference-dir: {path} has no run.py; clone nasiryahm/ConstrainedParameterInference into "
              f"{Path(ref_dir)} (outside this repository)", file=sys.stderr)
        raise SystemExit(2)
    return path


def _write_idx(path: Path, arr) -> None:
    import numpy as np

    magic = 2051 if arr.ndim == 3 else 2049
    with open(path, "wb") as f:
        f.write(np.array([magic, *arr.shape], ">i4").tobytes())
        f.write(arr.astype(np.uint8).tobytes())


def reference_copi_ms(ref_dir: str | Path, method: str, python: str, train: int = 6000, epochs: int = 4,
                      timeout: float = 1800) -> float:
    """ms per MNIST batch of 50 of the real COPI reference (see the comment above), fresh process."""
    import re
    import tempfile
    import time

    import numpy as np

    path = check_copi_reference_dir(ref_dir)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        raw = Path(work) / "datasets" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        (Path(work) / "results").mkdir()
        (Path(work) / "configs").symlink_to(path / "configs")
        for name, n in (("train", train), ("t10k", 50)):
            _write_idx(raw / f"{name}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
            _write_idx(raw / f"{name}-labels-idx1-ubyte", rng.integers(0, 10, n))
        cmd = [python, "-u", str(path / "run.py"), "--dataset=MNIST", "--seed=1", f"--config={COPI_CONFIGS[method]}"]
        threads = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
        env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        stamps, start = [], time.perf_counter()
        try:
            for line in proc.stdout:
                if re.match(r"^\d+ [-0-9.]", line):
                    stamps.append(time.perf_counter())
                    if len(stamps) > epochs:
                        break
                if time.perf_counter() - start > timeout:
                    break
        finally:
            proc.kill()
            proc.wait()
    if len(stamps) < 3:
        raise RuntimeError(f"the reference COPI {method} run printed {len(stamps)} epoch lines (need 3)")
    return 1e3 * float(np.median(np.diff(stamps))) / (train // 50)


# --- BLUR (``google-research/google-research``, folder ``blur/``; Apache-2.0) -------------------------
# The reference is a library without a training script (spec blur.md §8), so the harness builds the
# meta-training graph with the reference's own functions: ``blur_meta.build_graph`` over its default
# network spec (relu∘tanh hidden, tanh output), a random genome of its ``create_random_genome`` turned
# into TF variables, its ``random_initializer`` with fan scaling, episodes as dicts with a ``'support'``
# key of ±1 one-hot labels (what its code reads), U learning steps plus the query step. The meta-loss is
# softmax cross-entropy of the query step's output (the reference has only an L2 score; the digits
# setting of plastix's benchmark uses CE), clipped to global norm 10 and applied by Adam 5e-4, all in
# TF1-compat graph mode with 2 threads. Graph building and 5 warm-up steps are excluded.
_BLUR = """
import sys, time
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
sys.path.insert(0, {root!r})
from blur import blur_meta, genome_util, synapse_util
np.random.seed(0)
tf.set_random_seed(0)
d = np.load({data!r})
X, Y = tf.constant(d["x"], tf.float32), tf.constant(d["y"], tf.int32)
n, n_in, n_cls, batch = d["x"].shape[0], d["x"].shape[1], int(d["y"].max()) + 1, {batch}
def episode(_):
    idx = tf.random.uniform([batch], 0, n, tf.int32)
    x = tf.reshape(tf.gather(X, idx), (1, 1, batch, n_in))
    y = tf.reshape(2.0 * tf.one_hot(tf.gather(Y, idx), n_cls) - 1.0, (1, 1, batch, n_cls))
    return {{"support": (x, y)}}
data = tf.data.Dataset.range(2**62).map(episode)
genome = genome_util.convert_genome_to_tf_variables(genome_util.create_random_genome({k}, num_species=1))
init = synapse_util.random_initializer(start_seed=0, scale_by_channels=True)
_, val = blur_meta.build_graph(genome, {unroll}, data=data, hidden_layers={hidden!r}, synapse_initializer=init)
loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(
    labels=(val.ground_truth + 1.0) / 2.0, logits=val.layers[-1][..., 0]))
params = tf.trainable_variables()
grads, _ = tf.clip_by_global_norm(tf.gradients(loss, params), 10.0)
train = tf.train.AdamOptimizer(5e-4).apply_gradients(zip(grads, params))
sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=2))
sess.run(tf.global_variables_initializer())
for _ in range(5):
    sess.run(train)
t0 = time.perf_counter()
for _ in range({steps}):
    sess.run(train)
print(1e3 * (time.perf_counter() - t0) / {steps})
"""


def check_blur_reference_dir(ref_dir: str | Path) -> Path:
    """``DIR/google-research`` holding ``blur/blur_meta.py``; ``SystemExit`` (exit 2) naming what is missing."""
    path = Path(ref_dir) / "google-research"
    if not (path / "blur" / "blur_meta.py").is_file():
        print(f"--reference-dir: {path} has no blur/blur_meta.py; clone google-research/google-research (or "
              f"its blur/ folder) into {Path(ref_dir)} (outside this repository)", file=sys.stderr)
        raise SystemExit(2)
    return path


def reference_blur_ms(ref_dir: str | Path, python: str, x, y, hidden: tuple[int, ...], k: int, unroll: int,
                      batch: int, steps: int) -> float:
    """ms per meta-step of the real BLUR reference on ``(x, y)`` (see the comment above), fresh process."""
    import tempfile

    import numpy as np

    root = check_blur_reference_dir(ref_dir)
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "data.npz"
        np.savez(data, x=np.asarray(x, np.float32), y=np.asarray(y, np.int32))
        code = _BLUR.format(root=str(root), data=str(data), hidden=tuple(hidden), k=k, unroll=unroll, batch=batch,
                            steps=steps)
        return _run_python(code, "BLUR", python, one_core=False, env={"TF_CPP_MIN_LOG_LEVEL": "3"})
