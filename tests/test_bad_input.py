"""Bad input that used to escape as a traceback or a hang: each is now one line, exit 2, nothing written.

Before the fix: an ``--out`` naming a file raised ``FileExistsError`` (exit 1) after compiling; a
read-only ``--out`` raised ``OSError`` (exit 1); ``--hidden 4`` with the default three rates blamed an
``--lr`` the user never gave; ``--hidden 200000 200000`` sat in the allocator; ``remember --delay-max
1e9`` died with ``RESOURCE_EXHAUSTED``; an empty genotype file raised ``EOFError``; the workers of a
``kill -9``-ed sweep lived on.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plastix.cli import main

TRAIN = ["--bits", "6", "--hidden", "4", "--lr", "1e-2", "--steps", "8", "--log-every", "4", "--no-progress"]


def _one_line_exit_2(argv, capsys, needle: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error: ") and "\n" not in err and needle in err, err
    return err


@pytest.mark.parametrize("argv", [
    ["train", *TRAIN],
    ["run", "demo/reinforce-multiplexer11", "--steps", "40", "--seeds", "1", "--no-progress"],
    ["copi", "--dataset", "digits", "--epochs", "1", "--no-progress"],
    ["remember", "--steps", "1", "--log-every", "1", "--no-progress"],
    ["demo", "--steps", "10", "--seeds", "1", "--no-progress"],
    ["evolve-maze", "--generations", "1", "--no-progress"],
])
def test_out_naming_a_file(argv, tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("keep me")
    _one_line_exit_2([*argv, "--out", str(target)], capsys, f"--out {target} is not writable (it is a file")
    assert target.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_compare_out_naming_a_file(tmp_path, capsys):
    assert main(["train", *TRAIN, "--out", str(tmp_path / "runs"), "--name", "r"]) == 0
    (tmp_path / "afile").write_text("")
    _one_line_exit_2(["compare", str(tmp_path / "runs" / "r"), "--out", str(tmp_path / "afile")], capsys,
                     "is not writable (it is a file")


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory this process cannot write: a read-only tmpfs as root (CI), else mode 0555."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True)
        if r.returncode:
            pytest.skip(f"cannot mount a read-only tmpfs here: {r.stderr.decode().strip()}")
        try:
            yield ro
        finally:
            subprocess.run(["umount", str(ro)], check=True)
    else:
        ro.chmod(0o555)
        try:
            yield ro
        finally:
            ro.chmod(0o755)


def test_out_on_a_read_only_file_system(read_only_dir, capsys):
    out = read_only_dir / "runs"
    err = _one_line_exit_2(["train", *TRAIN, "--out", str(out)], capsys, f"--out {out} is not writable (")
    assert "Read-only file system" in err or "Permission denied" in err
    assert not any(read_only_dir.iterdir())


def test_default_lr_with_another_depth_says_it_is_the_default(tmp_path, capsys):
    _one_line_exit_2(["train", "--bits", "6", "--hidden", "4", "--out", str(tmp_path)], capsys,
                     "--lr: the default 0.01 0.001 0.0001 is one rate per layer of a net with 2 hidden layers")
    # a rate list the user gave is still checked with the plain message
    _one_line_exit_2(["train", "--bits", "6", "--hidden", "4", "--lr", "1", "2", "3", "--out", str(tmp_path)],
                     capsys, "--lr: give 1 value or 2 (one per layer), got 3")
    assert not any(tmp_path.iterdir())


def test_impossible_sizes_fail_up_front_with_the_estimate(tmp_path, capsys):
    t0 = time.perf_counter()
    _one_line_exit_2(["train", "--bits", "6", "--hidden", "200000", "200000", "--lr", "1e-2", "--out",
                      str(tmp_path), "--no-progress"], capsys, "--hidden: --hidden 200000 200000 with 1 seed(s)")
    _one_line_exit_2(["remember", "--delay-max", "1000000000", "--out", str(tmp_path), "--no-progress"], capsys,
                     "--delay-max: an episode of 1000000008 frames × 32 streams needs about")
    assert time.perf_counter() - t0 < 30  # no compilation, no allocation
    assert not any(tmp_path.iterdir())


def test_memory_estimate_scales_and_the_check_reads_the_machine(monkeypatch):
    """The check is relative to the machine: the default configs pass, and the same config fails on a
    machine with too little memory (negative control for a check that could never fire)."""
    from plastix import TrainConfig
    from plastix.validation import ConfigError
    from plastix.remember.config import RememberConfig
    from plastix.runtime import check_memory

    small, big = TrainConfig(), TrainConfig(hidden=(4096, 4096), seeds=10)
    assert big.memory_estimate() > 1000 * small.memory_estimate()
    assert RememberConfig(delay_max=64).memory_estimate() > RememberConfig().memory_estimate()
    check_memory(small.memory_estimate(), "hidden", "x")
    check_memory(RememberConfig().memory_estimate(), "delay_max", "x")
    monkeypatch.setenv("PLASTIX_MEMORY_BYTES", str(small.memory_estimate()))
    with pytest.raises(ConfigError, match="needs about"):
        check_memory(small.memory_estimate(), "hidden", "x")


_NOISE = bytes(range(7, 250, 3))  # fixed "random" bytes (the same on every xdist worker)


@pytest.mark.parametrize("content,needle", [
    (b"", "is not a .npz archive (it is empty)"),
    (b"\x80\x04" + _NOISE, "is not a .npz archive (not a zip archive)"),  # looks like a pickle to NumPy
    (b"PK\x03\x04" + _NOISE, "is not a readable .npz archive"),
], ids=["empty", "random", "damaged-zip"])
def test_eval_maze_unreadable_genotype(content, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.npz").write_bytes(content)
    err = _one_line_exit_2(["eval-maze", "--genotype", "g.npz"], capsys, needle)
    assert "allow_pickle" not in err


def test_eval_maze_and_maze_set_out_checked_first(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    _one_line_exit_2(["eval-maze", "--limit", "2", "--out", "d"], capsys, "--out d is a directory; give a file name")
    (tmp_path / "f").write_text("")
    _one_line_exit_2(["maze-set", "f/m.npz", "--count", "2"], capsys, "out f is not writable")


_SWEEP = """
import sys
from plastix.cli import main
sys.exit(main(["sweep", "demo/reinforce-multiplexer11", "--grid", "lr=1e-2,3e-2", "steps=400000", "--seeds", "1",
               "--workers", "2", "--out", sys.argv[1], "--no-progress"]))
"""


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        kids += [int(p) for p in text.split()]
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sweep_workers_end_when_the_sweep_is_killed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _SWEEP, str(tmp_path / "out")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline, workers = time.time() + 120, []
        while time.time() < deadline and len(workers) < 2:  # the two pool workers (a resource tracker may be a third)
            time.sleep(0.5)
            workers = [p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)]
        assert len(workers) == 2, "the sweep did not start its workers"
        time.sleep(2)  # inside a run now
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 20
        while time.time() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "orphaned sweep workers kept running"
    finally:
        if proc.poll() is None:
            proc.kill()
