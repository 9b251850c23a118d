"""Slow NumPy oracles for the maze agents and the paper's ES, written from the spec's equations
(plasticity_maze.md §2.5, §3, §6) with explicit loops and full coefficient matrices."""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def coefficients(rule: str, g: dict, name: str) -> dict[str, np.ndarray]:
    """Full A, B, C, D matrices of plastic matrix ``name`` ∈ {h, x}."""
    p = f"PRNN_1/hebbian_{name}//W_"
    if rule == "decomposed":
        return {L: np.outer(g[p + L + "y"], g[p + L + "x"]) for L in "ABCD"}
    return {L: np.asarray(g[p + L]) for L in "ABCD"}


def step(rule: str, mod: str, g: dict, h_prev, w_h, w_x, e_h, x, kappa: float):
    """One step of §2.5 with element-wise loops for the plastic update. Returns (o, m, h, w_h, w_x, e_h)."""
    g = {k: np.asarray(v, np.float64) for k, v in g.items()}
    if mod == "pre":
        m = sigmoid(g["FC_Mh/W"] @ x + g["FC_Mh/b"]) + sigmoid(g["FC_Mx/W"] @ h_prev + g["FC_Mx/b"])
    wx = g["PRNN_1/W_x"] if rule == "trace" else w_x
    h = np.tanh(w_h @ h_prev + wx @ x + g["PRNN_1//b"])
    if mod == "post":
        m = sigmoid(g["FC_M/W"] @ h + g["FC_M/b"])
    if mod == "none":
        m = np.ones(2)
    o = g["FC_1/W"] @ h + g["FC_1/b"]
    if rule == "trace":
        et = g["PRNN_1/hebbian_h//eta"][0] + 10.0
        eta = 0.5 * et / (abs(et) + 1.0) + 0.5
        e_new = np.empty_like(e_h)
        w_new = np.empty_like(w_h)
        for i in range(len(h)):
            for j in range(len(h_prev)):
                e_new[i, j] = eta * h[i] * h_prev[j] + (1 - eta) * e_h[i, j]
                w_new[i, j] = min(5.0, max(-5.0, w_h[i, j] + kappa * m[0] * e_new[i, j]))
        return o, m, h, w_new, w_x, e_new
    out = []
    for W, u, mm, name in ((w_h, h_prev, m[0], "h"), (w_x, x, m[1], "x")):
        C = coefficients(rule, g, name)
        new = W.copy()
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                new[i, j] += kappa * mm * (C["A"][i, j] * h[i] * u[j] + C["B"][i, j] * h[i] + C["C"][i, j] * u[j]
                                           + C["D"][i, j])
        out.append(new)
    return o, m, h, out[0], out[1], e_h


def sep_cma_tell(pop, fit, mean, sigma, c, p_sigma, p_c, t, k, c_cov=0.02, new_path=False):
    """Spec §6.2–6.4 transcribed with NumPy (t = updates already done)."""
    P, d = pop.shape
    valid = np.isfinite(fit)
    idx = [i for i in range(P) if valid[i]]
    idx.sort(key=lambda i: (-fit[i], -i))  # descending; ties: later index first
    sel = idx[:k]
    w = np.log(k + 1) - np.log(np.arange(1, k + 1))
    w = w / w.sum()
    mu = 1 / np.sum(w ** 2)
    w = w[:len(sel)] / w[:len(sel)].sum()
    X = pop[sel]
    new_mean = w @ X
    dm = new_mean - mean
    cs = (mu + 2) / (d + mu + 3)
    ds = 1 + cs + 2 * np.sqrt((mu - d - 2) / (d + 1)) if mu > d + 2 else 1 + cs
    chi = np.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d))
    ps = (1 - cs) * p_sigma + np.sqrt(cs * (2 - cs) * mu) * dm / (sigma * np.sqrt(c))
    new_sigma = sigma * np.exp(cs / ds * (np.linalg.norm(ps) / chi - 1))
    tt = t + 1
    hs = 1.0 if np.linalg.norm(ps) < np.sqrt(2 * cs) * (1.4 + 2 / (d + 1)) * chi * np.sqrt(tt + 1) else 0.0
    cc = 4 / (d + 4)
    pc = (1 - cc) * p_c + hs * np.sqrt(cc * (2 - cc) * mu) * dm / sigma
    path = pc if new_path else p_c
    cn = (1 - c_cov) * c + c_cov / mu * path ** 2
    for r in range(len(sel)):
        cn = cn + c_cov * (1 - 1 / mu) / sigma ** 2 * w[r] * (X[r] - mean) ** 2
    return new_mean, min(max(new_sigma, 1e-6), 1.0), np.clip(cn, 1e-12, 1.0), ps, pc, tt
