"""MetaMaze 2-D ("escape" task): pure-JAX environment, host-side maze sampler, renderers.

The environment re-implements the semantics of ``metagym==0.1.1`` ``MetaMaze2D`` (spec
``plasticity_maze.md`` §8) in about a hundred lines; plastix never imports ``metagym``, whose 0.1
release needs NumPy < 2.

* A maze is **data**: :class:`Maze` (walls, start, goal) is a pytree, so a batch of different
  mazes is one ``vmap`` axis. The environment constants (view radius, rewards, step limit,
  observation sign) live in the hashable :class:`MazeEnv`, which is static under ``jit``.
* ``reset(maze) -> state`` and ``step(state, action, maze) -> (state, reward, done, success)`` are
  pure; ``observe(state, maze)`` gives the ``(2v+1)²`` window. The environment is deterministic
  given the actions, so no key is needed.
* Observation code ``obs = obs_sign · (wall − goal)``: the paper-era convention (``obs_sign=+1``,
  wall +1, free 0, goal −1, outside +1) is the default; ``obs_sign=−1`` is metagym 0.2's.

The sampler (§8.6: randomised-Kruskal perfect maze over the rooms, then wall removal down to
``⌊crowd·(n−2)²⌋`` interior walls when loops are allowed) runs in NumPy on the host, seeded from a
JAX key: mazes are data, generated once per generation, and a Python union of a few hundred cells
is faster there than as a traced program. It is written here because no maintained library
samples this task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.types import Array

__all__ = ["Maze", "MazeEnv", "MazeState", "ACTION_DELTAS", "sample_mazes", "sample_maze", "stack_mazes",
           "shortest_path", "load_mazes", "save_mazes", "render_ascii", "validate_size"]

# (Δi, Δj) of actions 0–3 (metagym 0.1.1): 0 → i−1, 1 → i+1, 2 → j−1, 3 → j+1.
ACTION_DELTAS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int32)


class Maze(NamedTuple):
    """One maze as data (a leading axis makes a batch)."""

    walls: Array  # bool (n, n): True = wall; the goal cell is free
    start: Array  # int32 (2,)  (i, j)
    goal: Array  # int32 (2,)


class MazeState(NamedTuple):
    pos: Array  # int32 (2,)
    t: Array  # int32: actions taken in this episode


@dataclass(frozen=True)
class MazeEnv:
    """Environment constants (static). Defaults: the paper's ``meta-maze-2D-v0``."""

    view: int = 1  # window radius v: the observation is (2v+1)²
    step_reward: float = -0.01
    goal_reward: float = 1.0
    max_steps: int = 200
    obs_sign: float = 1.0  # +1: metagym 0.1 (wall +1, goal −1, the released genotype's); −1: metagym 0.2

    def __post_init__(self):
        if self.view < 1:
            raise ValueError(f"maze view radius must be ≥ 1, got {self.view}")
        if self.max_steps < 1:
            raise ValueError(f"maze max_steps must be ≥ 1, got {self.max_steps}")
        if self.obs_sign not in (1.0, -1.0):
            raise ValueError(f"obs_sign must be +1 (metagym 0.1) or -1 (metagym 0.2), got {self.obs_sign}")

    @property
    def n_obs(self) -> int:
        return (2 * self.view + 1) ** 2

    def reset(self, maze: Maze) -> MazeState:
        return MazeState(pos=jnp.asarray(maze.start, jnp.int32), t=jnp.zeros((), jnp.int32))

    def observe(self, state: MazeState, maze: Maze, dtype=jnp.float32) -> Array:
        """The map-aligned (2v+1)² window around the agent, flattened row-major."""
        v = self.view
        w = 2 * v + 1
        walls = jnp.pad(maze.walls, v, constant_values=True)  # outside the map reads as wall
        win = jax.lax.dynamic_slice(walls, (state.pos[0], state.pos[1]), (w, w)).astype(dtype)
        ii = state.pos[0] - v + jnp.arange(w)[:, None]
        jj = state.pos[1] - v + jnp.arange(w)[None, :]
        goal = ((ii == maze.goal[0]) & (jj == maze.goal[1])).astype(dtype)
        return (self.obs_sign * (win - goal)).reshape(-1)

    def step(self, state: MazeState, action: Array, maze: Maze):
        """One action: ``(state', reward, done, success)``; walls block but the step still costs."""
        target = state.pos + jnp.asarray(ACTION_DELTAS)[action]
        n = maze.walls.shape[0]
        inside = jnp.all((target >= 0) & (target < n))
        blocked = ~inside | maze.walls[jnp.clip(target[0], 0, n - 1), jnp.clip(target[1], 0, n - 1)]
        pos = jnp.where(blocked, state.pos, target)
        success = jnp.all(pos == maze.goal)
        t = state.t + 1
        reward = self.step_reward + jnp.where(success, self.goal_reward, 0.0)
        done = success | (t >= self.max_steps)
        return MazeState(pos=pos, t=t), reward, done, success


# ----------------------------------------------------------------------------- sampler (host)

def validate_size(n: int) -> None:
    if n < 7 or n % 2 == 0:
        raise ValueError(f"maze size must be odd and ≥ 7 (the paper's are 9, 15, 21), got {n}")


def sample_maze(rng: np.random.Generator, n: int, crowd: float = 0.30, allow_loops: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One maze by the metagym sampler (§8.6): ``(walls bool (n, n), start (2,), goal (2,))``.

    Phase 1 joins the ``m²`` rooms (odd-odd cells) into one component by opening walls that touch
    two or more distinct components (randomised Kruskal: a perfect maze); with ``allow_loops`` a
    wall whose free neighbours share a component may also be opened, and phase 2 opens random
    walls (each scanned wall is taken with probability 0.2) until ``⌊crowd·(n−2)²⌋`` interior
    walls remain. Bit parity with metagym's Python ``random`` draws is not attempted.
    """
    validate_size(n)
    if not 0.0 <= crowd <= 1.0:
        raise ValueError(f"crowd ratio must be in [0, 1], got {crowd}")
    m = (n - 1) // 2
    walls = np.ones((n, n), dtype=bool)
    walls[1::2, 1::2] = False
    start = 2 * rng.integers(0, m, size=2) + 1
    rooms = np.stack(np.meshgrid(np.arange(1, n, 2), np.arange(1, n, 2), indexing="ij"), -1).reshape(-1, 2)
    far = rooms[np.hypot(*(rooms - start).T) > 0.45 * n]
    goal = far[rng.integers(len(far))] if len(far) else np.array([n - 2, n - 2])

    comp = -np.ones((n, n), dtype=np.int64)  # component id of each free cell
    comp[1::2, 1::2] = np.arange(m * m).reshape(m, m)
    n_comp = m * m
    cand = [(i, j) for i in range(1, n - 1) for j in range(1, n - 1) if walls[i, j]]
    target = int(np.floor(crowd * (n - 2) ** 2))
    n_walls = len(cand)
    while n_comp > 1 or (allow_loops and n_walls > target):
        order = rng.permutation(len(cand))
        pick = None
        for idx in order:
            i, j = cand[idx]
            ids = [comp[a, b] for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if comp[a, b] >= 0]
            k = len(set(ids))
            dup = k < len(ids)
            pick = idx
            if (k >= 2 and not dup) or (k >= 2 and dup and allow_loops) or \
                    (allow_loops and n_comp == 1 and rng.random() < 0.2):
                break
        i, j = cand[pick]  # the reference's quirk: with no pick the last scanned wall is used
        ids = {comp[a, b] for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if comp[a, b] >= 0}
        if not ids:
            continue  # nothing to open next to
        walls[i, j] = False
        cand.pop(pick)
        n_walls -= 1
        keep = min(ids)
        for c in ids:
            comp[comp == c] = keep
        comp[i, j] = keep
        n_comp -= len(ids) - 1
    return walls, start.astype(np.int32), goal.astype(np.int32)


def sample_mazes(key: Array, count: int, n: int, crowd: float = 0.30, allow_loops: bool = True) -> Maze:
    """``count`` mazes stacked on a leading axis (NumPy arrays), seeded by a JAX key."""
    if count < 1:
        raise ValueError(f"maze count must be ≥ 1, got {count}")
    seed = np.asarray(jax.random.key_data(key)).astype(np.uint32).tolist()
    rng = np.random.default_rng(seed)
    return stack_mazes([sample_maze(rng, n, crowd, allow_loops) for _ in range(count)])


def stack_mazes(mazes) -> Maze:
    w, s, g = zip(*mazes)
    return Maze(np.stack(w), np.stack(s).astype(np.int32), np.stack(g).astype(np.int32))


def shortest_path(walls: np.ndarray, start, goal) -> int:
    """BFS distance in moves from start to goal (−1 if unreachable)."""
    n = walls.shape[0]
    dist = -np.ones((n, n), dtype=np.int64)
    dist[tuple(start)] = 0
    frontier = [tuple(int(v) for v in start)]
    while frontier:
        nxt = []
        for i, j in frontier:
            for di, dj in ACTION_DELTAS:
                a, b = i + di, j + dj
                if 0 <= a < n and 0 <= b < n and not walls[a, b] and dist[a, b] < 0:
                    dist[a, b] = dist[i, j] + 1
                    nxt.append((a, b))
        frontier = nxt
    return int(dist[tuple(goal)])


# ----------------------------------------------------------------------------- files

def save_mazes(path: str | Path, mazes: Maze, **constants) -> None:
    """Write mazes in the golden bundle's layout (walls int8, start, goal, shortest_path, n …)."""
    from plastix.rundir import atomic_write_npz

    walls = np.asarray(mazes.walls).astype(np.int8)
    sp = np.array([shortest_path(w.astype(bool), s, g) for w, s, g in zip(walls, mazes.start, mazes.goal)],
                  dtype=np.int32)
    arrays = {"walls": walls, "start": np.asarray(mazes.start, np.int32), "goal": np.asarray(mazes.goal, np.int32),
              "shortest_path": sp, "n": np.int32(walls.shape[1]),
              "action_deltas": ACTION_DELTAS, **{k: np.asarray(v) for k, v in constants.items()}}
    atomic_write_npz(Path(path), arrays)


def load_mazes(path: str | Path, limit: int | None = None) -> Maze:
    """Mazes from a bundle-layout ``.npz`` (the golden data's ``mazes_9x9.npz`` or ``plastix maze-set``).

    Raises ``FileNotFoundError``/``ValueError`` with one line naming the file and the problem.
    """
    from plastix.rundir import read_npz

    path = Path(path)
    z = read_npz(path, "maze file")
    try:
        walls, start, goal = z["walls"], z["start"], z["goal"]
    except KeyError as e:
        raise ValueError(f"maze file {path} is not a maze set (.npz with walls (N,n,n), start (N,2), goal (N,2)): "
                         f"{e}") from None
    if walls.ndim != 3 or walls.shape[1] != walls.shape[2] or start.shape != (len(walls), 2) or \
            goal.shape != (len(walls), 2):
        raise ValueError(f"maze file {path}: shapes walls {walls.shape}, start {start.shape}, goal {goal.shape} "
                         "do not match (N,n,n), (N,2), (N,2)")
    if limit is not None:
        walls, start, goal = walls[:limit], start[:limit], goal[:limit]
    return Maze(walls.astype(bool), start.astype(np.int32), goal.astype(np.int32))


# ----------------------------------------------------------------------------- rendering

def render_ascii(walls: np.ndarray, start, goal, pos=None, path=None) -> str:
    """``#`` wall, ``.`` free, ``S`` start, ``G`` goal, ``A`` the agent, ``*`` visited cells."""
    walls = np.asarray(walls, bool)
    grid = np.where(walls, "#", ".").astype("<U1")
    for p in (path if path is not None else ()):
        grid[tuple(p)] = "*"
    grid[tuple(start)] = "S"
    grid[tuple(goal)] = "G"
    if pos is not None:
        grid[tuple(pos)] = "A"
    return "\n".join("".join(row) for row in grid)
