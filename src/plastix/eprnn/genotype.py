"""Genotype files: the released EPRNN bundle's layout and plastix's own ``.npz``.

A genotype file is a ``.npz`` with one array per evolved tensor, named as in the reference
(``FC_1/W``, ``PRNN_1/hebbian_h//W_Ax`` …), plus ``flat_genotype`` (the reference's flat vector)
and, for plastix files, ``agent`` (the registry name). The released bundle
(``../shared/data/eprnn/decprnn_postmod_genotype.npz``) has the flat vector with its key table
(``flat_keys``, ``flat_offsets``) and friendlier array names; :func:`load_genotype` reads both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastix.eprnn.agent import flat_genome, make_agent, n_params, unflat_genome

__all__ = ["load_genotype", "save_genotype", "bundled", "RELEASED", "STORED_MAZES", "decomposed_to_abcd"]


def load_genotype(path: str | Path, agent_name: str | None = None):
    """``(agent_name, agent, genome)`` from a genotype ``.npz``.

    The agent is the file's own (``agent`` entry), else ``agent_name``, else ``decprnn-post`` (the
    released genotype's). Every tensor of the agent must be present (by name in a plastix file, by
    the key table in the bundle) and nothing may be left over.
    """
    from plastix.rundir import read_npz

    path = Path(path)
    z = read_npz(path, "genotype file")
    name = str(z["agent"]) if "agent" in z else (agent_name or "decprnn-post")
    agent = make_agent(name)
    if "flat_keys" in z:  # the bundle: check its key table against ours, then cut the flat vector
        keys = [str(k) for k in z["flat_keys"]]
        if keys != sorted(agent.shapes()):
            raise ValueError(f"genotype file {path}: its tensors {keys} are not those of agent {name!r}")
        flat = np.asarray(z["flat_genotype"])
        genome = unflat_genome(agent, flat)
        offsets = np.asarray(z["flat_offsets"])
        if offsets[-1] != n_params(agent):
            raise ValueError(f"genotype file {path}: {offsets[-1]} numbers; {name!r} has {n_params(agent)}")
        return name, agent, genome
    shapes = agent.shapes()
    missing = sorted(set(shapes) - set(z))
    if missing:
        raise ValueError(f"genotype file {path} lacks {missing} for agent {name!r}")
    genome = {k: np.asarray(z[k]) for k in shapes}
    for k, s in shapes.items():
        if genome[k].shape != s:
            raise ValueError(f"genotype file {path}: {k} has shape {genome[k].shape}, agent {name!r} needs {s}")
    return name, agent, genome


def save_genotype(path: str | Path, agent_name: str, genome, **extra) -> None:
    """Write a genome (atomically) with its flat vector and agent name."""
    from plastix.rundir import atomic_write_npz

    arrays = {k: np.asarray(v, np.float32) for k, v in genome.items()}
    arrays["flat_genotype"] = np.asarray(flat_genome(genome), np.float32)
    arrays["agent"] = np.array(agent_name)
    arrays |= {k: np.asarray(v) for k, v in extra.items()}
    atomic_write_npz(Path(path), arrays)


def bundled(name: str) -> Path:
    """Path of a file shipped in ``plastix/eprnn/data`` (the released genotype, stored mazes)."""
    from importlib.resources import files

    return Path(str(files("plastix.eprnn") / "data" / name))


RELEASED = "decprnn_postmod_genotype.npz"
STORED_MAZES = {9: "mazes_9x9.npz", 15: "mazes_15x15.npz"}


def decomposed_to_abcd(genome: dict, modulation: str = "post", reference_scaling: bool = False) -> dict:
    """Convert a decomposed (type 3) genome to the canonical ABCD (type 1) form: ``A = a_post a_preᵀ`` …

    The coefficients are multiplied by ``κ₃/κ₁`` (0.20/0.05 = 4 modulated, 1.0/0.05 = 20 unmodulated)
    so the converted network makes the same updates. ``reference_scaling=True`` reproduces the
    authors' ``tools/heb_converter.py``, which does not rescale (its updates shrink 4× / 20×).
    """
    from plastix.eprnn.agent import PlasticRNN

    dec, abcd = PlasticRNN("decomposed", modulation), PlasticRNN("abcd", modulation)
    scale = 1.0 if reference_scaling else dec.kappa / abcd.kappa
    out = {k: np.asarray(v) for k, v in genome.items() if "hebbian" not in k}
    for name in "hx":
        for L in "ABCD":
            p = f"PRNN_1/hebbian_{name}//W_{L}"
            out[p] = scale * np.outer(np.asarray(genome[p + "y"], np.float64), np.asarray(genome[p + "x"], np.float64))
    missing = set(abcd.shapes()) ^ set(out)
    if missing:
        raise ValueError(f"not a decomposed-{modulation} genome: tensors {sorted(missing)} do not match")
    return out
