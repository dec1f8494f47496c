"""restock vs statsforecast, side by side: same series, same origins, same model set,
same horizon, same cores.

restock runs `restock backtest forecast` (whole process: ingest or panel read, every
origin's classification, candidate CV, selection, quantiles), which also exports the panel.
statsforecast gets that panel and, per origin, does what a statsforecast user does to pick
a model per series: `cross_validation` (same windows and step as restock's inner CV,
refit=False like restock's fixed-parameter CV) over the same model set, chooses the model with
the lowest RMSSE per series, then `forecast` with conformal intervals for the quantiles.
Both are scored by this script with one metric code path on the same holdout days.

    bash benches/peers/setup.sh
    python benches/peers/statsforecast_bench.py --restock target/release/restock \
        --pipeline pipelines/online-retail.toml --origins 4 --out notebooks-out/peer-online-retail
    python benches/peers/statsforecast_bench.py --restock ... --panel m5.parquet ...

Writes <out>/peer_summary.json and prints a table. Timings are whole-phase wall clock.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

FORWARD = {"Naive", "SeasonalNaive", "AutoETS", "Theta", "OptimizedTheta"}
QS = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95]
QN = ["p05", "p10", "p25", "p50", "p75", "p90", "p95"]


def load_panel(path):
    t = pq.read_table(path).to_pydict()
    out = []
    for uid, start, y, kind in zip(t["unique_id"], t["start"], t["y"],
                                   t.get("day_kind", [None] * len(t["y"]))):
        y = np.asarray(y, dtype=float)
        kind = np.zeros(len(y)) if kind is None else np.asarray(kind, dtype=float)
        out.append((uid, pd.Timestamp(start), y, kind))
    return out


def metrics(rows):
    """rows: list of dicts with y (array), f (array), q (n x 7), train (array of open days)."""
    acc = {k: [] for k in ["mase", "rmsse", "pinball", "w"]}
    ae = se = bias = n = 0.0
    cov = np.zeros(4)
    for r in rows:
        tr = r["train"]
        d = np.diff(tr)
        sa = np.mean(np.abs(d)) if d.size else 1.0
        sq = np.mean(d * d) if d.size else 1.0
        sa = sa if sa > 1e-12 else 1.0
        sq = sq if sq > 1e-12 else 1.0
        y, f, q = r["y"], r["f"], r["q"]
        if y.size == 0:
            continue
        e = y - f
        acc["mase"].append(np.mean(np.abs(e)) / sa)
        acc["rmsse"].append(np.sqrt(np.mean(e * e) / sq))
        pb = 0.0
        for i, p in enumerate(QS):  # pinball over the seven spine quantiles only
            qq = q[:, i]
            pb += np.mean(np.where(y >= qq, p * (y - qq), (1 - p) * (qq - y))) / sa
        acc["pinball"].append(pb / len(QS))
        acc["w"].append(r["w"])
        ae += np.abs(e).sum()
        se += (e * e).sum()
        bias += (f - y).sum()
        n += y.size
        # q columns: p05 p10 p25 p50 p75 p90 p95 p025 p975
        for c, (lo, hi) in enumerate([(2, 4), (1, 5), (0, 6), (7, 8)]):
            cov[c] += np.sum((y >= q[:, lo] - 1e-9) & (y <= q[:, hi] + 1e-9))
    w = np.asarray(acc["w"])
    rm = np.asarray(acc["rmsse"])
    return {
        "series": len(acc["mase"]),
        "mae": ae / n, "rmse": float(np.sqrt(se / n)), "bias": bias / n,
        "mase": float(np.mean(acc["mase"])), "rmsse": float(np.mean(rm)),
        "wrmsse": float((w * rm).sum() / w.sum()) if w.sum() > 0 else float("nan"),
        "pinball": float(np.mean(acc["pinball"])),
        "coverage_50": cov[0] / n, "coverage_80": cov[1] / n, "coverage_90": cov[2] / n,
        "coverage_95": cov[3] / n,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restock", required=True)
    ap.add_argument("--pipeline")
    ap.add_argument("--panel")
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument("--step", type=int, default=28)
    ap.add_argument("--h", type=int, default=28)
    ap.add_argument("--cv-windows", type=int, default=26)
    ap.add_argument("--cv-step", type=int, default=7)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--restock-set", action="append", default=[],
                    help="extra restock setting KEY=VALUE (repeatable)")
    ap.add_argument("--restock-only", action="store_true",
                    help="score restock alone (no statsforecast run): for trying restock settings "
                         "against a peer summary measured before")
    ap.add_argument("--skip-ets", action="store_true",
                    help="leave AutoETS out on both sides (for quick runs)")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    # --- restock, whole process -------------------------------------------------------
    cmd = [a.restock, "--threads", str(a.n_jobs), "backtest", "forecast", "--origins", str(a.origins), "--step", str(a.step),
           "--horizon", str(a.h), "--out", str(out / "restock"),
           "--export-panel", str(out / "panel.parquet"),
           "--set", f"forecast.cv_windows={a.cv_windows}", "--set", f"forecast.cv_step_days={a.cv_step}"]
    if a.skip_ets:
        cmd += ["--set", 'forecast.models=["naive","seasonal_naive","moving_average","ses","theta",'
                '"optimized_theta","croston","croston_optimized","sba","tsb","adida","imapa"]']
    for kv in a.restock_set:
        cmd += ["--set", kv]
    cmd += ["--pipeline", a.pipeline] if a.pipeline else ["--panel", a.panel]
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.n_jobs), RESTOCK_LOG="warn")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    t_restock = time.perf_counter() - t0
    print(f"restock: {t_restock:.1f} s", file=sys.stderr)

    # --- statsforecast ------------------------------------------------------------------
    os.environ["NIXTLA_ID_AS_COL"] = "1"
    from statsforecast import StatsForecast
    from statsforecast.models import (ADIDA, IMAPA, TSB, AutoETS, CrostonClassic, CrostonOptimized,
                                      CrostonSBA, Naive, OptimizedTheta, SeasonalNaive,
                                      SimpleExponentialSmoothingOptimized, Theta, WindowAverage)
    from statsforecast.utils import ConformalIntervals

    models = [Naive(), SeasonalNaive(season_length=7), WindowAverage(window_size=28),
              SimpleExponentialSmoothingOptimized(), Theta(season_length=7),
              OptimizedTheta(season_length=7), CrostonClassic(), CrostonOptimized(), CrostonSBA(),
              TSB(alpha_d=0.1, alpha_p=0.1), ADIDA(), IMAPA()]
    if not a.skip_ets:
        models.insert(4, AutoETS(season_length=7))
    names = [repr(m) for m in models]
    panel = load_panel(out / "panel.parquet")
    as_of = max(s + pd.Timedelta(days=len(y) - 1) for _, s, y, _ in panel)
    origins = [as_of - pd.Timedelta(days=a.h + k * a.step) for k in range(a.origins)][::-1]
    rpts = pd.read_parquet(out / "restock" / "forecast_backtest_points.parquet")
    rpts["origin"] = pd.to_datetime(rpts["origin"])
    rpts["date"] = pd.to_datetime(rpts["date"])

    sf_time = 0.0
    eval_rows = {"restock": [], "statsforecast_selected": []}
    for n in names:
        eval_rows[n] = []
    for o in origins:
        recs, info = [], {}
        for uid, s, y, kind in panel:
            n_train = (o - s).days + 1
            if n_train < 1:
                continue
            ytr = y[:n_train]
            ds = pd.date_range(s, periods=n_train, freq="D")
            recs.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": ytr}))
            open_ = (kind[:n_train] == 0)
            test_ok = kind[n_train:n_train + a.h] != 2  # censored days are not scored
            w = ytr[-28:].sum()
            info[uid] = (ytr[open_], y[n_train:n_train + a.h], test_ok, w, n_train)
        if not a.restock_only:
            df = pd.concat(recs, ignore_index=True)
            # statsforecast needs h + windows; short series are forecast but not cross-validated.
            lens = df.groupby("unique_id").size()
            need = a.h + (a.cv_windows - 1) * a.cv_step + 14
            long_ids = lens[lens >= need].index
            t0 = time.perf_counter()
            # refit=False (fit once, then only filter: restock's scheme) where statsforecast
            # supports it (models with `forward`); the others can only be refitted per window.
            fwd = [m for m in models if type(m).__name__ in FORWARD]
            rest = [m for m in models if type(m).__name__ not in FORWARD]
            cvdf = df[df.unique_id.isin(long_ids)]
            parts = []
            for ms, refit in [(fwd, False), (rest, True)]:
                sf = StatsForecast(models=ms, freq="D", n_jobs=a.n_jobs, fallback_model=Naive())
                parts.append(sf.cross_validation(df=cvdf, h=a.h, n_windows=a.cv_windows,
                                                 step_size=a.cv_step, refit=refit))
            cv = parts[0].merge(parts[1].drop(columns=["y"]), on=["unique_id", "ds", "cutoff"])
            # Conformal intervals need 2 windows of h plus one day; shorter series get points only.
            pi_ids = lens[lens >= 2 * a.h + 1].index
            sf2 = StatsForecast(models=models, freq="D", n_jobs=a.n_jobs, fallback_model=Naive())
            fcs = [sf2.forecast(df=df[df.unique_id.isin(pi_ids)], h=a.h, level=[50, 80, 90, 95],
                                prediction_intervals=ConformalIntervals(h=a.h, n_windows=2))]
            short = df[~df.unique_id.isin(pi_ids)]
            if len(short):
                fcs.append(StatsForecast(models=models, freq="D", n_jobs=a.n_jobs, fallback_model=Naive()).forecast(df=short, h=a.h))
            fc = pd.concat(fcs, ignore_index=True)
            sf_time += time.perf_counter() - t0
            # Selection by RMSSE (the scale cancels within a series: MSE).
            mse = cv.groupby("unique_id")[names].apply(
                lambda g: ((g.values - cv.loc[g.index, "y"].values[:, None]) ** 2).mean(axis=0))
            best = {uid: names[int(np.nanargmin(v))] if np.isfinite(v).any() else "WindowAverage"
                    for uid, v in mse.items()}
            fc = fc.set_index("unique_id")
            for uid, (tr, yt, ok, w, n_train) in info.items():
                if uid not in fc.index:
                    continue
                g = fc.loc[[uid]]
                k = min(len(yt), a.h)
                if k == 0:
                    continue
                sel = ok[:k]
                for m in names + ["statsforecast_selected"]:
                    mm = best.get(uid, "WindowAverage") if m == "statsforecast_selected" else m
                    # statsforecast returns NaN where a model cannot forecast a short series
                    # (window average < 28 days, seasonal naive < 7): score its naive forecast
                    # there, as its fallback_model would.
                    f = g[mm].values[:k]
                    f = np.where(np.isnan(f), g["Naive"].values[:k], f)

                    def col(c):
                        v = g[c].values[:k] if c in g else f
                        return np.where(np.isnan(v), f, v)
                    q = np.column_stack([col(f"{mm}-lo-90"), col(f"{mm}-lo-80"), col(f"{mm}-lo-50"), f,
                                         col(f"{mm}-hi-50"), col(f"{mm}-hi-80"), col(f"{mm}-hi-90"),
                                         col(f"{mm}-lo-95"), col(f"{mm}-hi-95")])
                    eval_rows[m].append({"y": yt[:k][sel], "f": f[sel], "q": q[sel], "train": tr, "w": w})
        r = rpts[rpts.origin == o].set_index("unique_id")
        for uid, (tr, yt, ok, w, n_train) in info.items():
            if uid not in r.index:
                continue
            g = r.loc[[uid]].sort_values("date")
            k = min(len(yt), len(g))
            sel = ok[:k]
            eval_rows["restock"].append({"y": yt[:k][sel], "f": g["mean"].values[:k][sel],
                                         "q": g[QN + ["p025", "p975"]].values[:k][sel], "train": tr, "w": w})
        print(f"origin {o.date()}: statsforecast so far {sf_time:.1f} s", file=sys.stderr)

    res = {k: metrics(v) for k, v in eval_rows.items() if v}
    singles = {k: v for k, v in res.items() if k not in ("restock", "statsforecast_selected")}
    best_single = min(singles, key=lambda k: singles[k]["rmsse"]) if singles else None
    summary = {
        "origins": [str(o.date()) for o in origins], "h": a.h, "n_jobs": a.n_jobs,
        "restock_seconds": t_restock, "statsforecast_seconds": sf_time,
        "speed_ratio": sf_time / t_restock if sf_time else None, "best_single_model": best_single, "metrics": res,
    }
    # restock's own PIT coverage for counts (its backtest computes it from the full CDF).
    rs = json.loads((out / "restock" / "summary.json").read_text())["overall"]
    summary["restock_pit_coverage"] = {k: rs[k] for k in rs if k.startswith("pit_coverage")}
    (out / "peer_summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print(f"\nrestock {t_restock:.1f} s (whole process) vs statsforecast {sf_time:.1f} s "
          f"(CV + forecast only): {sf_time / t_restock:.1f}x\n")
    hdr = ["mae", "rmse", "bias", "mase", "rmsse", "wrmsse", "pinball", "coverage_50", "coverage_80", "coverage_90",
           "coverage_95"]
    print(f"{'method':28}" + "".join(f"{h:>12}" for h in hdr))
    for k in [k for k in ["restock", "statsforecast_selected", best_single] if k in res] + sorted(set(singles) - {best_single}):
        print(f"{k[:28]:28}" + "".join(f"{res[k][h]:>12.4f}" for h in hdr))


if __name__ == "__main__":
    main()
