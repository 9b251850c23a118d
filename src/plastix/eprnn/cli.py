"""``plastix evolve-maze``, ``plastix eval-maze`` and ``plastix maze-set`` (wired in :mod:`plastix.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from plastix.eprnn.config import MazeConfig

__all__ = ["evolve_maze", "eval_maze", "maze_set", "report_evolve"]


class MazeInputError(ValueError):
    """Bad genotype / maze input (one line, exit 2)."""


def evolve_maze(cfg: tyro.conf.OmitArgPrefixes[MazeConfig], out: Path = Path("runs"), fresh: bool = False,
                progress: bool = True, ray: str = "", ray_workers: int = 0) -> None:
    """Evolve a maze agent's genome. A finished run of the same config is skipped, an interrupted one
    resumes from its checkpoint.

    Args:
        cfg: the evolution configuration.
        out: parent directory for run directories.
        fresh: start over: recompute a finished run, ignore an interrupted one's checkpoint.
        progress: show a progress bar.
        ray: evaluate each generation's population in shards on this Ray cluster: auto, local (start
            one here) or host:port. Same numbers as without it.
        ray_workers: with --ray: the number of Ray actors (0 = one per CPU of the cluster).
    """
    from plastix.platform.store import check_out_dir, run_unless_finished

    cfg.validate()
    check_out_dir(out)
    if ray_workers and not ray:
        raise MazeInputError("--ray-workers: give --ray ADDRESS too")
    run_unless_finished(cfg, out, fresh=fresh, progress=progress, ray=ray, ray_workers=ray_workers)


def report_evolve(res) -> None:
    s = res.summary
    first, last = s["first_eval"], s["last_eval"]
    print(f"{s['run']}: {s['generations']} generations in {s['seconds']:.0f} s")
    for tag, e in (("first", first), ("last", last)):
        print(f"  {tag} evaluation (generation {e['generation']}): weighted fitness {e['weighted_fitness']:.3f}; "
              f"success ep1 {e['success'][0]:.2f} → ep8 {e['success'][-1]:.2f}; "
              f"steps ep1 {e['steps'][0]:.1f} → ep8 {e['steps'][-1]:.1f}")
    print(f"  genotype: {res.path / 'genotype.npz'}  curves: {res.path / 'metrics.parquet'}  "
          f"plots: {res.path / 'fitness.png'}, {res.path / 'episodes.png'}")


def _mazes(spec: str, limit: int):
    from plastix.eprnn.genotype import STORED_MAZES, bundled
    from plastix.eprnn.maze import load_mazes

    if spec.isdigit():
        n = int(spec)
        if n not in STORED_MAZES:
            raise MazeInputError(f"--mazes: no stored {n}×{n} set ships with plastix (stored: "
                                 f"{', '.join(map(str, STORED_MAZES))}); pass a .npz from `plastix maze-set`")
        path = bundled(STORED_MAZES[n])
    else:
        path = Path(spec)
    try:
        return path, load_mazes(path, limit or None)
    except (FileNotFoundError, ValueError) as e:
        raise MazeInputError(str(e)) from None


def eval_maze(
    genotype: str = "released",
    mazes: str = "9",
    agent: str = "",
    repeats: int = 1,
    limit: int = 0,
    obs_sign: float = 1.0,
    seed: int = 0,
    render: int = -1,
    gif: Path = Path(""),
    out: Path = Path(""),
    policy: str = "genotype",
) -> None:
    """Meta-test a genotype: 8 episodes per maze from zero plastic weights; prints the per-episode table.

    Args:
        genotype: a genotype .npz (from `plastix evolve-maze`), or `released` (the paper's DecPRNN).
        mazes: a maze-set .npz, or 9 / 15 for the 1,024 stored test mazes shipped with plastix.
        agent: agent of a genotype file that does not name it (default decprnn-post).
        repeats: rollouts per maze.
        limit: use only the first N mazes (0 = all).
        obs_sign: +1 (metagym 0.1, the released genotype's) or -1 (metagym 0.2).
        seed: action-noise seed.
        render: print the ASCII paths of episodes 1 and 8 in maze number K (-1 = none).
        gif: write an animated GIF of the agent's 8 episodes in maze `render` (or maze 0) to this path.
        out: also write the table as CSV to this path.
        policy: genotype (the genotype alone) | random (also a uniformly random walk on the same mazes, in
            columns beside the genotype's: the chance level a transfer claim must beat).
    """
    from plastix.compare import markdown_table
    from plastix.eprnn.genotype import RELEASED, bundled, load_genotype
    from plastix.eprnn.lifetime import Lifetime
    from plastix.eprnn.maze import MazeEnv
    from plastix.eprnn.run import episode_table, meta_test, weighted_fitness

    if repeats < 1 or limit < 0:
        raise MazeInputError(f"--{'repeats' if repeats < 1 else 'limit'}: must be ≥ {1 if repeats < 1 else 0}")
    if policy not in ("genotype", "random"):
        raise MazeInputError(f"--policy: unknown value {policy!r}; allowed: genotype, random")
    if obs_sign not in (1.0, -1.0):
        raise MazeInputError(f"--obs-sign: {obs_sign}; allowed: 1 or -1")
    if str(out) not in ("", "."):
        from plastix.platform.store import check_out_file

        check_out_file(Path(out))
    gpath = bundled(RELEASED) if genotype == "released" else Path(genotype)
    try:
        name, net, g = load_genotype(gpath, agent or None)
    except (FileNotFoundError, ValueError) as e:
        raise MazeInputError(str(e)) from None
    mpath, mz = _mazes(mazes, limit)
    if render >= len(mz.start):
        raise MazeInputError(f"--render: maze {render} does not exist; allowed: 0 to {len(mz.start) - 1}")
    lt = Lifetime(env=MazeEnv(obs_sign=obs_sign))
    stats = meta_test(net, lt, g, mz, jax.random.key(seed), repeats)
    tab = episode_table(stats)
    wf = weighted_fitness(lt, stats)
    n = mz.walls.shape[1]
    rounding = {"return": 3, "return_se": 4, "success": 3, "steps": 1, "greedy": 3}
    if policy == "random":
        from plastix.eprnn.agent import RandomWalk

        walk = RandomWalk()
        r_stats = meta_test(walk, lt, walk.genome(), mz, jax.random.fold_in(jax.random.key(seed), 1), repeats)
        r_tab = episode_table(r_stats)
        for col in ("success", "steps", "return"):
            tab[f"random {col}"] = r_tab[col]
            rounding[f"random {col}"] = rounding[col]
    print(f"{name} ({gpath.name}) on {len(mz.start)} mazes {n}×{n} from {mpath.name}, {repeats} rollout(s) each")
    print(markdown_table(tab.round(rounding)))
    print(f"weighted fitness: {wf:.4f}")
    if policy == "random":
        print(f"random walk: weighted fitness {weighted_fitness(lt, r_stats):.4f}, success over all episodes "
              f"{float(r_tab.success.mean()):.3f} (the genotype: {float(tab.success.mean()):.3f})")
    if genotype == "released" and mazes.isdigit() and not limit and obs_sign == 1.0:
        exp = json.loads(bundled("expected.json").read_text())[f"mazes_{n}x{n}"]["all_1024"]
        print(f"reference (32 rollouts/maze, cross-checked with the authors' code): weighted fitness "
              f"{exp['weighted_fitness']:.4f}; success {[round(v, 3) for v in exp['success_rate']]}; "
              f"steps {[round(v, 1) for v in exp['mean_steps']]}")
    if str(out) not in ("", "."):
        from plastix.rundir import atomic_write_bytes

        atomic_write_bytes(Path(out), tab.to_csv(index=False).encode())
        print(f"table: {out}")
    if render >= 0 or str(gif) not in ("", "."):
        _show(net, lt, g, mz, max(render, 0), seed, render >= 0, gif)


def _show(net, lt, g, mz, k: int, seed: int, ascii_: bool, gif: Path) -> None:
    from plastix.eprnn.lifetime import run_lifetime
    from plastix.eprnn.maze import Maze, render_ascii

    maze = Maze(*(jnp.asarray(a[k]) for a in mz))
    stats, (pos, ep, active) = jax.jit(lambda gg, m, key: run_lifetime(net, lt, gg, m, key, record=True))(
        g, maze, jax.random.key(seed))
    pos, ep, active = np.asarray(pos), np.asarray(ep), np.asarray(active)
    walls, start, goal = np.asarray(mz.walls[k]), mz.start[k], mz.goal[k]
    if ascii_:
        for e in (0, lt.episodes - 1):
            path = pos[(ep == e) & active]
            print(f"maze {k}, episode {e + 1}: {int(stats.steps[e])} steps, "
                  f"{'goal reached' if stats.success[e] else 'goal not reached'}")
            print(render_ascii(walls, start, goal, path=path))
    if str(gif) not in ("", "."):
        write_gif(Path(gif), walls, start, goal, pos[active], ep[active])
        print(f"animation: {gif}")


def write_gif(path: Path, walls, start, goal, pos, ep, fps: int = 12) -> Path:
    """An animated GIF of an agent's steps (one frame per step, the episode in the title)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=(3.2, 3.4), dpi=80)
    ax.imshow(walls, cmap="Greys", vmin=0, vmax=1.3)
    ax.plot(start[1], start[0], "s", color="tab:blue", ms=8)
    ax.plot(goal[1], goal[0], "*", color="tab:green", ms=12)
    (dot,) = ax.plot([], [], "o", color="tab:red", ms=7)
    ax.set_xticks([])
    ax.set_yticks([])
    title = ax.set_title("")

    def frame(i):
        dot.set_data([pos[i, 1]], [pos[i, 0]])
        title.set_text(f"episode {int(ep[i]) + 1}, step {i + 1 - int(np.searchsorted(ep, ep[i]))}")
        return dot, title

    anim = FuncAnimation(fig, frame, frames=len(pos), blit=False)
    tmp = path.with_name(f".{path.name}.tmp.gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    anim.save(tmp, writer=PillowWriter(fps=fps))
    plt.close(fig)
    tmp.replace(path)
    return path


def maze_set(
    out: Annotated[Path, tyro.conf.Positional],
    n: int = 15,
    count: int = 2048,
    seed: int = 0,
    crowd: float = 0.30,
    loops: bool = True,
) -> None:
    """Generate a fixed test set of random mazes as .npz (the golden bundle's layout).

    Args:
        out: the .npz file to write.
        n: maze size (odd, ≥ 7).
        count: number of mazes.
        seed: generator seed.
        crowd: crowd ratio ρ (interior walls left = ⌊ρ(n−2)²⌋); the stored test sets have 0.30.
        loops: allow loops (all paper settings do).
    """
    from plastix.eprnn.maze import sample_mazes, save_mazes, validate_size

    try:
        validate_size(n)
    except ValueError as e:
        raise MazeInputError(f"--n: {e}") from None
    if count < 1 or not 0.0 <= crowd <= 1.0:
        raise MazeInputError(f"--{'count' if count < 1 else 'crowd'}: {count if count < 1 else crowd}; allowed: "
                             f"{'≥ 1' if count < 1 else '0 to 1'}")
    from plastix.platform.store import check_out_file

    check_out_file(Path(out), "out")
    mz = sample_mazes(jax.random.key(seed), count, n, crowd, loops)
    save_mazes(out, mz, step_reward=-0.01, goal_reward=1.0, max_steps=200, view_grid=1, crowd=crowd, seed=seed)
    print(f"{count} mazes {n}×{n} (ρ = {crowd}) written to {out}")


def write_maze_table(runs: list[Path], out: Path) -> str:
    """Last evaluation of each run: per-episode success and return, weighted fitness; writes
    ``comparison.md``/``.csv`` and ``comparison.png`` (success and steps against the episode) into
    ``out`` and returns the markdown table."""
    import pandas as pd

    from plastix.compare import markdown_table
    from plastix.eprnn.run import plot_episodes
    from plastix.rundir import atomic_write_bytes

    rows, tables = [], {}
    for r in runs:
        cfg = json.loads((Path(r) / "config.json").read_text())
        ev = pd.read_parquet(Path(r) / "metrics.parquet")
        last = ev[ev.generation == ev.generation.max()]
        tables[cfg["agent"]] = last
        rows.append({"agent": cfg["agent"], "generations": int(last.generation.iloc[0]),
                     "weighted fitness": round(float(last.weighted_fitness.iloc[0]), 3),
                     **{f"success ep{e}": round(float(v), 3) for e, v in zip(last.episode, last.success)
                        if e in (1, 2, 4, 8)},
                     **{f"steps ep{e}": round(float(v), 1) for e, v in zip(last.episode, last.steps) if e in (1, 8)},
                     **{f"return ep{e}": round(float(v), 3) for e, v in zip(last.episode, last["return"])
                        if e in (1, 8)}})
    frame = pd.DataFrame(rows).sort_values("weighted fitness", ascending=False)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_table(frame)
    atomic_write_bytes(out / "comparison.md", (md + "\n").encode())
    atomic_write_bytes(out / "comparison.csv", frame.to_csv(index=False).encode())
    plot_episodes(tables, out / "comparison.png", title="mean genome, last evaluation")
    return md
