"""Dominick's orange juice (../shared/data/dominicks-oj) as a restock shop.

The data are weekly (store x brand x week, units as exp(logmove), each brand's price, the
`deal` and `feat` promotion flags). restock's engine is daily, and a closed day is a first
class concept in it, so a week becomes a shop that trades one day a week: each week's
units are one order line on the week's Thursday (Dominick's week 1 began Thursday
1989-09-14), the other six weekdays are closed. Level and intermittent models run on the
trading-day axis, which is then the weekly axis; a 28-day horizon is 4 weeks.

- orders.parquet: one line per store x brand x week, sku "OJ-<brand>", location
  "store-<store>", unit_price = the brand's own price that week.
- stock.parquet: on_hand 0 on the Thursdays of weeks missing from the data (3,619 gaps
  inside the series' spans, 55 weeks after 33 series stop early): demand was not observed,
  so restock treats those days as censored, not as zero demand.
- promotions.parquet: one row per store x brand x week with deal = 1 or feat > 0.
- pipeline.toml (and pipeline-no-promotions.toml without the calendar;
  pipeline-holidays.toml with six US holidays as `calendar.events` kinds, each on the
  Thursday of the week that holds it: README "Shop events").

    python benches/dominicks/convert.py --out ~/.cache/restock-dominicks
    restock backtest forecast --pipeline ~/.cache/restock-dominicks/pipeline.toml --origins 4
"""
import argparse
import datetime as dt
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAY0 = np.datetime64("1989-09-14")  # Thursday, start of Dominick's week 1


def holiday_weeks():
    """Six US holidays by kind: the Thursday that starts the Dominick's week holding each,
    1989-1993 (a week holds one kind: the first in this order)."""
    day0 = dt.date(1989, 9, 14)

    def nth(y, m, wd, k):
        d = dt.date(y, m, 1) + dt.timedelta((wd - dt.date(y, m, 1).weekday()) % 7)
        return d + dt.timedelta(7 * (k - 1))

    def last(y, m, wd):
        d = dt.date(y, m + 1, 1) - dt.timedelta(1)
        return d - dt.timedelta((d.weekday() - wd) % 7)

    kinds = {
        "new_year": lambda y: dt.date(y, 1, 1),
        "memorial_day": lambda y: last(y, 5, 0),
        "july_4": lambda y: dt.date(y, 7, 4),
        "labor_day": lambda y: nth(y, 9, 0, 1),
        "thanksgiving": lambda y: nth(y, 11, 3, 4),
        "christmas": lambda y: dt.date(y, 12, 25),
    }
    used, out = set(), {}
    for name, day in kinds.items():
        weeks = []
        for y in range(1989, 1994):
            thu = day0 + dt.timedelta(7 * ((day(y) - day0).days // 7))
            if thu >= day0 and thu not in used:
                used.add(thu)
                weeks.append(thu)
        out[name] = weeks
    return out


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data", "dominicks-oj"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t = pq.read_table(os.path.join(a.data, "orangeJuice_yx.parquet")).to_pandas()
    t = t.sort_values(["store", "brand", "week"]).reset_index(drop=True)
    date = DAY0 + (t["week"].to_numpy() - 1) * 7
    units = np.round(np.exp(t["logmove"].to_numpy()))
    price = np.array([t[f"price{b}"].iat[i] for i, b in enumerate(t["brand"].to_numpy())])
    sku = np.array([f"OJ-{b:02d}" for b in t["brand"]], dtype=object)
    loc = np.array([f"store-{s:03d}" for s in t["store"]], dtype=object)
    pq.write_table(pa.table({
        "order_id": pa.array([f"W{w}-{s}-{b}" for w, s, b in zip(t["week"], t["store"], t["brand"])]),
        "order_date": pa.array(date.astype("datetime64[D]")),
        "sku": pa.array(sku.tolist()),
        "location": pa.array(loc.tolist()),
        "quantity": pa.array(units),
        "unit_price": pa.array(price),
    }), os.path.join(a.out, "orders.parquet"))

    # Missing weeks from a series' first week to the data set's last: its gaps, and the weeks
    # after it stops (not observed, not zero).
    gs, gl, gd = [], [], []
    last_week = t["week"].max()
    for (s, b), g in t.groupby(["store", "brand"]):
        have = set(g["week"])
        for w in range(g["week"].min(), last_week + 1):
            if w not in have:
                gs.append(f"OJ-{b:02d}")
                gl.append(f"store-{s:03d}")
                gd.append(DAY0 + (w - 1) * 7)
    pq.write_table(pa.table({
        "snapshot_date": pa.array(np.array(gd, dtype="datetime64[D]")),
        "sku": pa.array(gs), "location": pa.array(gl),
        "on_hand": pa.array(np.zeros(len(gs))),
    }), os.path.join(a.out, "stock.parquet"))

    p = t[(t["deal"] == 1) | (t["feat"] > 0)]
    pd0 = DAY0 + (p["week"].to_numpy() - 1) * 7
    pq.write_table(pa.table({
        "sku": pa.array([f"OJ-{b:02d}" for b in p["brand"]]),
        "location": pa.array([f"store-{s:03d}" for s in p["store"]]),
        "start_date": pa.array(pd0.astype("datetime64[D]")),
        "end_date": pa.array((pd0 + 6).astype("datetime64[D]")),
    }), os.path.join(a.out, "promotions.parquet"))

    d = os.path.abspath(a.out)
    last = str(date.max())
    body = f'''name = "dominicks-oj"
as_of = "{last}"
horizon_days = 28
out = "{d}/runs"

[inputs.orders]
path = "{d}/orders.parquet"
[inputs.stock]
path = "{d}/stock.parquet"
%PROMO%
[calendar]
# One trading day a week (the week's Thursday): the other weekdays are closed.
closed_weekdays = ["fri", "sat", "sun", "mon", "tue", "wed"]
detect_closed_days = false

[defaults]
location = "store-002"
currency = "USD"
'''
    with open(os.path.join(a.out, "pipeline.toml"), "w") as f:
        f.write(body.replace("%PROMO%", f'[inputs.promotions]\npath = "{d}/promotions.parquet"\n'))
    with open(os.path.join(a.out, "pipeline-no-promotions.toml"), "w") as f:
        f.write(body.replace("%PROMO%", "").replace('name = "dominicks-oj"', 'name = "dominicks-oj-no-promotions"'))
    events = "".join(
        f'{k} = [{", ".join(chr(34) + str(w) + chr(34) for w in v)}]\n' for k, v in holiday_weeks().items()
    )
    with open(os.path.join(a.out, "pipeline-holidays.toml"), "w") as f:
        f.write(
            body.replace("%PROMO%", f'[inputs.promotions]\npath = "{d}/promotions.parquet"\n')
            .replace('name = "dominicks-oj"', 'name = "dominicks-oj-holidays"')
            + "\n[calendar.events]\n# US holiday weeks, each its own kind: the Thursday of the week that holds it.\n"
            + events
        )
    print(f"{len(t)} store-brand-weeks, {len(gs)} gaps, {len(p)} promotion weeks -> {a.out}")


if __name__ == "__main__":
    main()
