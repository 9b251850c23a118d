"""Throughput of the coordinated-exploration rules on the 20-bit multiplexer, [64, 32], one seed, one
core: samples/s (updates × batch per second of wall time, compilation excluded) at batch 1 and 128.

Rules, all with the critic baseline: independent REINFORCE; the lateral Boltzmann layer (10 parallel
sweeps); ``boltzmann_joint`` with 10 and 30 block Gibbs sweeps (hebbian) and with 10 sweeps
(``chain``, per-sample eligibility matrices); ``recurrent_feedback`` (T = 5); MAP propagation (its
own σ², 20 minimisation steps). No reference code exists for these rules (P1 publishes none), so the
figures are plastix's own, next to each other. Medians of ``--repeats``.

    python benchmarks/bench_coordinated.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse

from _common import machine_line, train_throughput

from plastix import TrainConfig

RULES = {  # label: config overrides
    "reinforce": {"rule": "reinforce"},
    "boltzmann (lateral, 10 sweeps)": {"rule": "boltzmann", "lateral_lr": 1e-3},
    "boltzmann_joint (10 sweeps, hebbian)": {"rule": "boltzmann_joint", "sweeps": 10},
    "boltzmann_joint (30 sweeps, hebbian)": {"rule": "boltzmann_joint", "sweeps": 30},
    "boltzmann_joint (10 sweeps, chain)": {"rule": "boltzmann_joint", "sweeps": 10, "bm_rule": "chain"},
    "recurrent_feedback (T = 5)": {"rule": "recurrent_feedback", "recurrent_steps": 5},
    "map_prop (20 steps)": {"rule": "map_prop", "sigma2": (0.3, 1.0, 1.0), "baseline": "none"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    args = ap.parse_args()
    print(machine_line(args.repeats))
    print("| rule | batch 1 samples/s | batch 128 samples/s |")
    print("|---|---|---|")
    for label, over in RULES.items():
        rates = []
        for batch, steps in ((1, 20_000), (128, 500)):
            steps = steps // 5 if args.quick else steps
            over = {"baseline": "critic", **over}
            cfg = TrainConfig(bits=20, hidden=(64, 32), batch=batch, seeds=1, steps=steps, log_every=steps, **over)
            rates.append(train_throughput(cfg, args.repeats))
        print(f"| {label} | {rates[0]:,.0f} | {rates[1]:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
