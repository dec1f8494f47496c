"""Generates an M5-shaped shop as restock's canonical input files (orders, returns, stock,
products, suppliers, open POs) plus a pipeline definition, for the nightly-run scale bench.

Demand is the same simulation as benches/peers/m5_panel.py (same seed → same units per series
and day): 30,490 series = 3,049 items x 10 stores, 1,941 days (2011-01-29 .. 2016-05-22),
about two thirds of the days zero, weekly and yearly seasonality, event days, Christmas closed,
staggered launches. On top of it the mess a real export has:

- one order line per item, store and selling day (M5's own grain: a store's daily sales of an
  item), with prices that rise yearly and drop on promotion weeks;
- a fifth of the lines come from the web shop (channel "online"), and 8 % of those units come
  back within 3..30 days (returns file, linked by order id, 80 % restockable);
- 0.2 % extra lines with status "cancelled" and 0.05 % exact duplicate lines (rejects);
- one stock snapshot per series on the last day, open purchase orders for a tenth of them.

    python benches/m5/m5_orders.py --series 30490 --out /tmp/m5shop [--seed 1]

`--series N` takes the first N series (N/4, N/2 for the memory-scaling runs).
"""
import argparse
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from m5_panel import DAYS, Calendar, simulate  # noqa: E402

STORES = 10
CATEGORIES = ["FOODS", "HOUSEHOLD", "HOBBIES"]
SUPPLIERS = [
    # id, lead time, sd, order weekdays, minimum order value
    ("SUP-FOODS", 4.0, 1.0, "Mon,Wed,Fri", 300.0),
    ("SUP-HOUSEHOLD", 10.0, 2.5, "Tue", 500.0),
    ("SUP-HOBBIES", 21.0, 5.0, "Thu", 800.0),
]


def sku_of(i):
    return f"ITEM_{i // STORES:04d}"


def store_of(i):
    return f"STORE_{i % STORES}"


def write(table, path):
    pq.write_table(table, path, compression="zstd")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=30490)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    cal = Calendar(rng)
    # Everything but the demand draws from its own generator, so the units per series and
    # day stay those of m5_panel.py for the same seed.
    mess = np.random.default_rng(a.seed + 1000)
    day0 = cal.dates[0].astype("datetime64[D]").view("int64")
    year = (cal.dates.astype("datetime64[Y]").view("int64") - 41).astype(np.float64)
    promo_week = mess.random(DAYS // 7 + 1) < 0.12

    n_items = (a.series + STORES - 1) // STORES
    base_price = np.round(np.exp(mess.normal(1.3, 0.7, n_items)), 2) + 0.5
    category = mess.integers(0, 3, n_items)

    orders_path = os.path.join(a.out, "orders.parquet")
    writer = None
    returns = []
    stock = []
    pos = []
    next_order = 1
    lines = units = 0
    chunk = 2000
    for c0 in range(0, a.series, chunk):
        n = min(chunk, a.series - c0)
        y, launch = simulate(rng, cal, n)
        y[np.arange(DAYS)[None, :] < launch[:, None]] = 0.0
        s_idx, d_idx = np.nonzero(y)
        series = c0 + s_idx
        qty = y[s_idx, d_idx]
        item = series // STORES
        price = base_price[item] * 1.03 ** year[d_idx]
        price = np.where(promo_week[d_idx // 7] & (item % 3 == 0), price * 0.85, price)
        price = np.round(price, 2)
        online = mess.random(series.size) < 0.2
        m = series.size
        order_no = np.arange(next_order, next_order + m)
        next_order += m
        status = np.full(m, "shipped", dtype=object)
        # Cancelled extra lines and exact duplicates: rejects the run must report.
        cancel = mess.random(m) < 0.002
        dup = mess.random(m) < 0.0005
        extra = np.concatenate([np.nonzero(cancel)[0], np.nonzero(dup)[0]])
        ex_status = np.array(["cancelled"] * int(cancel.sum()) + ["shipped"] * int(dup.sum()),
                             dtype=object)
        ex_order = order_no[extra].copy()
        ex_order[: int(cancel.sum())] = np.arange(next_order, next_order + int(cancel.sum()))
        next_order += int(cancel.sum())
        idx = np.concatenate([np.arange(m), extra])
        st = np.concatenate([status, ex_status])
        oid = np.concatenate([order_no, ex_order])
        # Lines of a day together, as an export sorted by order date would have them.
        order = np.lexsort((series[idx], d_idx[idx]))
        idx, st, oid = idx[order], st[order], oid[order]
        sku_names = pa.array([sku_of(i) for i in range(c0, c0 + n)])
        t = pa.table({
            "order_id": pc.binary_join_element_wise(
                "M5-", pc.cast(pa.array(oid), pa.string()), ""),
            "order_date": pa.array((day0 + d_idx[idx]).astype("datetime64[D]"), pa.date32()),
            "sku": pc.take(sku_names, pa.array(s_idx[idx])),
            "location": pa.array([store_of(i) for i in range(STORES)]).take(
                pa.array(series[idx] % STORES)),
            "quantity": pa.array(qty[idx]),
            "unit_price": pa.array(price[idx]),
            "channel": pa.array(np.where(online[idx], "online", "store")),
            "status": pa.array(st.astype(str)),
        })
        if writer is None:
            writer = pq.ParquetWriter(orders_path, t.schema, compression="zstd")
        writer.write_table(t)
        lines += t.num_rows
        units += float(qty.sum())

        # Returns of web-shop units (binomial per line), 3..30 days later, inside the history.
        back = mess.binomial(qty.astype(np.int64), 0.08) * online
        r = np.nonzero(back)[0]
        rday = d_idx[r] + mess.integers(3, 31, r.size)
        keep = rday < DAYS
        r, rday = r[keep], rday[keep]
        returns.append(pa.table({
            "return_date": pa.array((day0 + rday).astype("datetime64[D]"), pa.date32()),
            "sku": pc.take(sku_names, pa.array(s_idx[r])),
            "quantity": pa.array(back[r].astype(np.float64)),
            "order_id": pc.binary_join_element_wise(
                "M5-", pc.cast(pa.array(order_no[r]), pa.string()), ""),
            "order_date": pa.array((day0 + d_idx[r]).astype("datetime64[D]"), pa.date32()),
            "location": pa.array([store_of(i) for i in (c0 + s_idx[r]) % STORES]),
            "restockable": pa.array(np.where(mess.random(r.size) < 0.8, "true", "false")),
        }))

        # Stock on the last day (0..3 weeks of recent demand, 4 % out of stock) and POs.
        recent = y[:, -28:].mean(axis=1)
        on_hand = mess.poisson(recent * 7 * mess.uniform(0, 3, n))
        on_hand[mess.random(n) < 0.04] = 0
        ids = np.arange(c0, c0 + n)
        stock.append(pa.table({
            "snapshot_date": pa.array(np.full(n, day0 + DAYS - 1).astype("datetime64[D]"),
                                      pa.date32()),
            "sku": pa.array([sku_of(i) for i in ids]),
            "location": pa.array([store_of(i) for i in ids]),
            "on_hand": pa.array(on_hand.astype(np.float64)),
            "reserved": pa.array(np.zeros(n)),
        }))
        has_po = (mess.random(n) < 0.1) & (recent > 0)
        p = ids[has_po]
        pos.append(pa.table({
            "sku": pa.array([sku_of(i) for i in p]),
            "location": pa.array([store_of(i) for i in p]),
            "quantity": pa.array(np.ceil(recent[has_po] * 14)),
            "expected_date": pa.array(
                (day0 + DAYS - 1 + mess.integers(1, 15, p.size)).astype("datetime64[D]"),
                pa.date32()),
        }))
    writer.close()
    write(pa.concat_tables(returns), os.path.join(a.out, "returns.parquet"))
    write(pa.concat_tables(stock), os.path.join(a.out, "stock.parquet"))
    write(pa.concat_tables(pos), os.path.join(a.out, "open_pos.parquet"))

    items = np.arange(n_items)
    pack = mess.choice([1.0, 1.0, 6.0, 12.0], n_items)
    write(pa.table({
        "sku": pa.array([f"ITEM_{i:04d}" for i in items]),
        "supplier_id": pa.array([SUPPLIERS[c][0] for c in category]),
        "unit_cost": pa.array(np.round(base_price * 0.6, 2)),
        "moq": pa.array(pack),
        "pack_size": pa.array(pack),
        "category": pa.array([CATEGORIES[c] for c in category]),
        "price": pa.array(base_price),
        "active": pa.array(["true"] * n_items),
    }), os.path.join(a.out, "products.parquet"))
    write(pa.table({
        "supplier_id": pa.array([s[0] for s in SUPPLIERS]),
        "lead_time_days": pa.array([s[1] for s in SUPPLIERS]),
        "lead_time_sd_days": pa.array([s[2] for s in SUPPLIERS]),
        "order_weekdays": pa.array([s[3] for s in SUPPLIERS]),
        "min_order_value": pa.array([s[4] for s in SUPPLIERS]),
        "currency": pa.array(["USD"] * len(SUPPLIERS)),
    }), os.path.join(a.out, "suppliers.parquet"))

    last = str(cal.dates[-1])
    d = os.path.abspath(a.out)
    with open(os.path.join(a.out, "pipeline.toml"), "w") as f:
        f.write(f'''# Generated by benches/m5/m5_orders.py --series {a.series} --seed {a.seed}
name = "m5-{a.series}"
as_of = "{last}"
horizon_days = 28
out = "{d}/runs"

[inputs.orders]
path = "{d}/orders.parquet"
[inputs.orders.rules]
cancel_status_values = ["cancelled"]

[inputs.returns]
path = "{d}/returns.parquet"
[inputs.stock]
path = "{d}/stock.parquet"
[inputs.products]
path = "{d}/products.parquet"
[inputs.suppliers]
path = "{d}/suppliers.parquet"
[inputs.open_pos]
path = "{d}/open_pos.parquet"

[calendar]
detect_closed_days = true

[defaults]
location = "STORE_0"
service_level = 0.95
review_period_days = 7
currency = "USD"

[forecast]
models = ["naive", "seasonal_naive", "moving_average", "ses", "ets", "theta", "optimized_theta",
          "croston", "croston_optimized", "sba", "tsb", "adida", "imapa", "global_ridge"]
metric = "rmsse"
ensemble_k = 3
cv_windows = 26
cv_step_days = 7

[export]
profile = "de"
''')
    print(f"{a.series} series, {lines} order lines, {units:.0f} units, "
          f"{sum(t.num_rows for t in returns)} return lines -> {a.out}")


if __name__ == "__main__":
    main()
