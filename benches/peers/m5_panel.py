"""Generates an M5-shaped panel as restock plain-panel Parquet (unique_id, start, y).

Shape of the M5 competition data (Walmart, 2016): 30,490 item x store series, 1,941 days
(2011-01-29 .. 2016-05-22), about two thirds of the days zero, weekly and yearly
seasonality, sporadic event days with higher demand, Christmas closed, items launched at
different dates. Deterministic for a seed.

    python benches/peers/m5_panel.py --series 30490 --out /tmp/m5.parquet [--seed 1] \
        [--events-pipeline /tmp/m5-events.toml]

The event days are in the data but not in the panel file (M5's calendar lists them ahead, a
plain panel has no calendar). `--events-pipeline` writes them, with the 28 days after the
panel, as a pipeline whose `calendar.events` restock reads with `--panel ... --pipeline ...`.
"""
import argparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAYS = 1941
START = np.datetime64("2011-01-29")


class Calendar:
    """The M5 calendar: dates, weekdays, day of year, Christmas, event days."""

    def __init__(self, rng):
        self.dates = START + np.arange(DAYS)
        self.dow = (self.dates.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
        self.doy = (self.dates - self.dates.astype("datetime64[Y]")).astype(int)
        self.xmas = np.array([str(d)[5:] == "12-25" for d in self.dates])
        self.events = rng.random(DAYS) < 0.045  # ~16 event days a year


WEEKLY = np.array([0.92, 0.88, 0.88, 0.9, 1.0, 1.25, 1.17])


def simulate(rng, cal, n):
    """Daily units of n item x store series (n x DAYS) and each series' launch day.

    Shared with m5_orders.py so the panel and the order-line input describe the same demand.
    """
    # Item level: heavy-tailed rates (most items sell less than once a day).
    rate = np.exp(rng.normal(-0.9, 1.25, n))[:, None]
    amp = rng.uniform(0.0, 0.3, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    trend = rng.normal(0, 0.25, n)[:, None] * np.linspace(0, 1, DAYS)[None, :]
    lift = rng.uniform(1.0, 2.0, n)[:, None]
    mu = (rate * WEEKLY[cal.dow][None, :]
          * (1 + amp * np.sin(2 * np.pi * cal.doy / 365.25 + phase))
          * np.exp(trend) * np.where(cal.events[None, :], lift, 1.0))
    # Gamma-Poisson (negative binomial) noise, shape 2.
    y = rng.poisson(mu * rng.gamma(2.0, 0.5, mu.shape)).astype(np.float64)
    y[:, cal.xmas] = 0.0
    # Launch dates: 55 % from the start, the rest later.
    launch = np.where(rng.random(n) < 0.55, 0, rng.integers(0, DAYS - 120, n))
    return y, launch


def series_id(i):
    return f"ITEM_{i:05d}|STORE_{i % 10}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=30490)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events-pipeline", help="write the event days as a restock pipeline TOML")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cal = Calendar(rng)
    dates = cal.dates
    writer = None
    chunk = 2000
    zeros = total = 0
    for c0 in range(0, a.series, chunk):
        n = min(chunk, a.series - c0)
        y, launch = simulate(rng, cal, n)
        ids, starts, ys = [], [], []
        for i in range(n):
            s = launch[i]
            nz = np.nonzero(y[i, s:])[0]
            if nz.size == 0:
                continue
            s = s + nz[0]  # a series starts at its first sale, as in restock's panel
            ids.append(series_id(c0 + i))
            starts.append(dates[s])
            ys.append(y[i, s:])
            zeros += int((y[i, s:] == 0).sum())
            total += DAYS - s
        t = pa.table({
            "unique_id": pa.array(ids, pa.string()),
            "start": pa.array(np.array(starts, dtype="datetime64[D]"), pa.date32()),
            "y": pa.array(ys, pa.list_(pa.float64())),
        })
        if writer is None:
            writer = pq.ParquetWriter(a.out, t.schema)
        writer.write_table(t)
    writer.close()
    print(f"{a.series} series, {total} series-days, {zeros / total:.1%} zeros -> {a.out}")
    if a.events_pipeline:
        write_events(cal, a.seed, a.events_pipeline)


def write_events(cal, seed, path):
    """The panel's event days plus those of the 28 days after it (from their own stream, so
    the panel does not change), as `calendar.events` of a pipeline."""
    ahead = np.random.default_rng([seed, 28]).random(28) < 0.045
    days = [str(d) for d in cal.dates[cal.events]]
    days += [str(cal.dates[-1] + 1 + k) for k in np.nonzero(ahead)[0]]
    with open(path, "w") as f:
        f.write("# Event days of the M5-shaped panel (benches/peers/m5_panel.py), past and planned.\n")
        f.write('name = "m5-panel-events"\n\n[calendar]\nevents = [\n')
        for d in days:
            f.write(f'  "{d}",\n')
        f.write("]\n")
    print(f"{len(days)} event days -> {path}")


if __name__ == "__main__":
    main()
