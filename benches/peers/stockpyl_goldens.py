"""Reference values for restock's replenishment maths from stockpyl (pinned in
requirements.txt). Writes tests/fixtures/stockpyl_goldens.json; `cargo test` compares
against the committed file and needs no Python.

Run: bash benches/peers/setup.sh && ~/.cache/restock-peers-venv/bin/python benches/peers/stockpyl_goldens.py

Conventions (README "Policies"): stockpyl's newsvendor_normal(lead_time=L) covers L + 1
periods; restock passes the whole protection window as one period, so the goldens use
lead_time=0 with the window's mean and sd. (s, S) orders at or below s.
"""
import json
import math
import pathlib

import stockpyl
from stockpyl import eoq, loss_functions as lf, newsvendor as nv, rq, ss
from scipy import stats

out = {"stockpyl_version": getattr(stockpyl, "__version__", "1.0.2"), "cases": {}}
c = out["cases"]

c["newsvendor_normal"] = [
    {"h": h, "p": p, "mean": m, "sd": s, "S": S, "cost": g}
    for (h, p, m, s) in [(0.18, 0.70, 50, 8), (1, 4, 100, 15), (2.5, 1, 12.5, 3.2), (0.4, 9.6, 500, 80)]
    for (S, g) in [nv.newsvendor_normal(h, p, m, s)]
]
c["newsvendor_poisson"] = [
    {"h": h, "p": p, "mean": m, "S": float(S), "cost": g}
    for (h, p, m) in [(0.18, 0.70, 5), (1, 4, 0.8), (2, 3, 17.5), (1, 19, 42)]
    for (S, g) in [nv.newsvendor_poisson(h, p, m)]
]
# Base-stock level for a cycle service level α = the α-quantile of lead-time demand.
c["base_stock_cycle"] = [
    {"alpha": a, "mean": m, "sd": s, "S_normal": float(stats.norm.ppf(a, m, s)),
     "S_poisson": float(stats.poisson.ppf(a, m))}
    for (a, m, s) in [(0.9, 40, 6), (0.95, 40, 6), (0.98, 7.5, 2.7), (0.995, 250, 31)]
]
# Fill-rate safety stock for (r, Q): σ_L G(z) = (1 − β) Q.
rows = []
for (beta, q, sd) in [(0.95, 100, 30), (0.98, 40, 12), (0.99, 250, 60), (0.9, 10, 8)]:
    target = (1 - beta) * q / sd
    lo, hi = -8.0, 8.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if lf.standard_normal_loss(mid)[0] > target:
            lo = mid
        else:
            hi = mid
    z = (lo + hi) / 2
    rows.append({"beta": beta, "Q": q, "sd": sd, "z": z, "safety_stock": z * sd,
                 "G": lf.standard_normal_loss(z)[0]})
c["fill_rate_safety_stock"] = rows
c["standard_normal_loss"] = [
    {"z": z, "G": lf.standard_normal_loss(z)[0], "Gbar": lf.standard_normal_loss(z)[1]}
    for z in [-2.5, -1.0, 0.0, 0.5, 1.2816, 1.6449, 2.3263, 3.0]
]
c["poisson_loss"] = [
    {"x": x, "mean": m, "n": lf.poisson_loss(x, m)[0], "nbar": lf.poisson_loss(x, m)[1]}
    for (x, m) in [(18, 15), (0, 2.5), (3, 0.4), (60, 52)]
]
c["rq_poisson_exact"] = [
    {"h": h, "p": p, "K": k, "lambda": lam, "L": L, "r": float(r), "Q": float(Q), "cost": g}
    for (h, p, k, lam, L) in [(20, 150, 100, 1.5, 2), (1, 10, 50, 4, 3), (0.5, 20, 30, 0.7, 5), (2, 40, 80, 12, 1)]
    for (r, Q, g) in [rq.r_q_poisson_exact(h, p, k, lam, L)]
]
c["ss_poisson_exact"] = [
    {"h": h, "p": p, "K": k, "mean": m, "s": float(s), "S": float(S), "cost": g}
    for (h, p, k, m) in [(1, 4, 5, 6), (1, 9, 20, 3), (0.5, 5, 40, 10), (2, 30, 15, 1.5)]
    for (s, S, g) in [ss.s_s_discrete_exact(h, p, k, True, m)]
]
c["eoq"] = [
    {"K": k, "h": h, "lambda": lam, "Q": q, "cost": g}
    for (k, h, lam) in [(8, 0.225, 1300), (25, 1.0, 3650), (100, 2.5, 52000), (4, 0.1, 12)]
    for (q, g) in [eoq.economic_order_quantity(k, h, lam)]
]

path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "stockpyl_goldens.json"
path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
print(f"wrote {path}")
