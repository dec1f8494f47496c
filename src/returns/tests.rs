//! Hand-computed cases: lag convolution, conditioning on "not back yet", variance, shrinkage.

use super::*;
use crate::config::{Overrides, RawPipeline};
use crate::forecast::SeriesForecast;
use crate::ingest::{DemandLine, ReturnLine};

fn model(rate: f64, restock: f64, pmf: Vec<f64>) -> ReturnModel {
    let w = pmf.len() - 1;
    let mut per_sku = BTreeMap::new();
    per_sku.insert(
        0,
        SkuReturns {
            category: "all".into(),
            sold_units: 100.0,
            returned_units: 20.0,
            raw_rate: Some(0.2),
            rate,
            shrinkage_weight: 1.0,
            effective_units: 100.0,
            rate_var: 0.0,
            lag_pmf: pmf.clone(),
            lag_mean_days: 0.0,
            lag_p50_days: 0,
            lag_p90_days: 0,
            restockable_share: restock,
            linked_returns: 0,
            return_days: vec![],
            first_sale_day: 1000,
        },
    );
    ReturnModel {
        window: w,
        global_rate: rate,
        kappa: 1.0,
        rate_drift: 0.0,
        global_lag: pmf,
        lag_source: "test",
        restockable_source: "test",
        global_restockable: restock,
        per_sku,
        quality: ReturnQuality::default(),
        as_of: 1000,
    }
}

fn fc(mean: Vec<f64>, sd: f64) -> SeriesForecast {
    let q = [0.0, -1.2816 * sd, 0.0, 0.0, 0.0, 1.2815 * sd, 0.0];
    SeriesForecast {
        model: "test",
        members: vec![],
        class: crate::forecast::ClassInfo {
            class: crate::forecast::DemandClass::Smooth,
            adi: 1.0,
            cv2: 0.0,
            trading_days: 100,
        },
        quantile_method: "conformal",
        daily_mse: 0.0,
        quantiles: mean.iter().map(|_| q).collect(),
        daily_errors: vec![],
        closed_days: vec![],
        zero_share: 0.0,
        mean,
        window_days: 2,
        window_mean: 0.0,
        window_errors: vec![],
        daily_error_sd: 0.0,
        window_method: "poisson",
        window_dispersion: f64::NAN,
        scores: vec![],
        cv_origins: 0,
        fallback: None,
        fallback_kind: None,
        selection_weight: None,
        stall: None,
        promo_lift: None,
        event_lift: None,
        yearly_move: None,
        window_levels: None,
    }
}

#[test]
fn hand_computed_rate_lag_convolution_and_variance() {
    // r = 0.2, restockable 0.5, lag 1 or 2 days with probability 1/2 each.
    let m = model(0.2, 0.5, vec![0.0, 0.5, 0.5]);
    // One line of 4 units sold yesterday (a = 1), one of 10 today (a = 0); forecast 2
    // units/day, sd 1; lines of the series average 1 unit (lumpiness 1).
    let lines = SeriesLines {
        recent: vec![(0, 10.0), (1, 4.0)],
        lumpiness: 1.0,
    };
    let r = forecast_series(&m, 0, &lines, &fc(vec![2.0, 2.0], 1.0), 2);
    // Today's 10: p = 0.2·0.5·0.5 = 0.05 on each of the next two days.
    // Yesterday's 4: lag 2 tomorrow, p = 0.05 (unconditional: units already back are not
    // subtracted, so conditioning would double count).
    // Forecast day 1 (2 units): returns on day 2 with p = 0.05.
    let p_old = 0.05;
    assert!((r.daily_mean[0] - (10.0 * 0.05 + 4.0 * p_old)).abs() < 1e-12);
    assert!((r.daily_mean[1] - (10.0 * 0.05 + 2.0 * 0.05)).abs() < 1e-12);
    let v0 = 100.0 * 0.05 * 0.95 + 16.0 * p_old * (1.0 - p_old);
    assert!((r.daily_var[0] - v0).abs() < 1e-12);
    // A line comes back whole: variance q²·p(1−p) per line. Day 2: today's line, forecast
    // units (lumpiness 1), plus p²·Var(sales).
    let v1 = 100.0 * 0.05 * 0.95 + 2.0 * 0.05 * 0.95 + 0.05 * 0.05 * 1.0;
    assert!(
        (r.daily_var[1] - v1).abs() < 1e-6,
        "{} vs {v1}",
        r.daily_var[1]
    );
    // Window of 2 days: today's line returns once with p = 0.1 over both days, not twice.
    let wm = 10.0 * 0.1 + 4.0 * p_old + 2.0 * 0.05;
    let wv = 100.0 * 0.1 * 0.9 + 16.0 * p_old * (1.0 - p_old) + (2.0 * 0.05 * 0.95 + 0.05 * 0.05);
    assert!((r.window_mean - wm).abs() < 1e-12);
    assert!((r.window_var - wv).abs() < 1e-6);
    // Window mean 1.3 with variance 9.86: overdispersed, negative binomial
    // (r = 0.198, q = 0.132): P(0) = 0.67, so p25 = p50 = 0; p90 = 4; p95 = 7.
    assert_eq!(r.window_quantile(0.25), 0.0);
    assert_eq!(r.window_quantile(0.5), 0.0);
    assert_eq!(r.window_quantile(0.9), 4.0);
    assert_eq!(r.window_quantile(0.95), 7.0);
    // The same 14 units as 14 single-unit lines: same mean, far smaller variance.
    let single = SeriesLines {
        recent: [vec![(0, 1.0); 10], vec![(1, 1.0); 4]].concat(),
        lumpiness: 1.0,
    };
    let r1 = forecast_series(&m, 0, &single, &fc(vec![2.0, 2.0], 1.0), 2);
    assert!((r1.window_mean - r.window_mean).abs() < 1e-12);
    assert!(r1.window_var < r.window_var / 5.0);
    // No history before as-of: the zero class is the count model's own.
    assert_eq!(r.window_p0, None);
}

#[test]
fn rate_uncertainty_and_drift_widen_the_window_variance() {
    // Same case as above with Var(r) = 0.004 and drift c = 0.25: every mean moves with the
    // rate, so the window variance gains mean²·(0.004/0.2² + 0.25) = 1.3²·0.35.
    let lines = SeriesLines {
        recent: vec![(0, 10.0), (1, 4.0)],
        lumpiness: 1.0,
    };
    let base = forecast_series(
        &model(0.2, 0.5, vec![0.0, 0.5, 0.5]),
        0,
        &lines,
        &fc(vec![2.0, 2.0], 1.0),
        2,
    );
    let mut m = model(0.2, 0.5, vec![0.0, 0.5, 0.5]);
    m.rate_drift = 0.25;
    if let Some(s) = m.per_sku.get_mut(&0) {
        s.rate_var = 0.004;
    }
    let r = forecast_series(&m, 0, &lines, &fc(vec![2.0, 2.0], 1.0), 2);
    assert!((r.window_mean - base.window_mean).abs() < 1e-12);
    let extra = 1.3 * 1.3 * (0.004 / 0.04 + 0.25);
    assert!(
        (r.window_var - base.window_var - extra).abs() < 1e-9,
        "{}",
        r.window_var
    );
    let d0 = base.daily_mean[0];
    assert!((r.daily_var[0] - base.daily_var[0] - d0 * d0 * 0.35).abs() < 1e-9);
}

#[test]
fn occurrence_calibrates_the_zero_class_from_history() {
    let mut m = model(0.2, 0.5, vec![0.0, 0.5, 0.5]);
    // Selling since day 900 (as-of 1000): 14 whole 7-day windows; returns arrived on days
    // 995 and 996 (same window, (993, 1000]) and 950 (window (944, 951]): k = 2 of n = 14.
    if let Some(s) = m.per_sku.get_mut(&0) {
        s.first_sale_day = 900;
        s.return_days = vec![950, 995, 996];
    }
    let s = m.per_sku[&0].clone();
    let p0 = m.occurrence_p0(&s, 7).unwrap();
    assert!((p0 - (1.0 - 2.5 / 15.0)).abs() < 1e-12, "{p0}");
    // 26 windows at most; fewer than 4 give no estimate.
    assert!(m.occurrence_p0(&s, 1).is_some());
    assert_eq!(m.occurrence_p0(&s, 30), None);
    // The hurdle: p ≤ p0 is 0, above it the count model's quantile.
    assert_eq!(hurdle_quantile(1.3, 9.86, Some(p0), 0.8), 0.0);
    assert_eq!(hurdle_quantile(1.3, 9.86, Some(p0), 0.9), 4.0);
    assert_eq!(hurdle_quantile(1.3, 9.86, None, 0.9), 4.0);
}

#[test]
fn rate_drift_is_zero_for_stable_rates_and_grows_with_waves() {
    // 10 % in both halves with plenty of units: only sampling noise, no drift.
    let stable = (0..50).map(|_| [(1000.0, 100.0), (1000.0, 100.0)]);
    assert!(rate_drift(stable) < 1e-9);
    // Rates that flip between 2 % and 18 % from one half to the other: c ≈ (0.16² − noise)/(2·0.1²).
    let waves = (0..50).map(|i| {
        if i % 2 == 0 {
            [(1000.0, 20.0), (1000.0, 180.0)]
        } else {
            [(1000.0, 180.0), (1000.0, 20.0)]
        }
    });
    let c = rate_drift(waves);
    let expect = (0.16f64.powi(2) - 0.1 * 0.9 * 0.002) / (2.0 * 0.01);
    assert!((c - expect).abs() < 1e-9, "{c} vs {expect}");
}

#[test]
fn big_lines_count_as_few_trials() {
    // 300 units in 3 lines of 100 vs 300 single-unit lines, 30 units returned in each case:
    // same raw rate (10 %), but the big-line SKU's evidence is 3 effective units, so its rate
    // stays nearer the pooled one and its shrinkage weight is far smaller.
    let p = RawPipeline::from_toml(
        std::path::Path::new("t.toml"),
        "[inputs.orders]\npath='x'\n[returns]\nwindow_days=10\nhistory_days=400",
    )
    .unwrap()
    .validate(Overrides::default())
    .unwrap();
    let mut ds = Dataset::default();
    let loc = ds.locs.intern("main");
    let day = 86_400i64;
    let line = |sku, d: i64, qty| DemandLine::new(0, d * day, sku, loc, qty, None);
    let ret = |sku, d: i64, qty| ReturnLine {
        input: "t",
        row: 0,
        at: (d + 2) * day,
        sku,
        loc,
        qty,
        order_id: None,
        order_at: Some(d * day),
        customer: None,
        restockable: None,
    };
    let big = ds.skus.intern("big");
    let small = ds.skus.intern("small");
    // A third SKU at 1 % keeps the pooled rate low.
    let other = ds.skus.intern("other");
    for d in 0..3 {
        ds.demand.push(line(big, d * 10, 100.0));
    }
    ds.returns.push(ret(big, 0, 30.0));
    for d in 0..300 {
        ds.demand.push(line(small, d % 100, 1.0));
        if d < 30 {
            ds.returns.push(ret(small, d % 100, 1.0));
        }
    }
    for d in 0..1000 {
        ds.demand.push(line(other, d % 100, 1.0));
        if d < 10 {
            ds.returns.push(ret(other, d % 100, 1.0));
        }
    }
    let m = fit(&p, &ds, 200);
    let (b, s) = (&m.per_sku[&big], &m.per_sku[&small]);
    assert_eq!(b.raw_rate, s.raw_rate);
    assert!(
        (b.effective_units - 3.0).abs() < 1e-9,
        "{}",
        b.effective_units
    );
    assert!((s.effective_units - 300.0).abs() < 1e-9);
    assert!(b.shrinkage_weight < s.shrinkage_weight);
    assert!(b.rate < s.rate, "big {} small {}", b.rate, s.rate);
    assert!(b.rate_var > s.rate_var);
}

#[test]
fn kappa_pools_identical_rates_and_keeps_real_differences() {
    assert_eq!(
        beta_binomial_kappa(&[(10.0, 100.0), (20.0, 200.0), (30.0, 300.0)]),
        1e6
    );
    let k = beta_binomial_kappa(&[(5.0, 100.0), (50.0, 100.0), (20.0, 100.0), (80.0, 100.0)]);
    assert!(k > 1.0 && k < 20.0, "{k}");
}

#[test]
fn three_sales_never_give_zero_or_full_rate() {
    let p = RawPipeline::from_toml(
        std::path::Path::new("t.toml"),
        "[inputs.orders]\npath='x'\n[returns]\nwindow_days=10\nhistory_days=400",
    )
    .unwrap()
    .validate(Overrides::default())
    .unwrap();
    let mut ds = Dataset::default();
    let loc = ds.locs.intern("main");
    let day = 86_400i64;
    // SKU "big": 1000 units over 100 days, 100 returned 3 days after sale (10 %).
    // SKU "tiny": 3 units, all returned; SKU "none": 3 units, none returned.
    let big = ds.skus.intern("big");
    let tiny = ds.skus.intern("tiny");
    let none = ds.skus.intern("none");
    for d in 0..100 {
        let o = ds.orders.intern(&format!("o{d}"));
        ds.demand
            .push(DemandLine::new(0, d * day, big, loc, 10.0, None).linked(Some(o), None));
        if d % 10 == 0 {
            ds.returns.push(ReturnLine {
                input: "t",
                row: 0,
                at: (d + 3) * day,
                sku: big,
                loc,
                qty: 10.0,
                order_id: Some(format!("o{d}")),
                order_at: None,
                customer: None,
                restockable: None,
            });
        }
    }
    for (sku, returned) in [(tiny, true), (none, false)] {
        for d in 0..3 {
            ds.demand
                .push(DemandLine::new(0, d * day, sku, loc, 1.0, None));
            if returned {
                ds.returns.push(ReturnLine {
                    input: "t",
                    row: 0,
                    at: (d + 2) * day,
                    sku,
                    loc,
                    qty: 1.0,
                    order_id: None,
                    order_at: Some(d * day),
                    customer: None,
                    restockable: None,
                });
            }
        }
    }
    let m = fit(&p, &ds, 200);
    let r = |s| m.per_sku[&s].rate;
    assert!((m.per_sku[&big].raw_rate.unwrap() - 0.1).abs() < 1e-12);
    assert!(r(tiny) > 0.0 && r(tiny) < 1.0, "tiny {}", r(tiny));
    assert!(r(none) > 0.0 && r(none) < 1.0, "none {}", r(none));
    assert!(r(tiny) > r(none));
    assert!(m.per_sku[&big].shrinkage_weight > m.per_sku[&tiny].shrinkage_weight);
    // Lags: big's returns come 3 days after sale; tiny's 2 days (linked by order date).
    assert_eq!(m.per_sku[&big].lag_p50_days, 3);
    assert_eq!(m.quality.linked_by.get("order_id"), Some(&10));
    assert_eq!(m.quality.linked_by.get("order_date"), Some(&3));
}
