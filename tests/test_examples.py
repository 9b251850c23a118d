"""Examples run as written, at tiny scale (their --quick mode)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_width_scaling_quick(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "width_scaling.py"), "--quick", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    for f in ("scaling.md", "scaling.csv", "scaling.png"):
        assert (tmp_path / f).is_file()
    assert "weight_max" in (tmp_path / "scaling.md").read_text()


def test_actor_critic_quick():
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "actor_critic.py"), "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "weight_max: mean return over 5 episodes" in p.stdout


def test_copi_decorrelation_quick():
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "copi_decorrelation.py"), "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "epoch 1: test accuracy" in p.stdout and "diverged: False" in p.stdout


def test_maze_plasticity_quick():
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "maze_plasticity.py"), "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| released genotype |" in p.stdout and "plasticity off" in p.stdout and "|W_h| max" in p.stdout


def test_remember_inspect_quick():
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "remember_inspect.py"), "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| bit accuracy |" in p.stdout and "R² on its own state" in p.stdout
