//! The real UCI Online Retail export through `check` and `run`, and one proposal line
//! recomputed by hand from the raw file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::helpers::*;

fn pipeline() -> &'static str {
    "pipelines/online-retail.toml"
}

/// The nightly run on the real file into `out`, with `sets` as `--set` overrides.
fn run(out: &std::path::Path, sets: &[&str]) -> Out {
    let mut args = vec![
        "run",
        "--pipeline",
        pipeline(),
        "--out",
        out.to_str().unwrap(),
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    restock(&args)
}

#[test]
fn check_reports_the_known_quirks() {
    assert!(
        shared_data("online-retail/online_retail.parquet").is_file(),
        "../shared/data must be present"
    );
    let d = tempfile::tempdir().unwrap();
    let j = d.path().join("check.json");
    let o = restock(&[
        "check",
        "--pipeline",
        pipeline(),
        "--json",
        j.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&j).unwrap()).unwrap();
    let cls = &r["order_lines"];
    // The README of the data set: 5,268 exact duplicates; 1,336 stock adjustments (negative,
    // no "C"); non-product codes; the two huge orders cancelled within minutes.
    // 5,268 rows are duplicates over all columns; 2 more match another row in every mapped
    // column and differ only in Description/Country (checked with pyarrow): 5,270.
    assert_eq!(cls["duplicate"], 5270);
    let adj = cls["stock_adjustment"].as_u64().unwrap();
    assert!((1000..=1400).contains(&adj), "stock adjustments {adj}");
    assert!(cls["non_product"].as_u64().unwrap() > 1000);
    assert!(cls["cancelled_order"].as_u64().unwrap() >= 4);
    assert!(cls["return"].as_u64().unwrap() > 1000);
    // The 3 "A" bad-debt lines carry StockCode "B", a non-product code, which is checked first.
    assert!(cls.get("excluded_order").is_none());
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for c in [
        "no_master",
        "no_stock",
        "duplicate",
        "closed_dates",
        "closed_weekdays",
        "short_history",
        "zero_price",
        // Return data quality: linked by customer, outliers, >100 % rates, no restockable flag.
        "return_linked",
        "return_unlinked",
        "return_outlier",
        "rate_above_100pct",
        "restockable_defaulted",
        "return_without_sale",
    ] {
        assert!(codes.contains(&c), "finding {c} missing: {codes:?}");
    }
    assert_eq!(r["summary"]["closed_weekdays"], "sat");
    assert!(o.stdout.contains("SUMMARY") && o.stdout.contains("no product master"));
}

#[test]
fn run_end_to_end_and_recompute_one_line_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    // The hand computation below needs a model a person can recompute: this run keeps the
    // two baselines (the full zoo on this file is exercised by `backtest_forecast`).
    let o = run(
        &out,
        &[
            r#"forecast.models=["seasonal_naive","moving_average"]"#,
            "forecast.ensemble_k=0",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let latest = out.join("latest");
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(latest.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["as_of"], "2011-12-09");
    assert!(m["counts"]["series"].as_u64().unwrap() > 3500);
    assert_eq!(m["defaults_used"]["on_hand"], m["counts"]["series"]);

    // The huge cancelled orders are not demand: both lines are in rejects as cancelled.
    let rej = read(&latest.join("rejects.parquet"));
    let rsku = strs(&rej, "sku");
    let rcode = strs(&rej, "reason_code");
    let rrow = nums(&rej, "row");
    let rq = nums(&rej, "quantity");
    for (sku, q) in [("23843", 80995.0), ("23166", 74215.0)] {
        let n = (0..rej.rows)
            .filter(|&i| {
                rsku[i] == sku && rcode[i] == "cancelled_order" && rq[i].unwrap().abs() == q
            })
            .count();
        assert_eq!(n, 2, "sale and cancellation of {sku} rejected");
    }

    // Hand computation for the best seller 85123A.
    let sku = "85123A";
    let dec = read(&latest.join("decisions.parquet"));
    let i = strs(&dec, "sku").iter().position(|s| s == sku).unwrap();
    let g = |c: &str| nums(&dec, c)[i].unwrap();
    let dates = |c: &str| dec.datetimes(c, "x", true).unwrap().unwrap()[i].unwrap() / 86_400;
    let as_of = restock::ingest::table::parse_datetime("2011-12-09").unwrap() / 86_400;
    // Saturday 10.12. is closed (the shop trades on Sundays): the order goes out Sunday
    // 11.12.; receipt = + 14 days lead time; window = 1 day until the order + 14 + 7 review.
    assert_eq!(dates("order_date"), as_of + 2);
    assert_eq!(dates("expected_receipt_date"), as_of + 2 + 14);
    assert_eq!(g("window_days"), 1.0 + 14.0 + 7.0);
    // No stock file, no open POs: position = expected restockable returns in the window
    // (the 25 % quantile of their count distribution, returns.position_quantile).
    assert_eq!((g("on_hand"), g("on_order")), (0.0, 0.0));
    let ret = g("expected_returns");
    assert!(ret >= 0.0 && ret <= g("expected_returns_mean") + 1e-9 && ret.fract() == 0.0);
    assert!((g("inventory_position") - ret).abs() < 1e-9);
    let mean = g("demand_mean");
    let target = g("target_level");
    assert!((g("safety_stock") - (target - mean)).abs() < 1e-3);
    assert!(
        (g("raw_need") - (target - ret).max(0.0)).abs() < 1e-3,
        "need = target − position"
    );
    let qty = g("order_qty");
    assert_eq!(
        qty,
        (target - ret - 1e-9).ceil(),
        "MOQ 1, pack 1: round up to whole units"
    );
    assert!(qty > 0.0);

    // Demand mean over the window = sum of the daily forecast means in forecasts.parquet.
    let fc = read(&latest.join("forecasts.parquet"));
    let fsku = strs(&fc, "sku");
    let fmean = nums(&fc, "mean");
    let fdate = fc.datetimes("date", "x", true).unwrap().unwrap();
    let window_end = as_of + 22;
    let sum: f64 = (0..fc.rows)
        .filter(|&k| fsku[k] == sku && fdate[k].unwrap() / 86_400 <= window_end)
        .map(|k| fmean[k].unwrap())
        .sum();
    assert!(
        (sum - mean).abs() < 1e-2,
        "window mean {mean} vs summed daily means {sum}"
    );

    // Daily demand from the raw file minus every rejected row, then the chosen model by hand.
    let raw = read(&shared_data("online-retail/online_retail.parquet"));
    let codes = strs(&raw, "StockCode");
    let inv = strs(&raw, "InvoiceNo");
    let qtys = nums(&raw, "Quantity");
    let price = nums(&raw, "UnitPrice");
    let at = raw.datetimes("InvoiceDate", "x", true).unwrap().unwrap();
    let rejected: BTreeSet<usize> = (0..rej.rows)
        .filter(|&k| strs(&rej, "input")[k] == "orders")
        .map(|k| rrow[k].unwrap() as usize - 1)
        .collect();
    let mut daily: BTreeMap<i64, f64> = BTreeMap::new();
    let mut trading: BTreeSet<i64> = BTreeSet::new();
    let mut prices = Vec::new();
    for k in 0..raw.rows {
        if rejected.contains(&k) || inv[k].starts_with('C') {
            continue;
        }
        trading.insert(at[k].unwrap() / 86_400);
        if codes[k] == sku {
            *daily.entry(at[k].unwrap() / 86_400).or_insert(0.0) += qtys[k].unwrap();
            prices.push(price[k].unwrap());
        }
    }
    let model = strs(&dec, "model")[i].clone();
    // Open days of the window: not Saturday (1970-01-01 was a Thursday → Saturday ≡ 2 mod 7),
    // not a configured holiday (24.12.–03.01.).
    let xmas = restock::ingest::table::parse_datetime("2011-12-24").unwrap() / 86_400;
    let open = |d: i64| (d - 2).rem_euclid(7) != 0 && !(xmas..=xmas + 10).contains(&d);
    let expect: f64 = match model.as_str() {
        "moving_average" => {
            let last: Vec<i64> = trading
                .iter()
                .rev()
                .filter(|d| **d <= as_of)
                .take(28)
                .copied()
                .collect();
            let level = last
                .iter()
                .map(|d| daily.get(d).copied().unwrap_or(0.0))
                .sum::<f64>()
                / 28.0;
            (as_of + 1..=window_end).filter(|d| open(*d)).count() as f64 * level
        }
        "seasonal_naive" => (as_of + 1..=window_end)
            .filter(|d| open(*d))
            .map(|d| {
                let mut r = d - 7;
                while r > as_of || !trading.contains(&r) {
                    r -= 7;
                }
                daily.get(&r).copied().unwrap_or(0.0)
            })
            .sum(),
        other => panic!("unexpected model {other}"),
    };
    assert!(
        (expect - mean).abs() < 1e-3,
        "{model}: hand {expect} vs run {mean}"
    );

    // Unit cost: 60 % of the median positive sales price, line value = cost × qty.
    prices.retain(|p| *p > 0.0);
    prices.sort_by(f64::total_cmp);
    let cost = (prices[prices.len() / 2] * 0.6 * 100.0).round() / 100.0;
    assert!((g("unit_cost") - cost).abs() < 1e-9);
    assert!((g("line_value") - (cost * qty * 100.0).round() / 100.0).abs() < 1e-9);
}

#[test]
fn stopped_items_are_lowered_and_the_proposal_says_why() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    let o = run(
        &out,
        &[r#"forecast.models=["moving_average","croston","sba"]"#],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let latest = out.join("latest");
    let fm = read(&latest.join("forecast_models.parquet"));
    let (sku, run, p) = (
        strs(&fm, "sku"),
        nums(&fm, "zero_run_days"),
        nums(&fm, "p_still_selling"),
    );
    let stalled: BTreeMap<String, (f64, f64)> = (0..fm.rows)
        .filter_map(|i| Some((sku[i].clone(), (run[i]?, p[i]?))))
        .collect();
    assert!(stalled
        .values()
        .all(|(r, p)| *r >= 1.0 && (0.0..1.0).contains(p)));
    let cut = stalled.values().filter(|(_, p)| *p < 0.5).count();
    // 16 on this file: items whose run of zero days is rarer than the prior of a stop.
    assert!(
        cut >= 10,
        "{cut} items forecast at under half their old rate"
    );

    // A proposal of such an item names the run and the probability, as forecast_models has them.
    let pr = read(&latest.join("proposals.parquet"));
    let (psku, text) = (strs(&pr, "sku"), strs(&pr, "reason_text"));
    let mut named = 0;
    for i in 0..pr.rows {
        let Some(at) = text[i].find("lowered: no sale on the last ") else {
            continue;
        };
        let (r, p) = stalled[&psku[i]];
        assert!(p < 0.9, "{}", text[i]);
        let said = &text[i][at..];
        assert!(said.contains(&format!("last {r} open days")), "{said}");
        let pct: f64 = said
            .split("P(still selling) ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!((pct - 100.0 * p).abs() < 0.051, "{pct} vs {p}");
        named += 1;
    }
    assert!(named > 0, "no proposal of a stopped item");
}

/// Shop events on the real file: a kind seen once (Black Friday 2011, and planned again
/// inside the horizon) and a kind only planned. The run measures the seen kind's
/// shop-wide lift, keeps half of it (one occurrence), puts it on every series' planned day
/// and names the events in the proposal text; the unseen kind gets no lift.
#[test]
fn shop_events_get_one_shop_wide_lift_and_are_named() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    let o = run(
        &out,
        &[
            r#"calendar.events.black_friday=["2011-11-25","2011-12-16"]"#,
            r#"calendar.events.gala=["2011-12-14"]"#,
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let latest = out.join("latest");
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(latest.join("manifest.json")).unwrap()).unwrap();
    let kinds = &m["calendar"]["events"];
    assert_eq!(kinds[0][0], "black_friday", "{kinds}");
    assert_eq!(kinds[1][0], "gala", "{kinds}");

    // One shop-wide value for every series that has a lift, half of the measured effect:
    // 1 + (L − 1) / 2 with L in the [0.25, 10] bounds. The gala, never seen, has none.
    let fm = read(&latest.join("forecast_models.parquet"));
    let lifts: BTreeSet<u64> = nums(&fm, "event_lift")
        .into_iter()
        .flatten()
        .map(f64::to_bits)
        .collect();
    assert_eq!(lifts.len(), 1, "one shop-wide lift: {lifts:?}");
    let l = f64::from_bits(*lifts.iter().next().unwrap());
    assert!((0.625..=5.5).contains(&l) && l != 1.0, "{l}");
    // The manifest says the same per kind.
    let ev = &m["shop_events"];
    assert_eq!(ev[0]["kind"], "black_friday");
    assert!((ev[0]["lift"].as_f64().unwrap() - l).abs() < 1e-9, "{ev}");
    assert!(ev[1]["lift"].is_null(), "{ev}");
    // Every proposal's window (a week or more after December 9) holds December 16, and
    // the text names it; windows that reach December 14 name the gala too.
    let pr = read(&latest.join("proposals.parquet"));
    let text = strs(&pr, "reason_text");
    assert!(pr.rows > 0);
    assert!(
        text.iter()
            .all(|t| t.contains("planned event day") && t.contains("black_friday)")),
        "{}",
        text[0]
    );
    assert!(
        text.iter()
            .any(|t| t.contains("with 2 planned event days (gala, black_friday)")),
        "{}",
        text[0]
    );

    // `check` says what each kind has to learn from, and warns about days that cannot act:
    // the gala has no past day, and December 10 is a Saturday (closed).
    let o = restock(&[
        "check",
        "--pipeline",
        pipeline(),
        "--set",
        r#"calendar.events.black_friday=["2011-11-25","2011-12-16"]"#,
        "--set",
        r#"calendar.events.gala=["2011-12-10","2011-12-14"]"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = |code: &str, kind: &str| {
        o.stdout
            .lines()
            .any(|l| l.contains(code) && l.contains(&format!("'{kind}'")))
    };
    assert!(line("event_days", "black_friday"), "{}", o.stdout);
    assert!(line("event_unseen", "gala") && !line("event_unseen", "black_friday"));
    assert!(line("event_on_closed_day", "gala") && o.stdout.contains("2011-12-10"));
}
