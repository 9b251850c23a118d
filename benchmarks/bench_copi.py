"""Milliseconds per batch of 50 of the COPI configs (spec copi.md §14), both cores, float32.

Random data of the right shape; every update included (forward, perturbations, ΔW, ΔR, the
optimizer); one jit-compiled epoch (``lax.scan`` over the batches, the per-batch gather
included), compilation reported separately. Compared with

* the spec's reference rates (PyTorch CPU, 2 threads, on a 2-core machine of this class:
  MNIST COPI-BP 21.6 ms, CIFAR-10 COPI-BP 284 ms, …), and
* optionally, a PyTorch re-implementation of the reference-style step (O(d³) decorrelation
  update) run in the same session, interleaved config by config (``--torch-python``), because this
  machine's speed drifts by tens of per cent over minutes;

and reports the achieved GFLOP/s (multiply-adds of the fast form × 2) against the machine's
measured f32 matmul peak (XLA, 3000 × 3000, same process).

With ``--reference-dir DIR`` (a clone of ``nasiryahm/ConstrainedParameterInference`` in
``DIR/ConstrainedParameterInference``, made outside this repository; its licence allows running it,
not copying it) and ``--reference-python PY`` (a Python with PyTorch and torchvision), the real
reference code runs side by side, interleaved with plastix pair by pair, on the MNIST configs
(``reference.py`` says how it is run and timed without reading it). Those are the ratios to quote; the
spec's figures and the re-implementation above are fallbacks, labelled as such. CIFAR-10 is not run
against the reference: torchvision checks the CIFAR files' MD5 sums, so no synthetic set can stand in,
and one real epoch takes ~8 minutes there.

    python benchmarks/bench_copi.py [--repeats 5] [--quick] [--torch-python /path/to/python-with-torch]
                                    [--reference-dir DIR --reference-python PY]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("PLASTIX_BENCH_ALL_CORES", "1")  # the reference used 2 threads; so does plastix here

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from plastix.copi.config import METHODS, CopiConfig  # noqa: E402
from plastix.copi.train import make_trainer  # noqa: E402

import dataclasses  # noqa: E402

REFERENCE_MS = {  # spec copi.md §14: reference implementation, ms per batch of 50, 2 threads
    "mnist/copi-bp": 21.6, "mnist/bp-decorr": 18.7, "mnist/copi-fa": 18.3, "mnist/copi-bio": 20.2,
    "mnist/bp-adam": 10.5, "cifar10/copi-bp": 284.0, "cifar10/bp-adam": 53.0,
}
HIDDEN = {"mnist": (784, (500,) * 6), "cifar10": (3072, (1000,) * 4)}


def flops_per_batch(dim: int, hidden: tuple[int, ...], method: str, n: int = 50, n_out: int = 10) -> float:
    """Multiply-adds × 2 of one batch in the fast form (elementwise work not counted)."""
    f = METHODS[method]
    sizes = (dim, *hidden, n_out)
    decor = f["decorrelation"] != "none"
    mac = 0
    for l, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        mac += n * i * o * 2  # forward a = xWᵀ, and the weight statistic δᵀx or zᵀx
        if decor:
            mac += n * i * i * 3  # forward x = yRᵀ, then X R and Xᵀ(XR) for ΔR
        if l > 0:  # this layer's δ sent down: δW (or δBᵀ), then through R if BP-aligned
            mac += n * o * i
            if decor and f["perturbation"] == "bp":
                mac += n * i * i
    return 2.0 * mac


def matmul_peak(repeats: int) -> float:
    a = jnp.ones((3000, 3000), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - t0)
    return 2 * 3000**3 / float(np.median(times)) / 1e9


def plastix_epoch(dataset: str, method: str, batches: int):
    """``epoch(key) -> (state, loss)``: one jitted epoch of ``batches`` batches of 50 on random data
    of ``dataset``'s shape, from the same initial state on every call."""
    dim, hidden = HIDDEN[dataset]
    cfg = dataclasses.replace(CopiConfig(dataset="digits", hidden=hidden), **METHODS[method])
    tr = make_trainer(cfg, dim)
    key = jax.random.key(0)
    x = jax.random.uniform(key, (batches * 50, dim), jnp.float32)
    y = jax.random.randint(key, (batches * 50,), 0, 10)
    state = tr.init(key)
    epoch = jax.jit(tr.epoch)
    return lambda k: epoch(state, x, y, k, 1)


def plastix_ms_fn(dataset: str, method: str, batches: int):
    """Compile one epoch: (function timing one more, in ms per batch; seconds of the compiling call)."""
    epoch = plastix_epoch(dataset, method, batches)
    key = jax.random.key(0)
    t0 = time.perf_counter()
    jax.block_until_ready(epoch(key))
    first = time.perf_counter() - t0
    calls = [0]

    def once() -> float:
        calls[0] += 1
        t0 = time.perf_counter()
        jax.block_until_ready(epoch(jax.random.fold_in(key, calls[0])))
        return 1e3 * (time.perf_counter() - t0) / batches

    return once, first


def real_reference(ref_dir: str, python: str, configs: list[str], repeats: int) -> None:
    """MNIST: the real COPI reference against plastix, interleaved pairs, both on both cores."""
    from reference import check_copi_reference_dir, reference_copi_ms, require_python, side_by_side

    check_copi_reference_dir(ref_dir)
    require_python(python, "PyTorch and torchvision")
    print("\n| config | real reference ms per batch | plastix ms per batch | reference / plastix (median of pairs) |")
    print("|---|---|---|---|")
    for config in configs:
        dataset, method = config.split("/")
        if dataset != "mnist":
            continue
        once, _ = plastix_ms_fn(dataset, method, 40)
        # side_by_side's ratio is plastix / reference on rates; on times, reference / plastix is the speed-up
        ref, plx, ratio = side_by_side(lambda: 1.0 / reference_copi_ms(ref_dir, method, python),
                                       lambda: 1.0 / once(), repeats)
        print(f"| {config} | {1 / ref:.1f} | {1 / plx:.2f} | {ratio:.1f}× |", flush=True)


def plastix_ms(dataset: str, method: str, batches: int, repeats: int) -> tuple[float, float]:
    """(median ms per batch, compile seconds) of one epoch of ``batches`` batches on random data."""
    once, first = plastix_ms_fn(dataset, method, batches)
    ms = float(np.median([once() for _ in range(repeats)]))
    return ms, max(first - ms * batches / 1e3, 0.0)


def torch_ms(python: str, config: str, batches: int, repeats: int) -> float:
    script = Path(__file__).with_name("torch_reference_copi.py")
    out = subprocess.run([python, str(script), "--config", config, "--batches", str(batches), "--repeats", str(repeats)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="MNIST COPI-BP and bp-adam only, fewer batches")
    ap.add_argument("--all", action="store_true", help="every method on CIFAR-10 too")
    ap.add_argument("--torch-python", default="", help="a Python with PyTorch: time the reference-style step too")
    ap.add_argument("--reference-dir", default="",
                    help="directory holding a clone of nasiryahm/ConstrainedParameterInference (run, never read)")
    ap.add_argument("--reference-python", default="",
                    help="a Python with PyTorch and torchvision to run the reference (default: --torch-python)")
    args = ap.parse_args()
    configs = [f"mnist/{m}" for m in METHODS] + ([f"cifar10/{m}" for m in METHODS] if args.all
                                                 else ["cifar10/copi-bp", "cifar10/bp-adam"])
    if args.quick:
        configs = ["mnist/copi-bp", "mnist/bp-adam"]
    if args.reference_dir:
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
              f"interleaved pairs: {args.repeats}")
        real_reference(args.reference_dir, args.reference_python or args.torch_python, configs, args.repeats)
    peak = matmul_peak(args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, medians of {args.repeats}; "
          f"XLA f32 matmul peak (3000³) {peak:.0f} GFLOP/s")
    head = "| config | reference ms (spec) | plastix ms | speed-up vs spec |"
    if args.torch_python:
        head += " torch reference-style ms (this run) | speed-up vs torch |"
    head += " GFLOP/s | % of matmul peak | compile s |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for config in configs:
        dataset, method = config.split("/")
        batches = (10 if dataset == "cifar10" else 40) // (2 if args.quick else 1)
        ms, compile_s = plastix_ms(dataset, method, batches, args.repeats)
        ref = REFERENCE_MS.get(config)
        gflops = flops_per_batch(*HIDDEN[dataset], method) / (ms * 1e-3) / 1e9
        row = f"| {config} | {ref if ref else '–'} | {ms:.2f} | {f'{ref / ms:.2f}×' if ref else '–'} |"
        if args.torch_python:
            tms = torch_ms(args.torch_python, config, batches, args.repeats)
            row += f" {tms:.2f} | {tms / ms:.2f}× |"
        row += f" {gflops:.0f} | {100 * gflops / peak:.0f} % | {compile_s:.1f} |"
        print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
