"""The benchmark scripts' ``--reference-dir``: a directory without the reference is one line and exit 2.

The benchmarks themselves are never timed in the test suite (they are scripts in ``benchmarks/``); what
is tested is that a wrong reference directory is caught before any compiling or timing, and that the
CartPole harness hands the reference gym's 2020 API over gymnasium (the shim's arithmetic is the one
thing of ours in those runs)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _bench(script: str, *args: str) -> subprocess.CompletedProcess:
    quick = ["--steps", "2"] if script == "bench_blur.py" else ["--quick"]
    return subprocess.run([sys.executable, str(BENCH / script), *args, *quick, "--repeats", "1"],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("script, needle", [
    ("bench_reinforce.py", "weight_max"),
    ("bench_map_prop.py", "map_prop"),
    ("bench_rl.py", "weight_max"),
    ("bench_copi.py", "ConstrainedParameterInference"),
    ("bench_blur.py", "google-research"),
])
def test_a_reference_dir_without_the_reference_is_one_line(script, needle, tmp_path):
    r = _bench(script, "--reference-dir", str(tmp_path))
    assert r.returncode == 2, r.stderr[-2000:]
    err = r.stderr.strip()
    assert "\n" not in err and err.startswith("--reference-dir:") and needle in err, err
    assert "|" not in r.stdout  # nothing timed, no table started


@pytest.mark.parametrize("script, layout", [
    ("bench_copi.py", "ConstrainedParameterInference/run.py"),
    ("bench_blur.py", "google-research/blur/blur_meta.py"),
])
def test_a_reference_needing_another_python_asks_for_it(script, layout, tmp_path):
    """COPI needs PyTorch, BLUR TensorFlow: neither is plastix's dependency, so the user names the Python."""
    (tmp_path / layout).parent.mkdir(parents=True)
    (tmp_path / layout).write_text("raise SystemExit('never run')\n")
    r = _bench(script, "--reference-dir", str(tmp_path))
    assert r.returncode == 2, r.stderr[-2000:]
    err = r.stderr.strip()
    assert "\n" not in err and err.startswith("--reference-python:"), err
    assert "|" not in r.stdout


def test_the_gym_shim_serves_the_old_api_and_counts_steps(tmp_path):
    """The CartPole harness, run on a stand-in 'reference' main that drives gym as the 2020 code does:
    old reset/step signatures, the truncation flag in ``info``, and the step counter that ends the run."""
    sys.path.insert(0, str(BENCH))
    try:
        from reference import _RL
    finally:
        sys.path.remove(str(BENCH))
    fake = tmp_path / "ref"
    fake.mkdir()
    (fake / "main.py").write_text(
        "import gym, numpy as np\n"
        "assert np.int is int and np.float is float\n"
        "env = gym.make('CartPole-v1')\n"
        "assert isinstance(env.action_space, gym.spaces.discrete.Discrete)\n"
        "s = env.reset(); assert s.shape == (4,)\n"
        "for i in range(10**6):\n"
        "    s, r, done, info = env.step(i % 2)\n"
        "    assert r == 1.0 and 'TimeLimit.truncated' in info\n"
        "    if done: s = env.reset()\n"
        "raise SystemExit('the counter never ended the run')\n")
    code = _RL.format(path=str(fake), work=str(tmp_path), main="main.py", warmup=5, steps=50)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.strip().splitlines()[-1]) > 0
