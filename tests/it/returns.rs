//! Returns end to end: parameters and forecasts written, used in the position, backtested.

use std::fs;

use crate::helpers::*;

/// `summary.json` of a returns backtest: the score `key` of `method`.
fn method_score(s: &serde_json::Value, method: &str, key: &str) -> f64 {
    s["scores"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["method"] == method))
        .and_then(|x| x[key].as_f64())
        .unwrap_or_else(|| panic!("no {key} for {method} in {s}"))
}

#[test]
fn sample_run_predicts_returns_and_uses_them() {
    let (_d, out) = sample_run(&[]);
    let latest = out.join("latest");
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(latest.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["returns"]["lag_source"], "linked_returns");
    assert_eq!(m["returns"]["restockable_source"], "returns_data");
    assert!(
        m["returns"]["quality"]["linked_by"]["order_id"]
            .as_u64()
            .unwrap()
            > 100_000
    );
    let rate = m["returns"]["pooled_rate"].as_f64().unwrap();
    assert!((0.1..0.25).contains(&rate), "pooled rate {rate}");

    let params = read(&latest.join("return_params.parquet"));
    let cat = strs(&params, "category");
    let r = nums(&params, "rate");
    let w = nums(&params, "shrinkage_weight");
    let fashion: Vec<f64> = (0..params.rows)
        .filter(|&i| cat[i] == "fashion")
        .map(|i| r[i].unwrap())
        .collect();
    let food: Vec<f64> = (0..params.rows)
        .filter(|&i| cat[i] == "food")
        .map(|i| r[i].unwrap())
        .collect();
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        avg(&fashion) > 5.0 * avg(&food),
        "fashion {} vs food {}",
        avg(&fashion),
        avg(&food)
    );
    assert!((0..params.rows).all(|i| (0.0..1.0).contains(&r[i].unwrap()) && r[i].unwrap() > 0.0));
    assert!((0..params.rows).all(|i| (0.0..=1.0).contains(&w[i].unwrap())));

    let rf = read(&latest.join("returns_forecast.parquet"));
    assert_eq!(
        rf.column_names(),
        &["sku", "location", "date", "mean", "p10", "p50", "p90"]
    );
    let (p10, p90) = (nums(&rf, "p10"), nums(&rf, "p90"));
    assert!((0..rf.rows).all(|i| p10[i].unwrap() <= p90[i].unwrap() && p10[i].unwrap() >= 0.0));

    let dec = read(&latest.join("decisions.parquet"));
    let er = nums(&dec, "expected_returns");
    let erm = nums(&dec, "expected_returns_mean");
    let pos = nums(&dec, "inventory_position");
    let oh = nums(&dec, "on_hand");
    let oo = nums(&dec, "on_order");
    let bo = nums(&dec, "backorders");
    assert!(
        er.iter().filter(|v| v.unwrap() > 0.0).count() > 50,
        "returns enter many positions"
    );
    for i in 0..dec.rows {
        // Conservative lower quantile (p25) never exceeds the mean by more than rounding.
        assert!(er[i].unwrap() <= erm[i].unwrap().ceil() + 1e-9);
        assert!(
            (pos[i].unwrap() - (oh[i].unwrap() - bo[i].unwrap() + oo[i].unwrap() + er[i].unwrap()))
                .abs()
                < 1e-3
        );
    }
}

#[test]
fn returns_backtest_on_sample_beats_both_baselines() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bt");
    let o = restock(&[
        "backtest",
        "returns",
        "--pipeline",
        "pipelines/sample.toml",
        "--weeks",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("restock_mean") && o.stdout.contains("naive_8w"));
    let s: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let score = |m: &str, k: &str| method_score(&s, m, k);
    assert_eq!(s["origins"].as_array().unwrap().len(), 4);
    for base in ["naive_8w", "no_returns"] {
        assert!(
            score("restock_mean", "sku_week_mae") < score(base, "sku_week_mae"),
            "vs {base}"
        );
        assert!(
            score("restock_mean", "sku_week_bias").abs() < score(base, "sku_week_bias").abs() + 0.2,
            "bias vs {base}"
        );
    }
    let rows = read(&out.join("returns_backtest.parquet"));
    assert_eq!(rows.rows as u64, s["sku_weeks"].as_u64().unwrap());
}

#[test]
fn return_covariates_are_measured_and_add_nothing_on_the_sample() {
    // The sample's returns do not depend on price, channel or category by construction, so a
    // sound evaluation must find no gain from them.
    let o = restock(&[
        "backtest",
        "return-covariates",
        "--pipeline",
        "pipelines/sample.toml",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let f: Vec<&str> = r["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        f.contains(&"channel=shop")
            && f.contains(&"category=fashion")
            && f.contains(&"log_price_vs_median")
    );
    assert!(r["train_lines"].as_u64().unwrap() > 100_000);
    let gain = r["logloss_gain_pct"].as_f64().unwrap();
    assert!(gain.abs() < 1.0, "gain {gain}");
    assert_eq!(r["helps"], false);
    // The logistic model is a proper probability model: its log loss is close to the rate's.
    let (lr, ll) = (
        r["logloss_rate_only"].as_f64().unwrap(),
        r["logloss_logistic"].as_f64().unwrap(),
    );
    assert!((ll - lr).abs() / lr < 0.02, "{lr} vs {ll}");
}

#[test]
fn returns_backtest_on_online_retail_beats_both_baselines() {
    // Real cancellations/returns (96 % of SKU-weeks have none). A light model zoo keeps the
    // demand forecast quick; the return model is the production one.
    assert!(shared_data("online-retail/online_retail.parquet").exists());
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bt");
    let o = restock(&[
        "backtest",
        "returns",
        "--pipeline",
        "pipelines/online-retail.toml",
        "--weeks",
        "6",
        "--set",
        r#"forecast.models=["moving_average","seasonal_naive","croston","tsb"]"#,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let s: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let score = |m: &str, k: &str| method_score(&s, m, k);
    assert!(s["realised_units"].as_f64().unwrap() > 1000.0);
    for base in ["naive_8w", "naive_8w_median", "no_returns"] {
        // The predictive distribution (CRPS) per SKU-week and for the shop, and the shop's
        // weekly total (MAE), beat every baseline.
        for k in ["sku_week_crps", "total_week_crps"] {
            assert!(score("restock_mean", k) < score(base, k), "{k} vs {base}");
        }
        assert!(
            score("restock_median", "total_week_mae") < score(base, "total_week_mae"),
            "shop MAE vs {base}"
        );
    }
    // Per SKU-week the median is as good as predicting zero (the zero class is calibrated),
    // and far better than the 8-week average.
    assert!(score("restock_median", "sku_week_mae") <= score("no_returns", "sku_week_mae") * 1.005);
    assert!(score("restock_median", "sku_week_mae") < score("naive_8w", "sku_week_mae"));
}
