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
            lag_pmf: pmf.clone(),
            lag_mean_days: 0.0,
            lag_p50_days: 0,
            lag_p90_days: 0,
            restockable_share: restock,
            linked_returns: 0,
        },
    );
    ReturnModel {
        window: w,
        global_rate: rate,
        kappa: 1.0,
        global_lag: pmf,
        lag_source: "test",
        restockable_source: "test",
        global_restockable: restock,
        per_sku,
        quality: ReturnQuality::default(),
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
        mean,
        window_days: 2,
        window_mean: 0.0,
        window_errors: vec![],
        daily_error_sd: 0.0,
        window_method: "poisson",
        scores: vec![],
        cv_origins: 0,
        fallback: None,
        fallback_kind: None,
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
        ds.demand.push(DemandLine {
            row: 0,
            at: d * day,
            sku: big,
            loc,
            qty: 10.0,
            price: None,
            order: Some(o),
            customer: None,
            channel: None,
            country: None,
        });
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
            ds.demand.push(DemandLine {
                row: 0,
                at: d * day,
                sku,
                loc,
                qty: 1.0,
                price: None,
                order: None,
                customer: None,
                channel: None,
                country: None,
            });
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
