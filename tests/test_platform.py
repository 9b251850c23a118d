"""The experiment platform (issue 9): grid planning, sweeps, crash safety, the results store,
reports, TensorBoard export and bad input."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plastix.cli import main
from plastix.teams.config import ConfigError, TrainConfig
from plastix.copi.config import CopiConfig
from plastix.eprnn.config import MazeConfig
from plastix.platform import report
from plastix.platform.grid import parse_grid, plan
from plastix.platform.store import load_index
from plastix.platform.sweep import prepare, sweep
from plastix.teams.runner import run

EXP = "demo/reinforce-multiplexer11"
# a tiny version of the demo experiment: 6-bit multiplexer, 2 learning-rate settings
TINY = ["bits=6", "hidden=6:4", "steps=60", "log_every=4", "batch=4"]
LRS = "lr=1e-2:1e-3:1e-4,3e-2:3e-3:3e-4"


# ---- planning (no JAX) ------------------------------------------------------------------------------

def test_grid_values_are_typed_by_the_config_fields():
    g = parse_grid(["lr=1e-2:1e-3:1e-4,0.5", "batch=8,32", "rule=reinforce", "alignment=exact", "log-every=4"],
                   TrainConfig)
    assert g == {"lr": [(1e-2, 1e-3, 1e-4), (0.5,)], "batch": [8, 32], "rule": ["reinforce"],
                 "alignment": ["exact"], "log_every": [4]}
    assert parse_grid(["guard=false,true"], CopiConfig) == {"guard": [False, True]}


@pytest.mark.parametrize("item,needle", [
    ("colour=red", "--grid: unknown key 'colour' for TrainConfig; allowed: "),
    ("batch=eight", "--grid: batch='eight' is not a int"),
    ("lr=1e-2:x", "--grid: lr='x' is not a finite float"),
    ("lr=nan", "--grid: lr='nan' is not a finite float"),
    ("seeds=3", "--grid: seeds is set by the sweep itself"),
    ("batch", "--grid: 'batch' is not of the form key=v1,v2"),
])
def test_bad_grid_items_name_the_problem(item, needle):
    with pytest.raises(ConfigError, match="^" + needle.replace("(", r"\(").replace("+", r"\+")):
        parse_grid([item], TrainConfig)


def test_plan_is_the_product_of_the_grid_with_seeds_batched_or_expanded():
    runs = prepare(EXP, seeds=3, grid=[*TINY[:-1], LRS, "batch=4,8"])
    assert len(runs) == 4 and {r.config.seeds for r in runs} == {3}  # one vmapped call per config
    assert len({r.config.name for r in runs}) == 4 and all(r.config.name.startswith("demo-reinforce") for r in runs)
    assert [r.grid["batch"] for r in runs] == [4, 8, 4, 8]
    maze = plan("eprnn/smoke", MazeConfig(generations=2, popsize=8), {}, seeds=3)  # single-seed family
    assert [r.config.seed for r in maze] == [0, 1, 2]
    with pytest.raises(ConfigError, match="--bits: bits=12"):  # every config validated before anything runs
        prepare(EXP, grid=["bits=6,12"])


# ---- sweeps -------------------------------------------------------------------------------------------

def _metrics(out, run_name):
    return pd.read_parquet(Path(out) / run_name / "metrics.parquet")


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """One in-process sweep of two configs × 2 seeds, with TensorBoard files (shared by several tests)."""
    out = tmp_path_factory.mktemp("sweep")
    records = sweep(EXP, seeds=2, grid=[*TINY, LRS], out=out, workers=1, progress=False, tensorboard=True)
    return out, records


def test_sweep_writes_one_directory_per_config_and_an_index(local_sweep):
    out, records = local_sweep
    assert [r["status"] for r in records] == ["done", "done"]
    index = load_index(out)
    assert sorted(index.run) == sorted(r["run"] for r in records)
    assert set(index.status) == {"done"} and (index.seeds == 2).all() and (index.task == "multiplexer6").all()
    for r in records:  # the run equals a plain run of the same config (seeds in one vmapped call)
        cfg = TrainConfig.from_dict(json.loads((out / r["run"] / "config.json").read_text()))
        assert cfg.seeds == 2
        frame = _metrics(out, r["run"])
        assert frame.seed.nunique() == 2
        np.testing.assert_allclose(index.set_index("run").at[r["run"], "final_accuracy_mean"],
                                   json.loads((out / r["run"] / "summary.json").read_text())["final_accuracy_mean"])
    again = sweep(EXP, seeds=2, grid=[*TINY, LRS], out=out, workers=1, progress=False, resume=True)
    assert all(r.get("skipped") for r in again)  # --resume skips finished runs


def test_runs_command_lists_and_filters(local_sweep, capsys):
    out, records = local_sweep
    assert main(["runs", str(out), "--where", "status=done", "grid~0.03"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # short column names that fit an 80-column terminal (was final_accuracy_mean), each grid as KEY=VALUE below
    table = lines[:lines.index("grid values:")]
    assert len(table) == 2 and " accuracy" in table[0] and max(map(len, table)) <= 80
    assert "lr=0.03:0.003:0.0003" in lines[-1]
    assert main(["runs", str(out), "--where", "rule=backprop"]) == 0
    assert "no runs match" in capsys.readouterr().out
    assert main(["runs", str(out), "--where", "colour=red"]) == 2
    assert "--where: 'colour=red' is not column=value" in capsys.readouterr().err


def _read_events(path: Path) -> dict[str, list[tuple[int, float]]]:
    """A slow, independent reader of TensorBoard's record format (length, crc, Event proto, crc)."""
    from tensorboardX.proto import event_pb2

    data, pos, out = path.read_bytes(), 0, {}
    while pos < len(data):
        (n,) = struct.unpack("<Q", data[pos:pos + 8])
        ev = event_pb2.Event.FromString(data[pos + 12:pos + 12 + n])
        pos += 12 + n + 4
        for v in ev.summary.value:
            out.setdefault(v.tag, []).append((ev.step, v.simple_value))
    return out


def test_tensorboard_events_hold_every_metric_of_every_seed(local_sweep):
    out, records = local_sweep
    run_dir = out / records[0]["run"]
    frame = _metrics(out, records[0]["run"])
    for seed in (0, 1):
        (events,) = (run_dir / "tensorboard" / f"seed{seed}").glob("events.out.tfevents.*")
        got = _read_events(events)
        want = frame[frame.seed == seed]
        assert [s for s, _ in got["accuracy"]] == want.samples.tolist()
        np.testing.assert_allclose([v for _, v in got["accuracy"]], want.accuracy, rtol=1e-6)
        np.testing.assert_allclose([v for _, v in got["reward"]], want.reward, rtol=1e-6)


def test_report_renders_in_headless_chromium(local_sweep, tmp_path):
    out, _ = local_sweep
    assert main(["report", str(out), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1 and "src=\"http" not in page  # self-contained
    md = (tmp_path / "report.md").read_text()
    assert "## demo/reinforce-multiplexer11" in md and "lr=0.03:0.003:0.0003 (2 seeds)" in md
    # human column names (was `final_accuracy (reference)`), as issue "what users found" asks
    assert "| final accuracy | wall time (s) | final accuracy, paper |" in md and "| 0.7 |" in md
    assert "`" not in page.split("<body>", 1)[-1].replace("<code>", "").replace("</code>", "")
    assert (tmp_path / "report" / "00-curves.png").stat().st_size > 10_000
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page_ = browser.new_page(viewport={"width": 1000, "height": 900})
        page_.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page_.on("pageerror", lambda e: errors.append(str(e)))
        page_.goto((tmp_path / "report.html").as_uri())
        widths = page_.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        png = page_.screenshot(full_page=True)
        browser.close()
    assert errors == []
    assert widths and min(widths) > 100  # the embedded plot decoded
    from io import BytesIO

    import matplotlib.image as mpimg

    img = mpimg.imread(BytesIO(png), format="png")
    assert img.shape[0] > 500 and img[..., :3].std() > 0.05  # not blank


def test_killed_sweep_resumes_to_identical_metrics(tmp_path, capsys):
    # long enough that the run cannot finish between two polls once compiled (6,000 steps took ~30 ms on a fast day)
    grid = ["--grid", "bits=6", "hidden=6:4", "steps=60000", "log_every=4", "batch=4"]
    cmd = [sys.executable, "-m", "plastix.cli", "sweep", EXP, "--seeds", "2", *grid, "--out", str(tmp_path / "s"),
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    (planned,) = prepare(EXP, seeds=2, grid=grid[1:])
    ckpt = tmp_path / "s" / f".{planned.config.name}.partial" / "checkpoint.pkl"
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    import pickle

    done = pickle.loads(ckpt.read_bytes())["done"]  # killed mid-way: a checkpoint, no published run
    assert 0 < done < planned.config.n_logs and not (tmp_path / "s" / planned.config.name).exists()
    assert main(["runs", str(tmp_path / "s")]) == 0
    assert " interrupted " in capsys.readouterr().out  # the dead run's record says running; its lock is free
    assert main(["sweep", EXP, "--seeds", "2", *grid, "--out", str(tmp_path / "s"), "--resume", "--no-progress",
                 "--workers", "1"]) == 0
    full = run(planned.config, tmp_path / "full", progress=False).metrics
    pd.testing.assert_frame_equal(_metrics(tmp_path / "s", planned.config.name), full)
    assert load_index(tmp_path / "s").status.tolist() == ["done"]


def test_two_sweeps_share_a_results_directory(tmp_path):
    out = tmp_path / "shared"
    base = [sys.executable, "-m", "plastix.cli", "sweep", EXP, "--seeds", "2", "--out", str(out), "--no-progress",
            "--resume", "--workers", "1", "--grid", *TINY]
    procs = [subprocess.Popen([*base, f"lr={lr}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for lr in ("1e-2:1e-3:1e-4,3e-2:3e-3:3e-4", "3e-2:3e-3:3e-4,1e-1:1e-2:1e-3")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    index = load_index(out)
    assert len(index) == 3 and set(index.status) == {"done"} and index.run.is_unique  # one shared config
    for name in index.run:
        cfg = TrainConfig.from_dict(json.loads((out / name / "config.json").read_text()))
        pd.testing.assert_frame_equal(_metrics(out, name), run(cfg, tmp_path / "ref", progress=False).metrics)
    assert not list(out.glob(".*.partial")) and not list(out.glob("**/*.tmp*"))


# ray.init starts its processes from this (JAX, multithreaded) process: JAX warns at the fork
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore:os.fork:RuntimeWarning")
def test_ray_sweep_gives_the_local_numbers(local_sweep, tmp_path):
    ray = pytest.importorskip("ray")
    out, records = local_sweep
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        got = sweep(EXP, seeds=2, grid=[*TINY, LRS], out=tmp_path, ray="auto", progress=False)
    finally:
        ray.shutdown()
    assert [r["run"] for r in got] == [r["run"] for r in records] and {r["status"] for r in got} == {"done"}
    for r in records:
        pd.testing.assert_frame_equal(_metrics(tmp_path, r["run"]), _metrics(out, r["run"]))


def test_single_seed_family_sweeps_one_run_per_seed_and_reports(tmp_path):
    recs = sweep("eprnn/smoke", seeds=2, grid=["generations=2"], out=tmp_path, workers=1, progress=False,
                 tensorboard=True)
    assert [r["status"] for r in recs] == ["done", "done"] and [r["rule"] for r in recs] == ["decprnn-post"] * 2
    assert len(list((tmp_path / recs[1]["run"] / "tensorboard" / "seed1").glob("events.*"))) == 1
    report_md = (report(tmp_path)[1]).read_text()
    assert "| config (2 seeds) | 2 | " in report_md  # the two single-seed runs are one config's seeds


# ---- bad input ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args,needle", [
    (["nope/experiment"], "unknown experiment 'nope/experiment'; allowed: "),
    ([EXP, "--grid", "colour=red"], "--grid: unknown key 'colour' for TrainConfig; allowed:"),
    ([EXP, "--grid", "batch=eight"], "--grid: batch='eight' is not a int"),
    ([EXP, "--grid", "bits=12"], "--bits: bits=12 is not of the form k + 2^k"),
    ([EXP, "--workers", "-1"], "--workers: -1 is negative"),
    ([EXP, "--ray", "127.0.0.1:PORT"], "--ray: no Ray cluster answers at 127.0.0.1:"),
    ([EXP, "--ray", "nonsense"], "--ray: 'nonsense' is not host:port, auto or local"),
])
def test_bad_sweep_input_one_line_exit_2_nothing_written(tmp_path, capsys, args, needle):
    args = [a.replace("PORT", str(_free_port())) for a in args]
    out = tmp_path / "results"
    assert main(["sweep", *args, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error: ") and needle in err and "\n" not in err
    assert not out.exists()


def test_unwritable_results_directory_and_missing_ray(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("")
    assert main(["sweep", EXP, "--grid", *TINY, "--out", str(tmp_path / "file" / "sub"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plastix: error: results directory ") and "is not writable" in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["sweep", EXP, "--ray", "auto", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "pip install 'plastix[ray]'" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a results directory (no index.csv" in capsys.readouterr().err
