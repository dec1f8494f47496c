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
    # one trading day a week (Dominick's): statsforecast gets weekly series, season 52
    python benches/peers/statsforecast_bench.py --restock ... \
        --pipeline ~/.cache/restock-dominicks/pipeline.toml --trading-days --season 52 ...

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
    """(unique_id, start, y, day_kind) per series, from flat numpy buffers (a full M5-size
    panel as Python lists would take gigabytes)."""
    t = pq.read_table(path)
    ids = t.column("unique_id").to_pylist()
    starts = t.column("start").to_pylist()

    def flat(name):
        col = t.column(name).combine_chunks()
        off = col.offsets.to_numpy()
        return off, col.flatten().to_numpy(zero_copy_only=False).astype(float)
    yo, yv = flat("y")
    ko, kv = flat("day_kind") if "day_kind" in t.column_names else (None, None)
    out = []
    for i, (uid, start) in enumerate(zip(ids, starts)):
        y = yv[yo[i]:yo[i + 1]]
        kind = np.zeros(len(y)) if ko is None else kv[ko[i]:ko[i + 1]]
        out.append((uid, pd.Timestamp(start), y, kind))
    return out


PAUSES = pathlib.Path(os.environ.get("RESTOCK_PEER_PAUSES",
                                   pathlib.Path.home() / ".cache/restock-m5/peer-full/pauses.log"))


def paused(a, b):
    """Seconds of the wall-clock span [a, b] during which benches/peers/hold.sh had this
    benchmark stopped (SIGSTOP) to build or time something else; subtracted from
    statsforecast's time so that neither side is timed on a shared machine."""
    if not PAUSES.exists():
        return 0.0
    total = 0.0
    for line in PAUSES.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            p, q = float(parts[0]), float(parts[1])
            total += max(0.0, min(b, q) - max(a, p))
    return total


def per_series(rows):
    """One row per scored series with everything pooling needs (so slices of a panel scored
    in separate runs pool to exactly the figures of one run)."""
    cols = {k: [] for k in ["unique_id", "origin", "mase", "rmsse", "pinball", "w", "ae", "se", "bias", "n",
                            "cov50", "cov80", "cov90", "cov95"]}
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
        pb = 0.0
        for i, p in enumerate(QS):  # pinball over the seven spine quantiles only
            qq = q[:, i]
            pb += np.mean(np.where(y >= qq, p * (y - qq), (1 - p) * (qq - y))) / sa
        cols["unique_id"].append(r["uid"])
        cols["origin"].append(str(pd.Timestamp(r["origin"]).date()))
        cols["mase"].append(np.mean(np.abs(e)) / sa)
        cols["rmsse"].append(np.sqrt(np.mean(e * e) / sq))
        cols["pinball"].append(pb / len(QS))
        cols["w"].append(float(r["w"]))
        cols["ae"].append(np.abs(e).sum())
        cols["se"].append((e * e).sum())
        cols["bias"].append((f - y).sum())
        cols["n"].append(y.size)
        # q columns: p05 p10 p25 p50 p75 p90 p95 p025 p975
        for c, (lo, hi) in zip(["cov50", "cov80", "cov90", "cov95"], [(2, 4), (1, 5), (0, 6), (7, 8)]):
            cols[c].append(int(np.sum((y >= q[:, lo] - 1e-9) & (y <= q[:, hi] + 1e-9))))
    return pd.DataFrame(cols)


SUMS = ["series", "n", "ae", "se", "bias", "mase", "rmsse", "pinball", "w", "wrm", "cov50", "cov80", "cov90", "cov95"]


def sums(t):
    """The sums every pooled figure is a ratio of, from per_series rows."""
    return {"series": len(t), "n": float(t["n"].sum()), "ae": float(t["ae"].sum()), "se": float(t["se"].sum()),
            "bias": float(t["bias"].sum()), "mase": float(t["mase"].sum()), "rmsse": float(t["rmsse"].sum()),
            "pinball": float(t["pinball"].sum()), "w": float(t["w"].sum()),
            "wrm": float((t["w"] * t["rmsse"]).sum()),
            **{c: float(t[c].sum()) for c in ["cov50", "cov80", "cov90", "cov95"]}}


def sums_from_summary(m, n, w):
    """The same sums from a slice's pooled figures `m` and its scored days `n` and weight
    `w` (equal for every method of a slice: same series, same holdout days). Exact up to
    rounding, so a slice whose per-series table is gone still pools."""
    k = m["series"]
    return {"series": k, "n": n, "ae": m["mae"] * n, "se": m["rmse"] ** 2 * n, "bias": m["bias"] * n,
            "mase": m["mase"] * k, "rmsse": m["rmsse"] * k, "pinball": m["pinball"] * k, "w": w,
            "wrm": m["wrmsse"] * w,
            **{f"cov{lv}": m[f"coverage_{lv}"] * n for lv in [50, 80, 90, 95]}}


def from_sums(x):
    n, k = x["n"], x["series"]
    return {
        "series": int(k), "mae": x["ae"] / n, "rmse": float(np.sqrt(x["se"] / n)), "bias": x["bias"] / n,
        "mase": x["mase"] / k, "rmsse": x["rmsse"] / k,
        "wrmsse": x["wrm"] / x["w"] if x["w"] > 0 else float("nan"),
        "pinball": x["pinball"] / k,
        **{f"coverage_{lv}": x[f"cov{lv}"] / n for lv in [50, 80, 90, 95]},
    }


def pool(t):
    """Overall figures from per_series rows (of one run or of many slices)."""
    return from_sums(sums(t))


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
    ap.add_argument("--trading-days", action="store_true",
                    help="give statsforecast each series' trading days only (closed days dropped, "
                         "integer time index) instead of the calendar: for data with one trading "
                         "day a week (Dominick's: a weekly series), where a daily frequency would "
                         "make no sense. Horizon and CV windows count trading days then")
    ap.add_argument("--season", type=int, default=7,
                    help="season length of statsforecast's seasonal models (7 for daily data; "
                         "52 for --trading-days on weekly data)")
    ap.add_argument("--skip-ets", action="store_true",
                    help="leave AutoETS out on both sides (for quick runs)")
    ap.add_argument("--slice", help="K/N: run statsforecast (and score both) on the K-th of N "
                    "contiguous slices of the panel only; restock still runs on the whole panel "
                    "(its pooled model sees every series), once, reused by the other slices. "
                    "Results go to <out>/slice-K-of-N/; pool them with --aggregate")
    ap.add_argument("--fresh-restock", action="store_true",
                    help="with --slice: rerun restock even if an earlier slice ran it")
    ap.add_argument("--aggregate", action="store_true",
                    help="pool every <out>/slice-*/series.parquet into <out>/peer_summary.json")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.aggregate:
        return aggregate(out)
    sl = None
    if a.slice:
        k, n = (int(x) for x in a.slice.split("/"))
        if not 0 <= k < n:
            sys.exit(f"--slice {a.slice}: K must be in 0..N-1")
        sl = (k, n)

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
    timing = out / "restock_seconds.txt"
    if sl and not a.fresh_restock and timing.exists() and (out / "restock" / "summary.json").exists():
        t_restock = float(timing.read_text())  # whole-panel run made by an earlier slice
    else:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        t_restock = time.perf_counter() - t0
        timing.write_text(f"{t_restock:.3f}\n")
    print(f"restock: {t_restock:.1f} s", file=sys.stderr)
    res_dir = out / (f"slice-{sl[0]}-of-{sl[1]}" if sl else "")
    res_dir.mkdir(parents=True, exist_ok=True)

    # --- statsforecast ------------------------------------------------------------------
    os.environ["NIXTLA_ID_AS_COL"] = "1"
    from statsforecast import StatsForecast
    from statsforecast.models import (ADIDA, IMAPA, TSB, AutoETS, CrostonClassic, CrostonOptimized,
                                      CrostonSBA, Naive, OptimizedTheta, SeasonalNaive,
                                      SimpleExponentialSmoothingOptimized, Theta, WindowAverage)
    from statsforecast.utils import ConformalIntervals

    season = a.season

    def make_models():
        # Fresh instances for every statsforecast call: `forecast(prediction_intervals=...)`
        # stores the ConformalIntervals on the model objects and never replaces it, so reused
        # objects keep the first origin's horizon. With --trading-days the horizon (trading
        # days in the holdout) differs between origins, the stale one no longer fits, and
        # statsforecast silently fell back to Naive for many series (session 12 found it:
        # ADIDA at the last of 4 online-retail origins scored 0.945 instead of 0.834).
        ms = [Naive(), SeasonalNaive(season_length=season), WindowAverage(window_size=28),
              SimpleExponentialSmoothingOptimized(), Theta(season_length=season),
              OptimizedTheta(season_length=season), CrostonClassic(), CrostonOptimized(), CrostonSBA(),
              TSB(alpha_d=0.1, alpha_p=0.1), ADIDA(), IMAPA()]
        if not a.skip_ets:
            ms.insert(4, AutoETS(season_length=season))
        return ms
    names = [repr(m) for m in make_models()]
    panel = load_panel(out / "panel.parquet")
    as_of = max(s + pd.Timedelta(days=len(y) - 1) for _, s, y, _ in panel)
    if sl:
        lo, hi = len(panel) * sl[0] // sl[1], len(panel) * (sl[0] + 1) // sl[1]
        panel = panel[lo:hi]
    origins = [as_of - pd.Timedelta(days=a.h + k * a.step) for k in range(a.origins)][::-1]
    rpts = pd.read_parquet(out / "restock" / "forecast_backtest_points.parquet")
    rpts["origin"] = pd.to_datetime(rpts["origin"])
    rpts["date"] = pd.to_datetime(rpts["date"])

    sf_wall, sf_paused = 0.0, 0.0
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
            if a.trading_days:
                # Trading days only, on an integer axis; `pos`: where the horizon's trading
                # days fall among its calendar days.
                yy = ytr[kind[:n_train] != 1]
                if yy.size == 0:
                    continue
                recs.append(pd.DataFrame({"unique_id": uid, "ds": np.arange(1, yy.size + 1), "y": yy}))
                pos = np.flatnonzero(kind[n_train:n_train + a.h] != 1)
            else:
                ds = pd.date_range(s, periods=n_train, freq="D")
                recs.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": ytr}))
                pos = None
            open_ = (kind[:n_train] == 0)
            # Only open days are scored: not censored days (no observed demand), not closed
            # days (restock forecasts 0 there by construction; statsforecast does not know
            # the calendar and sees zeros).
            test_ok = kind[n_train:n_train + a.h] == 0
            w = ytr[-28:].sum()
            info[uid] = (ytr[open_], y[n_train:n_train + a.h], test_ok, w, pos)
        if not a.restock_only:
            df = pd.concat(recs, ignore_index=True)
            # The horizon in statsforecast's steps: calendar days, or the most trading days
            # any series has in the holdout.
            h = a.h if not a.trading_days else max(len(v[4]) for v in info.values())
            freq = 1 if a.trading_days else "D"
            # CV step in statsforecast's steps too (restock's is in calendar days).
            step = a.cv_step if not a.trading_days else max(1, round(a.cv_step * h / a.h))
            # statsforecast needs h + windows; short series are forecast but not cross-validated.
            lens = df.groupby("unique_id").size()
            need = h + (a.cv_windows - 1) * step + 14
            long_ids = lens[lens >= need].index
            t0 = time.time()
            # refit=False (fit once, then only filter: restock's scheme) where statsforecast
            # supports it (models with `forward`); the others can only be refitted per window.
            cv_models = make_models()
            fwd = [m for m in cv_models if type(m).__name__ in FORWARD]
            rest = [m for m in cv_models if type(m).__name__ not in FORWARD]
            cvdf = df[df.unique_id.isin(long_ids)]
            if cvdf.empty:
                # statsforecast itself fails on an empty frame with a numpy error.
                sys.exit(f"origin {o.date()}: no series has the {need} steps of history that "
                         f"statsforecast's {a.cv_windows}-window CV needs (longest: "
                         f"{lens.max()}); use fewer --origins or --cv-windows")
            parts = []
            for ms, refit in [(fwd, False), (rest, True)]:
                sf = StatsForecast(models=ms, freq=freq, n_jobs=a.n_jobs, fallback_model=Naive())
                parts.append(sf.cross_validation(df=cvdf, h=h, n_windows=a.cv_windows,
                                                 step_size=step, refit=refit))
            cv = parts[0].merge(parts[1].drop(columns=["y"]), on=["unique_id", "ds", "cutoff"])
            # Conformal intervals need 2 windows of h plus one day; shorter series get points only.
            pi_ids = lens[lens >= 2 * h + 1].index
            sf2 = StatsForecast(models=make_models(), freq=freq, n_jobs=a.n_jobs, fallback_model=Naive())
            fcs = [sf2.forecast(df=df[df.unique_id.isin(pi_ids)], h=h, level=[50, 80, 90, 95],
                                prediction_intervals=ConformalIntervals(h=h, n_windows=2))]
            short = df[~df.unique_id.isin(pi_ids)]
            if len(short):
                fcs.append(StatsForecast(models=make_models(), freq=freq, n_jobs=a.n_jobs, fallback_model=Naive()).forecast(df=short, h=h))
            fc = pd.concat(fcs, ignore_index=True)
            t1 = time.time()
            sf_wall += t1 - t0
            sf_paused += paused(t0, t1)
            # Selection by RMSSE (the scale cancels within a series: MSE).
            mse = cv.groupby("unique_id")[names].apply(
                lambda g: ((g.values - cv.loc[g.index, "y"].values[:, None]) ** 2).mean(axis=0))
            best = {uid: names[int(np.nanargmin(v))] if np.isfinite(v).any() else "WindowAverage"
                    for uid, v in mse.items()}
            fc = fc.set_index("unique_id")
            for uid, (tr, yt, ok, w, pos) in info.items():
                if uid not in fc.index:
                    continue
                g = fc.loc[[uid]]
                if pos is not None:
                    # Back onto the calendar: trading-day steps at their days, 0 on closed days
                    # (never scored).
                    cal = pd.DataFrame(0.0, index=range(len(yt)), columns=g.columns)
                    cal.iloc[pos[:len(g)]] = g.iloc[:len(pos)].values
                    g = cal
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
                    eval_rows[m].append({"y": yt[:k][sel], "f": f[sel], "q": q[sel], "train": tr, "w": w, "uid": uid, "origin": o})
        # This slice's series only, sorted: a lookup per series in the whole panel's points
        # (850,000 rows at M5 size) took minutes.
        r = rpts[(rpts.origin == o) & rpts.unique_id.isin(list(info))].set_index("unique_id").sort_index()
        for uid, (tr, yt, ok, w, _) in info.items():
            if uid not in r.index:
                continue
            g = r.loc[[uid]].sort_values("date")
            k = min(len(yt), len(g))
            sel = ok[:k]
            eval_rows["restock"].append({"y": yt[:k][sel], "f": g["mean"].values[:k][sel],
                                         "q": g[QN + ["p025", "p975"]].values[:k][sel], "train": tr, "w": w, "uid": uid, "origin": o})
        print(f"origin {o.date()}: statsforecast so far {sf_wall - sf_paused:.1f} s "
              f"({sf_paused:.1f} s paused)", file=sys.stderr)

    sf_time = sf_wall - sf_paused

    tables = {k: per_series(v) for k, v in eval_rows.items() if v}
    if sl:
        tables["restock"].to_parquet(res_dir / "restock.parquet")
        peers = [t.assign(method=k) for k, t in tables.items() if k != "restock"]
        if peers:
            pd.concat(peers).to_parquet(res_dir / "series.parquet")
    res = {k: pool(t) for k, t in tables.items()}
    singles = {k: v for k, v in res.items() if k not in ("restock", "statsforecast_selected")}
    best_single = min(singles, key=lambda k: singles[k]["rmsse"]) if singles else None
    summary = {
        "origins": [str(o.date()) for o in origins], "h": a.h, "n_jobs": a.n_jobs,
        "restock_seconds": t_restock, "statsforecast_seconds": sf_time,
        "statsforecast_seconds_wall": sf_wall, "statsforecast_seconds_paused": sf_paused,
        "speed_ratio": sf_time / t_restock if sf_time else None, "best_single_model": best_single, "metrics": res,
    }
    # restock's own PIT coverage for counts (its backtest computes it from the full CDF).
    rs = json.loads((out / "restock" / "summary.json").read_text())["overall"]
    summary["restock_pit_coverage"] = {k: rs[k] for k in rs if k.startswith("pit_coverage")}
    if sl:
        summary["slice"] = {"k": sl[0], "n": sl[1], "series": len(panel)}
    # A restock-only rescoring of a slice keeps the slice's statsforecast summary.
    name = "restock_summary.json" if (sl and a.restock_only) else "peer_summary.json"
    (res_dir / name).write_text(json.dumps(summary, indent=1, default=float))
    print(f"\nrestock {t_restock:.1f} s (whole process) vs statsforecast {sf_time:.1f} s "
          f"(CV + forecast only): {sf_time / t_restock:.1f}x\n")
    table(res, best_single, singles)


HDR = ["mae", "rmse", "bias", "mase", "rmsse", "wrmsse", "pinball", "coverage_50", "coverage_80", "coverage_90",
       "coverage_95"]


def aggregate(out):
    """Pool the slices that have a statsforecast summary and a restock scoring. A slice with
    statsforecast's per-series table pools row by row; one without it (a table lost with an
    earlier machine) pools exactly from its summary, and only the paired per-series test
    leaves it out."""
    tot, ours, peers, secs, done, summary_only, per_slice = {}, [], [], 0.0, [], [], []
    for d in sorted(out.glob("slice-*-of-*"), key=lambda d: int(d.name.split("-")[1])):
        if not ((d / "peer_summary.json").exists() and (d / "restock.parquet").exists()):
            continue
        s = json.loads((d / "peer_summary.json").read_text())
        if "statsforecast_selected" not in s["metrics"]:
            # Every method must pool over the same slices.
            print(f"{d.name}: no statsforecast figures (rerun the slice); left out", file=sys.stderr)
            continue
        r = pd.read_parquet(d / "restock.parquet")
        ours.append(r)
        if (d / "series.parquet").exists():
            t = pd.read_parquet(d / "series.parquet")
            peers.append(t)
            parts = {k: sums(g) for k, g in t.groupby("method")}
        else:
            n, w = float(r["n"].sum()), float(r["w"].sum())
            parts = {}
            for k, m in s["metrics"].items():
                if k == "restock":
                    continue
                if m["series"] != len(r):
                    sys.exit(f"{d.name}: {k} scored {m['series']} series, restock {len(r)}: "
                             "its summary cannot be pooled with restock's days and weights")
                parts[k] = sums_from_summary(m, n, w)
            summary_only.append(s["slice"]["k"])
        parts["restock"] = sums(r)
        for k, x in parts.items():
            acc = tot.setdefault(k, dict.fromkeys(SUMS, 0.0))
            for c in SUMS:
                acc[c] += x[c]
        # Net of SIGSTOP pauses where an earlier slice recorded them by hand.
        sec = s.get("statsforecast_seconds_net", s.get("statsforecast_seconds")) or 0.0
        secs += sec
        per_slice.append({"k": s["slice"]["k"], "statsforecast_seconds": sec})
        done.append(s["slice"])
    if not done:
        sys.exit(f"no finished slice under {out}")
    res = {k: from_sums(x) for k, x in tot.items()}
    singles = {k: v for k, v in res.items() if k not in ("restock", "statsforecast_selected")}
    best_single = min(singles, key=lambda k: singles[k]["rmsse"])
    # Paired per-series differences against the best single model: is the pooled lead
    # larger than its sampling noise? (Slices with a per-series table only.)
    paired = {}
    if peers:
        peer = pd.concat(peers)
        ours_t = pd.concat(ours).set_index(["unique_id", "origin"])
        best_t = peer[peer.method == best_single].set_index(["unique_id", "origin"])
        both = ours_t.join(best_t, lsuffix="_restock", rsuffix="_peer", how="inner")
        for m in ["rmsse", "mase", "pinball"]:
            dd = both[f"{m}_restock"] - both[f"{m}_peer"]
            paired[m] = {"mean_difference": float(dd.mean()),
                         "standard_error": float(dd.std(ddof=1) / np.sqrt(len(dd))), "series": int(len(dd))}
    t_restock = float((out / "restock_seconds.txt").read_text())
    n = done[0]["n"]
    summary = {"slices_done": [d["k"] for d in done], "of": n,
               "slices_pooled_from_summary": summary_only,
               "series": int(sum(d["series"] for d in done)),
               "restock_seconds_whole_panel": t_restock, "statsforecast_seconds_slices_done": secs,
               "statsforecast_seconds_projected_whole_panel": secs * n / len(done),
               "statsforecast_seconds_per_slice": per_slice,
               "best_single_model": best_single, "paired_vs_best_single": paired, "metrics": res}
    rs = json.loads((out / "restock" / "summary.json").read_text())["overall"]
    summary["restock_pit_coverage_whole_panel"] = {k: rs[k] for k in rs if k.startswith("pit_coverage")}
    (out / "peer_summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print(f"{len(done)} of {n} slices, {summary['series']} series ({len(summary_only)} pooled from their "
          f"summaries); statsforecast {secs:.1f} s on them (projected {secs * n / len(done):.0f} s for the "
          f"panel) vs restock {t_restock:.1f} s for the whole panel\n")
    table(res, best_single, singles)
    for m, v in paired.items():
        print(f"paired {m}: restock - {best_single} = {v['mean_difference']:+.5f} "
              f"(standard error {v['standard_error']:.5f}, {v['series']} series)")


def table(res, best_single, singles):
    hdr = HDR
    print(f"{'method':28}" + "".join(f"{h:>12}" for h in hdr))
    for k in [k for k in ["restock", "statsforecast_selected", best_single] if k in res] + sorted(set(singles) - {best_single}):
        print(f"{k[:28]:28}" + "".join(f"{res[k][h]:>12.4f}" for h in hdr))


if __name__ == "__main__":
    main()
