"""A PyTorch re-implementation of the COPI *reference-style* batch step, for in-run speed ratios.

Written from spec copi.md §2–§5 and §14 only (the reference code is not open source and was not
read): PyTorch on the CPU with 2 threads, random data of the right shape, batch 50, every update
included (forward, perturbations, ΔW, ΔR, Adam). Like the reference, the decorrelation update
forms ``C = XᵀX/N − diag(q)`` and multiplies the d × d matrices (``C @ R``, O(d³)). It is not the
reference implementation: it is a stand-in that runs the same algorithm shape on the same machine
at the same moment as plastix, because this machine's speed drifts by ±50 % over minutes.

    /path/to/torch/python benchmarks/torch_reference_copi.py --config mnist/copi-bp --batches 40 --repeats 5

Prints one line: ``<config> <median ms per batch>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

SIZES = {"mnist": [784] + [500] * 6 + [10], "cifar10": [3072] + [1000] * 4 + [10]}
METHODS = {  # weight rule, perturbation, decorrelation order, λ, optimizer
    "copi-bp": ("copi", "bp", "cr", 1000.0, "sgd"), "copi-fa": ("copi", "fa", "cr", 1000.0, "sgd"),
    "copi-bio": ("copi", "bp", "rc", 1000.0, "sgd"), "bp-decorr": ("bp", "bp", "cr", 1000.0, "sgd"),
    "bp-adam": ("bp", "bp", "none", 1.0, "adam"),
}


def make(sizes, method, gen):
    rule, pert, dec, lam, opt = METHODS[method]
    Ws = [torch.randn(o, i, generator=gen) * (2.0 / (i + o)) ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    Rs = [torch.eye(i) for i in sizes[:-1]] if dec != "none" else None
    Bs = [torch.randn(sizes[l], sizes[l + 1], generator=gen) * (2.0 / (sizes[l] + sizes[l + 1])) ** 0.5
          for l in range(1, len(sizes) - 1)] if pert == "fa" else None
    m = [torch.zeros_like(w) for w in Ws]
    v = [torch.zeros_like(w) for w in Ws]
    eta, lr = 1e-3, 1e-4

    def fp(a):
        return torch.where(a > 0, 1.0, 0.1)

    @torch.no_grad()
    def step(y, t):
        n = y.shape[0]
        xs, as_ = [], []
        for i, W in enumerate(Ws):
            x = y @ Rs[i].T if Rs is not None else y
            a = x @ W.T
            xs.append(x)
            as_.append(a)
            y = torch.nn.functional.leaky_relu(a, 0.1)
        d = lam * (t - as_[-1]) * fp(as_[-1])
        deltas = [d]
        for l in range(len(Ws) - 2, -1, -1):
            if Bs is None:
                back = d @ Ws[l + 1]
                if Rs is not None:
                    back = back @ Rs[l + 1]
            else:
                back = d @ Bs[l].T
            d = fp(as_[l]) * back
            deltas.insert(0, d)
        for i, (x, a, d) in enumerate(zip(xs, as_, deltas)):
            if rule == "copi":
                q = (x * x).mean(0)
                dW = (a + d).T @ x / n - Ws[i] * q[None, :]
            else:
                dW = d.T @ x / n
            if opt == "adam":  # the reference Adam (constant bias correction), in place
                m[i].mul_(0.9).add_(dW, alpha=0.1)
                v[i].mul_(0.999).addcmul_(dW, dW, value=0.001)
                Ws[i].addcdiv_(m[i], v[i].div(0.001).sqrt_().add_(1e-8), value=lr / 0.1)
            else:
                Ws[i].add_(eta * dW)
            if Rs is not None:
                C = x.T @ x / n
                C = C - torch.diag(torch.diag(C))
                Rs[i].sub_(eta * (C @ Rs[i] if dec == "cr" else Rs[i] @ C))

    return step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="dataset/method, e.g. mnist/copi-bp")
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dataset, method = args.config.split("/")
    sizes = SIZES[dataset]
    gen = torch.Generator().manual_seed(0)
    step = make(sizes, method, gen)
    ys = torch.rand(args.batches, 50, sizes[0], generator=gen)
    ts = torch.nn.functional.one_hot(torch.randint(0, 10, (args.batches, 50), generator=gen), 10).float()
    for b in range(min(3, args.batches)):  # warm-up
        step(ys[b], ts[b])
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for b in range(args.batches):
            step(ys[b], ts[b])
        times.append((time.perf_counter() - t0) / args.batches)
    print(args.config, f"{1e3 * float(np.median(times)):.3f}")


if __name__ == "__main__":
    main()
